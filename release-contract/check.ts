// The gating pack's rules over the releases a stack would serve, without running a plan: each
// served release becomes the annotations ServingStack writes (`trackAnnotations`), is read back the
// way the pack reads it, and goes through the same rule functions with the stack's gating policy
// configuration. `mlops release` and `mlops gate --write` run this before they write a stack file,
// so they refuse exactly what `mlops plan` / `pulumi preview` would reject, with the same message.
import { ModelRelease, parseReleaseAnnotations, ParsedRelease, releaseAnnotations, Track } from "./annotations";
import { evaluateRelease, GateConfig } from "./gate";
import {
    APPROVAL_RULE_DEFAULTS,
    approvalRule,
    BLUE_GREEN_RULE_DEFAULTS,
    blueGreenSwitchRule,
    CANARY_WEIGHT_RULE_DEFAULTS,
    canaryWeightRule,
    immutableRefRule,
    POLICY,
    releaseLabel,
    SIGNIFICANCE_RULE_DEFAULTS,
    significanceRule,
    THRESHOLDS_RULE_DEFAULTS,
    thresholdsRule,
} from "./rules";

/**
 * The annotations of a release on `track`, with the gate verdict computed from the stack's gate
 * configuration (serving.thresholds and serving.significance). ServingStack writes exactly these.
 */
export function trackAnnotations(release: ModelRelease, track: Track, gate: GateConfig): Record<string, string> {
    return releaseAnnotations(release, track, evaluateRelease(release, gate, track));
}

/** One release as the program would serve it. */
export interface ServedTrack {
    track: Track;
    release: ModelRelease;
    /** The workload, as the pack describes it: `Deployment <namespace>/<app>-<track>`. */
    workload: string;
    /** Percentage of all (non-targeted) traffic it receives. */
    percent: number;
    /** Where that share comes from (`HTTPRoute ml-serving/x rules[0]`, `Service ml-serving/x (replica ratio)`). */
    via: string;
    /** For a blue-green slot that the active Service selects: that Service, described. */
    activeService?: string;
}

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";

export interface RuleViolation {
    policy: string;
    level: EnforcementLevel;
    message: string;
}

/** A policy's level and properties from a `--policy-pack-config` object (defaults: mandatory, the pack's defaults). */
export function policySettings<T extends object>(packConfig: Record<string, unknown>, policy: string, defaults: T): { level: EnforcementLevel; config: T } {
    const raw = packConfig[policy] ?? packConfig.all;
    let level: EnforcementLevel = "mandatory";
    const config: any = { ...defaults };
    if (typeof raw === "string") {
        level = raw as EnforcementLevel;
    } else if (raw && typeof raw === "object") {
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
            if (k === "enforcementLevel") level = v as EnforcementLevel;
            else if (v !== undefined && v !== null) config[k] = v;
        }
    }
    return { level, config: config as T };
}

/**
 * Every violation the gating pack's release and rollout rules would report for these served
 * releases, with the pack's messages. Disabled policies are skipped.
 */
export function checkServedTracks(tracks: ServedTrack[], gate: GateConfig, packConfig: Record<string, unknown>): RuleViolation[] {
    const out: RuleViolation[] = [];
    const thresholds = policySettings(packConfig, POLICY.thresholds, THRESHOLDS_RULE_DEFAULTS);
    const significance = policySettings(packConfig, POLICY.significance, SIGNIFICANCE_RULE_DEFAULTS);
    const approval = policySettings(packConfig, POLICY.approval, APPROVAL_RULE_DEFAULTS);
    const immutable = policySettings(packConfig, POLICY.immutableRef, {});
    const canary = policySettings(packConfig, POLICY.canaryWeight, CANARY_WEIGHT_RULE_DEFAULTS);
    const blueGreen = policySettings(packConfig, POLICY.blueGreenSwitch, BLUE_GREEN_RULE_DEFAULTS);
    const add = (policy: string, level: EnforcementLevel, message: string) => {
        if (level !== "disabled") out.push({ policy, level, message });
    };
    for (const t of tracks) {
        const parsed: ParsedRelease = parseReleaseAnnotations(trackAnnotations(t.release, t.track, gate))!;
        const perRelease = (policy: string, level: EnforcementLevel, messages: string[]) =>
            messages.forEach((m) => add(policy, level, `${t.workload}: release ${releaseLabel(parsed)}: ${m}`));
        perRelease(POLICY.thresholds, thresholds.level, thresholdsRule(parsed, thresholds.config));
        perRelease(POLICY.significance, significance.level, significanceRule(parsed, significance.config));
        perRelease(POLICY.approval, approval.level, approvalRule(parsed, approval.config));
        perRelease(POLICY.immutableRef, immutable.level, immutableRefRule(parsed));
        const weight = canaryWeightRule(t.workload, parsed, t.percent, t.via, canary.config);
        if (weight) add(POLICY.canaryWeight, canary.level, weight);
        if (t.activeService) {
            const sw = blueGreenSwitchRule(t.activeService, t.workload, parsed, blueGreen.config);
            if (sw) add(POLICY.blueGreenSwitch, blueGreen.level, sw);
        }
    }
    return out;
}
