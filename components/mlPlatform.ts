import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { PlatformConfig, TORCH_TRAINER_DOCKERFILE, TORCH_TRAINER_REPOSITORY } from "../config/schema";
import { ROLE_LABEL } from "../release-contract/annotations";
import { CiAccess } from "./ciAccess";
import { ContainerRegistry, ImageBuildSpec } from "./containerRegistry";
import { DataLake } from "./dataLake";
import { DriftMonitor } from "./driftMonitor";
import { GATEWAY_ACCESS_LABEL, Gateway, GatewayTls } from "./gateway";
import { Monitoring, PUSHGATEWAY_PORT } from "./monitoring";
import { NamespaceIsolation, NetworkAllow, POD_IDENTITY_AGENT_CIDR, cidrPeers, namespacePeer, tcp } from "./namespaceIsolation";
import { GPU_COUNT_BY_INSTANCE_TYPE, GPU_TAINT, GpuNodeGroup } from "./gpuNodeGroup";
import { IngestionJob } from "./ingestionJob";
import { PipelineTrigger } from "./pipelineTrigger";
import { RESTRICTED_NAMESPACE_LABELS } from "./k8s-security";
import { MlCluster } from "./mlCluster";
import { Network } from "./network";
import { ServingStack, servingStackArgs } from "./servingStack";
import { platformBoundary, platformIamTransformation, stackIamPrefix } from "./platformIam";
import { TrackingServer, TrackingUserArgs, jobLabels } from "./trackingServer";
import { TrainingJob, TrainingJobArgs } from "./trainingJob";
import { TrainingQueues } from "./trainingQueues";
import { TrainingSweep } from "./trainingSweep";

export interface MlPlatformArgs {
    /** The validated stack configuration (see config/schema.ts). */
    config: PlatformConfig;
    /** Folder relative paths in the config (image build contexts) are resolved against. */
    projectRoot: string;
}

/** Prefix of the MLflow artifacts in the artifacts bucket. */
export const MLFLOW_ARTIFACTS_PREFIX = "mlflow/";

/**
 * MlPlatform: everything an ML team needs for CI/CD of models in one environment, composed from
 * one typed configuration object: data lake, registry, network, EKS with GPU pools, CI roles,
 * MLflow tracking, training runs and gated model serving.
 */
export class MlPlatform extends pulumi.ComponentResource {
    public readonly dataLake: DataLake;
    public readonly registry: ContainerRegistry;
    public readonly network: Network;
    public readonly ci?: CiAccess;
    public readonly cluster: MlCluster;
    public readonly gpuPools: Record<string, GpuNodeGroup>;
    public readonly tracking: TrackingServer;
    public readonly training?: TrainingJob;
    /** Kueue and the training queues (when mlops-platform:trainingQueues is set). */
    public readonly trainingQueues?: TrainingQueues;
    /** The sweep (when mlops-platform:sweep is enabled), instead of `training`. */
    public readonly sweep?: TrainingSweep;
    public readonly gateway?: Gateway;
    public readonly serving?: ServingStack;
    public readonly monitoring?: Monitoring;
    public readonly drift?: DriftMonitor;
    /** New data in the raw bucket → CI pipeline (issue 15). */
    public readonly trigger?: PipelineTrigger;
    /** Scheduled copy of dated batches into the raw bucket (issue 15). */
    public readonly ingestion?: IngestionJob;

