// DriftMonitor: a scheduled check that compares the latest data batch with the training reference
// statistics, pushes per-feature drift metrics to the Pushgateway and alerts when a feature drifts.
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ROLE_LABEL } from "../release-contract/annotations";
import { DRIFT_DEFAULTS, DRIFT_METRICS, DRIFT_PUSH_JOB } from "./dashboards/metrics";
import {
    ResourceSpec,
    WORKLOAD_UID,
    containerResources,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
    scratchVolume,
} from "./k8s-security";
import { assertDigestPinned, checkImage, checkResources, quantityValue } from "./k8s-validation";
import type { AlertRule } from "./monitoring";
import { assertPolicyActionsWithin } from "./iam";
import { Problems, checkDnsLabel, checkInt, describe } from "./validation";
import { WorkloadIdentity, WorkloadIdentityMode } from "./workloadIdentity";

/** How the per-feature verdict combines the two tests. */
export const DRIFT_DECISIONS = ["both", "either", "psi", "ks"] as const;
export type DriftDecision = (typeof DRIFT_DECISIONS)[number];

/** Name of the drift check container. */
export const DRIFT_CONTAINER = "drift-check";
/** Drift check exit codes: 0 no drift, 1 drift (when failing on drift), 2 configuration/data error, 3 runtime error. */
export const DRIFT_EXIT_CODES = { ok: 0, drift: 1, config: 2, runtime: 3 } as const;

/** S3 actions a read-only identity may hold (what DataLake.accessPolicy grants for `access: "read"`). */
export const READ_ONLY_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation", "kms:Decrypt"] as const;

export interface DriftMonitorArgs {
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /** EKS cluster name (Pod Identity associations are per cluster). */
    clusterName: pulumi.Input<string>;
    /** Existing namespace (Pod Security `restricted`) the CronJob runs in, e.g. the training namespace. */
    namespace: string;
    /** Prefix of the CronJob, ServiceAccount, NetworkPolicy and PrometheusRule names (DNS label, <= 40). Default: the component name. */
    namePrefix?: string;
    /** Model the check watches: the `model` label of every metric and of the Pushgateway group. */
    model: string;
    /**
     * Image with examples/credit-risk/drift.py and numpy/scipy/pandas/boto3, pinned by digest (the
     * trainer image, which carries them, run with a different command).
     */
    image: pulumi.Input<string>;
    /** Container command. Default `["python", "/app/drift.py"]`. */
    command?: string[];
    /** Cron schedule (5 fields or @daily/@hourly/...). */
    schedule: string;
    /** IANA time zone of the schedule. Default: the controller's (UTC on EKS). */
    timeZone?: string;
    /**
     * Reference statistics the trainer logged (`reference/feature_stats.json`): an `s3://` URI of the
     * file, or of a prefix ending in `/` (the newest `feature_stats.json` below it is used).
     */
    reference: { uri: pulumi.Input<string> };
    /** The batch to check: an `s3://` URI of a CSV/Parquet file, or of a prefix ending in `/` (the newest file below it). */
    batch: {
        uri: pulumi.Input<string>;
        /** Read the newest N objects under the prefix as one batch (`--current-objects`), e.g. prediction logs. Default 1. */
        objects?: number;
    };
    /**
     * Read-only IAM policies (JSON) of the check's identity, e.g. `dataLake.accessPolicy([{ bucket:
     * "artifacts", prefix: "mlflow/", access: "read" }])` and `...([{ bucket: "processed", prefix:
     * "credit-risk/", access: "read" }])`. A policy granting anything beyond reads is refused.
     */
    access: { referencePolicy: pulumi.Input<string>; batchPolicy: pulumi.Input<string> };
    /** Where results are pushed (Monitoring.pushgatewayUrl). */
    pushgatewayUrl: pulumi.Input<string>;
    /** Drift thresholds. Defaults: PSI 0.2, KS alpha 0.01 (sources in DRIFT_DEFAULTS), decision `both`, at least 100 rows. */
    thresholds?: { psi?: number; ksAlpha?: number; decision?: DriftDecision; minRows?: number };
    /** Features to check. Default: every feature of the reference statistics. */
    features?: string[];
    /** Fail the Job when drift is found (exit 1), besides the metrics. Default false: drift is reported by metrics and alerts only. */
    failJobOnDrift?: boolean;
    alerts?: {
        /** How long the drift condition must hold. Default `5m` (rides over scrape gaps). */
        for?: string;
        /** Severity of FeatureDriftDetected. Default `warning`. */
        severity?: "critical" | "warning" | "info";
        /** Age of the last successful check after which DriftCheckStale fires. Default: derived from the schedule (daily → 26h). */
        staleAfter?: string;
    };
    /** Extra labels on the PrometheusRule (to match a Prometheus ruleSelector). */
    ruleLabels?: Record<string, string>;
    /** Requests/limits. Default cpu 500m, memory 1Gi. */
    resources?: ResourceSpec;
    /** Writable /tmp. Default `2Gi`. */
    scratchSize?: string;
    /** Hard limit per run, 60..86400 s. Default 1800. */
    activeDeadlineSeconds?: number;
    /** Retries of failed pods (runtime errors only: configuration errors and drift never retry), 0..3. Default 1. */
    backoffLimit?: number;
    /** Seconds a finished Job is kept, >= 60. Default 86400. */
    ttlSecondsAfterFinished?: number;
    /** Seconds after a missed schedule during which the run may still start. Default 300. */
    startingDeadlineSeconds?: number;
    /** How the pods get AWS credentials. Default Pod Identity. */
    workloadIdentity?: { mode?: WorkloadIdentityMode; oidcProviderArn?: pulumi.Input<string>; oidcIssuerUrl?: pulumi.Input<string> };
    /** Resource the PrometheusRule must wait for (Monitoring.crdDependency: the chart with the CRDs). */
    crdDependency?: pulumi.Resource;
    tags?: Record<string, string>;
}

