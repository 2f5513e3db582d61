// IngestionJob: a bounded CronJob that copies each day's batch from a source (S3 prefix or HTTPS
// URL) into the raw bucket under <dataset>/<date>/, writing the manifest last (the marker the
// PipelineTrigger matches). Its identity only reads the source and only writes the destination.
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ROLE_LABEL } from "../release-contract/annotations";
import { assertReadOnlyPolicy } from "./driftMonitor";
import {
    ResourceSpec,
    WORKLOAD_UID,
    containerResources,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
    scratchVolume,
} from "./k8s-security";
import { assertDigestPinned, checkImage, checkResources, quantityValue } from "./k8s-validation";
import { assertPolicyActionsWithin } from "./iam";
import { Problems, checkDnsLabel, checkInt, describe } from "./validation";
import { WorkloadIdentity, WorkloadIdentityMode } from "./workloadIdentity";

/** Name of the ingestion container. */
export const INGEST_CONTAINER = "ingest";
/** ingest.py exit codes: 0 copied or already there, 2 configuration/empty source, 3 runtime error (retried). */
export const INGEST_EXIT_CODES = { ok: 0, config: 2, runtime: 3 } as const;
/** S3 actions a write-only identity may hold (DataLake.accessPolicy with access "write"). */
export const WRITE_ONLY_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:ListBucket", "s3:GetBucketLocation", "kms:Decrypt", "kms:GenerateDataKey"] as const;
/** Private IPv4 ranges: an HTTPS source is reached on the internet, never inside the VPC. */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

export interface IngestionJobArgs {
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /** EKS cluster name (Pod Identity associations are per cluster). */
    clusterName: pulumi.Input<string>;
    /** Existing namespace (Pod Security `restricted`) the CronJob runs in. */
    namespace: string;
    /** Dataset name: the first key segment under the raw bucket (`<dataset>/<date>/`). DNS label. */
    dataset: string;
    /** Prefix of the CronJob, ServiceAccount and NetworkPolicy names (DNS label, <= 40). Default `<dataset>-ingest`. */
    namePrefix?: string;
    /** Image with examples/credit-risk/ingest.py and boto3, pinned by digest (the trainer image). */
    image: pulumi.Input<string>;
    /** Container command. Default `["python", "/app/ingest.py"]`. */
    command?: string[];
    /** Cron schedule (5 fields or @daily/...). */
    schedule: string;
    /** IANA time zone of the schedule. Default: the controller's (UTC on EKS). */
    timeZone?: string;
    /**
     * Where batches come from: an `s3://bucket/prefix/` (every object below it with one of
     * `suffixes`) or an `https://` URL of one file; `{date}` is replaced by the batch date (YYYY-MM-DD, UTC).
     */
    source: { uri: string; suffixes?: string[] };
    /** Name of the raw bucket (DataLake.rawBucket). Batches go to `s3://<bucket>/<dataset>/<date>/`. */
    destinationBucket: pulumi.Input<string>;
    /**
     * IAM policies (JSON) of the job's identity: `sourcePolicy` read-only (required for an S3
     * source, refused for HTTPS), `destinationPolicy` write-only on `<dataset>/` (DataLake.accessPolicy
     * with access "write"). Anything broader is refused.
     */
    access: { sourcePolicy?: pulumi.Input<string>; destinationPolicy: pulumi.Input<string> };
    /** Requests/limits. Default cpu 250m, memory 512Mi. */
    resources?: ResourceSpec;
    /** Writable /tmp. Default `1Gi`. */
    scratchSize?: string;
    /** Hard limit per run, 60..86400 s. Default 3600. */
    activeDeadlineSeconds?: number;
    /** Retries of runtime failures (S3/HTTP), 0..5; configuration errors never retry. Default 2. */
    backoffLimit?: number;
    /** Seconds a finished Job is kept, >= 60. Default 86400. */
    ttlSecondsAfterFinished?: number;
    /** Seconds after a missed schedule during which the run may still start. Default 600. */
    startingDeadlineSeconds?: number;
    /** How the pods get AWS credentials. Default Pod Identity. */
    workloadIdentity?: { mode?: WorkloadIdentityMode; oidcProviderArn?: pulumi.Input<string>; oidcIssuerUrl?: pulumi.Input<string> };
    tags?: Record<string, string>;
}

