import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import * as YAML from "yaml";
import { ROLE_LABEL } from "../release-contract/annotations";
import { RESTRICTED_NAMESPACE_LABELS } from "./k8s-security";
import { GPU_RESOURCE, GpuScheduling } from "./scheduling";
import { quantityValue } from "./k8s-validation";
import { DNS_LABEL, Problems, checkDnsLabel, checkInt, describe } from "./validation";
import { KUEUE_CHART } from "./versions";

/** Label that submits a Job to a LocalQueue (Kueue creates the Job's Workload from it). */
export const QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name";
/** Label naming the WorkloadPriorityClass of a Job. */
export const PRIORITY_CLASS_LABEL = "kueue.x-k8s.io/priority-class";
/** Name of the ResourceFlavor for CPU-only work (no node labels: any untainted node). */
export const CPU_FLAVOR = "cpu";

/**
 * Default WorkloadPriorityClasses: scheduled/production retraining above experiments and sweeps.
 * With `withinClusterQueue: LowerPriority`, a pending production run preempts experiments when
 * the quota is used up; experiments never preempt production.
 */
export const DEFAULT_PRIORITIES: Readonly<Record<string, number>> = { production: 1000, experiment: 100 };

/** Quota of one flavor: nominal amounts the ClusterQueue may admit at once. */
export interface FlavorQuota {
    cpu: string;
    memory: string;
}

/** A GPU pool as a ResourceFlavor. */
export interface GpuFlavorArgs {
    /** Pool name (GpuNodeGroup pool): names the ResourceFlavor `gpu-<pool>`. */
    pool: string;
    /** The pool's scheduling contract: its node labels become the flavor's nodeLabels. */
    scheduling: GpuScheduling;
    /** The pool's taint (`key=value:effect`): the flavor's nodeTaints, so only Jobs tolerating it are admitted there. */
    taint: { key: string; value: string; effect: "NoSchedule" | "NoExecute" | "PreferNoSchedule" };
    /** maxSize of the pool's Auto Scaling group. */
    maxNodes: number;
    /** GPUs per node (the smallest among the pool's instance types). */
    gpusPerNode: number;
    /** Quota: GPUs (at most maxNodes × gpusPerNode), and the CPU and memory of those nodes' pods. */
    quota: FlavorQuota & { gpus: number };
}

export interface TrainingQueuesArgs {
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /** Namespace of the Kueue controller. Default "kueue-system". */
    namespace?: string;
    /** ClusterQueue name (one per environment's cluster). Default "training". */
    clusterQueueName?: string;
    /** Namespaces that get a LocalQueue (and only these may submit to the ClusterQueue). */
    trainingNamespaces: string[];
    /** Name of the LocalQueue in each training namespace. Default "training". */
    localQueueName?: string;
    /** Quota of CPU-only work (ResourceFlavor `cpu`, no GPUs). */
    cpuQuota: FlavorQuota;
    /** GPU pools, each a ResourceFlavor with its own quota. Default none. */
    gpuFlavors?: GpuFlavorArgs[];
    /** WorkloadPriorityClasses, name → value. Default {@link DEFAULT_PRIORITIES}. */
    priorities?: Record<string, number>;
    /**
     * All-or-nothing at run time: an admitted Job whose pods are not all Ready within this time
     * (nodes did not come up, image pull stuck) is suspended and requeued, releasing its quota and
     * nodes. Covers GPU scale-from-zero and image pull. Default "15m".
     */
    podsReadyTimeout?: string;
    /** Chart and controller image. Default {@link KUEUE_CHART}. */
    chart?: { chart: string; version: string; image: string };
}

export interface TrainingQueuesSettings {
    namespace: string;
    clusterQueueName: string;
    trainingNamespaces: string[];
    localQueueName: string;
    cpuQuota: FlavorQuota;
    gpuFlavors: GpuFlavorArgs[];
    priorities: Record<string, number>;
    podsReadyTimeout: string;
    chart: { chart: string; version: string; image: string };
}

const DURATION = /^([0-9]+h)?([0-9]+m)?([0-9]+s)?$/;

