// Per-release gates on serving Deployments: re-check at preview/up what `mlops gate` decided,
// from the release annotations ServingStack writes (literal values only; a computed annotation
// fails closed rather than silently downgrading the gate). Catalog rows 79-80.
import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { describeResource, K8S, K8sMeta, metaOf, readStringMap } from "../security/rules/k8s-resources";
import { ANNOTATIONS, ParsedRelease, parseReleaseAnnotations, PREFIX, TRACKS } from "../../release-contract/annotations";
import {
    APPROVAL_RULE_DEFAULTS,
    ApprovalRuleConfig,
    approvalRule,
    immutableRefRule,
    releaseLabel,
    SIGNIFICANCE_RULE_DEFAULTS,
    SignificanceRuleConfig,
    significanceRule,
    THRESHOLDS_RULE_DEFAULTS,
    ThresholdsRuleConfig,
    thresholdsRule,
} from "../../release-contract/rules";

export { mutableModelRefReason } from "../../release-contract/rules";

/** Kinds that carry serving releases. */
export const RELEASE_TYPES = [K8S.deployment, K8S.statefulSet];

export interface ReleaseOnResource {
    meta: K8sMeta;
    what: string;
    parsed: ParsedRelease;
    /** Platform annotations whose value was not literal (computed from an output). */
    nonLiteral: string[];
}

/**
 * The release a serving workload carries: metadata.annotations, or the pod template's when the
 * object's own carry none. Undefined when the workload carries no release.
 */
export function readRelease(type: string, props: Record<string, any>, logicalName: string): ReleaseOnResource | undefined {
    const meta = metaOf(props, logicalName);
    let map = readStringMap(() => props.metadata?.annotations);
    if (map.values[ANNOTATIONS.model] === undefined && !map.unknownKeys.includes(ANNOTATIONS.model)) {
        const tpl = readStringMap(() => props.spec?.template?.metadata?.annotations);
        if (tpl.values[ANNOTATIONS.model] !== undefined || tpl.unknownKeys.includes(ANNOTATIONS.model)) map = tpl;
    }
    const nonLiteral = map.unknownKeys.filter((k) => k === "*" || k.startsWith(PREFIX));
    const values = { ...map.values };
    if (values[ANNOTATIONS.model] === undefined) {
        if (!nonLiteral.includes(ANNOTATIONS.model) && !nonLiteral.includes("*")) return undefined;
        values[ANNOTATIONS.model] = "(computed)";
    }
    const parsed = parseReleaseAnnotations(values)!;
    return { meta, what: describeResource(type, meta), parsed, nonLiteral };
}

function releaseName(r: ReleaseOnResource): string {
    return releaseLabel(r.parsed);
}

/** Shared shape: type filter, release lookup, contract problems reported first, config defaults. */
function releasePolicy<C extends object>(def: {
    name: string;
    description: string;
    severity: ResourceValidationPolicy["severity"];
    remediationSteps: string;
    configSchema?: ResourceValidationPolicy["configSchema"];
    defaults: C;
    /** Report annotation problems (malformed, computed) from this policy; one policy is enough. */
    reportContractProblems?: boolean;
    check: (r: ReleaseOnResource, config: C, report: (m: string) => void, args: ResourceValidationArgs) => void;
}): ResourceValidationPolicy {
    return {
        name: def.name,
        description: def.description,
        severity: def.severity,
        enforcementLevel: "mandatory",
        remediationSteps: def.remediationSteps,
        tags: ["model-gating", "mlops"],
        configSchema: def.configSchema,
        validateResource: (args, reportViolation) => {
            if (!RELEASE_TYPES.includes(args.type as (typeof RELEASE_TYPES)[number])) return;
            const r = readRelease(args.type, args.props, args.name);
            if (!r) return;
            const report = (m: string) => reportViolation(`${r.what}: release ${releaseName(r)}: ${m}`);
            if (r.nonLiteral.length) {
                report(
                    `annotations ${r.nonLiteral.join(", ")} are not literal values; gates read only literals ` +
                        `(write the release from stack config, not from resource outputs)`,
                );
                return;
            }
            if (def.reportContractProblems && r.parsed.problems.length) {
                report(`malformed release annotations: ${r.parsed.problems.join("; ")}`);
            }
            const config = { ...def.defaults } as any;
            for (const [k, v] of Object.entries(args.getConfig<Partial<C>>() ?? {})) {
                if (v !== undefined && v !== null) config[k] = v;
            }
            def.check(r, config as C, report, args);
        },
    };
}

