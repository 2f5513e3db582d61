import * as k8s from "@pulumi/kubernetes";
import { Command } from "commander";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { planRelease, registerReleaseCommands, ReleaseAction, releaseCommand } from "../../cli/release";
import { parseServingConfig, ServingConfig } from "../../components/servingConfig";
import { ServingStack, servingStackArgs } from "../../components/servingStack";
import { recordResources } from "../../offline-plan/run";
import { loadPolicyConfig, runPolicyPack } from "../../offline-plan/policy-runner";
import { Gateway } from "../../components/gateway";
import { NamespaceIsolation } from "../../components/namespaceIsolation";
import { loadStackConfig } from "../../offline-plan/stack-config";

const ROOT = path.resolve(__dirname, "..", "..", "..");

/** The serving block proposed for Pulumi.dev.yaml: canary at 50% behind the platform's Gateway. */
export const DEV_SERVING = `  # Model serving (ServingStack). Moved by \`mlops release\`; re-checked by the gating policy pack.
  mlops-platform:serving:
    name: credit-risk
    namespace: ml-serving
    strategy: canary # canary | blueGreen
    replicas: 2
    runtime:
      kind: mlflow
      # MLflow + the model's Python dependencies (--env-manager local), pinned by digest.
      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-platform-dev-server@sha256:4f2a9c0d7b1e3a5c6d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e
    gateway:
      mode: install # Envoy Gateway from its pinned Helm chart
    thresholds:
      f1: { minRelativeChange: 0.02, greaterIsBetter: true } # beat the baseline F1 by 2%
    canary:
      canaryWeight: 50 # dev: up to 50%
      stable:
        model: credit-risk
        version: "3"
        modelUri: models:/credit-risk/3
        metrics: { f1: 0.81, accuracy: 0.88 }
        baseline: { version: "2", metrics: { f1: 0.79, accuracy: 0.87 } }
      # Candidate written by \`mlops gate\`.
      canary:
        model: credit-risk
        version: "4"
        modelUri: models:/credit-risk/4
        metrics: { f1: 0.84, accuracy: 0.89 }
        baseline: { version: "3", metrics: { f1: 0.81, accuracy: 0.88 } }
        evaluation: { samples: 6000 }
`;

/** The serving block proposed for Pulumi.prod.yaml: canary at 10%, approvals, autoscaling. */
export const PROD_SERVING = `  # Model serving (ServingStack). Moved by \`mlops release\`; re-checked by the gating policy pack.
  mlops-platform:serving:
    name: credit-risk
    namespace: ml-serving
    strategy: canary
    replicas: 3
    autoscaling: { maxReplicas: 10, targetCpuUtilization: 70 }
    resources: { cpu: "2", memory: 4Gi }
    runtime:
      kind: mlflow
      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-platform-prod-server@sha256:9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b
    gateway:
      mode: install
      hostname: models.example.com
    thresholds:
      f1: { minRelativeChange: 0.02, greaterIsBetter: true }
    alerts: { p99LatencySeconds: 0.5, errorRate5xx: 0.005, for: 5m }
    canary:
      canaryWeight: 10 # prod: at most 10% before promotion
      stable:
        model: credit-risk
        version: "3"
        modelUri: models:/credit-risk/3
        metrics: { f1: 0.81, accuracy: 0.88 }
        baseline: { version: "2", metrics: { f1: 0.79, accuracy: 0.87 } }
        approvedBy: ml-lead@example.com
      canary:
        model: credit-risk
        version: "4"
        modelUri: models:/credit-risk/4
        metrics: { f1: 0.84, accuracy: 0.89 }
        baseline: { version: "3", metrics: { f1: 0.81, accuracy: 0.88 } }
        approvedBy: ml-lead@example.com
`;

/** A blue-green serving block (prod-like): blue active, green holds the candidate. */
const BLUE_GREEN_SERVING = `  mlops-platform:serving:
    name: credit-risk
    strategy: blueGreen
    replicas: 3
    runtime: { kind: mlflow, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-platform-prod-server@sha256:9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b" }
    gateway: { mode: install }
    blueGreen:
      active: blue # the slot serving traffic
      slots:
        blue:
          model: credit-risk
          version: "3"
          metrics: { f1: 0.81 }
          baseline: { version: "2", metrics: { f1: 0.79 } }
          approvedBy: ml-lead@example.com
        green:
          model: credit-risk
          version: "4"
          metrics: { f1: 0.84 }
          baseline: { version: "3", metrics: { f1: 0.81 } }
          approvedBy: ml-lead@example.com
`;

