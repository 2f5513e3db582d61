// Automated canary analysis: the thresholds a stack sets under `mlops-platform:serving.analysis`,
// the PromQL that measures a track from the model server's own metrics, and the pure decision
// (promote / hold / roll back) the CLI (`mlops release analyze`) and the deploy pipelines act on.
// Pure module: no Pulumi, no I/O, so the program, the CLI and the gating pack share one copy.

/** Prometheus label that carries the track (stable/canary/blue/green), set by the ServiceMonitor relabeling. */
export const PROM_TRACK_LABEL = "track";
/** Prometheus label that carries the serving app (`<serving.name>`), set by the ServiceMonitor relabeling. */
export const PROM_SERVER_LABEL = "model_server";

/**
 * The series the analysis reads. Defaults are what MLServer (1.7) exports on its metrics port
 * (`metrics_port`, default 8082, path `/metrics`): its REST server is instrumented by
 * starlette-exporter with prefix `metrics_rest_server_prefix` (default `rest_server`), i.e. counter
 * `rest_server_requests_total` and histogram `rest_server_request_duration_seconds`, labels
 * `method`, `path`, `status_code`, `app_name`. Health and metrics paths are not counted.
 */
export interface AnalysisMetrics {
    requestsCounter: string;
    latencyHistogram: string;
    statusLabel: string;
    /** Label matchers that pick inference requests (not metadata or readiness calls). */
    requestSelector: string;
    /**
     * Regex on the status label counting a request as failed. MLServer answers an exception raised
     * by the model (InferenceError) with 400, not 5xx, on /invocations and the V2 infer path alike,
     * so a candidate that throws is only visible with 400 counted.
     */
    errorStatus: string;
}

export const MLSERVER_ANALYSIS_METRICS: AnalysisMetrics = {
    requestsCounter: "rest_server_requests_total",
    latencyHistogram: "rest_server_request_duration_seconds",
    statusLabel: "status_code",
    requestSelector: 'path=~"/invocations|/v2/models/.+/infer"',
    errorStatus: "5..|400",
};

/** An optional model-quality series (e.g. accuracy computed once ground-truth labels arrive). */
export interface QualityCheck {
    /** Gauge with a `track` label (and `model_server`, `namespace`), e.g. pushed by a label-join job. */
    metric: string;
    /** Whether a larger value is better. Default true. */
    higherIsBetter: boolean;
    /** Largest allowed degradation of the canary against stable (absolute, in the metric's unit). */
    maxDegradation: number;
    /** Refuse to decide without quality data. Default false: labels arrive late, the check then only notes its absence. */
    required: boolean;
}

/** `mlops-platform:serving.analysis`, defaults applied. */
export interface AnalysisConfig {
    /** Range the rates and quantiles are computed over (Prometheus duration). Default `10m`. */
    window: string;
    /** Requests the canary (and stable) must have served in the window before any decision. Default 100. */
    minRequests: number;
    /** Largest canary error ratio (failed / all requests; failed = metrics.errorStatus), absolute. Default 0.01. */
    maxErrorRate: number;
    /** Largest canary error ratio above stable's. Default 0.005. */
    maxErrorRateIncrease: number;
    /** Largest canary/stable ratio of p95 latency. Default 1.25. */
    maxP95LatencyRatio: number;
    /** Largest canary/stable ratio of p99 latency. Default 1.5. */
    maxP99LatencyRatio: number;
    /** Absolute p95 ceiling in seconds (optional). */
    maxP95LatencySeconds?: number;
    /** Absolute p99 ceiling in seconds (optional). */
    maxP99LatencySeconds?: number;
    /** Canary weights the rollout walks, strictly increasing, last 100. Default [10, 25, 50, 100]. */
    steps: number[];
    /** Latency differences below this many seconds never fail a ratio check (tiny absolute numbers are noisy). Default 0.005. */
    latencyNoiseFloorSeconds: number;
    quality?: QualityCheck;
    metrics: AnalysisMetrics;
}

