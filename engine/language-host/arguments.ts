/**
 * Command lines and environment for the Node.js processes the host launches, built as upstream
 * `pulumi-language-nodejs` v3.248.0 builds them (`constructArguments`, `constructConfig`, `constructConfigSecretKeys`,
 * and the argument/env handling in `execRuntime` and `RunPlugin`). Pure functions, so each rule has a unit test.
 */
import { split as shellSplit } from "shlex";
import { NodeOptions } from "./options";

/** What `Run` needs from a RunRequest (decoupled from the protobuf class so it can be tested directly). */
export interface RunSpec {
    /** Address the program's SDK connects to as its resource monitor. */
    monitorAddress: string;
    /** Engine address (from the plugin's positional argument or Handshake). */
    engineAddress: string;
    organization: string;
    project: string;
    stack: string;
    /** ProgramInfo.root_directory: where Pulumi.yaml is. */
    rootDirectory: string;
    /** ProgramInfo.program_directory: becomes `--pwd` (not RunRequest.pwd, as upstream). */
    programDirectory: string;
    /** ProgramInfo.entry_point: `main` relative to the program directory, "." when unset. */
    entryPoint: string;
    dryRun: boolean;
    parallel: number;
    /** The host's own `--tracing` flag value, forwarded. */
    tracing: string;
    /** RunRequest.args: extra program arguments, after the entry point. */
    args: string[];
}

/**
 * Arguments after `node [nodeargs...]`: the resolved `@pulumi/pulumi/cmd/run` path, then
 * `--monitor --engine --organization --project --root-directory --stack --pwd [--dry-run] --parallel [--tracing]`
 * (each flag only when its value is non-empty; `--parallel` is always present since it is a number), the entry point,
 * then the request's args. Upstream also passes `--sync <dir>` for synchronous invokes; the 3.248 SDK never reads
 * those pipes (`tryGetSyncInvokes` has no caller), so this host creates none.
 */
export function runArguments(runPath: string, spec: RunSpec): string[] {
    const args = [runPath];
    const maybe = (k: string, v: string) => {
        if (v !== "") {
            args.push(`--${k}`, v);
        }
    };
    maybe("monitor", spec.monitorAddress);
    maybe("engine", spec.engineAddress);
    maybe("organization", spec.organization);
    maybe("project", spec.project);
    maybe("root-directory", spec.rootDirectory);
    maybe("stack", spec.stack);
    maybe("pwd", spec.programDirectory);
    if (spec.dryRun) {
        args.push("--dry-run");
    }
    maybe("parallel", String(spec.parallel));
    maybe("tracing", spec.tracing);
    args.push(spec.entryPoint);
    args.push(...spec.args);
    return args;
}

/** `nodeargs` split like a shell (upstream uses google/shlex); throws on unbalanced quotes. */
export function splitNodeArgs(nodeargs: string): string[] {
    return nodeargs.trim() === "" ? [] : shellSplit(nodeargs);
}

/**
 * PULUMI_CONFIG: the config map as JSON with every key rewritten from `<ns>:<name>` to the legacy `<ns>:config:<name>`
 * form (older SDKs only understand that form; 3.248 understands both). Keys are sorted, as Go's encoding/json does.
 * Throws, like upstream's config.ParseKey, on a key that is neither `<ns>:<name>` nor `<ns>:config:<name>`.
 */
export function configJson(config: Map<string, string> | Record<string, string>): string {
    const entries = config instanceof Map ? [...config.entries()] : Object.entries(config);
    const out: Record<string, string> = {};
    for (const [k, v] of entries) {
        const { namespace, name } = parseConfigKey(k);
        out[`${namespace}:config:${name}`] = v;
    }
    return JSON.stringify(Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** PULUMI_CONFIG_SECRET_KEYS: the secret keys as given (not rewritten), as a JSON array. */
export function configSecretKeysJson(keys: string[]): string {
    return JSON.stringify(keys);
}

/** Upstream config.ParseKey. */
export function parseConfigKey(key: string): { namespace: string; name: string } {
    const parts = key.split(":");
    if (parts.length === 2) {
        return { namespace: parts[0], name: parts[1] };
    }
    if (parts.length === 3 && parts[1] === "config" && parts[0] !== "" && parts[2] !== "") {
        return { namespace: parts[0], name: parts[2] };
    }
    throw new Error(
        `could not parse ${key} as a configuration key (configuration keys should be of the form \`<namespace>:<name>\`)`,
    );
}

/** Variables the host adds for the program / plugin process from the runtime options. */
export function typescriptEnv(opts: NodeOptions): Record<string, string> {
    const env: Record<string, string> = {};
    if (opts.typescript) {
        env.PULUMI_NODEJS_TYPESCRIPT = "true";
    }
    if (opts.tsconfigpath !== "") {
        env.PULUMI_NODEJS_TSCONFIG_PATH = opts.tsconfigpath;
    }
    return env;
}

/**
 * Arguments for a plugin launched through RunPlugin (upstream order, nodeargs *after* the script path):
 * analyzer (policy pack): `run-policy-pack [nodeargs...] [request args...] <program dir>`;
 * other kinds:           `run-plugin [nodeargs...] <program dir> [request args...]`.
 */
export function pluginArguments(
    kind: string,
    runPath: string,
    nodeArgs: string[],
    requestArgs: string[],
    programDirectory: string,
): string[] {
    return kind === "analyzer"
        ? [runPath, ...nodeArgs, ...requestArgs, programDirectory]
        : [runPath, ...nodeArgs, programDirectory, ...requestArgs];
}

/**
 * Stack context a policy pack learns from the engine's ConfigureStack call, handed to the pack's process as the
 * environment the Node.js policy SDK reads (upstream PolicyProxy + RunPlugin). Only non-empty values are set;
 * PULUMI_NODEJS_DRY_RUN is always "true" or "false".
 */
export function policyPackEnv(cfg: {
    organization: string;
    project: string;
    stack: string;
    dryRun: boolean;
    config?: Map<string, string>;
}): Record<string, string> {
    const env: Record<string, string> = {};
    const maybe = (k: string, v: string) => {
        if (v !== "") {
            env[k] = v;
        }
    };
    maybe("PULUMI_NODEJS_ORGANIZATION", cfg.organization);
    maybe("PULUMI_NODEJS_PROJECT", cfg.project);
    maybe("PULUMI_NODEJS_STACK", cfg.stack);
    maybe("PULUMI_NODEJS_DRY_RUN", String(cfg.dryRun));
    if (cfg.config) {
        // Go marshals the map with sorted keys and without rewriting them.
        const sorted = [...cfg.config.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        maybe("PULUMI_CONFIG", JSON.stringify(Object.fromEntries(sorted)));
    }
    return env;
}

/** Turns a `KEY=value` list into an object; a later entry for the same key wins (as Go's exec does). */
export function envListToObject(list: string[]): Record<string, string> {
    const env: Record<string, string> = {};
    for (const kv of list) {
        const i = kv.indexOf("=");
        if (i > 0) {
            env[kv.slice(0, i)] = kv.slice(i + 1);
        }
    }
    return env;
}
