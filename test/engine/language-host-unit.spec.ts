/**
 * The language host's rules, checked without the Pulumi CLI: the command line and environment it gives
 * `@pulumi/pulumi/cmd/run` and `run-policy-pack` (as upstream pulumi-language-nodejs v3.248.0 does), runtime option
 * parsing, exit-code -> error/bail mapping, and plugin discovery over gRPC against the real host process.
 */
import * as grpc from "@grpc/grpc-js";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    configJson,
    envListToObject,
    pluginArguments,
    policyPackEnv,
    runArguments,
    RunSpec,
    splitNodeArgs,
    typescriptEnv,
} from "../../engine/language-host/arguments";
import { runOutcome } from "../../engine/language-host/host";
import { parseHostArgs } from "../../engine/language-host/main";
import { parseOptions } from "../../engine/language-host/options";
import { compatibleVersions, getPackageInfo, getRequiredPackages, incompatiblePulumiWarning } from "../../engine/language-host/packages";
import { engineBinDir, repoRoot } from "../../engine/cli";

const languageGrpc: any = require("@pulumi/pulumi/proto/language_grpc_pb");
const languagePb: any = require("@pulumi/pulumi/proto/language_pb");
const emptyPb: any = require("google-protobuf/google/protobuf/empty_pb");
const structPb: any = require("google-protobuf/google/protobuf/struct_pb");

const spec: RunSpec = {
    monitorAddress: "127.0.0.1:5001",
    engineAddress: "127.0.0.1:5002",
    organization: "",
    project: "proj",
    stack: "dev",
    rootDirectory: "/src/proj",
    programDirectory: "/src/proj",
    entryPoint: "index.ts",
    dryRun: true,
    parallel: 0,
    tracing: "",
    args: ["a1"],
};

describe("language host: the command line for @pulumi/pulumi/cmd/run", () => {
    it("passes flags in upstream's order, skips empty ones, keeps --parallel 0, then entry point and args", () => {
        assert.deepEqual(runArguments("/nm/@pulumi/pulumi/cmd/run/index.js", spec), [
            "/nm/@pulumi/pulumi/cmd/run/index.js",
            "--monitor", "127.0.0.1:5001",
            "--engine", "127.0.0.1:5002",
            "--project", "proj",
            "--root-directory", "/src/proj",
            "--stack", "dev",
            "--pwd", "/src/proj",
            "--dry-run",
            "--parallel", "0",
            "index.ts",
            "a1",
        ]);
    });

    it("adds --organization and --tracing when set, and no --dry-run for an update", () => {
        const args = runArguments("run", { ...spec, organization: "acme", tracing: "file:/t.json", dryRun: false, args: [] });
        assert.deepEqual(args.slice(0, 5), ["run", "--monitor", "127.0.0.1:5001", "--engine", "127.0.0.1:5002"]);
        assert.deepEqual(args.slice(5, 7), ["--organization", "acme"]);
        assert.ok(!args.includes("--dry-run"));
        assert.deepEqual(args.slice(-3), ["--tracing", "file:/t.json", "index.ts"]);
    });

    it("splits nodeargs like a shell and rejects unbalanced quotes", () => {
        assert.deepEqual(splitNodeArgs(`--max-old-space-size=4096 "--title=a b"`), ["--max-old-space-size=4096", "--title=a b"]);
        assert.deepEqual(splitNodeArgs("  "), []);
        assert.throws(() => splitNodeArgs(`"--open`));
    });

    it("rewrites config keys to <ns>:config:<name>, sorted, and rejects malformed keys", () => {
        assert.equal(
            configJson(new Map([["proj:b", "2"], ["aws:region", "eu-west-1"], ["proj:config:a", "1"]])),
            JSON.stringify({ "aws:config:region": "eu-west-1", "proj:config:a": "1", "proj:config:b": "2" }),
        );
        assert.throws(() => configJson({ "a:b:c": "x" }), /could not parse a:b:c as a configuration key/);
        assert.throws(() => configJson({ nocolon: "x" }), /`<namespace>:<name>`/);
    });

    it("sets PULUMI_NODEJS_TYPESCRIPT / _TSCONFIG_PATH from the runtime options", () => {
        assert.deepEqual(typescriptEnv(parseOptions({})), { PULUMI_NODEJS_TYPESCRIPT: "true" });
        assert.deepEqual(typescriptEnv(parseOptions({ typescript: false, tsconfig: "tsconfig.prod.json" })), {
            PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.prod.json",
        });
    });
});

describe("language host: runtime options", () => {
    it("defaults to typescript on, no tsconfig, no nodeargs, package manager auto", () => {
        assert.deepEqual(parseOptions({}), { typescript: true, tsconfigpath: "", nodeargs: "", packagemanager: "auto" });
    });
    it("names the option and what is allowed on bad input", () => {
        assert.throws(() => parseOptions({ typescript: "yes" }), /typescript option must be a boolean/);
        assert.throws(() => parseOptions({ nodeargs: 4 }), /nodeargs option must be a string/);
        assert.throws(() => parseOptions({ tsconfig: true }), /tsconfigpath option must be a string/);
        assert.throws(() => parseOptions({ packagemanager: "cargo" }), /one of auto, npm, yarn, pnpm or bun, got "cargo"/);
    });
});