export const DEFAULT_ANALYSIS: AnalysisConfig = {
    window: "10m",
    minRequests: 100,
    maxErrorRate: 0.01,
    maxErrorRateIncrease: 0.005,
    maxP95LatencyRatio: 1.25,
    maxP99LatencyRatio: 1.5,
    steps: [10, 25, 50, 100],
    latencyNoiseFloorSeconds: 0.005,
    metrics: MLSERVER_ANALYSIS_METRICS,
};

/** One problem in the analysis config: the full config key and what is allowed. */
export interface AnalysisConfigProblem {
    path: string;
    reason: string;
}

export const ANALYSIS_KEYS = [
    "window", "minRequests", "maxErrorRate", "maxErrorRateIncrease", "maxP95LatencyRatio", "maxP99LatencyRatio",
    "maxP95LatencySeconds", "maxP99LatencySeconds", "steps", "latencyNoiseFloorSeconds", "quality", "metrics",
] as const;

const DURATION_RE = /^[1-9][0-9]*(s|m|h)$/;
const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function show(v: unknown): string {
    if (v === undefined) return "nothing";
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number" && !Number.isFinite(v)) return String(v);
    return JSON.stringify(v) ?? String(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Seconds in a Prometheus duration such as `10m` (the forms the analysis config accepts). */
export function durationSeconds(d: string): number {
    const m = /^([0-9]+)(s|m|h)$/.exec(d);
    if (!m) throw new Error(`not a duration: ${d}`);
    return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
}

/**
 * Validates `serving.analysis` (undefined = defaults). Returns the config with defaults and the
 * problems, each naming `<prefix><key>` (e.g. `mlops-platform:serving.analysis.maxErrorRate`).
 */
export function checkAnalysisConfig(raw: unknown, prefix = "analysis."): { config?: AnalysisConfig; problems: AnalysisConfigProblem[] } {
    const problems: AnalysisConfigProblem[] = [];
    const add = (k: string, reason: string) => problems.push({ path: `${prefix}${k}`, reason });
    if (raw === undefined || raw === null) return { config: structuredClone(DEFAULT_ANALYSIS), problems };
    if (!isObject(raw)) {
        problems.push({ path: prefix.replace(/\.$/, ""), reason: `must be an object { window?, minRequests?, maxErrorRate?, ... }, got ${show(raw)}` });
        return { problems };
    }
    for (const k of Object.keys(raw)) {
        if (!(ANALYSIS_KEYS as readonly string[]).includes(k)) add(k, `unknown property; expected one of ${ANALYSIS_KEYS.join(", ")}`);
    }
    const c: AnalysisConfig = { ...structuredClone(DEFAULT_ANALYSIS) };
    const num = (k: keyof AnalysisConfig, ok: (n: number) => boolean, allowed: string) => {
        const v = raw[k];
        if (v === undefined) return;
        if (typeof v === "number" && Number.isFinite(v) && ok(v)) (c as any)[k] = v;
        else add(k, `must be ${allowed}, got ${show(v)}`);
    };
    if (raw.window !== undefined) {
        if (typeof raw.window === "string" && DURATION_RE.test(raw.window) && durationSeconds(raw.window) >= 60 && durationSeconds(raw.window) <= 86400) c.window = raw.window;
        else add("window", `must be a Prometheus duration from 1m to 24h such as 10m (s, m or h), got ${show(raw.window)}`);
    }
    num("minRequests", (n) => Number.isInteger(n) && n >= 1, "an integer of at least 1 (requests per track in the window)");
    num("maxErrorRate", (n) => n >= 0 && n <= 1, "a fraction in [0, 1] (0.01 = 1%)");
    num("maxErrorRateIncrease", (n) => n >= 0 && n <= 1, "a fraction in [0, 1] (canary error ratio minus stable's)");
    num("maxP95LatencyRatio", (n) => n >= 1, "a ratio of at least 1 (canary p95 / stable p95)");
    num("maxP99LatencyRatio", (n) => n >= 1, "a ratio of at least 1 (canary p99 / stable p99)");
    num("maxP95LatencySeconds", (n) => n > 0, "a positive number of seconds");
    num("maxP99LatencySeconds", (n) => n > 0, "a positive number of seconds");
    num("latencyNoiseFloorSeconds", (n) => n >= 0 && n < 10, "a number of seconds in [0, 10)");
    if (raw.steps !== undefined) {
        const s = raw.steps;
        if (
            Array.isArray(s) &&
            s.length > 0 &&
            s.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 100) &&
            s.every((x, i) => i === 0 || x > s[i - 1]) &&
            s[s.length - 1] === 100
        ) {
            c.steps = [...s];
        } else {
            add("steps", `must be strictly increasing integer percentages from 1 to 100 ending at 100, e.g. [10, 25, 50, 100], got ${show(s)}`);
        }
    }
    if (raw.quality !== undefined) {
        const q = raw.quality;
        if (!isObject(q)) {
            add("quality", `must be { metric, maxDegradation, higherIsBetter?, required? }, got ${show(q)}`);
        } else {
            for (const k of Object.keys(q)) {
                if (!["metric", "maxDegradation", "higherIsBetter", "required"].includes(k)) add(`quality.${k}`, "unknown property; expected one of metric, maxDegradation, higherIsBetter, required");
            }
            const okMetric = typeof q.metric === "string" && METRIC_NAME_RE.test(q.metric);
            if (!okMetric) add("quality.metric", `must be a Prometheus metric name (a gauge with a ${PROM_TRACK_LABEL} label), got ${show(q.metric)}`);
            const okDeg = typeof q.maxDegradation === "number" && Number.isFinite(q.maxDegradation) && q.maxDegradation >= 0;
            if (!okDeg) add("quality.maxDegradation", `must be a number >= 0 (largest allowed drop of the canary against stable), got ${show(q.maxDegradation)}`);
            const hib = q.higherIsBetter ?? true;
            if (typeof hib !== "boolean") add("quality.higherIsBetter", `must be true or false, got ${show(hib)}`);
            const req = q.required ?? false;
            if (typeof req !== "boolean") add("quality.required", `must be true or false, got ${show(req)}`);
            if (okMetric && okDeg && typeof hib === "boolean" && typeof req === "boolean") {
                c.quality = { metric: q.metric as string, maxDegradation: q.maxDegradation as number, higherIsBetter: hib, required: req };
            }
        }
    }
    if (raw.metrics !== undefined) {
        const m = raw.metrics;
        if (!isObject(m)) {
            add("metrics", `must be { requestsCounter?, latencyHistogram?, statusLabel?, requestSelector?, errorStatus? }, got ${show(m)}`);
        } else {
            const out = { ...MLSERVER_ANALYSIS_METRICS };
            for (const k of Object.keys(m)) {
                if (!["requestsCounter", "latencyHistogram", "statusLabel", "requestSelector", "errorStatus"].includes(k)) add(`metrics.${k}`, "unknown property; expected one of requestsCounter, latencyHistogram, statusLabel, requestSelector, errorStatus");
            }
            for (const k of ["requestsCounter", "latencyHistogram"] as const) {
                if (m[k] === undefined) continue;
                if (typeof m[k] === "string" && METRIC_NAME_RE.test(m[k] as string)) out[k] = m[k] as string;
                else add(`metrics.${k}`, `must be a Prometheus metric name, got ${show(m[k])}`);
            }
            if (m.statusLabel !== undefined) {
                if (typeof m.statusLabel === "string" && LABEL_NAME_RE.test(m.statusLabel)) out.statusLabel = m.statusLabel;
                else add("metrics.statusLabel", `must be a Prometheus label name, got ${show(m.statusLabel)}`);
            }
            if (m.requestSelector !== undefined) {
                // label="v" / label=~"re" / label!="v", comma-separated, or empty for every request.
                const matcher = /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*$/;
                const s = m.requestSelector;
                if (typeof s === "string" && (s.trim() === "" || splitMatchers(s).every((x) => matcher.test(x)))) out.requestSelector = s.trim();
                else add("metrics.requestSelector", `must be comma-separated Prometheus label matchers such as path="/invocations", got ${show(s)}`);
            }
            if (m.errorStatus !== undefined) {
                let ok = typeof m.errorStatus === "string" && /^[0-9.|x]+$/.test(m.errorStatus) && m.errorStatus.length > 0;
                if (ok) {
                    try {
                        new RegExp(`^(${m.errorStatus})$`);
                    } catch {
                        ok = false;
                    }
                }
                if (ok) out.errorStatus = m.errorStatus as string;
                else add("metrics.errorStatus", `must be a regex over status codes such as "5..|400" (digits, '.', '|'), got ${show(m.errorStatus)}`);
            }
            c.metrics = out;
        }
    }
    if (c.maxP95LatencySeconds !== undefined && c.maxP99LatencySeconds !== undefined && c.maxP99LatencySeconds < c.maxP95LatencySeconds) {
        add("maxP99LatencySeconds", `must be at least maxP95LatencySeconds (${c.maxP95LatencySeconds}), got ${c.maxP99LatencySeconds}`);
    }
    return problems.length ? { problems } : { config: c, problems };
}

function splitMatchers(s: string): string[] {
    const out: string[] = [];
    let cur = "";
    let inStr = false;
    for (let i = 0; i < s.length; i++) {
        const ch = s[i];
        if (ch === "\\" && inStr) {
            cur += ch + (s[i + 1] ?? "");
            i++;
            continue;
        }
        if (ch === '"') inStr = !inStr;
        if (ch === "," && !inStr) {
            out.push(cur);
            cur = "";
        } else cur += ch;
    }
    out.push(cur);
    return out;
}

// ---------------------------------------------------------------------------------------------
// PromQL
// ---------------------------------------------------------------------------------------------

/** Where a track's pods are: the labels the ServiceMonitor puts on every scraped series. */
export interface TrackTarget {
    namespace: string;
    /** `serving.name` (the `model_server` label). */
    server: string;
    track: string;
}

export interface TrackQueries {
    requests: string;
    errors: string;
    p95: string;
    p99: string;
    quality?: string;
}

function esc(v: string): string {
    return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

/** The PromQL measuring one track over the analysis window. */
export function trackQueries(t: TrackTarget, cfg: Pick<AnalysisConfig, "window" | "metrics" | "quality">): TrackQueries {
    const m = cfg.metrics;
    const base = `namespace="${esc(t.namespace)}",${PROM_SERVER_LABEL}="${esc(t.server)}",${PROM_TRACK_LABEL}="${esc(t.track)}"`;
    const sel = m.requestSelector ? `${base},${m.requestSelector}` : base;
    const w = cfg.window;
    // increase() extrapolates to the window's edges; sum() over pods and label sets (paths, methods).
    const q = (phi: number) => `histogram_quantile(${phi}, sum by (le) (rate(${m.latencyHistogram}_bucket{${sel}}[${w}])))`;
    return {
        requests: `sum(increase(${m.requestsCounter}{${sel}}[${w}]))`,
        errors: `sum(increase(${m.requestsCounter}{${sel},${m.statusLabel}=~"${m.errorStatus}"}[${w}]))`,
        p95: q(0.95),
        p99: q(0.99),
        ...(cfg.quality ? { quality: `avg(avg_over_time(${cfg.quality.metric}{${base}}[${w}]))` } : {}),
    };
}

// ---------------------------------------------------------------------------------------------
// Decision
// ---------------------------------------------------------------------------------------------

/** What Prometheus answered for one track; undefined = empty result (no series). */
export interface TrackMeasurement {
    requests?: number;
    errors?: number;
    p95?: number;
    p99?: number;
    quality?: number;
}

export type Verdict = "promote" | "hold" | "rollback";

export interface CheckRow {
    check: string;
    canary: string;
    baseline: string;
    limit: string;
    result: "pass" | "fail" | "no data" | "skipped";
}

export interface AnalysisResult {
    verdict: Verdict;
    /** Why, one line per reason (the failing checks, or what is missing). */
    reasons: string[];
    rows: CheckRow[];
}

const fmt = (x: number | undefined, digits = 4): string => (x === undefined || Number.isNaN(x) ? "n/a" : String(Number(x.toPrecision(digits))));
const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? "n/a" : `${Number((x * 100).toPrecision(3))}%`);
const secs = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? "n/a" : `${Number((x * 1000).toPrecision(4))}ms`);

