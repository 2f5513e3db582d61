// Pod hardening shared by every workload the platform runs: Pod Security Standards "restricted"
// security contexts, resource requests/limits, scratch volumes, namespace labels.
// https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
import * as k8s from "@pulumi/kubernetes";

type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;
type ResourceRequirements = k8s.types.input.core.v1.ResourceRequirements;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

/** Non-root uid/gid the platform's images run as. */
export const WORKLOAD_UID = 10001;

/** Labels that make a namespace enforce the Pod Security "restricted" profile. */
export const RESTRICTED_NAMESPACE_LABELS: Readonly<Record<string, string>> = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
};

/** Pod-level security context satisfying the restricted profile. */
export function restrictedPodSecurityContext(uid: number = WORKLOAD_UID): PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        fsGroup: uid,
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Container-level security context satisfying the restricted profile, with a read-only root filesystem. */
export function restrictedContainerSecurityContext(uid: number = WORKLOAD_UID): SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Compute a container asks for. */
export interface ResourceSpec {
    /** CPU request, e.g. "500m". */
    cpu: string;
    /** Memory request (and limit unless memoryLimit is set), e.g. "1Gi". */
    memory: string;
    /** CPU limit; unset by default (CPU limits throttle latency-sensitive servers). */
    cpuLimit?: string;
    /** Memory limit; defaults to the request (no overcommit of memory). */
    memoryLimit?: string;
    /** GPUs (`nvidia.com/gpu`), set as a limit as Kubernetes requires for extended resources. */
    gpus?: number;
}

/** Requests and limits for a container from a {@link ResourceSpec}. */
export function containerResources(spec: ResourceSpec, gpuResourceName: string = "nvidia.com/gpu"): ResourceRequirements {
    const limits: Record<string, string> = { memory: spec.memoryLimit ?? spec.memory };
    if (spec.cpuLimit) {
        limits.cpu = spec.cpuLimit;
    }
    if (spec.gpus && spec.gpus > 0) {
        limits[gpuResourceName] = String(spec.gpus);
    }
    return { requests: { cpu: spec.cpu, memory: spec.memory }, limits };
}

/** A writable emptyDir (the root filesystem is read-only), optionally memory-backed. */
export function scratchVolume(
    name: string,
    mountPath: string,
    sizeLimit: string,
    medium?: "Memory",
): { volume: Volume; mount: VolumeMount } {
    return {
        volume: { name, emptyDir: { sizeLimit, ...(medium ? { medium } : {}) } },
        mount: { name, mountPath },
    };
}