describe("language host: policy packs and plugins through RunPlugin", () => {
    it("puts nodeargs after the script and the pack directory last for analyzers", () => {
        assert.deepEqual(pluginArguments("analyzer", "rpp.js", ["--x"], ["--tracing", "t", "127.0.0.1:9"], "/pack"), [
            "rpp.js", "--x", "--tracing", "t", "127.0.0.1:9", "/pack",
        ]);
        assert.deepEqual(pluginArguments("resource", "rp.js", [], ["127.0.0.1:9"], "/plug"), ["rp.js", "/plug", "127.0.0.1:9"]);
    });

    it("hands the stack context from ConfigureStack to the pack as PULUMI_NODEJS_* and PULUMI_CONFIG", () => {
        assert.deepEqual(
            policyPackEnv({ organization: "", project: "p", stack: "dev", dryRun: false, config: new Map([["p:b", "2"], ["p:a", "1"]]) }),
            { PULUMI_NODEJS_PROJECT: "p", PULUMI_NODEJS_STACK: "dev", PULUMI_NODEJS_DRY_RUN: "false", PULUMI_CONFIG: '{"p:a":"1","p:b":"2"}' },
        );
    });

    it("takes the last value of a repeated variable in the engine's env list", () => {
        assert.deepEqual(envListToObject(["A=1", "B=x=y", "A=2", "junk"]), { A: "2", B: "x=y" });
    });
});

describe("language host: program exit -> RunResponse", () => {
    it("exit 0 is success; 32 (the SDK already reported the error) is bail without a message", () => {
        assert.deepEqual(runOutcome(0, null, false), { error: "", bail: false });
        assert.deepEqual(runOutcome(32, null, false), { error: "", bail: true });
    });
    it("other codes and signals are errors, with upstream's out-of-memory hint when V8 said so", () => {
        assert.deepEqual(runOutcome(1, null, false), { error: "Program exited with non-zero exit code: 1", bail: false });
        assert.equal(runOutcome(null, "SIGKILL", false).error, "Program exited with non-zero exit code: -1");
        assert.match(runOutcome(134, null, true).error, /^Program exited with non-zero exit code: 134\. Detected a possible out of memory error/);
    });
});

describe("language host: plugin flags", () => {
    it("takes the engine address as the first positional argument after the engine's logging and tracing flags", () => {
        assert.deepEqual(parseHostArgs(["--logtostderr", "-v=9", "--tracing", "file:/x", "127.0.0.1:4000"]), {
            tracing: "file:/x", runtime: "nodejs", version: false, engineAddress: "127.0.0.1:4000",
        });
        assert.equal(parseHostArgs([]).engineAddress, "");
        assert.throws(() => parseHostArgs(["--bogus"]), /flag provided but not defined: -bogus/);
    });
});