/** Validates TrainingQueues args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateTrainingQueuesArgs(args: TrainingQueuesArgs): TrainingQueuesSettings {
    const p = new Problems("TrainingQueues arguments");
    const s: TrainingQueuesSettings = {
        namespace: args.namespace ?? "kueue-system",
        clusterQueueName: args.clusterQueueName ?? "training",
        trainingNamespaces: args.trainingNamespaces ?? [],
        localQueueName: args.localQueueName ?? "training",
        cpuQuota: args.cpuQuota,
        gpuFlavors: args.gpuFlavors ?? [],
        priorities: args.priorities ?? { ...DEFAULT_PRIORITIES },
        podsReadyTimeout: args.podsReadyTimeout ?? "15m",
        chart: args.chart ?? { chart: KUEUE_CHART.chart, version: KUEUE_CHART.version, image: KUEUE_CHART.image },
    };
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    checkDnsLabel(p, "namespace", s.namespace);
    checkDnsLabel(p, "clusterQueueName", s.clusterQueueName);
    checkDnsLabel(p, "localQueueName", s.localQueueName);
    if (p.check(Array.isArray(s.trainingNamespaces) && s.trainingNamespaces.length > 0, "trainingNamespaces", `must list at least one namespace, got ${describe(s.trainingNamespaces)}`)) {
        s.trainingNamespaces.forEach((n, i) => checkDnsLabel(p, `trainingNamespaces[${i}]`, n));
    }
    const quota = (path: string, q: FlavorQuota | undefined) => {
        for (const k of ["cpu", "memory"] as const) {
            p.check(quantityValue(q?.[k]) !== undefined, `${path}.${k}`, `must be a Kubernetes quantity such as "32" or "128Gi", got ${describe(q?.[k])}`);
        }
    };
    quota("cpuQuota", s.cpuQuota);
    const pools = new Set<string>();
    s.gpuFlavors.forEach((f, i) => {
        const path = `gpuFlavors[${i}]`;
        if (checkDnsLabel(p, `${path}.pool`, f.pool)) {
            p.check(!pools.has(f.pool), `${path}.pool`, `repeats pool "${f.pool}"`);
            pools.add(f.pool);
        }
        quota(`${path}.quota`, f.quota);
        const maxOk = checkInt(p, `${path}.maxNodes`, f.maxNodes, 1, 1000);
        const perOk = checkInt(p, `${path}.gpusPerNode`, f.gpusPerNode, 1, 16);
        if (checkInt(p, `${path}.quota.gpus`, f.quota?.gpus, 0, 16000) && maxOk && perOk) {
            // Quota the pool can never provide would admit Jobs whose pods stay Pending forever.
            p.check(
                f.quota.gpus <= f.maxNodes * f.gpusPerNode,
                `${path}.quota.gpus`,
                `must not exceed what pool "${f.pool}" can provide at its maxSize (${f.maxNodes} nodes × ${f.gpusPerNode} GPUs = ${f.maxNodes * f.gpusPerNode}), got ${f.quota.gpus}`,
            );
        }
        p.check(f.scheduling?.nodeSelector !== undefined && Object.keys(f.scheduling.nodeSelector).length > 0, `${path}.scheduling`, "must carry the pool's node labels (GpuNodeGroup.scheduling)");
    });
    const names = Object.keys(s.priorities);
    p.check(names.length > 0, "priorities", "must define at least one WorkloadPriorityClass");
    for (const [n, v] of Object.entries(s.priorities)) {
        p.check(DNS_LABEL.test(n), `priorities.${n}`, "names must be DNS labels");
        checkInt(p, `priorities.${n}`, v, 0, 1000000000);
    }
    p.check(typeof s.podsReadyTimeout === "string" && s.podsReadyTimeout !== "" && DURATION.test(s.podsReadyTimeout), "podsReadyTimeout", `must be a duration such as "15m" or "1h30m", got ${describe(s.podsReadyTimeout)}`);
    p.throwIfAny();
    return s;
}

/** ResourceFlavor name of a GPU pool. */
export function gpuFlavorName(pool: string): string {
    return `gpu-${pool}`;
}

