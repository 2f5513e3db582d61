// The serving state of a stack: the `mlops-platform:serving` config object (strategy, releases,
// weights, gate thresholds...), its TypeScript shape and one pure validator shared by the program
// (index.ts), the ServingStack component and the `mlops release` CLI.
import { AnalysisConfig, checkAnalysisConfig } from "../release-contract/analysis";
import { DEFAULT_GATE_CONFIG, GateConfig, GateConfigError, validateGateConfig } from "../release-contract/gate";
import type { ServedTrack } from "../release-contract/check";
import { CapacityPlan, checkModelRelease, DIGEST_RE, ModelRelease, planCapacity, replicaRatioSplit } from "./modelRelease";
import { DNS_LABEL, Problems, describe } from "./validation";

/** The stack config key holding the serving state. */
export const SERVING_CONFIG_KEY = "mlops-platform:serving";

export const STRATEGIES = ["blueGreen", "canary"] as const;
export type ServingStrategy = (typeof STRATEGIES)[number];
export const SLOTS = ["blue", "green"] as const;
export type Slot = (typeof SLOTS)[number];

/** An exact request header match (Gateway API `HTTPHeaderMatch`, type Exact). */
export interface HeaderMatch {
    name: string;
    value: string;
}

/** Header that pins a request to the canary track (canary) or the idle slot (blue-green). */
export const DEFAULT_TRACK_HEADER = "x-model-track";

export interface BlueGreenSpec {
    /** Slot the main Service (and route) sends traffic to; must hold a release. */
    active: Slot;
    /** A release per slot; the idle one stays deployed for preview and instant rollback. */
    slots: { blue?: ModelRelease; green?: ModelRelease };
    /** Requests with this header reach the idle slot through the route. Default `x-model-track: preview`. */
    previewHeader: HeaderMatch;
}

export interface CanarySpec {
    /** The release serving most traffic. */
    stable: ModelRelease;
    /** The candidate; absent when no rollout is in progress. */
    canary?: ModelRelease;
    /** Percentage of requests sent to the canary, 0..100 (integer). Default 0. */
    canaryWeight: number;
    /** Also mirror (shadow) the traffic to the canary; responses from mirrors are discarded. Default false. */
    mirror: boolean;
    /** Requests with this header always reach the canary. Default `x-model-track: canary`. */
    headerMatch: HeaderMatch;
    /** Canary pods, pinned. Default: from the GPU budget (GPU) / autoscaled or `replicas` (CPU). */
    replicas?: number;
}

export interface AutoscalingSpec {
    /** HPA maximum per track; the minimum is `replicas`. */
    maxReplicas: number;
    /** Target average CPU utilisation, percent of requests. Default 70. */
    targetCpuUtilization: number;
}

/** Alert thresholds per track/slot (PrometheusRule). */
export interface AlertThresholds {
    /** p99 of request latency above this fires `ModelServingHighP99Latency`. Default 1 (second). */
    p99LatencySeconds: number;
    /** Share of 5xx responses above this fires `ModelServingHigh5xxRate`. Default 0.01. */
    errorRate5xx: number;
    /** How long a condition must hold before firing. Default `10m`. */
    for: string;
}

/** Compute per serving pod. */
export interface ServingResources {
    cpu: string;
    memory: string;
    cpuLimit?: string;
    memoryLimit?: string;
}

export type RuntimeSpec =
    | {
          /**
           * MLServer with its MLflow runtime (images/server, the platform's default): V2 / Open
           * Inference Protocol and MLflow's `/invocations`, Prometheus metrics on a separate port,
           * parallel inference workers, adaptive batching, sampled prediction logging.
           */
          kind: "mlserver";
          /** Server image (digest-pinned); default the image the platform builds from images/server. */
          image?: string;
          /** MLServer parallel inference workers (`MLSERVER_PARALLEL_WORKERS`); 0 = infer in the server process. Default 1. */
          workers: number;
          /** Adaptive batching: most requests merged into one (`MLSERVER_MODEL_MAX_BATCH_SIZE`). Default 1 (off). */
          maxBatchSize: number;
          /** Adaptive batching: longest wait for a batch to fill, seconds (`MLSERVER_MODEL_MAX_BATCH_TIME`). Default 0. */
          maxBatchTimeSeconds: number;
      }
    | {
          /** MLflow's scoring server: `mlflow models serve -m models:/<name>/<version> ...`. */
          kind: "mlflow";
          /** Image with MLflow and the model's Python dependencies (`--env-manager local`); a release's `image` overrides it. */
          image?: string;
          /** uvicorn workers (`--workers`). Default: MLflow's (1). */
          workers?: number;
      }
    | {
          /** Any HTTP model server image (each release's `image`, or this one). */
          kind: "custom";
          image?: string;
          /** Container port. Default 8080. */
          port: number;
          command?: string[];
          args?: string[];
          /** Liveness path. Default `/ping`. */
          livenessPath: string;
          /** Readiness path. Default `/health`. */
          readinessPath: string;
      };