/** The real stack file without any serving block (lines of `mlops-platform:serving` and comments right above it). */
function realWithoutServing(stack: string): string {
    const lines = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8").split("\n");
    const at = lines.findIndex((l) => /^  mlops-platform:serving:/.test(l));
    if (at < 0) return lines.join("\n");
    let start = at;
    while (start > 0 && /^\s*#/.test(lines[start - 1])) start--;
    let end = at + 1;
    while (end < lines.length && (/^ {3,}/.test(lines[end]) || /^\s*$/.test(lines[end]) && end < lines.length - 1 && /^ {3,}/.test(lines[end + 1]))) end++;
    return [...lines.slice(0, start), ...lines.slice(end)].join("\n");
}

/** A temp project root with Pulumi.yaml and a copy of the real stack file plus `serving` under config. */
function tempProject(stack: string, serving: string): { root: string; file: string; text: string } {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-release-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
    const base = realWithoutServing(stack);
    const text = (base.endsWith("\n") ? base : base + "\n") + serving;
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    fs.writeFileSync(file, text);
    fs.cpSync(path.join(ROOT, "policies", "config"), path.join(root, "policies", "config"), { recursive: true });
    return { root, file, text };
}

function servingOf(text: string): ServingConfig {
    return parseServingConfig(YAML.parse(text).config["mlops-platform:serving"]);
}

/** The gating pack's configuration of a real stack, as `mlops plan` gives it to the pack. */
const policyOf = (stack: string) => loadPolicyConfig(ROOT, stack, "gating");

function refused(text: string, action: ReleaseAction, message: RegExp, policy = {}): void {
    assert.throws(() => planRelease(text, "Pulumi.test.yaml", action, policy), (e: any) => {
        assert.equal(e.name, "ReleaseError");
        assert.match(e.message, message);
        return true;
    });
}

describe("mlops release", () => {
    it("the proposed dev and prod serving blocks are valid next to the real stack settings", () => {
        for (const [stack, serving] of [["dev", DEV_SERVING], ["prod", PROD_SERVING]] as const) {
            const { root, text } = tempProject(stack, serving);
            const cfg = servingOf(text);
            assert.equal(cfg.strategy, "canary");
            assert.equal(cfg.canary!.canaryWeight, stack === "dev" ? 50 : 10);
            // The offline plan (and so `mlops plan`) reads the block as the CLI would hand it to the program.
            const loaded = loadStackConfig(root, stack);
            assert.deepEqual(parseServingConfig(loaded.config["mlops-platform:serving"]), cfg);
            assert.equal(loaded.config["mlops-platform:environment"], stack);
        }
    });

    describe("the proposed blocks under both policy packs", () => {
        async function violations(stack: "dev" | "prod", cfg: ServingConfig): Promise<string[]> {
            const rec = await recordResources(() => {
                const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
                // The Gateway and the serving namespace's isolation as MlPlatform sets them up for each
                // stack (Pulumi.<stack>.yaml: prod has TLS at the load balancer, API keys, no track header).
                const prod = stack === "prod";
                const gw = new Gateway("mlops-gateway", {
                    provider,
                    ...(prod ? { tls: { mode: "acm" as const, certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d" } } : {}),
                });
                const policy = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::artifacts/mlflow/*" }] });
                const serving = new ServingStack(
                    "mlops-serving",
                    servingStackArgs(cfg, {
                        provider,
                        trackingUri: "http://tracking.mlflow.svc.cluster.local:5000",
                        identity: { clusterName: `mlops-${stack}`, artifactReadPolicy: policy },
                        gateway: { parentRef: gw.parentRef, proxyNamespace: gw.proxyNamespace },
                        ...(prod ? { apiKeySecret: "model-api-keys", headerRouting: false } : {}),
                    }),
                    { dependsOn: gw.teardownDependencies },
                );
                new NamespaceIsolation("mlops-serving-isolation", { provider, namespace: cfg.namespace }, { dependsOn: [serving] });
            });
            const out: string[] = [];
            for (const pack of ["security", "gating"] as const) {
                // The cluster (and its vpc-cni addon) is not part of this partial stack, and a ServingStack
                // on its own has no platform IAM frame (MlPlatform adds the boundary and tags).
                const config = {
                    ...loadPolicyConfig(ROOT, stack),
                    ...(pack === "security" ? { "eks-network-policy-enforced": { requireManagedCni: false } } : {}),
                    "iam-role-boundary-and-prefix": { requireBoundary: false },
                    "iam-role-tags": { requiredTags: [] },
                };
                const r = await runPolicyPack(pack, rec.resources, config);
                out.push(...r.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => `${v.policyName}: ${v.message.split("\n").pop()}`));
            }
            return out;
        }

        it("dev (canary 50%) and prod (canary 10%) have no mandatory violations", async () => {
            assert.deepEqual(await violations("dev", servingOf(tempProject("dev", DEV_SERVING).text)), []);
            assert.deepEqual(await violations("prod", servingOf(tempProject("prod", PROD_SERVING).text)), []);
        });

        it("prod rejects an ungated candidate at 20%", async () => {
            const cfg = servingOf(tempProject("prod", PROD_SERVING.replace("metrics: { f1: 0.84, accuracy: 0.89 }", "metrics: { f1: 0.805, accuracy: 0.89 }")).text);
            cfg.canary!.canaryWeight = 20;
            const names = [...new Set((await violations("prod", cfg)).map((v) => v.split(":")[0]))].sort();
            assert.deepEqual(names, ["canary-weight-limit", "model-gate-thresholds"]);
        });
    });

    describe("set-weight", () => {
        it("edits only the weight, keeping comments, order and formatting (exact diff)", () => {
            const { root, file, text } = tempProject("dev", DEV_SERVING);
            const { output } = releaseCommand({ root, stack: "dev", action: { kind: "set-weight", weight: "20" } });
            const after = fs.readFileSync(file, "utf8");
            assert.equal(after, text.replace("      canaryWeight: 50 # dev: up to 50%\n", "      canaryWeight: 20 # dev: up to 50%\n"));
            assert.equal(output.split("\n")[0], "Pulumi.dev.yaml (mlops-platform:serving, canary):");
            assert.equal(output.split("\n")[1], "  canary.canaryWeight  50 → 20");
            assert.match(output, /wrote Pulumi\.dev\.yaml/);
            assert.equal(servingOf(after).canary!.canaryWeight, 20);
        });

        it("refuses weights outside 0..100 and leaves the file untouched", () => {
            const { root, file, text } = tempProject("prod", PROD_SERVING);
            for (const w of ["101", "-1", "abc", "12.5", ""]) {
                assert.throws(() => releaseCommand({ root, stack: "prod", action: { kind: "set-weight", weight: w } }), /weight must be an integer percentage from 0 to 100/);
            }
            assert.equal(fs.readFileSync(file, "utf8"), text);
        });

        it("refuses 100% for a candidate without a passing gate record", () => {
            const { text } = tempProject("dev", DEV_SERVING.replace("metrics: { f1: 0.84, accuracy: 0.89 }", "metrics: { f1: 0.812, accuracy: 0.89 }"));
            refused(text, { kind: "set-weight", weight: 100 }, /refusing to send 100% of traffic to the canary: credit-risk v4 \(models:\/credit-risk\/4\) has no passing gate record against its baseline v3:\n {2}- f1: candidate 0\.812 vs baseline 0\.81 is \+0\.2[0-9]*% better; needs >= 2/);
            // Below 100% the gating pack's rules decide, with its messages: dev allows 50% for an ungated canary.
            refused(
                text,
                { kind: "set-weight", weight: 60 },
                /canary-weight-limit: Deployment ml-serving\/credit-risk-canary: canary release credit-risk v4 \(mlops\.platform\/gate=fail\) receives 60% of traffic via HTTPRoute ml-serving\/credit-risk rules\[1\]; at most 50% before the gate passes/,
                policyOf("dev"),
            );
        });

        it("reports a no-op and writes nothing when the weight is unchanged", () => {
            const { root, file, text } = tempProject("dev", DEV_SERVING);
            const r = releaseCommand({ root, stack: "dev", action: { kind: "set-weight", weight: 50 } });
            assert.equal(r.output, "note: canary.canaryWeight is already 50; nothing to change");
            assert.equal(fs.readFileSync(file, "utf8"), text);
        });

        it("notes the replica-ratio precision when there is no Gateway", () => {
            const { text } = tempProject("dev", DEV_SERVING.replace("mode: install # Envoy Gateway from its pinned Helm chart", "mode: none"));
            const plan = planRelease(text, "Pulumi.dev.yaml", { kind: "set-weight", weight: 10 });
            assert.deepEqual(plan.notes, ["no Gateway: 10% is approximated by replicas (1 canary / 2 stable pods) = 33.3% of connections"]);
        });

        it("refuses a weight the GPU budget cannot carry (the result is validated like the program validates it)", () => {
            const gpu = DEV_SERVING.replace("    replicas: 2\n", "    replicas: 2\n    gpus: 1\n    maxExtraGpus: 1\n").replace("canaryWeight: 50", "canaryWeight: 20");
            const { text } = tempProject("dev", gpu);
            refused(text, { kind: "set-weight", weight: 100 }, /refused: the result would be invalid in Pulumi\.test\.yaml:\n {2}- mlops-platform:serving\.canary\.canaryWeight: weight 100% of 2 replicas needs ceil\(100\/100 × 2\) = 2 canary replicas, but the canary can run 1/);
        });
    });

    describe("promote", () => {
        it("makes the candidate stable, removes the canary and zeroes the weight (exact diff, comments kept)", () => {
            const { root, file, text } = tempProject("dev", DEV_SERVING);
            const { output } = releaseCommand({ root, stack: "dev", action: { kind: "promote" } });
            const expected = text
                .replace(
                    `        metrics: { f1: 0.81, accuracy: 0.88 }
        baseline: { version: "2", metrics: { f1: 0.79, accuracy: 0.87 } }
      # Candidate written by \`mlops gate\`.
      canary:
        model: credit-risk
        version: "4"
        modelUri: models:/credit-risk/4
`,
                    "",
                )
                .replace(`        model: credit-risk
        version: "3"
        modelUri: models:/credit-risk/3
`, `        model: credit-risk
        version: "4"
        modelUri: models:/credit-risk/4
`)
                .replace("      canaryWeight: 50 # dev: up to 50%", "      canaryWeight: 0 # dev: up to 50%");
            assert.equal(fs.readFileSync(file, "utf8"), expected);
            assert.deepEqual(output.split("\n").slice(0, 4), [
                "Pulumi.dev.yaml (mlops-platform:serving, canary):",
                "  canary.stable        credit-risk v3 (models:/credit-risk/3) → credit-risk v4 (models:/credit-risk/4)",
                "  canary.canary        credit-risk v4 (models:/credit-risk/4) → (none)",
                "  canary.canaryWeight  50 → 0",
            ]);
            const cfg = servingOf(expected);
            assert.equal(cfg.canary!.stable.version, "4");
            assert.equal(cfg.canary!.stable.evaluation!.samples, 6000);
            assert.equal(cfg.canary!.canary, undefined);
            // Every comment line of the original that does not describe the removed candidate survives.
            for (const line of text.split("\n").filter((l) => l.trim().startsWith("#") && !l.includes("Candidate"))) {
                assert.ok(expected.includes(line), `comment kept: ${line}`);
            }
        });

        it("refuses a release without a passing gate record", () => {
            const { text } = tempProject("prod", PROD_SERVING.replace("metrics: { f1: 0.84, accuracy: 0.89 }", "metrics: { f1: 0.8, accuracy: 0.89 }"));
            refused(text, { kind: "promote" }, /^refusing to promote: credit-risk v4 \(models:\/credit-risk\/4\) has no passing gate record/);
        });

        it("refuses a prod release without an approver", () => {
            const noApproval = PROD_SERVING.split("\n");
            noApproval.splice(noApproval.lastIndexOf("        approvedBy: ml-lead@example.com"), 1);
            const { text } = tempProject("prod", noApproval.join("\n"));
            refused(
                text,
                { kind: "promote" },
                /model-approval-required: Deployment ml-serving\/credit-risk-stable: release credit-risk v4 \(stable\): has no mlops\.platform\/approved-by annotation; approval is required in this stack/,
                policyOf("prod"),
            );
            assert.equal(planRelease(text, "f", { kind: "promote" }, policyOf("dev")).changes.length, 3, "dev requires no approval");
        });

        it("refuses when there is nothing to promote, and on a blue-green stack", () => {
            const { root } = tempProject("dev", DEV_SERVING);
            releaseCommand({ root, stack: "dev", action: { kind: "promote" } });
            const text = fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8");
            refused(text, { kind: "promote" }, /nothing to promote: there is no canary release \(mlops-platform:serving\.canary\.canary is empty\)/);
            refused(tempProject("prod", BLUE_GREEN_SERVING).text, { kind: "promote" }, /promote applies to the canary strategy; Pulumi\.test\.yaml uses "blueGreen" \(use switch\)/);
        });
    });

    describe("rollback", () => {
        it("canary: sets the weight to 0 and keeps the candidate deployed", () => {
            const { root, file, text } = tempProject("prod", PROD_SERVING);
            const { output } = releaseCommand({ root, stack: "prod", action: { kind: "rollback" } });
            assert.equal(fs.readFileSync(file, "utf8"), text.replace("      canaryWeight: 10 # prod:", "      canaryWeight: 0 # prod:"));
            assert.match(output, /canary\.canaryWeight {2}10 → 0/);
            refused(fs.readFileSync(file, "utf8"), { kind: "rollback" }, /nothing to roll back: canary\.canaryWeight is already 0/);
        });

        it("blue-green: switches back to the other slot", () => {
            const { root, file, text } = tempProject("prod", BLUE_GREEN_SERVING.replace("active: blue", "active: green"));
            releaseCommand({ root, stack: "prod", action: { kind: "rollback" } });
            assert.equal(fs.readFileSync(file, "utf8"), text.replace("active: green # the slot", "active: blue # the slot"));
        });
    });

    describe("switch", () => {
        it("flips the active slot only (exact diff) and prints before → after", () => {
            const { root, file, text } = tempProject("prod", BLUE_GREEN_SERVING);
            const { output } = releaseCommand({ root, stack: "prod", action: { kind: "switch" } });
            assert.equal(fs.readFileSync(file, "utf8"), text.replace("      active: blue # the slot", "      active: green # the slot"));
            assert.equal(
                output.split("\n")[1],
                "  blueGreen.active  blue (credit-risk v3 (models:/credit-risk/3)) → green (credit-risk v4 (models:/credit-risk/4))",
            );
        });

        it("refuses to switch to an empty slot, to the active slot, or on a canary stack", () => {
            const oneSlot = BLUE_GREEN_SERVING.slice(0, BLUE_GREEN_SERVING.indexOf("        green:"));
            const { text } = tempProject("prod", oneSlot);
            refused(text, { kind: "switch" }, /cannot switch to slot 'green': it holds no release \(mlops-platform:serving\.blueGreen\.slots\.green is empty\)/);
            refused(tempProject("prod", BLUE_GREEN_SERVING).text, { kind: "switch", to: "blue" }, /slot 'blue' is already active/);
            refused(tempProject("dev", DEV_SERVING).text, { kind: "switch" }, /switch applies to the blueGreen strategy; Pulumi\.test\.yaml uses "canary"/);
        });

        it("refuses to switch to a slot whose release fails the gate", () => {
            const { text } = tempProject("prod", BLUE_GREEN_SERVING.replace("metrics: { f1: 0.84 }", "metrics: { f1: 0.7 }"));
            refused(text, { kind: "switch" }, /refusing to switch to slot 'green': credit-risk v4 .* has no passing gate record/);
        });
    });

    it("refuses to work on an invalid or missing serving block, naming the problem", () => {
        const { text } = tempProject("dev", DEV_SERVING.replace('version: "4"', "version: latest"));
        refused(text, { kind: "rollback" }, /the current mlops-platform:serving is invalid.*\n {2}- mlops-platform:serving\.canary\.canary\.version: is not immutable/);
        refused("config:\n  aws:region: us-east-1\n  mlops-platform:environment: dev\n", { kind: "rollback" }, /has no mlops-platform:serving mapping under config/);
        assert.throws(() => releaseCommand({ root: ROOT, stack: "nope", action: { kind: "rollback" } }), /no stack named 'nope'/);
    });

    it("--dry-run prints the change and writes nothing", () => {
        const { root, file, text } = tempProject("dev", DEV_SERVING);
        const { output } = releaseCommand({ root, stack: "dev", action: { kind: "rollback" }, dryRun: true });
        assert.match(output, /canary\.canaryWeight {2}50 → 0\n\(dry run: Pulumi\.dev\.yaml not written\)/);
        assert.equal(fs.readFileSync(file, "utf8"), text);
    });

    it("registers `release switch|promote|rollback|set-weight` on a commander program", async () => {
        const { root, file, text } = tempProject("dev", DEV_SERVING);
        const program = new Command("mlops").exitOverride();
        registerReleaseCommands(program, root);
        const release = program.commands.find((c) => c.name() === "release")!;
        assert.deepEqual(release.commands.map((c) => c.name()), ["switch", "promote", "rollback", "set-weight"]);
        const logs: string[] = [];
        const log = console.log;
        console.log = (m: string) => logs.push(m);
        try {
            await program.parseAsync(["release", "set-weight", "30", "--stack", "dev"], { from: "user" });
        } finally {
            console.log = log;
        }
        assert.match(logs.join("\n"), /canary\.canaryWeight {2}50 → 30/);
        assert.equal(fs.readFileSync(file, "utf8"), text.replace("canaryWeight: 50", "canaryWeight: 30"));
    });

    it("the stack file edit becomes a route-only change in the program (set-weight end to end)", async () => {
        const { root, file } = tempProject("dev", DEV_SERVING);
        const render = async () => {
            const cfg = parseServingConfig(loadStackConfig(root, "dev").config["mlops-platform:serving"]);
            const rec = await recordResources(() => {
                const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
                new ServingStack(
                    "serving",
                    servingStackArgs(cfg, {
                        provider,
                        trackingUri: "http://tracking.mlflow.svc.cluster.local:5000",
                        identity: { clusterName: "mlops-dev", artifactReadPolicy: "{}" },
                        gateway: { parentRef: { name: "mlops", namespace: "envoy-gateway-system" } },
                    }),
                );
            });
            return rec.resources;
        };
        const before = await render();
        releaseCommand({ root, stack: "dev", action: { kind: "set-weight", weight: 10 } });
        assert.match(fs.readFileSync(file, "utf8"), /canaryWeight: 10 #/);
        const after = await render();
        const changed = before
            .filter((b) => JSON.stringify(b.inputs) !== JSON.stringify(after.find((a) => a.urn === b.urn)?.inputs))
            .map((b) => `${b.type} ${b.name}`);
        assert.deepEqual(changed, ["kubernetes:gateway.networking.k8s.io/v1:HTTPRoute serving-route"]);
        assert.equal(after.length, before.length);
    });

    it("works on the real stack files as they are (when they carry a serving block)", function () {
        for (const stack of ["dev", "prod"]) {
            const text = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
            if (!/mlops-platform:serving:/.test(text)) continue;
            const cfg = servingOf(text);
            const action: ReleaseAction = cfg.strategy === "canary" ? { kind: "set-weight", weight: cfg.canary!.canaryWeight === 0 ? 1 : 0 } : { kind: "switch" };
            if (action.kind === "set-weight" && action.weight === 1 && !cfg.canary!.canary) continue;
            const plan = planRelease(text, `Pulumi.${stack}.yaml`, action);
            const changedLines = text.split("\n").filter((l, i) => plan.text.split("\n")[i] !== l);
            assert.equal(changedLines.length, 1, `one line changes in Pulumi.${stack}.yaml`);
        }
    });
});