    constructor(name: string, args: MlPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        // Every IAM role below gets the stack's name prefix and permissions boundary (platformIam.ts);
        // the boundary is created first thing below, before any role registers.
        const iamPrefix = stackIamPrefix(args.config.project, args.config.stack);
        const boundaryHolder: { arn?: pulumi.Output<string> } = {};
        const boundaryArn = () => {
            if (!boundaryHolder.arn) {
                throw new Error("MlPlatform: a role was declared before the permissions boundary");
            }
            return boundaryHolder.arn;
        };
        super("mlops-platform:index:MlPlatform", name, {}, {
            ...opts,
            transformations: [...(opts?.transformations ?? []), platformIamTransformation(iamPrefix, name, boundaryArn)],
        });
        const c = args.config;
        const tags = { owner: c.owner, environment: c.environment, "pulumi:project": c.project, "pulumi:stack": c.stack };
        const prefix = `${c.project}-${c.stack}`.toLowerCase();
        const boundary = platformBoundary(`${name}-permissions-boundary`, { prefix: iamPrefix, tags }, { parent: this });
        boundaryHolder.arn = boundary.arn;

        this.dataLake = new DataLake(
            `${name}-data`,
            { protect: c.protectStatefulResources, forceDestroy: c.forceDestroy, ...c.dataLake, tags },
            { parent: this },
        );

        const builds: ImageBuildSpec[] = c.registry.buildImages
            ? [
                  { repository: "trainer", context: path.resolve(args.projectRoot, c.registry.trainerImageContext) },
                  { repository: "mlflow", context: path.resolve(args.projectRoot, c.registry.trackingImageContext) },
                  { repository: "server", context: path.resolve(args.projectRoot, c.registry.serverImageContext) },
                  // The PyTorch trainer (~5 GB of CUDA libraries) only for a stack that trains with it.
                  ...(c.training?.trainer === "pytorch"
                      ? [{ repository: TORCH_TRAINER_REPOSITORY, context: path.resolve(args.projectRoot, c.registry.trainerImageContext), dockerfile: TORCH_TRAINER_DOCKERFILE }]
                      : []),
              ]
            : [];
        this.registry = new ContainerRegistry(
            `${name}-registry`,
            {
                namePrefix: prefix,
                repositories: c.registry.repositories,
                untaggedExpiryDays: c.registry.imageUntaggedExpiryDays,
                keepTaggedCount: c.registry.imageKeepTaggedCount,
                forceDelete: c.forceDestroy,
                protect: c.protectStatefulResources,
                images: builds,
                tags,
            },
            { parent: this },
        );

        this.network = new Network(
            `${name}-network`,
            c.network.existingVpc
                ? {
                      existingVpc: c.network.existingVpc,
                      interfaceEndpoints: c.network.interfaceEndpoints,
                      flowLogRetentionDays: c.network.flowLogRetentionDays,
                      protect: c.protectStatefulResources,
                      tags,
                  }
                : {
                      cidrBlock: c.network.vpcCidr,
                      availabilityZones: c.network.availabilityZones,
                      natGateways: c.network.natGateways,
                      interfaceEndpoints: c.network.interfaceEndpoints,
                      flowLogRetentionDays: c.network.flowLogRetentionDays,
                      protect: c.protectStatefulResources,
                      tags,
                  },
            { parent: this },
        );

        if (c.ci) {
            this.ci = new CiAccess(
                `${name}-ci`,
                {
                    ...(c.ci.repository ? { repository: c.ci.repository } : {}),
                    ...(c.ci.gitlab ? { gitlab: c.ci.gitlab } : {}),
                    existingOidcProviderArn: c.ci.existingOidcProviderArn,
                    preview: c.ci.preview,
                    deploy: c.ci.deploy,
                    imagePush: c.ci.imagePush,
                    // The train pipelines' validate stage: read-only on the datasets it validates.
                    ...(c.training
                        ? {
                              dataValidation: {
                                  trust: c.ci.dataValidation,
                                  readPolicy: this.dataLake.accessPolicy(
                                      [...new Set([c.training.dataPrefix.split("/")[0], ...(c.ingestion ? [c.ingestion.dataset] : [])])].map((dataset) => ({
                                          bucket: "raw" as const,
                                          prefix: `${dataset}/`,
                                          access: "read" as const,
                                      })),
                                  ),
                              },
                          }
                        : {}),
                    imageRepositoryArns: this.registry.repositoryArns.apply((a) => Object.values(a)),
                    managedNamePrefix: iamPrefix,
                    permissionsBoundaryArn: boundary.arn,
                    data: {
                        bucketArns: pulumi
                            .all([this.dataLake.rawBucketArn, this.dataLake.processedBucketArn, this.dataLake.artifactsBucketArn, this.dataLake.replicaBucketArns])
                            .apply(([raw, processed, artifacts, replicas]) => [raw, processed, artifacts, ...replicas]),
                        kmsKeyArns: [this.dataLake.kmsKeyArn],
                        forceDestroy: c.forceDestroy,
                    },
                    tags,
                },
                { parent: this },
            );
        }

        this.cluster = new MlCluster(
            `${name}-cluster`,
            {
                clusterName: prefix,
                kubernetesVersion: c.cluster.kubernetesVersion,
                privateSubnetIds: this.network.privateSubnetIds,
                endpointPublicAccess: c.cluster.endpointPublicAccess,
                publicAccessCidrs: c.cluster.publicAccessCidrs,
                adminRoleArns: c.cluster.adminRoleArns,
                ciDeployRoleArn: this.ci?.deployRoleArn,
                addonVersions: c.cluster.addonVersions,
                systemNodeGroup: {
                    instanceTypes: c.cluster.systemNodeInstanceTypes,
                    minSize: c.cluster.systemNodeMinSize,
                    maxSize: c.cluster.systemNodeMaxSize,
                },
                logRetentionDays: c.cluster.logRetentionDays,
                deletionProtection: c.protectStatefulResources,
                protect: c.protectStatefulResources,
                workloadIdentityMode: c.cluster.workloadIdentityMode,
                autoscaler: {
                    scaleDownUnneededTime: c.cluster.autoscalerScaleDownUnneededTime,
                    ...(c.mirroredImages.clusterAutoscaler ? { image: c.mirroredImages.clusterAutoscaler } : {}),
                },
                tags,
            },
            { parent: this },
        );
        const cluster = this.cluster;

        this.gpuPools = Object.fromEntries(
            c.gpuPools.map((p) => [
                p.name,
                new GpuNodeGroup(
                    `${name}-gpu-${p.name}`,
                    {
                        cluster,
                        pool: p.name,
                        instanceTypes: p.instanceTypes,
                        amiType: p.amiType,
                        capacityType: p.capacityType,
                        minSize: p.minSize,
                        maxSize: p.maxSize,
                        rootVolumeSizeGiB: p.rootVolumeSizeGiB,
                        labels: p.labels,
                        ...(c.mirroredImages.nvidiaDevicePlugin ? { devicePluginImage: c.mirroredImages.nvidiaDevicePlugin } : {}),
                        tags,
                    },
                    { parent: this },
                ),
            ]),
        );

        const identity = {
            mode: c.cluster.workloadIdentityMode,
            oidcProviderArn: cluster.oidcProviderArn.apply((a) => a ?? ""),
            oidcIssuerUrl: cluster.oidcIssuerUrl,
        };
        const k8sOpts = { parent: this, provider: cluster.provider };
        const servingNamespace = c.serving?.namespace;
        const mlflowImage = c.tracking.image !== "" ? c.tracking.image : this.registry.imageRefs.apply((r) => r["mlflow"]);
        const trainerImage = this.registry.imageRefs.apply((r) => r["trainer"]);
        // With MLflow basic auth, training and serving each read their own credential from a Secret
        // in their own namespace (issue 12 #8): the training writer, the read-only serving user.
        const auth = c.tracking.authAdminSecret !== "";
        const trainingCredentials = auth ? { name: c.tracking.trainingSecret, usernameKey: "username", passwordKey: "password" } : undefined;
        const servingCredentials = auth ? { name: c.tracking.servingSecret, usernameKey: "username", passwordKey: "password" } : undefined;

        this.tracking = new TrackingServer(
            `${name}-tracking`,
            {
                provider: cluster.provider,
                clusterName: cluster.clusterName,
                vpcId: this.network.vpcId,
                subnetIds: this.network.privateSubnetIds,
                clientSecurityGroupIds: [cluster.clusterSecurityGroupId],
                image: mlflowImage,
                artifacts: {
                    bucket: this.dataLake.artifactsBucket,
                    prefix: MLFLOW_ARTIFACTS_PREFIX,
                    kmsKeyArn: this.dataLake.kmsKeyArn,
                    policy: this.dataLake.accessPolicy([{ bucket: "artifacts", prefix: MLFLOW_ARTIFACTS_PREFIX, access: "readwrite" }]),
                },
                workloadIdentity: identity,
                namespace: c.tracking.namespace,
                allowedNamespaces: [c.trainingNamespace, ...(servingNamespace ? [servingNamespace] : [])],
                replicas: c.tracking.replicas,
                workers: c.tracking.workers,
                protect: c.protectStatefulResources,
                database: {
                    instanceClass: c.tracking.dbInstanceClass,
                    multiAz: c.tracking.dbMultiAz,
                    deletionProtection: c.tracking.dbDeletionProtection,
                    finalSnapshot: c.tracking.dbFinalSnapshot,
                    backupRetentionDays: c.tracking.dbBackupRetentionDays,
                    passwordRotationDays: c.tracking.dbPasswordRotationDays,
                    monitoringIntervalSeconds: c.tracking.dbMonitoringInterval,
                    auditLogStatement: c.tracking.dbAuditLogStatement,
                },
                ...(auth ? { auth: { adminSecretName: c.tracking.authAdminSecret, defaultPermission: "NO_PERMISSIONS", users: trackingUsers(c) } } : {}),
                tags,
            },
            { parent: this, dependsOn: cluster.nodeDependencies },
        );

        const trainingNs = new k8s.core.v1.Namespace(
            `${name}-training-ns`,
            { metadata: { name: c.trainingNamespace, labels: { ...RESTRICTED_NAMESPACE_LABELS, [ROLE_LABEL]: "training" } } },
            k8sOpts,
        );

        if (c.trainingQueues) {
            const q = c.trainingQueues;
            this.trainingQueues = new TrainingQueues(
                `${name}-queues`,
                {
                    provider: cluster.provider,
                    trainingNamespaces: [c.trainingNamespace],
                    cpuQuota: { cpu: q.cpu, memory: q.memory },
                    gpuFlavors: Object.entries(q.gpuPools).map(([pool, quota]) => {
                        const cfg = c.gpuPools.find((g) => g.name === pool)!;
                        return {
                            pool,
                            scheduling: this.gpuPools[pool].scheduling,
                            taint: { ...GPU_TAINT },
                            maxNodes: cfg.maxSize,
                            gpusPerNode: Math.min(...cfg.instanceTypes.map((it) => GPU_COUNT_BY_INSTANCE_TYPE[it])),
                            quota,
                        };
                    }),
                    ...(q.podsReadyTimeout ? { podsReadyTimeout: q.podsReadyTimeout } : {}),
                    ...(q.priorities ? { priorities: q.priorities } : {}),
                },
                { parent: this, dependsOn: [trainingNs, ...cluster.nodeDependencies] },
            );
        }

        if (c.training) {
            const t = c.training;
            const gpuPool = this.gpuPools["training"] ?? Object.values(this.gpuPools)[0];
            if (t.gpus > 0 && !gpuPool) {
                throw new pulumi.InputPropertiesError({
                    message: "mlops-platform:training.gpus > 0 needs a GPU pool (mlops-platform:gpuPools)",
                    errors: [{ propertyPath: "mlops-platform:training.gpus", reason: "needs a GPU pool in mlops-platform:gpuPools" }],
                });
            }
            const jobArgs: TrainingJobArgs = {
                    provider: cluster.provider,
                    clusterName: cluster.clusterName,
                    namespace: c.trainingNamespace,
                    image: t.trainer === "pytorch" ? this.registry.imageRefs.apply((r) => r[TORCH_TRAINER_REPOSITORY]) : trainerImage,
                    command: t.trainer === "pytorch" ? ["torchrun", "/app/train_torch.py"] : ["python", "/app/train.py"],
                    ...(t.trainer === "pytorch" ? { launcher: "torchrun" as const } : {}),
                    ...(t.workers > 1 ? { workers: t.workers } : {}),
                    ...(this.trainingQueues ? { queue: { name: this.trainingQueues.localQueueName, priorityClass: t.priority } } : {}),
                    hyperparameters: t.hyperparameters,
                    ...(t.runId ? { runId: t.runId } : {}),
                    ...(t.gitSha ? { env: { GIT_SHA: t.gitSha } } : {}),
                    ...(t.schedule ? { schedule: t.schedule } : {}),
                    tracking: {
                        uri: this.tracking.trackingUri,
                        experimentName: t.experimentName,
                        ...(trainingCredentials ? { credentialsSecret: trainingCredentials } : {}),
                    },
                    model: { name: t.modelName, alias: "candidate" },
                    data: { uri: pulumi.interpolate`s3://${t.dataBucket === "raw" ? this.dataLake.rawBucket : this.dataLake.processedBucket}/${t.dataPrefix}`, version: t.dataVersion },
                    access: {
                        dataPolicy: this.dataLake.readRawProcessedPolicy,
                        artifactsPolicy: this.dataLake.accessPolicy([{ bucket: "artifacts", prefix: MLFLOW_ARTIFACTS_PREFIX, access: "readwrite" }]),
                    },
                    workloadIdentity: identity,
                    resources: { cpu: t.cpu, memory: t.memory, ...(t.gpus > 0 ? { gpus: t.gpus } : {}) },
                    ...(t.gpus > 0 ? { gpu: gpuPool.scheduling } : {}),
                    shmSize: t.shmSize,
                    activeDeadlineSeconds: t.activeDeadlineSeconds,
                    waitForCompletion: t.waitForCompletion,
                    tags,
            };
            const after = [trainingNs, ...(this.trainingQueues ? [this.trainingQueues] : [])];
            if (c.sweep?.enabled) {
                // Metric and direction of the winner: the gate's first threshold unless set.
                const [metric, rule] = Object.entries(c.serving?.gate.thresholds ?? { f1: { greaterIsBetter: true } })[0];
                const { runId: _r, schedule: _s, ...trial } = jobArgs;
                this.sweep = new TrainingSweep(
                    `${name}-sweep`,
                    {
                        job: { ...trial, queue: { name: this.trainingQueues!.localQueueName, priorityClass: "experiment" in this.trainingQueues!.priorities ? "experiment" : t.priority } },
                        jobNamePrefix: `${t.modelName.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 20)}-sweep`,
                        sweep: {
                            id: t.runId!,
                            method: c.sweep.method,
                            space: c.sweep.space as never,
                            ...(c.sweep.trials !== undefined ? { trials: c.sweep.trials } : {}),
                            ...(c.sweep.parallelism !== undefined ? { parallelism: c.sweep.parallelism } : {}),
                            ...(c.sweep.seed !== undefined ? { seed: c.sweep.seed } : {}),
                            metric: c.sweep.metric ?? metric,
                            direction: c.sweep.direction ?? (rule.greaterIsBetter === false ? "minimize" : "maximize"),
                        },
                    },
                    { parent: this, dependsOn: after },
                );
            } else {
                this.training = new TrainingJob(`${name}-train`, jobArgs, { parent: this, dependsOn: after });
            }
        }

        if (c.pipelineTrigger) {
            const t = c.pipelineTrigger;
            this.trigger = new PipelineTrigger(
                `${name}-trigger`,
                {
                    bucketName: this.dataLake.rawBucket,
                    namePrefix: `${prefix}-new-data`,
                    target: t.target,
                    ...(t.prefix !== undefined ? { prefix: t.prefix } : {}),
                    ...(t.suffix !== undefined ? { suffix: t.suffix } : {}),
                    ...(t.retry ? { retry: t.retry } : {}),
                    ...(t.dlqRetentionDays !== undefined ? { dlqRetentionDays: t.dlqRetentionDays } : {}),
                    ...(t.invocationRateLimitPerSecond !== undefined ? { invocationRateLimitPerSecond: t.invocationRateLimitPerSecond } : {}),
                    ...(t.alarmActions ? { alarmActions: t.alarmActions } : {}),
                    tags,
                },
                { parent: this },
            );
        }
        if (c.ingestion) {
            const g = c.ingestion;
            const source = g.source.uri.startsWith("s3://") ? sourceReadPolicy(g.source.uri) : undefined;
            this.ingestion = new IngestionJob(
                `${name}-ingestion`,
                {
                    provider: cluster.provider,
                    clusterName: cluster.clusterName,
                    namespace: c.trainingNamespace,
                    dataset: g.dataset,
                    image: trainerImage,
                    schedule: g.schedule,
                    ...(g.timeZone ? { timeZone: g.timeZone } : {}),
                    source: g.source,
                    destinationBucket: this.dataLake.rawBucket,
                    access: {
                        ...(source ? { sourcePolicy: source } : {}),
                        destinationPolicy: this.dataLake.accessPolicy([{ bucket: "raw", prefix: `${g.dataset}/`, access: "write" }]),
                    },
                    workloadIdentity: identity,
                    tags,
                },
                { parent: this, dependsOn: [trainingNs] },
            );
        }

        if (c.monitoring) {
            const m = c.monitoring;
            this.monitoring = new Monitoring(
                `${name}-monitoring`,
                {
                    provider: cluster.provider,
                    namespace: m.namespace,
                    storageClassName: cluster.storageClassName,
                    prometheus: { retention: m.prometheusRetention, storageSize: m.prometheusStorageSize, replicas: m.prometheusReplicas },
                    alertmanager: { receivers: m.alertReceivers, defaultReceiver: m.alertDefaultReceiver, routes: m.alertRoutes, replicas: m.alertmanagerReplicas },
                    grafana: { adminSecret: { name: m.grafanaAdminSecret } },
                    dcgmExporter: m.dcgmExporter && c.gpuPools.length > 0 ? {} : false,
                    pushgateway: { allowFromNamespaces: [c.trainingNamespace], ...(c.mirroredImages.pushgateway ? { image: c.mirroredImages.pushgateway } : {}) },
                    trackingServer: { namespace: c.tracking.namespace, deploymentName: "mlflow" },
                },
                { parent: this, dependsOn: cluster.nodeDependencies },
            );
            if (m.drift) {
                const d = m.drift;
                const batchPrefix = d.source === "predictions" ? stablePredictionPrefix(c) : d.batchPrefix;
                this.drift = new DriftMonitor(
                    `${name}-drift`,
                    {
                        provider: cluster.provider,
                        clusterName: cluster.clusterName,
                        namespace: c.trainingNamespace,
                        namePrefix: `${d.model}-drift`,
                        model: d.model,
                        image: trainerImage,
                        schedule: d.schedule,
                        reference: { uri: pulumi.interpolate`s3://${this.dataLake.artifactsBucket}/${d.referencePrefix}` },
                        batch: { uri: pulumi.interpolate`s3://${this.dataLake.processedBucket}/${batchPrefix}`, ...(d.source === "predictions" ? { objects: d.predictionObjects ?? 200 } : {}) },
                        access: {
                            referencePolicy: this.dataLake.accessPolicy([{ bucket: "artifacts", prefix: d.referencePrefix, access: "read" }]),
                            // Read-only, and only the batch prefix (with source predictions: the stable version's logs).
                            batchPolicy: this.dataLake.accessPolicy([{ bucket: "processed", prefix: batchPrefix, access: "read" }]),
                        },
                        pushgatewayUrl: this.monitoring.pushgatewayUrl.apply((u) => u!),
                        thresholds: {
                            ...(d.psiThreshold !== undefined ? { psi: d.psiThreshold } : {}),
                            ...(d.ksAlpha !== undefined ? { ksAlpha: d.ksAlpha } : {}),
                            ...(d.decision !== undefined ? { decision: d.decision } : {}),
                            ...(d.minRows !== undefined ? { minRows: d.minRows } : {}),
                        },
                        ...(d.features ? { features: d.features } : {}),
                        failJobOnDrift: d.failJobOnDrift ?? false,
                        workloadIdentity: identity,
                        crdDependency: this.monitoring.crdDependency,
                        tags,
                    },
                    { parent: this, dependsOn: [trainingNs] },
                );
            }
        }

        if (c.serving) {
            const s = c.serving;
            const g = s.gateway;
            if (g.mode !== "none") {
                this.gateway = new Gateway(
                    `${name}-gateway`,
                    g.mode === "existing"
                        ? { provider: cluster.provider, existing: { name: g.name, namespace: g.namespace, ...(g.sectionName ? { sectionName: g.sectionName } : {}) } }
                        : {
                              provider: cluster.provider,
                              loadBalancer: { scheme: c.gateway.loadBalancerScheme, sourceRanges: c.gateway.sourceRanges },
                              tls: gatewayTls(c.gateway),
                              ...(g.hostname ? { hostname: g.hostname } : {}),
                          },
                    { parent: this, dependsOn: cluster.nodeDependencies },
                );
            }
            const servingPool = this.gpuPools["serving"] ?? Object.values(this.gpuPools)[0];
            const region = aws.getRegionOutput({}, { parent: this }).region;
            this.serving = new ServingStack(
                `${name}-serving`,
                servingStackArgs(this.monitoring ? { ...s, prometheusOperator: true } : s, {
                    provider: cluster.provider,
                    trackingUri: this.tracking.trackingUri,
                    identity: {
                        clusterName: cluster.clusterName,
                        ...identity,
                        artifactReadPolicy: this.dataLake.accessPolicy([{ bucket: "artifacts", prefix: MLFLOW_ARTIFACTS_PREFIX, access: "read" }]),
                        tags,
                    },
                    ...(this.gateway ? { gateway: { parentRef: this.gateway.parentRef, proxyNamespace: this.gateway.proxyNamespace } } : {}),
                    ...(s.gpus > 0 && servingPool ? { gpuScheduling: servingPool.scheduling } : {}),
                    awsRegion: region,
                    // MLServer runs the server image; the mlflow runtime keeps serving from the trainer image.
                    defaultImage: s.runtime.kind === "mlserver" ? this.registry.imageRefs.apply((r) => r["server"]) : trainerImage,
                    // Sampled prediction logs: PutObject only, under the log prefix of the processed bucket.
                    predictionLog: {
                        bucket: this.dataLake.processedBucket,
                        writePolicy: this.dataLake.accessPolicy([{ bucket: "processed", prefix: s.predictionLog.prefix, access: "write" }]),
                    },
                    ...(servingCredentials ? { trackingAuthSecret: servingCredentials } : {}),
                    ...(c.gateway.apiKeySecret ? { apiKeySecret: c.gateway.apiKeySecret } : {}),
                    headerRouting: c.gateway.trackHeader,
                }),
                // Routes and Services go before the Gateway implementation, which goes before the cluster.
                {
                    parent: this,
                    dependsOn: [
                        ...(this.gateway?.teardownDependencies ?? []),
                        ...cluster.nodeDependencies,
                        ...(this.monitoring ? [this.monitoring.crdDependency] : []),
                    ],
                },
            );
        }

        this.isolateNamespaces(name, c, trainingNs);
        this.registerOutputs({});
    }

