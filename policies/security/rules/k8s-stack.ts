// Stack policies relating Kubernetes objects: serving replicas (HPA-aware), PodDisruptionBudgets,
// NetworkPolicy coverage. Catalog rows 74-75.
import { StackValidationPolicy } from "@pulumi/policy";
import { ANNOTATIONS, ROLE_LABEL } from "../../../release-contract/annotations";
import { buildInventory, hpaFor, isPlanned, K8sInventory, sameNamespace, WorkloadInfo } from "./k8s-inventory";
import { ExemptableConfig } from "./k8s-policy-factory";
import {
    describeResource,
    Exemption,
    exemptionsSchema,
    findExemption,
    isEmptySelector,
    K8S,
    selectorMatches,
    UNKNOWN,
    withDefaults,
} from "./k8s-resources";

function roleOf(w: WorkloadInfo): string | undefined {
    return w.meta.labels[ROLE_LABEL] ?? w.podLabels[ROLE_LABEL];
}

function notExempt(exemptions: Exemption[] | undefined) {
    return (w: WorkloadInfo) => !findExemption(exemptions, w.meta);
}

/** Effective minimum replicas: the HPA's minReplicas if one targets it, else spec.replicas (default 1). */
export function effectiveMinReplicas(inv: K8sInventory, w: WorkloadInfo): number | typeof UNKNOWN {
    const hpa = hpaFor(inv, w);
    if (hpa) {
        return hpa.minReplicas === UNKNOWN ? UNKNOWN : (hpa.minReplicas ?? 1);
    }
    return w.replicas === UNKNOWN ? UNKNOWN : (w.replicas ?? 1);
}

interface MinReplicasConfig extends ExemptableConfig {
    minReplicas: number;
    roles: string[];
    tracks: string[];
}

/** Row 74 (replicas part): serving Deployments keep >= N replicas (or an HPA with minReplicas >= N). */
export const servingMinReplicas: StackValidationPolicy = {
    name: "k8s-serving-min-replicas",
    description:
        "Serving Deployments/StatefulSets run at least minReplicas pods (spec.replicas, or the minReplicas of the HPA " +
        "that scales them); canary tracks are excluded by default.",
    severity: "medium",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "reliability", "serving"],
    remediationSteps: "Raise spec.replicas or the HPA's minReplicas.",
    configSchema: {
        properties: {
            minReplicas: { type: "integer", minimum: 1, default: 2, description: "Minimum replicas." },
            roles: { type: "array", items: { type: "string" }, default: ["serving"], description: `${ROLE_LABEL} values this applies to.` },
            tracks: {
                type: "array",
                items: { type: "string" },
                default: ["stable", "blue", "green"],
                description: `${ANNOTATIONS.track} values this applies to (workloads without a track always count).`,
            },
            exemptions: exemptionsSchema,
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<MinReplicasConfig>(
            { minReplicas: 2, roles: ["serving"], tracks: ["stable", "blue", "green"], exemptions: [] },
            args.getConfig<Partial<MinReplicasConfig>>(),
        );
        const inv = buildInventory(args.resources);
        for (const w of inv.workloads.filter(notExempt(config.exemptions))) {
            if (w.type !== K8S.deployment && w.type !== K8S.statefulSet) continue;
            const role = roleOf(w);
            if (!role || !config.roles.includes(role)) continue;
            const track = w.meta.annotations[ANNOTATIONS.track];
            if (track !== undefined && !config.tracks.includes(track)) continue;
            const n = effectiveMinReplicas(inv, w);
            if (n === UNKNOWN) continue; // verified once replicas are known (analyzeStack after update)
            if (n < config.minReplicas) {
                const via = hpaFor(inv, w) ? "HPA minReplicas" : "spec.replicas";
                reportViolation(
                    `${describeResource(w.type, w.meta)}: ${via} is ${n}; serving needs at least ${config.minReplicas}`,
                    w.resource.urn,
                );
            }
        }
    },
};

/** True when a PDB allows no voluntary disruption for a workload with `replicas` pods. */
export function pdbBlocksAllDisruption(
    minAvailable: number | string | undefined,
    maxUnavailable: number | string | undefined,
    replicas: number | undefined,
): boolean {
    if (maxUnavailable === 0 || maxUnavailable === "0%" || maxUnavailable === "0") return true;
    if (minAvailable === "100%") return true;
    if (typeof minAvailable === "number" && replicas !== undefined && minAvailable >= replicas) return true;
    return false;
}

interface PdbConfig extends ExemptableConfig {
    roles: string[];
}

