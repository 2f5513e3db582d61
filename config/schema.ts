// The stack configuration schema: one table that drives Pulumi.yaml's declarations (checked by a
// test), the program's parsing and validation, and the README's configuration reference.
import { Region as AwsRegion } from "@pulumi/aws/types/enums";
import { BARE_WILDCARD, CI_BRANCH, GITLAB_PROJECT, GITLAB_URL, OIDC_PROVIDER_ANY_ARN } from "../components/ciAccess";
import { DriftDecision } from "../components/driftMonitor";
import { GPU_AMI_TYPES, GPU_COUNT_BY_INSTANCE_TYPE } from "../components/gpuNodeGroup";
import { AlertReceiver, AlertRoute } from "../components/monitoring";
import { INTERFACE_ENDPOINT_SERVICES, NAT_STRATEGIES } from "../components/network";
import { GATEWAY_TLS_MODES, GatewayTlsMode, LB_SCHEMES, LoadBalancerScheme } from "../components/gateway";
import { ServingConfig, parseServingConfig } from "../components/servingConfig";
import { SUPPORTED_KUBERNETES_VERSIONS } from "../components/versions";
import { DNS_LABEL, Problems, describe } from "../components/validation";
import { IngestionConfig, PipelineTriggerConfig, parseIngestion, parsePipelineTrigger } from "./data-loop";

export const PROJECT = "mlops-platform";
/** ECR repository of the PyTorch trainer image, built only when training.trainer is pytorch. */
export const TORCH_TRAINER_REPOSITORY = "trainer-torch";
/** Its Dockerfile, next to the scikit-learn trainer's in trainerImageContext. */
export const TORCH_TRAINER_DOCKERFILE = "Dockerfile.torch";

export type ConfigType = "string" | "integer" | "boolean" | "array" | "object";

export interface ConfigKeySpec {
    key: string;
    type: ConfigType;
    description: string;
    /** Default applied when a stack does not set the key (Pulumi.yaml `default`). */
    default?: unknown;
    /** Closed set of allowed values (strings). */
    allowed?: readonly string[];
    min?: number;
    max?: number;
    /** Topic heading for the generated reference. */
    group: string;
    /** For arrays: the element type (object elements make the key untyped in Pulumi.yaml). */
    items?: "string" | "object";
}

/**
 * Every project config key. Object-typed keys are declared in Pulumi.yaml without a `type`
 * (the CLI rejects `type: object` on older versions, pulumi/pulumi#11321), and validated here.
 */
