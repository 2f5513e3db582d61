import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ANNOTATIONS, ROLE_LABEL, releaseAnnotations, Track } from "../release-contract/annotations";
import { DEFAULT_GATE_CONFIG, evaluateRelease, GateConfig, GateVerdict } from "../release-contract/gate";
import { MLSERVER_ANALYSIS_METRICS } from "../release-contract/analysis";
import { ENVOY_GATEWAY_API_VERSION, GATEWAY_ACCESS_LABEL, GATEWAY_API_VERSION, GatewayParentRef } from "./gateway";
import {
    containerResources,
    RESTRICTED_NAMESPACE_LABELS,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
    scratchVolume,
} from "./k8s-security";
import { CapacityPlan, ModelRelease } from "./modelRelease";
import { GPU_RESOURCE, GpuScheduling } from "./scheduling";
import {
    AlertThresholds,
    AutoscalingSpec,
    checkServingCore,
    HeaderMatch,
    PREDICTION_LOG_DEFAULTS,
    PredictionLogSpec,
    ServingConfig,
    ServingCore,
    ServingResources,
    ServingStrategy,
    Slot,
    SLOTS,
} from "./servingConfig";
import { DNS_LABEL, Problems, describe } from "./validation";
import { WorkloadIdentity, WorkloadIdentityMode } from "./workloadIdentity";

/** Port the model server listens on inside the pod (MLflow: `--port 8080`). */
export const SERVING_PORT = 8080;
/** Port of the Services (and of HTTPRoute backendRefs). */
export const SERVICE_PORT = 80;
/** Label naming what a Service is for: `active`, `preview` (blue-green), `track`, `shared` (canary). */
export const ENDPOINT_LABEL = "mlops.platform/endpoint";
/** Label on the Services whose endpoints Prometheus scrapes (each pod is behind exactly one). */
export const SCRAPE_LABEL = "mlops.platform/scrape";
/** The pod label carrying the track (same key as the track annotation). */
export const TRACK_LABEL = ANNOTATIONS.track;

/** MLServer's metrics port (`MLSERVER_METRICS_PORT`), separate from the inference port. */
export const METRICS_PORT = 8082;
/** MLServer's V2 gRPC port (`MLSERVER_GRPC_PORT`); in-cluster callers only (the Gateway routes HTTP). */
export const GRPC_PORT = 8081;
/** The platform's MLServer runtime class (images/server/mlops_server/runtime.py). */
export const MLSERVER_IMPLEMENTATION = "mlops_server.runtime.PredictionLoggingRuntime";

/**
 * MLServer with its MLflow runtime (images/server): `mlserver start .` in the image's empty model
 * repository, the model from `MLSERVER_MODEL_*` (name, version, `models:/` URI resolved through the
 * tracking server), V2 inference and MLflow's `/invocations` on {@link SERVING_PORT}, Prometheus
 * metrics on {@link METRICS_PORT}, probes on `/v2/health/live` and `/v2/health/ready`.
 */
export interface MlserverRuntimeArgs {
    kind: "mlserver";
    /** Server image pinned by digest (MlPlatform passes the one it builds from images/server); a release's `image` overrides it. */
    image?: string;
    /** Tracking server URI (TrackingServer's in-cluster URI); `models:/` URIs resolve through it. */
    trackingUri: pulumi.Input<string>;
    /** Parallel inference processes (`MLSERVER_PARALLEL_WORKERS`); 0 infers in the server process. Default 1. */
    workers?: number;
    /** Adaptive batching: most requests per batch (`MLSERVER_MODEL_MAX_BATCH_SIZE`). Default 1 (off). */
    maxBatchSize?: number;
    /** Adaptive batching: longest wait for a batch, seconds (`MLSERVER_MODEL_MAX_BATCH_TIME`). Default 0. */
    maxBatchTimeSeconds?: number;
    /** Basic-auth credentials for the tracking server, from a Secret in the serving namespace. */
    trackingAuthSecret?: { name: string; usernameKey: string; passwordKey: string };
}

/** Where and how the MLServer runtime writes sampled prediction logs (see {@link PredictionLogSpec}). */
export interface PredictionLogArgs extends Partial<PredictionLogSpec> {
    /** The data-lake bucket (name) the logs go to. */
    bucket: pulumi.Input<string>;
    /**
     * IAM policy (JSON) allowing PutObject under `<bucket>/<prefix>` only (with the KMS data key),
     * e.g. `dataLake.accessPolicy([{ bucket: "processed", prefix: "predictions/", access: "write" }])`.
     */
    writePolicy: pulumi.Input<string>;
}

/** MLflow's scoring server, configured by {@link ServingStackArgs.runtime}. */
export interface MlflowRuntimeArgs {
    kind: "mlflow";
    /**
     * Image holding MLflow and the models' Python dependencies (`--env-manager local` installs
     * nothing at start), pinned by digest; a release's `image` overrides it.
     */
    image?: string;
    /** Tracking server URI (TrackingServer's in-cluster URI); `models:/` URIs resolve through it. */
    trackingUri: pulumi.Input<string>;
    /** uvicorn workers (`--workers`). Default: MLflow's (1). */
    workers?: number;
    /** Basic-auth credentials for the tracking server, from a Secret in the serving namespace. */
    trackingAuthSecret?: { name: string; usernameKey: string; passwordKey: string };
}

/** Any HTTP model server. */
export interface CustomRuntimeArgs {
    kind: "custom";
    /** Default image (digest-pinned) for releases without their own `image`. */
    image?: string;
    /** Container port. Default 8080. */
    port?: number;
    command?: string[];
    args?: string[];
    /** Liveness path. Default `/ping`. */
    livenessPath?: string;
    /** Readiness path. Default `/health`. */
    readinessPath?: string;
    /** Extra environment (literal values; secrets belong in Secrets). */
    env?: Record<string, pulumi.Input<string>>;
}

/** The read-only AWS identity of the model servers. */
export interface ServingIdentityArgs {
    clusterName: pulumi.Input<string>;
    /** Default `podIdentity`. */
    mode?: WorkloadIdentityMode;
    oidcProviderArn?: pulumi.Input<string>;
    oidcIssuerUrl?: pulumi.Input<string>;
    /**
     * IAM policy (JSON) that lets the servers read model artifacts and nothing else, e.g.
     * `dataLake.accessPolicy([{ bucket: "artifacts", prefix: "mlflow/", access: "read" }])`.
     */
    artifactReadPolicy: pulumi.Input<string>;
    tags?: Record<string, string>;
}

/**
 * Metrics the alert rules read, exported by the model server at `path` on the serving port.
 * Defaults follow prometheus-fastapi-instrumentator (the MLflow scoring server is a FastAPI app):
 * histogram `http_request_duration_seconds` and counter `http_requests_total` with labels
 * `handler` and `status` (grouped as `2xx`, `5xx`). MLflow 3.x's scoring server does NOT export
 * metrics itself (it serves /ping, /health, /version, /invocations only), so the serving image must
 * add them — or set these names to what your runtime exports. A missing endpoint is not silent:
 * `ModelServingMetricsMissing` fires when the targets are down or absent.
 */
export interface ServingMetrics {
    path: string;
    latencyHistogram: string;
    requestsCounter: string;
    statusLabel: string;
    /** Extra label matchers for request series, e.g. `handler="/invocations"` (excludes probes). */
    requestSelector: string;
    scrapeInterval: string;
}

