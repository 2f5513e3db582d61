/**
 * The engine tier: the README's own commands, run by the real Pulumi CLI v3.248.0 (engine/build-cli.sh)
 * through this repository's language host, with mock provider plugins (engine/providers) installed for
 * exactly the versions the SDKs request, on a local file backend with passphrase secrets, against
 * copies of the committed stack files. It proves the engine, the program, the config and the policy
 * packs, not AWS.
 *
 * Every CLI call has a timeout (engine/cli.ts ends the whole process group), so a hang fails the
 * spec with the CLI's output instead of stopping CI.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { cliAvailable, cliPath, engineEnv, repoRoot, runPulumi, RunResult } from "../../engine/cli";
import { installMockProviders } from "../../engine/providers/install";
import { initCommittedStack } from "../../cli/stack-file";
import { runProgram } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";

const ROOT = repoRoot;
const MINUTE = 60_000;

/** The `pulumi preview` command of the README's "Deploying for real" block, as argv, for `stack`. */
export function readmePreviewCommand(readme: string, stack: string): string[] {
    const block = /```bash\n([\s\S]*?)```/g;
    for (let m = block.exec(readme); m; m = block.exec(readme)) {
        const joined = m[1].replace(/\\\n\s*/g, " ");
        const line = joined.split("\n").find((l) => /^pulumi preview --stack dev /.test(l));
        if (line) {
            const argv = line.replace(/#.*$/, "").trim().split(/\s+/).slice(1);
            return argv.map((a) => a.replace(/\bdev\b/g, stack));
        }
    }
    throw new Error("README.md has no `pulumi preview --stack dev ...` command in a bash block");
}

/** A checkout of the project in `dir`: its files copied with their timestamps, node_modules linked. */
function checkout(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const entry of fs.readdirSync(ROOT)) {
        if ([".git", "node_modules", "out", ".contract"].includes(entry)) {
            continue;
        }
        fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true, preserveTimestamps: true });
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
    return dir;
}