export const CONFIG_KEYS: readonly ConfigKeySpec[] = [
    {
        key: "environment",
        type: "string",
        group: "General",
        allowed: ["dev", "staging", "prod"],
        default: "dev",
        description: "Environment class of the stack; drives secure-by-default switches and policy config.",
    },
    {
        key: "owner",
        type: "string",
        group: "General",
        default: "ml-platform",
        description: "Team that owns the stack; applied as the `owner` tag on every AWS resource.",
    },
    {
        key: "protectStatefulResources",
        type: "boolean",
        group: "Data protection",
        default: false,
        description:
            "Set `protect` and `retainOnDelete` on stateful resources (buckets, KMS keys, databases) so `pulumi destroy` cannot remove them.",
    },
    {
        key: "forceDestroy",
        type: "boolean",
        group: "Data protection",
        default: false,
        description:
            "Allow deleting non-empty buckets and ECR repositories with images on destroy (dev only; contradicts protectStatefulResources).",
    },
    {
        key: "rawTransitionIaDays",
        type: "integer",
        group: "Data lake",
        default: 30,
        min: 30,
        max: 3650,
        description: "Days after which raw objects move to STANDARD_IA (S3 requires at least 30).",
    },
    {
        key: "rawTransitionGlacierDays",
        type: "integer",
        group: "Data lake",
        default: 180,
        min: 31,
        max: 3650,
        description: "Days after which raw objects move to GLACIER_IR; must be later than rawTransitionIaDays.",
    },
    {
        key: "noncurrentVersionExpirationDays",
        type: "integer",
        group: "Data lake",
        default: 30,
        min: 1,
        max: 3650,
        description: "Days a noncurrent (overwritten or deleted) object version is kept before it expires.",
    },
    {
        key: "accessLogRetentionDays",
        type: "integer",
        group: "Data lake",
        default: 90,
        min: 1,
        max: 3650,
        description: "Days S3 server access logs are kept in the log bucket.",
    },
    {
        key: "multipartAbortDays",
        type: "integer",
        group: "Data lake",
        default: 7,
        min: 1,
        max: 365,
        description: "Days after which incomplete multipart uploads are aborted in every bucket.",
    },
    {
        key: "dataReplicationRegion",
        type: "string",
        group: "Data lake",
        default: "",
        description:
            "Region to replicate every data bucket and the access logs to (S3 cross-region replication, delete markers not replicated, replicas encrypted with a key of that region); empty: no replication. Prod sets it.",
    },
    {
        key: "dataReplicationStorageClass",
        type: "string",
        group: "Data lake",
        allowed: ["STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR"],
        default: "STANDARD_IA",
        description: "Storage class of the data replicas.",
    },
    {
        key: "accessLogLockMode",
        type: "string",
        group: "Data lake",
        allowed: ["COMPLIANCE", "GOVERNANCE"],
        default: "COMPLIANCE",
        description:
            "Object Lock mode of the replicated access logs, kept `accessLogRetentionDays` (COMPLIANCE: nobody, root included, deletes them early). Applies with dataReplicationRegion.",
    },
    {
        key: "repositories",
        type: "array",
        group: "Container registry",
        default: ["trainer", "mlflow", "server"],
        description: "ECR repositories to create (DNS labels): `trainer` (trainer; serves models with the `mlflow` runtime), `mlflow` (tracking server), `server` (the MLServer model server, images/server), and `trainer-torch` when training.trainer is pytorch (the PyTorch trainer, Dockerfile.torch).",
    },
    {
        key: "imageUntaggedExpiryDays",
        type: "integer",
        group: "Container registry",
        default: 7,
        min: 1,
        max: 3650,
        description: "Days after which untagged images expire.",
    },
    {
        key: "imageKeepTaggedCount",
        type: "integer",
        group: "Container registry",
        default: 50,
        min: 1,
        max: 10000,
        description: "Number of tagged images kept per repository; older ones expire.",
    },
    {
        key: "buildImages",
        type: "boolean",
        group: "Container registry",
        default: true,
        description:
            "Build and push the trainer, MLflow and model-server images from their contexts with @pulumi/docker, pinned by digest (needs a Docker engine where `pulumi up` runs). false: give trackingImage.",
    },
    {
        key: "trainerImageContext",
        type: "string",
        group: "Container registry",
        default: "examples/credit-risk",
        description: "Docker build context of the trainer image (repository `trainer`; also serves models with MLflow), relative to the project root.",
    },
    {
        key: "trackingImageContext",
        type: "string",
        group: "Container registry",
        default: "images/mlflow",
        description: "Docker build context of the MLflow tracking-server image (repository `mlflow`), relative to the project root.",
    },
    {
        key: "serverImageContext",
        type: "string",
        group: "Container registry",
        default: "images/server",
        description: "Docker build context of the model-server image (repository `server`: MLServer with the MLflow runtime and prediction logging), the default image of `serving.runtime.kind: mlserver`, relative to the project root.",
    },
    // ---- Network ----
    {
        key: "vpcCidr",
        type: "string",
        group: "Network",
        default: "10.0.0.0/16",
        description: "CIDR of the VPC to create (/16 to /24). Ignored with existingVpc.",
    },
    {
        key: "availabilityZones",
        type: "integer",
        group: "Network",
        default: 2,
        min: 2,
        max: 4,
        description: "Availability zones the new VPC spans (private and public subnet per zone).",
    },
    {
        key: "natGateways",
        type: "string",
        group: "Network",
        default: "OnePerAz",
        allowed: NAT_STRATEGIES,
        description: "NAT layout: one per zone (zone-failure tolerant) or a single shared one (cheap, dev).",
    },
    {
        key: "vpcInterfaceEndpoints",
        type: "array",
        items: "string",
        group: "Network",
        default: [...INTERFACE_ENDPOINT_SERVICES],
        description: `PrivateLink interface endpoints to create (${INTERFACE_ENDPOINT_SERVICES.join(", ")}); the S3 gateway endpoint is always created.`,
    },
    {
        key: "flowLogRetentionDays",
        type: "integer",
        group: "Network",
        default: 90,
        min: 1,
        max: 3653,
        description: "Days VPC flow logs are kept (a CloudWatch Logs retention value: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, ...).",
    },
    {
        key: "existingVpc",
        type: "object",
        group: "Network",
        description: "Reuse a VPC instead of creating one: `{ vpcId, privateSubnetIds: [...], publicSubnetIds?: [...] }`. Default: unset (a VPC is created).",
    },
    // ---- Cluster ----
    {
        key: "kubernetesVersion",
        type: "string",
        group: "Cluster",
        default: "1.34",
        allowed: SUPPORTED_KUBERNETES_VERSIONS,
        description: "EKS Kubernetes minor version; also selects the matching cluster-autoscaler image.",
    },
    {
        key: "clusterEndpointPublicAccess",
        type: "boolean",
        group: "Cluster",
        default: false,
        description: "Expose the Kubernetes API publicly (to clusterPublicAccessCidrs only). The private endpoint is always on.",
    },
    {
        key: "clusterPublicAccessCidrs",
        type: "array",
        items: "string",
        group: "Cluster",
        default: [],
        description: "CIDRs allowed to reach a public API endpoint; required when it is public; 0.0.0.0/0 is refused.",
    },
    {
        key: "clusterAdminRoleArns",
        type: "array",
        items: "string",
        group: "Cluster",
        default: [],
        description: "IAM role ARNs granted cluster-admin through EKS access entries (the CI deploy role is added automatically).",
    },
    {
        key: "eksAddonVersions",
        type: "object",
        group: "Cluster",
        description: "Pinned EKS addon versions by addon name (vpc-cni, coredns, kube-proxy, eks-pod-identity-agent, aws-ebs-csi-driver). Default: EKS's default for the Kubernetes minor.",
    },
    {
        key: "systemNodeInstanceTypes",
        type: "array",
        items: "string",
        group: "Cluster",
        default: ["m6i.large"],
        description: "Instance types of the on-demand CPU node group for platform services.",
    },
    {
        key: "systemNodeMinSize",
        type: "integer",
        group: "Cluster",
        default: 2,
        min: 1,
        max: 100,
        description: "Minimum size of the system node group.",
    },
    {
        key: "systemNodeMaxSize",
        type: "integer",
        group: "Cluster",
        default: 4,
        min: 1,
        max: 100,
        description: "Maximum size of the system node group.",
    },
    {
        key: "clusterLogRetentionDays",
        type: "integer",
        group: "Cluster",
        default: 90,
        min: 1,
        max: 3653,
        description: "Days EKS control-plane logs are kept (a CloudWatch Logs retention value).",
    },
    {
        key: "workloadIdentityMode",
        type: "string",
        group: "Cluster",
        default: "podIdentity",
        allowed: ["podIdentity", "irsa"],
        description: "How pods get AWS credentials: EKS Pod Identity, or IRSA (OIDC web identity).",
    },
    {
        key: "autoscalerScaleDownUnneededTime",
        type: "string",
        group: "Cluster",
        default: "10m",
        description: "How long a node must be unneeded before the cluster autoscaler removes it (GPU pools scale to zero after this).",
    },
    {
        key: "gpuPools",
        type: "array",
        items: "object",
        group: "GPU pools",
        default: [{ name: "training", instanceTypes: ["g5.xlarge"], capacityType: "SPOT", minSize: 0, maxSize: 2 }],
        description:
            "GPU node pools: `[{ name, instanceTypes, capacityType: SPOT|ON_DEMAND, minSize, maxSize, amiType?, rootVolumeSizeGiB?, labels? }]`. A pool named `training` runs training Jobs; one named `serving` (if any) runs GPU model servers.",
    },
    // ---- CI ----
    {
        key: "githubRepository",
        type: "string",
        group: "CI access",
        default: "",
        description: "`owner/name` of the GitHub repository whose Actions may assume the preview, deploy and image-push roles. Empty (and no gitlabCi): no CI roles.",
    },
    {
        key: "gitlabCi",
        type: "object",
        group: "CI access",
        description:
            "GitLab pipelines that may assume the CI roles (OIDC ID tokens, `aud: sts.amazonaws.com`): `{ project: group/project, url?: https://gitlab.com, existingOidcProviderArn?, deployBranches?: [main], previewBranches?: ['*'] }`. GitLab's token names the branch, not the environment: deploy, image-push and data-validation trust `deployBranches` (protect them in GitLab; `[]`: GitLab only previews, as prod, whose pack trusts only GitHub environments), preview trusts `previewBranches`. Unset: GitHub only.",
    },
    {
        key: "githubOidcProviderArn",
        type: "string",
        group: "CI access",
        default: "",
        description: "ARN of an existing GitHub OIDC provider in the account (one per account). Empty: create it.",
    },
    {
        key: "ciPreviewTrust",
        type: "object",
        group: "CI access",
        description: "Refs allowed to assume the preview role: `{ branches?, tags?, environments?, pullRequests? }`. Default `{ pullRequests: true, branches: [main] }`.",
    },
    {
        key: "ciDeployTrust",
        type: "object",
        group: "CI access",
        description: "Refs allowed to assume the deploy role. Default `{ branches: [main] }`; prod: `{ environments: [prod] }`.",
    },
    {
        key: "ciImagePushTrust",
        type: "object",
        group: "CI access",
        description: "Refs allowed to assume the image-push role. Default `{ branches: [main] }`.",
    },
    {
        key: "ciDataValidationTrust",
        type: "object",
        group: "CI access",
        description:
            "Refs allowed to assume the data-validation role (created with `training`: the train pipelines' validate stage reads the batch, nothing else). Default `{ environments: [<stack>] }`: train.yml's validate job runs in the GitHub environment named after the stack it trains.",
    },
    {
        key: "mirroredImages",
        type: "object",
        group: "Container registry",
        description:
            "Third-party images from your own mirror, pinned by digest (`<repository>@sha256:<64 hex>`, as `crane digest` prints after `crane copy`; README \"Open items\" #5): `{ clusterAutoscaler?, nvidiaDevicePlugin?, pushgateway? }`. Unset entries: the upstream image pinned by tag in components/versions.ts.",
    },
    // ---- Tracking ----
    {
        key: "trackingImage",
        type: "string",
        group: "Tracking server",
        default: "",
        description: "MLflow server image pinned by digest (`repo@sha256:...`). Empty: the image built from trackingImageContext (needs buildImages).",
    },
    {
        key: "trackingNamespace",
        type: "string",
        group: "Tracking server",
        default: "mlflow",
        description: "Namespace of the tracking server.",
    },
    {
        key: "trainingNamespace",
        type: "string",
        group: "Training",
        default: "ml-training",
        description: "Namespace training Jobs run in (Pod Security restricted).",
    },
    {
        key: "trackingReplicas",
        type: "integer",
        group: "Tracking server",
        default: 1,
        min: 1,
        max: 20,
        description: "Tracking server pods (2 or more adds a PodDisruptionBudget).",
    },
    {
        key: "trackingWorkers",
        type: "integer",
        group: "Tracking server",
        default: 2,
        min: 1,
        max: 64,
        description: "Server worker processes per pod (`mlflow server --workers`).",
    },
    {
        key: "trackingDbInstanceClass",
        type: "string",
        group: "Tracking server",
        default: "db.t4g.medium",
        description: "RDS PostgreSQL instance class of the backend store.",
    },
    {
        key: "trackingDbMultiAz",
        type: "boolean",
        group: "Tracking server",
        default: false,
        description: "Run a standby database in a second availability zone.",
    },
    {
        key: "trackingDbDeletionProtection",
        type: "boolean",
        group: "Tracking server",
        default: true,
        description: "Refuse to delete the database.",
    },
    {
        key: "trackingDbFinalSnapshot",
        type: "boolean",
        group: "Tracking server",
        default: true,
        description: "Take a final snapshot when the database is deleted.",
    },
    {
        key: "trackingDbBackupRetentionDays",
        type: "integer",
        group: "Tracking server",
        default: 7,
        min: 7,
        max: 35,
        description: "Days automated database backups are kept.",
    },
    {
        key: "trackingDbMonitoringInterval",
        type: "integer",
        group: "Tracking server",
        default: 60,
        min: 0,
        max: 60,
        description: "RDS Enhanced Monitoring granularity in seconds: 1, 5, 10, 15, 30 or 60 (0 turns it off; the security pack then fails the stack).",
    },
    {
        key: "trackingDbAuditLogStatement",
        type: "string",
        group: "Tracking server",
        allowed: ["ddl", "mod", "all"],
        default: "ddl",
        description: "PostgreSQL `log_statement` for the audit trail in the exported `postgresql` log: `ddl` (schema changes), `mod` (plus every write) or `all`.",
    },
    {
        key: "trackingDbPasswordRotationDays",
        type: "integer",
        group: "Tracking server",
        default: 30,
        min: 0,
        max: 1000,
        description: "Days between RDS master password rotations (0: no rotation). Run `pulumi up` within this period to refresh the in-cluster Secret.",
    },
    {
        key: "trackingAuthAdminSecret",
        type: "string",
        group: "Tracking server",
        default: "",
        description: "Name of a Secret in the tracking namespace with `username`, `password`, `flask-secret-key`: turns on MLflow basic auth. Empty: no auth (cluster-internal only).",
    },
    {
        key: "trackingTrainingSecret",
        type: "string",
        group: "Tracking server",
        default: "",
        description:
            "With basic auth on: name of a Secret (`username`, `password`) in the training AND tracking namespaces: the training writer (EDIT on the training experiment and model only). Required when trackingAuthAdminSecret is set.",
    },
    {
        key: "trackingServingSecret",
        type: "string",
        group: "Tracking server",
        default: "",
        description:
            "With basic auth on: name of a Secret (`username`, `password`) in the serving AND tracking namespaces: the read-only user of model servers and the drift check (READ on the served model and the training experiment). Required when trackingAuthAdminSecret is set.",
    },
    {
        key: "trackingTrainingUser",
        type: "string",
        group: "Tracking server",
        default: "mlops-training",
        description:
            "MLflow user name of the training writer (the `username` in trackingTrainingSecret). `mlops gate` refuses a candidate whose run another user logged.",
    },
    {
        key: "trackingServingUser",
        type: "string",
        group: "Tracking server",
        default: "mlops-serving",
        description: "MLflow user name of the read-only serving user (the `username` in trackingServingSecret).",
    },
    {
        key: "trackingHostname",
        type: "string",
        group: "Tracking server",
        default: "",
        description: "Expose the tracking server through the Gateway at this hostname (HTTPRoute). Empty: in-cluster only.",
    },
    // ---- Gateway (model traffic entry point) ----
    {
        key: "gatewayLoadBalancerScheme",
        type: "string",
        group: "Gateway",
        allowed: LB_SCHEMES,
        default: "internal",
        description:
            "Load balancer of the installed Gateway's proxies: `internal` (reachable from the VPC only) or `internet-facing` (requires gatewaySourceRanges).",
    },
    {
        key: "gatewaySourceRanges",
        type: "array",
        items: "string",
        group: "Gateway",
        default: [],
        description: "Client CIDRs allowed through the Gateway's load balancer (`loadBalancerSourceRanges`). Required when internet-facing; 0.0.0.0/0 is refused.",
    },
    {
        key: "gatewayTls",
        type: "string",
        group: "Gateway",
        allowed: GATEWAY_TLS_MODES,
        default: "none",
        description:
            "TLS for model API clients: `none` (HTTP on 80), `acm` (the load balancer terminates TLS on 443 with gatewayCertificateArn), `secret` (HTTPS listener with the kubernetes.io/tls Secret gatewayTlsSecret) or `certManager` (HTTPS listener, certificate issued by cert-manager's gatewayCertIssuer for serving.gateway.hostname).",
    },
    {
        key: "gatewayCertificateArn",
        type: "string",
        group: "Gateway",
        default: "",
        description: "gatewayTls acm: the ACM certificate ARN the load balancer presents.",
    },
    {
        key: "gatewayTlsSecret",
        type: "string",
        group: "Gateway",
        default: "",
        description: "gatewayTls secret: the kubernetes.io/tls Secret in the Gateway namespace; certManager: the Secret to issue into (default `<gateway>-tls`).",
    },
    {
        key: "gatewayCertIssuer",
        type: "string",
        group: "Gateway",
        default: "",
        description: "gatewayTls certManager: name of the cert-manager ClusterIssuer.",
    },
    {
        key: "modelApiKeySecret",
        type: "string",
        group: "Gateway",
        default: "",
        description:
            "Client authentication on the model API: name of an Opaque Secret in the serving namespace, one data key per client id whose value is that client's API key, sent in the `x-api-key` header (Envoy Gateway SecurityPolicy). Empty: no authentication.",
    },
    {
        key: "modelTrackHeader",
        type: "boolean",
        group: "Gateway",
        default: true,
        description: "Let requests pick the canary (or blue-green preview) with the track header. Turn off where callers must not select an unapproved model.",
    },
    // ---- Monitoring ----
    {
        key: "monitoring",
        type: "boolean",
        group: "Monitoring",
        default: true,
        description: "Install kube-prometheus-stack (Prometheus, Alertmanager, Grafana with the platform dashboards), the NVIDIA DCGM exporter and a Pushgateway, with the platform's alert rules.",
    },
    {
        key: "monitoringNamespace",
        type: "string",
        group: "Monitoring",
        default: "monitoring",
        description: "Namespace of the monitoring stack (Pod Security restricted).",
    },
    {
        key: "prometheusRetention",
        type: "string",
        group: "Monitoring",
        default: "15d",
        description: "How long Prometheus keeps metrics (a Prometheus duration, e.g. 3d, 30d).",
    },
    {
        key: "prometheusStorageSize",
        type: "string",
        group: "Monitoring",
        default: "50Gi",
        description: "Prometheus volume size (encrypted gp3); retention by size is capped at 90 % of it.",
    },
    {
        key: "prometheusReplicas",
        type: "integer",
        group: "Monitoring",
        default: 1,
        min: 1,
        max: 5,
        description: "Prometheus replicas.",
    },
    {
        key: "alertmanagerReplicas",
        type: "integer",
        group: "Monitoring",
        default: 1,
        min: 1,
        max: 5,
        description: "Alertmanager replicas (a gossip cluster when more than one).",
    },
    {
        key: "grafanaAdminSecret",
        type: "string",
        group: "Monitoring",
        default: "grafana-admin",
        description: "Existing Secret in the monitoring namespace with `admin-user` and `admin-password` for Grafana.",
    },
    {
        key: "alertReceivers",
        type: "array",
        items: "object",
        group: "Monitoring",
        default: [{ name: "platform", type: "slack", secret: { name: "alertmanager-receivers", key: "slack-webhook-url" } }],
        description:
            "Alertmanager receivers: `[{ name, type: slack|pagerduty|webhook|opsgenie, secret: { name, key }, channel? }]`; credentials only ever come from Secrets in the monitoring namespace.",
    },
    {
        key: "alertDefaultReceiver",
        type: "string",
        group: "Monitoring",
        default: "platform",
        description: "Receiver for alerts no route matches.",
    },
    {
        key: "alertRoutes",
        type: "array",
        items: "object",
        group: "Monitoring",
        default: [],
        description: "Alertmanager child routes: `[{ receiver, matchers: ['severity=\"critical\"'], continue? }]`.",
    },
    {
        key: "dcgmExporter",
        type: "boolean",
        group: "Monitoring",
        default: true,
        description: "Deploy the NVIDIA DCGM exporter for GPU metrics (only when GPU pools exist).",
    },
    {
        key: "driftMonitor",
        type: "object",
        group: "Monitoring",
        description:
            "Scheduled drift check: `{ model, schedule, referencePrefix, batchPrefix, psiThreshold?: 0.2, ksAlpha?: 0.01, decision?: both|psi|ks|either, minRows?: 100, features?, failJobOnDrift?: false, source?: batches|predictions, predictionObjects?: 200 }`. `source: predictions` checks the serving prediction logs of the current stable version (needs serving.predictionLog.enabled; batchPrefix is then not used). Unset: no drift check.",
    },
    // ---- Data loop (issue 15) ----
    {
        key: "pipelineTrigger",
        type: "object",
        group: "Data loop",
        description:
            "New data in the raw bucket starts the training pipeline: `{ target: { kind: github, repository?: <githubRepository>, eventType?: new-data } | { kind: gitlab, projectId, ref?: main }, prefix?: '', suffix?: _manifest.json, retry?: { maximumRetryAttempts?: 8, maximumEventAgeSeconds?: 3600 }, dlqRetentionDays?: 14, invocationRateLimitPerSecond?: 1, alarmActions?: [SNS ARNs] }`. The token is set out of band (README \"Pipeline trigger\"). Unset: no trigger.",
    },
    {
        key: "ingestion",
        type: "object",
        group: "Data loop",
        description:
            "Scheduled ingestion into `s3://<raw bucket>/<dataset>/<date>/` (manifest last): `{ dataset, schedule, timeZone?, source: { uri: s3://bucket/prefix/ | https://..., suffixes?: [.csv] } }`; `{date}` in the URI is the batch date. Unset: no ingestion job.",
    },
    // ---- Training / serving ----
    {
        key: "training",
        type: "object",
        group: "Training",
        description:
            "A training run: `{ modelName, experimentName, dataPrefix, dataVersion, dataBucket?: processed|raw, runId?, gitSha?, schedule?, hyperparameters?, cpu?, memory?, gpus?, shmSize?, activeDeadlineSeconds?, waitForCompletion?, trainer?: sklearn|pytorch, workers?: 1, priority?: production }`. `gpus` are per worker; `workers` > 1 runs a multi-node torchrun Indexed Job (trainer pytorch, needs trainingQueues). Unset: no training Job.",
    },
    {
        key: "trainingQueues",
        type: "object",
        group: "Training",
        description:
            "Kueue queues and quotas for training: `{ cpu, memory, gpuPools?: { <pool>: { gpus, cpu, memory } }, podsReadyTimeout?: 15m, priorities?: { production: 1000, experiment: 100 } }`. `cpu`/`memory`: quota of CPU-only Jobs; `gpuPools.<pool>`: quota on that GPU pool (gpus at most the pool's maxSize × GPUs per node). Set: Kueue is installed and every training Job is submitted through the queue. Unset: no Kueue.",
    },
    {
        key: "sweep",
        type: "object",
        group: "Training",
        description:
            "Hyperparameter sweep of the training run: `{ enabled?: true, method: grid|random, space: { <name>: [values] | { min, max, scale?: linear|log, integer? } }, trials?, parallelism?: 2, seed?: 1, metric?, direction? }`. Enabled: the training run is a sweep (one Job per trial through the queue, child runs of one MLflow parent run; the best is registered as the candidate). metric/direction default to the gate's first threshold (serving.thresholds); the sweep id is training.runId (required). Needs training and trainingQueues.",
    },
    {
        key: "serving",
        type: "object",
        group: "Serving",
        description:
            "Model serving state (strategy, releases, weights, gate thresholds, gateway, `runtime: { kind: mlserver|mlflow|custom, ... }` (default mlserver), `predictionLog: { enabled?, sampleRate?: 0.1, prefix?: predictions/, batchSize?: 500, flushSeconds?: 30, queueSize?: 10000, excludeFields?, format?: parquet|jsonl }` (enabled by default in prod), `analysis`: canary analysis thresholds and step plan for `mlops release analyze`), edited by `mlops release` and `mlops gate --write`. Unset: no serving stack. See the release flow.",
    },
];