/** The parts of serving a ServingStack and the config share (defaults applied). */
export interface ServingCore {
    strategy: ServingStrategy;
    blueGreen?: BlueGreenSpec;
    canary?: CanarySpec;
    /** Pods per track / slot (the HPA minimum when autoscaling). Default 2. */
    replicas: number;
    autoscaling?: AutoscalingSpec;
    resources: ServingResources;
    /** GPUs per pod. Default 0. */
    gpus: number;
    /** GPUs a rollout may use beyond replicas × gpus. Default 0 (never assume double capacity). */
    maxExtraGpus: number;
    /** Gate: MLflow MetricThreshold rules per metric (+ optional significance test). */
    gate: GateConfig;
    alerts: AlertThresholds;
    runtime: RuntimeSpec;
}

export type GatewayChoice =
    | { mode: "none" }
    | { mode: "install"; hostname?: string }
    | { mode: "existing"; name: string; namespace: string; sectionName?: string; hostname?: string };

/**
 * Sampled prediction logging of the MLServer runtime (images/server/mlops_server): records of the
 * inputs, prediction, model, version, track, request id and time, written in batches to the data
 * lake's processed bucket under `<prefix>model=<name>/version=<v>/date=<yyyy-mm-dd>/`.
 */
export interface PredictionLogSpec {
    /** Default: true in the `prod` environment, false elsewhere. */
    enabled: boolean;
    /** Share of requests logged, (0, 1]. Default 0.1. */
    sampleRate: number;
    /** Key prefix in the processed bucket (ends in `/`); the servers may write only there. Default `predictions/`. */
    prefix: string;
    /** Rows per object (a flush happens at batchSize rows or flushSeconds, whichever first). Default 500. */
    batchSize: number;
    /** Longest time a record waits in memory before it is written. Default 30. */
    flushSeconds: number;
    /** Requests buffered per process; beyond that records are dropped and counted. Default 10000. */
    queueSize: number;
    /** Input fields never written (exact column names, e.g. personal data). Default none. */
    excludeFields: string[];
    /** `parquet` (default) or `jsonl`. */
    format: "parquet" | "jsonl";
}

export const PREDICTION_LOG_DEFAULTS: Omit<PredictionLogSpec, "enabled"> = {
    sampleRate: 0.1,
    prefix: "predictions/",
    batchSize: 500,
    flushSeconds: 30,
    queueSize: 10000,
    excludeFields: [],
    format: "parquet",
};

const FIELD_NAME = /^[^,\s]{1,128}$/;
const KEY_PREFIX = /^[a-zA-Z0-9!_.*'()-]+(\/[a-zA-Z0-9!_.*'()-]+)*\/$/;