/** Settings after defaults; see {@link validateDriftMonitorArgs}. */
export interface DriftMonitorSettings {
    /** Objects under the batch prefix read as one batch (batch.objects). */
    batchObjects: number;
    namespace: string;
    prefix: string;
    model: string;
    command: string[];
    schedule: string;
    timeZone?: string;
    psiThreshold: number;
    ksAlpha: number;
    decision: DriftDecision;
    minRows: number;
    features?: string[];
    failJobOnDrift: boolean;
    alertFor: string;
    severity: "critical" | "warning" | "info";
    staleAfter: string;
    ruleLabels: Record<string, string>;
    resources: ResourceSpec;
    scratchSize: string;
    activeDeadlineSeconds: number;
    backoffLimit: number;
    ttlSecondsAfterFinished: number;
    startingDeadlineSeconds: number;
    tags: Record<string, string>;
}

const CRON = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;
const PROM_DURATION = /^([0-9]+(ms|s|m|h|d|w|y))+$/;
/** The model name is a Pushgateway path segment and a label value: no '/'. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FEATURE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * How long after its last success a check on this schedule counts as missing: two periods for
 * the simple shapes (hourly → 2h, daily → 26h, weekly → 8d, monthly → 32d), else 2d.
 */
export function defaultStaleAfter(schedule: string): string {
    const s = schedule.trim();
    const named: Record<string, string> = { "@hourly": "2h", "@daily": "26h", "@midnight": "26h", "@weekly": "8d", "@monthly": "32d", "@yearly": "370d", "@annually": "370d" };
    if (named[s]) return named[s];
    const f = s.split(/\s+/);
    if (f.length !== 5) return "2d";
    const [min, hour, dom, mon, dow] = f;
    const fixed = (x: string) => /^[0-9]+$/.test(x);
    if (fixed(min) && hour === "*" && dom === "*" && mon === "*" && dow === "*") return "2h";
    if (fixed(min) && fixed(hour) && dom === "*" && mon === "*" && dow === "*") return "26h";
    if (fixed(min) && fixed(hour) && dom === "*" && mon === "*" && fixed(dow)) return "8d";
    if (fixed(min) && fixed(hour) && fixed(dom) && mon === "*" && dow === "*") return "32d";
    return "2d";
}