/** Row 74 (PDB part): serving workloads have a PDB that still lets nodes drain. */
export const servingPdb: StackValidationPolicy = {
    name: "k8s-serving-pdb",
    description:
        "Serving and tracking Deployments/StatefulSets with 2 or more replicas are selected by a PodDisruptionBudget in their namespace, " +
        "and no PDB forbids all voluntary disruption (maxUnavailable 0, minAvailable 100% or >= replicas).",
    severity: "medium",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "reliability", "serving"],
    remediationSteps: "Add a policy/v1 PodDisruptionBudget with maxUnavailable: 1 selecting the pod template labels.",
    configSchema: {
        properties: {
            roles: {
                type: "array",
                items: { type: "string" },
                default: ["serving", "tracking"],
                description: `${ROLE_LABEL} values that need a PDB.`,
            },
            exemptions: exemptionsSchema,
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<PdbConfig>({ roles: ["serving", "tracking"], exemptions: [] }, args.getConfig<Partial<PdbConfig>>());
        const inv = buildInventory(args.resources);
        const replicated = inv.workloads.filter((w) => w.type === K8S.deployment || w.type === K8S.statefulSet);
        for (const w of replicated.filter(notExempt(config.exemptions))) {
            const role = roleOf(w);
            if (!role || !config.roles.includes(role)) continue;
            // With one pod a budget protects nothing (maxUnavailable 1 allows evicting it; anything
            // stricter blocks every drain), so only replicated workloads need one.
            const n = effectiveMinReplicas(inv, w);
            if (n !== UNKNOWN && n < 2) continue;
            const covering = inv.pdbs.filter(
                (p) =>
                    sameNamespace(p.meta.namespace, w.meta.namespace) &&
                    (p.selector === UNKNOWN || selectorMatches(p.selector, w.podLabels, true)),
            );
            if (covering.length === 0) {
                reportViolation(`${describeResource(w.type, w.meta)}: no PodDisruptionBudget selects its pods`, w.resource.urn);
            }
        }
        for (const p of inv.pdbs) {
            if (findExemption(config.exemptions, p.meta)) continue;
            if (p.minAvailable === UNKNOWN || p.maxUnavailable === UNKNOWN || p.selector === UNKNOWN) continue;
            const sel = p.selector;
            const targets = replicated.filter(
                (w) => sameNamespace(p.meta.namespace, w.meta.namespace) && selectorMatches(sel, w.podLabels, true),
            );
            const counts = targets.map((w) => effectiveMinReplicas(inv, w));
            const replicas = counts.some((c) => c === UNKNOWN) || counts.length === 0
                ? undefined
                : counts.reduce<number>((a, c) => a + (c as number), 0);
            if (pdbBlocksAllDisruption(p.minAvailable, p.maxUnavailable, replicas)) {
                reportViolation(
                    `PodDisruptionBudget ${p.meta.namespace ? p.meta.namespace + "/" : ""}${p.meta.name}: allows no voluntary ` +
                        `disruption (minAvailable=${p.minAvailable ?? "unset"}, maxUnavailable=${p.maxUnavailable ?? "unset"}` +
                        `${replicas !== undefined ? `, replicas=${replicas}` : ""}); node drains would hang`,
                    p.resource.urn,
                );
            }
        }
    },
};

interface NetpolConfig extends ExemptableConfig {
    requireDefaultDeny: boolean;
}

/** Row 75: every workload is selected by a NetworkPolicy (optionally: namespace has default-deny ingress). */
export const networkPolicyCoverage: StackValidationPolicy = {
    name: "k8s-network-policy-coverage",
    description:
        "Every workload's pods are selected by a NetworkPolicy in their namespace; with requireDefaultDeny, each " +
        "workload namespace also has a default-deny ingress policy (empty podSelector, no ingress rules).",
    severity: "medium",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "security", "network"],
    remediationSteps: "Add a NetworkPolicy selecting the pods (the platform components ship one per workload).",
    configSchema: {
        properties: {
            requireDefaultDeny: {
                type: "boolean",
                default: false,
                description: "Also require a default-deny ingress NetworkPolicy per workload namespace.",
            },
            exemptions: exemptionsSchema,
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<NetpolConfig>({ requireDefaultDeny: false, exemptions: [] }, args.getConfig<Partial<NetpolConfig>>());
        const inv = buildInventory(args.resources);
        for (const w of inv.workloads.filter(notExempt(config.exemptions))) {
            const inNs = inv.networkPolicies.filter((n) => sameNamespace(n.meta.namespace, w.meta.namespace));
            const selected = inNs.some((n) => n.podSelector === UNKNOWN || selectorMatches(n.podSelector, w.podLabels, true));
            if (!selected) {
                reportViolation(`${describeResource(w.type, w.meta)}: no NetworkPolicy selects its pods`, w.resource.urn);
            }
            if (config.requireDefaultDeny) {
                const denyAll = inNs.some(
                    (n) =>
                        n.podSelector !== UNKNOWN &&
                        isEmptySelector(n.podSelector) &&
                        n.policyTypes !== UNKNOWN &&
                        n.policyTypes.includes("Ingress") &&
                        n.ingressRuleCount === 0,
                );
                if (!denyAll) {
                    reportViolation(
                        `${describeResource(w.type, w.meta)}: namespace ${w.meta.namespace ?? "(provider default)"} has no default-deny ingress NetworkPolicy`,
                        w.resource.urn,
                    );
                }
            }
        }
    },
};