describe("language host: required packages", () => {
    it("finds exactly the provider plugins this repository's SDKs declare, with upstream's v-prefixed versions", () => {
        const found = getRequiredPackages(repoRoot);
        const names = found.packages.map((p) => `${p.name}@${p.version}`).sort();
        // docker v3.6.1 comes from awsx's aliased dependency docker-classic (@pulumi/docker 3.6.1).
        assert.deepEqual(names, [
            "aws@v7.48.0", "awsx@v3.9.0", "docker-build@v0.0.14", "docker@v3.6.1", "docker@v4.11.2", "kubernetes@v4.34.2",
        ]);
        assert.equal(incompatiblePulumiWarning(found.pulumiVersions), undefined);
    });

    it("derives names and versions like upstream and requires third-party packages to name their plugin", () => {
        assert.deepEqual(getPackageInfo({ name: "@pulumi/foo", version: "1.2.3", pulumi: { resource: true } }), {
            name: "foo", kind: "resource", version: "v1.2.3", server: "",
        });
        assert.equal(getPackageInfo({ name: "@pulumi/foo", version: "1.2.3", pulumi: { resource: false } }), undefined);
        assert.throws(() => getPackageInfo({ name: "acme-foo", version: "1.0.0", pulumi: { resource: true } }), /third-party plugin 'acme-foo'/);
        assert.deepEqual(compatibleVersions("3.248.0", "2.0.0"), { ok: false, message: "Differing major versions are not supported." });
    });

    it("skips nested policy packs and counts package.json files only below node_modules", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-pkgs-"));
        try {
            const pkg = (p: string, body: object) => {
                fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
                fs.writeFileSync(path.join(dir, p), JSON.stringify(body));
            };
            pkg("package.json", { name: "@pulumi/top", version: "1.0.0", pulumi: { resource: true } });
            pkg("node_modules/@pulumi/a/package.json", { name: "@pulumi/a", version: "1.0.0", pulumi: { resource: true } });
            pkg("pack/node_modules/@pulumi/b/package.json", { name: "@pulumi/b", version: "1.0.0", pulumi: { resource: true } });
            fs.writeFileSync(path.join(dir, "pack", "PulumiPolicy.yaml"), "runtime: nodejs\n");
            assert.deepEqual(getRequiredPackages(dir).packages.map((p) => p.name), ["a"]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("language host process over gRPC (engine/bin/pulumi-language-nodejs)", function () {
    this.timeout(60_000);
    let host: ChildProcess;
    let client: any;

    before(async function () {
        if (!fs.existsSync(path.join(repoRoot, "dist", "engine", "language-host", "main.js"))) {
            throw new Error("dist/engine/language-host/main.js is missing: run npx tsc -p .");
        }
        host = spawn(path.join(engineBinDir, "pulumi-language-nodejs"), [], { stdio: ["ignore", "pipe", "inherit"] });
        const port = await new Promise<number>((resolve, reject) => {
            let out = "";
            host.stdout!.on("data", (d) => {
                out += d;
                const nl = out.indexOf("\n");
                if (nl >= 0) resolve(Number(out.slice(0, nl)));
            });
            host.on("exit", (code) => reject(new Error(`host exited with ${code} before printing its port`)));
        });
        assert.ok(port > 0 && port < 65536, `the first stdout line is the port, got ${port}`);
        client = new languageGrpc.LanguageRuntimeClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });

    after(() => {
        client?.close();
        host?.kill("SIGINT");
    });

    const call = <T>(method: string, req: unknown): Promise<T> =>
        new Promise((resolve, reject) => client[method](req, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));
    const info = (dir: string, options: object = {}) =>
        new languagePb.ProgramInfo()
            .setRootDirectory(dir)
            .setProgramDirectory(dir)
            .setEntryPoint(".")
            .setOptions(structPb.Struct.fromJavaScript(options));

    it("reports its version and the repository's provider plugins", async () => {
        const pi: any = await call("getPluginInfo", new emptyPb.Empty());
        assert.equal(pi.getVersion(), "v3.248.0");
        const res: any = await call("getRequiredPackages", new languagePb.GetRequiredPackagesRequest().setInfo(info(repoRoot)));
        const names = res.getPackagesList().map((p: any) => `${p.getKind()}:${p.getName()}@${p.getVersion()}`).sort();
        assert.ok(names.includes("resource:aws@v7.48.0"), names.join(", "));
        assert.ok(names.includes("resource:kubernetes@v4.34.2"), names.join(", "));
    });

    it("refuses Run before it knows the engine's address, as upstream does", async () => {
        const req = new languagePb.RunRequest().setInfo(info(repoRoot)).setMonitorAddress("127.0.0.1:1");
        await assert.rejects(call("run", req), /must call Handshake before Run/);
    });

    it("reports a program directory without the SDK as a program error naming the fix", async () => {
        await call("handshake", new languagePb.LanguageHandshakeRequest().setEngineAddress("127.0.0.1:1"));
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-nosdk-"));
        try {
            const res: any = await call("run", new languagePb.RunRequest().setInfo(info(empty)).setMonitorAddress("127.0.0.1:1"));
            assert.equal(res.getError(), "It looks like the Pulumi SDK has not been installed. Have you run pulumi install?");
            assert.equal(res.getBail(), false);
        } finally {
            fs.rmSync(empty, { recursive: true, force: true });
        }
    });

    it("rejects bad runtime options with the option's name", async () => {
        const res: any = await call(
            "run",
            new languagePb.RunRequest().setInfo(info(repoRoot, { typescript: "yes" })).setMonitorAddress("127.0.0.1:1"),
        );
        assert.equal(res.getError(), "typescript option must be a boolean");
    });

    it("reports node and the package manager for `pulumi about`, and the program's installed dependencies", async () => {
        const about: any = await call("about", new languagePb.AboutRequest().setInfo(info(repoRoot)));
        assert.match(about.getExecutable(), /\/node$/);
        assert.match(about.getVersion(), /^v\d+\.\d+\.\d+$/);
        assert.equal(about.getMetadataMap().get("packagemanager"), "npm");
        const deps: any = await call(
            "getProgramDependencies",
            new languagePb.GetProgramDependenciesRequest().setInfo(info(repoRoot)),
        );
        const pulumiDep = deps.getDependenciesList().find((d: any) => d.getName() === "@pulumi/pulumi");
        assert.equal(pulumiDep?.getVersion(), "3.248.0");
    });

    it("answers the code-generation RPCs with UNIMPLEMENTED", async () => {
        await assert.rejects(call("pack", new languagePb.PackRequest()), (e: any) => e.code === grpc.status.UNIMPLEMENTED);
    });
});
