// The release rules: what the gating policy pack enforces on serving releases, as pure functions.
// The pack (policies/gating) runs them on the annotations of the Deployments a plan records; the CLI
// (`mlops release`, `mlops gate --write`) runs them on the releases a stack file would serve, through
// the same annotations ServingStack writes, before it writes anything. One rule set, one message.
import { ANNOTATIONS, GateStatus, ParsedRelease } from "./annotations";
import { DEFAULT_GATE_CONFIG, evaluateRelease, evaluateSignificance, MetricThresholds, releaseSubjects, validateThresholds, GateConfigError, verdictFailures } from "./gate";

/** Names of the gating pack's release policies (the keys of policies/config/<stack>.json). */
export const POLICY = {
    thresholds: "model-gate-thresholds",
    significance: "model-significance",
    approval: "model-approval-required",
    immutableRef: "model-ref-immutable",
    canaryWeight: "canary-weight-limit",
    blueGreenSwitch: "blue-green-switch-gated",
} as const;

/** Glob match where `*` matches any run of characters (the policy config's pattern syntax). */
export function globMatch(pattern: string, value: string): boolean {
    const re = "^" + pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$";
    return new RegExp(re).test(value);
}

/** `credit-risk v4 (canary)`: how a release is named in every rule message. */
export function releaseLabel(parsed: ParsedRelease): string {
    const rel = parsed.release;
    return `${rel.model} v${rel.version || "?"}${parsed.track ? ` (${parsed.track})` : ""}`;
}

// ---------------------------------------------------------------------------------------------
// model-gate-thresholds
// ---------------------------------------------------------------------------------------------

export interface ThresholdsRuleConfig {
    /** Tracks whose releases are gated. */
    tracks: string[];
    /** A release without a baseline on any track (not only stable/blue/green) is a first release. */
    allowMissingBaseline: boolean;
}

export const THRESHOLDS_RULE_DEFAULTS: ThresholdsRuleConfig = {
    tracks: ["stable", "canary", "blue", "green"],
    allowMissingBaseline: false,
};

/**
 * The release re-checked against the thresholds its verdict was computed with: the stack's
 * serving.thresholds, recorded by the program in the `gate-thresholds` annotation (the stack file is
 * the one threshold source; the pack config holds no thresholds). A release without that annotation
 * (written by another tool) is held to the program's default, F1 +2 % relative. And the program's
 * verdict (the `gate` annotation) must not be `fail`.
 */
export function thresholdsRule(parsed: ParsedRelease, config: ThresholdsRuleConfig): string[] {
    if (parsed.track && !config.tracks.includes(parsed.track)) return [];
    let thresholds: MetricThresholds;
    try {
        thresholds = parsed.gateThresholds === undefined ? DEFAULT_GATE_CONFIG.thresholds : validateThresholds(parsed.gateThresholds, ANNOTATIONS.gateThresholds);
    } catch (e) {
        return [`recorded thresholds are invalid: ${e instanceof GateConfigError ? e.message : String(e)}`];
    }
    const rel = parsed.release;
    const track = !rel.baseline && config.allowMissingBaseline ? "stable" : parsed.track;
    const failures = verdictFailures(evaluateRelease(rel, { thresholds }, track));
    if (failures.length) {
        const claim = parsed.gate === "pass" ? " (annotated gate=pass contradicts the thresholds)" : "";
        return [`fails the gate${claim}: ${failures.join("; ")}`];
    }
    if (parsed.gate === "fail") return [`is annotated ${ANNOTATIONS.gate}=fail`];
    return [];
}

// ---------------------------------------------------------------------------------------------
// model-significance
// ---------------------------------------------------------------------------------------------

export interface SignificanceRuleConfig {
    alpha: number;
    metrics: string[];
    lowerIsBetter: string[];
    requireSamples: boolean;
}

export const SIGNIFICANCE_RULE_DEFAULTS: SignificanceRuleConfig = { alpha: 0.05, metrics: ["f1"], lowerIsBetter: [], requireSamples: false };

export function significanceRule(parsed: ParsedRelease, config: SignificanceRuleConfig): string[] {
    const { candidate, baseline } = releaseSubjects(parsed.release);
    if (!baseline && !config.requireSamples) return []; // first release: nothing to compare with
    const directions: MetricThresholds = Object.fromEntries(config.metrics.map((m) => [m, { greaterIsBetter: !config.lowerIsBetter.includes(m) }]));
    const result = evaluateSignificance(candidate, baseline, directions, {
        alpha: config.alpha,
        metrics: config.metrics,
        requireSamples: config.requireSamples,
    });
    if (result.passed) return [];
    if (result.skipped) return [`significance cannot be tested: ${result.skipped}`];
    return [`improvement is not significant at alpha ${config.alpha}: ${result.tests.filter((t) => !t.passed).map((t) => t.message).join("; ")}`];
}

// ---------------------------------------------------------------------------------------------
// model-approval-required
// ---------------------------------------------------------------------------------------------

