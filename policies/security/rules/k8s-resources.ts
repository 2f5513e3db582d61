// Shared reading of Kubernetes resources as policies see them: type tokens, where the pod spec
// lives per kind, label selectors, configurable exemptions, and reads that tolerate values
// unknown during preview. Used by the security pack's k8s rules and by the gating pack.
import { PolicyConfigJSONSchema } from "@pulumi/policy/schema";

/** Pulumi type tokens (checked against @pulumi/kubernetes v4). */
export const K8S = {
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    daemonSet: "kubernetes:apps/v1:DaemonSet",
    replicaSet: "kubernetes:apps/v1:ReplicaSet",
    job: "kubernetes:batch/v1:Job",
    cronJob: "kubernetes:batch/v1:CronJob",
    pod: "kubernetes:core/v1:Pod",
    service: "kubernetes:core/v1:Service",
    serviceAccount: "kubernetes:core/v1:ServiceAccount",
    namespace: "kubernetes:core/v1:Namespace",
    configMap: "kubernetes:core/v1:ConfigMap",
    secret: "kubernetes:core/v1:Secret",
    networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    podDisruptionBudget: "kubernetes:policy/v1:PodDisruptionBudget",
    hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
    roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    helmReleaseV3: "kubernetes:helm.sh/v3:Release",
    httpRoute: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
} as const;

/** K8S_WL: the kinds that carry a pod template (or are a Pod). */
export const WORKLOAD_TYPES: readonly string[] = [
    K8S.deployment,
    K8S.statefulSet,
    K8S.daemonSet,
    K8S.replicaSet,
    K8S.job,
    K8S.cronJob,
    K8S.pod,
];

export function isWorkloadType(type: string): boolean {
    return WORKLOAD_TYPES.includes(type);
}

/** Short kind for messages: `kubernetes:apps/v1:Deployment` -> `Deployment`. */
export function kindOf(type: string): string {
    const i = type.lastIndexOf(":");
    return i >= 0 ? type.slice(i + 1) : type;
}

// ---------------------------------------------------------------------------------------------
// Values unknown during preview
// ---------------------------------------------------------------------------------------------

/** Marker returned by `lit` when a value is not known yet (preview, computed from an output). */
export const UNKNOWN: unique symbol = Symbol("unknown");
export type Unknown = typeof UNKNOWN;

/**
 * True for the error @pulumi/policy's property proxy throws when a policy touches a value unknown
 * during preview (the class is internal to the package, so compare by name).
 */
export function isUnknownValueError(e: unknown): boolean {
    return e instanceof Error && e.constructor.name === "UnknownValueError";
}

/**
 * Reads `get()`; returns UNKNOWN instead of throwing when the value is unknown during preview.
 * Stack policies use it so that one computed value does not downgrade the whole policy to
 * advisory; gates use it to fail closed on annotations that are not literal.
 */
export function lit<T>(get: () => T): T | Unknown {
    try {
        return get();
    } catch (e) {
        if (isUnknownValueError(e)) {
            return UNKNOWN;
        }
        throw e;
    }
}

/** A string map (labels, annotations, selectors) with its non-literal keys set aside. */
export interface StringMap {
    values: Record<string, string>;
    unknownKeys: string[];
}