/** A usable number: finite (Prometheus answers NaN for 0/0 and +Inf for quantiles in the top bucket). */
function finite(x: number | undefined): x is number {
    return typeof x === "number" && Number.isFinite(x);
}

/**
 * Compares a candidate (canary, or the blue-green preview slot) with the baseline (stable, or the
 * active slot). Pure. Rules, in order:
 * - too few candidate requests (or none measured): hold; nothing else is judged on too little data;
 * - candidate error ratio above maxErrorRate, or above the baseline's by more than
 *   maxErrorRateIncrease: roll back (errors are judged even when latency has no data);
 * - p95/p99 above the absolute ceilings, or above baseline × ratio (and by more than the noise
 *   floor): roll back; a quantile of +Inf (every request in the top bucket) counts as failing;
 * - quality worse than the baseline by more than maxDegradation: roll back; missing quality data
 *   holds only when `required`;
 * - comparisons with a baseline need baseline traffic of at least minRequests; without it the
 *   relative checks are skipped and the verdict is hold unless an absolute check already failed.
 */
export function decideCanary(candidate: TrackMeasurement, baseline: TrackMeasurement, cfg: AnalysisConfig): AnalysisResult {
    const rows: CheckRow[] = [];
    const fails: string[] = [];
    const holds: string[] = [];
    const cReq = finite(candidate.requests) ? candidate.requests : 0;
    const bReq = finite(baseline.requests) ? baseline.requests : 0;
    const enough = cReq >= cfg.minRequests;
    const baselineEnough = bReq >= cfg.minRequests;
    rows.push({
        check: "requests",
        canary: fmt(cReq, 6),
        baseline: fmt(bReq, 6),
        limit: `>= ${cfg.minRequests}`,
        result: enough ? "pass" : "fail",
    });
    if (!enough) {
        holds.push(`the candidate served ${fmt(cReq, 6)} requests in ${cfg.window}; at least ${cfg.minRequests} are needed to decide (analysis.minRequests)`);
        return { verdict: "hold", reasons: holds, rows };
    }
    if (!baselineEnough) {
        holds.push(`the baseline served ${fmt(bReq, 6)} requests in ${cfg.window} (< ${cfg.minRequests}); relative checks need baseline traffic`);
    }
    const cErr = finite(candidate.errors) ? candidate.errors / cReq : 0;
    const bErr = baselineEnough ? (finite(baseline.errors) ? baseline.errors / bReq : 0) : undefined;
    const errAbsFail = cErr > cfg.maxErrorRate;
    rows.push({ check: "error rate", canary: pct(cErr), baseline: pct(bErr), limit: `<= ${pct(cfg.maxErrorRate)}`, result: errAbsFail ? "fail" : "pass" });
    if (errAbsFail) fails.push(`error rate ${pct(cErr)} is above analysis.maxErrorRate ${pct(cfg.maxErrorRate)}`);
    if (bErr !== undefined) {
        const inc = cErr - bErr;
        const incFail = inc > cfg.maxErrorRateIncrease + 1e-12;
        rows.push({ check: "error rate increase", canary: pct(inc), baseline: "", limit: `<= ${pct(cfg.maxErrorRateIncrease)}`, result: incFail ? "fail" : "pass" });
        if (incFail) fails.push(`error rate ${pct(cErr)} exceeds the baseline's ${pct(bErr)} by more than analysis.maxErrorRateIncrease ${pct(cfg.maxErrorRateIncrease)}`);
    } else {
        rows.push({ check: "error rate increase", canary: "n/a", baseline: "n/a", limit: `<= ${pct(cfg.maxErrorRateIncrease)}`, result: "skipped" });
    }
    for (const [q, ratioKey, absKey] of [
        ["p95", "maxP95LatencyRatio", "maxP95LatencySeconds"],
        ["p99", "maxP99LatencyRatio", "maxP99LatencySeconds"],
    ] as const) {
        const c = candidate[q];
        const b = baseline[q];
        const ratio = cfg[ratioKey];
        const abs = cfg[absKey];
        const cKnown = c !== undefined && !Number.isNaN(c);
        if (!cKnown) {
            rows.push({ check: `${q} latency`, canary: "n/a", baseline: secs(b), limit: `<= ${ratio}x baseline`, result: "no data" });
            holds.push(`no ${q} latency for the candidate (no histogram samples in ${cfg.window})`);
            continue;
        }
        if (abs !== undefined) {
            const f = !(c! <= abs);
            rows.push({ check: `${q} latency (absolute)`, canary: secs(c), baseline: secs(b), limit: `<= ${secs(abs)}`, result: f ? "fail" : "pass" });
            if (f) fails.push(`${q} latency ${secs(c)} is above analysis.${absKey} ${secs(abs)}`);
        }
        if (!baselineEnough || b === undefined || Number.isNaN(b)) {
            rows.push({ check: `${q} latency ratio`, canary: secs(c), baseline: secs(b), limit: `<= ${ratio}x baseline`, result: "skipped" });
            if (baselineEnough) holds.push(`no ${q} latency for the baseline (no histogram samples in ${cfg.window})`);
            continue;
        }
        const limit = b * ratio;
        const f = !Number.isFinite(c!) ? true : c! > limit && c! - b > cfg.latencyNoiseFloorSeconds;
        rows.push({
            check: `${q} latency ratio`,
            canary: secs(c),
            baseline: secs(b),
            limit: `<= ${ratio}x = ${secs(limit)}`,
            result: f ? "fail" : "pass",
        });
        if (f) fails.push(`${q} latency ${secs(c)} is above ${ratio}x the baseline's ${secs(b)} (analysis.${ratioKey})`);
    }
    if (cfg.quality) {
        const q = cfg.quality;
        const c = candidate.quality;
        const b = baseline.quality;
        if (!finite(c) || !finite(b)) {
            rows.push({ check: `quality ${q.metric}`, canary: fmt(c), baseline: fmt(b), limit: `drop <= ${q.maxDegradation}`, result: "no data" });
            if (q.required) holds.push(`no ${q.metric} for ${!finite(c) ? "the candidate" : "the baseline"} yet (analysis.quality.required)`);
        } else {
            const drop = q.higherIsBetter ? b - c : c - b;
            const f = drop > q.maxDegradation + 1e-12;
            rows.push({ check: `quality ${q.metric}`, canary: fmt(c), baseline: fmt(b), limit: `drop <= ${q.maxDegradation}`, result: f ? "fail" : "pass" });
            if (f) fails.push(`${q.metric} ${fmt(c)} is worse than the baseline's ${fmt(b)} by ${fmt(drop)} (> analysis.quality.maxDegradation ${q.maxDegradation})`);
        }
    }
    if (fails.length) return { verdict: "rollback", reasons: fails, rows };
    if (holds.length) return { verdict: "hold", reasons: holds, rows };
    return { verdict: "promote", reasons: ["every check passed"], rows };
}

/** The next canary weight of the step plan after `current`, or undefined at/after the last step. */
export function nextStep(steps: number[], current: number): number | undefined {
    return steps.find((s) => s > current);
}

/** Exit codes of `mlops release analyze` (documented in the README). */
export const ANALYZE_EXIT = { promote: 0, error: 1, hold: 2, rollback: 3 } as const;

/** A verdict table as printed. */
export function formatAnalysisTable(result: AnalysisResult, names: { candidate: string; baseline: string }): string {
    const head = ["check", names.candidate, names.baseline, "limit", "result"];
    const body = result.rows.map((r) => [r.check, r.canary, r.baseline, r.limit, r.result]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
    return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}
