import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterAutoscaler } from "./clusterAutoscaler";
import { PolicyDocument, policyJson, serviceTrust } from "./iam";
import { KMS_CRYPTO_ACTIONS, customerManagedKey } from "./kms";
import { LOG_RETENTION_DAYS, parseCidr } from "./network";
import { NodeDiskSettings, POOL_LABEL, checkNodeDisk, nodeLaunchTemplate } from "./nodeLaunchTemplate";
import { Problems, checkInt, checkOneOf, describe } from "./validation";
import {
    CLUSTER_AUTOSCALER_IMAGES,
    DEFAULT_KUBERNETES_VERSION,
    EKS_ADDONS,
    EKS_ADDON_VERSION,
    EksAddonName,
    KubernetesVersion,
    SUPPORTED_KUBERNETES_VERSIONS,
} from "./versions";
import { WorkloadIdentity, WorkloadIdentityMode } from "./workloadIdentity";

/** Every EKS control-plane log type. */
export const CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"] as const;

/** EKS access policy that grants cluster-admin through an access entry. */
export const CLUSTER_ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy";

/** Pool label value of the CPU node group for platform services. */
export const SYSTEM_POOL = "system";

/** Name of the default StorageClass MlCluster creates. */
export const DEFAULT_STORAGE_CLASS = "gp3-encrypted";

/** Managed policies of the node role. Deliberately no S3 or other data access: pods use workload identity. */
export const NODE_ROLE_MANAGED_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"] as const;

const AUTOSCALER_EXPANDERS = ["least-waste", "random", "most-pods", "price", "priority"] as const;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
const PRINCIPAL_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/;
const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const DURATION = /^\d+[smh]$/;

/** The CPU node group for platform services (tracking server, autoscaler, CoreDNS). */
export interface SystemNodeGroupArgs {
    /** Instance types (on-demand). Default `["m6i.large"]`. */
    instanceTypes?: string[];
    /** Minimum nodes, at least 1 (CoreDNS and the autoscaler live here). Default 2. */
    minSize?: number;
    /** Maximum nodes. Default 4. */
    maxSize?: number;
    /** Nodes at creation; afterwards the autoscaler owns the count. Default minSize. */
    desiredSize?: number;
    /** Root volume (gp3, encrypted), GiB. Default 50. */
    rootVolumeSizeGiB?: number;
}

export interface ClusterAutoscalerOptions {
    /** Install the Cluster Autoscaler. Default true (GPU pools cannot scale from zero without it). */
    enabled?: boolean;
    /** Image override, e.g. a digest-pinned mirror in ECR. Default the upstream image for the cluster's minor. */
    image?: string;
    /** Time a node must be unneeded before removal. Default `10m`. */
    scaleDownUnneededTime?: string;
    /** Expander: least-waste (default), random, most-pods, price, priority. */
    expander?: string;
    /** Time allowed for a new node to register. Default `15m` (GPU AMIs boot slowly). */
    maxNodeProvisionTime?: string;
}

export interface MlClusterArgs {
    /** EKS cluster name (1-100 letters, digits, `-`, `_`). Default the component name. Fixed so the control-plane log group can be created first. */
    clusterName?: string;
    /** Kubernetes minor, one of the supported versions. Default {@link DEFAULT_KUBERNETES_VERSION}. */
    kubernetesVersion?: string;
    /** Private subnets (two AZs at least) for the control plane ENIs and nodes. */
    privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** Public API endpoint. Default false (private only; reach the API from inside the VPC). */
    endpointPublicAccess?: boolean;
    /** CIDRs allowed to reach a public endpoint; required when it is on; never 0.0.0.0/0 or ::/0. */
    publicAccessCidrs?: string[];
    /** IAM role (or user) ARNs that get cluster-admin through access entries. The cluster creator gets no implicit access. */
    adminRoleArns?: string[];
    /** The CI deploy role (CiAccess.deployRoleArn); gets cluster-admin so `pulumi up` can manage Kubernetes objects. */
    ciDeployRoleArn?: pulumi.Input<string>;
    /** Pinned EKS addon versions (`v1.20.4-eksbuild.1`); an addon without one gets EKS's default version for the Kubernetes minor. */
    addonVersions?: Partial<Record<EksAddonName, string>>;
    /** The CPU system node group. */
    systemNodeGroup?: SystemNodeGroupArgs;
    /** Days control-plane logs are kept; a CloudWatch retention value. Default 90. */
    logRetentionDays?: number;
    /** EKS deletion protection. Default true; turn off for throwaway stacks. */
    deletionProtection?: boolean;
    /** Keep the KMS keys on destroy (`protect` + `retainOnDelete`). Default false. */
    protect?: boolean;
    /** Version support policy: STANDARD (default; upgrade on time) or EXTENDED (paid extended support). */
    supportType?: "STANDARD" | "EXTENDED";
    /** Cluster Autoscaler settings. */
    autoscaler?: ClusterAutoscalerOptions;
    /**
     * Turn on EBS encryption by default in the region (covers volumes no launch template describes,
     * e.g. from other tools). Default true. Account-wide; retained on destroy so a teardown never
     * turns it off for others.
     */
    ebsEncryptionByDefault?: boolean;
    /** Default mode of {@link MlCluster.workloadIdentity}: podIdentity (default) or irsa (also creates the IAM OIDC provider). */
    workloadIdentityMode?: WorkloadIdentityMode;
    /** Tags for every AWS resource. */
    tags?: Record<string, string>;
}