    /**
     * Default-deny ingress and egress in every namespace the platform runs workloads in, with the
     * narrow allows each needs (issue 12, finding 6). Enforced by the VPC CNI (MlCluster turns it on).
     * - every namespace: DNS to the cluster DNS pods;
     * - MLflow, training, serving: the EKS Pod Identity agent (credentials), HTTPS inside the VPC
     *   (STS and ECR interface endpoints), S3 through the gateway endpoint's address ranges;
     *   MLflow also PostgreSQL inside the VPC; training and serving MLflow; training the Pushgateway;
     * - monitoring: traffic within the namespace, the API server, Prometheus scraping every pod and
     *   node, Alertmanager's receivers (HTTPS to the internet), the API server calling the
     *   prometheus-operator admission webhook;
     * - the Gateway's namespace: traffic within it, the API server, clients on the listener ports
     *   (the load balancer decides who gets there) and the namespaces that may attach routes.
     */
    private isolateNamespaces(name: string, c: PlatformConfig, trainingNs: k8s.core.v1.Namespace): void {
        const provider = this.cluster.provider;
        const vpc = cidrPeers(this.network.vpcCidrBlock.apply((v) => [v]));
        const aws: NetworkAllow = {
            name: "aws",
            egress: [
                { to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT_CIDR } }], ports: tcp(80) },
                { to: vpc, ports: tcp(443) },
                ...(this.network.hasS3Endpoint ? [{ to: cidrPeers(this.network.s3Cidrs), ports: tcp(443) }] : []),
            ],
        };
        const toMlflow: NetworkAllow = { name: "mlflow", egress: [{ to: [namespacePeer(c.tracking.namespace)], ports: tcp(this.tracking.port) }] };
        const isolate = (role: string, namespace: string, allows: NetworkAllow[], after: pulumi.Resource[]) =>
            new NamespaceIsolation(`${name}-${role}-isolation`, { provider, namespace, allows }, { parent: this, dependsOn: after });

        // The provision-users Job (basic auth) calls the server's admin API inside the namespace.
        const provisionUsers: NetworkAllow = {
            name: "provision-users",
            podSelector: { "app.kubernetes.io/name": jobLabels({}, "provision-users")["app.kubernetes.io/name"] },
            egress: [{ to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "mlflow" } } }], ports: tcp(this.tracking.port) }],
        };
        isolate(
            "tracking",
            c.tracking.namespace,
            [{ name: "database", egress: [{ to: vpc, ports: tcp(5432) }] }, aws, ...(c.tracking.authAdminSecret !== "" ? [provisionUsers] : [])],
            [this.tracking],
        );
        isolate(
            "training",
            c.trainingNamespace,
            [
                toMlflow,
                aws,
                ...(this.monitoring && c.monitoring
                    ? [{ name: "pushgateway", egress: [{ to: [namespacePeer(c.monitoring.namespace)], ports: tcp(PUSHGATEWAY_PORT) }] }]
                    : []),
                // Multi-node runs: workers reach each other (rendezvous, then gloo/NCCL on ports they pick).
                ...((c.training?.workers ?? 1) > 1
                    ? [{ name: "training-peers", podSelector: { [ROLE_LABEL]: "training" }, ingress: [{ from: [{ podSelector: { matchLabels: { [ROLE_LABEL]: "training" } } }] }], egress: [{ to: [{ podSelector: { matchLabels: { [ROLE_LABEL]: "training" } } }] }] }]
                    : []),
            ],
            [trainingNs],
        );
        if (this.serving && c.serving) {
            isolate("serving", c.serving.namespace, [toMlflow, aws], [this.serving]);
        }
        const sameNamespace: NetworkAllow = { name: "same-namespace", ingress: [{ from: [{ podSelector: {} }] }], egress: [{ to: [{ podSelector: {} }] }] };
        const apiServer: NetworkAllow = { name: "apiserver", egress: [{ to: vpc, ports: tcp(443) }] };
        if (this.monitoring && c.monitoring) {
            isolate(
                "monitoring",
                c.monitoring.namespace,
                [
                    sameNamespace,
                    apiServer,
                    // Scrape targets are pods in any namespace and node-level exporters on node IPs.
                    { name: "scrape", podSelector: { "app.kubernetes.io/name": "prometheus" }, egress: [{ to: [{ namespaceSelector: {} }] }, { to: vpc }] },
                    {
                        name: "alert-receivers",
                        podSelector: { "app.kubernetes.io/name": "alertmanager" },
                        egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: PRIVATE_RANGES } }], ports: tcp(443) }],
                    },
                    // The EKS control plane (ENIs in the VPC) calls the operator's admission webhook.
                    { name: "admission-webhook", ingress: [{ from: vpc, ports: tcp(PROMETHEUS_OPERATOR_WEBHOOK_PORT) }] },
                ],
                [this.monitoring],
            );
        }
        if (this.gateway && c.serving?.gateway.mode === "install") {
            isolate(
                "gateway",
                this.gateway.proxyNamespaceName,
                [
                    sameNamespace,
                    apiServer,
                    {
                        name: "clients",
                        ingress: [{ from: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: tcp(...this.gateway.proxyContainerPorts) }],
                    },
                    { name: "backends", egress: [{ to: [{ namespaceSelector: { matchLabels: { [GATEWAY_ACCESS_LABEL]: "true" } } }] }] },
                    // The EKS control plane calls the controller's topology-injector webhook (its webhook server port).
                    { name: "admission-webhook", ingress: [{ from: vpc, ports: tcp(ENVOY_GATEWAY_WEBHOOK_PORT) }] },
                ],
                this.gateway.teardownDependencies,
            );
        }
    }
}

