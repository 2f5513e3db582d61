// Cluster Autoscaler for EKS managed node groups: discovers the groups by the tags EKS puts on
// their Auto Scaling groups, scales them (from zero too, with the node-template tags GpuNodeGroup
// sets) and may change only groups tagged as owned by this cluster.
// https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PolicyDocument } from "./iam";
import { containerResources, restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./k8s-security";
import { WorkloadIdentity } from "./workloadIdentity";

/** Tag EKS sets on a managed node group's ASG: `k8s.io/cluster-autoscaler/<cluster>` = `owned`. */
export function ownedTagKey(clusterName: string): string {
    return `k8s.io/cluster-autoscaler/${clusterName}`;
}

/** Tag EKS sets on every managed node group's ASG, used for discovery. */
export const AUTOSCALER_ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled";

/** Prefix of the node-template tags the autoscaler reads for groups with no nodes. */
export const NODE_TEMPLATE_TAG_PREFIX = "k8s.io/cluster-autoscaler/node-template";

const NAMESPACE = "kube-system";
const SERVICE_ACCOUNT = "cluster-autoscaler";
/** The distroless image runs as nobody upstream. */
const AUTOSCALER_UID = 65534;
const METRICS_PORT = 8085;

/**
 * Least-privilege permissions of the autoscaler: read-only discovery on `*` (those actions have
 * no resource-level permissions), node-group details of this cluster only, and scaling only of
 * Auto Scaling groups tagged as owned by this cluster.
 */
export function clusterAutoscalerPolicy(clusterName: string, partition: string, region: string, accountId: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "DiscoverGroupsAndInstanceTypes",
                Effect: "Allow",
                Action: [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                Resource: "*",
            },
            {
                Sid: "DescribeOwnNodegroups",
                Effect: "Allow",
                Action: "eks:DescribeNodegroup",
                Resource: `arn:${partition}:eks:${region}:${accountId}:nodegroup/${clusterName}/*/*`,
            },
            {
                Sid: "ScaleOwnedGroupsOnly",
                Effect: "Allow",
                Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                Resource: `arn:${partition}:autoscaling:${region}:${accountId}:autoScalingGroup:*:autoScalingGroupName/*`,
                Condition: { StringEquals: { [`aws:ResourceTag/${ownedTagKey(clusterName)}`]: "owned" } },
            },
        ],
    };
}

type PolicyRule = k8s.types.input.rbac.v1.PolicyRule;

