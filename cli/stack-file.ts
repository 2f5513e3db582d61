// `pulumi stack init <stack>` on a self-managed backend (or with a non-default secrets provider)
// saves Pulumi.<stack>.yaml to record the secrets provider: it adds `encryptionsalt:` (passphrase)
// or `secretsprovider:` + `encryptedkey:` (cloud KMS), and in doing so re-serializes the whole file
// (quotes booleans and integers, drops blank lines, reformats flow maps). A committed stack file
// must not change beyond the lines that record the secrets provider, so the platform's own
// `stack init` keeps the committed text and adds only those lines. A file that already holds them
// is left byte-identical by the CLI itself (sdk: SaveProjectStack only when the secrets manager
// state changed).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

/** Top-level keys with which the CLI records a stack's secrets provider. */
export const SECRETS_PROVIDER_KEYS = ["secretsprovider", "encryptedkey", "encryptionsalt"] as const;

/**
 * The committed stack file with the secrets-provider lines of the CLI's rewrite added before its
 * `config:` block (or at the end when it has none); every other byte is the committed one's.
 */
export function keepCommittedStackFile(committed: string, rewritten: string): string {
    const after = (YAML.parse(rewritten) ?? {}) as Record<string, unknown>;
    const before = (YAML.parse(committed) ?? {}) as Record<string, unknown>;
    const lines: string[] = [];
    for (const key of SECRETS_PROVIDER_KEYS) {
        const value = after[key];
        if (typeof value === "string" && value !== "" && before[key] !== value) {
            if (before[key] !== undefined) {
                throw new Error(`the CLI changed '${key}' of a stack file that already had one; resolve this by hand`);
            }
            lines.push(`${key}: ${value}`);
        }
    }
    if (lines.length === 0) {
        return committed;
    }
    const m = /^config:/m.exec(committed);
    if (!m) {
        return `${committed}${committed.endsWith("\n") || committed === "" ? "" : "\n"}${lines.join("\n")}\n`;
    }
    return `${committed.slice(0, m.index)}${lines.join("\n")}\n${committed.slice(m.index)}`;
}

export interface InitStackOptions {
    /** Project folder (holds Pulumi.yaml and Pulumi.<stack>.yaml). */
    root: string;
    stack: string;
    /** `pulumi stack init --secrets-provider` (e.g. `awskms://alias/x`, `passphrase`). */
    secretsProvider?: string;
    /** The pulumi executable. Default `pulumi` from PATH. */
    pulumi?: string;
    env?: NodeJS.ProcessEnv;
    /** Seconds before the CLI call is ended. Default 120. */
    timeoutSeconds?: number;
}

/**
 * Runs `pulumi stack init` and restores the committed stack file, keeping only the lines that
 * record the secrets provider. Returns what changed in the file (empty when nothing did).
 */
export function initCommittedStack(opts: InitStackOptions): string[] {
    const file = path.join(opts.root, `Pulumi.${opts.stack}.yaml`);
    const committed = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    const args = ["stack", "init", opts.stack, ...(opts.secretsProvider ? ["--secrets-provider", opts.secretsProvider] : [])];
    const r = spawnSync(opts.pulumi ?? "pulumi", args, {
        cwd: opts.root,
        env: opts.env ?? process.env,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: (opts.timeoutSeconds ?? 120) * 1000,
        killSignal: "SIGKILL",
    });
    if (r.error || r.status !== 0) {
        // The CLI failed: put the committed file back as it was, whatever it wrote.
        if (committed !== undefined) {
            fs.writeFileSync(file, committed);
        }
        throw new Error(`pulumi ${args.join(" ")} failed${r.error ? `: ${r.error.message}` : ` (exit ${r.status})`}: ${(r.stderr || r.stdout || "").trim()}`);
    }
    if (committed === undefined) {
        return [];
    }
    const rewritten = fs.readFileSync(file, "utf8");
    const kept = keepCommittedStackFile(committed, rewritten);
    fs.writeFileSync(file, kept);
    return SECRETS_PROVIDER_KEYS.filter((k) => !committed.includes(`\n${k}:`) && !committed.startsWith(`${k}:`) && kept.includes(`${k}:`)).map((k) => `added ${k}`);
}