/**
 * Read-only access to an ingestion source `s3://bucket/prefix/` (the part before any `{date}`):
 * list the prefix, read its objects. A source encrypted with a customer key also needs that key's
 * policy to let the role decrypt (not granted here: the key belongs to the source's owner).
 */
export function sourceReadPolicy(uri: string): string {
    const [, bucket, rest] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri) ?? [];
    const prefix = (rest ?? "").split("{date}")[0];
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            { Sid: "ListSource", Effect: "Allow", Action: ["s3:ListBucket"], Resource: `arn:aws:s3:::${bucket}`, ...(prefix ? { Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}) },
            { Sid: "ReadSource", Effect: "Allow", Action: ["s3:GetObject"], Resource: `arn:aws:s3:::${bucket}/${prefix}*` },
        ],
    });
}

/**
 * The MLflow users basic auth provisions (issue 12 #8), least privilege under the server's
 * `NO_PERMISSIONS` default: the training writer may EDIT only its experiment and model (log runs,
 * register versions, set the candidate alias); the serving user may only READ the models it serves
 * (and the training experiment, whose runs hold the model artifacts).
 */
export function trackingUsers(c: PlatformConfig): TrackingUserArgs[] {
    const experiments = c.training ? [c.training.experimentName] : [];
    const trainedModels = c.training ? [c.training.modelName] : [];
    const servedModels = [...new Set([...trainedModels, ...servedModelNames(c.serving)])];
    return [
        {
            username: c.tracking.trainingUser,
            secretName: c.tracking.trainingSecret,
            experiments: experiments.map((name) => ({ name, permission: "EDIT" as const })),
            registeredModels: trainedModels.map((name) => ({ name, permission: "EDIT" as const })),
        },
        {
            username: c.tracking.servingUser,
            secretName: c.tracking.servingSecret,
            experiments: experiments.map((name) => ({ name, permission: "READ" as const })),
            registeredModels: servedModels.map((name) => ({ name, permission: "READ" as const })),
        },
    ];
}

