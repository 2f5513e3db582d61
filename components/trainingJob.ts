import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import { ROLE_LABEL } from "../release-contract/annotations";
import {
    ResourceSpec,
    WORKLOAD_UID,
    containerResources,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
    scratchVolume,
} from "./k8s-security";
import { GpuScheduling } from "./scheduling";
import { PRIORITY_CLASS_LABEL, QUEUE_NAME_LABEL } from "./trainingQueues";
import { assertDigestPinned, checkImage, checkResources, quantityValue } from "./k8s-validation";
import { DNS_LABEL, Problems, checkDnsLabel, checkInt, describe } from "./validation";
import { WorkloadIdentity, WorkloadIdentityMode } from "./workloadIdentity";

/** Label on training pods naming the TrainingJob they belong to (NetworkPolicy selector). */
export const TRAINING_JOB_LABEL = "mlops.platform/training-job";
/** Label on Jobs and pods carrying the run id. */
export const RUN_ID_LABEL = "mlops.platform/run-id";
/** Name of the trainer container. */
export const TRAINER_CONTAINER = "trainer";

/** Annotations that keep autoscalers (cluster-autoscaler, Karpenter) from evicting a running trainer. */
export const DO_NOT_DISRUPT_ANNOTATIONS: Readonly<Record<string, string>> = {
    "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
    "karpenter.sh/do-not-disrupt": "true",
};

/**
 * The trainer's MLflow credential from its Secret. LOGNAME gets the same user name: the MLflow
 * client records `getpass.getuser()` (LOGNAME first) as the run's user_id and `mlflow.user`, which
 * `mlops gate` compares with the training identity (issue 12 #8; cli/run-provenance.ts).
 */
export function trackingCredentialEnv(c: { name: string; usernameKey: string; passwordKey: string }): k8s.types.input.core.v1.EnvVar[] {
    const ref = (key: string) => ({ secretKeyRef: { name: c.name, key } });
    return [
        { name: "MLFLOW_TRACKING_USERNAME", valueFrom: ref(c.usernameKey) },
        { name: "MLFLOW_TRACKING_PASSWORD", valueFrom: ref(c.passwordKey) },
        { name: "LOGNAME", valueFrom: ref(c.usernameKey) },
    ];
}

/**
 * torchrun's options as environment (torch.distributed.run reads every option from `PET_<OPTION>`):
 * static rendezvous at rank 0's pod, the node rank from the Indexed Job's completion index.
 */
export const TORCHRUN_ENV = ["PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT"] as const;
/** Port rank 0 listens on for the rendezvous (torchrun's default). */
export const TORCHRUN_PORT = 29500;
/** Annotation the Job controller sets on each pod of an Indexed Job (0..completions-1). */
export const COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index";

/** Environment variables the component sets itself; `env` may not override them. */
export const RESERVED_ENV = [
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_NAME",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "LOGNAME",
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
    "MLOPS_MODEL_NAME",
    "MLOPS_MODEL_ALIAS",
    "MLOPS_DATA_URI",
    "MLOPS_DATA_VERSION",
    "MLOPS_IMAGE_DIGEST",
    "MLOPS_RUN_TAGS",
    "MLOPS_RESULT_FILE",
    "HOME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "MLOPS_SWEEP_ID",
    "MLOPS_SWEEP_TRIAL",
    "MLOPS_REGISTER",
    ...TORCHRUN_ENV,
] as const;

export type HyperparameterValue = string | number | boolean;