/** One GPU node pool as configured. */
export interface GpuPoolConfig {
    name: string;
    instanceTypes: string[];
    capacityType: "SPOT" | "ON_DEMAND";
    minSize: number;
    maxSize: number;
    amiType?: (typeof GPU_AMI_TYPES)[number];
    rootVolumeSizeGiB?: number;
    labels?: Record<string, string>;
}

/** Which refs may assume a CI role. */
export interface CiTrustConfig {
    branches?: string[];
    tags?: string[];
    environments?: string[];
    pullRequests?: boolean;
}

/** A training run as configured. */
export interface TrainingConfig {
    modelName: string;
    experimentName: string;
    /** Key prefix in the data bucket the run trains on. */
    dataPrefix: string;
    /** Data version; `<label>@sha256:<digest>` (validate.py) makes the trainer read and verify the batch. */
    dataVersion: string;
    /** Bucket of dataPrefix: `processed` (default) or `raw` (a validated raw batch, issue 15). */
    dataBucket: "processed" | "raw";
    runId?: string;
    /** Source commit of the training code, recorded as the run's git lineage. */
    gitSha?: string;
    schedule?: string;
    hyperparameters: Record<string, string | number | boolean>;
    cpu: string;
    memory: string;
    gpus: number;
    shmSize: string;
    activeDeadlineSeconds: number;
    waitForCompletion: boolean;
    /** sklearn (train.py) or pytorch (torchrun train_torch.py). */
    trainer: "sklearn" | "pytorch";
    /** Pods of the run (multi-node with pytorch). */
    workers: number;
    /** WorkloadPriorityClass of the run (with trainingQueues). */
    priority: string;
}

/** Kueue queues and quotas as configured. */
export interface TrainingQueuesConfig {
    cpu: string;
    memory: string;
    gpuPools: Record<string, { gpus: number; cpu: string; memory: string }>;
    podsReadyTimeout?: string;
    priorities?: Record<string, number>;
}

/** A sweep as configured (metric/direction resolved from the gate when unset). */
export interface SweepConfig {
    enabled: boolean;
    method: "grid" | "random";
    space: Record<string, unknown>;
    trials?: number;
    parallelism?: number;
    seed?: number;
    metric?: string;
    direction?: "maximize" | "minimize";
}