function sha256(file: string): string {
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

function show(r: RunResult): string {
    const tail = (s: string) => s.split("\n").slice(-60).join("\n");
    return `exit ${r.code}${r.timedOut ? " (timed out)" : ""} after ${Math.round(r.durationMs / 1000)} s\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;
}

/** Engine state of a stack (`pulumi stack export`), resources by URN. */
interface StateResource {
    urn: string;
    type: string;
    custom: boolean;
    parent?: string;
    inputs?: Record<string, any>;
    outputs?: Record<string, any>;
    protect?: boolean;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

/** Inputs for comparison: secrets (engine ciphertext, plan placeholder) become "[secret]", bookkeeping keys go. */
function normalize(v: any): any {
    if (Array.isArray(v)) {
        return v.map(normalize);
    }
    if (v !== null && typeof v === "object") {
        if (v[SIG_KEY] === SECRET_SIG) {
            return "[secret]";
        }
        return Object.fromEntries(
            Object.keys(v)
                .filter((k) => k !== "__defaults")
                .sort()
                .map((k) => [k, normalize(v[k])]),
        );
    }
    return v;
}

/** Any string in `v` that leaks an unresolved value into an input. */
function undefinedLeaks(v: any, at = ""): string[] {
    if (typeof v === "string") {
        return /undefined|\[object Object\]|Calling \[toJSON\]/.test(v) ? [`${at}: ${v.slice(0, 120)}`] : [];
    }
    if (Array.isArray(v)) {
        return v.flatMap((x, i) => undefinedLeaks(x, `${at}[${i}]`));
    }
    if (v !== null && typeof v === "object") {
        return Object.entries(v).flatMap(([k, x]) => undefinedLeaks(x, at ? `${at}.${k}` : k));
    }
    return [];
}

/**
 * True when `engine` holds everything `declared` does: equal scalars, arrays of the same length
 * element by element, and every declared key of an object (the engine may hold more: what the
 * providers' Check adds, such as auto-names and `build.contextDigest`).
 */
function declaredIn(engine: any, declared: any): boolean {
    if (Array.isArray(declared)) {
        return Array.isArray(engine) && engine.length === declared.length && declared.every((d, i) => declaredIn(engine[i], d));
    }
    if (declared !== null && typeof declared === "object") {
        return engine !== null && typeof engine === "object" && Object.keys(declared).every((k) => declaredIn(engine[k], declared[k]));
    }
    return engine === declared;
}

const REMOTE_COMPONENTS = ["awsx:ec2:Vpc", "kubernetes:helm.sh/v4:Chart"];

describe("engine tier: the README's pulumi commands through the real CLI", function () {
    this.timeout(30 * MINUTE);
    const required = process.env.ENGINE_REQUIRED === "1";
    let work: string;
    let env: NodeJS.ProcessEnv;
    let project: string;
    const committed: Record<string, string> = {};

    before(async function () {
        if (!cliAvailable()) {
            if (required) {
                throw new Error(`the Pulumi CLI is not at ${cliPath()}: run engine/build-cli.sh (npm run test:engine does)`);
            }
            console.log(`      (skipped: no Pulumi CLI at ${cliPath()}; npm run test:engine builds it)`);
            this.skip();
        }
        for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"]) {
            committed[f] = sha256(path.join(ROOT, f));
        }
        work = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-engine-"));
        env = engineEnv({ home: path.join(work, "pulumi-home"), backendDir: path.join(work, "backend") });
        fs.mkdirSync(path.join(work, "backend"), { recursive: true });
        project = checkout(path.join(work, "checkout-a"));
        const installed = await installMockProviders(cliPath(), env);
        assert.equal(installed.installed.length + installed.alreadyInstalled.length, 5);
    });

    after(() => {
        if (work && process.env.ENGINE_KEEP !== "1") {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    const pulumi = async (args: string[], cwd = project, timeoutMs = 10 * MINUTE): Promise<RunResult> => {
        const r = await runPulumi(args, { cwd, env, timeoutMs });
        assert.equal(r.timedOut, false, `pulumi ${args.join(" ")} timed out\n${show(r)}`);
        return r;
    };
    const readme = () => fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const packFlags = (stack: string) => readmePreviewCommand(readme(), stack).filter((_, i, a) => i >= a.indexOf("--policy-pack"));

    for (const stack of ["dev", "prod"]) {
        describe(`${stack}`, () => {
            it("`stack init` records the secrets provider and keeps the committed stack file otherwise byte-identical", () => {
                const file = path.join(project, `Pulumi.${stack}.yaml`);
                const before = fs.readFileSync(file, "utf8");
                const changes = initCommittedStack({ root: project, stack, pulumi: cliPath(), env });
                const after = fs.readFileSync(file, "utf8");
                assert.deepEqual(changes, ["added encryptionsalt"]);
                assert.equal(after.replace(/^encryptionsalt: .*\n/m, ""), before);
            });

            it("the README's `pulumi preview` with both packs passes on a fresh stack: exit 0, no violation", async () => {
                const argv = readmePreviewCommand(readme(), stack);
                const r = await pulumi(argv);
                assert.equal(r.code, 0, show(r));
                assert.match(r.stdout, /✅ mlops-security@v0\.1\.0/, show(r));
                assert.match(r.stdout, /✅ mlops-gating@v0\.1\.0/, show(r));
                assert.doesNotMatch(r.stdout, /\[(mandatory|advisory|disabled)\]/, show(r));
                assert.match(r.stdout, /\+ \d+ to create/);
            });

            it("`pulumi up` deploys; every stack output has a real value; no input holds an unresolved value", async () => {
                const r = await pulumi(["up", "--yes", "--skip-preview", "--stack", stack, ...packFlags(stack)]);
                assert.equal(r.code, 0, show(r));
                const out = await pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack]);
                assert.equal(out.code, 0, show(out));
                const outputs = JSON.parse(out.stdout) as Record<string, unknown>;
                for (const key of ["rawBucket", "dataKmsKeyArn", "repositoryUrls", "imageRefs", "vpcId", "clusterName", "kubeconfig", "gpuPools", "trackingUri", "trackingDbEndpoint"]) {
                    assert.ok(outputs[key] !== undefined && outputs[key] !== null && outputs[key] !== "", `${key} = ${JSON.stringify(outputs[key])}`);
                }
                for (const [k, v] of Object.entries(outputs)) {
                    assert.ok(v !== null && v !== "", `${k} is empty`);
                    assert.deepEqual(undefinedLeaks(v, k), []);
                }
                assert.match(String(outputs.dataKmsKeyArn), /^arn:aws:kms:[a-z0-9-]+:\d{12}:key\//);
                const state = await exportState(stack);
                const leaks = state.flatMap((s) => undefinedLeaks(s.inputs ?? {}, s.urn.split("::").pop()));
                assert.deepEqual(leaks, [], "inputs holding an unresolved account, region or value");
            });

            it("a second `pulumi preview` reports no changes", async () => {
                const r = await pulumi(["preview", "--expect-no-changes", "--stack", stack, ...packFlags(stack)]);
                assert.equal(r.code, 0, show(r));
            });

            it("`mlops plan` agrees with the engine: same resources, same inputs", async () => {
                const plan = await runProgram({ root: project, stack });
                const state = await exportState(stack);
                const remoteChildren = (s: StateResource): boolean => {
                    let p = s.parent;
                    while (p) {
                        if (REMOTE_COMPONENTS.some((t) => p!.includes(`${t}::`) && p!.split("::")[2]?.endsWith(t))) {
                            return true;
                        }
                        p = state.find((x) => x.urn === p)?.parent;
                    }
                    return false;
                };
                const engineUrns = state
                    .filter((s) => !s.type.startsWith("pulumi:providers:") && s.type !== "pulumi:pulumi:Stack" && !remoteChildren(s))
                    .map((s) => s.urn)
                    .sort();
                const planUrns = plan.resources.filter((r) => !r.type.startsWith("pulumi:providers:")).map((r) => r.urn).sort();
                assert.deepEqual(
                    { onlyInPlan: planUrns.filter((u) => !engineUrns.includes(u)), onlyInEngine: engineUrns.filter((u) => !planUrns.includes(u)) },
                    { onlyInPlan: [], onlyInEngine: [] },
                );
                const byUrn = new Map(state.map((s) => [s.urn, s]));
                const differing: string[] = [];
                // Every input the program declared reaches the provider unchanged; the providers' Check may
                // add what the real ones add (auto-names, defaults), so keys only the engine has are allowed.
                for (const r of plan.resources.filter((x: RecordedResource) => x.custom && !x.type.startsWith("pulumi:providers:"))) {
                    const engine = normalize(byUrn.get(r.urn)!.inputs ?? {});
                    const offline = normalize(r.inputs);
                    for (const key of Object.keys(offline)) {
                        if (!declaredIn(engine[key], offline[key])) {
                            differing.push(`${r.urn.split("::").pop()}.${key}: plan ${JSON.stringify(offline[key]).slice(0, 160)} engine ${JSON.stringify(engine[key]).slice(0, 160)}`);
                        }
                    }
                }
                assert.deepEqual(differing, []);
            });
        });
    }

    async function exportState(stack: string): Promise<StateResource[]> {
        const r = await pulumi(["stack", "export", "--show-secrets", "--stack", stack]);
        assert.equal(r.code, 0, show(r));
        return (JSON.parse(r.stdout).deployment.resources ?? []) as StateResource[];
    }

    describe("from a second checkout path", () => {
        it("dev previews with no changes (plans do not depend on where the repository is checked out)", async () => {
            const other = checkout(path.join(work, "elsewhere", "checkout-b"));
            fs.copyFileSync(path.join(project, "Pulumi.dev.yaml"), path.join(other, "Pulumi.dev.yaml"));
            const r = await pulumi(["preview", "--expect-no-changes", "--stack", "dev", ...packFlags("dev")], other);
            assert.equal(r.code, 0, show(r));
        });
    });

    describe("release edits become in-place updates of exactly the traffic objects", () => {
        const mlops = (args: string[]) => execFileSync(process.execPath, [path.join(project, "dist", "cli", "mlops.js"), ...args], { cwd: project, encoding: "utf8" });

        const planSteps = async () => {
            const r = await pulumi(["preview", "--diff", "--json", "--stack", "dev", ...packFlags("dev")]);
            assert.equal(r.code, 0, show(r));
            const steps = (JSON.parse(r.stdout).steps ?? []) as { op: string; urn: string; diffReasons?: string[] }[];
            return steps.filter((s) => s.op !== "same");
        };

        for (const [title, args] of [
            ["set-weight 30", ["release", "set-weight", "30", "--stack", "dev"]],
            ["rollback", ["release", "rollback", "--stack", "dev"]],
        ] as const) {
            it(`\`mlops release ${title}\` changes only the HTTPRoute, in place`, async () => {
                const file = path.join(project, "Pulumi.dev.yaml");
                const before = fs.readFileSync(file, "utf8");
                try {
                    mlops([...args]);
                    assert.notEqual(fs.readFileSync(file, "utf8"), before, "the release edited the stack file");
                    const steps = await planSteps();
                    assert.deepEqual(
                        steps.map((s) => `${s.op} ${s.urn.split("::")[2].split("$").pop()}::${s.urn.split("::")[3]}`),
                        ["update kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::mlops-serving-route"],
                    );
                } finally {
                    fs.writeFileSync(file, before);
                }
            });
        }
    });

    describe("blue-green: `mlops release switch` becomes an in-place update of the Services alone", () => {
        it("deploys a blue-green copy of dev, switches, and previews only Service updates", async () => {
            const stack = "bluegreen";
            const file = path.join(project, `Pulumi.${stack}.yaml`);
            const doc = YAML.parseDocument(fs.readFileSync(path.join(project, "Pulumi.dev.yaml"), "utf8").replace(/^encryptionsalt: .*\n/m, ""));
            const serving = doc.getIn(["config", "mlops-platform:serving"]) as YAML.YAMLMap;
            const release = (version: string, baseline: string, f1: number, baseF1: number) => ({
                model: "credit-risk",
                version,
                modelUri: `models:/credit-risk/${version}`,
                metrics: { f1, accuracy: 0.88 },
                baseline: { version: baseline, metrics: { f1: baseF1, accuracy: 0.87 } },
            });
            serving.set("strategy", "blueGreen");
            serving.delete("canary");
            serving.set("blueGreen", doc.createNode({ active: "blue", slots: { blue: release("3", "2", 0.81, 0.79), green: release("4", "3", 0.84, 0.81) } }));
            fs.writeFileSync(file, doc.toString());
            initCommittedStack({ root: project, stack, pulumi: cliPath(), env });
            const up = await pulumi(["up", "--yes", "--skip-preview", "--stack", stack, ...packFlags("dev")]);
            assert.equal(up.code, 0, show(up));
            execFileSync(process.execPath, [path.join(project, "dist", "cli", "mlops.js"), "release", "switch", "--stack", stack], { cwd: project, encoding: "utf8" });
            assert.match(fs.readFileSync(file, "utf8"), /active: green/);
            const r = await pulumi(["preview", "--diff", "--json", "--stack", stack, ...packFlags("dev")]);
            assert.equal(r.code, 0, show(r));
            const steps = ((JSON.parse(r.stdout).steps ?? []) as { op: string; urn: string }[]).filter((x) => x.op !== "same");
            assert.ok(steps.length > 0, "the switch changes something");
            for (const st of steps) {
                assert.equal(st.op, "update", `${st.op} ${st.urn}`);
                assert.equal(st.urn.split("::")[2].split("$").pop(), "kubernetes:core/v1:Service", st.urn);
            }
            const down = await pulumi(["destroy", "--yes", "--stack", stack]);
            assert.equal(down.code, 0, show(down));
        });
    });

    describe("broken configurations are refused, naming the policy", () => {
        it("prod with force-destroyable data buckets fails `pulumi preview` with s3-no-force-destroy", async () => {
            const file = path.join(project, "Pulumi.prod.yaml");
            const before = fs.readFileSync(file, "utf8");
            try {
                const doc = YAML.parseDocument(before);
                doc.setIn(["config", "mlops-platform:protectStatefulResources"], false);
                doc.setIn(["config", "mlops-platform:forceDestroy"], true);
                fs.writeFileSync(file, doc.toString());
                const r = await pulumi(readmePreviewCommand(readme(), "prod"));
                assert.notEqual(r.code, 0, show(r));
                assert.match(r.stdout, /\[mandatory\].*s3-no-force-destroy/, show(r));
            } finally {
                fs.writeFileSync(file, before);
            }
        });

        it("an ungated prod canary at 20 % fails `pulumi up` (it ends with its error, nothing created)", async () => {
            const file = path.join(project, "Pulumi.prod.yaml");
            const before = fs.readFileSync(file, "utf8");
            try {
                const doc = YAML.parseDocument(before);
                doc.setIn(["config", "mlops-platform:serving", "canary", "canaryWeight"], 20);
                const canary = doc.getIn(["config", "mlops-platform:serving", "canary", "canary"]) as YAML.YAMLMap;
                canary.delete("approvedBy");
                canary.setIn(["metrics", "f1"], 0.5);
                fs.writeFileSync(file, doc.toString());
                const r = await pulumi(["up", "--yes", "--stack", "prod", ...packFlags("prod")], project, 5 * MINUTE);
                assert.notEqual(r.code, 0, show(r));
                assert.match(r.stdout + r.stderr, /\[mandatory\].*(model-gate|canary|release)/, show(r));
            } finally {
                fs.writeFileSync(file, before);
            }
        });
    });

    describe("destroy", () => {
        it("prod: `pulumi destroy` refuses protected resources", async () => {
            const r = await pulumi(["destroy", "--yes", "--stack", "prod"]);
            assert.notEqual(r.code, 0, show(r));
            assert.match(r.stdout + r.stderr, /protected/, show(r));
            const state = await exportState("prod");
            assert.ok(state.some((s) => s.type === "aws:s3/bucket:Bucket" && s.protect === true), "the protected buckets are still in state");
        });

        it("dev: `pulumi destroy` removes everything", async () => {
            const r = await pulumi(["destroy", "--yes", "--stack", "dev"]);
            assert.equal(r.code, 0, show(r));
            const state = await exportState("dev");
            assert.deepEqual(state.filter((s) => s.type !== "pulumi:pulumi:Stack" && !s.type.startsWith("pulumi:providers:")).map((s) => s.urn), []);
        });
    });

    describe("the repository", () => {
        it("committed stack files are byte-identical after the run", () => {
            for (const [f, hash] of Object.entries(committed)) {
                assert.equal(sha256(path.join(ROOT, f)), hash, `${f} changed`);
            }
        });
    });
});