/** Validates DriftMonitor args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateDriftMonitorArgs(name: string, args: DriftMonitorArgs): DriftMonitorSettings {
    const p = new Problems("DriftMonitor arguments");
    const t = args.thresholds ?? {};
    const s: DriftMonitorSettings = {
        namespace: args.namespace,
        prefix: args.namePrefix ?? name,
        model: args.model,
        command: args.command ?? ["python", "/app/drift.py"],
        schedule: typeof args.schedule === "string" ? args.schedule.trim() : args.schedule,
        timeZone: args.timeZone,
        psiThreshold: t.psi ?? DRIFT_DEFAULTS.psiThreshold,
        ksAlpha: t.ksAlpha ?? DRIFT_DEFAULTS.ksAlpha,
        decision: t.decision ?? "both",
        minRows: t.minRows ?? 100,
        features: args.features,
        batchObjects: args.batch?.objects ?? 1,
        failJobOnDrift: args.failJobOnDrift ?? false,
        alertFor: args.alerts?.for ?? "5m",
        severity: args.alerts?.severity ?? "warning",
        staleAfter: args.alerts?.staleAfter ?? (typeof args.schedule === "string" ? defaultStaleAfter(args.schedule) : "2d"),
        ruleLabels: args.ruleLabels ?? {},
        resources: args.resources ?? { cpu: "500m", memory: "1Gi" },
        scratchSize: args.scratchSize ?? "2Gi",
        activeDeadlineSeconds: args.activeDeadlineSeconds ?? 1800,
        backoffLimit: args.backoffLimit ?? 1,
        ttlSecondsAfterFinished: args.ttlSecondsAfterFinished ?? 86400,
        startingDeadlineSeconds: args.startingDeadlineSeconds ?? 300,
        tags: args.tags ?? {},
    };
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    checkDnsLabel(p, "namespace", s.namespace);
    if (checkDnsLabel(p, "namePrefix", s.prefix)) {
        p.check(s.prefix.length <= 40, "namePrefix", `must be at most 40 characters (CronJob names are limited to 52 and get suffixes), got ${s.prefix.length}`);
    }
    p.check(typeof s.model === "string" && MODEL_NAME.test(s.model), "model", `must be letters, digits, '.', '_' or '-' (no '/': it is a Pushgateway path segment), got ${describe(s.model)}`);
    checkImage(p, "image", args.image);
    p.check(Array.isArray(s.command) && s.command.length > 0 && s.command.every((c) => typeof c === "string" && c.length > 0), "command", `must be a non-empty list of strings, got ${describe(s.command)}`);
    p.check(typeof s.schedule === "string" && CRON.test(s.schedule) && !/TZ=/.test(s.schedule), "schedule", `must be a 5-field cron expression or @hourly/@daily/... (time zone in timeZone), got ${describe(args.schedule)}`);
    if (s.timeZone !== undefined) {
        p.check(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(s.timeZone), "timeZone", `must be an IANA time zone such as "Europe/Paris", got ${describe(s.timeZone)}`);
    }
    const s3 = (path: string, v: unknown, prefixOk: boolean) => {
        if (typeof v === "string") {
            p.check(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v), path, `must be an s3://<bucket>/<key>${prefixOk ? " (or prefix ending in /)" : ""} URI, got ${describe(v)}`);
        } else {
            p.check(v !== undefined && v !== null, path, "is required");
        }
    };
    s3("reference.uri", args.reference?.uri, true);
    s3("batch.uri", args.batch?.uri, true);
    if (args.batch?.objects !== undefined) {
        p.check(Number.isInteger(args.batch.objects) && args.batch.objects >= 1 && args.batch.objects <= 100000, "batch.objects", `must be an integer from 1 to 100000, got ${describe(args.batch.objects)}`);
        if (args.batch.objects > 1 && typeof args.batch.uri === "string") {
            p.check(args.batch.uri.endsWith("/"), "batch.objects", `> 1 needs batch.uri to be a prefix ending in '/', got ${describe(args.batch.uri)}`);
        }
    }
    p.check(args.access?.referencePolicy !== undefined, "access.referencePolicy", "is required: read-only access to the reference statistics (DataLake.accessPolicy, access \"read\")");
    p.check(args.access?.batchPolicy !== undefined, "access.batchPolicy", "is required: read-only access to the batch prefix (DataLake.accessPolicy, access \"read\")");
    if (typeof args.pushgatewayUrl === "string") {
        p.check(/^https?:\/\/[^\s/]+(:[0-9]+)?\/?$/.test(args.pushgatewayUrl), "pushgatewayUrl", `must be http(s)://host[:port] (Monitoring.pushgatewayUrl), got ${describe(args.pushgatewayUrl)}`);
    } else {
        p.check(args.pushgatewayUrl !== undefined && args.pushgatewayUrl !== null, "pushgatewayUrl", "is required (Monitoring.pushgatewayUrl)");
    }
    p.check(typeof s.psiThreshold === "number" && s.psiThreshold > 0 && s.psiThreshold <= 10, "thresholds.psi", `must be in (0, 10] (0.1 moderate, 0.2 common, 0.25 major shift), got ${describe(s.psiThreshold)}`);
    p.check(typeof s.ksAlpha === "number" && s.ksAlpha > 0 && s.ksAlpha <= 0.2, "thresholds.ksAlpha", `must be in (0, 0.2] (e.g. 0.01), got ${describe(s.ksAlpha)}`);
    p.check((DRIFT_DECISIONS as readonly string[]).includes(s.decision), "thresholds.decision", `must be one of ${DRIFT_DECISIONS.map((d) => `"${d}"`).join(", ")}, got ${describe(s.decision)}`);
    checkInt(p, "thresholds.minRows", s.minRows, 10, 100_000_000);
    if (s.features !== undefined) {
        p.check(Array.isArray(s.features) && s.features.length > 0, "features", "must list at least one feature (omit it to check every reference feature)");
        (s.features ?? []).forEach((f, i) => p.check(typeof f === "string" && FEATURE_NAME.test(f), `features[${i}]`, `must be a column name (letters, digits, '_'), got ${describe(f)}`));
        p.check(new Set(s.features).size === (s.features ?? []).length, "features", "must not repeat a feature");
    }
    p.check(PROM_DURATION.test(s.alertFor), "alerts.for", `must be a Prometheus duration such as "5m", got ${describe(s.alertFor)}`);
    p.check(PROM_DURATION.test(s.staleAfter), "alerts.staleAfter", `must be a Prometheus duration such as "26h", got ${describe(s.staleAfter)}`);
    p.check(["critical", "warning", "info"].includes(s.severity), "alerts.severity", `must be "critical", "warning" or "info", got ${describe(s.severity)}`);
    checkResources(p, "resources", s.resources);
    p.check(quantityValue(s.scratchSize) !== undefined, "scratchSize", `must be a quantity such as "2Gi", got ${describe(s.scratchSize)}`);
    checkInt(p, "activeDeadlineSeconds", s.activeDeadlineSeconds, 60, 86400);
    checkInt(p, "backoffLimit", s.backoffLimit, 0, 3);
    checkInt(p, "ttlSecondsAfterFinished", s.ttlSecondsAfterFinished, 60, 31536000);
    checkInt(p, "startingDeadlineSeconds", s.startingDeadlineSeconds, 10, 86400);
    p.throwIfAny();
    return s;
}

/**
 * Throws InputPropertiesError when an IAM policy document grants more than reading objects
 * (and decrypting them through S3): the drift check must not be able to change the data lake.
 */
