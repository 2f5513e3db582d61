/**
 * `pulumirpc.LanguageRuntime` for Node.js programs and policy packs: this repository's replacement for upstream
 * `pulumi-language-nodejs` (which the Go module proxy does not serve). It launches the same SDK entry points
 * (`@pulumi/pulumi/cmd/run`, `cmd/run-policy-pack`, `cmd/run-plugin`) with the arguments and environment upstream
 * v3.248.0 passes; docs/engine.md lists what is mirrored and what is left out.
 */
import * as grpc from "@grpc/grpc-js";
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
    configJson,
    configSecretKeysJson,
    envListToObject,
    pluginArguments,
    policyPackEnv,
    runArguments,
    splitNodeArgs,
    typescriptEnv,
} from "./arguments";
import { parseOptions } from "./options";
import { getRequiredPackages, incompatiblePulumiWarning } from "./packages";
import { grpcMessageLimits, PolicyProxy } from "./policy-proxy";

const languagePb: any = require("@pulumi/pulumi/proto/language_pb");
const pluginPb: any = require("@pulumi/pulumi/proto/plugin_pb");
const emptyPb: any = require("google-protobuf/google/protobuf/empty_pb");

/** Exit code with which the SDK says "the user already got an actionable message": bail without another error. */
export const exitedAfterUserActionableMessage = 32;

/** How long a cancelled program gets between SIGINT and SIGKILL (upstream cmd.WaitDelay). */
const killDelayMs = 5000;

const oomMessage =
    "Detected a possible out of memory error. Consider increasing the memory available to the nodejs process " +
    "by setting the `nodeargs` runtime option in Pulumi.yaml to `nodeargs: --max-old-space-size=<size>` where " +
    "`<size>` is the maximum memory in megabytes that can be allocated to nodejs. " +
    "See https://www.pulumi.com/docs/concepts/projects/project-file/#runtime-options";

/** Finds an executable on PATH like Go's exec.LookPath; undefined when absent. */
export function lookPath(file: string, envPath = process.env.PATH ?? ""): string | undefined {
    for (const dir of envPath.split(path.delimiter)) {
        if (dir === "") {
            continue;
        }
        const candidate = path.join(dir, file);
        try {
            const st = fs.statSync(candidate);
            if (st.isFile()) {
                fs.accessSync(candidate, fs.constants.X_OK);
                return candidate;
            }
        } catch {
            // not here
        }
    }
    return undefined;
}

/**
 * Resolves an SDK module from the program's directory (upstream runs `node -e require.resolve(...)` there; Node's
 * resolution from that directory is the same). Throws upstream's message when the SDK is not installed.
 */
export function locateModule(mod: string, programDir: string, isPlugin: boolean): string {
    try {
        return require.resolve(mod, { paths: [programDir] });
    } catch (err: any) {
        if (err?.code === "MODULE_NOT_FOUND") {
            const install = isPlugin ? `npm install in ${programDir}` : "pulumi install";
            throw new Error(`It looks like the Pulumi SDK has not been installed. Have you run ${install}?`);
        }
        throw err;
    }
}

/** Maps a finished program to RunResponse fields, as upstream `execRuntime` does. */
export function runOutcome(
    code: number | null,
    signal: NodeJS.Signals | null,
    oomDetected: boolean,
): { error: string; bail: boolean } {
    if (code === 0 && signal === null) {
        return { error: "", bail: false };
    }
    // Go reports -1 as the exit code of a process killed by a signal.
    const exitCode = code ?? -1;
    if (exitCode === exitedAfterUserActionableMessage) {
        return { error: "", bail: true };
    }
    let error = `Program exited with non-zero exit code: ${exitCode}`;
    if (oomDetected) {
        error += `. ${oomMessage}`;
    }
    return { error, bail: false };
}

