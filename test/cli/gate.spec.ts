// `mlops gate --write` end to end as a user runs it, against a small stand-in of MLflow's REST API
// (the real server is exercised by the contract suite), on a temporary copy of the project.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { recordRelease } from "../../cli/gate";
import { parseServingConfig } from "../../components/servingConfig";
import { fakeMlflow, mlops, tempProject } from "../helpers/cli";

describe("mlops gate --write", () => {
    let mlflow: { url: string; close: () => void };
    before(async () => {
        mlflow = await fakeMlflow(
            "credit-risk",
            [
                { version: "3", runId: "run3", metrics: { f1: 0.81, accuracy: 0.88, eval_samples: 6000 } },
                { version: "4", runId: "run4", metrics: { f1: 0.84, accuracy: 0.89, eval_samples: 6000, train_seconds: 12 } },
                { version: "5", runId: "run5", metrics: { f1: 0.87, accuracy: 0.9, roc_auc: 0.93, eval_samples: 6000, train_seconds: 14 } },
                { version: "6", runId: "run6", metrics: { f1: 0.82, accuracy: 0.95, eval_samples: 6000 } },
                // Better metrics, but logged by the read-only serving user (or anyone but the trainer).
                { version: "7", runId: "run7", metrics: { f1: 0.95, accuracy: 0.97, eval_samples: 6000 }, userId: "mlops-serving" },
            ],
            "4",
        );
    });
    after(() => mlflow.close());

    it("records a passing candidate as the canary release, keeping the file's comments", async () => {
        const dir = tempProject();
        const before = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
        const r = await mlops(["gate", "--stack", "dev", "--candidate", "models:/credit-risk/5", "--tracking-uri", mlflow.url, "--write"], dir);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /verdict: PASS/);
        assert.match(r.stdout, /recorded credit-risk v5 \(gate: pass\) at mlops-platform:serving\.canary\.canary in Pulumi\.dev\.yaml/);
        const after = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
        for (const comment of before.split("\n").filter((l) => l.trim().startsWith("#"))) {
            assert.ok(after.includes(comment.trim()), `comment kept: ${comment.trim()}`);
        }
        const serving = parseServingConfig(YAML.parse(after).config["mlops-platform:serving"]);
        assert.deepEqual(serving.canary!.canary, {
            model: "credit-risk",
            version: "5",
            modelUri: "models:/credit-risk/5",
            metrics: { accuracy: 0.9, f1: 0.87, roc_auc: 0.93 },
            // Compared with the release it would replace: the stack's stable v3 (not MLflow's champion alias).
            baseline: { version: "3", metrics: { accuracy: 0.88, f1: 0.81 }, samples: 6000 },
            evaluation: { samples: 6000 },
        });
        assert.equal(serving.canary!.stable.version, "3", "the stable release is untouched");
        // Nothing but the canary release changed.
        const strip = (t: string) => {
            const d = YAML.parse(t);
            delete d.config["mlops-platform:serving"].canary.canary;
            return d;
        };
        assert.deepEqual(strip(after), strip(before));
    });

    it("does not write when the gate fails (exit 3)", async () => {
        const dir = tempProject();
        const before = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
        const r = await mlops(["gate", "--stack", "dev", "--candidate", "models:/credit-risk/6", "--tracking-uri", mlflow.url, "--write"], dir);
        assert.equal(r.code, 3, r.stdout + r.stderr);
        assert.match(r.stderr, /the gate failed: Pulumi\.dev\.yaml was not changed/);
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), before);
    });

    it("records the approver for prod, which the gating pack requires", async () => {
        const dir = tempProject();
        const r = await mlops(
            ["gate", "--stack", "prod", "--candidate", "models:/credit-risk/5", "--tracking-uri", mlflow.url, "--write", "--approved-by", "ml-lead@example.com"],
            dir,
        );
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const serving = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8")).config["mlops-platform:serving"];
        assert.equal(serving.canary.canary.approvedBy, "ml-lead@example.com");
    });

    it("refuses, in a stack with MLflow auth, a candidate whose run another user logged (exit 3, file unchanged)", async () => {
        const dir = tempProject();
        const before = fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
        const r = await mlops(
            ["gate", "--stack", "prod", "--candidate", "models:/credit-risk/7", "--tracking-uri", mlflow.url, "--write", "--approved-by", "ml-lead@example.com"],
            dir,
        );
        assert.equal(r.code, 3, r.stdout + r.stderr);
        assert.match(r.stdout, /GATE PASSED/, "the metrics alone would pass");
        assert.match(
            r.stdout,
            /verdict: FAIL\n  - provenance: run run7 was logged by "mlops-serving", not by the training identity "mlops-training" \(mlops-platform:trackingTrainingUser\): its metrics are not trusted/,
        );
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8"), before);
        // Without basic auth (dev) nobody is identified: the gate says it did not check.
        const dev = await mlops(["gate", "--stack", "dev", "--candidate", "models:/credit-risk/7", "--tracking-uri", mlflow.url], dir);
        assert.equal(dev.code, 0, dev.stdout + dev.stderr);
        assert.match(dev.stdout, /provenance not checked: MLflow basic auth is off in this stack \(mlops-platform:trackingAuthAdminSecret\)/);
    });

    it("refuses a run reference for --write (a release needs a registered version)", async () => {
        const dir = tempProject();
        const r = await mlops(["gate", "--stack", "dev", "--candidate", "runs:/run5", "--baseline", "models:/credit-risk@champion", "--tracking-uri", mlflow.url, "--write"], dir);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /--write needs a registered model version/);
    });
});

describe("recordRelease", () => {
    const release = { model: "m", version: "9", modelUri: "models:/m/9", metrics: { f1: 0.9 } };

    it("writes a blue-green candidate into the idle slot", () => {
        const text = `config:
  # serving
  mlops-platform:serving:
    strategy: blueGreen
    thresholds: { f1: { threshold: 0.5, greaterIsBetter: true } }
    blueGreen:
      active: blue # live
      slots:
        blue: { model: m, version: "8", modelUri: "models:/m/8", metrics: { f1: 0.8 } }
`;
        const out = recordRelease(text, "Pulumi.x.yaml", release);
        assert.equal(out.target, "mlops-platform:serving.blueGreen.slots.green");
        assert.match(out.text, /# live/);
        assert.equal(YAML.parse(out.text).config["mlops-platform:serving"].blueGreen.slots.green.version, "9");
    });

    it("refuses a result the program would reject", () => {
        const text = "config:\n  mlops-platform:serving:\n    strategy: canary\n    canary: { canaryWeight: 0, stable: { model: m, version: '1', modelUri: 'models:/m/1', metrics: { f1: 0.1 } } }\n";
        assert.throws(() => recordRelease(text, "P.yaml", { ...release, version: "latest" }), /would make mlops-platform:serving invalid, so P\.yaml was not changed:\n.*canary\.canary\.version/);
    });
});