/** Defaults applied by {@link validateMlClusterArgs}. */
export interface MlClusterSettings {
    clusterName: string;
    kubernetesVersion: KubernetesVersion;
    endpointPublicAccess: boolean;
    publicAccessCidrs: string[];
    adminRoleArns: string[];
    addonVersions: Partial<Record<EksAddonName, string>>;
    system: Required<SystemNodeGroupArgs>;
    logRetentionDays: number;
    deletionProtection: boolean;
    protect: boolean;
    supportType: "STANDARD" | "EXTENDED";
    autoscaler: Required<Omit<ClusterAutoscalerOptions, "image">> & { image: string };
    workloadIdentityMode: WorkloadIdentityMode;
    ebsEncryptionByDefault: boolean;
    tags: Record<string, string>;
}

/**
 * Configuration of the `vpc-cni` addon. The VPC CNI ignores NetworkPolicies unless
 * `enableNetworkPolicy` is "true" (off by default): the EKS control plane then runs the network
 * policy controller, and the node agent (the `aws-eks-nodeagent` container of the aws-node
 * DaemonSet, present unless the addon's `nodeAgent` settings disable it; the policy
 * `eks-network-policy-enforced` rejects that) programs eBPF filters on every pod. The enforcing
 * mode stays "standard" (pods no policy selects keep full access), so kube-system addons the
 * platform does not manage keep working; every platform namespace carries its own default-deny.
 * Only keys of the addon's configuration schema (`aws eks describe-addon-configuration`) are set.
 * https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html
 */
export const VPC_CNI_CONFIGURATION = { enableNetworkPolicy: "true" } as const;

