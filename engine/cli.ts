/**
 * Running the real Pulumi CLI in isolation, for the engine-tier tests (and anything else that drives `pulumi`):
 *
 *   const env = engineEnv({ home, backendDir });            // isolated PULUMI_HOME, file backend, passphrase secrets,
 *                                                           // this checkout's language host
 *   await runPulumi(["login", `file://${backendDir}`], { cwd, env, timeoutMs: 60_000 });
 *   const r = await runPulumi(["preview", "--stack", "dev"], { cwd, env, timeoutMs: 300_000 });
 *   // r.code, r.stdout, r.stderr, r.durationMs, r.timedOut
 *
 * Every call has a timeout; on expiry the CLI's whole process group (the CLI, its language host, the program and any
 * plugins) gets SIGTERM, then SIGKILL 5 s later, so a hung `pulumi up` ends the test with its output instead of
 * hanging it.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The Pulumi CLI version the engine tier runs: the same as @pulumi/pulumi in package-lock.json. */
export const PULUMI_VERSION = "v3.248.0";

/** Repository root (this file compiles to dist/engine/cli.js). */
export const repoRoot = path.resolve(__dirname, "..", "..");

/** engine/bin: holds `pulumi-language-nodejs`, this repository's language host. */
export const engineBinDir = path.join(repoRoot, "engine", "bin");

/** This checkout's language host executable. */
export const languageHostPath = path.join(engineBinDir, "pulumi-language-nodejs");

/**
 * Where engine/build-cli.sh caches the CLI: `$MLOPS_ENGINE_CACHE` (default ~/.cache/mlops-platform/engine)
 * `/pulumi-<version>/bin/pulumi`. `$PULUMI_CLI` overrides the whole path.
 */
export function cliPath(): string {
    if (process.env.PULUMI_CLI) {
        return process.env.PULUMI_CLI;
    }
    const cache = process.env.MLOPS_ENGINE_CACHE || path.join(os.homedir(), ".cache", "mlops-platform", "engine");
    return path.join(cache, `pulumi-${PULUMI_VERSION}`, "bin", "pulumi");
}