/** Kueue's controller configuration (config.kueue.x-k8s.io/v1beta2 Configuration). @internal */
export function kueueManagerConfig(s: TrainingQueuesSettings): Record<string, unknown> {
    return {
        apiVersion: "config.kueue.x-k8s.io/v1beta2",
        kind: "Configuration",
        health: { healthProbeBindAddress: ":8081" },
        metrics: { bindAddress: ":8443" },
        webhook: { port: 9443 },
        leaderElection: { leaderElect: true, resourceName: "c1f6bfd2.kueue.x-k8s.io" },
        // Jobs without the queue label are left alone (other CronJobs share the namespace); the
        // security pack refuses GPU Jobs without it in prod (k8s-gpu-job-through-queue).
        manageJobsWithoutQueueName: false,
        waitForPodsReady: {
            timeout: s.podsReadyTimeout,
            blockAdmission: false,
            // Requeue with exponential backoff; after 5 timeouts the Workload is deactivated
            // instead of holding the queue forever.
            requeuingStrategy: { timestamp: "Eviction", backoffLimitCount: 5, backoffBaseSeconds: 60, backoffMaxSeconds: 3600 },
        },
        // Only batch/v1 Jobs: the platform runs multi-node training as Indexed Jobs.
        integrations: { frameworks: ["batch/job"] },
    };
}

/** Values of the Kueue chart. @internal */
export function kueueChartValues(s: TrainingQueuesSettings): Record<string, unknown> {
    const config = YAML.stringify(kueueManagerConfig(s));
    const [repository, tag] = s.chart.image.split(/:(?=[^:/]+$)/);
    return {
        fullnameOverride: "kueue",
        enableCertManager: false,
        enableKueueViz: false,
        controllerManager: {
            manager: {
                image: { repository, tag, pullPolicy: "IfNotPresent" },
                // The chart mounts the configuration from a ConfigMap that is read at start only:
                // its hash in the pod template restarts the controller when it changes.
                podAnnotations: { "mlops.platform/config-hash": crypto.createHash("sha256").update(config).digest("hex").slice(0, 16) },
                resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "512Mi" } },
            },
        },
        managerConfig: { controllerManagerConfigYaml: config },
    };
}

/** The ClusterQueue spec: one resource group over cpu/memory/GPUs, CPU flavor first. @internal */
export function clusterQueueSpec(s: TrainingQueuesSettings): Record<string, unknown> {
    const gpuPools = s.gpuFlavors.length > 0;
    const covered = gpuPools ? ["cpu", "memory", GPU_RESOURCE] : ["cpu", "memory"];
    const flavors = [
        {
            // First: CPU-only pods fit here; its GPU quota is 0, so GPU pods move on to a GPU flavor.
            name: CPU_FLAVOR,
            resources: [
                { name: "cpu", nominalQuota: s.cpuQuota.cpu },
                { name: "memory", nominalQuota: s.cpuQuota.memory },
                ...(gpuPools ? [{ name: GPU_RESOURCE, nominalQuota: 0 }] : []),
            ],
        },
        ...s.gpuFlavors.map((f) => ({
            name: gpuFlavorName(f.pool),
            resources: [
                { name: "cpu", nominalQuota: f.quota.cpu },
                { name: "memory", nominalQuota: f.quota.memory },
                { name: GPU_RESOURCE, nominalQuota: f.quota.gpus },
            ],
        })),
    ];
    return {
        namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [...s.trainingNamespaces] }] },
        queueingStrategy: "BestEffortFIFO",
        resourceGroups: [{ coveredResources: covered, flavors }],
        // No cohort: nothing to borrow or reclaim. Within the queue, higher priority preempts lower.
        preemption: { withinClusterQueue: "LowerPriority", reclaimWithinCohort: "Never" },
    };
}

/**
 * TrainingQueues: Kueue from its pinned chart, and the queues training Jobs are admitted through.
 *
 * - A ResourceFlavor per GPU pool with the pool's node labels and taint (nodeTaints: only Jobs that
 *   tolerate the pool's taint, i.e. GPU Jobs, are admitted to it) and one `cpu` flavor for CPU-only work.
 * - One ClusterQueue with CPU, memory and GPU quotas per flavor, open to the training namespaces,
 *   preempting lower-priority Workloads when a higher-priority one does not fit.
 * - A LocalQueue in every training namespace; TrainingJob sets `kueue.x-k8s.io/queue-name` on its
 *   Job and creates it suspended; Kueue admits all of its pods at once (gang) or none.
 * - WorkloadPriorityClasses (default production 1000 over experiment 100).
 *
 * Scale-from-zero: admission is by quota only. An admitted Job's pods are Pending on a GPU pool at
 * zero nodes; the cluster autoscaler scales the pool from its node-template tags, as for any pod.
 * Quotas are validated not to exceed the pools' maxSize, so admitted work can always be placed;
 * waitForPodsReady suspends and requeues a Job whose pods are not all Ready in time, so a partial
 * start does not hold GPUs. (Kueue's ProvisioningRequest admission check would book capacity before
 * admission, but needs the autoscaler's ProvisioningRequest API, which the platform's cluster
 * autoscaler does not enable; see docs/scale-out-training.md.)
 * https://kueue.sigs.k8s.io/docs/concepts/
 */
