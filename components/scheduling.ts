// The contract between GPU node pools and the workloads that run on them, defined once so the
// taint a pool carries and the toleration a workload needs cannot drift apart.

/** The extended resource NVIDIA's device plugin advertises. */
export const GPU_RESOURCE = "nvidia.com/gpu";

export interface Toleration {
    key: string;
    operator: "Exists" | "Equal";
    value?: string;
    effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

/** What a GPU workload must carry to land on a GPU pool. */
export interface GpuScheduling {
    /** Node labels the workload selects (e.g. the pool label). */
    nodeSelector: Record<string, string>;
    /** Tolerations matching the pool's taints. */
    tolerations: Toleration[];
    /** Resource name to request in `limits`. */
    resourceName: typeof GPU_RESOURCE;
}
