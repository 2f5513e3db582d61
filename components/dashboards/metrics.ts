// The metrics the platform's alert rules and dashboards read, with who exports each one and where
// it is documented. Every PromQL expression the platform renders is checked against this table
// (see `unknownMetrics`), so a rule cannot silently read a series no exporter produces.
import { MLSERVER_ANALYSIS_METRICS } from "../../release-contract/analysis";
import { DEFAULT_SERVING_METRICS, ServingMetrics } from "../servingStack";

export interface MetricSource {
    /** Metric type as the exporter declares it. */
    type: "counter" | "gauge" | "histogram";
    /** Component that exposes it. */
    exporter: string;
    /** Where the name, type and labels are documented. */
    doc: string;
    /** Labels the rules and dashboards rely on. */
    labels: string[];
}

/** Names the drift check (examples/credit-risk/drift.py) pushes, one group per model. */
export const DRIFT_METRICS = {
    psi: "mlops_feature_psi",
    ksPvalue: "mlops_feature_ks_pvalue",
    drift: "mlops_feature_drift",
    timestamp: "mlops_drift_check_timestamp_seconds",
    rows: "mlops_drift_batch_rows",
    missingRatio: "mlops_feature_missing_ratio",
} as const;

/** Pushgateway `job` of the drift check's group (grouping key `job`/`model`). */
export const DRIFT_PUSH_JOB = "mlops_drift";

const KSM = "kube-state-metrics (kube-prometheus-stack subchart)";
const KSM_DOC = "https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics";
const DCGM = "NVIDIA DCGM exporter (default counters)";
const DCGM_DOC = "https://github.com/NVIDIA/dcgm-exporter/blob/main/etc/default-counters.csv";
const DRIFT = "examples/credit-risk/drift.py via the Pushgateway";
const DRIFT_DOC = "examples/credit-risk/README.md#drift-check";
const MLSERVER = "MLServer model server (metrics port 8082, /metrics; REST metrics by starlette-exporter, prefix rest_server)";
const MLSERVER_DOC = "https://github.com/SeldonIO/MLServer/blob/master/docs-gb/user-guide/metrics.md";

/**
 * The names MLServer (the serving image's server) exports for the REST API, as the platform's
 * serving rules and dashboards read them: counter `rest_server_requests_total` and histogram
 * `rest_server_request_duration_seconds`, labels method, path (route template), status_code,
 * app_name. Measured on mlserver 1.7.1 by test/contract/canary-analysis.contract.spec.ts.
 */
export const MLSERVER_METRIC_NAMES: Pick<ServingMetrics, "latencyHistogram" | "requestsCounter" | "statusLabel" | "requestSelector"> = {
    latencyHistogram: MLSERVER_ANALYSIS_METRICS.latencyHistogram,
    requestsCounter: MLSERVER_ANALYSIS_METRICS.requestsCounter,
    statusLabel: MLSERVER_ANALYSIS_METRICS.statusLabel,
    requestSelector: MLSERVER_ANALYSIS_METRICS.requestSelector,
};