export interface ApprovalRuleConfig {
    requireApproval: boolean;
    approvers: string[];
}

export const APPROVAL_RULE_DEFAULTS: ApprovalRuleConfig = { requireApproval: false, approvers: [] };

export function approvalRule(parsed: ParsedRelease, config: ApprovalRuleConfig): string[] {
    const who = parsed.release.approvedBy;
    if (config.requireApproval && !who) return [`has no ${ANNOTATIONS.approvedBy} annotation; approval is required in this stack`];
    if (who && config.approvers.length && !config.approvers.some((p) => globMatch(p, who))) return [`approved by '${who}', who is not in the approvers list`];
    return [];
}

// ---------------------------------------------------------------------------------------------
// model-ref-immutable
// ---------------------------------------------------------------------------------------------

const MODELS_URI_RE = /^models:\/([^/@]+)\/(\d+)$/;
const DIGEST_RE = /@sha256:[a-f0-9]{64}$/;

/** Why a model URI is not immutable, or undefined when it is. */
export function mutableModelRefReason(uri: string): string | undefined {
    if (MODELS_URI_RE.test(uri) || DIGEST_RE.test(uri)) return undefined;
    const m = /^models:\/([^/@]+)(?:\/([^/]+)|@(.+))$/.exec(uri);
    if (m?.[3] !== undefined) return `'${uri}' names the alias '@${m[3]}', which can be moved to another version`;
    if (m?.[2] !== undefined) {
        return m[2].toLowerCase() === "latest"
            ? `'${uri}' resolves 'latest', which changes with every registration`
            : `'${uri}' names the stage '${m[2]}', which can point to another version`;
    }
    return `'${uri}' is neither models:/<name>/<version> nor pinned by @sha256 digest`;
}

export function immutableRefRule(parsed: ParsedRelease): string[] {
    const rel = parsed.release;
    if (!rel.modelUri) return []; // reported as malformed by model-gate-thresholds
    const reason = mutableModelRefReason(rel.modelUri);
    if (reason) return [`model reference is mutable: ${reason}`];
    const m = MODELS_URI_RE.exec(rel.modelUri);
    if (m && (m[1] !== rel.model || m[2] !== rel.version)) {
        return [`model-uri '${rel.modelUri}' does not match the annotated model '${rel.model}' version '${rel.version}'`];
    }
    return [];
}

// ---------------------------------------------------------------------------------------------
// canary-weight-limit and blue-green-switch-gated
// ---------------------------------------------------------------------------------------------

export interface CanaryWeightRuleConfig {
    canaryMaxWeight: number;
    limitedTracks: string[];
}

export const CANARY_WEIGHT_RULE_DEFAULTS: CanaryWeightRuleConfig = { canaryMaxWeight: 10, limitedTracks: ["canary"] };

/**
 * A release on a limited track receiving `percent` % of traffic via `via`: the violation message,
 * or undefined. `gate` is `(not literal)` when the annotation was computed from an output.
 */
export function canaryWeightRule(
    what: string,
    parsed: ParsedRelease,
    percent: number,
    via: string,
    config: CanaryWeightRuleConfig,
    nonLiteral = false,
): string | undefined {
    if (!parsed.track || !config.limitedTracks.includes(parsed.track)) return undefined;
    if (!(percent > config.canaryMaxWeight + 1e-9) || (parsed.gate === "pass" && !nonLiteral)) return undefined;
    return (
        `${what}: ${parsed.track} release ${parsed.release.model} v${parsed.release.version} ` +
        `(${ANNOTATIONS.gate}=${nonLiteral ? "(not literal)" : parsed.gate}) receives ` +
        `${Number(percent.toFixed(2))}% of traffic via ${via}; at most ${config.canaryMaxWeight}% before the gate passes`
    );
}

export interface BlueGreenRuleConfig {
    previewServices: string[];
    slotTracks: string[];
}

export const BLUE_GREEN_RULE_DEFAULTS: BlueGreenRuleConfig = { previewServices: ["*-preview"], slotTracks: ["blue", "green"] };

/** A Service (`service`, described) sending traffic to a slot workload (`what`): the violation, or undefined. */
export function blueGreenSwitchRule(service: string, what: string, parsed: ParsedRelease, config: BlueGreenRuleConfig, nonLiteral = false): string | undefined {
    if (!parsed.track || !config.slotTracks.includes(parsed.track)) return undefined;
    if (parsed.gate === "pass" && !nonLiteral && parsed.problems.length === 0) return undefined;
    const state: string = nonLiteral ? "not literal" : parsed.problems.length ? "malformed" : `${ANNOTATIONS.gate}=${parsed.gate as GateStatus}`;
    return (
        `${service} sends traffic to slot '${parsed.track}' (${what}) whose release ` +
        `${parsed.release.model} v${parsed.release.version} is ${state}; switch only to a gated slot`
    );
}