export interface TrainingJobArgs {
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /** EKS cluster name (Pod Identity associations are per cluster). */
    clusterName: pulumi.Input<string>;
    /** Existing namespace (Pod Security `restricted`) the Job runs in. */
    namespace: string;
    /** Trainer image pinned by digest (`repo@sha256:...`, e.g. ContainerRegistry's digest output). */
    image: pulumi.Input<string>;
    /** Container command. Default: the image entrypoint. */
    command?: string[];
    /** Arguments before the hyperparameter flags. */
    args?: pulumi.Input<string>[];
    /**
     * Hyperparameters (snake_case names): passed as `--name-with-dashes value` args AND as
     * `HP_NAME` env (the reference trainer reads either).
     */
    hyperparameters?: Record<string, HyperparameterValue>;
    /**
     * Names the Job `<jobNamePrefix>-<runId>` (a DNS label). Default: a 10-hex hash of the Job
     * spec, so a changed spec makes a new Job (Job specs are immutable) and an unchanged one none.
     */
    runId?: string;
    /** Prefix of Job, ServiceAccount and NetworkPolicy names (DNS label). Default: the component name. */
    jobNamePrefix?: string;
    /** Cron schedule: makes a CronJob for scheduled retraining instead of a one-off Job. */
    schedule?: string;
    /** IANA time zone of the schedule. Default: the controller's (UTC on EKS). */
    timeZone?: string;
    /** CronJob: seconds after a missed schedule during which the run may still start. Default 600. */
    startingDeadlineSeconds?: number;
    /** CronJob: finished Jobs kept. Defaults 3 successful, 3 failed. */
    successfulJobsHistoryLimit?: number;
    failedJobsHistoryLimit?: number;
    /** MLflow tracking. */
    tracking: {
        /** Tracking server URI (TrackingServer.trackingUri). */
        uri: pulumi.Input<string>;
        experimentName: string;
        /** Run name. Default: the Job name (CronJob: each scheduled Job's name). */
        runName?: string;
        /** Secret (in `namespace`) with basic-auth credentials of the tracking server. */
        credentialsSecret?: { name: string; usernameKey?: string; passwordKey?: string };
        /** Upload large artifacts in parts through presigned URLs. Default true. */
        multipartUpload?: boolean;
    };
    /** Registered model the run produces (MLOPS_MODEL_NAME / MLOPS_MODEL_ALIAS). */
    model: { name: string; alias?: string };
    /** Lineage of the training data (MLOPS_DATA_URI / MLOPS_DATA_VERSION), e.g. a DataLake prefix and DVC rev. */
    data: { uri: pulumi.Input<string>; version: pulumi.Input<string> };
    /** Extra MLflow run tags (MLOPS_RUN_TAGS, JSON). */
    runTags?: Record<string, string>;
    /** Extra literal environment (never secrets; reserved names refused). */
    env?: Record<string, pulumi.Input<string>>;
    /** IAM policies (JSON) of the trainer's role: read raw/processed data, write its artifacts prefix. */
    access: { dataPolicy: pulumi.Input<string>; artifactsPolicy?: pulumi.Input<string> };
    /** How the trainer's pods get AWS credentials. Default Pod Identity. */
    workloadIdentity?: { mode?: WorkloadIdentityMode; oidcProviderArn?: pulumi.Input<string>; oidcIssuerUrl?: pulumi.Input<string> };
    /** Requests/limits. Default 2 CPU, 8Gi memory, no GPU. */
    resources?: ResourceSpec;
    /** GPU scheduling contract (GpuNodeGroup.scheduling); required exactly when resources.gpus > 0. */
    gpu?: GpuScheduling;
    /** Memory-backed /dev/shm (PyTorch DataLoader workers); counts against the memory limit. Default "1Gi". */
    shmSize?: string;
    /** Writable /tmp (the root filesystem is read-only). Default "10Gi". */
    scratchSize?: string;
    /** Hard limit on the run, 60..259200 s. Default 21600 (6 h). */
    activeDeadlineSeconds?: number;
    /** Retries of failed pods, 0..3. Default 1. */
    backoffLimit?: number;
    /** Seconds a finished Job is kept, >= 60. Default 604800 (7 days). */
    ttlSecondsAfterFinished?: number;
    /** Trainer exit codes meaning "configuration error": the Job fails at once, without retries. Default [2]. */
    configErrorExitCodes?: number[];
    /** `pulumi up` waits for the Job to complete and fails when it fails. Default true (Job only). */
    waitForCompletion?: boolean;
    /** How long `pulumi up` waits. Default activeDeadlineSeconds + 15 min (scheduling, GPU scale-up, image pull). */
    timeoutMinutes?: number;
    /** PriorityClass of the pods. */
    priorityClassName?: string;
    /**
     * Kueue LocalQueue (TrainingQueues) the Job is submitted to: labelled `kueue.x-k8s.io/queue-name`
     * and created suspended; Kueue unsuspends it when the quota admits ALL of its pods. `priorityClass`
     * names a WorkloadPriorityClass. Default: no queue (the Job starts at once).
     */
    queue?: { name: string; priorityClass?: string };
    /**
     * Pods of the run (torchrun nodes), each with `resources` (and `resources.gpus` GPUs). Default 1.
     * More than 1 runs an Indexed Job (completions = parallelism = workers) with a headless Service
     * for rank 0's address; needs launcher "torchrun" and a queue (gang admission).
     */
    workers?: number;
    /**
     * How the command is launched. "torchrun": the command is `torchrun <script>` and the component sets
     * torchrun's options as PET_* env (nodes, processes per node = GPUs or 1, node rank = completion
     * index, rank 0's address). Default "direct" (the command as given).
     */
    launcher?: "direct" | "torchrun";
    /**
     * Sweep membership: MLOPS_SWEEP_ID; with `trial`, also MLOPS_SWEEP_TRIAL and MLOPS_REGISTER=false
     * (the run becomes a child of the sweep's parent run and is not registered). See TrainingSweep.
     */
    sweep?: { id: string; trial?: number };
    /**
     * An existing ServiceAccount (with its IAM role) to run as, e.g. shared by a sweep's Jobs.
     * Default: the component creates one (`<prefix>-trainer`) with the `access` policies.
     */
    identity?: { serviceAccountName: pulumi.Input<string>; roleArn: pulumi.Input<string> };
    tags?: Record<string, string>;
}

