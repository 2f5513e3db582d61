// What `mlops gate`, `mlops release` and `mlops plan` read about a stack, from one place: the stack
// file (Pulumi.<stack>.yaml), its serving block, and the gating policy configuration the pack runs
// with (policies/config/<pack>.<stack>.json, or the environment's defaults when the stack has none).
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { checkServedTracks, RuleViolation } from "../release-contract/check";
import { parseServingConfig, SERVING_CONFIG_KEY, ServingConfig, servedTracks } from "../components/servingConfig";
import { listStacks } from "../offline-plan/stack-config";
import { loadPolicyConfig, PackName, PolicyPackConfig } from "../offline-plan/policy-runner";

/** A usage or input error of a stack command; the message says what to do. */
export class StackFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

export const ENVIRONMENT_KEY = "mlops-platform:environment";

/**
 * The policy configuration an environment falls back to when a stack has no file of its own
 * (staging takes dev's: the program's staging defaults are not production-grade, e.g. single-AZ database).
 */
export const ENVIRONMENT_POLICY_DEFAULTS: Record<string, string> = { dev: "dev", staging: "dev", prod: "prod" };

/** `Pulumi.<stack>.yaml` under root; refuses an unknown stack, listing the known ones. */
export function stackFilePath(root: string, stack: string): { file: string; full: string } {
    const file = `Pulumi.${stack}.yaml`;
    const full = path.join(root, file);
    if (!fs.existsSync(full)) {
        throw new StackFileError(`no stack named '${stack}': ${file} does not exist in ${root}; stacks: ${listStacks(root).join(", ") || "(none)"}`);
    }
    return { file, full };
}

/** The `config:` mapping of a stack file's text, as data ({} when empty). */
export function stackConfigValues(text: string, file: string): Record<string, unknown> {
    const doc = YAML.parseDocument(text);
    if (doc.errors.length) {
        const e = doc.errors[0];
        throw new StackFileError(`${file} is not valid YAML${e.linePos ? ` at line ${e.linePos[0].line}` : ""}: ${e.message.split("\n")[0]}`);
    }
    const data = doc.toJS() as any;
    const config = data?.config;
    return config && typeof config === "object" && !Array.isArray(config) ? config : {};
}

/** The serving block's raw value (under `mlops-platform:serving` or the project-less `serving`). */
export function rawServing(config: Record<string, unknown>): unknown {
    return config[SERVING_CONFIG_KEY] ?? config[SERVING_CONFIG_KEY.split(":")[1]];
}

/** The validated serving config of a stack file, or undefined when it has none. */
export function servingOf(config: Record<string, unknown>, file: string): ServingConfig | undefined {
    const raw = rawServing(config);
    if (raw === undefined || raw === null) return undefined;
    try {
        return parseServingConfig(raw);
    } catch (e: any) {
        throw new StackFileError(`${file}: ${String(e?.message ?? e).replace(/^Invalid [^\n]*\n/, "")}`);
    }
}

export interface ResolvedPolicyConfig {
    config: PolicyPackConfig;
    /** The file read, relative to root, or undefined when none exists (the pack's own defaults). */
    source?: string;
    /** Set when the stack has no file of its own and the environment's defaults are used. */
    notice?: string;
}

/**
 * The policy configuration a pack runs with for a stack: `policies/config/<pack>.<stack>.json`
 * when it exists, else the environment's (`ENVIRONMENT_POLICY_DEFAULTS`), with a notice saying so.
 */
export function resolvePolicyConfig(root: string, stack: string, pack: PackName, environment: unknown): ResolvedPolicyConfig {
    const own = path.join("policies", "config", `${pack}.${stack}.json`);
    if (fs.existsSync(path.join(root, own))) {
        return { config: loadPolicyConfig(root, stack, pack), source: own };
    }
    const fallback = typeof environment === "string" ? ENVIRONMENT_POLICY_DEFAULTS[environment] : undefined;
    const envFile = fallback ? path.join("policies", "config", `${pack}.${fallback}.json`) : undefined;
    if (fallback && fs.existsSync(path.join(root, envFile!))) {
        return {
            config: loadPolicyConfig(root, fallback, pack),
            source: envFile,
            notice:
                `${own} does not exist: the ${pack} pack uses the ${environment} environment's defaults (${envFile}). ` +
                `Add policies/config/${stack}.json and run \`npm run gen:config\` to configure stack '${stack}' itself.`,
        };
    }
    return {
        config: {},
        notice: `${own} does not exist and environment ${JSON.stringify(environment)} has no defaults: the ${pack} pack runs with its built-in defaults.`,
    };
}

/**
 * Refuses a serving config the gating pack would reject: every mandatory violation of the pack's
 * release and rollout rules, with the pack's own messages. Returns advisory ones as notes.
 */
export function enforceGatingRules(cfg: ServingConfig, policy: PolicyPackConfig, file: string, what: string): string[] {
    const violations: RuleViolation[] = checkServedTracks(servedTracks(cfg), cfg.gate, policy as Record<string, unknown>);
    const mandatory = violations.filter((v) => v.level === "mandatory");
    if (mandatory.length) {
        throw new StackFileError(
            `refused: ${what} would be rejected by the gating policy pack (mlops plan / pulumi preview), so ${file} was not changed:\n` +
                mandatory.map((v) => `  - ${v.policy}: ${v.message}`).join("\n"),
        );
    }
    return violations.map((v) => `${v.policy} (${v.level}): ${v.message}`);
}