export class TrainingQueues extends pulumi.ComponentResource {
    /** ClusterQueue name. */
    public readonly clusterQueueName: string;
    /** LocalQueue name (same in every training namespace). */
    public readonly localQueueName: string;
    /** WorkloadPriorityClass names and values. */
    public readonly priorities: Record<string, number>;
    /** The chart: Kueue CRs and queued Jobs should `dependsOn` it (CRDs and webhooks). */
    public readonly chartDependency: pulumi.Resource;
    /** Settings after defaults. */
    public readonly settings: TrainingQueuesSettings;

    constructor(name: string, args: TrainingQueuesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:TrainingQueues", name, {}, opts);
        const s = validateTrainingQueuesArgs(args);
        this.settings = s;
        const k8sOpts = { parent: this, provider: args.provider };
        const labels = { "app.kubernetes.io/part-of": "mlops-platform", "app.kubernetes.io/managed-by": "pulumi", [ROLE_LABEL]: "system" };

        const ns = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: s.namespace, labels: { ...labels, ...RESTRICTED_NAMESPACE_LABELS } } }, k8sOpts);
        const chart = new k8s.helm.v4.Chart(
            `${name}-kueue`,
            { name: "kueue", chart: s.chart.chart, version: s.chart.version, namespace: ns.metadata.name, values: kueueChartValues(s) },
            { ...k8sOpts, dependsOn: [ns] },
        );
        this.chartDependency = chart;
        const crOpts = { ...k8sOpts, dependsOn: [chart] };
        const api = KUEUE_CHART.apiVersion;

        const flavors: pulumi.Resource[] = [
            new k8s.apiextensions.CustomResource(`${name}-flavor-${CPU_FLAVOR}`, { apiVersion: api, kind: "ResourceFlavor", metadata: { name: CPU_FLAVOR, labels }, spec: {} }, crOpts),
        ];
        for (const f of s.gpuFlavors) {
            flavors.push(
                new k8s.apiextensions.CustomResource(
                    `${name}-flavor-${gpuFlavorName(f.pool)}`,
                    {
                        apiVersion: api,
                        kind: "ResourceFlavor",
                        metadata: { name: gpuFlavorName(f.pool), labels },
                        spec: { nodeLabels: { ...f.scheduling.nodeSelector }, nodeTaints: [{ key: f.taint.key, value: f.taint.value, effect: f.taint.effect }] },
                    },
                    crOpts,
                ),
            );
        }
        const cq = new k8s.apiextensions.CustomResource(
            `${name}-cluster-queue`,
            { apiVersion: api, kind: "ClusterQueue", metadata: { name: s.clusterQueueName, labels }, spec: clusterQueueSpec(s) },
            { ...crOpts, dependsOn: [chart, ...flavors] },
        );
        for (const n of s.trainingNamespaces) {
            new k8s.apiextensions.CustomResource(
                `${name}-local-queue-${n}`,
                { apiVersion: api, kind: "LocalQueue", metadata: { name: s.localQueueName, namespace: n, labels }, spec: { clusterQueue: s.clusterQueueName } },
                { ...crOpts, dependsOn: [chart, cq] },
            );
        }
        for (const [n, value] of Object.entries(s.priorities).sort()) {
            new k8s.apiextensions.CustomResource(
                `${name}-priority-${n}`,
                { apiVersion: api, kind: "WorkloadPriorityClass", metadata: { name: n, labels }, value, description: `mlops-platform ${n} workloads` },
                crOpts,
            );
        }
        this.clusterQueueName = s.clusterQueueName;
        this.localQueueName = s.localQueueName;
        this.priorities = { ...s.priorities };
        this.registerOutputs({ clusterQueueName: this.clusterQueueName, localQueueName: this.localQueueName });
    }
}