function checkPredictionLog(p: Problems, at: At, raw: unknown, environment: string | undefined, runtime: RuntimeSpec | undefined): PredictionLogSpec | undefined {
    const r = raw ?? {};
    if (!isObject(r)) {
        p.add(at("predictionLog"), `must be { enabled?, sampleRate?, prefix?, batchSize?, flushSeconds?, queueSize?, excludeFields?, format? }, got ${describe(raw)}`);
        return undefined;
    }
    unknownKeys(p, at, "predictionLog", r, ["enabled", "sampleRate", "prefix", "batchSize", "flushSeconds", "queueSize", "excludeFields", "format"]);
    const d = PREDICTION_LOG_DEFAULTS;
    const enabled = r.enabled ?? environment === "prod";
    const sampleRate = r.sampleRate ?? d.sampleRate;
    const prefix = r.prefix ?? d.prefix;
    const flushSeconds = r.flushSeconds ?? d.flushSeconds;
    const excludeFields = r.excludeFields ?? d.excludeFields;
    const format = r.format ?? d.format;
    const ok = [
        p.check(typeof enabled === "boolean", at("predictionLog.enabled"), `must be true or false, got ${describe(enabled)}`),
        p.check(typeof sampleRate === "number" && sampleRate > 0 && sampleRate <= 1, at("predictionLog.sampleRate"), `must be a fraction in (0, 1] (0.1 = every tenth request), got ${describe(sampleRate)}`),
        p.check(typeof prefix === "string" && KEY_PREFIX.test(prefix) && !prefix.includes("="), at("predictionLog.prefix"), `must be an S3 key prefix ending in '/' (letters, digits, !_.*'()- and '/', no '='), got ${describe(prefix)}`),
        intIn(p, at("predictionLog.batchSize"), r.batchSize, d.batchSize, 1, 100000) !== undefined,
        // The pod's grace period (45 s) minus the preStop delay (10 s) bounds the final flush.
        p.check(typeof flushSeconds === "number" && flushSeconds > 0 && flushSeconds <= 3600, at("predictionLog.flushSeconds"), `must be seconds in (0, 3600], got ${describe(flushSeconds)}`),
        intIn(p, at("predictionLog.queueSize"), r.queueSize, d.queueSize, 1, 1000000) !== undefined,
        p.check(
            Array.isArray(excludeFields) && excludeFields.every((f) => typeof f === "string" && FIELD_NAME.test(f)),
            at("predictionLog.excludeFields"),
            `must be a list of input field names (no commas or spaces), got ${describe(excludeFields)}`,
        ),
        p.check(format === "parquet" || format === "jsonl", at("predictionLog.format"), `must be "parquet" or "jsonl", got ${describe(format)}`),
    ];
    if (enabled === true && runtime !== undefined && runtime.kind !== "mlserver") {
        ok.push(p.check(false, at("predictionLog.enabled"), `needs runtime.kind "mlserver" (the platform's server logs predictions), got runtime.kind ${describe(runtime.kind)}; set predictionLog.enabled: false for this runtime`));
    }
    if (!ok.every(Boolean)) return undefined;
    return {
        enabled: enabled as boolean,
        sampleRate: sampleRate as number,
        prefix: prefix as string,
        batchSize: (r.batchSize as number | undefined) ?? d.batchSize,
        flushSeconds: flushSeconds as number,
        queueSize: (r.queueSize as number | undefined) ?? d.queueSize,
        excludeFields: [...(excludeFields as string[])],
        format: format as PredictionLogSpec["format"],
    };
}

/** The validated `mlops-platform:serving` object. */
export interface ServingConfig extends ServingCore {
    /** Sampled prediction logging (MLServer runtime). */
    predictionLog: PredictionLogSpec;
    /** Base name of the serving objects (DNS label). Default `model`. */
    name: string;
    /** Namespace the stack creates for serving. Default `ml-serving`. */
    namespace: string;
    /** Create ServiceMonitors and PrometheusRules (needs prometheus-operator CRDs). Default false. */
    prometheusOperator: boolean;
    /** Route through a Gateway (installed by the platform, or existing), or the replica-ratio fallback. Default none. */
    gateway: GatewayChoice;
    /** Automated canary analysis (`mlops release analyze`): window, minimum requests, error/latency/quality limits, step plan. */
    analysis: AnalysisConfig;
}

export const DEFAULT_ALERTS: AlertThresholds = { p99LatencySeconds: 1, errorRate5xx: 0.01, for: "10m" };
export const DEFAULT_RESOURCES: ServingResources = { cpu: "1", memory: "2Gi" };

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

const QUANTITY_RE = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const DURATION_RE = /^[0-9]+(ms|s|m|h)$/;
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,256}$/;

/** Path helper: `at("canary.canaryWeight")` under a prefix (`mlops-platform:serving.` or ``). */
type At = (k: string) => string;

function unknownKeys(p: Problems, at: At, base: string, raw: Record<string, unknown>, allowed: readonly string[]): void {
    for (const k of Object.keys(raw)) {
        p.check(allowed.includes(k), at(base ? `${base}.${k}` : k), `unknown property; expected one of ${allowed.join(", ")}`);
    }
}

function intIn(p: Problems, path: string, raw: unknown, def: number | undefined, min: number, max: number): number | undefined {
    const v = raw ?? def;
    if (v === undefined) {
        return undefined;
    }
    return p.check(typeof v === "number" && Number.isInteger(v) && v >= min && v <= max, path, `must be an integer from ${min} to ${max}, got ${describe(v)}`)
        ? (v as number)
        : undefined;
}

function header(p: Problems, path: string, raw: unknown, defValue: string): HeaderMatch | undefined {
    if (raw === undefined) {
        return { name: DEFAULT_TRACK_HEADER, value: defValue };
    }
    if (!isObject(raw) || typeof raw.name !== "string" || !HEADER_NAME_RE.test(raw.name) || typeof raw.value !== "string" || raw.value === "") {
        p.add(path, `must be { name: <HTTP header name>, value: <non-empty string> }, got ${describe(raw)}`);
        return undefined;
    }
    return { name: raw.name.toLowerCase(), value: raw.value };
}