/** The lines V8 prints on an out-of-memory crash (upstream oomSniffer). */
export function looksLikeOom(stderr: string): boolean {
    return (
        stderr.includes("<--- Last few GCs --->") ||
        stderr.includes("Check failed: needs_context && current_scope_ == closure_scope_")
    );
}

function programInfo(info: any): { root: string; dir: string; entry: string; options: Record<string, unknown> } {
    return {
        root: info?.getRootDirectory() ?? "",
        dir: info?.getProgramDirectory() ?? "",
        entry: info?.getEntryPoint() ?? "",
        options: (info?.getOptions()?.toJavaScript() as Record<string, unknown>) ?? {},
    };
}

/** A protobuf map field as a JS Map. */
function mapOf(m: any): Map<string, string> {
    const out = new Map<string, string>();
    m?.forEach((v: string, k: string) => out.set(k, v));
    return out;
}

function unimplemented(name: string) {
    return (_call: unknown, callback: grpc.sendUnaryData<any>) =>
        callback({ code: grpc.status.UNIMPLEMENTED, details: `method ${name} not implemented` }, null);
}

function grpcError(message: string, code = grpc.status.UNKNOWN): grpc.ServiceError {
    return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

export interface HostOptions {
    /** Engine gRPC address: the plugin's positional argument, or set later by Handshake. */
    engineAddress: string;
    /** The `--tracing` endpoint, forwarded to programs. */
    tracing: string;
    /** Reported by GetPluginInfo and `--version`. */
    version: string;
}

export class NodeLanguageHost {
    private readonly running = new Set<ChildProcess>();

    constructor(private readonly opts: HostOptions) {}

    get engineAddress(): string {
        return this.opts.engineAddress;
    }

    /** SIGINT to every running program, SIGKILL after the grace period (Cancel RPC, host shutdown). */
    cancelAll(): void {
        for (const child of this.running) {
            interruptThenKill(child);
        }
    }

    implementation(): grpc.UntypedServiceImplementation {
        return {
            handshake: this.handshake.bind(this),
            getPluginInfo: (_call: unknown, cb: grpc.sendUnaryData<any>) =>
                cb(null, new pluginPb.PluginInfo().setVersion(this.opts.version)),
            getRequiredPlugins: this.getRequiredPlugins.bind(this),
            getRequiredPackages: this.getRequiredPackages.bind(this),
            run: this.run.bind(this),
            runPlugin: this.runPlugin.bind(this),
            installDependencies: this.installDependencies.bind(this),
            runtimeOptionsPrompts: (_call: unknown, cb: grpc.sendUnaryData<any>) =>
                cb(null, new languagePb.RuntimeOptionsResponse()),
            template: (_call: unknown, cb: grpc.sendUnaryData<any>) => cb(null, new languagePb.TemplateResponse()),
            about: this.about.bind(this),
            getProgramDependencies: this.getProgramDependencies.bind(this),
            cancel: (_call: unknown, cb: grpc.sendUnaryData<any>) => {
                this.cancelAll();
                cb(null, new emptyPb.Empty());
            },
            generateProgram: unimplemented("GenerateProgram"),
            generateProject: unimplemented("GenerateProject"),
            generatePackage: unimplemented("GeneratePackage"),
            pack: unimplemented("Pack"),
            link: unimplemented("Link"),
        };
    }

    /** Used only when the engine attaches to an already running host (PULUMI_DEBUG_LANGUAGES). */
    private handshake(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
        this.opts.engineAddress = call.request.getEngineAddress();
        cb(null, new languagePb.LanguageHandshakeResponse());
    }

    private requiredPackages(info: any): any[] {
        const { dir } = programInfo(info);
        const found = getRequiredPackages(dir);
        const warning = incompatiblePulumiWarning(found.pulumiVersions);
        if (warning) {
            process.stderr.write(warning);
        }
        if (process.env.PULUMI_LANGUAGE_NODEJS_DEBUG && found.errors.length > 0) {
            process.stderr.write(`one or more errors while discovering plugins: ${found.errors.join("; ")}\n`);
        }
        return found.packages;
    }

    private getRequiredPackages(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
        try {
            const packages = this.requiredPackages(call.request.getInfo()).map((p) => {
                const dep = new pluginPb.PackageDependency()
                    .setName(p.name)
                    .setKind(p.kind)
                    .setVersion(p.version)
                    .setServer(p.server);
                if (p.parameterization) {
                    dep.setParameterization(
                        new pluginPb.PackageParameterization()
                            .setName(p.parameterization.name)
                            .setVersion(p.parameterization.version)
                            .setValue(p.parameterization.value),
                    );
                }
                return dep;
            });
            cb(null, new languagePb.GetRequiredPackagesResponse().setPackagesList(packages));
        } catch (err) {
            cb(grpcError((err as Error).message), null);
        }
    }

    /** Deprecated RPC (upstream 3.248 answers UNIMPLEMENTED); answered here with the same plugins, for older engines. */
    private getRequiredPlugins(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
        try {
            const plugins = this.requiredPackages(call.request.getInfo()).map((p) =>
                new pluginPb.PluginDependency().setName(p.name).setKind(p.kind).setVersion(p.version).setServer(p.server),
            );
            cb(null, new languagePb.GetRequiredPluginsResponse().setPluginsList(plugins));
        } catch (err) {
            cb(grpcError((err as Error).message), null);
        }
    }

    private run(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
        const req = call.request;
        const respond = (error: string, bail = false) =>
            cb(null, new languagePb.RunResponse().setError(error).setBail(bail));
        if (this.opts.engineAddress === "") {
            cb(grpcError("when debugging or running explicitly, must call Handshake before Run"), null);
            return;
        }
        if (req.getAttachDebugger()) {
            respond("attaching a debugger is not supported by this language host (engine/language-host)");
            return;
        }
        const nodeBin = lookPath("node");
        if (!nodeBin) {
            respond("could not find node on the $PATH: exec: \"node\": executable file not found in $PATH");
            return;
        }
        const info = programInfo(req.getInfo());
        let runPath: string;
        let args: string[];
        let env: NodeJS.ProcessEnv;
        try {
            runPath = locateModule(
                process.env.PULUMI_LANGUAGE_NODEJS_RUN_PATH || "@pulumi/pulumi/cmd/run",
                info.dir,
                false,
            );
        } catch (err) {
            respond((err as Error).message);
            return;
        }
        try {
            let config: string;
            try {
                config = configJson(mapOf(req.getConfigMap()));
            } catch (err) {
                respond(`failed to serialize configuration: ${(err as Error).message}`);
                return;
            }
            const opts = parseOptions(info.options);
            env = {
                ...process.env,
                PULUMI_CONFIG: config,
                PULUMI_CONFIG_SECRET_KEYS: configSecretKeysJson(req.getConfigsecretkeysList()),
                ...typescriptEnv(opts),
            };
            args = [
                ...splitNodeArgs(opts.nodeargs),
                ...runArguments(runPath, {
                    monitorAddress: req.getMonitorAddress(),
                    engineAddress: this.opts.engineAddress,
                    organization: req.getOrganization(),
                    project: req.getProject(),
                    stack: req.getStack(),
                    rootDirectory: info.root,
                    programDirectory: info.dir,
                    entryPoint: info.entry,
                    dryRun: req.getDryrun(),
                    parallel: req.getParallel(),
                    tracing: this.opts.tracing,
                    args: req.getArgsList(),
                }),
            ];
        } catch (err) {
            respond((err as Error).message);
            return;
        }

        let child: ChildProcess;
        try {
            child = spawn(nodeBin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
        } catch (err) {
            respond(`Problem executing program (could not run language executor): ${(err as Error).message}`);
            return;
        }
        this.running.add(child);
        let stderrTail = "";
        let oom = false;
        child.stdout!.on("data", (d: Buffer) => process.stdout.write(d));
        child.stderr!.on("data", (d: Buffer) => {
            process.stderr.write(d);
            // Keep only a window large enough to see a marker split across chunks.
            stderrTail = (stderrTail + d.toString()).slice(-4096);
            oom ||= looksLikeOom(stderrTail);
        });
        // The engine cancelling the Run call (e.g. Ctrl-C) interrupts the program, as upstream's CommandContext does.
        call.on("cancelled", () => interruptThenKill(child));
        let answered = false;
        child.on("error", (err) => {
            this.running.delete(child);
            if (!answered) {
                answered = true;
                respond(`Problem executing program (could not run language executor): ${err.message}`);
            }
        });
        child.on("close", (code, signal) => {
            this.running.delete(child);
            if (!answered) {
                answered = true;
                const outcome = runOutcome(code, signal, oom);
                respond(outcome.error, outcome.bail);
            }
        });
    }

    private runPlugin(call: grpc.ServerWritableStream<any, any>): void {
        const req = call.request;
        let finished = false;
        const write = (field: "stdout" | "stderr") => (b: Buffer) => {
            if (!finished && b.length > 0) {
                const res = new languagePb.RunPluginResponse();
                if (field === "stdout") {
                    res.setStdout(b);
                } else {
                    res.setStderr(b);
                }
                call.write(res);
            }
        };
        const stdout = write("stdout");
        const stderr = write("stderr");
        let proxy: PolicyProxy | undefined;
        let child: ChildProcess | undefined;
        const finish = (err?: string) => {
            if (finished) {
                return;
            }
            finished = true;
            proxy?.shutdown();
            if (err !== undefined) {
                call.emit("error", grpcError(err));
            } else {
                call.end();
            }
        };
        // The engine ends the stream to stop the plugin: kill it, as upstream's exec.CommandContext does.
        call.on("cancelled", () => {
            child?.kill("SIGKILL");
            finished = true;
            proxy?.shutdown();
        });

        void (async () => {
            if (this.opts.engineAddress === "") {
                return finish("when debugging or running explicitly, must call Handshake before Run");
            }
            if (req.getAttachDebugger()) {
                return finish("attaching a debugger is not supported by this language host (engine/language-host)");
            }
            const nodeBin = lookPath("node");
            if (!nodeBin) {
                return finish('exec: "node": executable file not found in $PATH');
            }
            const info = programInfo(req.getInfo());
            const kind: string = req.getKind();
            let args: string[];
            const env: Record<string, string> = envListToObject(req.getEnvList());
            try {
                const opts = parseOptions(info.options);
                Object.assign(env, typescriptEnv(opts));
                const runPath = locateModule(
                    kind === "analyzer"
                        ? "@pulumi/pulumi/cmd/run-policy-pack"
                        : process.env.PULUMI_LANGUAGE_NODEJS_RUN_PATH || "@pulumi/pulumi/cmd/run-plugin",
                    info.dir,
                    true,
                );
                args = pluginArguments(kind, runPath, splitNodeArgs(opts.nodeargs), req.getArgsList(), info.dir);
            } catch (err) {
                return finish((err as Error).message);
            }

            if (kind === "analyzer") {
                try {
                    proxy = await PolicyProxy.start();
                    const cfg = await proxy.awaitConfiguration(stdout);
                    if (cfg) {
                        Object.assign(env, policyPackEnv(cfg));
                    }
                } catch (err) {
                    return finish(`could not start policy pack proxy: ${(err as Error).message}`);
                }
                if (finished) {
                    return; // cancelled while waiting for the configuration
                }
            }

            child = spawn(nodeBin, args, {
                cwd: kind === "analyzer" ? info.dir : req.getPwd() || undefined,
                env,
                stdio: ["ignore", "pipe", "pipe"],
            });
            this.running.add(child);
            const c = child;
            c.stderr!.on("data", stderr);
            if (proxy) {
                proxy.attach(c.stdout!, stdout).catch((err: Error) => stderr(Buffer.from(`${err.message}\n`)));
            } else {
                c.stdout!.on("data", stdout);
            }
            c.on("error", (err) => {
                this.running.delete(c);
                finish(`Problem executing plugin program (could not run language executor): ${err.message}`);
            });
            c.on("close", (code, signal) => {
                this.running.delete(c);
                proxy?.fail(new Error("the policy pack exited"));
                if (code === 0 && signal === null) {
                    finish();
                } else {
                    finish(`Program exited with non-zero exit code: ${code ?? -1}`);
                }
            });
        })();
    }

    /** Dependencies are the repository's business (`npm ci`); this host reports success without installing. */
    private installDependencies(call: grpc.ServerWritableStream<any, any>): void {
        const dir = programInfo(call.request.getInfo()).dir;
        call.write(
            new languagePb.InstallDependenciesResponse().setStdout(
                Buffer.from(`Dependencies are not installed by this language host; run \`npm ci\` in ${dir}.\n`),
            ),
        );
        call.end();
    }

    private about(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
        const info = programInfo(call.request.getInfo());
        let pm: string;
        try {
            pm = resolvePackageManager(parseOptions(info.options).packagemanager, info.dir);
        } catch (err) {
            cb(grpcError(`failed to parse options: ${(err as Error).message}`), null);
            return;
        }
        const node = lookPath("node");
        if (!node) {
            cb(grpcError('could not find executable "node"'), null);
            return;
        }
        // Both versions are asked for at once, as upstream does (errgroup); a failure leaves the version empty.
        const version = (cmd: string) =>
            new Promise<string>((resolve) =>
                execFile(cmd, ["--version"], { timeout: 10000 }, (err, out) => resolve(err ? "" : String(out).trim())),
            );
        void Promise.all([version(node), version(pm)]).then(([nodeVersion, pmVersion]) => {
            const res = new languagePb.AboutResponse().setExecutable(node).setVersion(nodeVersion);
            res.getMetadataMap().set("packagemanager", pm);
            res.getMetadataMap().set("packagemanagerVersion", pmVersion.replace(/^v/, ""));
            cb(null, res);
        });
    }

    /** Direct dependencies from package.json with their installed versions (upstream asks the package manager). */
    private getProgramDependencies(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
        const dir = programInfo(call.request.getInfo()).dir;
        try {
            const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
            const names = Object.keys({ ...(manifest.dependencies ?? {}), ...(manifest.devDependencies ?? {}) }).sort();
            const deps = names.map((name) => {
                let version = "";
                try {
                    version = JSON.parse(
                        fs.readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8"),
                    ).version;
                } catch {
                    version = "";
                }
                return new languagePb.DependencyInfo().setName(name).setVersion(version);
            });
            cb(null, new languagePb.GetProgramDependenciesResponse().setDependenciesList(deps));
        } catch (err) {
            cb(grpcError(`failed to get node dependencies: ${(err as Error).message}`), null);
        }
    }
}

/** The package manager `auto` stands for, from the lock file next to the program (npm when there is none). */
export function resolvePackageManager(pm: string, dir: string): string {
    if (pm !== "auto") {
        return pm;
    }
    const locks: [string, string][] = [
        ["bun.lockb", "bun"],
        ["bun.lock", "bun"],
        ["pnpm-lock.yaml", "pnpm"],
        ["yarn.lock", "yarn"],
    ];
    for (const [file, name] of locks) {
        if (fs.existsSync(path.join(dir, file))) {
            return name;
        }
    }
    return "npm";
}

function interruptThenKill(child: ChildProcess): void {
    if (child.exitCode !== null || child.signalCode !== null) {
        return;
    }
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), killDelayMs);
    timer.unref();
    child.once("exit", () => clearTimeout(timer));
}

export { grpcMessageLimits };