/** Row 74 (drains): a PDB must not let a crash-looping pod block node drains. */
export const pdbUnhealthyEviction: StackValidationPolicy = {
    name: "k8s-pdb-unhealthy-eviction",
    description:
        "Every PodDisruptionBudget sets unhealthyPodEvictionPolicy: AlwaysAllow, so pods that are not Ready (crash-looping) " +
        "can be evicted and node drains (AMI patching, scale-down) do not hang on them.",
    severity: "medium",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "reliability"],
    remediationSteps: "Set spec.unhealthyPodEvictionPolicy: AlwaysAllow on the PodDisruptionBudget (policy/v1, Kubernetes >= 1.27).",
    configSchema: { properties: { exemptions: exemptionsSchema } },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<ExemptableConfig>({ exemptions: [] }, args.getConfig<Partial<ExemptableConfig>>());
        for (const p of buildInventory(args.resources).pdbs) {
            // No planned state yet (first preview through an unknown cluster's provider): unknown, judged at `up`.
            if (!isPlanned(p.resource.props) || findExemption(config.exemptions, p.meta) || p.unhealthyPodEvictionPolicy === UNKNOWN) continue;
            if (p.unhealthyPodEvictionPolicy !== "AlwaysAllow") {
                reportViolation(
                    `PodDisruptionBudget ${p.meta.namespace ? p.meta.namespace + "/" : ""}${p.meta.name}: unhealthyPodEvictionPolicy is ` +
                        `${p.unhealthyPodEvictionPolicy ?? "unset (IfHealthyBudget)"}; a crash-looping pod would block node drains`,
                    p.resource.urn,
                );
            }
        }
    },
};

interface DefaultDenyConfig {
    exemptNamespaces: { namespace: string; reason: string }[];
}

/**
 * Row 75 (default deny): every namespace that runs workloads has a default-deny NetworkPolicy for
 * egress and for ingress (empty podSelector, the direction in policyTypes, no rules for it), so a
 * pod sends and receives only what an allow policy names. Namespaces the platform does not own
 * (kube-system) are exempted by configuration, each with a reason.
 */
export const namespaceDefaultDeny: StackValidationPolicy = {
    name: "k8s-namespace-default-deny",
    description:
        "Every namespace with workloads has a default-deny egress and a default-deny ingress NetworkPolicy (empty podSelector, " +
        "the direction in policyTypes, no rules for it); connections reach or leave a pod only through narrow allow policies.",
    severity: "high",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "security", "network"],
    remediationSteps: "Add a NetworkPolicy with podSelector {}, policyTypes [Ingress, Egress] and no rules, plus allow policies for DNS and each dependency.",
    configSchema: {
        properties: {
            exemptNamespaces: {
                type: "array",
                default: [],
                description: "Namespaces without the requirement, each with the reason.",
                items: {
                    type: "object",
                    required: ["namespace", "reason"],
                    properties: { namespace: { type: "string" }, reason: { type: "string", minLength: 1 } },
                },
            },
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<DefaultDenyConfig>({ exemptNamespaces: [] }, args.getConfig<Partial<DefaultDenyConfig>>());
        const exempt = new Set(config.exemptNamespaces.map((e) => e.namespace));
        const inv = buildInventory(args.resources);
        const reported = new Set<string>();
        // Objects without planned state (first preview through an unknown cluster's provider) have
        // unknown namespaces and rules: such a workload is judged at `up`; such a NetworkPolicy may deny.
        for (const w of inv.workloads.filter((x) => isPlanned(x.resource.props))) {
            const ns = w.meta.namespace ?? "(provider default)";
            if (exempt.has(ns) || reported.has(ns)) continue;
            const denies = (direction: "Ingress" | "Egress") =>
                inv.networkPolicies.some(
                    (n) =>
                        !isPlanned(n.resource.props) ||
                        (sameNamespace(n.meta.namespace, w.meta.namespace) &&
                        (n.podSelector === UNKNOWN || n.podSelector === undefined || isEmptySelector(n.podSelector)) &&
                        n.policyTypes !== UNKNOWN &&
                        n.policyTypes.includes(direction) &&
                        (direction === "Egress" ? n.egressRuleCount : n.ingressRuleCount) === 0),
                );
            const missing = (["Egress", "Ingress"] as const).filter((d) => !denies(d));
            if (missing.length) {
                reported.add(ns);
                reportViolation(
                    `namespace ${ns} runs workloads (e.g. ${describeResource(w.type, w.meta)}) but has no default-deny ${missing.map((d) => d.toLowerCase()).join(" or ")} NetworkPolicy`,
                    w.resource.urn,
                );
            }
        }
    },
};

export const k8sStackPolicies: StackValidationPolicy[] = [servingMinReplicas, servingPdb, pdbUnhealthyEviction, networkPolicyCoverage, namespaceDefaultDeny];