/**
 * What MLServer 1.7 exports (starlette_exporter on the REST app, prefix `rest_server`): histogram
 * `rest_server_request_duration_seconds` and counter `rest_server_requests_total` with labels
 * `method`, `path` (the route template: `/invocations`, `/v2/models/{model_name}/infer`, ...) and
 * `status_code`; plus `model_infer_request_success|failure` counters with `model`/`version` labels
 * (V2 inference only). Each pod serves one model version, so model, version and track come from the
 * pod through the scrape's relabeling (labels `model`, `model_version`, `track`).
 */
export const MLSERVER_SERVING_METRICS: ServingMetrics = {
    path: "/metrics",
    // One definition of MLServer's names, shared with `mlops release analyze` and the catalogue.
    latencyHistogram: MLSERVER_ANALYSIS_METRICS.latencyHistogram,
    requestsCounter: MLSERVER_ANALYSIS_METRICS.requestsCounter,
    statusLabel: MLSERVER_ANALYSIS_METRICS.statusLabel,
    requestSelector: MLSERVER_ANALYSIS_METRICS.requestSelector,
    scrapeInterval: "30s",
};

/**
 * Names for the `mlflow` and `custom` runtimes: prometheus-fastapi-instrumentator's (see
 * {@link ServingMetrics}; MLflow's scoring server exports none itself).
 */
export const FASTAPI_SERVING_METRICS: ServingMetrics = {
    path: "/metrics",
    latencyHistogram: "http_request_duration_seconds",
    requestsCounter: "http_requests_total",
    statusLabel: "status",
    requestSelector: 'handler="/invocations"',
    scrapeInterval: "30s",
};

/** The default runtime's (MLServer's) metric names. */
export const DEFAULT_SERVING_METRICS: ServingMetrics = MLSERVER_SERVING_METRICS;

export interface ServingStackArgs {
    /** Kubernetes provider of the cluster. Required: every k8s resource names its provider. */
    provider: k8s.Provider;
    /** Namespace to create for serving (Pod Security "restricted" enforced). */
    namespace: string;
    /** Base name of the Kubernetes objects (DNS label, <= 40 characters). Default: the component name. */
    appName?: string;
    strategy: ServingStrategy;
    /** Blue-green: a release per slot; `active` receives the traffic. */
    blueGreen?: { slots: { blue?: ModelRelease; green?: ModelRelease }; active: Slot; previewHeader?: HeaderMatch };
    /** Canary: `stable`, an optional `canary` and its weight (0..100). */
    canary?: { stable: ModelRelease; canary?: ModelRelease; canaryWeight: number; mirror?: boolean; headerMatch?: HeaderMatch; replicas?: number };
    runtime: MlserverRuntimeArgs | MlflowRuntimeArgs | CustomRuntimeArgs;
    /** Sampled prediction logging (MLServer runtime only). Default: off. */
    predictionLog?: PredictionLogArgs;
    /**
     * Image for releases that name none, when the runtime names none either (MlPlatform passes the
     * trainer image it builds: MLflow plus the model's dependencies). Default: none, an image is required.
     */
    defaultImage?: pulumi.Input<string>;
    /** Pods per track / slot (HPA minimum when autoscaling). Default 2. */
    replicas?: number;
    /** Requests/limits per pod. Default cpu 1, memory 2Gi (limit = request). */
    resources?: ServingResources;
    /** HorizontalPodAutoscaler (autoscaling/v2, CPU) per track. Default none. */
    autoscaling?: AutoscalingSpec | false;
    /** GPUs per pod. Default 0. Needs `gpuScheduling` (GpuNodeGroup.scheduling). */
    gpus?: number;
    gpuScheduling?: GpuScheduling;
    /** GPUs a rollout may use beyond replicas × gpus; rollouts that do not fit are refused. Default 0. */
    maxExtraGpus?: number;
    /** Gate thresholds the release verdict annotations are computed with. Default: F1 +2% relative. */
    gate?: GateConfig;
    identity: ServingIdentityArgs;
    /** Route through a Gateway (HTTPRoute with weights); without it the replica-ratio fallback applies. */
    gateway?: { parentRef: pulumi.Input<GatewayParentRef>; hostname?: string; proxyNamespace?: pulumi.Input<string> };
    /**
     * Client authentication on the model route (Envoy Gateway SecurityPolicy, API keys): clients send
     * a key in {@link API_KEY_HEADER}; the keys live in this Opaque Secret in the serving namespace,
     * one data key per client id (created by operators, never in config). Default: none (dev).
     */
    apiKeySecret?: string;
    /**
     * Requests may pick the canary (or the blue-green preview slot) with the track header. Default
     * true; turn it off where callers must not choose an unapproved model (prod).
     */
    headerRouting?: boolean;
    /** Create ServiceMonitors and PrometheusRules (prometheus-operator CRDs must exist). Default false. */
    prometheusOperator?: boolean;
    /** Namespace Prometheus scrapes from (allowed by the NetworkPolicy). Default `monitoring`. */
    prometheusNamespace?: string;
    /** Labels on ServiceMonitors/PrometheusRules (to match the operator's selectors). */
    monitoringLabels?: Record<string, string>;
    alerts?: Partial<AlertThresholds>;
    metrics?: Partial<ServingMetrics>;
    /** Zone spread when zones are short of capacity. Default `ScheduleAnyway` (DoNotSchedule for strict HA). */
    zoneSpread?: "ScheduleAnyway" | "DoNotSchedule";
    /** Other namespaces whose pods may call the servers directly. Default none. */
    allowFromNamespaces?: string[];
    /** AWS region for the S3 client in the pods. */
    awsRegion?: pulumi.Input<string>;
    /** Size of the writable /tmp (downloaded model artifacts). Default 20Gi. */
    scratchSize?: string;
}

/** One Deployment of the stack. */
export interface TrackPlan {
    track: Track;
    release: ModelRelease;
    image: pulumi.Input<string>;
    verdict: GateVerdict;
    /** spec.replicas; undefined when an HPA owns the count. */
    replicas?: number;
    hpa?: { minReplicas: number; maxReplicas: number; targetCpuUtilization: number };
    rollingUpdate: { maxSurge: number | string; maxUnavailable: number };
}

/** One Service of the stack. */
export interface ServicePlan {
    name: string;
    endpoint: "active" | "preview" | "track" | "shared";
    /** Track selected; undefined = every track (the replica-ratio Service). */
    selects?: Track;
    scrape: boolean;
}

/** Everything the stack declares, derived from the args (pure; see {@link planServingStack}). */
export interface ServingPlan {
    app: string;
    namespace: string;
    strategy: ServingStrategy;
    routing: "gateway" | "replicaRatio";
    core: ServingCore;
    capacity: CapacityPlan;
    tracks: TrackPlan[];
    services: ServicePlan[];
    activeSlot?: Slot;
    /** Requested canary weight (0 without a canary). */
    canaryWeight: number;
    /** Delivered canary weight: the route weight, or the replica ratio (fallback). */
    effectiveCanaryWeight: number;
    metrics: ServingMetrics;
    alerts: AlertThresholds;
    port: number;
    /** Separate metrics port (MLServer), scraped through the Services' `metrics` port; undefined = on `port`. */
    metricsPort?: number;
    /** Prediction logging settings (defaults applied) when enabled. */
    predictionLog?: PredictionLogSpec;
}

const PROM_DURATION = /^[0-9]+(ms|s|m|h)$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Validates ServingStack args and derives what to declare; throws InputPropertiesError naming
 * each bad property (releases, weights, slots, GPU budget, gateway, metrics).
 */
