// The contract between the ServingStack component (which writes these labels/annotations) and
// the policy packs (which read them back at preview). Keep it dependency-free: components import it.

/** Prefix of every platform label and annotation key. */
export const PREFIX = "mlops.platform/";

/** Label on workloads (and their pod templates) naming what they are for. */
export const ROLE_LABEL = "mlops.platform/role";
export const ROLES = ["serving", "training", "tracking", "system"] as const;
export type PlatformRole = (typeof ROLES)[number];

/**
 * Label on serving Services naming what they are for: `active`, `preview` (blue-green idle slot),
 * `track` (one canary track), `shared` (both tracks, replica-ratio split).
 */
export const ENDPOINT_LABEL = "mlops.platform/endpoint";

export const TRACKS = ["stable", "canary", "blue", "green"] as const;
export type Track = (typeof TRACKS)[number];

/** Gate outcome recorded with a release: `none` = not evaluated. */
export const GATE_STATUSES = ["pass", "fail", "none"] as const;
export type GateStatus = (typeof GATE_STATUSES)[number];

/** Annotation keys on serving Deployments (metadata.annotations). */
export const ANNOTATIONS = {
    model: "mlops.platform/model",
    version: "mlops.platform/version",
    modelUri: "mlops.platform/model-uri",
    track: "mlops.platform/track",
    /** `mlops.platform/metric.<name>` = number as string */
    metricPrefix: "mlops.platform/metric.",
    baselineVersion: "mlops.platform/baseline-version",
    /** `mlops.platform/baseline-metric.<name>` = number as string */
    baselineMetricPrefix: "mlops.platform/baseline-metric.",
    evaluationSamples: "mlops.platform/evaluation-samples",
    baselineEvaluationSamples: "mlops.platform/baseline-evaluation-samples",
    approvedBy: "mlops.platform/approved-by",
    gate: "mlops.platform/gate",
    /**
     * The metric thresholds the gate verdict was computed with (JSON; the stack's serving.thresholds).
     * The gating pack re-checks the release against these, so the stack stays the one threshold source.
     */
    gateThresholds: "mlops.platform/gate-thresholds",
} as const;

/** A model version on its way to serving, as it travels through stack config. */
export interface ModelRelease {
    /** Registered model name, e.g. `churn-classifier`. */
    model: string;
    /** Registry version, e.g. `7`. */
    version: string;
    /** Immutable reference: `models:/<name>/<version>` or a digest-pinned URI. */
    modelUri: string;
    /** Serving image (`repo@sha256:...`); carried in the container spec, not in annotations. */
    image?: string;
    /** Candidate evaluation metrics. */
    metrics: Record<string, number>;
    /** The release it is compared with (normally the current stable). */
    baseline?: { version: string; metrics: Record<string, number>; samples?: number };
    /** Size of the candidate's evaluation set. */
    evaluation?: { samples: number };
    /** Who approved the release (required in prod). */
    approvedBy?: string;
}

/** A release read back from annotations, with anything malformed listed instead of thrown. */
export interface ParsedRelease {
    release: ModelRelease;
    track?: Track;
    gate: GateStatus;
    /** Human-readable problems (bad numbers, unknown track, missing required keys). */
    problems: string[];
    /** The thresholds recorded with the verdict (`gate-thresholds`, parsed JSON; validated by the rules). */
    gateThresholds?: unknown;
}

/** Thrown by releaseAnnotations for a release that cannot be written; names the property. */
export class ReleaseAnnotationError extends Error {
    constructor(
        public readonly propertyPath: string,
        public readonly reason: string,
    ) {
        super(`invalid release: ${propertyPath}: ${reason}`);
        this.name = "ReleaseAnnotationError";
    }
}

// The part after the prefix must be a valid annotation name (<= 63 chars, alnum at both ends).
const NAME_PART_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function checkMetrics(metrics: Record<string, number>, path: string, prefix: string): void {
    for (const [name, value] of Object.entries(metrics)) {
        const part = prefix.slice(PREFIX.length) + name;
        if (!NAME_PART_RE.test(part) || part.length > 63) {
            throw new ReleaseAnnotationError(`${path}.${name}`, `metric name does not fit an annotation key (${prefix}${name})`);
        }
        if (typeof value !== "number" || !Number.isFinite(value)) {
            throw new ReleaseAnnotationError(`${path}.${name}`, `must be a finite number, got ${String(value)}`);
        }
    }
}

