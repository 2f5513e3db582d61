/**
 * Helpers for contract specs that run a container's rendered command line as a local process:
 * Kubernetes `$(VAR)` expansion, process lifecycle with captured logs, HTTP readiness.
 */
import { spawn } from "child_process";
import * as net from "net";
import * as os from "os";

/** Exit status and whole output of a command run to completion. */
export interface CapturedRun {
    code: number | null;
    stdout: string;
    stderr: string;
}

/**
 * Runs a command to completion with only PATH, a temporary HOME and `env` in its environment
 * (nothing else of this machine leaks in), capturing stdout and stderr; SIGKILL after `timeoutMs`.
 */
export function runCaptured(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs: number }): Promise<CapturedRun> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { cwd: opts.cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir(), ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

/** The part of a Kubernetes container spec a contract spec executes. */
export interface RenderedContainer {
    /** Replaces the image ENTRYPOINT (`command` in the pod spec). */
    command: string[];
    /** Replaces the image CMD (`args` in the pod spec). */
    args: string[];
    /**
     * Container environment in declaration order; values may reference variables declared
     * before them as `$(NAME)` (and `$$(NAME)` for a literal `$(NAME)`), as in a pod spec.
     */
    env: Record<string, string>;
}

/**
 * Kubernetes variable expansion, as the kubelet applies it to `command`, `args` and `env`
 * values: `$(NAME)` becomes the value of NAME when NAME is defined and is left as written
 * otherwise; `$$` becomes a single `$` (so `$$(NAME)` yields the literal `$(NAME)`); any other
 * `$` is kept. An unterminated `$(` is kept as written.
 * https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/
 */
export function expandK8sVars(s: string, env: Record<string, string>): string {
    let out = "";
    let i = 0;
    while (i < s.length) {
        const c = s[i];
        if (c !== "$" || i + 1 >= s.length) {
            out += c;
            i += 1;
            continue;
        }
        const next = s[i + 1];
        if (next === "$") {
            out += "$";
            i += 2;
        } else if (next === "(") {
            const close = s.indexOf(")", i + 2);
            if (close < 0) {
                out += "$(";
                i += 2;
                continue;
            }
            const name = s.slice(i + 2, close);
            out += Object.prototype.hasOwnProperty.call(env, name) ? env[name] : `$(${name})`;
            i = close + 1;
        } else {
            out += "$" + next;
            i += 2;
        }
    }
    return out;
}

/**
 * What the kubelet would execute: env values expanded in declaration order (each sees only the
 * variables declared before it), then command and args expanded against the resulting env.
 */
export function resolveContainer(container: RenderedContainer): RenderedContainer {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(container.env)) {
        env[name] = expandK8sVars(value, env);
    }
    return {
        command: container.command.map((s) => expandK8sVars(s, env)),
        args: container.args.map((s) => expandK8sVars(s, env)),
        env,
    };
}

export interface StartProcessOptions extends RenderedContainer {
    cwd?: string;
    /** Expand `$(VAR)` like the kubelet before spawning (default true). */
    expand?: boolean;
    /**
     * Extra variables from the host (e.g. PATH, HOME) placed *before* `env`, so rendered values
     * win. Default: PATH, HOME, LANG, TMPDIR of this process only, so that stray AWS_* or
     * MLFLOW_* variables of the machine cannot leak into the contract.
     */
    baseEnv?: Record<string, string>;
    /** Label used in error messages and logs; default the executable's name. */
    name?: string;
    /** Bytes of stdout+stderr kept in memory (oldest dropped); default 2 MiB. */
    maxLogBytes?: number;
}

export interface ExitStatus {
    code: number | null;
    signal: NodeJS.Signals | null;
}

export interface ProcessHandle {
    readonly name: string;
    readonly pid: number;
    /** The command line actually executed (after expansion). */
    readonly argv: string[];
    /** Interleaved stdout and stderr so far. */
    logs(): string;
    stdout(): string;
    stderr(): string;
    /** The exit status once the process has ended, else undefined. */
    exitStatus(): ExitStatus | undefined;
    /** Resolves when the process ends (never rejects). */
    readonly exited: Promise<ExitStatus>;
    /** SIGTERM to the process group, SIGKILL after `graceMs` (default 10 s). */
    stop(graceMs?: number): Promise<ExitStatus>;
}

const live = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
    try {
        process.kill(-pid, signal);
    } catch {
        // already gone
    }
}

/**
 * Spawns `command[0] ...command[1:] ...args` in its own process group (servers such as uvicorn
 * fork workers; stop() ends them all) with exactly the given environment.
 */
