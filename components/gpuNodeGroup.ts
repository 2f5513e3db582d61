import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { NODE_TEMPLATE_TAG_PREFIX } from "./clusterAutoscaler";
import { containerResources } from "./k8s-security";
import type { NodeGroupTarget } from "./mlCluster";
import { POOL_LABEL, checkNodeDisk, nodeLaunchTemplate } from "./nodeLaunchTemplate";
import { GPU_RESOURCE, GpuScheduling, Toleration } from "./scheduling";
import { Problems, checkDnsLabel, checkInt, checkOneOf, describe } from "./validation";
import { NVIDIA_DEVICE_PLUGIN_IMAGE } from "./versions";
import { providerOutput } from "./provider-outputs";

/** EKS AMI types for NVIDIA GPUs on x86_64. */
export const GPU_AMI_TYPES = ["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] as const;
export type GpuAmiType = (typeof GPU_AMI_TYPES)[number];

/**
 * Whether the NVIDIA device plugin must be installed: AL2023 NVIDIA AMIs ship the driver and
 * container toolkit but not the plugin; Bottlerocket NVIDIA variants run it on the host.
 * https://docs.aws.amazon.com/eks/latest/userguide/ml-eks-optimized-ami.html
 */
export const AMI_NEEDS_DEVICE_PLUGIN: Readonly<Record<GpuAmiType, boolean>> = {
    AL2023_x86_64_NVIDIA: true,
    BOTTLEROCKET_x86_64_NVIDIA: false,
};

/** Node label every GPU node carries; workloads and the device plugin select it. */
export const GPU_PRESENT_LABEL = "nvidia.com/gpu.present";

/** The taint that keeps non-GPU pods off GPU nodes (key = the resource name). */
export const GPU_TAINT = { key: GPU_RESOURCE, value: "true", effect: "NoSchedule" } as const;

/** Kubernetes taint effect → EKS API enum. */
const EKS_TAINT_EFFECT = { NoSchedule: "NO_SCHEDULE", NoExecute: "NO_EXECUTE", PreferNoSchedule: "PREFER_NO_SCHEDULE" } as const;

/**
 * NVIDIA GPUs per instance type (x86_64 families EKS NVIDIA AMIs run on). The autoscaler reads
 * this count from a tag when the group has no nodes to look at.
 * https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html
 */
export const GPU_COUNT_BY_INSTANCE_TYPE: Readonly<Record<string, number>> = {
    "g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1, "g4dn.8xlarge": 1, "g4dn.16xlarge": 1, "g4dn.12xlarge": 4, "g4dn.metal": 8,
    "g5.xlarge": 1, "g5.2xlarge": 1, "g5.4xlarge": 1, "g5.8xlarge": 1, "g5.16xlarge": 1, "g5.12xlarge": 4, "g5.24xlarge": 4, "g5.48xlarge": 8,
    "g6.xlarge": 1, "g6.2xlarge": 1, "g6.4xlarge": 1, "g6.8xlarge": 1, "g6.16xlarge": 1, "g6.12xlarge": 4, "g6.24xlarge": 4, "g6.48xlarge": 8,
    "g6e.xlarge": 1, "g6e.2xlarge": 1, "g6e.4xlarge": 1, "g6e.8xlarge": 1, "g6e.16xlarge": 1, "g6e.12xlarge": 4, "g6e.24xlarge": 4, "g6e.48xlarge": 8,
    "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8, "p3dn.24xlarge": 8,
    "p4d.24xlarge": 8, "p4de.24xlarge": 8,
    "p5.4xlarge": 1, "p5.48xlarge": 8, "p5e.48xlarge": 8, "p5en.48xlarge": 8,
};

/** GPU model per instance family, as the `k8s.amazonaws.com/accelerator` label value. */
export const GPU_MODEL_BY_FAMILY: Readonly<Record<string, string>> = {
    g4dn: "nvidia-tesla-t4",
    g5: "nvidia-a10g",
    g6: "nvidia-l4",
    g6e: "nvidia-l40s",
    p3: "nvidia-tesla-v100",
    p3dn: "nvidia-tesla-v100",
    p4d: "nvidia-a100",
    p4de: "nvidia-a100",
    p5: "nvidia-h100",
    p5e: "nvidia-h200",
    p5en: "nvidia-h200",
};

/**
 * The label Cluster Autoscaler's AWS provider treats as "this is a GPU node": until the device
 * plugin advertises the GPUs, such a node counts as still starting, so one pending pod does not
 * trigger several scale-ups.
 * https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md#special-note-on-gpu-instances
 */
export const ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator";

/** GPU instance families the table covers. */
export const GPU_INSTANCE_FAMILIES = [...new Set(Object.keys(GPU_COUNT_BY_INSTANCE_TYPE).map((t) => t.split(".")[0]))];

export interface GpuNodeGroupArgs {
    /** The cluster to join (an MlCluster). */
    cluster: NodeGroupTarget;
    /** Pool name (DNS label), the value of the `mlops.platform/pool` label workloads select. Default the component name. */
    pool?: string;
    /** GPU instance types (see {@link GPU_COUNT_BY_INSTANCE_TYPE}); all with the same GPU count. */
    instanceTypes: string[];
    /** NVIDIA AMI: AL2023_x86_64_NVIDIA (default) or BOTTLEROCKET_x86_64_NVIDIA. */
    amiType?: GpuAmiType;
    /** SPOT (cheap, interruptible; training with checkpoints) or ON_DEMAND (default; serving). */
    capacityType?: "SPOT" | "ON_DEMAND";
    /** Minimum nodes; 0 lets the pool scale to zero when idle. Default 0. */
    minSize?: number;
    /** Maximum nodes. Default 2. */
    maxSize?: number;
    /** Nodes at creation (between min and max); afterwards the autoscaler owns it. Default minSize. */
    desiredSize?: number;
    /** Nodes replaced at once during updates. Default 1. */
    maxUnavailable?: number;
    /** Volume holding container images (root on AL2023, data volume on Bottlerocket), GiB. Default 200 (multi-GB CUDA images). */
    rootVolumeSizeGiB?: number;
    /** gp3 IOPS of that volume. Default 3000. */
    rootVolumeIops?: number;
    /** gp3 throughput, MiB/s (image pulls are throughput-bound). Default 250. */
    rootVolumeThroughput?: number;
    /** Extra node labels (also advertised to the autoscaler for scale-from-zero). */
    labels?: Record<string, string>;
    /** Install the NVIDIA device plugin. Default: when the AMI needs it (AL2023 yes, Bottlerocket no). */
    devicePlugin?: boolean;
    /** Device plugin image override (e.g. a digest-pinned ECR mirror). */
    devicePluginImage?: string;
    /** EKS node auto repair (replaces nodes with failed GPUs). Default true. */
    nodeRepair?: boolean;
    /** Tags for every AWS resource. */
    tags?: Record<string, string>;
}

/** Defaults applied by {@link validateGpuNodeGroupArgs}. */
export interface GpuNodeGroupSettings {
    pool: string;
    instanceTypes: string[];
    gpusPerNode: number;
    /** `k8s.amazonaws.com/accelerator` value: the GPU model when all types share it, else `nvidia`. */
    accelerator: string;
    amiType: GpuAmiType;
    capacityType: "SPOT" | "ON_DEMAND";
    minSize: number;
    maxSize: number;
    desiredSize: number;
    maxUnavailable: number;
    rootVolumeSizeGiB: number;
    rootVolumeIops: number;
    rootVolumeThroughput: number;
    labels: Record<string, string>;
    devicePlugin: boolean;
    devicePluginImage: string;
    nodeRepair: boolean;
    tags: Record<string, string>;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Validates GpuNodeGroup args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateGpuNodeGroupArgs(name: string, args: GpuNodeGroupArgs): GpuNodeGroupSettings {
    const p = new Problems("GpuNodeGroup arguments");
    const amiType = args.amiType ?? "AL2023_x86_64_NVIDIA";
    const amiOk = checkOneOf(p, "amiType", amiType, GPU_AMI_TYPES);
    const minSize = args.minSize ?? 0;
    const s: GpuNodeGroupSettings = {
        pool: args.pool ?? name,
        instanceTypes: args.instanceTypes,
        gpusPerNode: 0,
        accelerator: "nvidia",
        amiType,
        capacityType: args.capacityType ?? "ON_DEMAND",
        minSize,
        maxSize: args.maxSize ?? 2,
        desiredSize: args.desiredSize ?? minSize,
        maxUnavailable: args.maxUnavailable ?? 1,
        rootVolumeSizeGiB: args.rootVolumeSizeGiB ?? 200,
        rootVolumeIops: args.rootVolumeIops ?? 3000,
        rootVolumeThroughput: args.rootVolumeThroughput ?? 250,
        labels: args.labels ?? {},
        devicePlugin: args.devicePlugin ?? (amiOk ? AMI_NEEDS_DEVICE_PLUGIN[amiType] : false),
        devicePluginImage: args.devicePluginImage ?? NVIDIA_DEVICE_PLUGIN_IMAGE,
        nodeRepair: args.nodeRepair ?? true,
        tags: args.tags ?? {},
    };
    p.check(args.cluster !== undefined, "cluster", "is required (the MlCluster the pool joins)");
    checkDnsLabel(p, "pool", s.pool);
    if (p.check(Array.isArray(s.instanceTypes) && s.instanceTypes.length > 0, "instanceTypes", "must list at least one GPU instance type")) {
        const counts = new Set<number>();
        s.instanceTypes.forEach((t, i) => {
            const count = GPU_COUNT_BY_INSTANCE_TYPE[t];
            if (count !== undefined) {
                counts.add(count);
                return;
            }
            const family = String(t).split(".")[0];
            p.add(
                `instanceTypes[${i}]`,
                GPU_INSTANCE_FAMILIES.includes(family)
                    ? `${describe(t)} is not a known size of the ${family} GPU family; known: ${Object.keys(GPU_COUNT_BY_INSTANCE_TYPE).filter((k) => k.startsWith(`${family}.`)).join(", ")}`
                    : `${describe(t)} is not an NVIDIA GPU instance type; use one of the families ${GPU_INSTANCE_FAMILIES.join(", ")}`,
            );
        });
        if (counts.size > 1) {
            p.add("instanceTypes", `all types must have the same GPU count (the autoscaler advertises one count per group); got counts ${[...counts].join(", ")}`);
        }
        s.gpusPerNode = counts.size === 1 ? [...counts][0] : 0;
        const models = new Set(s.instanceTypes.map((t) => GPU_MODEL_BY_FAMILY[String(t).split(".")[0]]));
        s.accelerator = models.size === 1 && [...models][0] ? [...models][0] : "nvidia";
    }
    checkOneOf(p, "capacityType", s.capacityType, ["SPOT", "ON_DEMAND"] as const);
    const minOk = checkInt(p, "minSize", s.minSize, 0, 1000);
    const maxOk = checkInt(p, "maxSize", s.maxSize, 1, 1000);
    const desOk = checkInt(p, "desiredSize", s.desiredSize, 0, 1000);
    if (minOk && maxOk) {
        p.check(s.minSize <= s.maxSize, "minSize", `must not exceed maxSize (${s.maxSize}), got ${s.minSize}`);
        if (desOk && s.minSize <= s.maxSize) {
            p.check(
                s.desiredSize >= s.minSize && s.desiredSize <= s.maxSize,
                "desiredSize",
                `must be within minSize..maxSize (${s.minSize}..${s.maxSize}), got ${s.desiredSize}`,
            );
        }
    }
    checkInt(p, "maxUnavailable", s.maxUnavailable, 1, 100);
    checkNodeDisk(p, "", { volumeSizeGiB: s.rootVolumeSizeGiB, iops: s.rootVolumeIops, throughputMiBps: s.rootVolumeThroughput });
    for (const [k, v] of Object.entries(s.labels)) {
        p.check(LABEL_KEY.test(k) && k.length <= 316, `labels.${k}`, "must be a Kubernetes label key (optional DNS prefix, then a name of at most 63 characters)");
        p.check(typeof v === "string" && LABEL_VALUE.test(v), `labels.${k}`, `value must be a Kubernetes label value (at most 63 alphanumerics, '-', '_', '.'), got ${describe(v)}`);
        p.check(
            k !== POOL_LABEL && k !== GPU_PRESENT_LABEL && k !== ACCELERATOR_LABEL && !k.startsWith("eks.amazonaws.com/") && !k.startsWith("kubernetes.io/"),
            `labels.${k}`,
            `is reserved (set by the pool or by EKS)`,
        );
    }
    p.check(typeof s.devicePlugin === "boolean", "devicePlugin", `must be true or false, got ${describe(args.devicePlugin)}`);
    if (amiOk && s.devicePlugin && !AMI_NEEDS_DEVICE_PLUGIN[amiType]) {
        p.add("devicePlugin", `${amiType} runs the NVIDIA device plugin on the host; a second plugin would register ${GPU_RESOURCE} twice`);
    }
    p.check(typeof s.devicePluginImage === "string" && /^\S+$/.test(s.devicePluginImage), "devicePluginImage", `must be an image reference, got ${describe(args.devicePluginImage)}`);
    p.throwIfAny();
    return s;
}

/** Node labels of a pool. */
export function gpuNodeLabels(pool: string, accelerator: string, extra: Record<string, string> = {}): Record<string, string> {
    return { ...extra, [GPU_PRESENT_LABEL]: "true", [POOL_LABEL]: pool, [ACCELERATOR_LABEL]: accelerator };
}

/** The scheduling contract of a pool, built from the same constants as its taint and labels. */
export function gpuScheduling(pool: string): GpuScheduling {
    const toleration: Toleration = { key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect };
    return { nodeSelector: { [GPU_PRESENT_LABEL]: "true", [POOL_LABEL]: pool }, tolerations: [toleration], resourceName: GPU_RESOURCE };
}

/**
 * Cluster Autoscaler node-template tags for a pool's Auto Scaling group: with no node to inspect,
 * the autoscaler learns the labels, taint and GPU capacity a new node would have from these.
 * https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md#auto-discovery-setup
 */
export function scaleFromZeroTags(
    s: Pick<GpuNodeGroupSettings, "pool" | "accelerator" | "labels" | "gpusPerNode" | "rootVolumeSizeGiB" | "capacityType">,
): Record<string, string> {
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(gpuNodeLabels(s.pool, s.accelerator, s.labels))) {
        tags[`${NODE_TEMPLATE_TAG_PREFIX}/label/${k}`] = v;
    }
    // EKS labels nodes with their capacity type; serving pools are often selected by it.
    tags[`${NODE_TEMPLATE_TAG_PREFIX}/label/eks.amazonaws.com/capacityType`] = s.capacityType;
    tags[`${NODE_TEMPLATE_TAG_PREFIX}/taint/${GPU_TAINT.key}`] = `${GPU_TAINT.value}:${GPU_TAINT.effect}`;
    tags[`${NODE_TEMPLATE_TAG_PREFIX}/resources/${GPU_RESOURCE}`] = String(s.gpusPerNode);
    tags[`${NODE_TEMPLATE_TAG_PREFIX}/resources/ephemeral-storage`] = `${s.rootVolumeSizeGiB}Gi`;
    return tags;
}

/** Resource-name suffix for a tag key: stable and readable. @internal */
function tagSlug(key: string): string {
    return key
        .slice(NODE_TEMPLATE_TAG_PREFIX.length + 1)
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, "");
}