function checkBlueGreen(p: Problems, at: At, raw: unknown): BlueGreenSpec | undefined {
    if (!isObject(raw)) {
        p.add(at("blueGreen"), `must be { active: "blue" | "green", slots: { blue?, green? } }, got ${describe(raw)}`);
        return undefined;
    }
    unknownKeys(p, at, "blueGreen", raw, ["active", "slots", "previewHeader"]);
    const active = raw.active;
    const activeOk = p.check(active === "blue" || active === "green", at("blueGreen.active"), `must be "blue" or "green", got ${describe(active)}`);
    const slots: BlueGreenSpec["slots"] = {};
    const rawSlots = raw.slots ?? {};
    if (!isObject(rawSlots)) {
        p.add(at("blueGreen.slots"), `must be { blue?: <release>, green?: <release> }, got ${describe(rawSlots)}`);
    } else {
        unknownKeys(p, at, "blueGreen.slots", rawSlots, SLOTS);
        for (const slot of SLOTS) {
            if (rawSlots[slot] !== undefined && rawSlots[slot] !== null) {
                slots[slot] = checkModelRelease(p, at(`blueGreen.slots.${slot}`), rawSlots[slot]);
            }
        }
        if (activeOk && (rawSlots[active as Slot] === undefined || rawSlots[active as Slot] === null)) {
            p.add(at("blueGreen.active"), `slot '${active}' holds no release (blueGreen.slots.${active} is empty); the active slot must serve a release`);
        }
    }
    const previewHeader = header(p, at("blueGreen.previewHeader"), raw.previewHeader, "preview");
    return activeOk && previewHeader ? { active: active as Slot, slots, previewHeader } : undefined;
}

function checkCanary(p: Problems, at: At, raw: unknown): CanarySpec | undefined {
    if (!isObject(raw)) {
        p.add(at("canary"), `must be { stable: <release>, canary?: <release>, canaryWeight: 0..100, mirror?, headerMatch? }, got ${describe(raw)}`);
        return undefined;
    }
    unknownKeys(p, at, "canary", raw, ["stable", "canary", "canaryWeight", "mirror", "headerMatch", "replicas"]);
    const before = p.list.length;
    const stable = raw.stable === undefined ? (p.add(at("canary.stable"), "is required: the release serving most traffic"), undefined) : checkModelRelease(p, at("canary.stable"), raw.stable);
    const canary = raw.canary === undefined || raw.canary === null ? undefined : checkModelRelease(p, at("canary.canary"), raw.canary);
    const weight = raw.canaryWeight ?? 0;
    const weightOk = p.check(
        typeof weight === "number" && Number.isInteger(weight) && weight >= 0 && weight <= 100,
        at("canary.canaryWeight"),
        `must be an integer percentage from 0 to 100, got ${describe(weight)}`,
    );
    if (weightOk && (weight as number) > 0 && (raw.canary === undefined || raw.canary === null)) {
        p.add(at("canary.canaryWeight"), `is ${weight} but there is no canary release (canary.canary is empty); set it to 0 or add the candidate`);
    }
    const mirror = raw.mirror ?? false;
    p.check(typeof mirror === "boolean", at("canary.mirror"), `must be true or false, got ${describe(mirror)}`);
    const headerMatch = header(p, at("canary.headerMatch"), raw.headerMatch, "canary");
    const replicas = intIn(p, at("canary.replicas"), raw.replicas, undefined, 1, 100);
    if (p.list.length > before || !stable || !headerMatch) {
        return undefined;
    }
    return {
        stable,
        ...(canary ? { canary } : {}),
        canaryWeight: weight as number,
        mirror: mirror as boolean,
        headerMatch,
        ...(replicas !== undefined ? { replicas } : {}),
    };
}

function checkResources(p: Problems, at: At, raw: unknown): ServingResources | undefined {
    if (raw === undefined) {
        return { ...DEFAULT_RESOURCES };
    }
    if (!isObject(raw)) {
        p.add(at("resources"), `must be { cpu, memory, cpuLimit?, memoryLimit? }, got ${describe(raw)}`);
        return undefined;
    }
    unknownKeys(p, at, "resources", raw, ["cpu", "memory", "cpuLimit", "memoryLimit"]);
    const out: Record<string, string> = {};
    for (const k of ["cpu", "memory", "cpuLimit", "memoryLimit"]) {
        const v = raw[k] ?? (DEFAULT_RESOURCES as unknown as Record<string, string | undefined>)[k];
        if (v === undefined) {
            continue;
        }
        const s = typeof v === "number" ? String(v) : v;
        if (p.check(typeof s === "string" && QUANTITY_RE.test(s), at(`resources.${k}`), `must be a Kubernetes quantity (e.g. 500m, 2, 4Gi), got ${describe(v)}`)) {
            out[k] = s as string;
        }
    }
    return out as unknown as ServingResources;
}