/** The catalogue: metric name → source. Histograms also cover their `_bucket`, `_sum`, `_count` series. */
export const METRIC_SOURCES: Readonly<Record<string, MetricSource>> = {
    // Model servers: MLServer's REST metrics (names configurable per ServingStack / Monitoring).
    [MLSERVER_METRIC_NAMES.latencyHistogram]: { type: "histogram", exporter: MLSERVER, doc: MLSERVER_DOC, labels: ["method", "path", "status_code", "app_name", "le"] },
    [MLSERVER_METRIC_NAMES.requestsCounter]: { type: "counter", exporter: MLSERVER, doc: MLSERVER_DOC, labels: ["method", "path", "status_code", "app_name"] },
    // Prometheus itself, per scrape target.
    up: {
        type: "gauge",
        exporter: "Prometheus (synthetic, one per scrape target)",
        doc: "https://prometheus.io/docs/concepts/jobs_instances/#automatically-generated-labels-and-time-series",
        labels: ["job", "instance", "namespace"],
    },
    // GPUs.
    DCGM_FI_DEV_GPU_UTIL: { type: "gauge", exporter: DCGM, doc: DCGM_DOC, labels: ["gpu", "UUID", "Hostname", "modelName"] },
    DCGM_FI_DEV_FB_USED: { type: "gauge", exporter: DCGM, doc: DCGM_DOC, labels: ["gpu", "UUID", "Hostname", "modelName"] },
    DCGM_FI_DEV_FB_FREE: { type: "gauge", exporter: DCGM, doc: DCGM_DOC, labels: ["gpu", "UUID", "Hostname", "modelName"] },
    // Kubernetes object state.
    kube_job_status_failed: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/workload/job-metrics.md`, labels: ["namespace", "job_name", "reason"] },
    kube_job_status_succeeded: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/workload/job-metrics.md`, labels: ["namespace", "job_name"] },
    kube_job_status_active: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/workload/job-metrics.md`, labels: ["namespace", "job_name"] },
    kube_job_status_start_time: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/workload/job-metrics.md`, labels: ["namespace", "job_name"] },
    kube_job_status_completion_time: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/workload/job-metrics.md`, labels: ["namespace", "job_name"] },
    kube_job_failed: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/workload/job-metrics.md`, labels: ["namespace", "job_name", "condition"] },
    kube_job_labels: {
        type: "gauge",
        exporter: `${KSM}, labels allow-listed by --metric-labels-allowlist`,
        doc: `${KSM_DOC}/workload/job-metrics.md`,
        labels: ["namespace", "job_name", "label_mlops_platform_role"],
    },
    kube_job_owner: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/workload/job-metrics.md`, labels: ["namespace", "job_name", "owner_kind", "owner_name"] },
    kube_deployment_status_replicas_available: {
        type: "gauge",
        exporter: KSM,
        doc: `${KSM_DOC}/workload/deployment-metrics.md`,
        labels: ["namespace", "deployment"],
    },
    kube_node_status_allocatable: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/cluster/node-metrics.md`, labels: ["node", "resource", "unit"] },
    kube_pod_container_resource_requests: {
        type: "gauge",
        exporter: KSM,
        doc: `${KSM_DOC}/workload/pod-metrics.md`,
        labels: ["namespace", "pod", "node", "resource"],
    },
    kube_pod_status_phase: { type: "gauge", exporter: KSM, doc: `${KSM_DOC}/workload/pod-metrics.md`, labels: ["namespace", "pod", "phase"] },
    // Drift check results.
    [DRIFT_METRICS.psi]: { type: "gauge", exporter: DRIFT, doc: DRIFT_DOC, labels: ["model", "feature"] },
    [DRIFT_METRICS.ksPvalue]: { type: "gauge", exporter: DRIFT, doc: DRIFT_DOC, labels: ["model", "feature"] },
    [DRIFT_METRICS.drift]: { type: "gauge", exporter: DRIFT, doc: DRIFT_DOC, labels: ["model", "feature"] },
    [DRIFT_METRICS.missingRatio]: { type: "gauge", exporter: DRIFT, doc: DRIFT_DOC, labels: ["model", "feature"] },
    [DRIFT_METRICS.timestamp]: { type: "gauge", exporter: DRIFT, doc: DRIFT_DOC, labels: ["model"] },
    [DRIFT_METRICS.rows]: { type: "gauge", exporter: DRIFT, doc: DRIFT_DOC, labels: ["model"] },
};

/** The catalogue with a stack's own serving metric names (ServingMetrics overrides) added. */
export function metricCatalogue(serving: ServingMetrics = DEFAULT_SERVING_METRICS): Record<string, MetricSource> {
    const custom = "model server (names configured in ServingMetrics)";
    return {
        ...METRIC_SOURCES,
        [serving.latencyHistogram]: METRIC_SOURCES[serving.latencyHistogram] ?? { type: "histogram", exporter: custom, doc: "ServingMetrics", labels: ["le"] },
        [serving.requestsCounter]: METRIC_SOURCES[serving.requestsCounter] ?? { type: "counter", exporter: custom, doc: "ServingMetrics", labels: [serving.statusLabel] },
    };
}

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "inf", "nan", "atan2"]);

/**
 * The metric names a PromQL expression reads: identifiers outside label matchers, ranges,
 * strings and grouping clauses that are not functions, aggregations or keywords.
 */
export function promqlMetricNames(expr: string): string[] {
    let s = expr
        .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ") // strings
        .replace(/\{[^}]*\}/g, " ") // label matchers
        .replace(/\[[^\]]*\]/g, " "); // ranges and subqueries
    // Label lists of grouping and matching clauses: by (le), on (node), group_left (x).
    s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
    const names = new Set<string>();
    const re = /[a-zA-Z_:][a-zA-Z0-9_:]*/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(s)) !== null) {
        const word = m[0];
        const before = s.slice(0, m.index);
        const after = s.slice(m.index + word.length);
        if (/^\s*\(/.test(after)) continue; // function or aggregation call
        if (/[0-9.]$/.test(before) || /^[0-9]/.test(word)) continue; // part of a number (1e3)
        if (KEYWORDS.has(word.toLowerCase())) continue;
        names.add(word);
    }
    return [...names].sort();
}

/** Metric names in `exprs` that the catalogue does not know (histogram series map to their family). */
export function unknownMetrics(exprs: string[], catalogue: Record<string, MetricSource> = METRIC_SOURCES): string[] {
    const known = (name: string): boolean => {
        if (catalogue[name]) return true;
        const family = name.replace(/_(bucket|sum|count)$/, "");
        return family !== name && catalogue[family]?.type === "histogram";
    };
    return [...new Set(exprs.flatMap(promqlMetricNames))].filter((n) => !known(n)).sort();
}

/**
 * Default drift thresholds. PSI: < 0.1 no significant change, 0.1–0.25 moderate, > 0.25 major
 * (Siddiqi, "Credit Risk Scorecards", Wiley 2006; Yurdakul, "Statistical Properties of the
 * Population Stability Index", 2018); 0.2 is the common "act on it" cut between the two upper bands.
 * KS: reject "same distribution" when the two-sample KS p-value is below alpha = 0.01
 * (scipy.stats.ks_2samp; a stricter level than 0.05 because a check tests every feature every run).
 */
export const DRIFT_DEFAULTS = { psiThreshold: 0.2, ksAlpha: 0.01 } as const;
