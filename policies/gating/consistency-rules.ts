// Cross-resource consistency the engine cannot see until pods fail to schedule or route: GPU pods
// vs node groups, Services/HTTPRoutes vs workloads, workload-identity roles vs ServiceAccounts.
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { buildInventory, sameNamespace, serviceForBackend, workloadsSelectedBy } from "../security/rules/k8s-inventory";
import {
    containersOf,
    describeResource,
    Exemption,
    exemptionsSchema,
    findExemption,
    lit,
    quantityToNumber,
    readStringMap,
    UNKNOWN,
    withDefaults,
} from "../security/rules/k8s-resources";
import { toleratesTaintKey } from "../security/rules/k8s-workloads";

export const NODE_GROUP_TYPE = "aws:eks/nodeGroup:NodeGroup";
export const IAM_ROLE_TYPE = "aws:iam/role:Role";
export const POD_IDENTITY_ASSOCIATION_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
/** Tag the WorkloadIdentity component puts on roles: `<namespace>/<serviceAccount>`. */
export const SERVICE_ACCOUNT_TAG = "mlops.platform/service-account";

// ---------------------------------------------------------------------------------------------
// gpu-workloads-schedulable
// ---------------------------------------------------------------------------------------------

interface Taint {
    key: string;
    value?: string;
    effect: string;
}

const EKS_EFFECTS: Record<string, string> = {
    NO_SCHEDULE: "NoSchedule",
    NO_EXECUTE: "NoExecute",
    PREFER_NO_SCHEDULE: "PreferNoSchedule",
};

/** Kubernetes toleration semantics for one taint. */
export function tolerates(tolerations: unknown, taint: Taint): boolean {
    if (!Array.isArray(tolerations)) return false;
    return tolerations.some((t: any) => {
        if (t?.effect && t.effect !== taint.effect) return false;
        if (!t?.key) return t?.operator === "Exists";
        if (t.key !== taint.key) return false;
        return t.operator === "Exists" || (t.value ?? "") === (taint.value ?? "");
    });
}

interface NodeGroupFacts {
    resource: PolicyResource;
    name: string;
    labels: Record<string, string>;
    taints: Taint[];
    instanceTypes: string[];
    capacityType: string;
    maxSize?: number;
}

function nodeGroupFacts(r: PolicyResource): NodeGroupFacts | undefined {
    const labels = readStringMap(() => r.props.labels);
    const taints = lit(() =>
        (Array.isArray(r.props.taints) ? [...r.props.taints] : []).map((t: any) => ({
            key: String(t.key),
            value: t.value === undefined ? undefined : String(t.value),
            effect: EKS_EFFECTS[String(t.effect)] ?? String(t.effect),
        })),
    );
    if (labels.unknownKeys.length || taints === UNKNOWN) return undefined;
    const name = lit(() => r.props.nodeGroupName);
    const types = lit(() => (Array.isArray(r.props.instanceTypes) ? r.props.instanceTypes.map(String) : []));
    const capacity = lit(() => r.props.capacityType);
    const maxSize = lit(() => r.props.scalingConfig?.maxSize);
    return {
        resource: r,
        name: typeof name === "string" ? name : r.name,
        labels: labels.values,
        taints,
        instanceTypes: types === UNKNOWN ? [] : types,
        capacityType: typeof capacity === "string" ? capacity : "ON_DEMAND",
        maxSize: typeof maxSize === "number" ? maxSize : undefined,
    };
}

/** Labels EKS puts on every node of a managed node group, in addition to the group's own. */
function nodeLabels(ng: NodeGroupFacts): Record<string, string>[] {
    const base = { ...ng.labels, "eks.amazonaws.com/nodegroup": ng.name, "eks.amazonaws.com/capacityType": ng.capacityType };
    if (ng.instanceTypes.length === 0) return [base];
    return ng.instanceTypes.map((t) => ({ ...base, "node.kubernetes.io/instance-type": t }));
}

interface NodeSelectorRequirement {
    key: string;
    operator: string;
    values?: string[];
}