export function startProcess(opts: StartProcessOptions): ProcessHandle {
    const resolved = opts.expand === false ? opts : resolveContainer(opts);
    const argv = [...resolved.command, ...resolved.args];
    if (argv.length === 0) {
        throw new Error("startProcess: empty command and args");
    }
    const name = opts.name ?? argv[0].split("/").pop() ?? argv[0];
    const base: Record<string, string> = opts.baseEnv ?? pickEnv(["PATH", "HOME", "LANG", "TMPDIR"]);
    const child = spawn(argv[0], argv.slice(1), {
        cwd: opts.cwd,
        env: { ...base, ...resolved.env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
    });

    const maxLogBytes = opts.maxLogBytes ?? 2 * 1024 * 1024;
    const all: string[] = [];
    const out: string[] = [];
    const err: string[] = [];
    let size = 0;
    const record = (target: string[], chunk: Buffer): void => {
        const text = chunk.toString("utf8");
        target.push(text);
        all.push(text);
        size += text.length;
        while (size > maxLogBytes && all.length > 1) {
            size -= all.shift()!.length;
        }
    };
    child.stdout!.on("data", (c: Buffer) => record(out, c));
    child.stderr!.on("data", (c: Buffer) => record(err, c));

    let status: ExitStatus | undefined;
    const exited = new Promise<ExitStatus>((resolve) => {
        child.on("error", (e) => {
            all.push(`[startProcess] ${name}: ${e.message}\n`);
            err.push(`[startProcess] ${name}: ${e.message}\n`);
            status = { code: 127, signal: null };
            resolve(status);
        });
        // "close" fires after stdio is drained, so logs are complete when this resolves.
        child.on("close", (code, signal) => {
            status ??= { code, signal };
            if (child.pid !== undefined) {
                live.delete(child.pid);
            }
            resolve(status);
        });
    });

    const pid = child.pid ?? -1;
    if (pid > 0) {
        live.add(pid);
        if (!exitHookInstalled) {
            exitHookInstalled = true;
            process.on("exit", () => live.forEach((p) => killGroup(p, "SIGKILL")));
        }
    }

    return {
        name,
        pid,
        argv,
        logs: () => all.join(""),
        stdout: () => out.join(""),
        stderr: () => err.join(""),
        exitStatus: () => status,
        exited,
        async stop(graceMs = 10_000): Promise<ExitStatus> {
            if (status || pid <= 0) {
                return exited;
            }
            killGroup(pid, "SIGTERM");
            const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
            const result = await exited;
            clearTimeout(timer);
            // Workers that ignored the group SIGTERM must not outlive the test.
            killGroup(pid, "SIGKILL");
            return result;
        },
    };
}

function pickEnv(names: string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const n of names) {
        const v = process.env[n];
        if (v !== undefined) {
            out[n] = v;
        }
    }
    return out;
}

export interface WaitForHttpOptions {
    /** Accepts the response when this returns true; default: status 200-399. */
    accept?: (status: number) => boolean;
    /** Poll interval; default 250 ms. */
    intervalMs?: number;
    /** Fail at once (with its logs) if this process ends while waiting. */
    process?: ProcessHandle;
    headers?: Record<string, string>;
}

/** Polls `url` until it answers acceptably or `timeoutMs` passes; the error says what was seen last. */
export async function waitForHttp(url: string, timeoutMs: number, opts: WaitForHttpOptions = {}): Promise<void> {
    const accept = opts.accept ?? ((s: number) => s >= 200 && s < 400);
    const deadline = Date.now() + timeoutMs;
    let last = "no attempt";
    for (;;) {
        const proc = opts.process;
        const ended = proc?.exitStatus();
        if (proc && ended) {
            throw new Error(
                `${proc.name} exited (code ${ended.code}, signal ${ended.signal}) before ${url} was ready; ` +
                    `last lines:\n${tail(proc.logs(), 40)}`,
            );
        }
        const remaining = deadline - Date.now();
        try {
            const res = await fetch(url, {
                headers: opts.headers,
                signal: AbortSignal.timeout(Math.max(100, Math.min(5_000, remaining))),
            });
            await res.arrayBuffer();
            if (accept(res.status)) {
                return;
            }
            last = `HTTP ${res.status}`;
        } catch (e) {
            const err = e as Error & { cause?: { code?: string } };
            last = err.cause?.code ?? err.message;
        }
        if (Date.now() + (opts.intervalMs ?? 250) > deadline) {
            const logs = proc ? `; ${proc.name} last lines:\n${tail(proc.logs(), 40)}` : "";
            throw new Error(`${url} not ready after ${timeoutMs} ms (last: ${last})${logs}`);
        }
        await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
    }
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines: number): string {
    return text.split("\n").slice(-lines - 1).join("\n");
}