/** The validated, typed stack configuration the program passes to MlPlatform. */
export interface PlatformConfig {
    project: string;
    stack: string;
    environment: "dev" | "staging" | "prod";
    owner: string;
    protectStatefulResources: boolean;
    forceDestroy: boolean;
    dataLake: {
        rawTransitionIaDays: number;
        rawTransitionGlacierDays: number;
        noncurrentVersionExpirationDays: number;
        accessLogRetentionDays: number;
        multipartAbortDays: number;
        replication?: { region: string; storageClass: "STANDARD" | "STANDARD_IA" | "INTELLIGENT_TIERING" | "GLACIER_IR"; accessLogLockMode: "COMPLIANCE" | "GOVERNANCE" };
    };
    registry: {
        repositories: string[];
        imageUntaggedExpiryDays: number;
        imageKeepTaggedCount: number;
        buildImages: boolean;
        trainerImageContext: string;
        trackingImageContext: string;
        serverImageContext: string;
    };
    network: {
        vpcCidr: string;
        availabilityZones: number;
        natGateways: (typeof NAT_STRATEGIES)[number];
        interfaceEndpoints: (typeof INTERFACE_ENDPOINT_SERVICES)[number][];
        flowLogRetentionDays: number;
        existingVpc?: { vpcId: string; privateSubnetIds: string[]; publicSubnetIds?: string[] };
    };
    cluster: {
        kubernetesVersion: (typeof SUPPORTED_KUBERNETES_VERSIONS)[number];
        endpointPublicAccess: boolean;
        publicAccessCidrs: string[];
        adminRoleArns: string[];
        addonVersions: Record<string, string>;
        systemNodeInstanceTypes: string[];
        systemNodeMinSize: number;
        systemNodeMaxSize: number;
        logRetentionDays: number;
        workloadIdentityMode: "podIdentity" | "irsa";
        autoscalerScaleDownUnneededTime: string;
    };
    gpuPools: GpuPoolConfig[];
    ci?: {
        repository?: string;
        gitlab?: { project: string; url?: string; existingOidcProviderArn?: string; deployBranches?: string[]; previewBranches?: string[] };
        existingOidcProviderArn?: string;
        preview?: CiTrustConfig;
        deploy?: CiTrustConfig;
        imagePush?: CiTrustConfig;
        dataValidation: CiTrustConfig;
    };
    /** Digest-pinned mirrors of third-party images (unset: upstream by tag). */
    mirroredImages: { clusterAutoscaler?: string; nvidiaDevicePlugin?: string; pushgateway?: string };
    tracking: {
        image: string;
        namespace: string;
        replicas: number;
        workers: number;
        dbInstanceClass: string;
        dbMultiAz: boolean;
        dbDeletionProtection: boolean;
        dbFinalSnapshot: boolean;
        dbBackupRetentionDays: number;
        dbPasswordRotationDays: number;
        dbMonitoringInterval: number;
        dbAuditLogStatement: "ddl" | "mod" | "all";
        authAdminSecret: string;
        trainingSecret: string;
        servingSecret: string;
        trainingUser: string;
        servingUser: string;
        hostname: string;
    };
    trainingNamespace: string;
    training?: TrainingConfig;
    pipelineTrigger?: PipelineTriggerConfig;
    ingestion?: IngestionConfig;
    trainingQueues?: TrainingQueuesConfig;
    sweep?: SweepConfig;
    serving?: ServingConfig;
    /** The installed Gateway's load balancer and TLS, and the model route's client authentication. */
    gateway: {
        loadBalancerScheme: LoadBalancerScheme;
        sourceRanges: string[];
        tls: GatewayTlsMode;
        certificateArn: string;
        tlsSecret: string;
        certIssuer: string;
        apiKeySecret: string;
        trackHeader: boolean;
    };
    monitoring?: MonitoringConfig;
}

/** The monitoring stack as configured (absent when `monitoring` is false). */
export interface MonitoringConfig {
    namespace: string;
    prometheusRetention: string;
    prometheusStorageSize: string;
    prometheusReplicas: number;
    alertmanagerReplicas: number;
    grafanaAdminSecret: string;
    alertReceivers: AlertReceiver[];
    alertDefaultReceiver: string;
    alertRoutes: AlertRoute[];
    dcgmExporter: boolean;
    drift?: DriftConfig;
}

export interface DriftConfig {
    model: string;
    schedule: string;
    referencePrefix: string;
    batchPrefix: string;
    psiThreshold?: number;
    ksAlpha?: number;
    decision?: DriftDecision;
    minRows?: number;
    features?: string[];
    failJobOnDrift?: boolean;
    /**
     * What the check reads as its batch: `batches` (the newest file under batchPrefix, default) or
     * `predictions` (the serving prediction logs of the current stable version, see serving.predictionLog).
     */
    source?: "batches" | "predictions";
    /** With source `predictions`: how many of the newest log objects form the batch. Default 200. */
    predictionObjects?: number;
}

/** Parses one raw config string according to its spec; records a problem and returns undefined if bad. */
function parseValue(spec: ConfigKeySpec, raw: string | undefined, problems: Problems): unknown {
    const path = `${PROJECT}:${spec.key}`;
    if (raw === undefined) {
        return spec.default;
    }
    switch (spec.type) {
        case "string": {
            if (spec.allowed && !spec.allowed.includes(raw)) {
                problems.add(path, `must be one of ${spec.allowed.map((a) => `"${a}"`).join(", ")}, got ${describe(raw)}`);
                return undefined;
            }
            return raw;
        }
        case "integer": {
            const n = Number(raw);
            const min = spec.min ?? Number.MIN_SAFE_INTEGER;
            const max = spec.max ?? Number.MAX_SAFE_INTEGER;
            if (raw.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
                problems.add(path, `must be an integer from ${min} to ${max}, got ${describe(raw)}`);
                return undefined;
            }
            return n;
        }
        case "boolean": {
            if (raw !== "true" && raw !== "false") {
                problems.add(path, `must be true or false, got ${describe(raw)}`);
                return undefined;
            }
            return raw === "true";
        }
        case "array":
        case "object": {
            let parsed: unknown;
            try {
                parsed = JSON.parse(raw);
            } catch {
                problems.add(path, `must be a YAML ${spec.type === "array" ? "list" : "mapping"}, got ${describe(raw)}`);
                return undefined;
            }
            const ok = spec.type === "array" ? Array.isArray(parsed) : typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
            if (!ok) {
                problems.add(path, `must be a YAML ${spec.type === "array" ? "list" : "mapping"}, got ${describe(parsed)}`);
                return undefined;
            }
            return parsed;
        }
    }
}

/**
 * Parses and validates raw stack config (key without namespace → string value as the Pulumi CLI
 * passes it; objects and lists as JSON). Throws one `pulumi.InputPropertiesError` listing every
 * problem, each naming the key, the bad value and what is allowed.
 */
/** Longest stack name: names of the stack's AWS resources (`<project>-<stack>-...`) must fit their limits. */
export const MAX_STACK_NAME_LENGTH = 24;
export const STACK_NAME_RE = /^[a-z][a-z0-9-]*[a-z0-9]$/;

/** Why a stack name cannot be used, or undefined. */
export function stackNameProblem(stack: string): string | undefined {
    if (!STACK_NAME_RE.test(stack)) return `must be lowercase letters, digits and '-', starting with a letter, got ${JSON.stringify(stack)}`;
    if (stack.length > MAX_STACK_NAME_LENGTH) return `must be at most ${MAX_STACK_NAME_LENGTH} characters (resource names derive from it), got ${stack.length} (${JSON.stringify(stack)})`;
    return undefined;
}

/** AWS regions the provider knows (@pulumi/aws's Region enum). */
export const AWS_REGIONS: readonly string[] = Object.values(AwsRegion);

const CIDR_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(3[0-2]|[12]?\d)$/;
const CRON_RE = /^(\S+\s+){4}\S+$|^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/;