export function planServingStack(name: string, args: ServingStackArgs): ServingPlan {
    const p = new Problems("ServingStack arguments");
    const app = args.appName ?? name;
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    p.check(typeof app === "string" && DNS_LABEL.test(app) && app.length <= 40, "appName", `must be a DNS-1123 label of at most 40 characters, got ${describe(app)}`);
    p.check(typeof args.namespace === "string" && DNS_LABEL.test(args.namespace), "namespace", `must be a DNS-1123 label, got ${describe(args.namespace)}`);
    p.check(args.identity !== undefined && args.identity.artifactReadPolicy !== undefined, "identity.artifactReadPolicy", "is required: the servers' read-only access to model artifacts");
    const rt = args.runtime;
    const runtimeRaw: Record<string, unknown> =
        rt?.kind === "custom"
            ? { kind: rt.kind, image: rt.image, port: rt.port, command: rt.command, args: rt.args, livenessPath: rt.livenessPath, readinessPath: rt.readinessPath }
            : rt?.kind === "mlserver"
              ? { kind: rt.kind, image: rt.image, workers: rt.workers, maxBatchSize: rt.maxBatchSize, maxBatchTimeSeconds: rt.maxBatchTimeSeconds }
              : { kind: rt?.kind, image: rt?.image, workers: (rt as MlflowRuntimeArgs | undefined)?.workers };
    for (const k of Object.keys(runtimeRaw)) if (runtimeRaw[k] === undefined && k !== "kind") delete runtimeRaw[k];
    if (rt?.kind === "mlflow" || rt?.kind === "mlserver") {
        p.check(rt.trackingUri !== undefined, "runtime.trackingUri", "is required: `models:/` URIs are resolved through the tracking server");
    }
    const gpus = args.gpus ?? 0;
    if (gpus > 0) {
        p.check(args.gpuScheduling !== undefined, "gpuScheduling", "is required when gpus > 0 (pass GpuNodeGroup.scheduling)");
    }
    const metrics: ServingMetrics = { ...(rt?.kind === "mlserver" ? MLSERVER_SERVING_METRICS : FASTAPI_SERVING_METRICS), ...args.metrics };
    const predictionLog = checkPredictionLogArgs(p, args.predictionLog, rt?.kind);
    for (const k of ["latencyHistogram", "requestsCounter", "statusLabel"] as const) {
        p.check(METRIC_NAME.test(metrics[k]), `metrics.${k}`, `must be a Prometheus metric/label name, got ${describe(metrics[k])}`);
    }
    p.check(metrics.path.startsWith("/"), "metrics.path", `must start with '/', got ${describe(metrics.path)}`);
    p.check(PROM_DURATION.test(metrics.scrapeInterval), "metrics.scrapeInterval", `must be a Prometheus duration, got ${describe(metrics.scrapeInterval)}`);
    (args.allowFromNamespaces ?? []).forEach((n, i) =>
        p.check(DNS_LABEL.test(n), `allowFromNamespaces[${i}]`, `must be a namespace name, got ${describe(n)}`),
    );
    if (args.prometheusNamespace !== undefined) {
        p.check(DNS_LABEL.test(args.prometheusNamespace), "prometheusNamespace", `must be a namespace name, got ${describe(args.prometheusNamespace)}`);
    }
    if (args.apiKeySecret !== undefined) {
        p.check(typeof args.apiKeySecret === "string" && DNS_LABEL.test(args.apiKeySecret), "apiKeySecret", `must be the name of a Secret in the serving namespace, got ${describe(args.apiKeySecret)}`);
        p.check(args.gateway !== undefined, "apiKeySecret", "needs a Gateway (the SecurityPolicy attaches to the HTTPRoute); without one there is no route to authenticate");
    }
    if (args.gateway?.hostname !== undefined) {
        p.check(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(args.gateway.hostname), "gateway.hostname", `must be a DNS name, got ${describe(args.gateway.hostname)}`);
    }
    const routing = args.gateway ? "gateway" : "replicaRatio";
    const checked = checkServingCore(
        p,
        "",
        {
            strategy: args.strategy,
            ...(args.blueGreen !== undefined ? { blueGreen: args.blueGreen } : {}),
            ...(args.canary !== undefined ? { canary: args.canary } : {}),
            replicas: args.replicas,
            autoscaling: args.autoscaling,
            resources: args.resources,
            gpus: args.gpus,
            maxExtraGpus: args.maxExtraGpus,
            thresholds: (args.gate ?? DEFAULT_GATE_CONFIG).thresholds,
            ...(args.gate?.significance ? { significance: args.gate.significance } : {}),
            alerts: args.alerts === undefined ? undefined : { ...args.alerts },
            runtime: runtimeRaw,
        },
        routing,
        args.defaultImage !== undefined,
    );
    p.throwIfAny();
    const { core, capacity } = checked!;

    const port = core.runtime.kind === "custom" ? core.runtime.port : SERVING_PORT;
    const metricsPort = core.runtime.kind === "mlserver" ? METRICS_PORT : undefined;
    const gpuSurge = core.gpus > 0 && !capacity.surgeAllowed;
    // CPU: surge a quarter (never below the running count). GPU: surge one pod only when the budget
    // has room, else replace one pod at a time (capacity dips by one pod during a rollout).
    const rollingUpdate = gpuSurge ? { maxSurge: 0, maxUnavailable: 1 } : { maxSurge: core.gpus > 0 ? 1 : "25%", maxUnavailable: 0 };
    const hpaFor = (min: number) => (core.autoscaling ? { minReplicas: min, maxReplicas: core.autoscaling.maxReplicas, targetCpuUtilization: core.autoscaling.targetCpuUtilization } : undefined);
    const track = (t: Track, release: ModelRelease, replicas: number, hpa?: TrackPlan["hpa"]): TrackPlan => ({
        track: t,
        release,
        image: release.image ?? core.runtime.image ?? args.defaultImage!,
        verdict: evaluateRelease(release, core.gate, t),
        ...(hpa ? { hpa } : { replicas }),
        rollingUpdate,
    });

    const tracks: TrackPlan[] = [];
    const services: ServicePlan[] = [];
    let activeSlot: Slot | undefined;
    let canaryWeight = 0;
    if (core.strategy === "blueGreen") {
        const bg = core.blueGreen!;
        activeSlot = bg.active;
        for (const slot of SLOTS) {
            const r = bg.slots[slot];
            if (r) tracks.push(track(slot, r, core.replicas, hpaFor(core.replicas)));
        }
        services.push({ name: app, endpoint: "active", selects: bg.active, scrape: true });
        const idle: Slot = bg.active === "blue" ? "green" : "blue";
        if (bg.slots[idle]) services.push({ name: `${app}-preview`, endpoint: "preview", selects: idle, scrape: true });
    } else {
        const c = core.canary!;
        const hasCanary = c.canary !== undefined;
        canaryWeight = hasCanary ? c.canaryWeight : 0;
        if (routing === "replicaRatio") {
            if (core.autoscaling) {
                pulumi.log.warn(`${name}: autoscaling is off without a Gateway: the canary weight is the replica ratio, which an HPA would change`);
            }
            tracks.push(track("stable", c.stable, capacity.stableReplicas));
            if (hasCanary) tracks.push(track("canary", c.canary!, capacity.canaryReplicas));
            services.push({ name: app, endpoint: "shared", scrape: false });
        } else {
            tracks.push(track("stable", c.stable, core.replicas, hpaFor(core.replicas)));
            if (hasCanary) {
                const hpa = capacity.canaryMaxReplicas !== undefined && core.autoscaling
                    ? { minReplicas: capacity.canaryReplicas, maxReplicas: capacity.canaryMaxReplicas, targetCpuUtilization: core.autoscaling.targetCpuUtilization }
                    : undefined;
                tracks.push(track("canary", c.canary!, capacity.canaryReplicas, hpa));
            }
        }
        services.push({ name: `${app}-stable`, endpoint: "track", selects: "stable", scrape: true });
        if (hasCanary) services.push({ name: `${app}-canary`, endpoint: "track", selects: "canary", scrape: true });
    }
    const plan: ServingPlan = {
        app,
        namespace: args.namespace,
        strategy: core.strategy,
        routing,
        core,
        capacity,
        tracks,
        services,
        ...(activeSlot ? { activeSlot } : {}),
        canaryWeight,
        effectiveCanaryWeight: capacity.effectiveCanaryWeight,
        metrics,
        alerts: core.alerts,
        port,
        ...(metricsPort !== undefined ? { metricsPort } : {}),
        ...(predictionLog ? { predictionLog } : {}),
    };
    return plan;
}

