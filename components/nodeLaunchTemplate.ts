// Launch-template hardening shared by every EKS managed node group of the platform (system and
// GPU pools), so IMDS and disk settings cannot drift between pools.
// https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Problems, checkInt } from "./validation";

/** Node label naming the pool a node belongs to (`system`, `training`, …). */
export const POOL_LABEL = "mlops.platform/pool";

/**
 * IMDSv2 only, and a hop limit of 1 so containers (one network hop from the host) cannot reach
 * the instance role; pods use workload identity instead. Host-network pods (CNI) still can.
 * https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html
 */
export const NODE_METADATA_OPTIONS = {
    httpEndpoint: "enabled",
    httpTokens: "required",
    httpPutResponseHopLimit: 1,
    instanceMetadataTags: "disabled",
} as const;

/** Bottlerocket keeps the OS on a small volume and images/containers on a second data volume. */
const BOTTLEROCKET_OS_VOLUME_GIB = 8;

export interface NodeDiskSettings {
    /** EKS `amiType` of the node group; decides which device holds container images. */
    amiType: string;
    /** Size of the volume that holds container images (the root volume on AL2023), GiB. */
    volumeSizeGiB: number;
    /** gp3 IOPS, 3000 (baseline, free) to 16000. */
    iops: number;
    /** gp3 throughput, 125 (baseline) to 1000 MiB/s. */
    throughputMiBps: number;
    /** KMS key for the volumes; default the account's `aws/ebs` key. */
    kmsKeyArn?: pulumi.Input<string>;
}

/** @internal Checks disk settings; paths are prefixed with `prefix`. */
export function checkNodeDisk(p: Problems, prefix: string, d: Pick<NodeDiskSettings, "volumeSizeGiB" | "iops" | "throughputMiBps">): void {
    checkInt(p, `${prefix}rootVolumeSizeGiB`, d.volumeSizeGiB, 20, 16384);
    checkInt(p, `${prefix}rootVolumeIops`, d.iops, 3000, 16000);
    if (checkInt(p, `${prefix}rootVolumeThroughput`, d.throughputMiBps, 125, 1000) && typeof d.iops === "number") {
        // gp3 allows at most 0.25 MiB/s per provisioned IOPS.
        p.check(
            d.throughputMiBps <= d.iops / 4,
            `${prefix}rootVolumeThroughput`,
            `gp3 allows at most IOPS/4 MiB/s (${d.iops / 4} with ${d.iops} IOPS), got ${d.throughputMiBps}`,
        );
    }
}

function ebs(sizeGiB: number, d: NodeDiskSettings): aws.types.input.ec2.LaunchTemplateBlockDeviceMappingEbs {
    return {
        volumeType: "gp3",
        volumeSize: sizeGiB,
        iops: d.iops,
        throughput: d.throughputMiBps,
        encrypted: "true",
        deleteOnTermination: "true",
        ...(d.kmsKeyArn ? { kmsKeyId: d.kmsKeyArn } : {}),
    };
}

/** Block devices for an AMI family: one encrypted gp3 root (AL2023) or OS + data volumes (Bottlerocket). */
export function nodeBlockDevices(d: NodeDiskSettings): aws.types.input.ec2.LaunchTemplateBlockDeviceMapping[] {
    if (d.amiType.startsWith("BOTTLEROCKET")) {
        return [
            { deviceName: "/dev/xvda", ebs: ebs(BOTTLEROCKET_OS_VOLUME_GIB, { ...d, iops: 3000, throughputMiBps: 125 }) },
            { deviceName: "/dev/xvdb", ebs: ebs(d.volumeSizeGiB, d) },
        ];
    }
    return [{ deviceName: "/dev/xvda", ebs: ebs(d.volumeSizeGiB, d) }];
}

/**
 * The hardened launch template of one node group. It sets no AMI, instance type, instance profile,
 * subnet or network interfaces: EKS requires those on the node group, and nodes in the platform's
 * private subnets get no public address (EKS follows the subnet's MapPublicIpOnLaunch).
 */
export function nodeLaunchTemplate(
    name: string,
    args: NodeDiskSettings & { description: string; tags: Record<string, string> },
    opts: pulumi.CustomResourceOptions,
): aws.ec2.LaunchTemplate {
    const tags = { ...args.tags, Name: name };
    return new aws.ec2.LaunchTemplate(
        name,
        {
            description: args.description,
            metadataOptions: { ...NODE_METADATA_OPTIONS },
            blockDeviceMappings: nodeBlockDevices(args),
            updateDefaultVersion: true,
            tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags })),
            tags: args.tags,
        },
        opts,
    );
}