export function parsePlatformConfig(
    raw: Record<string, string | undefined>,
    context: { project: string; stack: string; /** `aws:region` of the stack, when the caller has it. */ awsRegion?: string },
): PlatformConfig {
    const problems = new Problems("stack configuration");
    const stackProblem = stackNameProblem(context.stack);
    if (stackProblem) problems.add(`stack name`, stackProblem);
    if (context.awsRegion !== undefined && !AWS_REGIONS.includes(context.awsRegion)) {
        const near = AWS_REGIONS.filter((r) => r.split("-")[0] === context.awsRegion!.split("-")[0]);
        problems.add("aws:region", `is not an AWS region, got ${JSON.stringify(context.awsRegion)}; valid: ${(near.length ? near : AWS_REGIONS).join(", ")}`);
    }
    const known = new Set(CONFIG_KEYS.map((k) => k.key));
    for (const key of Object.keys(raw)) {
        if (!known.has(key)) {
            problems.add(`${PROJECT}:${key}`, `is not a known key; known keys: ${[...known].join(", ")}`);
        }
    }
    const v: Record<string, any> = {};
    for (const spec of CONFIG_KEYS) {
        v[spec.key] = parseValue(spec, raw[spec.key], problems);
    }

    const repositories: unknown[] = Array.isArray(v.repositories) ? v.repositories : [];
    repositories.forEach((r, i) => {
        problems.check(
            typeof r === "string" && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(r),
            `${PROJECT}:repositories[${i}]`,
            `must be a lowercase DNS label (letters, digits, '-'), got ${describe(r)}`,
        );
    });
    if (new Set(repositories).size !== repositories.length) {
        problems.add(`${PROJECT}:repositories`, `must not repeat a name, got ${describe(repositories)}`);
    }
    if (v.protectStatefulResources === true && v.forceDestroy === true) {
        problems.add(
            `${PROJECT}:forceDestroy`,
            "must be false when protectStatefulResources is true (protected data cannot also be force-destroyed)",
        );
    }
    if (
        typeof v.rawTransitionIaDays === "number" &&
        typeof v.rawTransitionGlacierDays === "number" &&
        v.rawTransitionGlacierDays <= v.rawTransitionIaDays
    ) {
        problems.add(
            `${PROJECT}:rawTransitionGlacierDays`,
            `must be greater than rawTransitionIaDays (${v.rawTransitionIaDays}), got ${v.rawTransitionGlacierDays}`,
        );
    }
    stringList(problems, "vpcInterfaceEndpoints", v.vpcInterfaceEndpoints, INTERFACE_ENDPOINT_SERVICES);
    if (Array.isArray(v.vpcInterfaceEndpoints) && !v.vpcInterfaceEndpoints.includes("secretsmanager")) {
        // The tracking server and its database bootstrap read their credentials from Secrets
        // Manager at start, and the tracking namespace's egress reaches AWS only inside the VPC.
        problems.add(`${PROJECT}:vpcInterfaceEndpoints`, `must include "secretsmanager" (the tracking server reads its database credentials through it), got ${describe(v.vpcInterfaceEndpoints)}`);
    }
    stringList(problems, "clusterPublicAccessCidrs", v.clusterPublicAccessCidrs, undefined, CIDR_RE, "an IPv4 CIDR block such as 203.0.113.0/24");
    stringList(problems, "clusterAdminRoleArns", v.clusterAdminRoleArns, undefined, /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>");
    stringList(problems, "systemNodeInstanceTypes", v.systemNodeInstanceTypes, undefined, /^[a-z0-9-]+\.[a-z0-9]+$/, "an EC2 instance type such as m6i.large");
    if (typeof v.vpcCidr === "string" && !(CIDR_RE.test(v.vpcCidr) && Number(v.vpcCidr.split("/")[1]) >= 16 && Number(v.vpcCidr.split("/")[1]) <= 24)) {
        problems.add(`${PROJECT}:vpcCidr`, `must be an IPv4 CIDR block from /16 to /24 such as 10.0.0.0/16, got ${describe(v.vpcCidr)}`);
    }
    const admins = Array.isArray(v.clusterAdminRoleArns) ? v.clusterAdminRoleArns : [];
    const gitlabCi = v.gitlabCi === undefined ? undefined : parseGitlabCi(problems, v.gitlabCi);
    if (admins.length === 0 && !(typeof v.githubRepository === "string" && v.githubRepository !== "") && v.gitlabCi === undefined) {
        problems.add(
            `${PROJECT}:clusterAdminRoleArns`,
            "is required when neither githubRepository nor gitlabCi is set: list the IAM role ARNs that administer the cluster (arn:aws:iam::<account>:role/<name>), " +
                "or set githubRepository (owner/name) or gitlabCi so the CI deploy role does; the cluster creator gets no implicit access",
        );
    }
    stringList(problems, "gatewaySourceRanges", v.gatewaySourceRanges);
    if (v.gatewayLoadBalancerScheme === "internet-facing" && Array.isArray(v.gatewaySourceRanges) && v.gatewaySourceRanges.length === 0) {
        problems.add(`${PROJECT}:gatewaySourceRanges`, "must list the client CIDRs allowed through the load balancer when gatewayLoadBalancerScheme is internet-facing");
    }
    const needs: Record<string, [string, string]> = { acm: ["gatewayCertificateArn", "an ACM certificate ARN"], secret: ["gatewayTlsSecret", "a kubernetes.io/tls Secret name"], certManager: ["gatewayCertIssuer", "a cert-manager ClusterIssuer name"] };
    const need = needs[v.gatewayTls as string];
    if (need && v[need[0]] === "") {
        problems.add(`${PROJECT}:${need[0]}`, `must be set (${need[1]}) when gatewayTls is ${v.gatewayTls}`);
    }
    if (typeof v.modelApiKeySecret === "string" && v.modelApiKeySecret !== "" && !DNS_LABEL.test(v.modelApiKeySecret)) {
        problems.add(`${PROJECT}:modelApiKeySecret`, `must be a Secret name (DNS-1123 label), got ${describe(v.modelApiKeySecret)}`);
    }
    if (typeof v.systemNodeMinSize === "number" && typeof v.systemNodeMaxSize === "number" && v.systemNodeMinSize > v.systemNodeMaxSize) {
        problems.add(`${PROJECT}:systemNodeMinSize`, `must not exceed systemNodeMaxSize (${v.systemNodeMaxSize}), got ${v.systemNodeMinSize}`);
    }
    if (v.clusterEndpointPublicAccess === true && Array.isArray(v.clusterPublicAccessCidrs) && v.clusterPublicAccessCidrs.length === 0) {
        problems.add(`${PROJECT}:clusterPublicAccessCidrs`, "must list the CIDRs allowed to reach the public API endpoint when clusterEndpointPublicAccess is true");
    }
    const existingVpc = v.existingVpc === undefined ? undefined : parseExistingVpc(problems, v.existingVpc);
    const addonVersions = v.eksAddonVersions === undefined ? {} : parseStringMap(problems, "eksAddonVersions", v.eksAddonVersions);
    const gpuPools = parseGpuPools(problems, v.gpuPools);
    if (typeof v.dataReplicationRegion === "string" && v.dataReplicationRegion !== "" && !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(v.dataReplicationRegion)) {
        problems.add(`${PROJECT}:dataReplicationRegion`, `must be an AWS region such as "us-west-2" (or empty for no replication), got ${describe(v.dataReplicationRegion)}`);
    }
    if (typeof v.trackingDbMonitoringInterval === "number" && ![0, 1, 5, 10, 15, 30, 60].includes(v.trackingDbMonitoringInterval)) {
        problems.add(`${PROJECT}:trackingDbMonitoringInterval`, `must be 0 (off), 1, 5, 10, 15, 30 or 60 seconds, got ${describe(v.trackingDbMonitoringInterval)}`);
    }
    if (typeof v.githubRepository === "string" && v.githubRepository !== "" && !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(v.githubRepository)) {
        problems.add(`${PROJECT}:githubRepository`, `must be "owner/name", got ${describe(v.githubRepository)}`);
    }
    const trust = (key: string): CiTrustConfig | undefined => (v[key] === undefined ? undefined : parseTrust(problems, key, v[key]));
    const ciPreview = trust("ciPreviewTrust");
    const ciDeploy = trust("ciDeployTrust");
    const ciPush = trust("ciImagePushTrust");
    const ciValidation = trust("ciDataValidationTrust");
    if (typeof v.trackingImage === "string" && v.trackingImage !== "" && !/^[^\s@]+@sha256:[a-f0-9]{64}$/.test(v.trackingImage)) {
        problems.add(`${PROJECT}:trackingImage`, `must be pinned by digest (<repository>@sha256:<64 hex>), got ${describe(v.trackingImage)}`);
    }
    if (v.trackingImage === "" && v.buildImages === false) {
        problems.add(`${PROJECT}:trackingImage`, "must be set (a digest-pinned MLflow image) when buildImages is false");
    }
    if (v.buildImages === true) {
        for (const [repo, key] of [["trainer", "trainerImageContext"], ["mlflow", "trackingImageContext"], ["server", "serverImageContext"]] as const) {
            if (!repositories.includes(repo)) {
                problems.add(`${PROJECT}:repositories`, `must include "${repo}" when buildImages is true (${key} is built into it)`);
            }
        }
    }
    if (typeof v.trackingAuthAdminSecret === "string" && v.trackingAuthAdminSecret !== "") {
        for (const [key, who] of [["trackingTrainingSecret", "training Jobs"], ["trackingServingSecret", "model servers and the drift check"]] as const) {
            if (v[key] === "") {
                problems.add(`${PROJECT}:${key}`, `must name the Secret (username, password) ${who} use when trackingAuthAdminSecret turns MLflow basic auth on`);
            }
        }
    }
    if (v.trackingTrainingUser === v.trackingServingUser) {
        problems.add(`${PROJECT}:trackingServingUser`, `must differ from trackingTrainingUser (${describe(v.trackingTrainingUser)}): serving must not write what the gate trusts`);
    }
    for (const key of ["trackingTrainingUser", "trackingServingUser"]) {
        if (typeof v[key] !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(v[key])) {
            problems.add(`${PROJECT}:${key}`, `must be an MLflow user name (letters, digits, _.@-, up to 64), got ${describe(v[key])}`);
        }
    }
    for (const key of ["trackingNamespace", "trainingNamespace", ...["trackingTrainingSecret", "trackingServingSecret"].filter((k) => v[k])]) {
        if (typeof v[key] === "string" && !DNS_LABEL.test(v[key])) {
            problems.add(`${PROJECT}:${key}`, `must be a DNS-1123 label, got ${describe(v[key])}`);
        }
    }
    const training = v.training === undefined ? undefined : parseTraining(problems, v.training);
    const pipelineTrigger = v.pipelineTrigger === undefined ? undefined : parsePipelineTrigger(problems, v.pipelineTrigger, v.githubRepository || undefined);
    const ingestion = v.ingestion === undefined ? undefined : parseIngestion(problems, v.ingestion);
    const trainingQueues = v.trainingQueues === undefined ? undefined : parseTrainingQueues(problems, v.trainingQueues, gpuPools);
    const sweep = v.sweep === undefined ? undefined : parseSweep(problems, v.sweep);
    if (training?.trainer === "pytorch" && v.buildImages === true && !repositories.includes(TORCH_TRAINER_REPOSITORY)) {
        problems.add(`${PROJECT}:repositories`, `must include "${TORCH_TRAINER_REPOSITORY}" when training.trainer is pytorch (trainerImageContext's ${TORCH_TRAINER_DOCKERFILE} is built into it)`);
    }
    if (training && training.workers > 1 && !trainingQueues) {
        problems.add(`${PROJECT}:training.workers`, "> 1 needs mlops-platform:trainingQueues (Kueue admits all workers at once)");
    }
    if (sweep?.enabled) {
        if (!training) problems.add(`${PROJECT}:sweep`, "needs mlops-platform:training (the run each trial is)");
        else if (!training.runId) problems.add(`${PROJECT}:training.runId`, "is required with a sweep (it is the sweep id; CI sets it per run)");
        if (training?.schedule) problems.add(`${PROJECT}:sweep`, "does not apply to a scheduled training run (training.schedule)");
        if (!trainingQueues) problems.add(`${PROJECT}:sweep`, "needs mlops-platform:trainingQueues (trials go through the queue)");
    }
    let serving: ServingConfig | undefined;
    if (v.serving !== undefined) {
        try {
            serving = parseServingConfig(v.serving, { environment: v.environment });
        } catch (e: any) {
            for (const err of e?.errors ?? [{ propertyPath: `${PROJECT}:serving`, reason: String(e?.message ?? e) }]) {
                problems.add(err.propertyPath, err.reason);
            }
        }
    }
    for (const key of ["prometheusRetention"]) {
        if (typeof v[key] === "string" && !/^\d+(ms|s|m|h|d|w|y)$/.test(v[key])) {
            problems.add(`${PROJECT}:${key}`, `must be a Prometheus duration (e.g. 15d), got ${describe(v[key])}`);
        }
    }
    if (typeof v.prometheusStorageSize === "string" && !QUANTITY.test(v.prometheusStorageSize)) {
        problems.add(`${PROJECT}:prometheusStorageSize`, `must be a Kubernetes quantity (e.g. 50Gi), got ${describe(v.prometheusStorageSize)}`);
    }
    const receivers = Array.isArray(v.alertReceivers) ? v.alertReceivers : [];
    receivers.forEach((r: unknown, i: number) => {
        const at = `${PROJECT}:alertReceivers[${i}]`;
        if (!isObject(r)) {
            problems.add(at, `must be a mapping { name, type, secret: { name, key } }, got ${describe(r)}`);
            return;
        }
        problems.check(typeof r.name === "string" && r.name !== "", `${at}.name`, `must be a name, got ${describe(r.name)}`);
        problems.check(["slack", "pagerduty", "webhook", "opsgenie"].includes(r.type as string), `${at}.type`, `must be one of "slack", "pagerduty", "webhook", "opsgenie", got ${describe(r.type)}`);
        problems.check(
            isObject(r.secret) && typeof r.secret.name === "string" && typeof r.secret.key === "string",
            `${at}.secret`,
            `must reference a Secret { name, key } (credentials never go in config), got ${describe(r.secret)}`,
        );
    });
    if (v.monitoring === true && typeof v.alertDefaultReceiver === "string" && !receivers.some((r: any) => r?.name === v.alertDefaultReceiver)) {
        problems.add(`${PROJECT}:alertDefaultReceiver`, `must name one of alertReceivers (${receivers.map((r: any) => r?.name).join(", ")}), got ${describe(v.alertDefaultReceiver)}`);
    }
    const drift = v.driftMonitor === undefined ? undefined : parseDrift(problems, v.driftMonitor);
    if (drift && v.monitoring === false) {
        problems.add(`${PROJECT}:driftMonitor`, "needs monitoring: true (results go to the monitoring stack's Pushgateway)");
    }
    if (drift?.source === "predictions" && !serving?.predictionLog.enabled) {
        problems.add(`${PROJECT}:driftMonitor.source`, `"predictions" reads the serving prediction logs: it needs serving with predictionLog.enabled: true`);
    }
    const mirroredImages = v.mirroredImages === undefined ? {} : parseMirroredImages(problems, v.mirroredImages);
    problems.throwIfAny();

    return {
        project: context.project,
        stack: context.stack,
        environment: v.environment,
        owner: v.owner,
        protectStatefulResources: v.protectStatefulResources,
        forceDestroy: v.forceDestroy,
        dataLake: {
            rawTransitionIaDays: v.rawTransitionIaDays,
            rawTransitionGlacierDays: v.rawTransitionGlacierDays,
            noncurrentVersionExpirationDays: v.noncurrentVersionExpirationDays,
            accessLogRetentionDays: v.accessLogRetentionDays,
            multipartAbortDays: v.multipartAbortDays,
            ...(v.dataReplicationRegion
                ? { replication: { region: v.dataReplicationRegion, storageClass: v.dataReplicationStorageClass, accessLogLockMode: v.accessLogLockMode } }
                : {}),
        },
        registry: {
            repositories: repositories as string[],
            imageUntaggedExpiryDays: v.imageUntaggedExpiryDays,
            imageKeepTaggedCount: v.imageKeepTaggedCount,
            buildImages: v.buildImages,
            trainerImageContext: v.trainerImageContext,
            trackingImageContext: v.trackingImageContext,
            serverImageContext: v.serverImageContext,
        },
        network: {
            vpcCidr: v.vpcCidr,
            availabilityZones: v.availabilityZones,
            natGateways: v.natGateways,
            interfaceEndpoints: v.vpcInterfaceEndpoints,
            flowLogRetentionDays: v.flowLogRetentionDays,
            ...(existingVpc ? { existingVpc } : {}),
        },
        cluster: {
            kubernetesVersion: v.kubernetesVersion,
            endpointPublicAccess: v.clusterEndpointPublicAccess,
            publicAccessCidrs: v.clusterPublicAccessCidrs,
            adminRoleArns: v.clusterAdminRoleArns,
            addonVersions,
            systemNodeInstanceTypes: v.systemNodeInstanceTypes,
            systemNodeMinSize: v.systemNodeMinSize,
            systemNodeMaxSize: v.systemNodeMaxSize,
            logRetentionDays: v.clusterLogRetentionDays,
            workloadIdentityMode: v.workloadIdentityMode,
            autoscalerScaleDownUnneededTime: v.autoscalerScaleDownUnneededTime,
        },
        gpuPools,
        ...(v.githubRepository || gitlabCi
            ? {
                  ci: {
                      ...(v.githubRepository ? { repository: v.githubRepository } : {}),
                      ...(gitlabCi ? { gitlab: gitlabCi } : {}),
                      ...(v.githubOidcProviderArn ? { existingOidcProviderArn: v.githubOidcProviderArn } : {}),
                      ...(ciPreview ? { preview: ciPreview } : {}),
                      ...(ciDeploy ? { deploy: ciDeploy } : {}),
                      ...(ciPush ? { imagePush: ciPush } : {}),
                      dataValidation: ciValidation ?? { environments: [context.stack] },
                  },
              }
            : {}),
        mirroredImages,
        tracking: {
            image: v.trackingImage,
            namespace: v.trackingNamespace,
            replicas: v.trackingReplicas,
            workers: v.trackingWorkers,
            dbInstanceClass: v.trackingDbInstanceClass,
            dbMultiAz: v.trackingDbMultiAz,
            dbDeletionProtection: v.trackingDbDeletionProtection,
            dbFinalSnapshot: v.trackingDbFinalSnapshot,
            dbBackupRetentionDays: v.trackingDbBackupRetentionDays,
            dbPasswordRotationDays: v.trackingDbPasswordRotationDays,
            dbMonitoringInterval: v.trackingDbMonitoringInterval,
            dbAuditLogStatement: v.trackingDbAuditLogStatement,
            authAdminSecret: v.trackingAuthAdminSecret,
            trainingSecret: v.trackingTrainingSecret,
            servingSecret: v.trackingServingSecret,
            trainingUser: v.trackingTrainingUser,
            servingUser: v.trackingServingUser,
            hostname: v.trackingHostname,
        },
        trainingNamespace: v.trainingNamespace,
        gateway: {
            loadBalancerScheme: v.gatewayLoadBalancerScheme,
            sourceRanges: v.gatewaySourceRanges,
            tls: v.gatewayTls,
            certificateArn: v.gatewayCertificateArn,
            tlsSecret: v.gatewayTlsSecret,
            certIssuer: v.gatewayCertIssuer,
            apiKeySecret: v.modelApiKeySecret,
            trackHeader: v.modelTrackHeader,
        },
        ...(training ? { training } : {}),
        ...(pipelineTrigger ? { pipelineTrigger } : {}),
        ...(ingestion ? { ingestion } : {}),
        ...(trainingQueues ? { trainingQueues } : {}),
        ...(sweep ? { sweep } : {}),
        ...(serving ? { serving } : {}),
        ...(v.monitoring
            ? {
                  monitoring: {
                      namespace: v.monitoringNamespace,
                      prometheusRetention: v.prometheusRetention,
                      prometheusStorageSize: v.prometheusStorageSize,
                      prometheusReplicas: v.prometheusReplicas,
                      alertmanagerReplicas: v.alertmanagerReplicas,
                      grafanaAdminSecret: v.grafanaAdminSecret,
                      alertReceivers: receivers as AlertReceiver[],
                      alertDefaultReceiver: v.alertDefaultReceiver,
                      alertRoutes: v.alertRoutes,
                      dcgmExporter: v.dcgmExporter,
                      ...(drift ? { drift } : {}),
                  },
              }
            : {}),
    };
}

function parseDrift(problems: Problems, value: unknown): DriftConfig | undefined {
    const path = `${PROJECT}:driftMonitor`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { model, schedule, referencePrefix, batchPrefix, ... }, got ${describe(value)}`);
        return undefined;
    }
    unknownKeys(problems, path, value, ["model", "schedule", "referencePrefix", "batchPrefix", "psiThreshold", "ksAlpha", "decision", "minRows", "features", "failJobOnDrift", "source", "predictionObjects"]);
    const source = value.source ?? "batches";
    problems.check(source === "batches" || source === "predictions", `${path}.source`, `must be "batches" (files under batchPrefix) or "predictions" (the serving prediction logs of the stable version), got ${describe(source)}`);
    if (value.predictionObjects !== undefined) {
        const n = value.predictionObjects;
        problems.check(typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 100000, `${path}.predictionObjects`, `must be an integer from 1 to 100000, got ${describe(n)}`);
    }
    for (const k of ["model", "schedule", "referencePrefix", ...(source === "predictions" ? [] : ["batchPrefix"])]) {
        problems.check(typeof value[k] === "string" && value[k] !== "", `${path}.${k}`, `is required (a non-empty string), got ${describe(value[k])}`);
    }
    if (typeof value.schedule === "string" && value.schedule !== "") {
        problems.check(
            CRON_RE.test(value.schedule) && !/TZ=/.test(value.schedule),
            `${path}.schedule`,
            `must be a 5-field cron expression (minute hour day month weekday, e.g. "0 6 * * *") or @hourly/@daily/@weekly/@monthly, got ${describe(value.schedule)}`,
        );
    }
    return value as unknown as DriftConfig;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

function unknownKeys(problems: Problems, path: string, obj: Record<string, unknown>, allowed: string[]): void {
    for (const k of Object.keys(obj)) {
        if (!allowed.includes(k)) {
            problems.add(`${path}.${k}`, `is not a known property; known: ${allowed.join(", ")}`);
        }
    }
}

function stringList(problems: Problems, key: string, value: unknown, allowed?: readonly string[], pattern?: RegExp, what = "a non-empty string"): void {
    if (!Array.isArray(value)) {
        return; // parseValue reported it
    }
    value.forEach((item, i) => {
        const ok = typeof item === "string" && (!allowed || allowed.includes(item)) && (!pattern || pattern.test(item));
        if (!ok) {
            problems.add(
                `${PROJECT}:${key}[${i}]`,
                allowed ? `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${describe(item)}` : `must be ${what}, got ${describe(item)}`,
            );
        }
    });
}

function parseStringMap(problems: Problems, key: string, value: unknown): Record<string, string> {
    if (!isObject(value) || Object.values(value).some((x) => typeof x !== "string")) {
        problems.add(`${PROJECT}:${key}`, `must be a mapping of names to version strings, got ${describe(value)}`);
        return {};
    }
    return value as Record<string, string>;
}

function parseExistingVpc(problems: Problems, value: unknown): PlatformConfig["network"]["existingVpc"] {
    const path = `${PROJECT}:existingVpc`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { vpcId, privateSubnetIds, publicSubnetIds? }, got ${describe(value)}`);
        return undefined;
    }
    unknownKeys(problems, path, value, ["vpcId", "privateSubnetIds", "publicSubnetIds"]);
    problems.check(typeof value.vpcId === "string" && /^vpc-[0-9a-f]{8,17}$/.test(value.vpcId), `${path}.vpcId`, `must be a VPC id (vpc-...), got ${describe(value.vpcId)}`);
    const subnets = (k: string, required: boolean) => {
        const list = value[k];
        if (list === undefined && !required) return;
        problems.check(
            Array.isArray(list) && list.length >= (required ? 2 : 1) && list.every((x) => typeof x === "string" && /^subnet-[0-9a-f]{8,17}$/.test(x)),
            `${path}.${k}`,
            `must list ${required ? "at least two" : ""} subnet ids (subnet-...), got ${describe(list)}`,
        );
    };
    subnets("privateSubnetIds", true);
    subnets("publicSubnetIds", false);
    return value as any;
}