/** Validates MlCluster args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateMlClusterArgs(name: string, args: MlClusterArgs): MlClusterSettings {
    const p = new Problems("MlCluster arguments");
    const version = (args.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION) as KubernetesVersion;
    const versionOk = checkOneOf(p, "kubernetesVersion", version, SUPPORTED_KUBERNETES_VERSIONS);
    const sys = args.systemNodeGroup ?? {};
    const minSize = sys.minSize ?? 2;
    const auto = args.autoscaler ?? {};
    const s: MlClusterSettings = {
        clusterName: args.clusterName ?? name,
        kubernetesVersion: version,
        endpointPublicAccess: args.endpointPublicAccess ?? false,
        publicAccessCidrs: args.publicAccessCidrs ?? [],
        adminRoleArns: args.adminRoleArns ?? [],
        addonVersions: args.addonVersions ?? {},
        system: {
            instanceTypes: sys.instanceTypes ?? ["m6i.large"],
            minSize,
            maxSize: sys.maxSize ?? 4,
            desiredSize: sys.desiredSize ?? minSize,
            rootVolumeSizeGiB: sys.rootVolumeSizeGiB ?? 50,
        },
        logRetentionDays: args.logRetentionDays ?? 90,
        deletionProtection: args.deletionProtection ?? true,
        protect: args.protect ?? false,
        supportType: args.supportType ?? "STANDARD",
        autoscaler: {
            enabled: auto.enabled ?? true,
            image: auto.image ?? (versionOk ? CLUSTER_AUTOSCALER_IMAGES[version] : ""),
            scaleDownUnneededTime: auto.scaleDownUnneededTime ?? "10m",
            expander: auto.expander ?? "least-waste",
            maxNodeProvisionTime: auto.maxNodeProvisionTime ?? "15m",
        },
        workloadIdentityMode: args.workloadIdentityMode ?? "podIdentity",
        ebsEncryptionByDefault: args.ebsEncryptionByDefault ?? true,
        tags: args.tags ?? {},
    };

    p.check(
        CLUSTER_NAME.test(s.clusterName),
        "clusterName",
        `must be 1-100 characters of letters, digits, '-' and '_', starting with a letter or digit, got ${describe(s.clusterName)}`,
    );
    p.check(typeof s.endpointPublicAccess === "boolean", "endpointPublicAccess", `must be true or false, got ${describe(args.endpointPublicAccess)}`);
    if (s.endpointPublicAccess) {
        p.check(
            s.publicAccessCidrs.length > 0,
            "publicAccessCidrs",
            "must list the CIDRs allowed to reach the public endpoint (EKS would otherwise open it to 0.0.0.0/0)",
        );
    } else {
        p.check(s.publicAccessCidrs.length === 0, "publicAccessCidrs", "applies only when endpointPublicAccess is true");
    }
    s.publicAccessCidrs.forEach((c, i) => {
        const parsed = parseCidr(c);
        if (c === "0.0.0.0/0" || c === "::/0" || parsed?.prefix === 0) {
            p.add(`publicAccessCidrs[${i}]`, `must not be ${c}: the Kubernetes API would be open to the whole internet`);
        } else {
            p.check(parsed !== undefined, `publicAccessCidrs[${i}]`, `must be an IPv4 CIDR with host bits zero (e.g. 203.0.113.0/24), got ${describe(c)}`);
        }
    });
    const slugs = new Set<string>();
    s.adminRoleArns.forEach((arn, i) => {
        if (p.check(typeof arn === "string" && PRINCIPAL_ARN.test(arn), `adminRoleArns[${i}]`, `must be an IAM role or user ARN, got ${describe(arn)}`)) {
            const slug = principalSlug(arn);
            p.check(!slugs.has(slug), `adminRoleArns[${i}]`, `names the same principal as an earlier entry (${slug})`);
            slugs.add(slug);
        }
    });
    if (typeof args.ciDeployRoleArn === "string") {
        p.check(PRINCIPAL_ARN.test(args.ciDeployRoleArn), "ciDeployRoleArn", `must be an IAM role ARN, got ${describe(args.ciDeployRoleArn)}`);
        // EKS allows one access entry per principal.
        p.check(!s.adminRoleArns.includes(args.ciDeployRoleArn), "ciDeployRoleArn", "is also listed in adminRoleArns; list it once");
    }
    p.check(
        s.adminRoleArns.length > 0 || args.ciDeployRoleArn !== undefined,
        "adminRoleArns",
        "must name at least one administrator (or set ciDeployRoleArn): the cluster creator gets no implicit access",
    );
    for (const [addon, v] of Object.entries(s.addonVersions)) {
        if (checkOneOf(p, `addonVersions.${addon}`, addon, EKS_ADDONS)) {
            p.check(typeof v === "string" && EKS_ADDON_VERSION.test(v), `addonVersions.${addon}`, `must look like v1.2.3-eksbuild.1, got ${describe(v)}`);
        }
    }
    if (p.check(Array.isArray(s.system.instanceTypes) && s.system.instanceTypes.length > 0, "systemNodeGroup.instanceTypes", "must list at least one instance type")) {
        s.system.instanceTypes.forEach((t, i) =>
            p.check(INSTANCE_TYPE.test(String(t)), `systemNodeGroup.instanceTypes[${i}]`, `must be an EC2 instance type like m6i.large, got ${describe(t)}`),
        );
    }
    const minOk = checkInt(p, "systemNodeGroup.minSize", s.system.minSize, 1, 100);
    const maxOk = checkInt(p, "systemNodeGroup.maxSize", s.system.maxSize, 1, 100);
    const desOk = checkInt(p, "systemNodeGroup.desiredSize", s.system.desiredSize, 1, 100);
    if (minOk && maxOk) {
        p.check(s.system.minSize <= s.system.maxSize, "systemNodeGroup.minSize", `must not exceed maxSize (${s.system.maxSize}), got ${s.system.minSize}`);
        if (desOk) {
            p.check(
                s.system.desiredSize >= s.system.minSize && s.system.desiredSize <= s.system.maxSize,
                "systemNodeGroup.desiredSize",
                `must be within minSize..maxSize (${s.system.minSize}..${s.system.maxSize}), got ${s.system.desiredSize}`,
            );
        }
    }
    checkNodeDisk(p, "systemNodeGroup.", { volumeSizeGiB: s.system.rootVolumeSizeGiB, iops: 3000, throughputMiBps: 125 });
    p.check(
        (LOG_RETENTION_DAYS as readonly number[]).includes(s.logRetentionDays),
        "logRetentionDays",
        `must be a CloudWatch Logs retention value (${LOG_RETENTION_DAYS.join(", ")}), got ${describe(s.logRetentionDays)}`,
    );
    checkOneOf(p, "supportType", s.supportType, ["STANDARD", "EXTENDED"] as const);
    checkOneOf(p, "autoscaler.expander", s.autoscaler.expander, AUTOSCALER_EXPANDERS);
    p.check(DURATION.test(String(s.autoscaler.scaleDownUnneededTime)), "autoscaler.scaleDownUnneededTime", `must be a duration like 10m, got ${describe(s.autoscaler.scaleDownUnneededTime)}`);
    p.check(DURATION.test(String(s.autoscaler.maxNodeProvisionTime)), "autoscaler.maxNodeProvisionTime", `must be a duration like 15m, got ${describe(s.autoscaler.maxNodeProvisionTime)}`);
    if (auto.image !== undefined) {
        p.check(typeof auto.image === "string" && /^[^\s:@]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/.test(auto.image) && auto.image.length > 0, "autoscaler.image", `must be an image reference, got ${describe(auto.image)}`);
    }
    checkOneOf(p, "workloadIdentityMode", s.workloadIdentityMode, ["podIdentity", "irsa"] as const);
    p.throwIfAny();
    return s;
}

/** Stable resource-name suffix for a principal ARN (its name, lowercased). @internal */
export function principalSlug(arn: string): string {
    const name = arn.split("/").pop() ?? arn;
    return name.toLowerCase().replace(/[^a-z0-9-]/g, "-");
}