/** Validated prediction-log settings with defaults, or undefined when logging is off. */
function checkPredictionLogArgs(p: Problems, pl: PredictionLogArgs | undefined, kind: string | undefined): PredictionLogSpec | undefined {
    if (pl === undefined || pl.enabled === false) return undefined;
    p.check(kind === "mlserver", "predictionLog", `needs runtime.kind "mlserver" (the platform's server writes the logs), got ${describe(kind)}`);
    p.check(pl.bucket !== undefined && pl.bucket !== "", "predictionLog.bucket", "is required: the data-lake bucket the logs are written to");
    p.check(pl.writePolicy !== undefined, "predictionLog.writePolicy", "is required: the servers' PutObject-only access to the log prefix");
    const d = PREDICTION_LOG_DEFAULTS;
    const spec: PredictionLogSpec = {
        enabled: true,
        sampleRate: pl.sampleRate ?? d.sampleRate,
        prefix: pl.prefix ?? d.prefix,
        batchSize: pl.batchSize ?? d.batchSize,
        flushSeconds: pl.flushSeconds ?? d.flushSeconds,
        queueSize: pl.queueSize ?? d.queueSize,
        excludeFields: [...(pl.excludeFields ?? d.excludeFields)],
        format: pl.format ?? d.format,
    };
    p.check(spec.sampleRate > 0 && spec.sampleRate <= 1, "predictionLog.sampleRate", `must be a fraction in (0, 1], got ${describe(spec.sampleRate)}`);
    p.check(/^[^/=\s][^=\s]*\/$/.test(spec.prefix), "predictionLog.prefix", `must be a key prefix ending in '/' (no '=' or spaces), got ${describe(spec.prefix)}`);
    p.check(Number.isInteger(spec.batchSize) && spec.batchSize >= 1, "predictionLog.batchSize", `must be a positive integer, got ${describe(spec.batchSize)}`);
    p.check(spec.flushSeconds > 0 && spec.flushSeconds <= 3600, "predictionLog.flushSeconds", `must be seconds in (0, 3600], got ${describe(spec.flushSeconds)}`);
    p.check(Number.isInteger(spec.queueSize) && spec.queueSize >= 1, "predictionLog.queueSize", `must be a positive integer, got ${describe(spec.queueSize)}`);
    spec.excludeFields.forEach((f, i) =>
        p.check(typeof f === "string" && /^[^,\s]+$/.test(f), `predictionLog.excludeFields[${i}]`, `must be a field name without commas or spaces, got ${describe(f)}`),
    );
    p.check(spec.format === "parquet" || spec.format === "jsonl", "predictionLog.format", `must be "parquet" or "jsonl", got ${describe(spec.format)}`);
    return spec;
}