function parseGpuPools(problems: Problems, value: unknown): GpuPoolConfig[] {
    if (!Array.isArray(value)) {
        return [];
    }
    const names = new Set<string>();
    return value.map((pool, i) => {
        const path = `${PROJECT}:gpuPools[${i}]`;
        if (!isObject(pool)) {
            problems.add(path, `must be a mapping { name, instanceTypes, capacityType, minSize, maxSize }, got ${describe(pool)}`);
            return undefined as unknown as GpuPoolConfig;
        }
        unknownKeys(problems, path, pool, ["name", "instanceTypes", "capacityType", "minSize", "maxSize", "amiType", "rootVolumeSizeGiB", "labels"]);
        if (problems.check(typeof pool.name === "string" && DNS_LABEL.test(pool.name), `${path}.name`, `must be a DNS label, got ${describe(pool.name)}`)) {
            problems.check(!names.has(pool.name as string), `${path}.name`, `repeats pool name "${pool.name}"`);
            names.add(pool.name as string);
        }
        const types = pool.instanceTypes;
        if (problems.check(Array.isArray(types) && types.length > 0, `${path}.instanceTypes`, `must list at least one GPU instance type, got ${describe(types)}`)) {
            (types as unknown[]).forEach((t, k) =>
                problems.check(
                    typeof t === "string" && t in GPU_COUNT_BY_INSTANCE_TYPE,
                    `${path}.instanceTypes[${k}]`,
                    `must be a GPU instance type (${[...new Set(Object.keys(GPU_COUNT_BY_INSTANCE_TYPE).map((x) => x.split(".")[0]))].join(", ")} families), got ${describe(t)}`,
                ),
            );
        }
        problems.check(pool.capacityType === "SPOT" || pool.capacityType === "ON_DEMAND", `${path}.capacityType`, `must be "SPOT" or "ON_DEMAND", got ${describe(pool.capacityType)}`);
        const int = (k: string, min: number, max: number) =>
            problems.check(
                typeof pool[k] === "number" && Number.isInteger(pool[k]) && (pool[k] as number) >= min && (pool[k] as number) <= max,
                `${path}.${k}`,
                `must be an integer from ${min} to ${max}, got ${describe(pool[k])}`,
            );
        if (int("minSize", 0, 100) && int("maxSize", 1, 100)) {
            problems.check((pool.minSize as number) <= (pool.maxSize as number), `${path}.minSize`, `must not exceed maxSize (${pool.maxSize}), got ${pool.minSize}`);
        }
        if (pool.amiType !== undefined) {
            problems.check((GPU_AMI_TYPES as readonly unknown[]).includes(pool.amiType), `${path}.amiType`, `must be one of ${GPU_AMI_TYPES.join(", ")}, got ${describe(pool.amiType)}`);
        }
        if (pool.rootVolumeSizeGiB !== undefined) {
            int("rootVolumeSizeGiB", 50, 16384);
        }
        if (pool.labels !== undefined) {
            problems.check(isObject(pool.labels) && Object.values(pool.labels).every((x) => typeof x === "string"), `${path}.labels`, "must be a mapping of label names to strings");
        }
        return pool as unknown as GpuPoolConfig;
    });
}