/** Defaults applied by {@link validateTrainingJobArgs}. */
export interface TrainingJobSettings {
    namespace: string;
    prefix: string;
    runId?: string;
    schedule?: string;
    timeZone?: string;
    startingDeadlineSeconds: number;
    successfulJobsHistoryLimit: number;
    failedJobsHistoryLimit: number;
    command?: string[];
    hyperparameters: Record<string, HyperparameterValue>;
    experimentName: string;
    runName?: string;
    credentialsSecret?: { name: string; usernameKey: string; passwordKey: string };
    multipartUpload: boolean;
    model: { name: string; alias?: string };
    runTags: Record<string, string>;
    resources: ResourceSpec;
    gpu?: GpuScheduling;
    shmSize: string;
    scratchSize: string;
    activeDeadlineSeconds: number;
    backoffLimit: number;
    ttlSecondsAfterFinished: number;
    configErrorExitCodes: number[];
    waitForCompletion: boolean;
    timeoutMinutes: number;
    priorityClassName?: string;
    queue?: { name: string; priorityClass?: string };
    workers: number;
    launcher: "direct" | "torchrun";
    sweep?: { id: string; trial?: number };
    tags: Record<string, string>;
}

const CRON = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;
const HP_NAME = /^[a-z][a-z0-9_]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Validates TrainingJob args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateTrainingJobArgs(name: string, args: TrainingJobArgs): TrainingJobSettings {
    const p = new Problems("TrainingJob arguments");
    const activeDeadlineSeconds = args.activeDeadlineSeconds ?? 21600;
    const s: TrainingJobSettings = {
        namespace: args.namespace,
        prefix: args.jobNamePrefix ?? name,
        runId: args.runId,
        schedule: args.schedule,
        timeZone: args.timeZone,
        startingDeadlineSeconds: args.startingDeadlineSeconds ?? 600,
        successfulJobsHistoryLimit: args.successfulJobsHistoryLimit ?? 3,
        failedJobsHistoryLimit: args.failedJobsHistoryLimit ?? 3,
        command: args.command,
        hyperparameters: args.hyperparameters ?? {},
        experimentName: args.tracking?.experimentName,
        runName: args.tracking?.runName,
        multipartUpload: args.tracking?.multipartUpload ?? true,
        model: args.model,
        runTags: args.runTags ?? {},
        resources: args.resources ?? { cpu: "2", memory: "8Gi" },
        gpu: args.gpu,
        shmSize: args.shmSize ?? "1Gi",
        scratchSize: args.scratchSize ?? "10Gi",
        activeDeadlineSeconds,
        backoffLimit: args.backoffLimit ?? 1,
        ttlSecondsAfterFinished: args.ttlSecondsAfterFinished ?? 604800,
        configErrorExitCodes: args.configErrorExitCodes ?? [2],
        waitForCompletion: args.waitForCompletion ?? args.schedule === undefined,
        timeoutMinutes: args.timeoutMinutes ?? Math.ceil(activeDeadlineSeconds / 60) + 15,
        priorityClassName: args.priorityClassName,
        queue: args.queue,
        workers: args.workers ?? 1,
        launcher: args.launcher ?? "direct",
        sweep: args.sweep,
        tags: args.tags ?? {},
    };
    if ((args.workers ?? 1) > 1 && args.backoffLimit === undefined) {
        // A replacement worker cannot rejoin a running static rendezvous: a failed worker fails the run.
        s.backoffLimit = 0;
    }
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    checkImage(p, "image", args.image);
    checkDnsLabel(p, "namespace", s.namespace);
    const cron = s.schedule !== undefined;
    // Job names carry "-<10 hex>" or "-<runId>"; CronJob names are limited to 52 characters.
    if (checkDnsLabel(p, "jobNamePrefix", s.prefix)) {
        p.check(s.prefix.length <= 52, "jobNamePrefix", `must be at most 52 characters (room for "-<run id>"; CronJob names are limited to 52), got ${s.prefix.length}`);
    }
    if (s.runId !== undefined) {
        if (checkDnsLabel(p, "runId", s.runId)) {
            p.check(`${s.prefix}-${s.runId}`.length <= 63, "runId", `makes the Job name "${s.prefix}-${s.runId}" longer than 63 characters`);
        }
        p.check(!cron, "runId", "does not apply to a scheduled (CronJob) run: each scheduled Job is named by the CronJob controller");
    }
    if (cron) {
        p.check(typeof s.schedule === "string" && CRON.test(s.schedule.trim()), "schedule", `must be a 5-field cron expression or @hourly/@daily/..., got ${describe(s.schedule)}`);
        p.check(!/TZ=/.test(s.schedule ?? ""), "schedule", "must not embed TZ=; use timeZone");
        checkInt(p, "startingDeadlineSeconds", s.startingDeadlineSeconds, 10, 86400);
        checkInt(p, "successfulJobsHistoryLimit", s.successfulJobsHistoryLimit, 0, 20);
        checkInt(p, "failedJobsHistoryLimit", s.failedJobsHistoryLimit, 0, 20);
        p.check(args.waitForCompletion !== true, "waitForCompletion", "does not apply to a scheduled (CronJob) run");
    }
    if (s.timeZone !== undefined) {
        p.check(cron, "timeZone", "only applies with schedule");
        p.check(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(s.timeZone), "timeZone", `must be an IANA time zone such as "Europe/Paris", got ${describe(s.timeZone)}`);
    }
    if (s.command !== undefined) {
        p.check(Array.isArray(s.command) && s.command.length > 0 && s.command.every((c) => typeof c === "string" && c.length > 0), "command", `must be a non-empty list of strings, got ${describe(s.command)}`);
    }
    for (const [k, v] of Object.entries(s.hyperparameters)) {
        p.check(HP_NAME.test(k), `hyperparameters.${k}`, "names must be snake_case (lowercase letters, digits, '_', starting with a letter)");
        p.check(
            typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)),
            `hyperparameters.${k}`,
            `must be a string, finite number or boolean, got ${describe(v)}`,
        );
    }
    p.check(typeof s.experimentName === "string" && s.experimentName.trim().length > 0, "tracking.experimentName", `must be a non-empty string, got ${describe(s.experimentName)}`);
    p.check(args.tracking?.uri !== undefined, "tracking.uri", "is required (TrackingServer.trackingUri)");
    if (s.runName !== undefined) {
        p.check(typeof s.runName === "string" && s.runName.length > 0 && s.runName.length <= 250, "tracking.runName", `must be a non-empty string, got ${describe(s.runName)}`);
    }
    const cred = args.tracking?.credentialsSecret;
    if (cred !== undefined) {
        checkDnsLabel(p, "tracking.credentialsSecret.name", cred.name);
        s.credentialsSecret = { name: cred.name, usernameKey: cred.usernameKey ?? "username", passwordKey: cred.passwordKey ?? "password" };
    }
    p.check(typeof s.model?.name === "string" && s.model.name.length > 0, "model.name", `must be a non-empty string, got ${describe(s.model?.name)}`);
    p.check(args.data?.uri !== undefined, "data.uri", "is required (where the training data comes from)");
    p.check(args.data?.version !== undefined, "data.version", "is required (data lineage: DVC revision, S3 version id, partition...)");
    for (const [k, v] of Object.entries(s.runTags)) {
        p.check(k.length > 0 && k.length <= 250 && typeof v === "string", `runTags.${k}`, `must map a tag name to a string, got ${describe(v)}`);
    }
    for (const k of Object.keys(args.env ?? {})) {
        p.check(ENV_NAME.test(k), `env.${k}`, "must be a valid environment variable name");
        p.check(!(RESERVED_ENV as readonly string[]).includes(k) && !k.startsWith("HP_"), `env.${k}`, "is set by the component (use tracking/model/data/hyperparameters instead)");
    }
    p.check(args.access?.dataPolicy !== undefined || args.identity !== undefined, "access.dataPolicy", "is required (read access to the raw/processed data)");
    checkResources(p, "resources", s.resources);
    const gpus = s.resources?.gpus ?? 0;
    if (gpus > 0) {
        p.check(s.gpu !== undefined, "gpu", "is required when resources.gpus > 0 (the GpuNodeGroup scheduling contract)");
    } else {
        p.check(s.gpu === undefined, "gpu", "is set but resources.gpus is 0: the pod would tolerate GPU taints without using a GPU");
    }
    const shm = quantityValue(s.shmSize);
    if (p.check(shm !== undefined && shm > 0, "shmSize", `must be a memory quantity such as "2Gi", got ${describe(s.shmSize)}`)) {
        const limit = quantityValue(s.resources?.memoryLimit ?? s.resources?.memory);
        if (limit !== undefined) {
            p.check(shm! < limit, "shmSize", `must be below the memory limit (${s.resources.memoryLimit ?? s.resources.memory}): /dev/shm is memory of the container`);
        }
    }
    p.check(quantityValue(s.scratchSize) !== undefined, "scratchSize", `must be a quantity such as "10Gi", got ${describe(s.scratchSize)}`);
    checkInt(p, "activeDeadlineSeconds", s.activeDeadlineSeconds, 60, 259200);
    checkInt(p, "backoffLimit", s.backoffLimit, 0, 3);
    checkInt(p, "ttlSecondsAfterFinished", s.ttlSecondsAfterFinished, 60, 31536000);
    checkInt(p, "timeoutMinutes", s.timeoutMinutes, 1, 10080);
    p.check(
        Array.isArray(s.configErrorExitCodes) && s.configErrorExitCodes.length > 0 && s.configErrorExitCodes.every((c) => Number.isInteger(c) && c >= 1 && c <= 255),
        "configErrorExitCodes",
        `must list exit codes from 1 to 255, got ${describe(s.configErrorExitCodes)}`,
    );
    if (s.priorityClassName !== undefined) {
        p.check(DNS_LABEL.test(s.priorityClassName) || /^system-/.test(s.priorityClassName), "priorityClassName", `must be a PriorityClass name, got ${describe(s.priorityClassName)}`);
    }
    if (s.queue !== undefined) {
        checkDnsLabel(p, "queue.name", s.queue.name);
        if (s.queue.priorityClass !== undefined) checkDnsLabel(p, "queue.priorityClass", s.queue.priorityClass);
    }
    p.check(s.launcher === "direct" || s.launcher === "torchrun", "launcher", `must be "direct" or "torchrun", got ${describe(s.launcher)}`);
    if (checkInt(p, "workers", s.workers, 1, 64) && s.workers > 1) {
        p.check(s.launcher === "torchrun", "workers", `> 1 needs launcher "torchrun" (got ${describe(s.launcher)}): the workers must find each other`);
        p.check(s.queue !== undefined, "workers", "> 1 needs a queue: only Kueue admits all workers at once (without it, some start and wait for the rest)");
        p.check(!cron, "workers", "> 1 is not supported with schedule (the headless Service is named after one Job)");
        p.check(s.backoffLimit === 0, "backoffLimit", `must be 0 with workers > 1 (a replacement worker cannot rejoin the rendezvous), got ${s.backoffLimit}`);
        // Pod hostnames of an Indexed Job are "<job name>-<index>" (a DNS label).
        const jobNameLength = s.prefix.length + 1 + (s.runId?.length ?? 10);
        p.check(jobNameLength + 3 <= 63, s.runId !== undefined ? "runId" : "jobNamePrefix", `makes the Job name ${jobNameLength} characters; with workers > 1 it may have at most 60 (pod hostnames are "<job>-<index>")`);
    }
    if (s.sweep !== undefined) {
        checkDnsLabel(p, "sweep.id", s.sweep.id);
        if (s.sweep.trial !== undefined) checkInt(p, "sweep.trial", s.sweep.trial, 0, 999);
        p.check(!cron, "sweep", "does not apply to a scheduled (CronJob) run");
    }
    p.throwIfAny();
    return s;
}