function checkAlerts(p: Problems, at: At, raw: unknown): AlertThresholds | undefined {
    if (raw === undefined) {
        return { ...DEFAULT_ALERTS };
    }
    if (!isObject(raw)) {
        p.add(at("alerts"), `must be { p99LatencySeconds?, errorRate5xx?, for? }, got ${describe(raw)}`);
        return undefined;
    }
    unknownKeys(p, at, "alerts", raw, ["p99LatencySeconds", "errorRate5xx", "for"]);
    const a = { ...DEFAULT_ALERTS, ...raw } as AlertThresholds;
    const ok = [
        p.check(typeof a.p99LatencySeconds === "number" && a.p99LatencySeconds > 0 && a.p99LatencySeconds <= 600, at("alerts.p99LatencySeconds"), `must be a number of seconds in (0, 600], got ${describe(a.p99LatencySeconds)}`),
        p.check(typeof a.errorRate5xx === "number" && a.errorRate5xx > 0 && a.errorRate5xx <= 1, at("alerts.errorRate5xx"), `must be a fraction in (0, 1] (0.01 = 1%), got ${describe(a.errorRate5xx)}`),
        p.check(typeof a.for === "string" && DURATION_RE.test(a.for), at("alerts.for"), `must be a Prometheus duration such as 5m, got ${describe(a.for)}`),
    ];
    return ok.every(Boolean) ? { p99LatencySeconds: a.p99LatencySeconds, errorRate5xx: a.errorRate5xx, for: a.for } : undefined;
}

/** Runtime kinds of `serving.runtime.kind`; the first is the default. */
export const RUNTIME_KINDS = ["mlserver", "mlflow", "custom"] as const;

function checkRuntime(p: Problems, at: At, raw: unknown): RuntimeSpec | undefined {
    const r = raw ?? { kind: RUNTIME_KINDS[0] };
    if (!isObject(r)) {
        p.add(at("runtime"), `must be { kind: "mlserver", image?, workers?, maxBatchSize?, maxBatchTimeSeconds? }, { kind: "mlflow", image?, workers? } or { kind: "custom", image?, port?, ... }, got ${describe(raw)}`);
        return undefined;
    }
    const kind = r.kind ?? RUNTIME_KINDS[0];
    if (!p.check((RUNTIME_KINDS as readonly unknown[]).includes(kind), at("runtime.kind"), `must be one of ${RUNTIME_KINDS.map((k) => `"${k}"`).join(", ")}, got ${describe(kind)}`)) {
        return undefined;
    }
    const image = r.image;
    if (image !== undefined) {
        p.check(typeof image === "string" && DIGEST_RE.test(image), at("runtime.image"), `must be pinned by digest (<repository>@sha256:<64 hex>), got ${describe(image)}`);
    }
    if (kind === "mlserver") {
        unknownKeys(p, at, "runtime", r, ["kind", "image", "workers", "maxBatchSize", "maxBatchTimeSeconds"]);
        const workers = intIn(p, at("runtime.workers"), r.workers, 1, 0, 64);
        const maxBatchSize = intIn(p, at("runtime.maxBatchSize"), r.maxBatchSize, 1, 1, 10000);
        const t = r.maxBatchTimeSeconds ?? 0;
        p.check(typeof t === "number" && t >= 0 && t <= 10, at("runtime.maxBatchTimeSeconds"), `must be seconds in [0, 10], got ${describe(t)}`);
        if (typeof maxBatchSize === "number" && maxBatchSize > 1) {
            p.check(typeof t === "number" && t > 0, at("runtime.maxBatchTimeSeconds"), `must be > 0 when maxBatchSize > 1 (how long MLServer waits to fill a batch), got ${describe(t)}`);
        }
        return { kind: "mlserver", ...(typeof image === "string" ? { image } : {}), workers: workers ?? 1, maxBatchSize: maxBatchSize ?? 1, maxBatchTimeSeconds: typeof t === "number" ? t : 0 };
    }
    if (kind === "mlflow") {
        unknownKeys(p, at, "runtime", r, ["kind", "image", "workers"]);
        const workers = intIn(p, at("runtime.workers"), r.workers, undefined, 1, 64);
        return { kind: "mlflow", ...(typeof image === "string" ? { image } : {}), ...(workers !== undefined ? { workers } : {}) };
    }
    unknownKeys(p, at, "runtime", r, ["kind", "image", "port", "command", "args", "livenessPath", "readinessPath"]);
    const port = intIn(p, at("runtime.port"), r.port, 8080, 1024, 65535);
    const strList = (k: string) => {
        const v = r[k];
        if (v === undefined) return undefined;
        p.check(Array.isArray(v) && v.every((x) => typeof x === "string"), at(`runtime.${k}`), `must be a list of strings, got ${describe(v)}`);
        return v as string[];
    };
    const path = (k: string, def: string) => {
        const v = r[k] ?? def;
        p.check(typeof v === "string" && v.startsWith("/"), at(`runtime.${k}`), `must be an HTTP path starting with '/', got ${describe(v)}`);
        return v as string;
    };
    const command = strList("command");
    const args = strList("args");
    return {
        kind: "custom",
        ...(typeof image === "string" ? { image } : {}),
        port: port ?? 8080,
        ...(command ? { command } : {}),
        ...(args ? { args } : {}),
        livenessPath: path("livenessPath", "/ping"),
        readinessPath: path("readinessPath", "/health"),
    };
}