function checkSamples(n: number | undefined, path: string): void {
    if (n !== undefined && !(Number.isInteger(n) && n > 0)) {
        throw new ReleaseAnnotationError(path, `must be a positive integer, got ${String(n)}`);
    }
}

/**
 * JSON with object keys sorted at every level: the recorded thresholds must not depend on the key
 * order of the stack file (the Pulumi CLI hands object config to the program with sorted keys, the
 * YAML file keeps the author's order), or `pulumi up` and `mlops plan` would disagree.
 */
export function canonicalJson(value: unknown): string {
    const sorted = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(sorted);
        if (v !== null && typeof v === "object") {
            return Object.fromEntries(
                Object.keys(v as Record<string, unknown>)
                    .sort()
                    .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
            );
        }
        return v;
    };
    return JSON.stringify(sorted(value));
}

/**
 * The annotations ServingStack puts on a serving Deployment for `release` on `track`.
 * `verdict` is the gate outcome: a status, or a verdict object from `evaluateGate` (`passed`).
 */
export function releaseAnnotations(
    release: ModelRelease,
    track: Track,
    verdict: GateStatus | { passed: boolean; config?: { thresholds: unknown } } = "none",
): Record<string, string> {
    if (!release.model) throw new ReleaseAnnotationError("model", "is required");
    if (release.version === undefined || String(release.version) === "") throw new ReleaseAnnotationError("version", "is required");
    if (!release.modelUri) throw new ReleaseAnnotationError("modelUri", "is required");
    if (!TRACKS.includes(track)) throw new ReleaseAnnotationError("track", `must be one of ${TRACKS.join(", ")}, got ${track}`);
    const gate: GateStatus = typeof verdict === "string" ? verdict : verdict.passed ? "pass" : "fail";
    if (!GATE_STATUSES.includes(gate)) throw new ReleaseAnnotationError("gate", `must be one of ${GATE_STATUSES.join(", ")}`);
    checkMetrics(release.metrics ?? {}, "metrics", ANNOTATIONS.metricPrefix);
    checkSamples(release.evaluation?.samples, "evaluation.samples");

    const out: Record<string, string> = {
        [ANNOTATIONS.model]: release.model,
        [ANNOTATIONS.version]: String(release.version),
        [ANNOTATIONS.modelUri]: release.modelUri,
        [ANNOTATIONS.track]: track,
        [ANNOTATIONS.gate]: gate,
    };
    if (typeof verdict !== "string" && verdict.config) {
        out[ANNOTATIONS.gateThresholds] = canonicalJson(verdict.config.thresholds);
    }
    for (const [k, v] of Object.entries(release.metrics ?? {})) {
        out[ANNOTATIONS.metricPrefix + k] = String(v);
    }
    if (release.evaluation?.samples !== undefined) {
        out[ANNOTATIONS.evaluationSamples] = String(release.evaluation.samples);
    }
    if (release.baseline) {
        if (release.baseline.version === undefined || String(release.baseline.version) === "") {
            throw new ReleaseAnnotationError("baseline.version", "is required when a baseline is given");
        }
        checkMetrics(release.baseline.metrics ?? {}, "baseline.metrics", ANNOTATIONS.baselineMetricPrefix);
        checkSamples(release.baseline.samples, "baseline.samples");
        out[ANNOTATIONS.baselineVersion] = String(release.baseline.version);
        for (const [k, v] of Object.entries(release.baseline.metrics ?? {})) {
            out[ANNOTATIONS.baselineMetricPrefix + k] = String(v);
        }
        if (release.baseline.samples !== undefined) {
            out[ANNOTATIONS.baselineEvaluationSamples] = String(release.baseline.samples);
        }
    }
    if (release.approvedBy) {
        out[ANNOTATIONS.approvedBy] = release.approvedBy;
    }
    return out;
}