/** Row 79: candidate vs baseline with MLflow MetricThreshold semantics. */
export const modelGateThresholds: ResourceValidationPolicy = releasePolicy<ThresholdsRuleConfig>({
    name: "model-gate-thresholds",
    description:
        "Each serving release must pass the stack's metric thresholds (serving.thresholds, recorded on the release " +
        "by the program) against its recorded baseline (MLflow MetricThreshold semantics: value threshold, " +
        "min absolute/relative change, greater-is-better; missing metrics fail), and must not be marked gate=fail.",
    severity: "critical",
    remediationSteps: "Run `mlops gate`, fix or retrain the model, and deploy only a release whose verdict passes.",
    reportContractProblems: true,
    configSchema: {
        properties: {
            tracks: {
                type: "array",
                items: { type: "string", enum: [...TRACKS] },
                default: [...TRACKS],
                description: `${ANNOTATIONS.track} values whose releases are gated.`,
            },
            allowMissingBaseline: {
                type: "boolean",
                default: false,
                description: "First release of a model (no baseline-version): check value thresholds only.",
            },
        },
    },
    defaults: THRESHOLDS_RULE_DEFAULTS,
    check: (r, config, report) => thresholdsRule(r.parsed, config).forEach(report),
});

/** Row 79 (significance): the improvement must be statistically significant when sample counts are recorded. */
export const modelSignificance: ResourceValidationPolicy = releasePolicy<SignificanceRuleConfig>({
    name: "model-significance",
    description:
        "When candidate and baseline record evaluation sample counts, the candidate's improvement on each configured " +
        "proportion metric must be significant (one-sided two-proportion z-test at alpha).",
    severity: "high",
    remediationSteps: "Evaluate on a larger held-out set, or accept that the change is within noise and keep the baseline.",
    configSchema: {
        properties: {
            alpha: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.05, description: "One-sided significance level." },
            metrics: {
                type: "array",
                items: { type: "string" },
                default: ["f1"],
                description: "Metrics tested as proportions of the evaluation set (accuracy exactly, F1 approximately).",
            },
            lowerIsBetter: { type: "array", items: { type: "string" }, default: [], description: "Tested metrics where lower is better (error rates)." },
            requireSamples: {
                type: "boolean",
                default: false,
                description: "Fail when evaluation sample counts are missing instead of skipping the test.",
            },
        },
    },
    defaults: SIGNIFICANCE_RULE_DEFAULTS,
    check: (r, config, report) => significanceRule(r.parsed, config).forEach(report),
});

/** Row 80 (approval): prod releases name their approver. */
export const modelApprovalRequired: ResourceValidationPolicy = releasePolicy<ApprovalRuleConfig>({
    name: "model-approval-required",
    description: `With requireApproval (on in prod), every serving release must carry ${ANNOTATIONS.approvedBy}, from the approvers list when one is set.`,
    severity: "high",
    remediationSteps: "Have an approver review the gate verdict and set approvedBy on the release in Pulumi.<stack>.yaml.",
    configSchema: {
        properties: {
            requireApproval: { type: "boolean", default: false, description: "Require an approver on every release." },
            approvers: {
                type: "array",
                items: { type: "string" },
                default: [],
                description: "Allowed approvers (globs, e.g. `*@example.com`); empty = anyone.",
            },
        },
    },
    defaults: APPROVAL_RULE_DEFAULTS,
    check: (r, config, report) => approvalRule(r.parsed, config).forEach(report),
});

/** Row 80 (immutable ref): the deployed model is an exact registry version or digest. */
export const modelRefImmutable: ResourceValidationPolicy = releasePolicy<object>({
    name: "model-ref-immutable",
    description:
        "A serving release's model-uri must be immutable: models:/<name>/<version number> (matching the model and version " +
        "annotations) or an @sha256 digest; never latest, a stage, or an alias.",
    severity: "high",
    remediationSteps: "Resolve the alias to its version number at gate time and deploy models:/<name>/<version>.",
    defaults: {},
    check: (r, _config, report) => immutableRefRule(r.parsed).forEach(report),
});

export const releasePolicies: ResourceValidationPolicy[] = [modelGateThresholds, modelSignificance, modelApprovalRequired, modelRefImmutable];