/** Copies a string map entry by entry so one computed value does not hide the literal ones. */
export function readStringMap(get: () => unknown): StringMap {
    const out: StringMap = { values: {}, unknownKeys: [] };
    const obj = lit(get);
    if (obj === UNKNOWN) {
        out.unknownKeys.push("*");
        return out;
    }
    if (!obj || typeof obj !== "object") {
        return out;
    }
    for (const key of Object.keys(obj)) {
        const v = lit(() => (obj as Record<string, unknown>)[key]);
        if (v === UNKNOWN) {
            out.unknownKeys.push(key);
        } else if (v !== undefined && v !== null) {
            out.values[key] = String(v);
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Metadata, pod specs, containers
// ---------------------------------------------------------------------------------------------

export interface K8sMeta {
    /** metadata.name, else the Pulumi logical name (the provider auto-names from it). */
    name: string;
    /** metadata.namespace; undefined when not set literally (the provider's default applies) or unknown. */
    namespace?: string;
    /**
     * True when metadata.namespace is set but unknown (during a first preview it comes from a
     * Namespace the same stack creates). Not "unset": rules must not judge it, and `pulumi up`
     * runs the policies again with the value known.
     */
    namespaceUnknown?: boolean;
    labels: Record<string, string>;
    annotations: Record<string, string>;
}

export function metaOf(props: Record<string, any>, logicalName: string): K8sMeta {
    const name = lit(() => props.metadata?.name);
    const namespace = lit(() => props.metadata?.namespace);
    return {
        name: typeof name === "string" && name ? name : logicalName,
        namespace: typeof namespace === "string" && namespace ? namespace : undefined,
        namespaceUnknown: namespace === UNKNOWN,
        labels: readStringMap(() => props.metadata?.labels).values,
        annotations: readStringMap(() => props.metadata?.annotations).values,
    };
}

export interface PodSpecRef {
    spec: Record<string, any>;
    /** Property path of the pod spec, for messages. */
    path: string;
    /** Labels of the pods this resource creates (template labels, or the Pod's own). */
    podLabels: Record<string, string>;
    /** Annotations of those pods. */
    podAnnotations: Record<string, string>;
}

/** Finds the pod spec of a K8S_WL resource; undefined for other kinds or an absent template. */
export function podSpecOf(type: string, props: Record<string, any>): PodSpecRef | undefined {
    let holder: any; // the object with { metadata, spec } describing the pods
    let path: string;
    if (type === K8S.pod) {
        holder = props;
        path = "spec";
    } else if (type === K8S.cronJob) {
        holder = props.spec?.jobTemplate?.spec?.template;
        path = "spec.jobTemplate.spec.template.spec";
    } else if (isWorkloadType(type)) {
        holder = props.spec?.template;
        path = "spec.template.spec";
    } else {
        return undefined;
    }
    if (!holder?.spec) {
        return undefined;
    }
    return {
        spec: holder.spec,
        path,
        podLabels: readStringMap(() => holder.metadata?.labels).values,
        podAnnotations: readStringMap(() => holder.metadata?.annotations).values,
    };
}

export type ContainerKind = "containers" | "initContainers" | "ephemeralContainers";

export interface ContainerRef {
    container: Record<string, any>;
    kind: ContainerKind;
    name: string;
    /** e.g. `spec.template.spec.containers[0]` */
    path: string;
}

/** All containers of a pod spec; `kinds` narrows (probes and resources only concern app containers). */
export function containersOf(
    pod: PodSpecRef,
    kinds: readonly ContainerKind[] = ["initContainers", "containers", "ephemeralContainers"],
): ContainerRef[] {
    const out: ContainerRef[] = [];
    for (const kind of kinds) {
        const list = pod.spec[kind];
        if (!Array.isArray(list)) {
            continue;
        }
        list.forEach((c: any, i: number) => {
            const n = lit(() => c?.name);
            out.push({
                container: c ?? {},
                kind,
                name: typeof n === "string" ? n : `#${i}`,
                path: `${pod.path}.${kind}[${i}]`,
            });
        });
    }
    return out;
}

/** `Deployment ml-serving/iris-stable` */
export function describeResource(type: string, meta: K8sMeta): string {
    return `${kindOf(type)} ${meta.namespace ? meta.namespace + "/" : ""}${meta.name}`;
}

// ---------------------------------------------------------------------------------------------
// Patterns, exemptions, selectors
// ---------------------------------------------------------------------------------------------

/** Glob match where `*` matches any run of characters (including `/` and `.`). */
export function globMatch(pattern: string, value: string): boolean {
    const re = "^" + pattern.split("*").map(escapeRegExp).join(".*") + "$";
    return new RegExp(re).test(value);
}

function escapeRegExp(s: string): string {
    return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/** One configured exemption: both patterns must match (use "*" on purpose to widen). */
export interface Exemption {
    namespace: string;
    name: string;
    /** Why it is exempt; shown in the not-applicable reason. */
    reason?: string;
}

export const exemptionsSchema: PolicyConfigJSONSchema = {
    type: "array",
    description:
        "Resources this policy does not apply to, by metadata namespace and name glob patterns " +
        '(e.g. { "namespace": "kube-system", "name": "nvidia-device-plugin*" }). Both are required.',
    items: {
        type: "object",
        properties: {
            namespace: { type: "string", minLength: 1 },
            name: { type: "string", minLength: 1 },
            reason: { type: "string" },
        },
        required: ["namespace", "name"],
        additionalProperties: false,
    },
    default: [],
};

/** The exemption matching `meta`, if any. A missing namespace only matches the pattern "*". */
export function findExemption(exemptions: readonly Exemption[] | undefined, meta: K8sMeta): Exemption | undefined {
    // An unknown namespace (first preview) cannot be matched yet: the name decides at preview, and
    // `pulumi up` checks again with the namespace known, so an exemption never widens beyond its
    // namespace for what is deployed.
    return (exemptions ?? []).find(
        (e) =>
            typeof e?.namespace === "string" &&
            typeof e?.name === "string" &&
            (meta.namespaceUnknown === true || globMatch(e.namespace, meta.namespace ?? "")) &&
            globMatch(e.name, meta.name),
    );
}

export interface LabelSelector {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/**
 * Kubernetes label selector semantics. `emptyMatchesAll`: an empty LabelSelector selects every
 * pod (NetworkPolicy podSelector, PDB in policy/v1); a Service's empty map selects none.
 */
export function selectorMatches(
    selector: LabelSelector | undefined,
    labels: Record<string, string>,
    emptyMatchesAll: boolean,
): boolean {
    const ml = selector?.matchLabels ?? {};
    const me = selector?.matchExpressions ?? [];
    if (Object.keys(ml).length === 0 && me.length === 0) {
        return emptyMatchesAll;
    }
    for (const [k, v] of Object.entries(ml)) {
        if (labels[k] !== v) {
            return false;
        }
    }
    for (const e of me) {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        const vals = e.values ?? [];
        switch (e.operator) {
            case "In":
                if (!has || !vals.includes(labels[e.key])) return false;
                break;
            case "NotIn":
                if (has && vals.includes(labels[e.key])) return false;
                break;
            case "Exists":
                if (!has) return false;
                break;
            case "DoesNotExist":
                if (has) return false;
                break;
            default:
                return false;
        }
    }
    return true;
}

/** An empty LabelSelector (selects every pod where empty means all). */
export function isEmptySelector(selector: LabelSelector | undefined): boolean {
    return Object.keys(selector?.matchLabels ?? {}).length === 0 && (selector?.matchExpressions ?? []).length === 0;
}

/** Reads a LabelSelector literally; undefined if any part of it is unknown. */
export function readLabelSelector(get: () => any): LabelSelector | undefined | Unknown {
    const sel = lit(get);
    if (sel === UNKNOWN) return UNKNOWN;
    if (!sel) return undefined;
    const ml = readStringMap(() => sel.matchLabels);
    if (ml.unknownKeys.length) return UNKNOWN;
    const me = lit(() =>
        Array.isArray(sel.matchExpressions)
            ? sel.matchExpressions.map((e: any) => ({
                  key: String(e.key),
                  operator: String(e.operator),
                  values: Array.isArray(e.values) ? e.values.map(String) : undefined,
              }))
            : [],
    );
    if (me === UNKNOWN) return UNKNOWN;
    return { matchLabels: ml.values, matchExpressions: me };
}

/** Kubernetes quantity to a number (GPU counts, replica-like integers); NaN when unparsable. */
export function quantityToNumber(q: unknown): number {
    if (typeof q === "number") return q;
    if (typeof q !== "string") return NaN;
    const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q.trim());
    if (!m) return NaN;
    const n = Number(m[1]);
    const mult: Record<string, number> = {
        m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
    };
    return m[2] ? n * mult[m[2]] : n;
}

/** Merges a policy's getConfig() result over its defaults (the CLI fills schema defaults, other callers may not). */
export function withDefaults<T extends object>(defaults: T, config: Partial<T> | undefined): T {
    const out: any = { ...defaults };
    for (const [k, v] of Object.entries(config ?? {})) {
        if (v !== undefined && v !== null) out[k] = v;
    }
    return out;
}