/** Environment every server container gets (read-only root filesystem: everything writable is under /tmp). */
export function baseEnv(awsRegion?: pulumi.Input<string>): k8s.types.input.core.v1.EnvVar[] {
    return [
        // The root filesystem is read-only: MLflow downloads artifacts to a temp dir under /tmp.
        { name: "HOME", value: "/tmp" },
        { name: "TMPDIR", value: "/tmp" },
        { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
        ...(awsRegion ? [{ name: "AWS_REGION", value: awsRegion }] : []),
    ];
}

/** MLflow client settings: `models:/` URIs resolve through the tracking server, with basic auth from a Secret. */
export function trackingEnv(rt: MlflowRuntimeArgs | MlserverRuntimeArgs): k8s.types.input.core.v1.EnvVar[] {
    const env: k8s.types.input.core.v1.EnvVar[] = [{ name: "MLFLOW_TRACKING_URI", value: rt.trackingUri }];
    if (rt.trackingAuthSecret) {
        const s = rt.trackingAuthSecret;
        env.push(
            { name: "MLFLOW_TRACKING_USERNAME", valueFrom: { secretKeyRef: { name: s.name, key: s.usernameKey } } },
            { name: "MLFLOW_TRACKING_PASSWORD", valueFrom: { secretKeyRef: { name: s.name, key: s.passwordKey } } },
        );
    }
    return env;
}

/**
 * MLServer settings of one track (MLSERVER_* are MLServer's settings variables, MLSERVER_MODEL_* its
 * model settings): ports, metrics files under $(TMPDIR) (per pod; parallel workers share them), the
 * model (name and version label MLServer's metrics and V2 paths), the runtime class, batching.
 */
export function mlserverEnv(rt: Extract<ServingCore["runtime"], { kind: "mlserver" }>, release: ModelRelease, track: Track): k8s.types.input.core.v1.EnvVar[] {
    return [
        { name: "MLSERVER_HOST", value: "0.0.0.0" },
        { name: "MLSERVER_HTTP_PORT", value: String(SERVING_PORT) },
        { name: "MLSERVER_GRPC_PORT", value: String(GRPC_PORT) },
        { name: "MLSERVER_METRICS_PORT", value: String(METRICS_PORT) },
        { name: "MLSERVER_METRICS_ENDPOINT", value: "/metrics" },
        { name: "MLSERVER_METRICS_DIR", value: "$(TMPDIR)/mlserver-metrics" },
        { name: "MLSERVER_PARALLEL_WORKERS", value: String(rt.workers) },
        // Debug mode logs every request body; off in production.
        { name: "MLSERVER_DEBUG", value: "false" },
        { name: "MLSERVER_MODEL_NAME", value: release.model },
        { name: "MLSERVER_MODEL_VERSION", value: release.version },
        { name: "MLSERVER_MODEL_URI", value: release.modelUri },
        { name: "MLSERVER_MODEL_IMPLEMENTATION", value: MLSERVER_IMPLEMENTATION },
        { name: "MLSERVER_MODEL_MAX_BATCH_SIZE", value: String(rt.maxBatchSize) },
        { name: "MLSERVER_MODEL_MAX_BATCH_TIME", value: String(rt.maxBatchTimeSeconds) },
        { name: "MLOPS_TRACK", value: track },
    ];
}

/** MLOPS_PREDICTION_LOG_* read by images/server/mlops_server/prediction_log.py (off when `spec` is undefined). */
export function predictionLogEnv(spec: PredictionLogSpec | undefined, bucket: pulumi.Input<string> | undefined): k8s.types.input.core.v1.EnvVar[] {
    if (!spec || bucket === undefined) return [{ name: "MLOPS_PREDICTION_LOG_ENABLED", value: "false" }];
    return [
        { name: "MLOPS_PREDICTION_LOG_ENABLED", value: "true" },
        { name: "MLOPS_PREDICTION_LOG_BUCKET", value: bucket },
        { name: "MLOPS_PREDICTION_LOG_PREFIX", value: spec.prefix },
        { name: "MLOPS_PREDICTION_LOG_SAMPLE_RATE", value: String(spec.sampleRate) },
        { name: "MLOPS_PREDICTION_LOG_BATCH_SIZE", value: String(spec.batchSize) },
        { name: "MLOPS_PREDICTION_LOG_FLUSH_SECONDS", value: String(spec.flushSeconds) },
        { name: "MLOPS_PREDICTION_LOG_QUEUE_SIZE", value: String(spec.queueSize) },
        { name: "MLOPS_PREDICTION_LOG_EXCLUDE_FIELDS", value: spec.excludeFields.join(",") },
        { name: "MLOPS_PREDICTION_LOG_FORMAT", value: spec.format },
    ];
}

/** Labels every object of the stack carries. */
function baseLabels(app: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": "mlops-platform",
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/** Labels that identify a track's pods (the Deployment selector; immutable once created). */
function selectorLabels(app: string, track: Track): Record<string, string> {
    return { "app.kubernetes.io/name": app, [TRACK_LABEL]: track };
}

/** Prometheus label name of a pod label, as service discovery exposes it. */
function podLabelMeta(label: string): string {
    return `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

function podAnnotationMeta(annotation: string): string {
    return `__meta_kubernetes_pod_annotation_${annotation.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

/**
 * The scrape endpoint of one track's ServiceMonitor. Which Service fronts a slot changes with a
 * switch; the pod's labels and annotations do not: `keep` only that track's pods, then label every
 * series with `track` (pod label), `model` and `model_version` (the release annotations of the pod
 * template: each pod serves exactly one model version) and `model_server` (the app).
 */
export function serviceMonitorEndpoint(plan: ServingPlan, track: Track): Record<string, unknown> {
    return {
        port: plan.metricsPort !== undefined ? "metrics" : "http",
        path: plan.metrics.path,
        interval: plan.metrics.scrapeInterval,
        relabelings: [
            { action: "keep", sourceLabels: [podLabelMeta(TRACK_LABEL)], regex: track },
            { action: "replace", targetLabel: "track", replacement: track },
            { action: "replace", targetLabel: "model_server", replacement: plan.app },
            { action: "replace", sourceLabels: [podAnnotationMeta(ANNOTATIONS.model)], targetLabel: "model" },
            { action: "replace", sourceLabels: [podAnnotationMeta(ANNOTATIONS.version)], targetLabel: "model_version" },
        ],
    };
}

/** The alert rules of one track (PromQL), exported for docs and tests. */
export function alertRules(plan: ServingPlan, track: Track): { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }[] {
    const m = plan.metrics;
    const sel = `namespace="${plan.namespace}",model_server="${plan.app}",track="${track}"`;
    const req = m.requestSelector ? `${sel},${m.requestSelector}` : sel;
    const labels = (severity: string) => ({ severity, model_server: plan.app, track });
    const what = `${plan.app} (${track}) in ${plan.namespace}`;
    return [
        {
            alert: "ModelServingHighP99Latency",
            expr: `histogram_quantile(0.99, sum by (le) (rate(${m.latencyHistogram}_bucket{${req}}[5m]))) > ${plan.alerts.p99LatencySeconds}`,
            for: plan.alerts.for,
            labels: labels("critical"),
            annotations: {
                summary: `p99 latency of ${what} is above ${plan.alerts.p99LatencySeconds}s`,
                description: `Source: ${m.latencyHistogram} exported by the model server at ${m.path}. For a canary, roll back with \`mlops release rollback\`.`,
            },
        },
        {
            alert: "ModelServingHigh5xxRate",
            expr:
                `(sum(rate(${m.requestsCounter}{${req},${m.statusLabel}=~"5.."}[5m])) / ` +
                `sum(rate(${m.requestsCounter}{${req}}[5m]))) > ${plan.alerts.errorRate5xx}`,
            for: plan.alerts.for,
            labels: labels("critical"),
            annotations: {
                summary: `more than ${plan.alerts.errorRate5xx * 100}% of requests to ${what} fail with 5xx`,
                description: `Source: ${m.requestsCounter} (${m.statusLabel} label) exported by the model server at ${m.path}.`,
            },
        },
        {
            alert: "ModelServingMetricsMissing",
            expr: `min(up{${sel}}) == 0 or absent(up{${sel}})`,
            for: plan.alerts.for,
            labels: labels("warning"),
            annotations: {
                summary: `no metrics from ${what}`,
                description:
                    plan.core.runtime.kind === "mlflow"
                        ? `Prometheus cannot scrape ${m.path}; latency and error alerts for this track cannot fire. MLflow's scoring server exports no metrics by itself: use runtime.kind mlserver, add an exporter to the serving image or adjust the metric names.`
                        : `Prometheus cannot scrape ${m.path}${plan.metricsPort !== undefined ? ` on port ${plan.metricsPort}` : ""}; latency and error alerts for this track cannot fire. Check the pods and the NetworkPolicy.`,
            },
        },
    ];
}

/**
 * ServingStack: blue-green or canary model serving on Kubernetes, switched with zero downtime.
 *
 * - Each slot (blue/green) or track (stable/canary) that holds a release is one Deployment running
 *   MLServer with the MLflow runtime (default; `mlserver start .` with the model in MLSERVER_MODEL_*,
 *   V2 and `/invocations` on 8080, metrics on 8082, probes on /v2/health/live and /v2/health/ready,
 *   optional sampled prediction logging to the data lake), MLflow's scoring server
 *   (`mlflow models serve -m models:/<name>/<version> --host 0.0.0.0 --port 8080 --env-manager
 *   local`, probes on /ping and /health, no metrics) or a custom image, with a PDB,
 *   optional HPA, zone spread, the restricted security context and a read-only ServiceAccount.
 *   The release (model, version, metrics, baseline, approval, gate verdict) is written as
 *   annotations on the Deployment and its pod template.
 * - Blue-green: Service `<app>` selects the active slot, `<app>-preview` the idle one. A switch
 *   changes only those selectors; Deployments are untouched and the old slot stays up for rollback.
 * - Canary: Service `<app>-stable` and `<app>-canary`; an HTTPRoute splits traffic by weight, sends
 *   requests carrying the header match to the canary, and can mirror traffic to it. A weight change
 *   touches only the HTTPRoute.
 * - Without a Gateway (replica-ratio fallback): one Service `<app>` selects both tracks, so the
 *   canary's share is its share of the ready pods, c / (s + c), per connection. The weight is
 *   approximated by pod counts (see replicaRatioSplit: with 2 stable pods only 33%, 50%, 60%...
 *   are reachable; 10% needs 9), and a weight change scales the canary Deployment (replicas only; its
 *   pod template is unchanged). {@link effectiveCanaryWeight} reports what is delivered.
 *
 * No Service is of type LoadBalancer: traffic enters through the Gateway, whose load balancer is
 * created by its controller. On destroy the route and Services (see {@link trafficResources}) go
 * before the Gateway, and everything goes before the cluster (it uses the cluster's provider).
 */
export class ServingStack extends pulumi.ComponentResource {
    /** Namespace of the serving objects. */
    public readonly namespace: pulumi.Output<string>;
    /** In-cluster URL per Service name. */
    public readonly serviceUrls: pulumi.Output<Record<string, string>>;
    /** Blue-green: the slot receiving traffic. */
    public readonly activeSlot: pulumi.Output<string | undefined>;
    /** Canary: requested weight (0..100). */
    public readonly canaryWeight: pulumi.Output<number>;
    /** Canary: weight actually delivered (the route weight, or the replica ratio without a Gateway). */
    public readonly effectiveCanaryWeight: pulumi.Output<number>;
    /** Name of the HTTPRoute (undefined without a Gateway). */
    public readonly routeName: pulumi.Output<string | undefined>;
    /** ServiceAccount the servers run as. */
    public readonly serviceAccountName: pulumi.Output<string>;
    /**
     * Route and Services: what carries traffic. `dependsOn` them from anything that must be deleted
     * after the traffic path is gone; they depend on the Gateway's outputs and the cluster provider,
     * so they are deleted before both.
     */
    public readonly trafficResources: pulumi.Resource[];
    /** Deployments by track. */
    public readonly deployments: Partial<Record<Track, k8s.apps.v1.Deployment>>;
    /** What was declared (plain values, for plans and tests). */
    public readonly plan: ServingPlan;

    constructor(name: string, args: ServingStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:ServingStack", name, {}, opts);
        const plan = planServingStack(name, args);
        this.plan = plan;
        const { app, core } = plan;
        const k8sOpts = { parent: this, provider: args.provider };
        const labels = baseLabels(app);

        const ns = new k8s.core.v1.Namespace(
            `${name}-ns`,
            {
                metadata: {
                    name: plan.namespace,
                    labels: { ...labels, ...RESTRICTED_NAMESPACE_LABELS, ...(args.gateway ? { [GATEWAY_ACCESS_LABEL]: "true" } : {}) },
                },
            },
            k8sOpts,
        );
        const namespace = ns.metadata.name;

        const identity = new WorkloadIdentity(
            `${name}-identity`,
            {
                clusterName: args.identity.clusterName,
                namespace,
                serviceAccountName: `${app}-server`,
                policies: {
                    "model-artifacts-read": args.identity.artifactReadPolicy,
                    ...(plan.predictionLog && args.predictionLog ? { "prediction-log-write": args.predictionLog.writePolicy } : {}),
                },
                mode: args.identity.mode,
                oidcProviderArn: args.identity.oidcProviderArn,
                oidcIssuerUrl: args.identity.oidcIssuerUrl,
                provider: args.provider,
                labels,
                tags: args.identity.tags,
            },
            { parent: this },
        );

        const scratch = scratchVolume("tmp", "/tmp", args.scratchSize ?? "20Gi");
        const gpuName = args.gpuScheduling?.resourceName ?? GPU_RESOURCE;
        const rt = args.runtime;
        // Per track: MLServer's model settings name the track's release.
        const envFor = (t: TrackPlan): k8s.types.input.core.v1.EnvVar[] => {
            const env = baseEnv(args.awsRegion);
            if (rt.kind === "custom") {
                for (const [k, v] of Object.entries(rt.env ?? {})) env.push({ name: k, value: v });
                return env;
            }
            env.push(...trackingEnv(rt));
            if (core.runtime.kind === "mlserver") {
                env.push(...mlserverEnv(core.runtime, t.release, t.track), ...predictionLogEnv(plan.predictionLog, args.predictionLog?.bucket));
            }
            return env;
        };
        const livenessPath = core.runtime.kind === "custom" ? core.runtime.livenessPath : core.runtime.kind === "mlserver" ? "/v2/health/live" : "/ping";
        const readinessPath = core.runtime.kind === "custom" ? core.runtime.readinessPath : core.runtime.kind === "mlserver" ? "/v2/health/ready" : "/health";
        const httpGet = (path: string) => ({ path, port: "http" });
        const containerPorts = [
            { name: "http", containerPort: plan.port, protocol: "TCP" },
            ...(core.runtime.kind === "mlserver" ? [{ name: "grpc", containerPort: GRPC_PORT, protocol: "TCP" }] : []),
            ...(plan.metricsPort !== undefined ? [{ name: "metrics", containerPort: plan.metricsPort, protocol: "TCP" }] : []),
        ];

        const command = (release: ModelRelease): { command?: string[]; args?: string[] } => {
            if (core.runtime.kind === "custom") {
                return { ...(core.runtime.command ? { command: core.runtime.command } : {}), ...(core.runtime.args ? { args: core.runtime.args } : {}) };
            }
            if (core.runtime.kind === "mlserver") {
                // `.` is the image's empty model repository (WORKDIR): the model comes from MLSERVER_MODEL_*.
                return { command: ["mlserver"], args: ["start", "."] };
            }
            const a = ["models", "serve", "-m", release.modelUri, "--host", "0.0.0.0", "--port", String(SERVING_PORT), "--env-manager", "local"];
            if (core.runtime.workers) a.push("--workers", String(core.runtime.workers));
            return { command: ["mlflow"], args: a };
        };

        this.deployments = {};
        for (const t of plan.tracks) {
            const podLabels = { ...labels, [ROLE_LABEL]: "serving", [TRACK_LABEL]: t.track };
            const annotations = releaseAnnotations(t.release, t.track, t.verdict);
            const selector = selectorLabels(app, t.track);
            const deployment = new k8s.apps.v1.Deployment(
                `${name}-${t.track}`,
                {
                    metadata: { name: `${app}-${t.track}`, namespace, labels: podLabels, annotations },
                    spec: {
                        // With an HPA the count is left to it (applying spec.replicas would fight it).
                        ...(t.replicas !== undefined ? { replicas: t.replicas } : {}),
                        selector: { matchLabels: selector },
                        strategy: { type: "RollingUpdate", rollingUpdate: t.rollingUpdate },
                        minReadySeconds: 10,
                        // Multi-GB models take minutes to download and load.
                        progressDeadlineSeconds: 1800,
                        revisionHistoryLimit: 5,
                        template: {
                            metadata: { labels: podLabels, annotations: { ...annotations, "kubectl.kubernetes.io/default-container": "server" } },
                            spec: {
                                serviceAccountName: identity.serviceAccountName,
                                automountServiceAccountToken: false,
                                securityContext: restrictedPodSecurityContext(),
                                // preStop keeps serving while endpoints are withdrawn from the Gateway/kube-proxy.
                                terminationGracePeriodSeconds: 45,
                                containers: [
                                    {
                                        name: "server",
                                        image: t.image,
                                        ...command(t.release),
                                        ports: containerPorts,
                                        env: envFor(t),
                                        resources: containerResources({ ...core.resources, gpus: core.gpus }, gpuName),
                                        securityContext: restrictedContainerSecurityContext(),
                                        // The server listens only once the model is loaded: allow 15 minutes.
                                        startupProbe: { httpGet: httpGet(livenessPath), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 90 },
                                        readinessProbe: { httpGet: httpGet(readinessPath), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                                        livenessProbe: { httpGet: httpGet(livenessPath), periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
                                        lifecycle: { preStop: { sleep: { seconds: 10 } } },
                                        volumeMounts: [scratch.mount],
                                    },
                                ],
                                volumes: [scratch.volume],
                                ...(core.gpus > 0 && args.gpuScheduling
                                    ? { nodeSelector: args.gpuScheduling.nodeSelector, tolerations: args.gpuScheduling.tolerations }
                                    : {}),
                                topologySpreadConstraints: [
                                    {
                                        maxSkew: 1,
                                        topologyKey: "topology.kubernetes.io/zone",
                                        whenUnsatisfiable: args.zoneSpread ?? "ScheduleAnyway",
                                        labelSelector: { matchLabels: selector },
                                        matchLabelKeys: ["pod-template-hash"],
                                    },
                                    {
                                        maxSkew: 1,
                                        topologyKey: "kubernetes.io/hostname",
                                        whenUnsatisfiable: "ScheduleAnyway",
                                        labelSelector: { matchLabels: selector },
                                        matchLabelKeys: ["pod-template-hash"],
                                    },
                                ],
                            },
                        },
                    },
                },
                { ...k8sOpts, customTimeouts: { create: "30m", update: "30m" } },
            );
            this.deployments[t.track] = deployment;

            new k8s.policy.v1.PodDisruptionBudget(
                `${name}-${t.track}`,
                {
                    metadata: { name: `${app}-${t.track}`, namespace, labels: podLabels },
                    // AlwaysAllow: a crash-looping server must not block the node drains of AMI patching.
                    spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow", selector: { matchLabels: selector } },
                },
                k8sOpts,
            );
            if (t.hpa) {
                new k8s.autoscaling.v2.HorizontalPodAutoscaler(
                    `${name}-${t.track}`,
                    {
                        metadata: { name: `${app}-${t.track}`, namespace, labels: podLabels },
                        spec: {
                            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `${app}-${t.track}` },
                            minReplicas: t.hpa.minReplicas,
                            maxReplicas: t.hpa.maxReplicas,
                            metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: t.hpa.targetCpuUtilization } } }],
                            behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
                        },
                    },
                    { ...k8sOpts, dependsOn: [deployment] },
                );
            }
        }

        const services: k8s.core.v1.Service[] = [];
        for (const s of plan.services) {
            const selector = s.selects ? selectorLabels(app, s.selects) : { "app.kubernetes.io/name": app, [ROLE_LABEL]: "serving" };
            services.push(
                new k8s.core.v1.Service(
                    `${name}-svc-${s.name === app ? "main" : s.name.slice(app.length + 1)}`,
                    {
                        metadata: {
                            name: s.name,
                            namespace,
                            labels: { ...labels, [ENDPOINT_LABEL]: s.endpoint, ...(s.scrape ? { [SCRAPE_LABEL]: "true" } : {}) },
                        },
                        spec: {
                            type: "ClusterIP",
                            selector,
                            ports: [
                                { name: "http", port: SERVICE_PORT, targetPort: "http", protocol: "TCP", appProtocol: "http" },
                                // Scraped by the ServiceMonitors; never a route backend (routes name port 80).
                                ...(s.scrape && plan.metricsPort !== undefined ? [{ name: "metrics", port: plan.metricsPort, targetPort: "metrics", protocol: "TCP", appProtocol: "http" }] : []),
                            ],
                        },
                    },
                    k8sOpts,
                ),
            );
        }

        // Ingress only from the Gateway's proxies, Prometheus, the namespace itself and listed namespaces.
        const allowed: pulumi.Input<string>[] = [...(args.allowFromNamespaces ?? [])];
        if (args.gateway) allowed.push(args.gateway.proxyNamespace ?? pulumi.output(args.gateway.parentRef).apply((r) => r.namespace));
        if (args.prometheusOperator) allowed.push(args.prometheusNamespace ?? "monitoring");
        new k8s.networking.v1.NetworkPolicy(
            `${name}-ingress`,
            {
                metadata: { name: `${app}-ingress`, namespace, labels },
                spec: {
                    podSelector: { matchLabels: { "app.kubernetes.io/name": app, [ROLE_LABEL]: "serving" } },
                    policyTypes: ["Ingress"],
                    ingress: [
                        {
                            from: [
                                { podSelector: {} },
                                ...(allowed.length
                                    ? [{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: allowed }] } }]
                                    : []),
                            ],
                            ports: [{ protocol: "TCP", port: plan.port }, ...(core.runtime.kind === "mlserver" ? [{ protocol: "TCP", port: GRPC_PORT }] : [])],
                        },
                        // The metrics port only for Prometheus (and the namespace itself), not for API clients.
                        ...(plan.metricsPort !== undefined
                            ? [
                                  {
                                      from: [
                                          { podSelector: {} },
                                          ...(args.prometheusOperator
                                              ? [{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [args.prometheusNamespace ?? "monitoring"] }] } }]
                                              : []),
                                      ],
                                      ports: [{ protocol: "TCP", port: plan.metricsPort }],
                                  },
                              ]
                            : []),
                    ],
                },
            },
            k8sOpts,
        );

        let route: k8s.apiextensions.CustomResource | undefined;
        if (args.gateway) {
            const gw = args.gateway;
            route = new k8s.apiextensions.CustomResource(
                `${name}-route`,
                {
                    apiVersion: GATEWAY_API_VERSION,
                    kind: "HTTPRoute",
                    metadata: { name: app, namespace, labels },
                    spec: {
                        parentRefs: [
                            pulumi.output(gw.parentRef).apply((r) => ({
                                group: "gateway.networking.k8s.io",
                                kind: "Gateway",
                                name: r.name,
                                namespace: r.namespace,
                                ...(r.sectionName ? { sectionName: r.sectionName } : {}),
                            })),
                        ],
                        ...(gw.hostname ? { hostnames: [gw.hostname] } : {}),
                        rules: routeRules(plan, args.headerRouting ?? true),
                    },
                },
                { ...k8sOpts, dependsOn: services },
            );
            if (args.apiKeySecret) {
                // Every request on the route needs a key from the Secret; Envoy answers 401 otherwise,
                // before any routing (header-based track selection included) happens.
                new k8s.apiextensions.CustomResource(
                    `${name}-auth`,
                    {
                        apiVersion: ENVOY_GATEWAY_API_VERSION,
                        kind: "SecurityPolicy",
                        metadata: { name: `${app}-api-keys`, namespace, labels },
                        spec: {
                            targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: app }],
                            apiKeyAuth: {
                                credentialRefs: [{ group: "", kind: "Secret", name: args.apiKeySecret }],
                                extractFrom: [{ headers: [API_KEY_HEADER] }],
                            },
                        },
                    },
                    { ...k8sOpts, dependsOn: [route] },
                );
            }
        }

        if (args.prometheusOperator) {
            const monLabels = { ...labels, ...(args.monitoringLabels ?? {}) };
            for (const t of plan.tracks) {
                new k8s.apiextensions.CustomResource(
                    `${name}-${t.track}-monitor`,
                    {
                        apiVersion: "monitoring.coreos.com/v1",
                        kind: "ServiceMonitor",
                        metadata: { name: `${app}-${t.track}`, namespace, labels: monLabels },
                        spec: {
                            selector: { matchLabels: { "app.kubernetes.io/name": app, [SCRAPE_LABEL]: "true" } },
                            namespaceSelector: { matchNames: [plan.namespace] },
                            endpoints: [
                                serviceMonitorEndpoint(plan, t.track),
                            ],
                        },
                    },
                    k8sOpts,
                );
                new k8s.apiextensions.CustomResource(
                    `${name}-${t.track}-alerts`,
                    {
                        apiVersion: "monitoring.coreos.com/v1",
                        kind: "PrometheusRule",
                        metadata: { name: `${app}-${t.track}`, namespace, labels: monLabels },
                        spec: { groups: [{ name: `${app}-${t.track}`, rules: alertRules(plan, t.track) }] },
                    },
                    k8sOpts,
                );
            }
        }

        this.trafficResources = [...services, ...(route ? [route] : [])];
        this.namespace = namespace;
        this.serviceAccountName = identity.serviceAccountName;
        this.serviceUrls = namespace.apply((n) =>
            Object.fromEntries(plan.services.map((s) => [s.name, `http://${s.name}.${n}.svc.cluster.local${SERVICE_PORT === 80 ? "" : `:${SERVICE_PORT}`}`])),
        );
        this.activeSlot = pulumi.output(plan.activeSlot);
        this.canaryWeight = pulumi.output(plan.canaryWeight);
        this.effectiveCanaryWeight = pulumi.output(plan.effectiveCanaryWeight);
        this.routeName = route ? (route.metadata.name as pulumi.Output<string | undefined>) : pulumi.output(undefined);
        if (plan.routing === "replicaRatio" && Math.abs(plan.effectiveCanaryWeight - plan.canaryWeight) >= 5) {
            pulumi.log.warn(
                `${name}: without a Gateway, canary weight ${plan.canaryWeight}% is delivered as ${plan.effectiveCanaryWeight.toFixed(1)}% ` +
                    `(${plan.capacity.canaryReplicas} canary / ${plan.capacity.stableReplicas} stable pods); route through a Gateway for exact weights`,
                this,
            );
        }
        this.registerOutputs({
            namespace: this.namespace,
            serviceUrls: this.serviceUrls,
            activeSlot: this.activeSlot,
            canaryWeight: this.canaryWeight,
            effectiveCanaryWeight: this.effectiveCanaryWeight,
            routeName: this.routeName,
        });
    }
}

