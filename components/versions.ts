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

/**
 * kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana, kube-state-metrics,
 * node-exporter), pinned. Distributed as an OCI artifact and a classic repository
 * (https://github.com/prometheus-community/helm-charts/tree/main/charts/kube-prometheus-stack#usage);
 * release notes: https://github.com/prometheus-community/helm-charts/releases/tag/kube-prometheus-stack-91.4.1
 */
export const KUBE_PROMETHEUS_STACK_CHART = {
    chart: "kube-prometheus-stack",
    repo: "https://prometheus-community.github.io/helm-charts",
    version: "91.4.1",
} as const;

/**
 * NVIDIA DCGM exporter (GPU utilisation and memory per GPU), pinned. Chart 4.8.1 ships image
 * 4.5.2-4.8.1 (DCGM 4.5.2 paired with exporter 4.8.1; NVIDIA requires the paired versions).
 * https://nvidia.github.io/dcgm-exporter/ , https://docs.nvidia.com/datacenter/dcgm/latest/installation/install-dcgm-exporter.html
 */
export const DCGM_EXPORTER_CHART = {
    chart: "dcgm-exporter",
    repo: "https://nvidia.github.io/dcgm-exporter/helm-charts",
    version: "4.8.1",
} as const;

/**
 * Prometheus Pushgateway (batch jobs such as the drift check push their results here), pinned by
 * tag like the other upstream images; stacks that require digests pass a digest-pinned mirror.
 * https://github.com/prometheus/pushgateway/blob/master/CHANGELOG.md (1.11.2, 2025-10-30)
 */
export const PUSHGATEWAY_IMAGE = "quay.io/prometheus/pushgateway:v1.11.2";

/**
 * Kueue (job queueing: quotas, queues, priorities, all-or-nothing admission), pinned. Published as
 * an OCI chart (https://github.com/kubernetes-sigs/kueue/tree/v0.19.2/charts/kueue#installation);
 * its API is kueue.x-k8s.io/v1beta2 (v1beta1 is still served but deprecated in 0.19). The CRD
 * schemas the offline plan validates against are vendored from the same tag (offline-plan/crds/).
 */
export const KUEUE_CHART = {
    chart: "oci://registry.k8s.io/kueue/charts/kueue",
    version: "0.19.2",
    image: "registry.k8s.io/kueue/kueue:v0.19.2",
    apiVersion: "kueue.x-k8s.io/v1beta2",
} as const;