/** Trust policy of a role for EKS Pod Identity (used for addon roles). */
/**
 * Trust of an EKS Pod Identity role, limited to Pod Identity acting for this account's cluster
 * (`aws:SourceAccount`, `aws:SourceArn`), so no other cluster's associations can use the role.
 * https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html
 */
export function podIdentityTrust(accountId: pulumi.Input<string>, clusterArn: pulumi.Input<string>): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "EksPodIdentity",
                Effect: "Allow",
                Principal: { Service: "pods.eks.amazonaws.com" },
                Action: ["sts:AssumeRole", "sts:TagSession"],
                Condition: { StringEquals: { "aws:SourceAccount": accountId }, ArnEquals: { "aws:SourceArn": clusterArn } },
            },
        ],
    };
}

/** What a node group needs from the cluster it joins; MlCluster provides it. */
export interface NodeGroupTarget {
    clusterName: pulumi.Input<string>;
    kubernetesVersion: pulumi.Input<string>;
    nodeRoleArn: pulumi.Input<string>;
    privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** The cluster's Kubernetes provider. */
    provider: k8s.Provider;
    /** Resources that must exist before nodes join (the CNI and kube-proxy addons). */
    nodeDependencies?: pulumi.Resource[];
    /** Customer-managed KMS key of the node volumes (default: the account's `aws/ebs` key). */
    ebsKmsKeyArn?: pulumi.Input<string>;
}

/** Arguments of {@link MlCluster.workloadIdentity}. */
export interface ClusterWorkloadIdentityArgs {
    namespace: pulumi.Input<string>;
    serviceAccountName: string;
    /** Inline IAM policies by name (JSON). */
    policies: Record<string, pulumi.Input<string>>;
    labels?: Record<string, string>;
    /** Override the cluster's default mode. */
    mode?: WorkloadIdentityMode;
}

/**
 * MlCluster: an EKS cluster for ML workloads — KMS envelope encryption of secrets, private API
 * endpoint, every control-plane log type in an encrypted log group, access entries instead of the
 * aws-auth ConfigMap, managed addons with their own Pod Identity roles, a hardened on-demand
 * system node group, its own Kubernetes provider, an encrypted gp3 default StorageClass and the
 * Cluster Autoscaler. GPU pools join it through {@link NodeGroupTarget}.
 * https://docs.aws.amazon.com/eks/latest/best-practices/security.html
 */
export class MlCluster extends pulumi.ComponentResource implements NodeGroupTarget {
    public readonly clusterName: pulumi.Output<string>;
    public readonly clusterArn: pulumi.Output<string>;
    /** The Kubernetes minor the cluster runs (plain: it drives structure, e.g. the autoscaler image). */
    public readonly kubernetesVersion: string;
    public readonly endpoint: pulumi.Output<string>;
    public readonly certificateAuthority: pulumi.Output<string>;
    /** OIDC issuer URL of the cluster (IRSA). */
    public readonly oidcIssuerUrl: pulumi.Output<string>;
    /** ARN of the IAM OIDC provider, when workloadIdentityMode is irsa. */
    public readonly oidcProviderArn: pulumi.Output<string | undefined>;
    /** Security group EKS creates for the control plane and managed nodes. */
    public readonly clusterSecurityGroupId: pulumi.Output<string>;
    /** Node role shared by the platform's node groups (no data access). */
    public readonly nodeRoleArn: pulumi.Output<string>;
    public readonly nodeRoleName: pulumi.Output<string>;
    public readonly privateSubnetIds: pulumi.Output<string[]>;
    /** Kubeconfig that gets tokens with `aws eks get-token` (no credentials inside). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The cluster's Kubernetes provider (server-side apply); every k8s resource must use it. */
    public readonly provider: k8s.Provider;
    public readonly systemNodeGroupName: pulumi.Output<string>;
    /** Name of the default StorageClass (encrypted gp3). */
    public readonly storageClassName: pulumi.Output<string>;
    /** ARN of the KMS key that envelope-encrypts Kubernetes secrets. */
    public readonly secretsKeyArn: pulumi.Output<string>;
    /** Customer-managed key of every EBS volume: node disks (launch templates) and persistent volumes (StorageClass). */
    public readonly ebsKmsKeyArn: pulumi.Output<string>;
    /** Addons nodes need before they can join (vpc-cni, kube-proxy, pod identity agent). */
    public readonly nodeDependencies: pulumi.Resource[];
    /** Role ARN of the Cluster Autoscaler, when installed. */
    public readonly autoscalerRoleArn: pulumi.Output<string | undefined>;