export interface IngestionJobSettings {
    namespace: string;
    dataset: string;
    prefix: string;
    command: string[];
    schedule: string;
    timeZone?: string;
    sourceUri: string;
    sourceKind: "s3" | "https";
    suffixes: string[];
    resources: ResourceSpec;
    scratchSize: string;
    activeDeadlineSeconds: number;
    backoffLimit: number;
    ttlSecondsAfterFinished: number;
    startingDeadlineSeconds: number;
    tags: Record<string, string>;
}

const CRON = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;

/** Validates IngestionJob args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateIngestionJobArgs(args: IngestionJobArgs): IngestionJobSettings {
    const p = new Problems("IngestionJob arguments");
    const uri = args.source?.uri;
    const s: IngestionJobSettings = {
        namespace: args.namespace,
        dataset: args.dataset,
        prefix: args.namePrefix ?? `${args.dataset}-ingest`,
        command: args.command ?? ["python", "/app/ingest.py"],
        schedule: typeof args.schedule === "string" ? args.schedule.trim() : args.schedule,
        timeZone: args.timeZone,
        sourceUri: uri,
        sourceKind: typeof uri === "string" && uri.startsWith("https://") ? "https" : "s3",
        suffixes: args.source?.suffixes ?? [".csv"],
        resources: args.resources ?? { cpu: "250m", memory: "512Mi" },
        scratchSize: args.scratchSize ?? "1Gi",
        activeDeadlineSeconds: args.activeDeadlineSeconds ?? 3600,
        backoffLimit: args.backoffLimit ?? 2,
        ttlSecondsAfterFinished: args.ttlSecondsAfterFinished ?? 86400,
        startingDeadlineSeconds: args.startingDeadlineSeconds ?? 600,
        tags: args.tags ?? {},
    };
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    checkDnsLabel(p, "namespace", s.namespace);
    checkDnsLabel(p, "dataset", s.dataset);
    if (checkDnsLabel(p, "namePrefix", s.prefix)) {
        p.check(s.prefix.length <= 40, "namePrefix", `must be at most 40 characters (CronJob names are limited to 52 and get suffixes), got ${s.prefix.length}`);
    }
    checkImage(p, "image", args.image);
    p.check(Array.isArray(s.command) && s.command.length > 0 && s.command.every((c) => typeof c === "string" && c.length > 0), "command", `must be a non-empty list of strings, got ${describe(s.command)}`);
    p.check(typeof s.schedule === "string" && CRON.test(s.schedule) && !/TZ=/.test(s.schedule), "schedule", `must be a 5-field cron expression or @hourly/@daily/... (time zone in timeZone), got ${describe(args.schedule)}`);
    if (s.timeZone !== undefined) {
        p.check(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(s.timeZone), "timeZone", `must be an IANA time zone such as "Europe/Paris", got ${describe(s.timeZone)}`);
    }
    p.check(
        typeof uri === "string" && (/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/(.*\/)?$/.test(uri) || /^https:\/\/[^\s/]+\/\S+$/.test(uri)),
        "source.uri",
        `must be s3://<bucket>/<prefix>/ (ending in /) or an https:// URL of one file ({date} is replaced by the batch date), got ${describe(uri)}`,
    );
    p.check(Array.isArray(s.suffixes) && s.suffixes.length > 0 && s.suffixes.every((x) => typeof x === "string" && /^[A-Za-z0-9._-]+$/.test(x)), "source.suffixes", `must list key suffixes such as ".csv", got ${describe(s.suffixes)}`);
    if (s.sourceKind === "s3") {
        p.check(args.access?.sourcePolicy !== undefined, "access.sourcePolicy", "is required for an s3:// source: read-only access to the source prefix");
    } else {
        p.check(args.access?.sourcePolicy === undefined, "access.sourcePolicy", "must be unset for an https:// source (the job gets no S3 access beyond the destination)");
    }
    p.check(args.access?.destinationPolicy !== undefined, "access.destinationPolicy", "is required: write-only access to <dataset>/ in the raw bucket (DataLake.accessPolicy, access \"write\")");
    p.check(args.destinationBucket !== undefined && args.destinationBucket !== "", "destinationBucket", "is required (DataLake.rawBucket)");
    checkResources(p, "resources", s.resources);
    p.check(quantityValue(s.scratchSize) !== undefined, "scratchSize", `must be a quantity such as "1Gi", got ${describe(s.scratchSize)}`);
    checkInt(p, "activeDeadlineSeconds", s.activeDeadlineSeconds, 60, 86400);
    checkInt(p, "backoffLimit", s.backoffLimit, 0, 5);
    checkInt(p, "ttlSecondsAfterFinished", s.ttlSecondsAfterFinished, 60, 31536000);
    checkInt(p, "startingDeadlineSeconds", s.startingDeadlineSeconds, 10, 86400);
    p.throwIfAny();
    return s;
}

/**
 * Throws InputPropertiesError when a policy grants anything beyond writing objects (listing the
 * prefix, encrypting through S3): the ingestion identity must not read or delete raw data.
 */