export function assertReadOnlyPolicy(subject: string, path: string, json: string): string {
    return assertPolicyActionsWithin(subject, path, json, READ_ONLY_ACTIONS, "read");
}

/** The drift check's command-line arguments (plain values resolved). */
export function driftCheckArgs(
    s: DriftMonitorSettings,
    r: { referenceUri: pulumi.Input<string>; batchUri: pulumi.Input<string>; pushgatewayUrl: pulumi.Input<string> },
): pulumi.Input<string>[] {
    const pushgateway = typeof r.pushgatewayUrl === "string" ? r.pushgatewayUrl.replace(/\/$/, "") : pulumi.output(r.pushgatewayUrl).apply((u) => u.replace(/\/$/, ""));
    return [
        "--reference",
        r.referenceUri,
        "--current",
        r.batchUri,
        "--model",
        s.model,
        "--psi-threshold",
        String(s.psiThreshold),
        "--ks-alpha",
        String(s.ksAlpha),
        "--decision",
        s.decision,
        "--min-rows",
        String(s.minRows),
        ...(s.features ? ["--features", s.features.join(",")] : []),
        ...(s.batchObjects > 1 ? ["--current-objects", String(s.batchObjects)] : []),
        "--pushgateway",
        pushgateway,
        "--push-job",
        DRIFT_PUSH_JOB,
        "--drift-exit-code",
        String(s.failJobOnDrift ? DRIFT_EXIT_CODES.drift : DRIFT_EXIT_CODES.ok),
    ];
}