/** Releases that will run, with the path they were read from. */
export function servedReleases(core: Pick<ServingCore, "strategy" | "blueGreen" | "canary">): { path: string; release: ModelRelease }[] {
    const out: { path: string; release: ModelRelease }[] = [];
    if (core.strategy === "blueGreen" && core.blueGreen) {
        for (const slot of SLOTS) {
            const r = core.blueGreen.slots[slot];
            if (r) out.push({ path: `blueGreen.slots.${slot}`, release: r });
        }
    } else if (core.strategy === "canary" && core.canary) {
        out.push({ path: "canary.stable", release: core.canary.stable });
        if (core.canary.canary) out.push({ path: "canary.canary", release: core.canary.canary });
    }
    return out;
}

/**
 * Validates the parts shared by config and component args into `p` (paths `prefix + <path>`),
 * including the GPU budget of the rollout for the given routing. Returns the core with defaults
 * and the capacity plan when valid.
 * @internal
 */
export function checkServingCore(
    p: Problems,
    prefix: string,
    raw: Record<string, unknown>,
    routing: "gateway" | "replicaRatio",
    /** True when the caller supplies a default image for releases without one (the platform's trainer image). */
    imageOptional = false,
): { core: ServingCore; capacity: CapacityPlan } | undefined {
    const at: At = (k) => `${prefix}${k}`;
    const before = p.list.length;
    const strategy = raw.strategy;
    const strategyOk = p.check(
        (STRATEGIES as readonly unknown[]).includes(strategy),
        at("strategy"),
        `must be one of ${STRATEGIES.map((s) => `"${s}"`).join(", ")}, got ${describe(strategy)}`,
    );
    // Both blocks are validated when present, so a later switch of strategy meets no surprise.
    const blueGreen = raw.blueGreen !== undefined ? checkBlueGreen(p, at, raw.blueGreen) : undefined;
    const canary = raw.canary !== undefined ? checkCanary(p, at, raw.canary) : undefined;
    if (strategyOk && raw[strategy as string] === undefined) {
        p.add(at(strategy as string), `is required when strategy is "${strategy}"`);
    }
    const replicas = intIn(p, at("replicas"), raw.replicas, 2, 1, 100);
    let autoscaling: AutoscalingSpec | undefined;
    if (raw.autoscaling !== undefined && raw.autoscaling !== false) {
        const a = raw.autoscaling;
        if (!isObject(a)) {
            p.add(at("autoscaling"), `must be { maxReplicas, targetCpuUtilization? } or false, got ${describe(a)}`);
        } else {
            unknownKeys(p, at, "autoscaling", a, ["maxReplicas", "targetCpuUtilization"]);
            // Required: intIn treats undefined/null as "use the default", and there is none here.
            const max =
                a.maxReplicas === undefined || a.maxReplicas === null
                    ? (p.add(at("autoscaling.maxReplicas"), "is required: the HPA maximum per track, an integer from 1 to 1000"), undefined)
                    : intIn(p, at("autoscaling.maxReplicas"), a.maxReplicas, undefined, 1, 1000);
            const target = intIn(p, at("autoscaling.targetCpuUtilization"), a.targetCpuUtilization, 70, 1, 100);
            if (max !== undefined && replicas !== undefined) {
                p.check(max >= replicas, at("autoscaling.maxReplicas"), `must be at least replicas (${replicas}), got ${max}`);
            }
            if (max !== undefined && target !== undefined) {
                autoscaling = { maxReplicas: max, targetCpuUtilization: target };
            }
        }
    }
    const resources = checkResources(p, at, raw.resources);
    const gpus = intIn(p, at("gpus"), raw.gpus, 0, 0, 16);
    const maxExtraGpus = intIn(p, at("maxExtraGpus"), raw.maxExtraGpus, 0, 0, 10000);
    let gate: GateConfig | undefined;
    try {
        const g: Record<string, unknown> = { thresholds: raw.thresholds ?? DEFAULT_GATE_CONFIG.thresholds };
        if (raw.significance !== undefined) g.significance = raw.significance;
        gate = validateGateConfig(g, "");
    } catch (e) {
        if (!(e instanceof GateConfigError)) throw e;
        for (const err of e.errors) p.add(at(err.propertyPath), err.reason);
    }
    const alerts = checkAlerts(p, at, raw.alerts);
    const runtime = checkRuntime(p, at, raw.runtime);
    if (p.list.length > before) {
        return undefined;
    }
    const core: ServingCore = {
        strategy: strategy as ServingStrategy,
        ...(blueGreen ? { blueGreen } : {}),
        ...(canary ? { canary } : {}),
        replicas: replicas!,
        ...(autoscaling ? { autoscaling } : {}),
        resources: resources!,
        gpus: gpus!,
        maxExtraGpus: maxExtraGpus!,
        gate: gate!,
        alerts: alerts!,
        runtime: runtime!,
    };
    for (const { path, release } of servedReleases(core)) {
        p.check(
            imageOptional || release.image !== undefined || runtime!.image !== undefined,
            at(`${path}.image`),
            `no image to serve ${release.model} v${release.version}: set runtime.image (the ${runtime!.kind === "mlflow" ? "MLflow serving" : runtime!.kind === "mlserver" ? "MLServer" : "model server"} image) or this release's image`,
        );
    }
    p.check(core.gpus > 0 || core.maxExtraGpus === 0, at("maxExtraGpus"), `is a GPU budget; it must be 0 when gpus is 0, got ${core.maxExtraGpus}`);
    const sink = { add: (path: string, reason: string) => p.add(at(path), reason) };
    const capacity = planCapacity(sink, {
        strategy: core.strategy,
        replicas: core.replicas,
        maxReplicas: core.autoscaling?.maxReplicas,
        gpus: core.gpus,
        maxExtraGpus: core.maxExtraGpus,
        bothSlotsFilled: !!(core.blueGreen?.slots.blue && core.blueGreen?.slots.green),
        hasCanary: !!core.canary?.canary,
        canaryWeight: core.canary?.canaryWeight,
        canaryReplicas: core.canary?.replicas,
        routing,
    });
    if (p.list.length > before) {
        return undefined;
    }
    return { core, capacity };
}