export function assertWriteOnlyPolicy(subject: string, path: string, json: string): string {
    return assertPolicyActionsWithin(subject, path, json, WRITE_ONLY_ACTIONS, "write");
}

/** The environment ingest.py reads (plain values; the bucket may be an Output). */
export function ingestionEnv(s: IngestionJobSettings, destinationBucket: pulumi.Input<string>): k8s.types.input.core.v1.EnvVar[] {
    return [
        { name: "MLOPS_INGEST_SOURCE", value: s.sourceUri },
        { name: "MLOPS_INGEST_DEST", value: pulumi.interpolate`s3://${destinationBucket}/${s.dataset}/` },
        { name: "MLOPS_INGEST_SUFFIXES", value: s.suffixes.join(",") },
        { name: "HOME", value: "/tmp" },
        { name: "TMPDIR", value: "/tmp" },
        { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
        { name: "MLOPS_RESULT_FILE", value: "/dev/termination-log" },
    ];
}

/**
 * IngestionJob: a CronJob (concurrencyPolicy Forbid, deadlines, bounded retries, TTL) that runs
 * ingest.py from the trainer image: each run copies the day's batch into
 * `s3://<raw bucket>/<dataset>/<date>/` and writes `_manifest.json` (object list, row counts,
 * sha256) last; a second run for the same date writes nothing. The ServiceAccount's role can only
 * read the source prefix and only write `<dataset>/` in the raw bucket. Pods accept no connections;
 * an HTTPS source gets egress to public addresses on 443 only.
 */
export class IngestionJob extends pulumi.ComponentResource {
    public readonly cronJobName: pulumi.Output<string>;
    public readonly serviceAccountName: pulumi.Output<string>;
    public readonly roleArn: pulumi.Output<string>;
    public readonly settings: IngestionJobSettings;

    constructor(name: string, args: IngestionJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:IngestionJob", name, {}, opts);
        const s = validateIngestionJobArgs(args);
        this.settings = s;
        const subject = "IngestionJob arguments";
        const k8sOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
        const labels = {
            [ROLE_LABEL]: "system",
            "app.kubernetes.io/name": s.prefix,
            "app.kubernetes.io/component": "ingestion",
            "app.kubernetes.io/part-of": "mlops-platform",
            "mlops.platform/dataset": s.dataset,
        };
        const wi = args.workloadIdentity ?? {};
        const identity = new WorkloadIdentity(
            `${name}-identity`,
            {
                clusterName: args.clusterName,
                namespace: s.namespace,
                serviceAccountName: s.prefix,
                policies: {
                    ...(args.access.sourcePolicy
                        ? { "source-read": pulumi.output(args.access.sourcePolicy).apply((j) => assertReadOnlyPolicy(subject, "access.sourcePolicy", j)) }
                        : {}),
                    "raw-write": pulumi.output(args.access.destinationPolicy).apply((j) => assertWriteOnlyPolicy(subject, "access.destinationPolicy", j)),
                },
                mode: wi.mode,
                oidcProviderArn: wi.oidcProviderArn,
                oidcIssuerUrl: wi.oidcIssuerUrl,
                provider: args.provider,
                labels,
                tags: { ...s.tags, [ROLE_LABEL]: "system" },
            },
            { parent: this },
        );

        const podSelector = { matchLabels: { "app.kubernetes.io/name": s.prefix, "app.kubernetes.io/component": "ingestion" } };
        new k8s.networking.v1.NetworkPolicy(
            `${name}-netpol`,
            {
                metadata: { name: s.prefix, namespace: s.namespace, labels },
                spec:
                    s.sourceKind === "https"
                        ? {
                              podSelector,
                              policyTypes: ["Ingress", "Egress"],
                              ingress: [],
                              // Adds to the namespace's allows (S3, STS, DNS): the public source on 443.
                              egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: PRIVATE_RANGES } }], ports: [{ protocol: "TCP", port: 443 }] }],
                          }
                        : { podSelector, policyTypes: ["Ingress"], ingress: [] },
            },
            k8sOpts,
        );

        const region = aws.getRegionOutput({}, { parent: this }).region;
        const tmp = scratchVolume("tmp", "/tmp", s.scratchSize);
        const image = pulumi.output(args.image).apply((i) => assertDigestPinned(subject, "image", i));
        const jobSpec: k8s.types.input.batch.v1.JobSpec = {
            backoffLimit: s.backoffLimit,
            activeDeadlineSeconds: s.activeDeadlineSeconds,
            ttlSecondsAfterFinished: s.ttlSecondsAfterFinished,
            podFailurePolicy: {
                rules: [
                    // A configuration problem or an empty source gives the same answer on retry.
                    { action: "FailJob", onExitCodes: { containerName: INGEST_CONTAINER, operator: "In", values: [INGEST_EXIT_CODES.config] } },
                    { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
                ],
            },
            template: {
                metadata: { labels },
                spec: {
                    restartPolicy: "Never",
                    serviceAccountName: identity.serviceAccountName,
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    securityContext: restrictedPodSecurityContext(WORKLOAD_UID),
                    containers: [
                        {
                            name: INGEST_CONTAINER,
                            image,
                            command: s.command,
                            env: [...ingestionEnv(s, args.destinationBucket), { name: "AWS_REGION", value: region }, { name: "AWS_DEFAULT_REGION", value: region }],
                            resources: containerResources(s.resources),
                            securityContext: restrictedContainerSecurityContext(),
                            volumeMounts: [tmp.mount],
                            terminationMessagePolicy: "FallbackToLogsOnError",
                        },
                    ],
                    volumes: [tmp.volume],
                },
            },
        };
        const cronJob = new k8s.batch.v1.CronJob(
            `${name}-cronjob`,
            {
                metadata: { name: s.prefix, namespace: s.namespace, labels },
                spec: {
                    schedule: s.schedule,
                    ...(s.timeZone ? { timeZone: s.timeZone } : {}),
                    concurrencyPolicy: "Forbid",
                    startingDeadlineSeconds: s.startingDeadlineSeconds,
                    successfulJobsHistoryLimit: 3,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: { metadata: { labels }, spec: jobSpec },
                },
            },
            k8sOpts,
        );

        this.cronJobName = cronJob.metadata.name;
        this.serviceAccountName = identity.serviceAccountName;
        this.roleArn = identity.roleArn;
        this.registerOutputs({ cronJobName: this.cronJobName, serviceAccountName: this.serviceAccountName, roleArn: this.roleArn });
    }
}
