// The weekly release flow (gate → release → plan) as sequences of `mlops` commands on copies of the
// real stack files: the CLI, the program and the gating pack agree, a refused edit leaves the file
// byte-identical, and the first release the README describes can be done from nothing.
import * as k8s from "@pulumi/kubernetes";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { parseServingConfig, ServingConfig } from "../../components/servingConfig";
import { ServingStack, servingStackArgs } from "../../components/servingStack";
import { Gateway } from "../../components/gateway";
import { loadPolicyConfig, runPolicyPack } from "../../offline-plan/policy-runner";
import { recordResources } from "../../offline-plan/run";
import { fakeMlflow, mlops, ROOT, tempProject } from "../helpers/cli";

const servingOf = (text: string): ServingConfig => parseServingConfig(YAML.parse(text).config["mlops-platform:serving"]);
const read = (dir: string, stack: string) => fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8");
const write = (dir: string, stack: string, text: string) => fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), text);

/** The real stack file's text with its serving block replaced by `block` (or removed). */
function withServing(text: string, block: string | undefined): string {
    const lines = text.split("\n");
    const at = lines.findIndex((l) => /^  mlops-platform:serving:/.test(l));
    let start = at;
    while (start > 0 && /^\s*#/.test(lines[start - 1])) start--;
    let end = at + 1;
    while (end < lines.length && (/^ {3,}/.test(lines[end]) || /^\s*#/.test(lines[end]))) end++;
    const rest = [...lines.slice(0, start), ...lines.slice(end)].join("\n").replace(/\n*$/, "\n");
    return block ? rest + block : rest;
}

/** Mandatory gating-pack violations of a serving config, as the pack reports them on ServingStack's objects. */
async function gatingViolations(stack: string, cfg: ServingConfig): Promise<string[]> {
    const rec = await recordResources(() => {
        const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
        const gw = new Gateway("mlops-gateway", { provider });
        new ServingStack(
            "mlops-serving",
            servingStackArgs(cfg, {
                provider,
                trackingUri: "http://tracking.mlflow.svc.cluster.local:5000",
                identity: { clusterName: `mlops-${stack}`, artifactReadPolicy: "{}" },
                gateway: { parentRef: gw.parentRef, proxyNamespace: gw.proxyNamespace },
                // MlPlatform serves releases without an image from the trainer image.
                defaultImage: `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-platform-${stack}-trainer@sha256:${"a".repeat(64)}`,
                // Prediction logs are on by default in prod: MlPlatform passes the processed bucket.
                predictionLog: { bucket: `mlops-platform-${stack}-processed`, writePolicy: "{}" },
            }),
            { dependsOn: gw.teardownDependencies },
        );
    });
    const r = await runPolicyPack("gating", rec.resources, loadPolicyConfig(ROOT, stack, "gating"));
    return r.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => `${v.policyName}: ${v.message.split("\n").pop()}`);
}

const BLUE_GREEN = `  mlops-platform:serving:
    name: credit-risk
    namespace: ml-serving
    strategy: blueGreen
    replicas: 3
    gateway: { mode: install }
    blueGreen:
      active: blue # the slot serving traffic
      slots:
        blue:
          model: credit-risk
          version: "3"
          modelUri: models:/credit-risk/3
          metrics: { f1: 0.81 }
          baseline: { version: "2", metrics: { f1: 0.79 } }
          approvedBy: ml-lead@example.com
        green:
          model: credit-risk
          version: "4"
          modelUri: models:/credit-risk/4
          metrics: { f1: 0.84 }
          baseline: { version: "3", metrics: { f1: 0.81 } }
          approvedBy: ml-lead@example.com
`;

describe("release flow (issue 13: gate → release → plan agree)", function () {
    this.timeout(180_000);
    let mlflow: { url: string; close: () => void };
    before(async () => {
        mlflow = await fakeMlflow(
            "credit-risk",
            [
                { version: "1", runId: "run1", metrics: { f1: 0.7, accuracy: 0.8, eval_samples: 5000 } },
                { version: "2", runId: "run2", metrics: { f1: 0.75, accuracy: 0.83, eval_samples: 5000 } },
                { version: "3", runId: "run3", metrics: { f1: 0.81, accuracy: 0.88, eval_samples: 6000 } },
                { version: "5", runId: "run5", metrics: { f1: 0.85, accuracy: 0.9, eval_samples: 6000 } },
            ],
            "3",
        );
    });
    after(() => mlflow.close());
    const gate = (dir: string, ...args: string[]) => mlops(["gate", "--tracking-uri", mlflow.url, ...args], dir);

    it("1. blue-green rollback only returns to the previous release; on a stack that never switched it is refused", async () => {
        const dir = tempProject();
        write(dir, "prod", withServing(read(dir, "prod"), BLUE_GREEN));
        const before = read(dir, "prod");
        let r = await mlops(["release", "rollback", "--stack", "prod"], dir);
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, /nothing to roll back to: the active slot 'blue' serves credit-risk v3 .*, which replaced v2, but slot 'green' holds credit-risk v4/);
        assert.equal(read(dir, "prod"), before, "byte-identical after a refusal");

        r = await mlops(["release", "switch", "--stack", "prod"], dir);
        assert.equal(r.code, 0, r.stderr);
        r = await mlops(["release", "rollback", "--stack", "prod"], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /blueGreen\.active {2}green \(credit-risk v4 .*\) → blue \(credit-risk v3/);
        assert.equal(read(dir, "prod"), before, "switch then rollback restores the file exactly");
    });

    it("1. (prod) rolling back or switching to a slot without approval is refused by the approval rule", async () => {
        const dir = tempProject();
        write(dir, "prod", withServing(read(dir, "prod"), BLUE_GREEN.replace("active: blue", "active: green").replace(/( {10}approvedBy: ml-lead@example.com\n)(?=[\s\S]*green:)/, "")));
        const before = read(dir, "prod");
        const r = await mlops(["release", "rollback", "--stack", "prod"], dir);
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, /model-approval-required: Deployment ml-serving\/credit-risk-blue: release credit-risk v3 \(blue\): has no mlops\.platform\/approved-by annotation; approval is required in this stack/);
        assert.equal(read(dir, "prod"), before);
    });

    it("2. mlops gate reads serving.thresholds of the stack file; an unknown stack is refused", async () => {
        const dir = tempProject();
        write(dir, "dev", read(dir, "dev").replace("f1: { minRelativeChange: 0.02, greaterIsBetter: true }", "f1: { minRelativeChange: 0.10, greaterIsBetter: true }"));
        const before = read(dir, "dev");
        // v5 beats the stable v3 by +4.9 %: enough for 2 %, not for the stack's 10 %.
        let r = await gate(dir, "--stack", "dev", "--candidate", "models:/credit-risk/5", "--write");
        assert.equal(r.code, 3, r.stdout + r.stderr);
        assert.match(r.stdout, /thresholds: mlops-platform:serving\.thresholds in Pulumi\.dev\.yaml/);
        assert.match(r.stdout, /needs >= 10% .*minRelativeChange/);
        assert.equal(read(dir, "dev"), before);

        r = await gate(dir, "--stack", "nope", "--candidate", "models:/credit-risk/5");
        assert.equal(r.code, 1);
        assert.match(r.stderr, /no stack named 'nope': Pulumi\.nope\.yaml does not exist .*; stacks: dev, prod/);
    });

    it("3. prod: set-weight above the ungated limit is refused with the gating pack's own message", async () => {
        const dir = tempProject();
        const ungated = read(dir, "prod").replace("metrics: { f1: 0.84, accuracy: 0.89 }", "metrics: { f1: 0.805, accuracy: 0.89 }").replace("canaryWeight: 10", "canaryWeight: 0");
        write(dir, "prod", ungated);
        const r = await mlops(["release", "set-weight", "50", "--stack", "prod"], dir);
        assert.equal(r.code, 1, r.stdout);
        assert.equal(read(dir, "prod"), ungated, "byte-identical after a refusal");
        const cliLines = r.stderr.split("\n").filter((l) => l.startsWith("  - ")).map((l) => l.slice(4)).sort();
        // The pack, run on the program's objects for that very edit, reports the same violations, word for word.
        const forced = servingOf(ungated.replace("canaryWeight: 0", "canaryWeight: 50"));
        const packLines = (await gatingViolations("prod", forced)).sort();
        assert.deepEqual(cliLines, packLines);
        assert.ok(cliLines.some((l) => /^canary-weight-limit: .* receives 50% of traffic .* at most 10% before the gate passes$/.test(l)), cliLines.join("\n"));
    });

    it("3. prod: gate --write without --approved-by is refused and keeps the existing approval", async () => {
        const dir = tempProject();
        const before = read(dir, "prod");
        const r = await gate(dir, "--stack", "prod", "--candidate", "models:/credit-risk/5", "--write");
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /model-approval-required: Deployment ml-serving\/credit-risk-canary: release credit-risk v5 \(canary\): has no mlops\.platform\/approved-by annotation/);
        assert.equal(read(dir, "prod"), before);
        assert.equal(servingOf(before).canary!.canary!.approvedBy, "ml-lead@example.com");
    });

    it("4+5. first release from nothing: no serving → first model → first release → canary → promote, each edit minimal", async () => {
        const dir = tempProject();
        const empty = withServing(read(dir, "dev"), undefined);
        write(dir, "dev", empty);
        assert.ok(!/mlops-platform:serving/.test(empty));

        // First model, first release: no baseline exists; value thresholds only.
        let r = await gate(dir, "--stack", "dev", "--candidate", "models:/credit-risk/1", "--baseline", "none", "--write");
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /first release: Pulumi\.dev\.yaml has no mlops-platform:serving block/);
        assert.match(r.stdout, /recorded credit-risk v1 \(gate: pass\) at mlops-platform:serving\.canary\.stable/);
        const first = read(dir, "dev");
        assert.ok(first.startsWith(empty), "the first release is appended; nothing else in the file changes");
        let cfg = servingOf(first);
        assert.equal(cfg.canary!.stable.version, "1");
        assert.equal(cfg.canary!.canaryWeight, 0);
        assert.deepEqual(await gatingViolations("dev", cfg), [], "the gating pack accepts the first release");

        // The next model is a canary against the stable v1 (the default baseline is what the stack serves).
        r = await gate(dir, "--stack", "dev", "--candidate", "models:/credit-risk/2", "--write");
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /baseline credit-risk v1/);
        const second = read(dir, "dev");
        assert.ok(second.startsWith(first.replace(/\n$/, "")), "the candidate is appended to the serving block");
        cfg = servingOf(second);
        assert.equal(cfg.canary!.canary!.baseline!.version, "1");

        r = await mlops(["release", "set-weight", "50", "--stack", "dev"], dir);
        assert.equal(r.code, 0, r.stderr);
        r = await mlops(["release", "promote", "--stack", "dev"], dir);
        assert.equal(r.code, 0, r.stderr);
        cfg = servingOf(read(dir, "dev"));
        assert.equal(cfg.canary!.stable.version, "2");
        assert.equal(cfg.canary!.canary, undefined);
        assert.deepEqual(await gatingViolations("dev", cfg), []);
    });

    it("4. --baseline none on a stack that already serves is refused (a candidate is compared with what it replaces)", async () => {
        const dir = tempProject();
        const r = await gate(dir, "--stack", "dev", "--candidate", "models:/credit-risk/5", "--baseline", "none");
        assert.equal(r.code, 1);
        assert.match(r.stderr, /--baseline none is for a first release, but Pulumi\.dev\.yaml already serves credit-risk v3/);
    });

    it("5. gate --write on the real dev stack changes only the candidate's lines", async () => {
        const dir = tempProject();
        const before = read(dir, "dev");
        const r = await gate(dir, "--stack", "dev", "--candidate", "models:/credit-risk/5", "--write");
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const after = read(dir, "dev");
        const head = before.slice(0, before.indexOf("      canary:\n        model: credit-risk\n        version: \"4\""));
        assert.ok(after.startsWith(head), "every line before the candidate is byte-identical");
        assert.match(after, /mlops-platform:vpcInterfaceEndpoints: \[ecr\.api, ecr\.dkr, sts, secretsmanager\]/);
        assert.equal(after.slice(head.length).split("\n")[1], "        model: credit-risk");
        assert.equal(servingOf(after).canary!.canary!.version, "5");
    });
});
