/**
 * The real Pulumi CLI v3.248.0 running Node.js programs and a policy pack through this repository's language host
 * (engine/bin/pulumi-language-nodejs), offline: isolated PULUMI_HOME, local file backend, passphrase secrets,
 * automatic plugin acquisition disabled. Every CLI call has a timeout (engine/cli.ts kills the process group).
 *
 * Skipped, with a message, only when the CLI binary is absent (engine/build-cli.sh builds it) and ENGINE_REQUIRED is
 * not 1; with ENGINE_REQUIRED=1 an absent CLI fails the suite.
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    bundledShimPresent,
    cliAvailable,
    cliPath,
    engineBinDir,
    engineEnv,
    repoRoot,
    runPulumi,
    RunResult,
} from "../../engine/cli";

const FIXTURE_PROGRAM = `import * as pulumi from "@pulumi/pulumi";

/** A component with no provider behind it: the engine registers it, no plugin needed. */
class Greeter extends pulumi.ComponentResource {
    readonly message: pulumi.Output<string>;
    constructor(name: string, args: { greeting: string; target: string }, opts?: pulumi.ComponentResourceOptions) {
        super("fixture:index:Greeter", name, {}, opts);
        this.message = pulumi.output(\`\${args.greeting}, \${args.target}\`);
        this.registerOutputs({ message: this.message });
    }
}

const config = new pulumi.Config();
if (config.getBoolean("shouldFail")) {
    throw new Error("fixture failure: boom");
}
const greeter = new Greeter("hello", { greeting: config.require("greeting"), target: "engine" });
const apiKey = config.requireSecret("apiKey");

export const message = greeter.message;
export const greeterUrn = greeter.urn;
export const apiKeyLength = apiKey.apply((k) => k.length);
export const apiKeyEcho = apiKey;
export const project = pulumi.getProject();
export const stack = pulumi.getStack();
export const typescriptEnv = process.env.PULUMI_NODEJS_TYPESCRIPT ?? "";
export const execArgv = process.execArgv;
export const programArgs = process.argv.slice(2);
`;

const FIXTURE_PULUMI_YAML = `name: fixture
description: engine-tier fixture for the Node.js language host
runtime:
  name: nodejs
  options:
    typescript: true
    nodeargs: "--max-old-space-size=1024 --no-deprecation"
main: src/index.ts
`;

const POLICY_PACK = `const { PolicyPack } = require("@pulumi/policy");
const pulumi = require("@pulumi/pulumi");

new PolicyPack("fixture-policies", {
    policies: [
        {
            name: "no-greeters",
            description: "Greeter components are not allowed.",
            enforcementLevel: "mandatory",
            validateStack: (args, reportViolation) => {
                for (const r of args.resources) {
                    if (r.type === "fixture:index:Greeter") {
                        reportViolation(\`\${r.name} is a Greeter (stack \${pulumi.getStack()})\`);
                    }
                }
            },
        },
    ],
});
`;

const CALL_TIMEOUT_MS = 240_000;

function show(r: RunResult): string {
    return `exit ${r.code} (signal ${r.signal}, ${r.durationMs} ms, timedOut ${r.timedOut})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

describe("engine tier: the real Pulumi CLI with our Node.js language host", function () {
    this.timeout(20 * 60_000);

    let tmp: string;
    let programDir: string;
    let packDir: string;
    let env: NodeJS.ProcessEnv;
    const timings: Record<string, number> = {};

    const pulumi = async (args: string[], cwd = programDir, timeoutMs = CALL_TIMEOUT_MS) => {
        const r = await runPulumi(args, { cwd, env, timeoutMs });
        assert.equal(r.timedOut, false, `pulumi ${args.join(" ")} timed out\n${show(r)}`);
        return r;
    };
    const ok = async (args: string[], cwd = programDir) => {
        const r = await pulumi(args, cwd);
        assert.equal(r.code, 0, `pulumi ${args.join(" ")} failed\n${show(r)}`);
        return r;
    };

    before(async function () {
        if (!cliAvailable()) {
            if (process.env.ENGINE_REQUIRED === "1") {
                throw new Error(`ENGINE_REQUIRED=1 but the Pulumi CLI is absent at ${cliPath()}; run engine/build-cli.sh`);
            }
            console.log(`    [engine] skipped: no Pulumi CLI at ${cliPath()} (run engine/build-cli.sh; ENGINE_REQUIRED=1 makes this fatal)`);
            this.skip();
        }
        assert.ok(
            fs.existsSync(path.join(repoRoot, "dist", "engine", "language-host", "main.js")),
            "dist/engine/language-host/main.js is missing: run npx tsc -p .",
        );
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "engine-host-"));
        programDir = path.join(tmp, "program");
        packDir = path.join(tmp, "policy-pack");
        fs.mkdirSync(path.join(programDir, "src"), { recursive: true });
        fs.mkdirSync(packDir);
        fs.writeFileSync(path.join(programDir, "Pulumi.yaml"), FIXTURE_PULUMI_YAML);
        fs.writeFileSync(path.join(programDir, "src", "index.ts"), FIXTURE_PROGRAM);
        fs.writeFileSync(path.join(programDir, "package.json"), JSON.stringify({ name: "fixture", private: true }));
        fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(programDir, "node_modules"));
        fs.writeFileSync(path.join(packDir, "PulumiPolicy.yaml"), "runtime: nodejs\ndescription: fixture pack\n");
        fs.writeFileSync(path.join(packDir, "package.json"), JSON.stringify({ name: "fixture-policies", version: "0.1.0", main: "index.js" }));
        fs.writeFileSync(path.join(packDir, "index.js"), POLICY_PACK);
        fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(packDir, "node_modules"));

        const backendDir = path.join(tmp, "backend");
        fs.mkdirSync(backendDir);
        env = engineEnv({ home: path.join(tmp, "pulumi-home"), backendDir });
        await ok(["login", `file://${backendDir}`]);
        await ok(["stack", "init", "dev"]);
        await ok(["config", "set", "greeting", "hello"]);
        await ok(["config", "set", "--secret", "apiKey", "s3cr3t-value"]);
    });

    after(function () {
        if (tmp && !process.env.ENGINE_KEEP_TMP) {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
        if (Object.keys(timings).length > 0) {
            console.log(`    [engine] timings: ${JSON.stringify(timings)}`);
        }
    });

    it("no plugin is installed in the isolated PULUMI_HOME: the language host is ours", async () => {
        const r = await ok(["plugin", "ls", "--json"]);
        assert.deepEqual(JSON.parse(r.stdout.trim() || "[]") ?? [], [], "no plugin may be installed in the isolated PULUMI_HOME");
        assert.ok(bundledShimPresent(), "engine/build-cli.sh installs the language-host shim next to the CLI");
        assert.ok(!env.PATH!.split(path.delimiter).includes(engineBinDir), "bundled mode keeps engine/bin off PATH");
    });

    it("the secret is stored encrypted in the stack file, never in plain text", () => {
        const stackFile = fs.readFileSync(path.join(programDir, "Pulumi.dev.yaml"), "utf8");
        assert.doesNotMatch(stackFile, /s3cr3t-value/);
        assert.match(stackFile, /fixture:apiKey:\s*\n\s+secure: /);
    });

    it("`pulumi preview` runs the TypeScript program through the host (first and second run timed)", async () => {
        const first = await ok(["preview", "--non-interactive"]);
        timings.previewFirstMs = first.durationMs;
        assert.match(first.stdout, /fixture:index:Greeter\s+hello/);
        assert.match(first.stdout, /\+ 2 to create/);
        // Found through the shim next to the CLI, as a bundled host: no ambient-plugin warning.
        assert.doesNotMatch(first.stdout + first.stderr, /using pulumi-language-nodejs from \$PATH/);
        const second = await ok(["preview", "--non-interactive"]);
        timings.previewSecondMs = second.durationMs;
        console.log(`    [engine] tiny program preview: first ${first.durationMs} ms, second ${second.durationMs} ms`);
    });

    it("`pulumi up --yes` then `stack output --json` has real values from config, component and host", async () => {
        const up = await ok(["up", "--yes", "--non-interactive"]);
        timings.upMs = up.durationMs;
        assert.match(up.stdout, /2 created/);

        const hidden = JSON.parse((await ok(["stack", "output", "--json"])).stdout);
        assert.equal(hidden.apiKeyEcho, "[secret]", "a secret output is masked without --show-secrets");

        const out = JSON.parse((await ok(["stack", "output", "--json", "--show-secrets"])).stdout);
        assert.equal(out.message, "hello, engine");
        assert.match(out.greeterUrn, /^urn:pulumi:dev::fixture::fixture:index:Greeter::hello$/);
        assert.equal(out.apiKeyEcho, "s3cr3t-value");
        assert.equal(out.apiKeyLength, "s3cr3t-value".length);
        assert.equal(out.project, "fixture");
        assert.equal(out.stack, "dev");
        // runtime.options.typescript -> PULUMI_NODEJS_TYPESCRIPT=true; nodeargs -> node's own argv, split like a shell.
        assert.equal(out.typescriptEnv, "true");
        assert.deepEqual(out.execArgv.filter((a: string) => !a.startsWith("--inspect")), [
            "--max-old-space-size=1024",
            "--no-deprecation",
        ]);
        assert.deepEqual(out.programArgs, []);

        const state = fs.readFileSync(
            path.join(tmp, "backend", ".pulumi", "stacks", "fixture", "dev.json"),
            "utf8",
        );
        assert.doesNotMatch(state, /s3cr3t-value/, "the secret must be encrypted in the state file");
    });

    it("a second `pulumi preview` after `up` reports no changes", async () => {
        const r = await ok(["preview", "--non-interactive", "--expect-no-changes"]);
        assert.match(r.stdout, /2 unchanged/);
    });

    it("with engine/bin on PATH instead, the CLI runs the same host as an ambient plugin (and says so)", async () => {
        const pathEnv = engineEnv({
            home: env.PULUMI_HOME!,
            backendDir: path.join(tmp, "backend"),
            languageHost: "path",
        });
        const r = await runPulumi(["preview", "--non-interactive", "--expect-no-changes"], {
            cwd: programDir,
            env: pathEnv,
            timeoutMs: CALL_TIMEOUT_MS,
        });
        assert.equal(r.code, 0, show(r));
        assert.ok(
            (r.stdout + r.stderr).includes(`using pulumi-language-nodejs from $PATH at ${path.join(engineBinDir, "pulumi-language-nodejs")}`),
            show(r),
        );
    });

    it("a program that throws makes `preview` and `up` exit non-zero with the error, without hanging", async () => {
        await ok(["stack", "init", "broken"]);
        await ok(["config", "set", "greeting", "hello"]);
        await ok(["config", "set", "--secret", "apiKey", "x"]);
        await ok(["config", "set", "shouldFail", "true"]);
        const r = await pulumi(["preview", "--non-interactive"], programDir, 120_000);
        timings.failingPreviewMs = r.durationMs;
        assert.notEqual(r.code, 0, show(r));
        assert.match(r.stdout + r.stderr, /fixture failure: boom/);
        // The SDK logs the error itself and exits 32, which the host turns into "bail": no generic second error.
        assert.doesNotMatch(r.stdout + r.stderr, /Program exited with non-zero exit code/);

        const up = await pulumi(["up", "--yes", "--non-interactive"], programDir, 120_000);
        assert.notEqual(up.code, 0, show(up));
        assert.match(up.stdout + up.stderr, /fixture failure: boom/);
        await ok(["stack", "select", "dev"]);
    });

    it("a policy pack passed with --policy-pack runs through RunPlugin and its mandatory violation fails preview", async () => {
        const r = await pulumi(["preview", "--non-interactive", "--policy-pack", packDir]);
        timings.policyPreviewMs = r.durationMs;
        assert.notEqual(r.code, 0, show(r));
        const text = r.stdout + r.stderr;
        assert.match(text, /no-greeters/);
        assert.match(text, /mandatory/);
        // The stack name reached the pack's process through ConfigureStack -> PULUMI_NODEJS_STACK.
        assert.match(text, /hello is a Greeter \(stack dev\)/);
    });
});