/** Header clients put their model API key in (the SecurityPolicy strips nothing else). */
export const API_KEY_HEADER = "x-api-key";

/** HTTPRoute rules for a plan (exported for tests). Without `headerRouting`, no rule matches the track header. */
export function routeRules(plan: ServingPlan, headerRouting: boolean = true): Record<string, unknown>[] {
    const ref = (service: string, weight?: number) => ({
        group: "",
        kind: "Service",
        name: service,
        port: SERVICE_PORT,
        ...(weight !== undefined ? { weight } : {}),
    });
    const headerRule = (h: HeaderMatch, service: string) => ({
        matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [{ type: "Exact", name: h.name, value: h.value }] }],
        backendRefs: [ref(service, 1)],
    });
    const all = { path: { type: "PathPrefix", value: "/" } };
    if (plan.strategy === "blueGreen") {
        const bg = plan.core.blueGreen!;
        const rules: Record<string, unknown>[] = [];
        // A request with the preview header reaches the idle slot (more header matches win in Gateway API precedence).
        if (headerRouting && plan.services.some((s) => s.endpoint === "preview")) rules.push(headerRule(bg.previewHeader, `${plan.app}-preview`));
        rules.push({ matches: [all], backendRefs: [ref(plan.app, 1)] });
        return rules;
    }
    const c = plan.core.canary!;
    const stable = `${plan.app}-stable`;
    const canary = `${plan.app}-canary`;
    if (!c.canary) {
        return [{ matches: [all], backendRefs: [ref(stable, 100)] }];
    }
    return [
        ...(headerRouting ? [headerRule(c.headerMatch, canary)] : []),
        {
            matches: [all],
            ...(c.mirror ? { filters: [{ type: "RequestMirror", requestMirror: { backendRef: { group: "", kind: "Service", name: canary, port: SERVICE_PORT } } }] } : {}),
            backendRefs: [ref(stable, 100 - c.canaryWeight), ref(canary, c.canaryWeight)],
        },
    ];
}