/** The drift alert rules of one model (pure; exported for docs and tests). */
export function driftAlertRules(s: DriftMonitorSettings): AlertRule[] {
    const sel = `{model="${s.model}"}`;
    const psi = `(max by (model, feature) (${DRIFT_METRICS.psi}${sel}) > ${s.psiThreshold})`;
    const ks = `(min by (model, feature) (${DRIFT_METRICS.ksPvalue}${sel}) < ${s.ksAlpha})`;
    const condition = { both: `${psi} and on (model, feature) ${ks}`, either: `${psi} or on (model, feature) ${ks}`, psi, ks }[s.decision];
    const rule = { psi: `PSI > ${s.psiThreshold}`, ks: `KS p-value < ${s.ksAlpha}` };
    const test = { both: `${rule.psi} and ${rule.ks}`, either: `${rule.psi} or ${rule.ks}`, psi: rule.psi, ks: rule.ks }[s.decision];
    const common = { platform: "mlops", component: "drift", model: s.model };
    const cron = s.prefix;
    return [
        {
            alert: "FeatureDriftDetected",
            expr: condition,
            for: s.alertFor,
            labels: { severity: s.severity, ...common },
            annotations: {
                summary: `Feature {{ $labels.feature }} of model ${s.model} drifted from its training distribution`,
                description: `The latest batch differs from the training reference on {{ $labels.feature }} (${test}). Source: ${DRIFT_METRICS.psi} and ${DRIFT_METRICS.ksPvalue} pushed by the drift check (CronJob ${s.namespace}/${cron}) to the Pushgateway.`,
                runbook: "Open 'MLOps / Data drift' to see which features moved and since when. Check the pipeline first (a unit or encoding change, a broken join); a real population shift calls for retraining on recent data and the gate before promotion.",
            },
        },
        {
            alert: "DriftCheckStale",
            expr: `time() - max by (model) (${DRIFT_METRICS.timestamp}${sel}) > ${durationSeconds(s.staleAfter)}`,
            for: "15m",
            labels: { severity: "warning", ...common },
            annotations: {
                summary: `No drift check for model ${s.model} for more than ${s.staleAfter}`,
                description: `The last successful push of ${DRIFT_METRICS.timestamp} is older than ${s.staleAfter}: drift would go unnoticed.`,
                runbook: `\`kubectl -n ${s.namespace} get cronjob ${cron}\` and its latest Jobs: suspended CronJob, missed schedules (startingDeadlineSeconds), failing runs (DriftCheckJobFailed), or the Pushgateway restarted and lost its groups (the next run pushes again).`,
            },
        },
        {
            alert: "DriftCheckMissing",
            expr: `absent(${DRIFT_METRICS.timestamp}${sel})`,
            for: s.staleAfter,
            labels: { severity: "warning", ...common },
            annotations: {
                summary: `The Pushgateway has no drift results for model ${s.model}`,
                description: `${DRIFT_METRICS.timestamp}${sel} has been absent for ${s.staleAfter}: the check never pushed, or the Pushgateway lost its state.`,
                runbook: `Run the check once: \`kubectl -n ${s.namespace} create job --from=cronjob/${cron} ${cron}-manual\`, then read its logs.`,
            },
        },
        {
            alert: "DriftCheckJobFailed",
            expr: `(kube_job_failed{condition="true",namespace="${s.namespace}"} == 1) and on (namespace, job_name) kube_job_owner{owner_kind="CronJob",owner_name="${cron}",namespace="${s.namespace}"}`,
            for: "1m",
            labels: { severity: "warning", ...common },
            annotations: {
                summary: `Drift check Job {{ $labels.job_name }} for model ${s.model} failed`,
                description: "Exit code 2 is a configuration or data problem (missing reference, unreadable batch, too few rows, missing columns: one line in the log says which); 3 a runtime error (S3 or Pushgateway unreachable). Source: kube_job_failed and kube_job_owner from kube-state-metrics.",
                runbook: `\`kubectl -n ${s.namespace} logs job/{{ $labels.job_name }}\`; fix the DriftMonitor args (reference/batch URIs, features) or the data; the next scheduled run retries.`,
            },
        },
    ];
}