/**
 * Parses and validates the `mlops-platform:serving` config value (an object, or the JSON string
 * the Pulumi runtime hands the program). Throws InputPropertiesError naming every bad property as
 * `mlops-platform:serving.<path>`.
 */
/**
 * Parses `mlops-platform:serving`. Images are optional there: a release without `image` and a
 * runtime without `image` are served by the platform's trainer image (MlPlatform passes it).
 */
export function parseServingConfig(raw: unknown, opts: { environment?: string } = {}): ServingConfig {
    const prefix = `${SERVING_CONFIG_KEY}.`;
    const p = new Problems(`${SERVING_CONFIG_KEY} configuration`);
    let value = raw;
    if (typeof raw === "string") {
        try {
            value = JSON.parse(raw);
        } catch {
            p.add(SERVING_CONFIG_KEY, "must be an object (the stack file holds a YAML mapping), got a string that is not JSON");
            p.throwIfAny();
        }
    }
    if (!isObject(value)) {
        p.add(SERVING_CONFIG_KEY, `must be an object { strategy, blueGreen?, canary?, thresholds?, ... }, got ${describe(value)}`);
        p.throwIfAny();
    }
    const v = value as Record<string, unknown>;
    const allowed = [
        "name", "namespace", "strategy", "blueGreen", "canary", "replicas", "autoscaling", "resources", "gpus", "maxExtraGpus",
        "thresholds", "significance", "alerts", "runtime", "prometheusOperator", "gateway", "analysis", "predictionLog",
    ];
    unknownKeys(p, (k) => prefix + k, "", v, allowed);
    const name = v.name ?? "model";
    p.check(typeof name === "string" && DNS_LABEL.test(name) && name.length <= 40, `${prefix}name`, `must be a DNS-1123 label of at most 40 characters, got ${describe(name)}`);
    const namespace = v.namespace ?? "ml-serving";
    p.check(typeof namespace === "string" && DNS_LABEL.test(namespace), `${prefix}namespace`, `must be a DNS-1123 label, got ${describe(namespace)}`);
    const prometheusOperator = v.prometheusOperator ?? false;
    p.check(typeof prometheusOperator === "boolean", `${prefix}prometheusOperator`, `must be true or false, got ${describe(prometheusOperator)}`);
    let gateway: GatewayChoice = { mode: "none" };
    const g = v.gateway;
    if (g !== undefined) {
        if (!isObject(g)) {
            p.add(`${prefix}gateway`, `must be { mode: "none" | "install" | "existing", ... }, got ${describe(g)}`);
        } else {
            unknownKeys(p, (k) => prefix + k, "gateway", g, ["mode", "name", "namespace", "sectionName", "hostname"]);
            const mode = g.mode ?? "none";
            const hostname = g.hostname;
            if (hostname !== undefined) {
                p.check(
                    typeof hostname === "string" && /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(hostname),
                    `${prefix}gateway.hostname`,
                    `must be a DNS name (optionally *.-prefixed), got ${describe(hostname)}`,
                );
            }
            const host = typeof hostname === "string" ? { hostname } : {};
            if (mode === "none") {
                gateway = { mode };
            } else if (mode === "install") {
                gateway = { mode, ...host };
            } else if (mode === "existing") {
                const okName = p.check(typeof g.name === "string" && DNS_LABEL.test(g.name), `${prefix}gateway.name`, `is required for an existing Gateway (DNS label), got ${describe(g.name)}`);
                const okNs = p.check(typeof g.namespace === "string" && DNS_LABEL.test(g.namespace), `${prefix}gateway.namespace`, `is required for an existing Gateway (DNS label), got ${describe(g.namespace)}`);
                if (g.sectionName !== undefined) {
                    p.check(typeof g.sectionName === "string" && DNS_LABEL.test(g.sectionName), `${prefix}gateway.sectionName`, `must be a listener name, got ${describe(g.sectionName)}`);
                }
                if (okName && okNs) {
                    gateway = {
                        mode,
                        name: g.name as string,
                        namespace: g.namespace as string,
                        ...(typeof g.sectionName === "string" ? { sectionName: g.sectionName } : {}),
                        ...host,
                    };
                }
            } else {
                p.add(`${prefix}gateway.mode`, `must be one of "none", "install", "existing", got ${describe(mode)}`);
            }
        }
    }
    const analysis = checkAnalysisConfig(v.analysis, `${prefix}analysis.`);
    for (const e of analysis.problems) p.add(e.path, e.reason);
    const checked = checkServingCore(p, prefix, v, gateway.mode === "none" ? "replicaRatio" : "gateway", true);
    const predictionLog = checkPredictionLog(p, (k) => prefix + k, v.predictionLog, opts.environment, checked?.core.runtime);
    p.throwIfAny();
    return {
        name: name as string,
        namespace: namespace as string,
        prometheusOperator: prometheusOperator as boolean,
        gateway,
        analysis: analysis.config!,
        predictionLog: predictionLog!,
        ...checked!.core,
    };
}