/**
 * GpuNodeGroup: an EKS managed node group of NVIDIA GPU instances that scales to zero and back —
 * hardened launch template with a large encrypted gp3 volume for ML images, the `nvidia.com/gpu`
 * NoSchedule taint, pool labels, Cluster Autoscaler node-template tags on its Auto Scaling group,
 * the NVIDIA device plugin when the AMI lacks it, and the {@link GpuScheduling} contract for workloads.
 */
export class GpuNodeGroup extends pulumi.ComponentResource {
    public readonly nodeGroupName: pulumi.Output<string>;
    /** Name of the node group's Auto Scaling group (carries the scale-from-zero tags). */
    public readonly autoScalingGroupName: pulumi.Output<string>;
    /** What a GPU workload must set to run on this pool. */
    public readonly scheduling: GpuScheduling;
    /** GPUs per node of this pool. */
    public readonly gpusPerNode: number;
    public readonly pool: string;

    constructor(name: string, args: GpuNodeGroupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:GpuNodeGroup", name, {}, opts);
        const s = validateGpuNodeGroupArgs(name, args);
        const child: pulumi.CustomResourceOptions = { parent: this };
        const cluster = args.cluster;
        const labels = gpuNodeLabels(s.pool, s.accelerator, s.labels);
        const tags = { ...s.tags, [POOL_LABEL]: s.pool };

        const template = nodeLaunchTemplate(
            `${name}-lt`,
            {
                amiType: s.amiType,
                volumeSizeGiB: s.rootVolumeSizeGiB,
                iops: s.rootVolumeIops,
                throughputMiBps: s.rootVolumeThroughput,
                description: `GPU pool ${s.pool}`,
                ...(cluster.ebsKmsKeyArn ? { kmsKeyArn: cluster.ebsKmsKeyArn } : {}),
                tags,
            },
            child,
        );
        const nodeGroup = new aws.eks.NodeGroup(
            `${name}-nodes`,
            {
                clusterName: cluster.clusterName,
                version: cluster.kubernetesVersion,
                nodeRoleArn: cluster.nodeRoleArn,
                subnetIds: cluster.privateSubnetIds,
                amiType: s.amiType,
                capacityType: s.capacityType,
                instanceTypes: s.instanceTypes,
                scalingConfig: { minSize: s.minSize, maxSize: s.maxSize, desiredSize: s.desiredSize },
                updateConfig: { maxUnavailable: s.maxUnavailable },
                launchTemplate: { id: template.id, version: template.latestVersion.apply((v) => String(v)) },
                labels,
                taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: EKS_TAINT_EFFECT[GPU_TAINT.effect] }],
                nodeRepairConfig: { enabled: s.nodeRepair },
                tags,
            },
            // The Cluster Autoscaler owns the node count after creation.
            { parent: this, dependsOn: cluster.nodeDependencies ?? [], ignoreChanges: ["scalingConfig.desiredSize"] },
        );
        this.nodeGroupName = nodeGroup.nodeGroupName;
        this.autoScalingGroupName = nodeGroup.resources.apply((r) =>
            providerOutput(r?.[0]?.autoscalingGroups?.[0]?.name, {
                component: `GpuNodeGroup ${name}`,
                resourceType: "aws:eks/nodeGroup:NodeGroup",
                output: "resources[0].autoscalingGroups[0].name",
                resource: this,
            }),
        );

        for (const [key, value] of Object.entries(scaleFromZeroTags(s))) {
            new aws.autoscaling.Tag(
                `${name}-asg-${tagSlug(key)}`,
                { autoscalingGroupName: this.autoScalingGroupName, tag: { key, value, propagateAtLaunch: false } },
                child,
            );
        }

        this.scheduling = gpuScheduling(s.pool);
        if (s.devicePlugin) {
            this.createDevicePlugin(name, s, cluster.provider);
        }
        this.gpusPerNode = s.gpusPerNode;
        this.pool = s.pool;
        this.registerOutputs({ nodeGroupName: this.nodeGroupName, autoScalingGroupName: this.autoScalingGroupName });
    }

    /**
     * The NVIDIA device plugin for this pool's nodes only. It is the one pod the platform runs
     * with a hostPath (kubelet's device-plugin socket directory) and as root (it opens the GPU
     * devices); it still drops every capability and cannot escalate. Its root filesystem stays
     * writable: the NVIDIA container runtime hooks write into it (kserve/kserve#5711).
     */
    private createDevicePlugin(name: string, s: GpuNodeGroupSettings, provider: k8s.Provider): void {
        const labels = { "app.kubernetes.io/name": "nvidia-device-plugin", "app.kubernetes.io/instance": s.pool, "app.kubernetes.io/part-of": "mlops-platform" };
        new k8s.apps.v1.DaemonSet(
            `${name}-device-plugin`,
            {
                metadata: { name: `nvidia-device-plugin-${s.pool}`, namespace: "kube-system", labels },
                spec: {
                    selector: { matchLabels: labels },
                    updateStrategy: { type: "RollingUpdate" },
                    template: {
                        metadata: { labels },
                        spec: {
                            nodeSelector: this.scheduling.nodeSelector,
                            tolerations: this.scheduling.tolerations,
                            priorityClassName: "system-node-critical",
                            automountServiceAccountToken: false,
                            securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                            containers: [
                                {
                                    name: "nvidia-device-plugin",
                                    image: s.devicePluginImage,
                                    imagePullPolicy: "IfNotPresent",
                                    // Only GPU nodes run it, so an init failure is a real fault.
                                    env: [{ name: "FAIL_ON_INIT_ERROR", value: "true" }],
                                    resources: containerResources({ cpu: "50m", memory: "64Mi", memoryLimit: "128Mi" }),
                                    securityContext: {
                                        allowPrivilegeEscalation: false,
                                        privileged: false,
                                        readOnlyRootFilesystem: false,
                                        capabilities: { drop: ["ALL"] },
                                        seccompProfile: { type: "RuntimeDefault" },
                                    },
                                    volumeMounts: [{ name: "device-plugins", mountPath: "/var/lib/kubelet/device-plugins" }],
                                },
                            ],
                            volumes: [{ name: "device-plugins", hostPath: { path: "/var/lib/kubelet/device-plugins", type: "Directory" } }],
                        },
                    },
                },
            },
            { parent: this, provider },
        );
    }
}
