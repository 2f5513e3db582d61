// Cluster-level objects: namespaces (PSA labels), Services, RBAC, Helm v3 releases. Catalog rows 76-77.
import { ResourceValidationPolicy } from "@pulumi/policy";
import { ExemptableConfig, k8sResourcePolicy } from "./k8s-policy-factory";
import { K8S, lit } from "./k8s-resources";

export const PSA_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce";

/** Row 76: namespaces opt into Pod Security Admission at `restricted`. */
export const namespacePssRestricted: ResourceValidationPolicy = k8sResourcePolicy<ExemptableConfig & { level: string }>({
    name: "k8s-namespace-pss-restricted",
    description: `Namespaces must carry the label ${PSA_ENFORCE_LABEL}: restricted so the API server enforces the restricted profile too.`,
    severity: "high",
    tags: ["kubernetes", "security", "pod-security-standards"],
    remediationSteps: `Add metadata.labels["${PSA_ENFORCE_LABEL}"] = "restricted" to the Namespace.`,
    types: [K8S.namespace],
    configProperties: {
        level: { type: "string", enum: ["restricted", "baseline"], default: "restricted", description: "Required enforce level." },
    },
    // System namespaces are managed by EKS; exempt by name (a Namespace has no namespace: pattern "*").
    defaults: {
        level: "restricted",
        exemptions: [
            { namespace: "*", name: "kube-system", reason: "EKS system namespace" },
            { namespace: "*", name: "kube-public", reason: "EKS system namespace" },
            { namespace: "*", name: "kube-node-lease", reason: "EKS system namespace" },
        ],
    },
    check: ({ meta, config }, report) => {
        const v = meta.labels[PSA_ENFORCE_LABEL];
        if (v !== config.level) {
            report(`label ${PSA_ENFORCE_LABEL} is ${v === undefined ? "missing" : `'${v}'`}; must be '${config.level}'`);
        }
    },
});

/** Row 77 (CR disallow-load-balancer, KS service-type): cluster-internal Services only. */
export const serviceType: ResourceValidationPolicy = k8sResourcePolicy<ExemptableConfig & { allowedTypes: string[] }>({
    name: "k8s-service-type",
    description: "Services must be ClusterIP (no LoadBalancer/NodePort/ExternalName) unless exempted; traffic enters through the Gateway.",
    severity: "high",
    tags: ["kubernetes", "security", "network"],
    remediationSteps: "Use type ClusterIP and route external traffic through the Gateway API; exempt the ingress controller by configuration.",
    types: [K8S.service],
    configProperties: {
        allowedTypes: {
            type: "array",
            items: { type: "string", enum: ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] },
            default: ["ClusterIP"],
            description: "Allowed spec.type values (unset means ClusterIP).",
        },
    },
    defaults: { allowedTypes: ["ClusterIP"] },
    check: ({ props, config }, report) => {
        const t = props.spec?.type ?? "ClusterIP";
        if (!config.allowedTypes.includes(t)) {
            report(`spec.type is ${t}; allowed: ${config.allowedTypes.join(", ")}`);
        }
    },
});

const ALL_USERS_GROUPS = ["system:anonymous", "system:unauthenticated", "system:authenticated"];

/** Row 77 (CKV_K8S_49, PO clusterrolebindingClusterAdmin): no cluster-admin grants, no grants to everyone. */
export const noClusterAdminBinding: ResourceValidationPolicy = k8sResourcePolicy<ExemptableConfig & { forbiddenRoles: string[] }>({
    name: "k8s-no-cluster-admin-binding",
    description: "(Cluster)RoleBindings must not grant cluster-admin (or other configured roles), nor bind anonymous/all authenticated users.",
    severity: "critical",
    tags: ["kubernetes", "security", "rbac"],
    remediationSteps: "Bind a narrowly scoped Role in the workload's namespace instead.",
    types: [K8S.clusterRoleBinding, K8S.roleBinding],
    configProperties: {
        forbiddenRoles: {
            type: "array",
            items: { type: "string" },
            default: ["cluster-admin"],
            description: "roleRef names that must never be bound.",
        },
    },
    defaults: { forbiddenRoles: ["cluster-admin"] },
    check: ({ props, config }, report) => {
        // A computed roleRef name is another resource's generated name, never a built-in role.
        const role = lit(() => props.roleRef?.name);
        if (typeof role === "string" && config.forbiddenRoles.includes(role)) {
            report(`binds the '${role}' role`);
        }
        const subjects = props.subjects;
        if (Array.isArray(subjects)) {
            for (const s of subjects) {
                if (s?.kind === "Group" && ALL_USERS_GROUPS.includes(s?.name)) {
                    report(`binds group '${s.name}' (every ${s.name === "system:authenticated" ? "authenticated" : "anonymous"} user)`);
                }
                if (s?.kind === "User" && s?.name === "system:anonymous") {
                    report("binds user 'system:anonymous'");
                }
            }
        }
    },
});

const ESCALATION_VERBS = ["escalate", "bind", "impersonate"];

/** Row 77 (KSV-0044..46): no wildcard or escalation rules. */
export const noWildcardRbac: ResourceValidationPolicy = k8sResourcePolicy<ExemptableConfig>({
    name: "k8s-no-wildcard-rbac",
    description: "(Cluster)Roles must not use '*' in apiGroups+resources, resources or verbs, nor grant escalate/bind/impersonate.",
    severity: "high",
    tags: ["kubernetes", "security", "rbac"],
    remediationSteps: "List the exact apiGroups, resources and verbs the workload needs.",
    types: [K8S.clusterRole, K8S.role],
    defaults: {},
    check: ({ props }, report) => {
        const rules = props.rules;
        if (!Array.isArray(rules)) return;
        rules.forEach((r: any, i: number) => {
            const verbs: string[] = Array.isArray(r?.verbs) ? [...r.verbs] : [];
            const resources: string[] = Array.isArray(r?.resources) ? [...r.resources] : [];
            if (verbs.includes("*")) report(`rules[${i}] grants all verbs ('*')`);
            if (resources.includes("*")) report(`rules[${i}] covers all resources ('*')`);
            const esc = verbs.filter((v) => ESCALATION_VERBS.includes(v));
            if (esc.length) report(`rules[${i}] grants ${esc.join(", ")}`);
        });
    },
});

/** Row 77: helm.sh/v3 Release hides its objects from policies; use helm.sh/v4 Chart. */
export const noHelmV3Release: ResourceValidationPolicy = k8sResourcePolicy<ExemptableConfig>({
    name: "k8s-no-helm-v3-release",
    description: "kubernetes:helm.sh/v3:Release is forbidden: policies cannot see the objects it installs. Use helm.sh/v4 Chart.",
    severity: "medium",
    tags: ["kubernetes", "security", "policy-coverage"],
    remediationSteps: "Replace k8s.helm.v3.Release with k8s.helm.v4.Chart, which registers each rendered object as a resource.",
    types: [K8S.helmReleaseV3],
    defaults: {},
    check: (_ctx, report) => report("is a Helm v3 Release; its objects escape policy checks — use helm.sh/v4 Chart"),
});

export const clusterPolicies: ResourceValidationPolicy[] = [
    namespacePssRestricted,
    serviceType,
    noClusterAdminBinding,
    noWildcardRbac,
    noHelmV3Release,
];
