// `mlops gate --write` end to end as a user runs it, against a small stand-in of MLflow's REST API
// (the real server is exercised by the contract suite), on a temporary copy of the project.
import * as assert from "node:assert/strict";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { recordRelease } from "../../cli/gate";
import { parseServingConfig } from "../../components/servingConfig";

const ROOT = path.resolve(__dirname, "..", "..", "..");

interface Version {
    version: string;
    runId: string;
    metrics: Record<string, number>;
}

/** Serves registered-models/alias, model-versions/get and runs/get for one model. */
function fakeMlflow(model: string, versions: Version[], champion: string): Promise<{ url: string; close: () => void }> {
    const mv = (v: Version) => ({ name: model, version: v.version, run_id: v.runId, source: `runs:/${v.runId}/model`, status: "READY", tags: [] });
    const server = http.createServer((req, res) => {
        const url = new URL(req.url!, "http://x");
        const send = (code: number, body: unknown) => {
            res.writeHead(code, { "Content-Type": "application/json" });
            res.end(JSON.stringify(body));
        };
        const notFound = () => send(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "not found" });
        const q = url.searchParams;
        if (url.pathname === "/api/2.0/mlflow/registered-models/alias") {
            const v = q.get("name") === model && q.get("alias") === "champion" ? versions.find((x) => x.version === champion) : undefined;
            return v ? send(200, { model_version: mv(v) }) : notFound();
        }
        if (url.pathname === "/api/2.0/mlflow/model-versions/get") {
            const v = q.get("name") === model ? versions.find((x) => x.version === q.get("version")) : undefined;
            return v ? send(200, { model_version: mv(v) }) : notFound();
        }
        if (url.pathname === "/api/2.0/mlflow/runs/get") {
            const v = versions.find((x) => x.runId === q.get("run_id"));
            return v
                ? send(200, {
                      run: {
                          info: { run_id: v.runId, status: "FINISHED" },
                          data: { metrics: Object.entries(v.metrics).map(([key, value]) => ({ key, value, timestamp: 1, step: 0 })), tags: [] },
                      },
                  })
                : notFound();
        }
        notFound();
    });
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as any).port}`, close: () => server.close() })),
    );
}

/** A throwaway copy of the project files the CLI reads and writes (the compiled code stays in place). */
function tempProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gate-write-"));
    for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"]) {
        fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    }
    fs.cpSync(path.join(ROOT, "policies", "config"), path.join(dir, "policies", "config"), { recursive: true });
    return dir;
}

function mlops(args: string[], cwdRoot: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    // The CLI finds its project two folders above dist/cli; run a copy of the entry that points at the temp project.
    const shim = path.join(cwdRoot, "mlops-shim.js");
    fs.writeFileSync(
        shim,
        `const { buildProgram } = require(${JSON.stringify(path.join(ROOT, "dist", "cli", "mlops.js"))});\n` +
            `buildProgram(${JSON.stringify(cwdRoot)}).parseAsync(process.argv.slice(2), { from: "user" }).then(() => process.exit(process.exitCode ?? 0), (e) => { console.error("mlops: " + e.message); process.exit(1); });\n`,
    );
    return new Promise((resolve) => {
        const p = spawn(process.execPath, [shim, ...args], { env: { ...process.env, MLFLOW_TRACKING_URI: "" } });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (d) => (stdout += d));
        p.stderr.on("data", (d) => (stderr += d));
        p.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

describe("mlops gate --write", () => {
    let mlflow: { url: string; close: () => void };
    before(async () => {
        mlflow = await fakeMlflow(
            "credit-risk",
            [
                { version: "4", runId: "run4", metrics: { f1: 0.84, accuracy: 0.89, eval_samples: 6000, train_seconds: 12 } },
                { version: "5", runId: "run5", metrics: { f1: 0.87, accuracy: 0.9, roc_auc: 0.93, eval_samples: 6000, train_seconds: 14 } },
                { version: "6", runId: "run6", metrics: { f1: 0.845, accuracy: 0.95, eval_samples: 6000 } },
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
            baseline: { version: "4", metrics: { accuracy: 0.89, f1: 0.84 }, samples: 6000 },
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

    it("refuses a result the program would reject, and a file without a serving block", () => {
        const text = "config:\n  mlops-platform:serving:\n    strategy: canary\n    canary: { canaryWeight: 10, stable: { model: m, version: '1', metrics: { f1: 0.1 } } }\n";
        assert.throws(() => recordRelease(text, "P.yaml", { ...release, version: "latest" }), /would make mlops-platform:serving invalid/);
        assert.throws(() => recordRelease("config: {}\n", "P.yaml", release), /has no mlops-platform:serving block/);
    });
});