/** Every `model` name a serving configuration's releases refer to. */
function servedModelNames(serving: unknown): string[] {
    const found: string[] = [];
    const walk = (v: unknown): void => {
        if (Array.isArray(v)) {
            v.forEach(walk);
        } else if (v !== null && typeof v === "object") {
            for (const [k, x] of Object.entries(v)) {
                if (k === "model" && typeof x === "string") {
                    found.push(x);
                } else {
                    walk(x);
                }
            }
        }
    };
    walk(serving);
    return found;
}

/** Private IPv4 ranges: egress to "the internet" excludes them, so it cannot reach into the VPC or peers. */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
/** Port Envoy Gateway's controller serves its (topology-injector) admission webhook on. */
const ENVOY_GATEWAY_WEBHOOK_PORT = 9443;
/** Port the prometheus-operator serves its admission webhook on (kube-prometheus-stack default). */
const PROMETHEUS_OPERATOR_WEBHOOK_PORT = 10250;

/** The Gateway component's TLS settings from the stack's gateway config. */
function gatewayTls(g: PlatformConfig["gateway"]): GatewayTls {
    switch (g.tls) {
        case "acm":
            return { mode: "acm", certificateArn: g.certificateArn };
        case "secret":
            return { mode: "secret", secretName: g.tlsSecret };
        case "certManager":
            return { mode: "certManager", issuerName: g.certIssuer, ...(g.tlsSecret ? { secretName: g.tlsSecret } : {}) };
        default:
            return { mode: "none" };
    }
}

/**
 * Prediction-log prefix of the version serving stable traffic (canary: the stable release;
 * blue-green: the active slot), `<prefix>model=<name>/version=<v>/`: what drift `source: predictions` reads.
 */
export function stablePredictionPrefix(c: PlatformConfig): string {
    const s = c.serving;
    if (!s || !s.predictionLog.enabled) {
        throw new Error("driftMonitor.source predictions needs serving.predictionLog.enabled (validated by the config schema)");
    }
    const release = s.strategy === "blueGreen" ? s.blueGreen!.slots[s.blueGreen!.active]! : s.canary!.stable;
    return `${s.predictionLog.prefix}model=${release.model}/version=${release.version}/`;
}