function requirementHolds(req: NodeSelectorRequirement, labels: Record<string, string>): boolean {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const v = labels[req.key];
    const vals = req.values ?? [];
    switch (req.operator) {
        case "In": return has && vals.includes(v);
        case "NotIn": return !has || !vals.includes(v);
        case "Exists": return has;
        case "DoesNotExist": return !has;
        case "Gt": return has && Number(v) > Number(vals[0]);
        case "Lt": return has && Number(v) < Number(vals[0]);
        default: return false;
    }
}

interface GpuConfig {
    gpuResourceName: string;
    gpuTaintKey: string;
    exemptions: Exemption[];
}

export const gpuWorkloadsSchedulable: StackValidationPolicy = {
    name: "gpu-workloads-schedulable",
    description:
        "Pods requesting GPUs tolerate the GPU taint, select GPU nodes (nodeSelector or required node affinity), and an " +
        `${NODE_GROUP_TYPE} exists whose labels satisfy that selection, whose taints they all tolerate, and which carries the GPU taint.`,
    severity: "high",
    enforcementLevel: "mandatory",
    tags: ["gpu", "scheduling", "mlops"],
    remediationSteps: "Use GpuNodeGroup.scheduling (nodeSelector + tolerations) in the workload's pod spec.",
    configSchema: {
        properties: {
            gpuResourceName: { type: "string", default: "nvidia.com/gpu", description: "Extended resource name of GPUs." },
            gpuTaintKey: { type: "string", default: "nvidia.com/gpu", description: "Taint key GPU node groups carry." },
            exemptions: exemptionsSchema,
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<GpuConfig>(
            { gpuResourceName: "nvidia.com/gpu", gpuTaintKey: "nvidia.com/gpu", exemptions: [] },
            args.getConfig<Partial<GpuConfig>>(),
        );
        const inv = buildInventory(args.resources);
        const groups = args.resources.filter((r) => r.type === NODE_GROUP_TYPE).map(nodeGroupFacts);
        const knownGroups = groups.filter((g): g is NodeGroupFacts => g !== undefined);
        const someUnknown = groups.length !== knownGroups.length;
        for (const w of inv.workloads) {
            if (!w.pod || findExemption(config.exemptions, w.meta)) continue;
            const spec = w.pod.spec;
            const wants = lit(() =>
                containersOf(w.pod!).some((c) => {
                    const lim = c.container.resources?.limits?.[config.gpuResourceName];
                    const req = c.container.resources?.requests?.[config.gpuResourceName];
                    return quantityToNumber(lim ?? req ?? 0) > 0;
                }),
            );
            if (wants !== true) continue;
            const what = describeResource(w.type, w.meta);
            const tolerations = lit(() => (Array.isArray(spec.tolerations) ? JSON.parse(JSON.stringify([...spec.tolerations])) : []));
            const selector = readStringMap(() => spec.nodeSelector);
            const terms = lit(() => {
                const t = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
                return Array.isArray(t) ? (JSON.parse(JSON.stringify(t)) as { matchExpressions?: NodeSelectorRequirement[] }[]) : [];
            });
            if (tolerations === UNKNOWN || selector.unknownKeys.length || terms === UNKNOWN) continue; // verified after update
            const problems: string[] = [];
            if (!toleratesTaintKey(tolerations, config.gpuTaintKey)) {
                problems.push(`does not tolerate the '${config.gpuTaintKey}' NoSchedule taint`);
            }
            const usableTerms = terms.filter((t) => (t.matchExpressions ?? []).length > 0);
            if (Object.keys(selector.values).length === 0 && usableTerms.length === 0) {
                problems.push("selects no nodes (no nodeSelector or required node affinity); GPU pools must be chosen explicitly");
            }
            if (problems.length === 0) {
                const fits = knownGroups.filter((g) => {
                    if (g.maxSize === 0) return false;
                    if (!g.taints.some((t) => t.key === config.gpuTaintKey)) return false;
                    if (!g.taints.filter((t) => t.effect !== "PreferNoSchedule").every((t) => tolerates(tolerations, t))) return false;
                    return nodeLabels(g).some(
                        (labels) =>
                            Object.entries(selector.values).every(([k, v]) => labels[k] === v) &&
                            (usableTerms.length === 0 || usableTerms.some((t) => (t.matchExpressions ?? []).every((e) => requirementHolds(e, labels)))),
                    );
                });
                if (fits.length === 0 && !someUnknown) {
                    const sel = Object.entries(selector.values).map(([k, v]) => `${k}=${v}`).join(",") || "(affinity)";
                    problems.push(
                        knownGroups.length === 0
                            ? `no ${NODE_GROUP_TYPE} exists to run it`
                            : `no GPU node group matches: selection ${sel}, tolerations ${JSON.stringify(tolerations)}; ` +
                              `groups: ${knownGroups.map((g) => `${g.name} labels=${JSON.stringify(g.labels)} taints=${g.taints.map((t) => `${t.key}=${t.value ?? ""}:${t.effect}`).join(",") || "none"}${g.maxSize === 0 ? " maxSize=0" : ""}`).join("; ")}`,
                    );
                }
            }
            for (const p of problems) reportViolation(`${what}: requests ${config.gpuResourceName} but ${p}`, w.resource.urn);
        }
    },
};

// ---------------------------------------------------------------------------------------------
// services-select-workloads
// ---------------------------------------------------------------------------------------------

export const servicesSelectWorkloads: StackValidationPolicy = {
    name: "services-select-workloads",
    description:
        "Every Service selector matches the pod labels of some workload in its namespace, and every HTTPRoute backendRef " +
        "names an existing Service (with a matching port when one is given).",
    severity: "high",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "mlops", "rollout"],
    remediationSteps: "Align the Service selector with the pod template labels; point backendRefs at Services the stack creates.",
    configSchema: { properties: { exemptions: exemptionsSchema } },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<{ exemptions: Exemption[] }>({ exemptions: [] }, args.getConfig<Partial<{ exemptions: Exemption[] }>>());
        const inv = buildInventory(args.resources);
        for (const svc of inv.services) {
            if (findExemption(config.exemptions, svc.meta)) continue;
            if (svc.selector === UNKNOWN || svc.selector === undefined || svc.type === "ExternalName") continue;
            if (workloadsSelectedBy(inv, svc).length === 0) {
                const sel = Object.entries(svc.selector).map(([k, v]) => `${k}=${v}`).join(",");
                reportViolation(`${describeResource("Service", svc.meta)}: selector ${sel} matches no workload's pod labels`, svc.resource.urn);
            }
        }
        for (const route of inv.httpRoutes) {
            if (findExemption(config.exemptions, route.meta)) continue;
            if (route.rules === UNKNOWN) continue;
            const rawRules = lit(() => (Array.isArray(route.resource.props.spec?.rules) ? route.resource.props.spec.rules : []));
            route.rules.forEach((rule, i) => {
                rule.backendRefs.forEach((ref, j) => {
                    if (ref.kind !== "Service" || (ref.group !== "" && ref.group !== "core")) return;
                    const where = `${describeResource("HTTPRoute", route.meta)} rules[${i}].backendRefs[${j}]`;
                    const svc = serviceForBackend(inv, route, ref);
                    if (!svc) {
                        reportViolation(`${where}: Service '${ref.namespace ? ref.namespace + "/" : ""}${ref.name}' does not exist in this stack`, route.resource.urn);
                        return;
                    }
                    const port = rawRules === UNKNOWN ? undefined : lit(() => rawRules[i]?.backendRefs?.[j]?.port);
                    const ports = lit(() => (Array.isArray(svc.resource.props.spec?.ports) ? svc.resource.props.spec.ports.map((p: any) => p?.port) : []));
                    if (typeof port === "number" && ports !== UNKNOWN && ports.length && !ports.includes(port)) {
                        reportViolation(`${where}: Service '${ref.name}' has no port ${port} (ports: ${ports.join(", ")})`, route.resource.urn);
                    }
                });
            });
        }
    },
};

