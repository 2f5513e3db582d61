// Recorded resources for the Kubernetes and gating policy specs: a compliant baseline stack the
// specs mutate one property at a time. Shapes follow @pulumi/kubernetes v4 inputs.
import { RecordedResource } from "../../offline-plan/types";
import { recordedResource } from "../helpers/resources";
import { releaseAnnotations, ModelRelease, Track, GateStatus } from "../../release-contract/annotations";

export const NS = "ml-serving";
export const DIGEST = "sha256:" + "a".repeat(64);
export const IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/model-server@${DIGEST}`;
/** The value @pulumi/policy treats as an unknown string (computed during preview). */
export const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A RecordedResource as the engine would register it at the stack root. */
export const res = recordedResource;

export function container(name = "app", extra: Record<string, any> = {}): Record<string, any> {
    return {
        name,
        image: IMAGE,
        ports: [{ containerPort: 8080, name: "http" }],
        resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "1Gi" } },
        securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            runAsUser: 10001,
            privileged: false,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
        },
        readinessProbe: { httpGet: { path: "/ready", port: 8080 } },
        livenessProbe: { httpGet: { path: "/health", port: 8080 } },
        ...extra,
    };
}

export function podSpec(extra: Record<string, any> = {}): Record<string, any> {
    return {
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
        containers: [container()],
        volumes: [{ name: "tmp", emptyDir: {} }],
        ...extra,
    };
}

export interface WorkloadOpts {
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    replicas?: number;
    spec?: Record<string, any>;
}

export function deployment(name: string, o: WorkloadOpts = {}): RecordedResource {
    const labels = o.labels ?? { app: name, "mlops.platform/role": "serving" };
    return res("kubernetes:apps/v1:Deployment", name, {
        metadata: { name, namespace: o.namespace ?? NS, labels, ...(o.annotations ? { annotations: o.annotations } : {}) },
        spec: {
            replicas: o.replicas ?? 2,
            selector: { matchLabels: labels },
            template: { metadata: { labels }, spec: o.spec ?? podSpec() },
        },
    });
}

export function gpuPodSpec(): Record<string, any> {
    const c = container("trainer", {
        resources: { requests: { cpu: "4", memory: "16Gi" }, limits: { memory: "16Gi", "nvidia.com/gpu": 1 } },
    });
    delete c.readinessProbe;
    delete c.livenessProbe;
    delete c.ports;
    return podSpec({
        restartPolicy: "Never",
        containers: [c],
        nodeSelector: { "mlops.platform/pool": "gpu" },
        tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
    });
}

export function job(name: string, specExtra: Record<string, any> = {}, pod: Record<string, any> = gpuPodSpec()): RecordedResource {
    const labels = { app: name, "mlops.platform/role": "training" };
    return res("kubernetes:batch/v1:Job", name, {
        // Submitted to the training queue (k8s-gpu-job-queued): labelled and created suspended.
        metadata: { name, namespace: NS, labels: { ...labels, "kueue.x-k8s.io/queue-name": "training" } },
        spec: {
            suspend: true,
            activeDeadlineSeconds: 21600,
            backoffLimit: 2,
            ttlSecondsAfterFinished: 86400,
            template: { metadata: { labels }, spec: pod },
            ...specExtra,
        },
    });
}

export function cronJob(name: string, specExtra: Record<string, any> = {}, pod: Record<string, any> = gpuPodSpec()): RecordedResource {
    const labels = { app: name, "mlops.platform/role": "training" };
    return res("kubernetes:batch/v1:CronJob", name, {
        metadata: { name, namespace: NS, labels },
        spec: {
            schedule: "0 3 * * 1",
            startingDeadlineSeconds: 3600,
            concurrencyPolicy: "Forbid",
            jobTemplate: {
                metadata: { labels: { "kueue.x-k8s.io/queue-name": "training" } },
                spec: {
                    suspend: true,
                    activeDeadlineSeconds: 21600,
                    backoffLimit: 2,
                    ttlSecondsAfterFinished: 86400,
                    template: { metadata: { labels }, spec: pod },
                },
            },
            ...specExtra,
        },
    });
}

export function service(name: string, selector: Record<string, string>, extra: Record<string, any> = {}, namespace = NS): RecordedResource {
    return res("kubernetes:core/v1:Service", name, {
        metadata: { name, namespace },
        spec: { selector, ports: [{ name: "http", port: 80, targetPort: 8080 }], ...extra },
    });
}

export function pdb(name: string, matchLabels: Record<string, string>, spec: Record<string, any> = { maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow" }): RecordedResource {
    return res("kubernetes:policy/v1:PodDisruptionBudget", name, {
        metadata: { name, namespace: NS },
        spec: { selector: { matchLabels }, ...spec },
    });
}

export function networkPolicy(name: string, podSelector: Record<string, any> = {}, extra: Record<string, any> = {}): RecordedResource {
    return res("kubernetes:networking.k8s.io/v1:NetworkPolicy", name, {
        metadata: { name, namespace: NS },
        spec: { podSelector, policyTypes: ["Ingress"], ...extra },
    });
}

export function namespace(name: string, labels: Record<string, string> = { "pod-security.kubernetes.io/enforce": "restricted" }): RecordedResource {
    return res("kubernetes:core/v1:Namespace", name, { metadata: { name, labels } });
}

export function serviceAccount(name: string, ns = NS): RecordedResource {
    return res("kubernetes:core/v1:ServiceAccount", `${name}-sa`, { metadata: { name, namespace: ns }, automountServiceAccountToken: false });
}

export function httpRoute(name: string, backends: { name: string; weight?: number; port?: number }[][]): RecordedResource {
    return res("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", name, {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name, namespace: NS },
        spec: {
            parentRefs: [{ name: "ml-gateway", namespace: "gateway" }],
            rules: backends.map((refs) => ({ backendRefs: refs.map((b) => ({ port: 80, ...b })) })),
        },
    });
}

export function gpuNodeGroup(name = "gpu", extra: Record<string, any> = {}): RecordedResource {
    return res("aws:eks/nodeGroup:NodeGroup", name, {
        clusterName: "ml",
        nodeGroupName: name,
        amiType: "AL2023_x86_64_NVIDIA",
        instanceTypes: ["g5.xlarge"],
        capacityType: "SPOT",
        labels: { "mlops.platform/pool": "gpu" },
        taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }],
        scalingConfig: { minSize: 0, desiredSize: 0, maxSize: 2 },
        ...extra,
    });
}

export const RELEASE: ModelRelease = {
    model: "churn",
    version: "8",
    modelUri: "models:/churn/8",
    metrics: { f1: 0.85, accuracy: 0.91 },
    baseline: { version: "7", metrics: { f1: 0.8, accuracy: 0.9 }, samples: 20000 },
    evaluation: { samples: 20000 },
    approvedBy: "alice@example.com",
};

/** A serving Deployment carrying a release on a track. */
export function servingDeployment(
    name: string,
    track: Track,
    gate: GateStatus,
    release: ModelRelease = RELEASE,
    o: WorkloadOpts = {},
): RecordedResource {
    return deployment(name, {
        labels: { app: "churn", "mlops.platform/role": "serving", "mlops.platform/track": track },
        annotations: releaseAnnotations(release, track, gate),
        ...o,
    });
}

/** Every Kubernetes object a compliant serving + training stack declares. */
export function compliantK8sStack(): RecordedResource[] {
    const servingLabels = { app: "churn", "mlops.platform/role": "serving" };
    return [
        namespace(NS),
        deployment("churn-server", { labels: servingLabels }),
        service("churn", servingLabels),
        pdb("churn", servingLabels),
        networkPolicy("default-deny", {}, { policyTypes: ["Ingress", "Egress"] }),
        networkPolicy("churn-allow-gateway", { matchLabels: servingLabels }, { ingress: [{ from: [{ namespaceSelector: {} }] }] }),
        job("train-churn-20250101"),
        cronJob("retrain-churn"),
        serviceAccount("churn-server"),
        res("kubernetes:rbac.authorization.k8s.io/v1:Role", "reader", {
            metadata: { name: "reader", namespace: NS },
            rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }],
        }),
        res("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "reader", {
            metadata: { name: "reader", namespace: NS },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
            subjects: [{ kind: "ServiceAccount", name: "churn-server", namespace: NS }],
        }),
    ];
}

/** Deep copy, so a spec can mutate one property of a fixture. */
export function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v));
}

/** Replaces the resource with `urn` by `fn(copy)`. */
export function mutate(resources: RecordedResource[], name: string, fn: (inputs: any) => void): RecordedResource[] {
    let found = false;
    const out = resources.map((r) => {
        if (r.name !== name) return r;
        found = true;
        const c = clone(r);
        fn(c.inputs);
        return c;
    });
    if (!found) throw new Error(`fixture has no resource named ${name}`);
    return out;
}