/** `mirroredImages`: digest-pinned copies of the third-party images in the operator's registry. */
function parseMirroredImages(problems: Problems, value: unknown): PlatformConfig["mirroredImages"] {
    const path = `${PROJECT}:mirroredImages`;
    const keys = ["clusterAutoscaler", "nvidiaDevicePlugin", "pushgateway"];
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { ${keys.map((k) => `${k}?`).join(", ")} }, got ${describe(value)}`);
        return {};
    }
    unknownKeys(problems, path, value, keys);
    for (const k of keys) {
        if (value[k] === undefined) continue;
        problems.check(
            typeof value[k] === "string" && /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._\/-]+@sha256:[a-f0-9]{64}$/.test(value[k] as string),
            `${path}.${k}`,
            `must be an image pinned by digest, <registry>/<repository>@sha256:<64 hex> (crane digest prints it), got ${describe(value[k])}`,
        );
    }
    return value as PlatformConfig["mirroredImages"];
}

/** `gitlabCi`: GitLab pipelines trusted by the CI roles (components/ciAccess.ts GitlabCiArgs). */
function parseGitlabCi(problems: Problems, value: unknown): NonNullable<NonNullable<PlatformConfig["ci"]>["gitlab"]> | undefined {
    const path = `${PROJECT}:gitlabCi`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { project, url?, existingOidcProviderArn?, deployBranches?, previewBranches? }, got ${describe(value)}`);
        return undefined;
    }
    unknownKeys(problems, path, value, ["project", "url", "existingOidcProviderArn", "deployBranches", "previewBranches"]);
    problems.check(
        typeof value.project === "string" && GITLAB_PROJECT.test(value.project),
        `${path}.project`,
        `must be a GitLab project path "group[/subgroup]/project", got ${describe(value.project)}`,
    );
    if (value.url !== undefined) {
        problems.check(typeof value.url === "string" && GITLAB_URL.test(value.url), `${path}.url`, `must be the instance's https URL without a path, e.g. https://gitlab.example.com, got ${describe(value.url)}`);
    }
    if (value.existingOidcProviderArn !== undefined) {
        problems.check(
            typeof value.existingOidcProviderArn === "string" && OIDC_PROVIDER_ANY_ARN.test(value.existingOidcProviderArn),
            `${path}.existingOidcProviderArn`,
            `must be an IAM OIDC provider ARN, got ${describe(value.existingOidcProviderArn)}`,
        );
    }
    for (const key of ["deployBranches", "previewBranches"]) {
        const list = value[key];
        if (list === undefined) continue;
        if (!problems.check(Array.isArray(list) && (list.length > 0 || key === "deployBranches"), `${path}.${key}`, `must be a list of branch names or globs${key === "previewBranches" ? " (at least one)" : ""}, got ${describe(list)}`)) continue;
        (list as unknown[]).forEach((b, i) => {
            problems.check(typeof b === "string" && CI_BRANCH.test(b), `${path}.${key}[${i}]`, `must be a branch name or glob without spaces or ':', got ${describe(b)}`);
            if (key === "deployBranches") problems.check(!BARE_WILDCARD.test(String(b)), `${path}.deployBranches[${i}]`, `must not be a bare wildcard (${describe(b)}): any branch could deploy; name the protected branches`);
        });
    }
    return value as never;
}

