// A read-once view of the Kubernetes objects in a stack, for stack policies that relate objects
// to each other (selectors, PDBs, HPAs, NetworkPolicies, routes). Every read tolerates values
// unknown during preview: such fields come back as UNKNOWN and each policy decides what that
// means, instead of one computed value downgrading the whole stack policy to advisory.
import { PolicyResource } from "@pulumi/policy";
import {
    K8S,
    K8sMeta,
    LabelSelector,
    lit,
    metaOf,
    PodSpecRef,
    podSpecOf,
    readLabelSelector,
    readStringMap,
    selectorMatches,
    UNKNOWN,
    Unknown,
    WORKLOAD_TYPES,
} from "./k8s-resources";

export interface WorkloadInfo {
    resource: PolicyResource;
    type: string;
    meta: K8sMeta;
    /** undefined when the pod template is absent or not literal. */
    pod?: PodSpecRef;
    podLabels: Record<string, string>;
    /** spec.replicas; undefined when unset (Kubernetes default 1) or not applicable. */
    replicas: number | undefined | Unknown;
}

export interface ServiceInfo {
    resource: PolicyResource;
    meta: K8sMeta;
    /** undefined or {} = no selector (manual endpoints). */
    selector: Record<string, string> | undefined | Unknown;
    type: string;
}

export interface NetworkPolicyInfo {
    resource: PolicyResource;
    meta: K8sMeta;
    podSelector: LabelSelector | undefined | Unknown;
    policyTypes: string[] | Unknown;
    ingressRuleCount: number | Unknown;
}

export interface PdbInfo {
    resource: PolicyResource;
    meta: K8sMeta;
    selector: LabelSelector | undefined | Unknown;
    minAvailable: number | string | undefined | Unknown;
    maxUnavailable: number | string | undefined | Unknown;
}

export interface HpaInfo {
    resource: PolicyResource;
    meta: K8sMeta;
    targetKind?: string;
    targetName?: string;
    minReplicas: number | undefined | Unknown;
}

export interface BackendRefInfo {
    name: string;
    namespace?: string;
    kind: string;
    group: string;
    /** Gateway API default weight is 1. */
    weight: number;
}

export interface RouteRuleInfo {
    backendRefs: BackendRefInfo[];
    /**
     * Every match of the rule requires a header or query parameter: opt-in traffic (testers, a
     * preview header), not a share of general traffic. Rules without matches catch everything.
     */
    targeted: boolean;
}

export interface HttpRouteInfo {
    resource: PolicyResource;
    meta: K8sMeta;
    /** One entry per rules[]; UNKNOWN when the rules are not literal. */
    rules: RouteRuleInfo[] | Unknown;
}

export interface K8sInventory {
    workloads: WorkloadInfo[];
    services: ServiceInfo[];
    networkPolicies: NetworkPolicyInfo[];
    pdbs: PdbInfo[];
    hpas: HpaInfo[];
    httpRoutes: HttpRouteInfo[];
    /**
     * `planned: false` when the engine has no state for it yet: at a first preview a resource whose
     * provider configuration is unknown (a cluster created in the same stack) gets empty outputs,
     * and stack policies read outputs. Its name and namespace are then unknown, not absent.
     */
    serviceAccounts: { resource: PolicyResource; meta: K8sMeta; planned: boolean }[];
}

/**
 * Namespace equality where an unset namespace (the provider's default, invisible to policies)
 * is compatible with any namespace. Coverage checks prefer missing a link to inventing one.
 */
export function sameNamespace(a: string | undefined, b: string | undefined): boolean {
    return a === undefined || b === undefined || a === b;
}

function num(get: () => unknown): number | undefined | Unknown {
    const v = lit(get);
    if (v === UNKNOWN) return UNKNOWN;
    return typeof v === "number" ? v : undefined;
}

function intOrString(get: () => unknown): number | string | undefined | Unknown {
    const v = lit(get);
    if (v === UNKNOWN) return UNKNOWN;
    return typeof v === "number" || typeof v === "string" ? v : undefined;
}

/** False for a resource with no planned state yet (empty outputs at preview, see K8sInventory). */
export function isPlanned(props: Record<string, any> | undefined): boolean {
    return props !== undefined && props !== null && Object.keys(props).length > 0;
}