    private readonly defaultIdentityMode: WorkloadIdentityMode;
    private readonly podIdentityAgent: aws.eks.Addon;

    constructor(name: string, args: MlClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:MlCluster", name, {}, opts);
        const s = validateMlClusterArgs(name, args);
        const child: pulumi.CustomResourceOptions = { parent: this };
        const stateful: pulumi.CustomResourceOptions = { parent: this, protect: s.protect, retainOnDelete: s.protect };
        const identity = aws.getCallerIdentityOutput({}, { parent: this });
        const region = aws.getRegionOutput({}, { parent: this }).region;
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const managedPolicy = (policy: string) => pulumi.interpolate`arn:${partition}:iam::aws:policy/${policy}`;
        this.kubernetesVersion = s.kubernetesVersion;
        this.defaultIdentityMode = s.workloadIdentityMode;

        // Keys: one for Kubernetes secrets, one for the control-plane logs.
        const secretsKey = customerManagedKey(
            `${name}-secrets-key`,
            { description: `${s.clusterName}: envelope encryption of Kubernetes secrets`, tags: { ...s.tags, Name: `${s.clusterName}-secrets` } },
            stateful,
        );
        // EBS: node disks are created by Auto Scaling's service-linked role (named by condition,
        // since it may not exist yet when the key is created), persistent volumes by the EBS CSI
        // driver (its Pod Identity role, through IAM). https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html
        const autoscalingSlr = pulumi.interpolate`arn:${partition}:iam::${identity.accountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;
        const ebsKey = customerManagedKey(
            `${name}-ebs-key`,
            {
                description: `${s.clusterName}: encrypts node volumes and persistent volumes`,
                extraStatements: [
                    {
                        Sid: "AutoScalingUsesKeyForNodeVolumes",
                        Effect: "Allow",
                        Principal: { AWS: "*" },
                        Action: [...KMS_CRYPTO_ACTIONS, "kms:DescribeKey"],
                        Resource: "*",
                        Condition: { StringEquals: { "kms:CallerAccount": identity.accountId }, ArnEquals: { "aws:PrincipalArn": autoscalingSlr } },
                    },
                    {
                        Sid: "AutoScalingGrantsForNodeVolumes",
                        Effect: "Allow",
                        Principal: { AWS: "*" },
                        Action: "kms:CreateGrant",
                        Resource: "*",
                        Condition: {
                            StringEquals: { "kms:CallerAccount": identity.accountId },
                            ArnEquals: { "aws:PrincipalArn": autoscalingSlr },
                            Bool: { "kms:GrantIsForAWSResource": "true" },
                        },
                    },
                ],
                tags: { ...s.tags, Name: `${s.clusterName}-ebs` },
            },
            stateful,
        );
        this.ebsKmsKeyArn = ebsKey.arn;
        const logGroupName = `/aws/eks/${s.clusterName}/cluster`;
        const logsKey = customerManagedKey(
            `${name}-logs-key`,
            {
                description: `${s.clusterName}: encrypts EKS control-plane logs`,
                extraStatements: [
                    {
                        Sid: "CloudWatchLogsForControlPlaneLogs",
                        Effect: "Allow",
                        Principal: { Service: pulumi.interpolate`logs.${region}.amazonaws.com` },
                        Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                        Resource: "*",
                        Condition: {
                            ArnEquals: {
                                "kms:EncryptionContext:aws:logs:arn": pulumi.interpolate`arn:${partition}:logs:${region}:${identity.accountId}:log-group:${logGroupName}`,
                            },
                        },
                    },
                ],
                tags: { ...s.tags, Name: `${s.clusterName}-logs` },
            },
            stateful,
        );
        // Created before the cluster, so EKS writes into an encrypted group with a retention
        // instead of creating an unencrypted one that keeps logs forever.
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-control-plane-logs`,
            { name: logGroupName, retentionInDays: s.logRetentionDays, kmsKeyId: logsKey.arn, tags: s.tags },
            child,
        );