/** What the platform supplies next to the `mlops-platform:serving` config. */
export interface ServingInfrastructure {
    provider: k8s.Provider;
    /** TrackingServer's in-cluster URI. */
    trackingUri: pulumi.Input<string>;
    identity: ServingIdentityArgs;
    /** The Gateway to attach to (required unless the config's gateway mode is `none`). */
    gateway?: { parentRef: pulumi.Input<GatewayParentRef>; proxyNamespace?: pulumi.Input<string> };
    /** GpuNodeGroup.scheduling, when the config asks for GPUs. */
    gpuScheduling?: GpuScheduling;
    awsRegion?: pulumi.Input<string>;
    trackingAuthSecret?: MlflowRuntimeArgs["trackingAuthSecret"];
    /** Image for releases without one (see ServingStackArgs.defaultImage). */
    defaultImage?: pulumi.Input<string>;
    /** See ServingStackArgs.apiKeySecret. */
    apiKeySecret?: string;
    /** See ServingStackArgs.headerRouting. */
    headerRouting?: boolean;
    /** Bucket and PutObject-only policy for the prediction logs (used when the config enables them). */
    predictionLog?: { bucket: pulumi.Input<string>; writePolicy: pulumi.Input<string> };
}

/** ServingStack args from the validated `mlops-platform:serving` config plus the platform's infrastructure. */
export function servingStackArgs(config: ServingConfig, infra: ServingInfrastructure): ServingStackArgs {
    if (config.gateway.mode !== "none" && !infra.gateway) {
        throw new Error(`servingStackArgs: gateway mode "${config.gateway.mode}" needs infra.gateway (a Gateway component's parentRef)`);
    }
    const rt = config.runtime;
    return {
        provider: infra.provider,
        namespace: config.namespace,
        appName: config.name,
        strategy: config.strategy,
        ...(config.blueGreen ? { blueGreen: config.blueGreen } : {}),
        ...(config.canary ? { canary: config.canary } : {}),
        runtime:
            rt.kind === "mlflow"
                ? { kind: "mlflow", ...(rt.image ? { image: rt.image } : {}), ...(rt.workers ? { workers: rt.workers } : {}), trackingUri: infra.trackingUri, ...(infra.trackingAuthSecret ? { trackingAuthSecret: infra.trackingAuthSecret } : {}) }
                : rt.kind === "mlserver"
                  ? { ...rt, trackingUri: infra.trackingUri, ...(infra.trackingAuthSecret ? { trackingAuthSecret: infra.trackingAuthSecret } : {}) }
                  : { ...rt },
        ...(config.predictionLog?.enabled
            ? (() => {
                  if (!infra.predictionLog) throw new Error("servingStackArgs: serving.predictionLog.enabled needs infra.predictionLog (the data-lake bucket and write policy)");
                  return { predictionLog: { ...config.predictionLog, ...infra.predictionLog } };
              })()
            : {}),
        ...(infra.defaultImage !== undefined ? { defaultImage: infra.defaultImage } : {}),
        replicas: config.replicas,
        resources: config.resources,
        ...(config.autoscaling ? { autoscaling: config.autoscaling } : {}),
        gpus: config.gpus,
        maxExtraGpus: config.maxExtraGpus,
        ...(infra.gpuScheduling ? { gpuScheduling: infra.gpuScheduling } : {}),
        gate: config.gate,
        identity: infra.identity,
        ...(config.gateway.mode !== "none" && infra.gateway
            ? { gateway: { ...infra.gateway, ...(config.gateway.hostname ? { hostname: config.gateway.hostname } : {}) } }
            : {}),
        prometheusOperator: config.prometheusOperator,
        alerts: config.alerts,
        ...(infra.awsRegion ? { awsRegion: infra.awsRegion } : {}),
        ...(infra.apiKeySecret ? { apiKeySecret: infra.apiKeySecret } : {}),
        ...(infra.headerRouting !== undefined ? { headerRouting: infra.headerRouting } : {}),
    };
}