/** `n_estimators` → `--n-estimators`. */
export function hyperparameterFlag(name: string): string {
    return `--${name.replace(/_/g, "-")}`;
}

/** `n_estimators` → `HP_N_ESTIMATORS`. */
export function hyperparameterEnv(name: string): string {
    return `HP_${name.toUpperCase()}`;
}

/** Hyperparameters as CLI args, in name order (stable across runs). */
export function hyperparameterArgs(hp: Record<string, HyperparameterValue>): string[] {
    return Object.keys(hp)
        .sort()
        .flatMap((k) => [hyperparameterFlag(k), String(hp[k])]);
}

/** JSON with object keys sorted at every level (a canonical form to hash). */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map(canonicalJson).join(",")}]`;
    }
    if (value !== null && typeof value === "object") {
        const o = value as Record<string, unknown>;
        return `{${Object.keys(o)
            .filter((k) => o[k] !== undefined)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(value);
}

/** Short hash of a Job spec: 10 hex of sha256 over its canonical JSON. */
export function specHash(spec: unknown): string {
    return crypto.createHash("sha256").update(canonicalJson(spec)).digest("hex").slice(0, 10);
}

/**
 * The values a Job spec is built from. Leaves may be Outputs: the spec handed to the provider keeps
 * its structure known while a leaf (an image built in the same stack) is unknown at preview, so the
 * policy packs can judge everything else. For the spec hash they are resolved first. @internal
 */
interface JobValues {
    image: pulumi.Input<string>;
    trackingUri: pulumi.Input<string>;
    dataUri: pulumi.Input<string>;
    dataVersion: pulumi.Input<string>;
    args: pulumi.Input<string>[];
    env: Record<string, pulumi.Input<string>>;
    region: pulumi.Input<string>;
    serviceAccountName: pulumi.Input<string>;
    /** Extra env built by {@link trainerEnv}'s callers (e.g. MLflow credentials); appended last. */
    extraEnv?: EnvVar[];
}

type JobSpec = k8s.types.input.batch.v1.JobSpec;
type EnvVar = k8s.types.input.core.v1.EnvVar;

/**
 * The Job spec, as plain data. `jobName` is undefined while hashing (the run name and tags that
 * carry it are left out) and for CronJobs (each Job's name comes from the downward API).
 * @internal
 */
export function buildJobSpec(s: TrainingJobSettings, r: JobValues, jobName: pulumi.Input<string> | undefined, cron: boolean): JobSpec {
    const env = trainerEnv(s, r, jobName, cron);
    return jobSpecWithEnv(s, r, env, jobName);
}

/** Name of the headless Service of a multi-worker Job (the pods' subdomain): the Job's name. */
export function workersServiceName(jobName: string): string {
    return jobName;
}

/**
 * The trainer's environment, in declaration order: tracking, model, lineage, run tags, torchrun
 * options, sweep, hyperparameters, extra env, credentials. @internal
 */
export function trainerEnv(s: TrainingJobSettings, r: JobValues, jobName: pulumi.Input<string> | undefined, cron: boolean): EnvVar[] {
    const runTags: Record<string, string> = { ...s.runTags, "mlops.k8s.namespace": s.namespace };
    const runTagsJson: pulumi.Input<string> =
        jobName === undefined
            ? canonicalJson(runTags)
            : typeof jobName === "string"
              ? canonicalJson({ ...runTags, "mlops.k8s.job": jobName })
              : pulumi.output(jobName).apply((n) => canonicalJson({ ...runTags, "mlops.k8s.job": n }));
    const env: EnvVar[] = [
        { name: "MLFLOW_TRACKING_URI", value: r.trackingUri },
        { name: "MLFLOW_EXPERIMENT_NAME", value: s.experimentName },
    ];
    if (s.runName !== undefined) {
        env.push({ name: "MLFLOW_RUN_NAME", value: s.runName });
    } else if (cron) {
        env.push({ name: "MLFLOW_RUN_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } } });
    } else if (jobName) {
        env.push({ name: "MLFLOW_RUN_NAME", value: jobName });
    }
    env.push({ name: "MLOPS_MODEL_NAME", value: s.model.name });
    if (s.model.alias) {
        env.push({ name: "MLOPS_MODEL_ALIAS", value: s.model.alias });
    }
    env.push(
        { name: "MLOPS_DATA_URI", value: r.dataUri },
        { name: "MLOPS_DATA_VERSION", value: r.dataVersion },
        { name: "MLOPS_IMAGE_DIGEST", value: r.image },
        { name: "MLOPS_RUN_TAGS", value: runTagsJson },
        // The result JSON becomes the pod's termination message (kubectl describe / Job status).
        { name: "MLOPS_RESULT_FILE", value: "/dev/termination-log" },
        { name: "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", value: String(s.multipartUpload) },
        { name: "HOME", value: "/tmp" },
        { name: "AWS_REGION", value: r.region },
        { name: "AWS_DEFAULT_REGION", value: r.region },
    );
    if (s.launcher === "torchrun") {
        const gpus = s.resources.gpus ?? 0;
        env.push(
            { name: "PET_NNODES", value: String(s.workers) },
            // One process per GPU; one (gloo on CPU) without GPUs.
            { name: "PET_NPROC_PER_NODE", value: String(Math.max(gpus, 1)) },
        );
        if (s.workers > 1) {
            const master = jobName === undefined ? "" : pulumi.output(jobName).apply((n) => `${n}-0.${workersServiceName(n)}`);
            env.push(
                { name: "PET_NODE_RANK", valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']` } } },
                { name: "PET_MASTER_ADDR", value: master },
                { name: "PET_MASTER_PORT", value: String(TORCHRUN_PORT) },
            );
        }
    }
    if (s.sweep !== undefined) {
        env.push({ name: "MLOPS_SWEEP_ID", value: s.sweep.id });
        if (s.sweep.trial !== undefined) {
            env.push({ name: "MLOPS_SWEEP_TRIAL", value: String(s.sweep.trial) }, { name: "MLOPS_REGISTER", value: "false" });
        }
    }
    for (const k of Object.keys(s.hyperparameters).sort()) {
        env.push({ name: hyperparameterEnv(k), value: String(s.hyperparameters[k]) });
    }
    for (const k of Object.keys(r.env).sort()) {
        env.push({ name: k, value: r.env[k] });
    }
    if (s.credentialsSecret) {
        env.push(...trackingCredentialEnv(s.credentialsSecret));
    }
    env.push(...(r.extraEnv ?? []));
    return env;
}

/** The Job spec around a trainer environment. @internal */
function jobSpecWithEnv(s: TrainingJobSettings, r: JobValues, env: EnvVar[], jobName: pulumi.Input<string> | undefined): JobSpec {

    const gpus = s.resources.gpus ?? 0;
    const shm = scratchVolume("dshm", "/dev/shm", s.shmSize, "Memory");
    const tmp = scratchVolume("tmp", "/tmp", s.scratchSize);
    const podLabels: Record<string, string> = {
        [ROLE_LABEL]: "training",
        [TRAINING_JOB_LABEL]: s.prefix,
        "app.kubernetes.io/name": s.prefix,
        "app.kubernetes.io/component": "trainer",
        "app.kubernetes.io/part-of": "mlops-platform",
    };
    if (s.runId) {
        podLabels[RUN_ID_LABEL] = s.runId;
    }
    const multi = s.workers > 1;
    return {
        backoffLimit: s.backoffLimit,
        activeDeadlineSeconds: s.activeDeadlineSeconds,
        ttlSecondsAfterFinished: s.ttlSecondsAfterFinished,
        // Submitted to a queue: created suspended, Kueue unsuspends it once all pods fit the quota.
        ...(s.queue ? { suspend: true } : {}),
        ...(multi ? { completionMode: "Indexed", completions: s.workers, parallelism: s.workers } : {}),
        podFailurePolicy: {
            rules: multi
                ? [
                      // Any worker that fails fails the whole run at once (the others are stopped):
                      // a replacement could not rejoin torchrun's static rendezvous. A node lost
                      // under a worker (DisruptionTarget) likewise. Kueue preemption and
                      // waitForPodsReady suspend the whole Job instead, and it restarts complete.
                      { action: "FailJob", onExitCodes: { containerName: TRAINER_CONTAINER, operator: "NotIn", values: [0] } },
                      { action: "FailJob", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
                  ]
                : [
                      // The trainer exits 2 on configuration errors: retrying cannot help.
                      { action: "FailJob", onExitCodes: { containerName: TRAINER_CONTAINER, operator: "In", values: s.configErrorExitCodes } },
                      // Evictions, preemption and node drains do not count against backoffLimit.
                      { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
                  ],
        },
        template: {
            metadata: { labels: podLabels, annotations: { ...DO_NOT_DISRUPT_ANNOTATIONS } },
            spec: {
                // Workers reach rank 0 as <job>-0.<job> (the headless Service of the same name).
                ...(multi && jobName !== undefined ? { subdomain: pulumi.output(jobName).apply(workersServiceName) } : {}),
                restartPolicy: "Never",
                serviceAccountName: r.serviceAccountName,
                automountServiceAccountToken: false,
                enableServiceLinks: false,
                securityContext: restrictedPodSecurityContext(WORKLOAD_UID),
                priorityClassName: s.priorityClassName,
                nodeSelector: gpus > 0 ? { ...s.gpu!.nodeSelector } : undefined,
                tolerations: gpus > 0 ? s.gpu!.tolerations.map((t) => ({ ...t })) : undefined,
                containers: [
                    {
                        name: TRAINER_CONTAINER,
                        image: r.image,
                        command: s.command,
                        args: [...r.args, ...hyperparameterArgs(s.hyperparameters)],
                        env,
                        resources: containerResources(s.resources, gpus > 0 ? s.gpu!.resourceName : undefined),
                        ...(multi ? { ports: [{ name: "rendezvous", containerPort: TORCHRUN_PORT, protocol: "TCP" }] } : {}),
                        securityContext: restrictedContainerSecurityContext(),
                        volumeMounts: [shm.mount, tmp.mount],
                        terminationMessagePolicy: "FallbackToLogsOnError",
                    },
                ],
                volumes: [shm.volume, tmp.volume],
            },
        },
    };
}

/**
 * TrainingJob: one training run as a `batch/v1` Job (or a CronJob for scheduled retraining) that
 * logs to MLflow, with data and image lineage in its environment and run tags, GPUs through the
 * GpuNodeGroup scheduling contract, bounded runtime and retries, and a ServiceAccount whose role
 * can only read the training data and write the artifacts prefix.
 *
 * `pulumi up` waits for the Job to complete (and fails when it fails) unless waitForCompletion is
 * false. Note: once ttlSecondsAfterFinished deletes the finished Job, `pulumi refresh` would drop
 * it from state and the next `up` would run it again; give a new runId (or change the spec) to
 * start a new run, and do not refresh stacks with finished one-off Jobs.
 * https://kubernetes.io/docs/concepts/workloads/controllers/job/
 */
export class TrainingJob extends pulumi.ComponentResource {
    /** Job name (`<prefix>-<runId|spec hash>`), or the CronJob name. */
    public readonly jobName: pulumi.Output<string>;
    /** Run id: the given runId, or the spec hash; for a CronJob, undefined (each run is named by its Job). */
    public readonly runId: pulumi.Output<string | undefined>;
    /** `Job` or `CronJob`. */
    public readonly kind: "Job" | "CronJob";
    /** Namespace of the Job. */
    public readonly namespace: string;
    /** Trainer ServiceAccount and its IAM role. */
    public readonly serviceAccountName: pulumi.Output<string>;
    public readonly roleArn: pulumi.Output<string>;

    constructor(name: string, args: TrainingJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:TrainingJob", name, {}, opts);
        const s = validateTrainingJobArgs(name, args);
        const cron = s.schedule !== undefined;
        const k8sOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
        const labels = { [ROLE_LABEL]: "training", [TRAINING_JOB_LABEL]: s.prefix, "app.kubernetes.io/part-of": "mlops-platform" };

        const identity = args.identity ?? this.createIdentity(name, s, args, labels);

        // Training pods accept no connections, except (multi-node) from the workers of the same run.
        new k8s.networking.v1.NetworkPolicy(
            `${name}-netpol`,
            {
                metadata: { name: `${s.prefix}-training`, namespace: s.namespace, labels },
                spec: {
                    podSelector: { matchLabels: { [TRAINING_JOB_LABEL]: s.prefix } },
                    policyTypes: ["Ingress"],
                    ingress: s.workers > 1 ? [{ from: [{ podSelector: { matchLabels: { [TRAINING_JOB_LABEL]: s.prefix } } }] }] : [],
                },
            },
            k8sOpts,
        );

        const region = aws.getRegionOutput({}, { parent: this });
        const values: JobValues = {
            image: pulumi.output(args.image).apply((i) => assertDigestPinned("TrainingJob arguments", "image", i)),
            trackingUri: args.tracking.uri,
            dataUri: args.data.uri,
            dataVersion: args.data.version,
            args: args.args ?? [],
            env: args.env ?? {},
            region: region.region,
            serviceAccountName: identity.serviceAccountName,
        };

        if (cron) {
            const cronJob = new k8s.batch.v1.CronJob(
                `${name}-cronjob`,
                {
                    metadata: { name: s.prefix, namespace: s.namespace, labels },
                    spec: {
                        schedule: s.schedule!.trim(),
                        timeZone: s.timeZone,
                        concurrencyPolicy: "Forbid",
                        startingDeadlineSeconds: s.startingDeadlineSeconds,
                        successfulJobsHistoryLimit: s.successfulJobsHistoryLimit,
                        failedJobsHistoryLimit: s.failedJobsHistoryLimit,
                        jobTemplate: {
                            metadata: { labels },
                            spec: buildJobSpec(s, values, undefined, true),
                        },
                    },
                },
                k8sOpts,
            );
            this.kind = "CronJob";
            this.jobName = cronJob.metadata.name;
            this.runId = pulumi.output(undefined);
        } else {
            const resolved = pulumi.output(values) as pulumi.Output<pulumi.Unwrap<JobValues>>;
            const hash = resolved.apply((r) => specHash(buildJobSpec(s, r, undefined, false)));
            const runId = s.runId !== undefined ? pulumi.output(s.runId) : hash;
            const jobName = runId.apply((id) => `${s.prefix}-${id}`);
            const queueLabels: Record<string, string> = s.queue
                ? { [QUEUE_NAME_LABEL]: s.queue.name, ...(s.queue.priorityClass ? { [PRIORITY_CLASS_LABEL]: s.queue.priorityClass } : {}) }
                : {};
            let service: k8s.core.v1.Service | undefined;
            if (s.workers > 1) {
                // Headless: DNS answers <job>-<index>.<job> with the pod's address, before it is Ready.
                service = new k8s.core.v1.Service(
                    `${name}-workers`,
                    {
                        metadata: { name: jobName.apply(workersServiceName), namespace: s.namespace, labels },
                        spec: {
                            clusterIP: "None",
                            publishNotReadyAddresses: true,
                            selector: { "batch.kubernetes.io/job-name": jobName },
                            ports: [{ name: "rendezvous", port: TORCHRUN_PORT, targetPort: TORCHRUN_PORT, protocol: "TCP" }],
                        },
                    },
                    k8sOpts,
                );
            }
            const job = new k8s.batch.v1.Job(
                `${name}-job`,
                {
                    metadata: {
                        name: jobName,
                        namespace: s.namespace,
                        labels: runId.apply((id) => ({ ...labels, [RUN_ID_LABEL]: id, ...queueLabels })),
                        annotations: hash.apply((h) => ({
                            "mlops.platform/spec-hash": h,
                            ...(s.waitForCompletion ? {} : { "pulumi.com/skipAwait": "true" }),
                        })),
                    },
                    spec: buildJobSpec(s, values, jobName, false),
                },
                {
                    ...k8sOpts,
                    // The Job spec is immutable: a changed spec under a fixed runId replaces the Job.
                    replaceOnChanges: ["spec"],
                    deleteBeforeReplace: true,
                    // Kueue owns spec.suspend once the Job is queued (unsuspends on admission,
                    // suspends on preemption); Pulumi must not set it back.
                    ...(s.queue ? { ignoreChanges: ["spec.suspend"] } : {}),
                    ...(service ? { dependsOn: [service] } : {}),
                    customTimeouts: { create: `${s.timeoutMinutes}m`, update: `${s.timeoutMinutes}m` },
                },
            );
            this.kind = "Job";
            this.jobName = job.metadata.name;
            this.runId = runId;
        }
        this.namespace = s.namespace;
        this.serviceAccountName = pulumi.output(identity.serviceAccountName);
        this.roleArn = pulumi.output(identity.roleArn);
        this.registerOutputs({ jobName: this.jobName, runId: this.runId, serviceAccountName: this.serviceAccountName, roleArn: this.roleArn });
    }

    /** The trainer's ServiceAccount and IAM role: read the data, write the artifacts prefix. */
    private createIdentity(name: string, s: TrainingJobSettings, args: TrainingJobArgs, labels: Record<string, string>): WorkloadIdentity {
        const policies: Record<string, pulumi.Input<string>> = { data: args.access.dataPolicy };
        if (args.access.artifactsPolicy !== undefined) {
            policies.artifacts = args.access.artifactsPolicy;
        }
        const wi = args.workloadIdentity ?? {};
        return new WorkloadIdentity(
            `${name}-identity`,
            {
                clusterName: args.clusterName,
                namespace: s.namespace,
                serviceAccountName: `${s.prefix}-trainer`,
                policies,
                mode: wi.mode,
                oidcProviderArn: wi.oidcProviderArn,
                oidcIssuerUrl: wi.oidcIssuerUrl,
                provider: args.provider,
                labels,
                tags: { ...s.tags, [ROLE_LABEL]: "training" },
            },
            { parent: this },
        );
    }
}
