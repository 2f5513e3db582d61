// Pinned versions of the compute layer: the Kubernetes minors the platform supports on EKS and the
// images it runs outside ECR, each matched to the Kubernetes minor where upstream requires it.
// Images are pinned by tag here; stacks that require digests (the security pack's default) pass a
// digest-pinned mirror through the components' image arguments.

/** Kubernetes minors the platform supports on EKS standard support. */
export const SUPPORTED_KUBERNETES_VERSIONS = ["1.32", "1.33", "1.34", "1.35"] as const;
export type KubernetesVersion = (typeof SUPPORTED_KUBERNETES_VERSIONS)[number];

/** Default Kubernetes minor for new clusters. */
export const DEFAULT_KUBERNETES_VERSION: KubernetesVersion = "1.34";

/**
 * Cluster Autoscaler image per Kubernetes minor: upstream supports each CA minor only with the
 * same Kubernetes minor (https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler#releases).
 */
export const CLUSTER_AUTOSCALER_IMAGES: Readonly<Record<KubernetesVersion, string>> = {
    "1.32": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.5",
    "1.33": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.6",
    "1.34": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.5",
    "1.35": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2",
};

/** NVIDIA device plugin (advertises `nvidia.com/gpu`), for AMIs that do not ship it. */
export const NVIDIA_DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.18.2";

/** The EKS managed addons every MlCluster installs. */
export const EKS_ADDONS = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver"] as const;
export type EksAddonName = (typeof EKS_ADDONS)[number];

/** EKS addon version strings, e.g. `v1.20.4-eksbuild.1`. */
export const EKS_ADDON_VERSION = /^v\d+\.\d+\.\d+-eksbuild\.\d+$/;