/** ClusterRole rules the autoscaler needs (upstream's AWS example plus volumeattachments, kubernetes/autoscaler#7663). */
export const CLUSTER_AUTOSCALER_CLUSTER_RULES: readonly PolicyRule[] = [
    { apiGroups: [""], resources: ["events", "endpoints"], verbs: ["create", "patch"] },
    { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
    { apiGroups: [""], resources: ["pods/status"], verbs: ["update"] },
    { apiGroups: [""], resources: ["endpoints"], resourceNames: ["cluster-autoscaler"], verbs: ["get", "update"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["watch", "list", "get", "update"] },
    {
        apiGroups: [""],
        resources: ["namespaces", "pods", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"],
        verbs: ["watch", "list", "get"],
    },
    { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: ["watch", "list", "get"] },
    { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ["watch", "list"] },
    { apiGroups: ["apps"], resources: ["daemonsets", "replicasets", "statefulsets"], verbs: ["watch", "list", "get"] },
    {
        apiGroups: ["storage.k8s.io"],
        resources: ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities", "volumeattachments"],
        verbs: ["watch", "list", "get"],
    },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["cluster-autoscaler"], verbs: ["get", "update"] },
];

/** Role rules in kube-system: the status ConfigMap. */
export const CLUSTER_AUTOSCALER_NAMESPACE_RULES: readonly PolicyRule[] = [
    { apiGroups: [""], resources: ["configmaps"], verbs: ["create", "list", "watch"] },
    {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: ["cluster-autoscaler-status", "cluster-autoscaler-priority-expander"],
        verbs: ["delete", "get", "update", "watch"],
    },
];

/**
 * Labels EKS sets per node group; ignoring them lets `--balance-similar-node-groups` treat
 * equivalent groups in different AZs as similar.
 * https://docs.aws.amazon.com/eks/latest/best-practices/cas.html
 */
export const BALANCING_IGNORE_LABELS = [
    "eks.amazonaws.com/nodegroup",
    "eks.amazonaws.com/nodegroup-image",
    "eks.amazonaws.com/sourceLaunchTemplateId",
    "eks.amazonaws.com/sourceLaunchTemplateVersion",
    "k8s.amazonaws.com/eniConfig",
] as const;

export interface ClusterAutoscalerSettings {
    clusterName: string;
    /** Pinned image, matching the cluster's Kubernetes minor. */
    image: string;
    /** How long a node must be unneeded before it is removed, e.g. `10m`. */
    scaleDownUnneededTime: string;
    /** `least-waste`, `random`, `most-pods`, `price` or `priority`. */
    expander: string;
    /** How long to wait for a new node to register (GPU nodes boot slowly), e.g. `15m`. */
    maxNodeProvisionTime: string;
}

/** The autoscaler's command line. */
export function clusterAutoscalerCommand(s: ClusterAutoscalerSettings): string[] {
    return [
        "./cluster-autoscaler",
        "--cloud-provider=aws",
        `--namespace=${NAMESPACE}`,
        `--node-group-auto-discovery=asg:tag=${AUTOSCALER_ENABLED_TAG},${ownedTagKey(s.clusterName)}`,
        "--balance-similar-node-groups=true",
        ...BALANCING_IGNORE_LABELS.map((l) => `--balancing-ignore-label=${l}`),
        // Platform nodes run DaemonSets and kube-system pods; without these two flags no node
        // would ever be removed, and GPU pools would not return to zero.
        "--skip-nodes-with-system-pods=false",
        "--skip-nodes-with-local-storage=false",
        `--expander=${s.expander}`,
        `--scale-down-unneeded-time=${s.scaleDownUnneededTime}`,
        "--scale-down-delay-after-add=10m",
        `--max-node-provision-time=${s.maxNodeProvisionTime}`,
        "--stderrthreshold=info",
        "--v=2",
    ];
}

export interface ClusterAutoscalerArgs extends ClusterAutoscalerSettings {
    /** Region of the cluster (the pod cannot reach IMDS with hop limit 1, so it is set explicitly). */
    region: pulumi.Input<string>;
    partition: pulumi.Input<string>;
    accountId: pulumi.Input<string>;
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /** Node labels the autoscaler pod selects (the system pool). */
    nodeSelector: Record<string, string>;
    /** Resources that must exist before the autoscaler pod starts (nodes, pod identity agent). */
    after?: pulumi.Resource[];
    /** Namespace whose pods may scrape the autoscaler's metrics (NetworkPolicy). Default `monitoring`. */
    metricsNamespace?: string;
    tags?: Record<string, string>;
}

/**
 * ClusterAutoscaler: the Deployment, RBAC and Pod Identity role of Kubernetes Cluster Autoscaler,
 * configured for EKS managed node groups that scale to and from zero.
 */
export class ClusterAutoscaler extends pulumi.ComponentResource {
    public readonly roleArn: pulumi.Output<string>;
    public readonly deploymentName: pulumi.Output<string>;

    constructor(name: string, args: ClusterAutoscalerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:ClusterAutoscaler", name, {}, opts);
        const k8sOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
        const labels = { "app.kubernetes.io/name": "cluster-autoscaler", "app.kubernetes.io/part-of": "mlops-platform" };

        const identity = new WorkloadIdentity(
            `${name}-identity`,
            {
                clusterName: args.clusterName,
                namespace: NAMESPACE,
                serviceAccountName: SERVICE_ACCOUNT,
                policies: {
                    "cluster-autoscaler": pulumi
                        .all([args.partition, args.region, args.accountId])
                        .apply(([partition, region, account]) => JSON.stringify(clusterAutoscalerPolicy(args.clusterName, partition, region, account))),
                },
                provider: args.provider,
                labels,
                tags: args.tags,
            },
            { parent: this },
        );

        const clusterRole = new k8s.rbac.v1.ClusterRole(
            `${name}-clusterrole`,
            { metadata: { name: "cluster-autoscaler", labels }, rules: [...CLUSTER_AUTOSCALER_CLUSTER_RULES] },
            k8sOpts,
        );
        new k8s.rbac.v1.ClusterRoleBinding(
            `${name}-clusterrolebinding`,
            {
                metadata: { name: "cluster-autoscaler", labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: identity.serviceAccountName, namespace: NAMESPACE }],
            },
            k8sOpts,
        );
        const role = new k8s.rbac.v1.Role(
            `${name}-role`,
            { metadata: { name: "cluster-autoscaler", namespace: NAMESPACE, labels }, rules: [...CLUSTER_AUTOSCALER_NAMESPACE_RULES] },
            k8sOpts,
        );
        const binding = new k8s.rbac.v1.RoleBinding(
            `${name}-rolebinding`,
            {
                metadata: { name: "cluster-autoscaler", namespace: NAMESPACE, labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: identity.serviceAccountName, namespace: NAMESPACE }],
            },
            k8sOpts,
        );

        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { name: "cluster-autoscaler", namespace: NAMESPACE, labels },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: labels },
                    template: {
                        metadata: {
                            labels,
                            // The autoscaler must not evict itself while scaling down.
                            annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" },
                        },
                        spec: {
                            serviceAccountName: identity.serviceAccountName,
                            // It talks to the API server; Pod Identity credentials are injected separately.
                            automountServiceAccountToken: true,
                            priorityClassName: "system-cluster-critical",
                            nodeSelector: args.nodeSelector,
                            securityContext: restrictedPodSecurityContext(AUTOSCALER_UID),
                            containers: [
                                {
                                    name: "cluster-autoscaler",
                                    image: args.image,
                                    imagePullPolicy: "IfNotPresent",
                                    command: clusterAutoscalerCommand(args),
                                    env: [{ name: "AWS_REGION", value: args.region }],
                                    ports: [{ name: "metrics", containerPort: METRICS_PORT }],
                                    livenessProbe: { httpGet: { path: "/health-check", port: METRICS_PORT }, initialDelaySeconds: 30, periodSeconds: 30 },
                                    resources: containerResources({ cpu: "100m", memory: "600Mi" }),
                                    securityContext: restrictedContainerSecurityContext(AUTOSCALER_UID),
                                },
                            ],
                        },
                    },
                },
            },
            { ...k8sOpts, dependsOn: [identity, binding, ...(args.after ?? [])] },
        );

        // kube-system keeps no default-deny (EKS-managed addons live there), so the autoscaler carries
        // its own: metrics scraping in; DNS, the EKS Pod Identity agent and HTTPS out. HTTPS goes to
        // 0.0.0.0/0 because the Auto Scaling, EC2 and EKS APIs are public endpoints reached through
        // NAT (and the API server through its ENIs in the VPC).
        new k8s.networking.v1.NetworkPolicy(
            `${name}-netpol`,
            {
                metadata: { name: "cluster-autoscaler", namespace: NAMESPACE, labels },
                spec: {
                    podSelector: { matchLabels: labels },
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [
                        {
                            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.metricsNamespace ?? "monitoring" } } }],
                            ports: [{ protocol: "TCP", port: METRICS_PORT }],
                        },
                    ],
                    egress: [
                        {
                            to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                            ports: [
                                { protocol: "UDP", port: 53 },
                                { protocol: "TCP", port: 53 },
                            ],
                        },
                        { to: [{ ipBlock: { cidr: "169.254.170.23/32" } }], ports: [{ protocol: "TCP", port: 80 }] },
                        { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ protocol: "TCP", port: 443 }] },
                    ],
                },
            },
            k8sOpts,
        );

        this.roleArn = identity.roleArn;
        this.deploymentName = deployment.metadata.name;
        this.registerOutputs({ roleArn: this.roleArn, deploymentName: this.deploymentName });
    }
}