function parseNumber(raw: string, key: string, problems: string[]): number | undefined {
    const n = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(n)) {
        problems.push(`${key}='${raw}' is not a number`);
        return undefined;
    }
    return n;
}

function parseSamples(raw: string | undefined, key: string, problems: string[]): number | undefined {
    if (raw === undefined) return undefined;
    const n = parseNumber(raw, key, problems);
    if (n !== undefined && !(Number.isInteger(n) && n > 0)) {
        problems.push(`${key}='${raw}' is not a positive integer`);
        return undefined;
    }
    return n;
}

/**
 * Reads a release back from annotations. Returns undefined when there is no `model` annotation
 * (not a release-carrying workload). Never throws: malformed values are listed in `problems`.
 */
export function parseReleaseAnnotations(annotations: Record<string, string | undefined> | undefined): ParsedRelease | undefined {
    const a = annotations ?? {};
    const model = a[ANNOTATIONS.model];
    if (model === undefined) return undefined;
    const problems: string[] = [];
    const required = (key: string): string => {
        const v = a[key];
        if (v === undefined || v === "") problems.push(`${key} is missing`);
        return v ?? "";
    };
    const version = required(ANNOTATIONS.version);
    const modelUri = required(ANNOTATIONS.modelUri);
    if (model === "") problems.push(`${ANNOTATIONS.model} is empty`);

    const metrics: Record<string, number> = {};
    const baselineMetrics: Record<string, number> = {};
    for (const [key, raw] of Object.entries(a)) {
        if (raw === undefined) continue;
        if (key.startsWith(ANNOTATIONS.metricPrefix)) {
            const n = parseNumber(raw, key, problems);
            if (n !== undefined) metrics[key.slice(ANNOTATIONS.metricPrefix.length)] = n;
        } else if (key.startsWith(ANNOTATIONS.baselineMetricPrefix)) {
            const n = parseNumber(raw, key, problems);
            if (n !== undefined) baselineMetrics[key.slice(ANNOTATIONS.baselineMetricPrefix.length)] = n;
        }
    }

    const release: ModelRelease = { model, version, modelUri, metrics };
    const samples = parseSamples(a[ANNOTATIONS.evaluationSamples], ANNOTATIONS.evaluationSamples, problems);
    if (samples !== undefined) release.evaluation = { samples };
    const baselineVersion = a[ANNOTATIONS.baselineVersion];
    const baselineSamples = parseSamples(a[ANNOTATIONS.baselineEvaluationSamples], ANNOTATIONS.baselineEvaluationSamples, problems);
    if (baselineVersion !== undefined && baselineVersion !== "") {
        release.baseline = { version: baselineVersion, metrics: baselineMetrics };
        if (baselineSamples !== undefined) release.baseline.samples = baselineSamples;
    } else if (Object.keys(baselineMetrics).length > 0) {
        problems.push(`baseline metrics are present but ${ANNOTATIONS.baselineVersion} is missing`);
    }
    const approvedBy = a[ANNOTATIONS.approvedBy];
    if (approvedBy) release.approvedBy = approvedBy;

    let track: Track | undefined;
    const rawTrack = a[ANNOTATIONS.track];
    if (rawTrack !== undefined) {
        if ((TRACKS as readonly string[]).includes(rawTrack)) track = rawTrack as Track;
        else problems.push(`${ANNOTATIONS.track}='${rawTrack}' is not one of ${TRACKS.join(", ")}`);
    }
    let gate: GateStatus = "none";
    const rawGate = a[ANNOTATIONS.gate];
    if (rawGate !== undefined) {
        if ((GATE_STATUSES as readonly string[]).includes(rawGate)) gate = rawGate as GateStatus;
        else problems.push(`${ANNOTATIONS.gate}='${rawGate}' is not one of ${GATE_STATUSES.join(", ")}`);
    }
    const parsed: ParsedRelease = { release, track, gate, problems };
    const rawThresholds = a[ANNOTATIONS.gateThresholds];
    if (rawThresholds !== undefined) {
        try {
            parsed.gateThresholds = JSON.parse(rawThresholds);
        } catch {
            problems.push(`${ANNOTATIONS.gateThresholds} is not JSON`);
        }
    }
    return parsed;
}