export function buildInventory(resources: readonly PolicyResource[]): K8sInventory {
    const inv: K8sInventory = {
        workloads: [],
        services: [],
        networkPolicies: [],
        pdbs: [],
        hpas: [],
        httpRoutes: [],
        serviceAccounts: [],
    };
    for (const r of resources) {
        const props = r.props;
        if (WORKLOAD_TYPES.includes(r.type)) {
            const pod = lit(() => podSpecOf(r.type, props));
            const hasReplicas = r.type !== K8S.pod && r.type !== K8S.job && r.type !== K8S.cronJob && r.type !== K8S.daemonSet;
            inv.workloads.push({
                resource: r,
                type: r.type,
                meta: metaOf(props, r.name),
                pod: pod === UNKNOWN ? undefined : pod,
                podLabels: pod === UNKNOWN || !pod ? {} : pod.podLabels,
                replicas: hasReplicas ? num(() => props.spec?.replicas) : undefined,
            });
            continue;
        }
        switch (r.type) {
            case K8S.service: {
                const sel = readStringMap(() => props.spec?.selector);
                const t = lit(() => props.spec?.type);
                inv.services.push({
                    resource: r,
                    meta: metaOf(props, r.name),
                    selector: sel.unknownKeys.length ? UNKNOWN : Object.keys(sel.values).length ? sel.values : undefined,
                    type: typeof t === "string" ? t : "ClusterIP",
                });
                break;
            }
            case K8S.networkPolicy: {
                const types = lit(() => (Array.isArray(props.spec?.policyTypes) ? props.spec.policyTypes.map(String) : []));
                inv.networkPolicies.push({
                    resource: r,
                    meta: metaOf(props, r.name),
                    podSelector: readLabelSelector(() => props.spec?.podSelector),
                    policyTypes: types,
                    ingressRuleCount: lit(() => (Array.isArray(props.spec?.ingress) ? props.spec.ingress.length : 0)),
                });
                break;
            }
            case K8S.podDisruptionBudget:
                inv.pdbs.push({
                    resource: r,
                    meta: metaOf(props, r.name),
                    selector: readLabelSelector(() => props.spec?.selector),
                    minAvailable: intOrString(() => props.spec?.minAvailable),
                    maxUnavailable: intOrString(() => props.spec?.maxUnavailable),
                });
                break;
            case K8S.hpa:
            case "kubernetes:autoscaling/v1:HorizontalPodAutoscaler": {
                const kind = lit(() => props.spec?.scaleTargetRef?.kind);
                const name = lit(() => props.spec?.scaleTargetRef?.name);
                inv.hpas.push({
                    resource: r,
                    meta: metaOf(props, r.name),
                    targetKind: typeof kind === "string" ? kind : undefined,
                    targetName: typeof name === "string" ? name : undefined,
                    minReplicas: num(() => props.spec?.minReplicas),
                });
                break;
            }
            case K8S.httpRoute: {
                const meta = metaOf(props, r.name);
                const rules = lit(() =>
                    (Array.isArray(props.spec?.rules) ? [...props.spec.rules] : []).map((rule: any): RouteRuleInfo => {
                        const matches: any[] = Array.isArray(rule?.matches) ? [...rule.matches] : [];
                        const targeted =
                            matches.length > 0 &&
                            matches.every(
                                (m: any) =>
                                    (Array.isArray(m?.headers) && m.headers.length > 0) ||
                                    (Array.isArray(m?.queryParams) && m.queryParams.length > 0),
                            );
                        const backendRefs = (Array.isArray(rule?.backendRefs) ? [...rule.backendRefs] : []).map(
                            (b: any): BackendRefInfo => ({
                                name: String(b?.name ?? ""),
                                namespace: typeof b?.namespace === "string" ? b.namespace : undefined,
                                kind: typeof b?.kind === "string" ? b.kind : "Service",
                                group: typeof b?.group === "string" ? b.group : "",
                                weight: typeof b?.weight === "number" ? b.weight : 1,
                            }),
                        );
                        return { backendRefs, targeted };
                    }),
                );
                inv.httpRoutes.push({ resource: r, meta, rules });
                break;
            }
            case K8S.serviceAccount:
                inv.serviceAccounts.push({ resource: r, meta: metaOf(props, r.name), planned: isPlanned(props) });
                break;
        }
    }
    return inv;
}

/** Workloads whose pods a Service selects (same namespace, non-empty selector). */
export function workloadsSelectedBy(inv: K8sInventory, svc: ServiceInfo): WorkloadInfo[] {
    if (svc.selector === UNKNOWN || svc.selector === undefined) return [];
    const sel = svc.selector;
    return inv.workloads.filter(
        (w) => sameNamespace(w.meta.namespace, svc.meta.namespace) && selectorMatches({ matchLabels: sel }, w.podLabels, false),
    );
}

/** The Service a backendRef names, resolved in the route's namespace unless it names another. */
export function serviceForBackend(inv: K8sInventory, route: HttpRouteInfo, ref: BackendRefInfo): ServiceInfo | undefined {
    const ns = ref.namespace ?? route.meta.namespace;
    return inv.services.find((s) => s.meta.name === ref.name && sameNamespace(s.meta.namespace, ns));
}

/** HPA scaling this workload, if any. */
export function hpaFor(inv: K8sInventory, w: WorkloadInfo): HpaInfo | undefined {
    const kind = w.type.slice(w.type.lastIndexOf(":") + 1);
    return inv.hpas.find(
        (h) => h.targetKind === kind && h.targetName === w.meta.name && sameNamespace(h.meta.namespace, w.meta.namespace),
    );
}