        const clusterRole = new aws.iam.Role(
            `${name}-cluster-role`,
            {
                description: `${s.clusterName}: EKS control plane`,
                assumeRolePolicy: policyJson(serviceTrust("eks.amazonaws.com", ["sts:TagSession"])),
                tags: s.tags,
            },
            child,
        );
        const clusterPolicy = new aws.iam.RolePolicyAttachment(
            `${name}-cluster-policy`,
            { role: clusterRole.name, policyArn: managedPolicy("AmazonEKSClusterPolicy") },
            child,
        );
        const clusterKmsPolicy = new aws.iam.RolePolicy(
            `${name}-cluster-kms`,
            {
                role: clusterRole.name,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "UseSecretsKey",
                            Effect: "Allow",
                            Action: ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                            Resource: secretsKey.arn,
                        },
                    ],
                }),
            },
            child,
        );

        const cluster = new aws.eks.Cluster(
            `${name}-cluster`,
            {
                name: s.clusterName,
                version: s.kubernetesVersion,
                roleArn: clusterRole.arn,
                vpcConfig: {
                    subnetIds: args.privateSubnetIds,
                    endpointPrivateAccess: true,
                    endpointPublicAccess: s.endpointPublicAccess,
                    ...(s.endpointPublicAccess ? { publicAccessCidrs: s.publicAccessCidrs } : {}),
                },
                encryptionConfig: { resources: ["secrets"], provider: { keyArn: secretsKey.arn } },
                enabledClusterLogTypes: [...CONTROL_PLANE_LOG_TYPES],
                accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false },
                // The addons below are EKS-managed; skip the unmanaged defaults.
                bootstrapSelfManagedAddons: false,
                upgradePolicy: { supportType: s.supportType },
                deletionProtection: s.deletionProtection,
                tags: { ...s.tags, Name: s.clusterName },
            },
            { parent: this, dependsOn: [logGroup, clusterPolicy, clusterKmsPolicy] },
        );
        this.clusterName = cluster.name;
        this.clusterArn = cluster.arn;
        this.endpoint = cluster.endpoint;
        this.certificateAuthority = cluster.certificateAuthority.data;
        this.oidcIssuerUrl = cluster.identities.apply((ids) => ids?.[0]?.oidcs?.[0]?.issuer ?? "");
        this.clusterSecurityGroupId = cluster.vpcConfig.clusterSecurityGroupId;
        this.privateSubnetIds = pulumi.output(args.privateSubnetIds);
        this.secretsKeyArn = secretsKey.arn;

        if (s.workloadIdentityMode === "irsa") {
            const oidc = new aws.iam.OpenIdConnectProvider(
                `${name}-oidc`,
                { url: this.oidcIssuerUrl, clientIdLists: ["sts.amazonaws.com"], tags: s.tags },
                child,
            );
            this.oidcProviderArn = oidc.arn.apply((a) => a as string | undefined);
        } else {
            this.oidcProviderArn = pulumi.output(undefined);
        }

        // Access entries: administrators and the CI deploy role get cluster-admin.
        const admins: { key: string; arn: pulumi.Input<string> }[] = s.adminRoleArns.map((arn) => ({ key: `admin-${principalSlug(arn)}`, arn }));
        // Names: `<name>-admin-<role name>` / `<name>-ci-deploy`, and `…-policy` for the association.
        if (args.ciDeployRoleArn !== undefined) {
            admins.push({ key: "ci-deploy", arn: args.ciDeployRoleArn });
        }
        const associations = admins.map(({ key, arn }) => {
            const entry = new aws.eks.AccessEntry(
                `${name}-${key}`,
                { clusterName: cluster.name, principalArn: arn, type: "STANDARD", tags: s.tags },
                child,
            );
            return new aws.eks.AccessPolicyAssociation(
                `${name}-${key}-policy`,
                { clusterName: cluster.name, principalArn: entry.principalArn, policyArn: pulumi.interpolate`arn:${partition}:eks::aws:cluster-access-policy/${CLUSTER_ADMIN_ACCESS_POLICY}`, accessScope: { type: "cluster" } },
                child,
            );
        });

        // Node role: joins the cluster and pulls images. No S3, no data: pods use workload identity.
        const nodeRole = new aws.iam.Role(
            `${name}-node-role`,
            { description: `${s.clusterName}: EKS managed nodes`, assumeRolePolicy: policyJson(serviceTrust("ec2.amazonaws.com")), tags: s.tags },
            child,
        );
        const nodePolicies = NODE_ROLE_MANAGED_POLICIES.map(
            (policy) => new aws.iam.RolePolicyAttachment(`${name}-node-${policy}`, { role: nodeRole.name, policyArn: managedPolicy(policy) }, child),
        );
        this.nodeRoleArn = nodeRole.arn;
        this.nodeRoleName = nodeRole.name;

        // Addons. Order: pod identity agent and kube-proxy, then the CNI (its role comes through
        // Pod Identity), then nodes, then addons that need running nodes (CoreDNS, EBS CSI).
        const addonVersion = (addon: EksAddonName): pulumi.Input<string> =>
            s.addonVersions[addon] ??
            aws.eks.getAddonVersionOutput({ addonName: addon, kubernetesVersion: s.kubernetesVersion }, { parent: this }).version;
        const addon = (
            addonName: EksAddonName,
            extra: Partial<aws.eks.AddonArgs> = {},
            dependsOn: pulumi.Resource[] = [],
        ): aws.eks.Addon =>
            new aws.eks.Addon(
                `${name}-${addonName}`,
                {
                    clusterName: cluster.name,
                    addonName,
                    addonVersion: addonVersion(addonName),
                    resolveConflictsOnCreate: "OVERWRITE",
                    resolveConflictsOnUpdate: "OVERWRITE",
                    tags: s.tags,
                    ...extra,
                },
                { parent: this, dependsOn },
            );
        const addonRole = (key: string, policy: string): aws.iam.Role => {
            const role = new aws.iam.Role(
                `${name}-${key}-role`,
                { description: `${s.clusterName}: ${key} addon (EKS Pod Identity)`, assumeRolePolicy: policyJson(podIdentityTrust(identity.accountId, cluster.arn)), tags: s.tags },
                child,
            );
            new aws.iam.RolePolicyAttachment(`${name}-${key}-policy`, { role: role.name, policyArn: managedPolicy(policy) }, child);
            return role;
        };

        this.podIdentityAgent = addon("eks-pod-identity-agent");
        const kubeProxy = addon("kube-proxy");
        const cniRole = addonRole("vpc-cni", "AmazonEKS_CNI_Policy");
        const vpcCni = addon(
            "vpc-cni",
            { podIdentityAssociations: [{ roleArn: cniRole.arn, serviceAccount: "aws-node" }], configurationValues: JSON.stringify(VPC_CNI_CONFIGURATION) },
            [this.podIdentityAgent],
        );
        this.nodeDependencies = [this.podIdentityAgent, kubeProxy, vpcCni];

        if (s.ebsEncryptionByDefault) {
            new aws.ebs.EncryptionByDefault(`${name}-ebs-encryption`, { enabled: true }, { parent: this, retainOnDelete: true });
        }

        const systemDisk: NodeDiskSettings = {
            amiType: "AL2023_x86_64_STANDARD",
            volumeSizeGiB: s.system.rootVolumeSizeGiB,
            iops: 3000,
            throughputMiBps: 125,
            kmsKeyArn: ebsKey.arn,
        };
        const systemTemplate = nodeLaunchTemplate(
            `${name}-system-lt`,
            { ...systemDisk, description: `${s.clusterName}: system nodes`, tags: { ...s.tags, [POOL_LABEL]: SYSTEM_POOL } },
            child,
        );
        const systemNodes = new aws.eks.NodeGroup(
            `${name}-system`,
            {
                clusterName: cluster.name,
                version: s.kubernetesVersion,
                nodeRoleArn: nodeRole.arn,
                subnetIds: args.privateSubnetIds,
                amiType: systemDisk.amiType,
                capacityType: "ON_DEMAND",
                instanceTypes: s.system.instanceTypes,
                scalingConfig: { minSize: s.system.minSize, maxSize: s.system.maxSize, desiredSize: s.system.desiredSize },
                updateConfig: { maxUnavailable: 1 },
                launchTemplate: { id: systemTemplate.id, version: systemTemplate.latestVersion.apply((v) => String(v)) },
                labels: { [POOL_LABEL]: SYSTEM_POOL },
                tags: { ...s.tags, [POOL_LABEL]: SYSTEM_POOL },
            },
            // The autoscaler owns the node count after creation.
            { parent: this, dependsOn: [...nodePolicies, ...this.nodeDependencies], ignoreChanges: ["scalingConfig.desiredSize"] },
        );
        this.systemNodeGroupName = systemNodes.nodeGroupName;

        addon("coredns", {}, [systemNodes]);
        const ebsRole = addonRole("ebs-csi", "service-role/AmazonEBSCSIDriverPolicy");
        // The managed policy has no KMS rights: volumes with the platform key need them.
        // https://docs.aws.amazon.com/eks/latest/userguide/ebs-csi.html (KMS encryption)
        new aws.iam.RolePolicy(
            `${name}-ebs-csi-kms`,
            {
                role: ebsRole.name,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "GrantsForVolumes",
                            Effect: "Allow",
                            Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                            Resource: ebsKey.arn,
                            Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
                        },
                        {
                            Sid: "UseKeyForVolumes",
                            Effect: "Allow",
                            Action: [...KMS_CRYPTO_ACTIONS, "kms:DescribeKey"],
                            Resource: ebsKey.arn,
                            Condition: { StringEquals: { "kms:ViaService": pulumi.interpolate`ec2.${region}.amazonaws.com` } },
                        },
                    ],
                }),
            },
            child,
        );
        addon("aws-ebs-csi-driver", { podIdentityAssociations: [{ roleArn: ebsRole.arn, serviceAccount: "ebs-csi-controller-sa" }] }, [
            systemNodes,
            this.podIdentityAgent,
        ]);

        // Kubernetes provider from the cluster's outputs; tokens come from `aws eks get-token`.
        this.kubeconfig = pulumi
            .all([cluster.name, cluster.endpoint, cluster.certificateAuthority.data, region])
            .apply(([clusterName, endpoint, ca, reg]) => JSON.stringify(execKubeconfig(clusterName, endpoint, ca, reg)));
        this.provider = new k8s.Provider(
            `${name}-k8s`,
            {
                kubeconfig: this.kubeconfig,
                // A stable identity: a changed endpoint or CA does not replace every object.
                clusterIdentifier: cluster.arn,
                enableServerSideApply: true,
            },
            // Objects are applied only once the deploying principal's access entry is in place.
            { parent: this, dependsOn: associations },
        );

        const storageClass = new k8s.storage.v1.StorageClass(
            `${name}-gp3`,
            {
                metadata: { name: DEFAULT_STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
                provisioner: "ebs.csi.aws.com",
                parameters: { type: "gp3", encrypted: "true", kmsKeyId: ebsKey.arn, fsType: "ext4" },
                volumeBindingMode: "WaitForFirstConsumer",
                allowVolumeExpansion: true,
                reclaimPolicy: "Delete",
            },
            { parent: this, provider: this.provider },
        );
        this.storageClassName = storageClass.metadata.name;

        if (s.autoscaler.enabled) {
            const autoscaler = new ClusterAutoscaler(
                `${name}-autoscaler`,
                {
                    clusterName: s.clusterName,
                    image: s.autoscaler.image,
                    scaleDownUnneededTime: s.autoscaler.scaleDownUnneededTime,
                    expander: s.autoscaler.expander,
                    maxNodeProvisionTime: s.autoscaler.maxNodeProvisionTime,
                    region,
                    partition,
                    accountId: identity.accountId,
                    provider: this.provider,
                    nodeSelector: { [POOL_LABEL]: SYSTEM_POOL },
                    after: [systemNodes, this.podIdentityAgent, cluster],
                    tags: s.tags,
                },
                { parent: this },
            );
            this.autoscalerRoleArn = autoscaler.roleArn.apply((a) => a as string | undefined);
        } else {
            this.autoscalerRoleArn = pulumi.output(undefined);
        }

        this.registerOutputs({
            clusterName: this.clusterName,
            clusterArn: this.clusterArn,
            endpoint: this.endpoint,
            oidcIssuerUrl: this.oidcIssuerUrl,
            nodeRoleArn: this.nodeRoleArn,
            systemNodeGroupName: this.systemNodeGroupName,
            storageClassName: this.storageClassName,
            kubeconfig: this.kubeconfig,
        });
    }

    /**
     * A ServiceAccount plus an IAM role only it can assume (Pod Identity by default, IRSA when the
     * cluster is in irsa mode), with the given policies. Parented to the cluster unless `opts.parent` says otherwise.
     */
    public workloadIdentity(name: string, args: ClusterWorkloadIdentityArgs, opts?: pulumi.ComponentResourceOptions): WorkloadIdentity {
        const mode = args.mode ?? this.defaultIdentityMode;
        return new WorkloadIdentity(
            name,
            {
                clusterName: this.clusterName,
                namespace: args.namespace,
                serviceAccountName: args.serviceAccountName,
                policies: args.policies,
                labels: args.labels,
                mode,
                ...(mode === "irsa"
                    ? { oidcProviderArn: this.oidcProviderArn.apply((a) => a ?? ""), oidcIssuerUrl: this.oidcIssuerUrl }
                    : {}),
                provider: this.provider,
            },
            { parent: this, ...opts, dependsOn: [this.podIdentityAgent, ...asArray(opts?.dependsOn)] },
        );
    }
}

function asArray(d: pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> | undefined): pulumi.Input<pulumi.Resource>[] {
    if (d === undefined) {
        return [];
    }
    return Array.isArray(d) ? d : [d as pulumi.Input<pulumi.Resource>];
}

/** Kubeconfig for an EKS cluster whose tokens come from `aws eks get-token` (AWS CLI v2). */
export function execKubeconfig(clusterName: string, endpoint: string, caData: string, region: string): Record<string, unknown> {
    return {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: clusterName, cluster: { server: endpoint, "certificate-authority-data": caData } }],
        contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
        "current-context": clusterName,
        users: [
            {
                name: clusterName,
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "aws",
                        args: ["eks", "get-token", "--cluster-name", clusterName, "--region", region, "--output", "json"],
                        interactiveMode: "Never",
                    },
                },
            },
        ],
    };
}