// ---------------------------------------------------------------------------------------------
// workload-identity-trust
// ---------------------------------------------------------------------------------------------

interface TrustFacts {
    /** IRSA `:sub` values (each should be system:serviceaccount:<ns>:<name>). */
    subjects: { value: string; operator: string }[];
    /** Web-identity statements from an EKS OIDC provider. */
    irsaStatements: number;
    /** Web-identity statements lacking any `:sub` condition. */
    irsaWithoutSub: number;
    /** Web-identity statements lacking `:aud` = sts.amazonaws.com. */
    irsaWithoutAud: number;
    podIdentity: boolean;
}

function asList(v: unknown): unknown[] {
    return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

/** Reads the workload-identity parts of a trust policy document. */
export function trustFacts(doc: any): TrustFacts {
    const facts: TrustFacts = { subjects: [], irsaStatements: 0, irsaWithoutSub: 0, irsaWithoutAud: 0, podIdentity: false };
    for (const st of asList(doc?.Statement) as any[]) {
        if (st?.Effect !== "Allow") continue;
        const actions = asList(st.Action).map(String);
        const services = asList(st.Principal?.Service).map(String);
        const federated = asList(st.Principal?.Federated).map(String);
        if (services.includes("pods.eks.amazonaws.com")) facts.podIdentity = true;
        // Only an EKS cluster's OIDC issuer makes this workload identity (IRSA); other web
        // identities (GitHub Actions, other IdPs) are the IAM rules' business.
        const webIdentity = actions.includes("sts:AssumeRoleWithWebIdentity") && federated.some((f) => f.includes("oidc.eks."));
        if (!webIdentity) continue;
        facts.irsaStatements++;
        let sawSub = false;
        let sawAud = false;
        for (const [op, conds] of Object.entries((st.Condition ?? {}) as Record<string, Record<string, unknown>>)) {
            for (const [key, val] of Object.entries(conds ?? {})) {
                if (key.endsWith(":sub")) {
                    sawSub = true;
                    for (const v of asList(val)) facts.subjects.push({ value: String(v), operator: op });
                }
                if (key.endsWith(":aud") && asList(val).map(String).includes("sts.amazonaws.com")) sawAud = true;
            }
        }
        if (!sawSub) facts.irsaWithoutSub++;
        if (!sawAud) facts.irsaWithoutAud++;
    }
    return facts;
}

const SA_SUBJECT_RE = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

const EKS_ADDON_TYPE = "aws:eks/addon:Addon";

export const workloadIdentityTrust: StackValidationPolicy = {
    name: "workload-identity-trust",
    description:
        "Each IAM role used for workload identity (IRSA web-identity trust, EKS Pod Identity trust, or tagged " +
        `${SERVICE_ACCOUNT_TAG}) is assumable by exactly one existing ServiceAccount: one exact IRSA ':sub' ` +
        "(system:serviceaccount:<ns>:<name>, with ':aud' sts.amazonaws.com), or one PodIdentityAssociation naming the role and an existing ServiceAccount.",
    severity: "critical",
    enforcementLevel: "mandatory",
    tags: ["aws", "iam", "kubernetes", "security"],
    remediationSteps: "Create workload roles with the WorkloadIdentity component: one role per ServiceAccount.",
    configSchema: {
        properties: {
            requireAudience: { type: "boolean", default: true, description: "IRSA trust must also pin ':aud' to sts.amazonaws.com." },
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<{ requireAudience: boolean }>({ requireAudience: true }, args.getConfig<Partial<{ requireAudience: boolean }>>());
        const inv = buildInventory(args.resources);
        const saExists = (ns: string, name: string) =>
            inv.serviceAccounts.some((sa) => !sa.planned || (sa.meta.name === name && sameNamespace(sa.meta.namespace, ns)));
        const associations = args.resources.filter((r) => r.type === POD_IDENTITY_ASSOCIATION_TYPE);

        for (const role of args.resources.filter((r) => r.type === IAM_ROLE_TYPE)) {
            const rawPolicy = lit(() => role.props.assumeRolePolicy);
            const tags = readStringMap(() => role.props.tags);
            const tagged = tags.values[SERVICE_ACCOUNT_TAG];
            if (rawPolicy === UNKNOWN) continue; // trust not known yet (preview); checked at update
            let doc: any;
            try {
                doc = typeof rawPolicy === "string" ? JSON.parse(rawPolicy) : JSON.parse(JSON.stringify(rawPolicy ?? {}));
            } catch {
                continue; // malformed JSON is the security pack's IAM rules' business
            }
            const facts = trustFacts(doc);
            const isWorkloadRole = facts.irsaStatements > 0 || facts.podIdentity || tagged !== undefined || tags.unknownKeys.includes(SERVICE_ACCOUNT_TAG);
            if (!isWorkloadRole) continue;
            const roleName = `Role ${role.name}`;
            const report = (m: string) => reportViolation(`${roleName}: ${m}`, role.urn);
            const trusted = new Set<string>();

            if (facts.irsaWithoutSub) report(`web-identity trust without a ':sub' condition lets any ServiceAccount of the cluster assume it`);
            if (config.requireAudience && facts.irsaWithoutAud) report(`web-identity trust does not pin ':aud' to sts.amazonaws.com`);
            for (const s of facts.subjects) {
                if (/[*?]/.test(s.value)) {
                    report(`':sub' '${s.value}' is a wildcard; trust exactly one ServiceAccount`);
                    continue;
                }
                if (!s.operator.startsWith("StringEquals")) {
                    report(`':sub' uses ${s.operator}; use StringEquals`);
                }
                const m = SA_SUBJECT_RE.exec(s.value);
                if (!m) {
                    report(`':sub' '${s.value}' is not system:serviceaccount:<namespace>:<name>`);
                    continue;
                }
                trusted.add(`${m[1]}/${m[3]}`);
                if (!saExists(m[1], m[3])) report(`trusts ServiceAccount ${m[1]}/${m[3]}, which this stack does not create`);
            }

            if (facts.podIdentity) {
                const mine = associations.filter(
                    (a) =>
                        (a.propertyDependencies.roleArn ?? []).some((d) => d.urn === role.urn) ||
                        (() => {
                            const arn = lit(() => a.props.roleArn);
                            return typeof arn === "string" && arn.endsWith(`:role/${lit(() => role.props.name) as string}`);
                        })(),
                );
                // EKS addons (vpc-cni, aws-ebs-csi-driver) create their association themselves, for
                // the ServiceAccount the addon installs in kube-system.
                const addonAssociations = args.resources
                    .filter((r) => r.type === EKS_ADDON_TYPE)
                    .flatMap((a) => {
                        const list = lit(() => a.props.podIdentityAssociations);
                        const byDependency = (a.propertyDependencies.podIdentityAssociations ?? []).some((d) => d.urn === role.urn);
                        return (Array.isArray(list) ? list : []).filter((x: any) => {
                            if (byDependency) return true;
                            // roleArn is unknown at preview when the role is created in this stack.
                            const arn = lit(() => x?.roleArn);
                            return typeof arn === "string" && arn.endsWith(`:role/${lit(() => role.props.name) as string}`);
                        });
                    });
                for (const x of addonAssociations) {
                    const sa = lit(() => x?.serviceAccount);
                    if (typeof sa === "string") trusted.add(`kube-system/${sa}`);
                }
                if (mine.length === 0 && addonAssociations.length === 0) {
                    report(`trusts pods.eks.amazonaws.com but no ${POD_IDENTITY_ASSOCIATION_TYPE} (or EKS addon podIdentityAssociations) names it`);
                }
                for (const a of mine) {
                    const ns = lit(() => a.props.namespace);
                    const sa = lit(() => a.props.serviceAccount);
                    if (typeof ns !== "string" || typeof sa !== "string") continue;
                    trusted.add(`${ns}/${sa}`);
                    if (!saExists(ns, sa)) report(`PodIdentityAssociation ${a.name} names ServiceAccount ${ns}/${sa}, which this stack does not create`);
                }
            }

            if (trusted.size > 1) report(`is assumable by ${trusted.size} ServiceAccounts (${[...trusted].join(", ")}); use one role per ServiceAccount`);
            if (facts.irsaStatements === 0 && !facts.podIdentity) {
                report(`is tagged ${SERVICE_ACCOUNT_TAG} but its trust policy allows neither IRSA nor EKS Pod Identity`);
            } else if (tagged !== undefined && trusted.size === 1 && !trusted.has(tagged)) {
                report(`is tagged for ServiceAccount ${tagged} but trusts ${[...trusted][0]}`);
            }
        }
    },
};

export const consistencyPolicies: StackValidationPolicy[] = [gpuWorkloadsSchedulable, servicesSelectWorkloads, workloadIdentityTrust];