/**
 * The releases a validated serving config runs, as the gating pack sees them in a plan: the
 * Deployment that carries each (`<name>-<track>`), its share of the traffic (HTTPRoute weight with a
 * Gateway, pod ratio behind the shared Service without one; mirrored and header-matched traffic do
 * not count) and, for blue-green, the Service that sends it live traffic.
 */
export function servedTracks(cfg: ServingConfig): ServedTrack[] {
    const workload = (track: string) => `Deployment ${cfg.namespace}/${cfg.name}-${track}`;
    const out: ServedTrack[] = [];
    if (cfg.strategy === "blueGreen" && cfg.blueGreen) {
        for (const slot of SLOTS) {
            const release = cfg.blueGreen.slots[slot];
            if (!release) continue;
            const active = slot === cfg.blueGreen.active;
            out.push({
                track: slot,
                release,
                workload: workload(slot),
                percent: active ? 100 : 0,
                via: `Service ${cfg.namespace}/${cfg.name}`,
                ...(active ? { activeService: `Service ${cfg.namespace}/${cfg.name}` } : {}),
            });
        }
    } else if (cfg.strategy === "canary" && cfg.canary) {
        const c = cfg.canary;
        const weight = c.canary ? c.canaryWeight : 0;
        const gateway = cfg.gateway.mode !== "none";
        const canaryPercent = gateway ? weight : replicaRatioSplit(weight, cfg.replicas).effectiveWeight;
        const via = gateway ? `HTTPRoute ${cfg.namespace}/${cfg.name} rules[${c.canary ? 1 : 0}]` : `Service ${cfg.namespace}/${cfg.name} (replica ratio)`;
        out.push({ track: "stable", release: c.stable, workload: workload("stable"), percent: 100 - canaryPercent, via });
        if (c.canary) out.push({ track: "canary", release: c.canary, workload: workload("canary"), percent: canaryPercent, via });
    }
    return out;
}