/** Whether the CLI binary exists and is executable. */
export function cliAvailable(cli = cliPath()): boolean {
    try {
        fs.accessSync(cli, fs.constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

export interface EngineEnvOptions {
    /** PULUMI_HOME: plugin cache, credentials, workspace settings. A fresh temp dir per test run. */
    home: string;
    /** Directory of the local file backend (PULUMI_BACKEND_URL=file://<dir>). */
    backendDir: string;
    /** Passphrase for the passphrase secrets provider. Default: "engine-tier-passphrase". */
    passphrase?: string;
    /** Directories put first on PATH, before engine/bin (e.g. mock provider plugin folders). */
    extraPath?: string[];
    /** Variables added last (they win). */
    extra?: Record<string, string>;
    /**
     * How the CLI finds this checkout's language host:
     * - "bundled": through the shim engine/build-cli.sh puts next to the pulumi binary (where the CLI looks for its
     *   bundled language hosts), which runs `$MLOPS_LANGUAGE_HOST`; no "using pulumi-language-nodejs from $PATH"
     *   warning in the output;
     * - "path": engine/bin first on PATH; the CLI uses it as an ambient plugin and warns about it in every run.
     * Default: "bundled" when the shim exists next to the CLI, else "path".
     */
    languageHost?: "bundled" | "path";
}

/** Whether engine/build-cli.sh's language-host shim sits next to the CLI binary. */
export function bundledShimPresent(cli = cliPath()): boolean {
    return fs.existsSync(path.join(path.dirname(cli), "pulumi-language-nodejs"));
}

/**
 * The environment for an isolated, offline CLI run: the caller's environment without any PULUMI_* variable (so a
 * developer's token, backend or passphrase file cannot leak in), plus
 * PULUMI_HOME, PULUMI_BACKEND_URL=file://…, PULUMI_CONFIG_PASSPHRASE, PULUMI_SKIP_UPDATE_CHECK=true,
 * PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true (a missing plugin fails at once instead of downloading),
 * PULUMI_DISABLE_REGISTRY_RESOLVE=true, PULUMI_SKIP_CONFIRMATIONS=true, PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true,
 * NO_COLOR=1, MLOPS_LANGUAGE_HOST=<this checkout>/engine/bin/pulumi-language-nodejs (read by the bundled shim), and
 * PATH = extraPath + (engine/bin in "path" mode) + the CLI's directory + the caller's PATH.
 * PULUMI_IGNORE_AMBIENT_PLUGINS is deliberately not set: mock providers (extraPath) are found on PATH.
 */
export function engineEnv(opts: EngineEnvOptions): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith("PULUMI_")) {
            env[k] = v;
        }
    }
    const mode = opts.languageHost ?? (bundledShimPresent() ? "bundled" : "path");
    const pathDirs = [
        ...(opts.extraPath ?? []),
        ...(mode === "path" ? [engineBinDir] : []),
        path.dirname(cliPath()),
        process.env.PATH ?? "",
    ];
    return {
        ...env,
        PULUMI_HOME: opts.home,
        PULUMI_BACKEND_URL: `file://${opts.backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: opts.passphrase ?? "engine-tier-passphrase",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        NO_COLOR: "1",
        MLOPS_LANGUAGE_HOST: languageHostPath,
        PATH: pathDirs.filter((d) => d !== "").join(path.delimiter),
        ...(opts.extra ?? {}),
    };
}

export interface RunOptions {
    cwd: string;
    env: NodeJS.ProcessEnv;
    /** Hard limit for the whole call; required so nothing can hang. */
    timeoutMs: number;
    /** CLI binary; default cliPath(). */
    cli?: string;
    /** Written to the CLI's stdin, which is then closed (default: stdin closed at once). */
    input?: string;
}

export interface RunResult {
    /** Exit code; null when the process was killed by a signal. */
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    durationMs: number;
    /** True when the timeout fired and the process group was killed. */
    timedOut: boolean;
}

/** Runs `pulumi <args>` in its own process group with a timeout; never rejects for a non-zero exit. */
export function runPulumi(args: string[], opts: RunOptions): Promise<RunResult> {
    const cli = opts.cli ?? cliPath();
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(cli, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let timedOut = false;
        let settled = false;
        const timers: NodeJS.Timeout[] = [];
        const killGroup = (signal: NodeJS.Signals) => {
            try {
                process.kill(-child.pid!, signal);
            } catch {
                // group already gone
            }
        };
        const finish = (code: number | null, signal: NodeJS.Signals | null) => {
            if (settled) {
                return;
            }
            settled = true;
            timers.forEach(clearTimeout);
            // Whatever the CLI left behind in its group (plugins, programs) goes too.
            killGroup("SIGKILL");
            resolve({ code, signal, stdout, stderr, durationMs: Date.now() - started, timedOut });
        };
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (err) => {
            if (!settled) {
                settled = true;
                timers.forEach(clearTimeout);
                reject(err);
            }
        });
        timers.push(
            setTimeout(() => {
                timedOut = true;
                stderr += `\n[runPulumi] timed out after ${opts.timeoutMs} ms: pulumi ${args.join(" ")}\n`;
                killGroup("SIGTERM");
                timers.push(setTimeout(() => killGroup("SIGKILL"), 5000));
            }, opts.timeoutMs),
        );
        child.on("exit", (code, signal) => {
            // Output pipes may be held open by orphaned grandchildren; do not wait for them for long.
            timers.push(setTimeout(() => finish(code, signal), 10000));
            child.on("close", () => finish(code, signal));
        });
        if (opts.input !== undefined) {
            child.stdin.end(opts.input);
        } else {
            child.stdin.end();
        }
    });
}
