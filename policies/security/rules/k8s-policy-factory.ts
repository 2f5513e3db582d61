// Builds resource policies over Kubernetes kinds with the parts every k8s rule shares: a type
// filter, metadata, configurable exemptions (never weakening the rule itself), defaults merged
// over getConfig(), and messages that name the resource.
import {
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
} from "@pulumi/policy";
import { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import {
    describeResource,
    Exemption,
    exemptionsSchema,
    findExemption,
    K8sMeta,
    metaOf,
    PodSpecRef,
    podSpecOf,
    WORKLOAD_TYPES,
    withDefaults,
} from "./k8s-resources";

export interface ExemptableConfig {
    exemptions?: Exemption[];
}

export interface K8sCheckContext<C> {
    type: string;
    props: Record<string, any>;
    meta: K8sMeta;
    config: C;
    /** `Deployment ns/name`, already prefixed to every reported message. */
    what: string;
    args: ResourceValidationArgs;
}

export interface WorkloadCheckContext<C> extends K8sCheckContext<C> {
    pod: PodSpecRef;
}

interface K8sPolicyDef<C extends ExemptableConfig> {
    name: string;
    description: string;
    severity: Severity;
    enforcementLevel?: EnforcementLevel;
    remediationSteps?: string;
    tags?: string[];
    /** Policy-specific config properties; `exemptions` is added for every policy. */
    configProperties?: Record<string, PolicyConfigJSONSchema>;
    /** Defaults, applied when getConfig() lacks a key (the Pulumi CLI fills schema defaults, other runners may not). */
    defaults: C;
}

function schemaFor(props: Record<string, PolicyConfigJSONSchema> | undefined, defaults: ExemptableConfig): PolicyConfigSchema {
    return {
        properties: {
            ...(props ?? {}),
            exemptions: { ...exemptionsSchema, default: defaults.exemptions ?? [] },
        },
    };
}

/** A resource policy over the given k8s kinds. */
export function k8sResourcePolicy<C extends ExemptableConfig>(
    def: K8sPolicyDef<C> & {
        types: readonly string[];
        check: (ctx: K8sCheckContext<C>, report: (message: string) => void) => void;
    },
): ResourceValidationPolicy {
    return {
        name: def.name,
        description: def.description,
        severity: def.severity,
        enforcementLevel: def.enforcementLevel ?? "mandatory",
        remediationSteps: def.remediationSteps,
        tags: def.tags ?? ["kubernetes", "security"],
        configSchema: schemaFor(def.configProperties, def.defaults),
        validateResource: (args, reportViolation) => {
            if (!def.types.includes(args.type)) {
                return;
            }
            const config = withDefaults(def.defaults, args.getConfig<Partial<C>>());
            const meta = metaOf(args.props, args.name);
            const exemption = findExemption(config.exemptions, meta);
            if (exemption) {
                args.notApplicable(
                    `exempted by configuration (${exemption.namespace}/${exemption.name}` +
                        `${exemption.reason ? ": " + exemption.reason : ""})`,
                );
            }
            const what = describeResource(args.type, meta);
            def.check({ type: args.type, props: args.props, meta, config, what, args }, (m) =>
                reportViolation(`${what}: ${m}`),
            );
        },
    };
}

/** A resource policy over K8S_WL (or a subset), handed the pod spec wherever the kind keeps it. */
export function workloadPolicy<C extends ExemptableConfig>(
    def: K8sPolicyDef<C> & {
        types?: readonly string[];
        check: (ctx: WorkloadCheckContext<C>, report: (message: string) => void) => void;
    },
): ResourceValidationPolicy {
    return k8sResourcePolicy<C>({
        ...def,
        types: def.types ?? WORKLOAD_TYPES,
        check: (ctx, report) => {
            const pod = podSpecOf(ctx.type, ctx.props);
            if (pod) {
                def.check({ ...ctx, pod }, report);
            }
        },
    });
}