/** `26h` → 93600. */
export function durationSeconds(d: string): number {
    const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
    let total = 0;
    for (const m of d.matchAll(/([0-9]+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * unit[m[2]];
    return total;
}

/**
 * DriftMonitor: a CronJob that runs the drift check (examples/credit-risk/drift.py in the trainer
 * image) on a schedule: per feature, the population stability index on the reference bins and a
 * two-sample KS test against the reference sample, results pushed to the Pushgateway as
 * `mlops_feature_psi` / `mlops_feature_ks_pvalue` / `mlops_feature_drift` / `mlops_drift_check_timestamp_seconds`,
 * and a PrometheusRule that fires when a feature drifts, when the check stops reporting, or when
 * its Job fails. The check's ServiceAccount can only read the reference prefix and the batch prefix.
 * Runs are bounded (activeDeadlineSeconds, backoffLimit, TTL, concurrencyPolicy Forbid, startingDeadlineSeconds).
 */
export class DriftMonitor extends pulumi.ComponentResource {
    public readonly cronJobName: pulumi.Output<string>;
    public readonly serviceAccountName: pulumi.Output<string>;
    public readonly roleArn: pulumi.Output<string>;
    /** Name of the PrometheusRule. */
    public readonly ruleName: pulumi.Output<string>;
    public readonly settings: DriftMonitorSettings;

    constructor(name: string, args: DriftMonitorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:DriftMonitor", name, {}, opts);
        const s = validateDriftMonitorArgs(name, args);
        this.settings = s;
        const k8sOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
        const labels = {
            [ROLE_LABEL]: "system",
            "app.kubernetes.io/name": s.prefix,
            "app.kubernetes.io/component": "drift-monitor",
            "app.kubernetes.io/part-of": "mlops-platform",
            "mlops.platform/model": s.model,
        };
        const subject = "DriftMonitor arguments";
        const wi = args.workloadIdentity ?? {};
        const identity = new WorkloadIdentity(
            `${name}-identity`,
            {
                clusterName: args.clusterName,
                namespace: s.namespace,
                serviceAccountName: `${s.prefix}-check`,
                policies: {
                    "reference-read": pulumi.output(args.access.referencePolicy).apply((j) => assertReadOnlyPolicy(subject, "access.referencePolicy", j)),
                    "batch-read": pulumi.output(args.access.batchPolicy).apply((j) => assertReadOnlyPolicy(subject, "access.batchPolicy", j)),
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

        // The check accepts no connections; it only calls S3, STS (Pod Identity) and the Pushgateway.
        new k8s.networking.v1.NetworkPolicy(
            `${name}-netpol`,
            {
                metadata: { name: s.prefix, namespace: s.namespace, labels },
                spec: { podSelector: { matchLabels: { "app.kubernetes.io/name": s.prefix, "app.kubernetes.io/component": "drift-monitor" } }, policyTypes: ["Ingress"], ingress: [] },
            },
            k8sOpts,
        );

        const region = aws.getRegionOutput({}, { parent: this });
        const tmp = scratchVolume("tmp", "/tmp", s.scratchSize);
        const configErrorCodes = s.failJobOnDrift ? [DRIFT_EXIT_CODES.drift, DRIFT_EXIT_CODES.config] : [DRIFT_EXIT_CODES.config];
        // Built with Output leaves, not inside one apply: the spec's structure stays known at preview
        // (when the image is built in the same stack) so the policy packs can judge it.
        const image = pulumi.output(args.image).apply((i) => assertDigestPinned(subject, "image", i));
        const [referenceUri, batchUri, pushgatewayUrl, awsRegion, sa] = [args.reference.uri, args.batch.uri, args.pushgatewayUrl, region.region, identity.serviceAccountName];
        const jobSpec: k8s.types.input.batch.v1.JobSpec = {
            backoffLimit: s.backoffLimit,
            activeDeadlineSeconds: s.activeDeadlineSeconds,
            ttlSecondsAfterFinished: s.ttlSecondsAfterFinished,
            podFailurePolicy: {
                rules: [
                    // Configuration/data errors (and drift, when it fails the Job) give the same answer on retry.
                    { action: "FailJob", onExitCodes: { containerName: DRIFT_CONTAINER, operator: "In", values: configErrorCodes } },
                    { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
                ],
            },
            template: {
                metadata: { labels },
                spec: {
                    restartPolicy: "Never",
                    serviceAccountName: sa,
                    // Pod Identity / IRSA inject their own projected token; no API token is needed.
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    securityContext: restrictedPodSecurityContext(WORKLOAD_UID),
                    containers: [
                        {
                            name: DRIFT_CONTAINER,
                            image,
                            command: s.command,
                            args: driftCheckArgs(s, { referenceUri, batchUri, pushgatewayUrl }),
                            env: [
                                { name: "HOME", value: "/tmp" },
                                { name: "TMPDIR", value: "/tmp" },
                                { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
                                { name: "AWS_REGION", value: awsRegion },
                                { name: "AWS_DEFAULT_REGION", value: awsRegion },
                                // The summary JSON becomes the pod's termination message.
                                { name: "MLOPS_RESULT_FILE", value: "/dev/termination-log" },
                            ],
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

        const rule = new k8s.apiextensions.CustomResource(
            `${name}-alerts`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: { name: s.prefix, namespace: s.namespace, labels: { ...labels, ...s.ruleLabels } },
                spec: { groups: [{ name: `mlops-drift-${s.model}`, rules: driftAlertRules(s) }] },
            },
            { ...k8sOpts, ...(args.crdDependency ? { dependsOn: [args.crdDependency] } : {}) },
        );

        this.cronJobName = cronJob.metadata.name;
        this.serviceAccountName = identity.serviceAccountName;
        this.roleArn = identity.roleArn;
        this.ruleName = rule.metadata.name as pulumi.Output<string>;
        this.registerOutputs({ cronJobName: this.cronJobName, serviceAccountName: this.serviceAccountName, roleArn: this.roleArn, ruleName: this.ruleName });
    }
}