function parseTrust(problems: Problems, key: string, value: unknown): CiTrustConfig | undefined {
    const path = `${PROJECT}:${key}`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { branches?, tags?, environments?, pullRequests? }, got ${describe(value)}`);
        return undefined;
    }
    unknownKeys(problems, path, value, ["branches", "tags", "environments", "pullRequests"]);
    for (const k of ["branches", "tags", "environments"]) {
        if (value[k] !== undefined) {
            problems.check(
                Array.isArray(value[k]) && (value[k] as unknown[]).every((x) => typeof x === "string" && x !== "" && x !== "*"),
                `${path}.${k}`,
                `must be a list of names (no bare "*"), got ${describe(value[k])}`,
            );
        }
    }
    if (value.pullRequests !== undefined) {
        problems.check(typeof value.pullRequests === "boolean", `${path}.pullRequests`, `must be true or false, got ${describe(value.pullRequests)}`);
    }
    return value as CiTrustConfig;
}

const QUANTITY = /^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/;

function parseTraining(problems: Problems, value: unknown): TrainingConfig | undefined {
    const path = `${PROJECT}:training`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { modelName, experimentName, dataPrefix, dataVersion, ... }, got ${describe(value)}`);
        return undefined;
    }
    const known = ["modelName", "experimentName", "dataPrefix", "dataVersion", "dataBucket", "runId", "gitSha", "schedule", "hyperparameters", "cpu", "memory", "gpus", "shmSize", "activeDeadlineSeconds", "waitForCompletion", "trainer", "workers", "priority"];
    if (value.trainer !== undefined) {
        problems.check(value.trainer === "sklearn" || value.trainer === "pytorch", `${path}.trainer`, `must be "sklearn" or "pytorch", got ${describe(value.trainer)}`);
    }
    if (value.workers !== undefined) {
        if (problems.check(Number.isInteger(value.workers) && (value.workers as number) >= 1 && (value.workers as number) <= 64, `${path}.workers`, `must be an integer from 1 to 64, got ${describe(value.workers)}`)) {
            problems.check((value.workers as number) === 1 || value.trainer === "pytorch", `${path}.workers`, `> 1 needs trainer: pytorch (torchrun), got trainer ${describe(value.trainer ?? "sklearn")}`);
            problems.check((value.workers as number) === 1 || value.schedule === undefined, `${path}.workers`, "> 1 is not supported with schedule");
        }
    }
    unknownKeys(problems, path, value, known);
    const str = (k: string, re: RegExp, what: string) => problems.check(typeof value[k] === "string" && re.test(value[k] as string), `${path}.${k}`, `must be ${what}, got ${describe(value[k])}`);
    str("modelName", /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "a registered model name (letters, digits, '_', '.', '-')");
    str("experimentName", /^\S.{0,199}$/, "an MLflow experiment name");
    if (value.priority !== undefined) str("priority", DNS_LABEL, "a WorkloadPriorityClass name (DNS label)");
    str("dataPrefix", /^[A-Za-z0-9!_.*'()\/-]+$/, "an S3 key prefix in the processed bucket, e.g. credit-risk/2026-11-01/");
    str("dataVersion", /^\S{1,200}$/, "a data version label (e.g. a DVC revision or date, or <label>@sha256:<digest> from validate.py)");
    if (value.dataBucket !== undefined) {
        problems.check(value.dataBucket === "processed" || value.dataBucket === "raw", `${path}.dataBucket`, `must be "processed" or "raw", got ${describe(value.dataBucket)}`);
    }
    if (value.runId !== undefined) str("runId", /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/, "a DNS label of at most 32 characters (it names the Job)");
    if (value.gitSha !== undefined) str("gitSha", /^[0-9a-f]{7,40}$/, "a git commit SHA (7 to 40 hex characters)");
    if (value.schedule !== undefined) str("schedule", /^(\S+\s+){4}\S+$|^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/, "a cron schedule (5 fields) or @daily-style macro");
    for (const k of ["cpu", "memory", "shmSize"]) {
        if (value[k] !== undefined) str(k, QUANTITY, "a Kubernetes quantity (e.g. 2, 500m, 8Gi)");
    }
    if (value.gpus !== undefined) {
        problems.check(Number.isInteger(value.gpus) && (value.gpus as number) >= 0 && (value.gpus as number) <= 16, `${path}.gpus`, `must be an integer from 0 to 16, got ${describe(value.gpus)}`);
    }
    if (value.activeDeadlineSeconds !== undefined) {
        problems.check(Number.isInteger(value.activeDeadlineSeconds) && (value.activeDeadlineSeconds as number) >= 60, `${path}.activeDeadlineSeconds`, `must be an integer of at least 60, got ${describe(value.activeDeadlineSeconds)}`);
    }
    if (value.waitForCompletion !== undefined) {
        problems.check(typeof value.waitForCompletion === "boolean", `${path}.waitForCompletion`, `must be true or false, got ${describe(value.waitForCompletion)}`);
    }
    if (value.hyperparameters !== undefined) {
        problems.check(
            isObject(value.hyperparameters) && Object.values(value.hyperparameters).every((x) => ["string", "number", "boolean"].includes(typeof x)),
            `${path}.hyperparameters`,
            "must be a mapping of names to strings, numbers or booleans",
        );
        for (const k of Object.keys(isObject(value.hyperparameters) ? value.hyperparameters : {})) {
            problems.check(/^[a-z][a-z0-9_]*$/.test(k), `${path}.hyperparameters.${k}`, "names must be snake_case (they become --kebab-case flags and HP_UPPER_CASE env)");
        }
    }
    return {
        modelName: value.modelName as string,
        experimentName: value.experimentName as string,
        dataPrefix: value.dataPrefix as string,
        dataVersion: value.dataVersion as string,
        dataBucket: (value.dataBucket as TrainingConfig["dataBucket"]) ?? "processed",
        ...(value.runId !== undefined ? { runId: value.runId as string } : {}),
        ...(value.gitSha !== undefined ? { gitSha: value.gitSha as string } : {}),
        ...(value.schedule !== undefined ? { schedule: value.schedule as string } : {}),
        hyperparameters: (value.hyperparameters as TrainingConfig["hyperparameters"]) ?? {},
        cpu: (value.cpu as string) ?? "2",
        memory: (value.memory as string) ?? "8Gi",
        gpus: (value.gpus as number) ?? 0,
        shmSize: (value.shmSize as string) ?? "1Gi",
        activeDeadlineSeconds: (value.activeDeadlineSeconds as number) ?? 21600,
        waitForCompletion: (value.waitForCompletion as boolean) ?? true,
        trainer: (value.trainer as TrainingConfig["trainer"]) ?? "sklearn",
        workers: (value.workers as number) ?? 1,
        priority: (value.priority as string) ?? "production",
    };
}

function parseTrainingQueues(problems: Problems, value: unknown, pools: GpuPoolConfig[]): TrainingQueuesConfig | undefined {
    const path = `${PROJECT}:trainingQueues`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { cpu, memory, gpuPools?, podsReadyTimeout?, priorities? }, got ${describe(value)}`);
        return undefined;
    }
    unknownKeys(problems, path, value, ["cpu", "memory", "gpuPools", "podsReadyTimeout", "priorities"]);
    const quantity = (at: string, v: unknown) => problems.check(typeof v === "string" && QUANTITY.test(v), at, `must be a Kubernetes quantity (e.g. 32, 128Gi), got ${describe(v)}`);
    quantity(`${path}.cpu`, value.cpu);
    quantity(`${path}.memory`, value.memory);
    const gpuPools: TrainingQueuesConfig["gpuPools"] = {};
    if (value.gpuPools !== undefined) {
        if (!isObject(value.gpuPools)) {
            problems.add(`${path}.gpuPools`, `must map GPU pool names to { gpus, cpu, memory }, got ${describe(value.gpuPools)}`);
        } else {
            for (const [name, q] of Object.entries(value.gpuPools)) {
                const at = `${path}.gpuPools.${name}`;
                const pool = pools.find((x) => x?.name === name);
                if (!problems.check(pool !== undefined, at, `names no pool in mlops-platform:gpuPools (have ${pools.map((x) => x?.name).join(", ") || "none"})`)) continue;
                if (!isObject(q)) {
                    problems.add(at, `must be a mapping { gpus, cpu, memory }, got ${describe(q)}`);
                    continue;
                }
                unknownKeys(problems, at, q, ["gpus", "cpu", "memory"]);
                quantity(`${at}.cpu`, q.cpu);
                quantity(`${at}.memory`, q.memory);
                if (problems.check(Number.isInteger(q.gpus) && (q.gpus as number) >= 0, `${at}.gpus`, `must be a non-negative integer, got ${describe(q.gpus)}`)) {
                    const perNode = Math.min(...(pool!.instanceTypes ?? []).map((t) => GPU_COUNT_BY_INSTANCE_TYPE[t] ?? Infinity));
                    const max = pool!.maxSize * perNode;
                    // Quota the pool cannot provide admits Jobs whose pods stay Pending forever.
                    problems.check(
                        !Number.isFinite(max) || (q.gpus as number) <= max,
                        `${at}.gpus`,
                        `exceeds what pool "${name}" can provide at its maxSize (${pool!.maxSize} nodes × ${perNode} GPUs = ${max}); lower it or raise mlops-platform:gpuPools maxSize, got ${q.gpus}`,
                    );
                }
                gpuPools[name] = q as TrainingQueuesConfig["gpuPools"][string];
            }
        }
    }
    if (value.podsReadyTimeout !== undefined) {
        problems.check(typeof value.podsReadyTimeout === "string" && /^([0-9]+h)?([0-9]+m)?([0-9]+s)?$/.test(value.podsReadyTimeout) && value.podsReadyTimeout !== "", `${path}.podsReadyTimeout`, `must be a duration such as 15m, got ${describe(value.podsReadyTimeout)}`);
    }
    if (value.priorities !== undefined) {
        problems.check(
            isObject(value.priorities) && Object.entries(value.priorities).every(([k, x]) => DNS_LABEL.test(k) && Number.isInteger(x) && (x as number) >= 0),
            `${path}.priorities`,
            `must map WorkloadPriorityClass names to non-negative integers, got ${describe(value.priorities)}`,
        );
    }
    return {
        cpu: value.cpu as string,
        memory: value.memory as string,
        gpuPools,
        ...(value.podsReadyTimeout !== undefined ? { podsReadyTimeout: value.podsReadyTimeout as string } : {}),
        ...(value.priorities !== undefined ? { priorities: value.priorities as Record<string, number> } : {}),
    };
}

function parseSweep(problems: Problems, value: unknown): SweepConfig | undefined {
    const path = `${PROJECT}:sweep`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { method, space, trials?, parallelism?, ... }, got ${describe(value)}`);
        return undefined;
    }
    unknownKeys(problems, path, value, ["enabled", "method", "space", "trials", "parallelism", "seed", "metric", "direction"]);
    // `pulumi config set --path ...sweep.enabled true` (the train pipelines) stores a string.
    const enabled = value.enabled === "true" ? true : value.enabled === "false" ? false : value.enabled;
    if (enabled !== undefined) {
        problems.check(typeof enabled === "boolean", `${path}.enabled`, `must be true or false, got ${describe(value.enabled)}`);
    }
    problems.check(value.method === "grid" || value.method === "random", `${path}.method`, `must be "grid" or "random", got ${describe(value.method)}`);
    problems.check(isObject(value.space) && Object.keys(value.space).length > 0, `${path}.space`, `must map hyperparameter names to value lists or ranges, got ${describe(value.space)}`);
    if (value.direction !== undefined) {
        problems.check(value.direction === "maximize" || value.direction === "minimize", `${path}.direction`, `must be "maximize" or "minimize", got ${describe(value.direction)}`);
    }
    return { ...(value as any), enabled: (enabled as boolean) ?? true } as SweepConfig;
}
