// The platform's Grafana dashboards: model serving, GPUs, training jobs and data drift. Queries use
// the label contract the components establish: ServingStack's ServiceMonitors add `model_server`,
// `track` and `model_version` to every series of a model server; TrainingJob labels Jobs
// `mlops.platform/role=training`, which kube-state-metrics exposes as `label_mlops_platform_role`
// (Monitoring allow-lists it); the drift check pushes `model`/`feature` labelled gauges.
import { ServingMetrics } from "../servingStack";
import { DashboardSpec } from "./grafana";
import { DRIFT_DEFAULTS, DRIFT_METRICS } from "./metrics";

export interface DashboardOptions {
    serving: ServingMetrics;
    /** Availability objective of model servers (share of non-5xx requests), for the error-budget panel. */
    availabilityObjective: number;
    /** GPU utilisation (%) under which a GPU counts as idle. */
    gpuIdlePercent: number;
}

/** kube-state-metrics label of TrainingJob's `mlops.platform/role` Job label. */
export const KSM_ROLE_LABEL = "label_mlops_platform_role";

export function servingDashboard(o: DashboardOptions): DashboardSpec {
    const m = o.serving;
    const sel = `namespace=~"$namespace",model_server=~"$model_server"${m.requestSelector ? `,${m.requestSelector}` : ""}`;
    const req = (extra = "") => `${m.requestsCounter}{${sel}${extra}}`;
    const rate = (extra = "", by = "model_server, track") => `sum by (${by}) (rate(${req(extra)}[$__rate_interval]))`;
    const errors = `${m.statusLabel}=~"5.."`;
    const quantile = (q: number) =>
        `histogram_quantile(${q}, sum by (le, model_server, track) (rate(${m.latencyHistogram}_bucket{${sel}}[$__rate_interval])))`;
    const budget = 1 - o.availabilityObjective;
    return {
        uid: "mlops-serving",
        title: "MLOps / Model serving",
        description: `Requests, latency and errors per model server and track (stable/canary) or slot (blue/green). Source: ${m.requestsCounter} and ${m.latencyHistogram} exported by the model servers, labelled by ServingStack's ServiceMonitors.`,
        tags: ["mlops", "serving"],
        variables: [
            { name: "namespace", query: `label_values(${m.requestsCounter}, namespace)` },
            { name: "model_server", label: "model server", query: `label_values(${m.requestsCounter}{namespace=~"$namespace"}, model_server)` },
        ],
        rows: [
            {
                title: "Traffic",
                panels: [
                    { title: "Requests per second by track", kind: "timeseries", unit: "reqps", targets: [{ expr: rate(), legend: "{{model_server}} {{track}}" }] },
                    {
                        title: "Canary share of traffic",
                        kind: "timeseries",
                        unit: "percentunit",
                        min: 0,
                        max: 1,
                        description: "Delivered canary weight: the canary's share of requests (compare with the configured weight).",
                        targets: [{ expr: `${rate(`,track="canary"`, "model_server")} / ${rate("", "model_server")}`, legend: "{{model_server}}" }],
                    },
                ],
            },
            {
                title: "Latency",
                panels: [
                    { title: "p50 latency by track", kind: "timeseries", unit: "s", targets: [{ expr: quantile(0.5), legend: "{{model_server}} {{track}} p50" }] },
                    { title: "p99 latency by track", kind: "timeseries", unit: "s", targets: [{ expr: quantile(0.99), legend: "{{model_server}} {{track}} p99" }] },
                ],
            },
            {
                title: "Errors",
                panels: [
                    {
                        title: "5xx error rate by track",
                        kind: "timeseries",
                        unit: "percentunit",
                        targets: [{ expr: `${rate(`,${errors}`)} / ${rate()}`, legend: "{{model_server}} {{track}}" }],
                    },
                    {
                        title: "Canary vs stable error rate",
                        kind: "timeseries",
                        unit: "percentunit",
                        targets: [
                            { expr: `${rate(`,track="canary",${errors}`, "model_server")} / ${rate(`,track="canary"`, "model_server")}`, legend: "{{model_server}} canary" },
                            { expr: `${rate(`,track="stable",${errors}`, "model_server")} / ${rate(`,track="stable"`, "model_server")}`, legend: "{{model_server}} stable" },
                        ],
                    },
                    {
                        title: `Error budget left (30d, objective ${(o.availabilityObjective * 100).toFixed(2)}%)`,
                        kind: "stat",
                        unit: "percentunit",
                        thresholds: [
                            { value: 0, color: "red" },
                            { value: 0.25, color: "orange" },
                            { value: 0.5, color: "green" },
                        ],
                        targets: [
                            {
                                expr: `1 - ((sum by (model_server) (increase(${req(`,${errors}`)}[30d])) / sum by (model_server) (increase(${req()}[30d]))) / ${budget})`,
                                legend: "{{model_server}}",
                            },
                        ],
                    },
                    {
                        title: "Ready pods per model version",
                        kind: "table",
                        targets: [{ expr: `count by (model_server, track, model_version) (up{namespace=~"$namespace",model_server=~"$model_server"} == 1)` }],
                    },
                ],
            },
        ],
    };
}

export function gpuDashboard(o: DashboardOptions): DashboardSpec {
    const node = `Hostname=~"$node"`;
    const used = `sum by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{${node}})`;
    const free = `sum by (Hostname, gpu) (DCGM_FI_DEV_FB_FREE{${node}})`;
    const gpuRequests = `sum(kube_pod_container_resource_requests{resource="nvidia_com_gpu"} * on (namespace, pod) group_left () max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Running"} == 1))`;
    return {
        uid: "mlops-gpu",
        title: "MLOps / GPUs",
        description: "GPU utilisation and framebuffer memory per GPU (NVIDIA DCGM exporter) and GPU capacity vs requests (kube-state-metrics).",
        tags: ["mlops", "gpu", "cost"],
        variables: [{ name: "node", label: "GPU node", query: "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)" }],
        rows: [
            {
                title: "Utilisation",
                panels: [
                    { title: "GPU utilisation", kind: "timeseries", unit: "percent", min: 0, max: 100, targets: [{ expr: `avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{${node}})`, legend: "{{Hostname}} gpu{{gpu}}" }] },
                    {
                        title: `Idle GPUs (utilisation < ${o.gpuIdlePercent}%)`,
                        kind: "stat",
                        thresholds: [{ value: 1, color: "orange" }],
                        targets: [{ expr: `count(max by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{${node}}) < ${o.gpuIdlePercent}) or vector(0)` }],
                    },
                ],
            },
            {
                title: "Memory",
                panels: [
                    { title: "Framebuffer memory used", kind: "timeseries", unit: "mbytes", targets: [{ expr: used, legend: "{{Hostname}} gpu{{gpu}}" }] },
                    { title: "Framebuffer memory used (share)", kind: "timeseries", unit: "percentunit", min: 0, max: 1, targets: [{ expr: `${used} / (${used} + ${free})`, legend: "{{Hostname}} gpu{{gpu}}" }] },
                ],
            },
            {
                title: "Capacity",
                panels: [
                    {
                        title: "GPUs allocatable vs requested",
                        kind: "timeseries",
                        targets: [
                            { expr: `sum(kube_node_status_allocatable{resource="nvidia_com_gpu"})`, legend: "allocatable" },
                            { expr: gpuRequests, legend: "requested (pending + running pods)" },
                        ],
                    },
                ],
            },
        ],
    };
}

export function trainingDashboard(): DashboardSpec {
    const training = `kube_job_labels{${KSM_ROLE_LABEL}="training",namespace=~"$namespace"}`;
    const ns = `namespace=~"$namespace"`;
    return {
        uid: "mlops-training",
        title: "MLOps / Training jobs",
        description: "Training Jobs (label mlops.platform/role=training): running, succeeded, failed, durations. Source: kube-state-metrics job metrics.",
        tags: ["mlops", "training"],
        variables: [{ name: "namespace", query: `label_values(kube_job_labels{${KSM_ROLE_LABEL}="training"}, namespace)` }],
        rows: [
            {
                title: "Status",
                panels: [
                    { title: "Running", kind: "stat", width: 8, targets: [{ expr: `count(kube_job_status_active{${ns}} > 0 and on (namespace, job_name) ${training}) or vector(0)` }] },
                    { title: "Succeeded (kept Jobs)", kind: "stat", width: 8, targets: [{ expr: `count(kube_job_status_succeeded{${ns}} > 0 and on (namespace, job_name) ${training}) or vector(0)` }] },
                    {
                        title: "Failed (kept Jobs)",
                        kind: "stat",
                        width: 8,
                        thresholds: [{ value: 1, color: "red" }],
                        targets: [{ expr: `count(kube_job_failed{${ns},condition="true"} == 1 and on (namespace, job_name) ${training}) or vector(0)` }],
                    },
                ],
            },
            {
                title: "Durations and failures",
                panels: [
                    {
                        title: "Duration of finished training Jobs",
                        kind: "table",
                        unit: "s",
                        targets: [{ expr: `(kube_job_status_completion_time{${ns}} - kube_job_status_start_time{${ns}}) and on (namespace, job_name) ${training}` }],
                    },
                    {
                        title: "Running time of active training Jobs",
                        kind: "timeseries",
                        unit: "s",
                        targets: [
                            {
                                expr: `(time() - kube_job_status_start_time{${ns}}) and on (namespace, job_name) (kube_job_status_active > 0) and on (namespace, job_name) ${training}`,
                                legend: "{{namespace}}/{{job_name}}",
                            },
                        ],
                    },
                    {
                        title: "Failed pods per namespace",
                        kind: "timeseries",
                        targets: [{ expr: `sum by (namespace) (kube_job_status_failed{${ns}} and on (namespace, job_name) ${training})`, legend: "{{namespace}}" }],
                    },
                ],
            },
        ],
    };
}

export function driftDashboard(): DashboardSpec {
    const sel = `model=~"$model"`;
    const psiSteps = [
        { value: 0.1, color: "yellow" },
        { value: DRIFT_DEFAULTS.psiThreshold, color: "red" },
    ];
    return {
        uid: "mlops-drift",
        title: "MLOps / Data drift",
        description: `Per-feature population stability index and two-sample KS p-value between the training reference and the latest batch, pushed by the scheduled drift check (examples/credit-risk/drift.py). Default thresholds: PSI ${DRIFT_DEFAULTS.psiThreshold}, KS alpha ${DRIFT_DEFAULTS.ksAlpha}.`,
        tags: ["mlops", "drift"],
        from: "now-30d",
        refresh: "5m",
        variables: [{ name: "model", query: `label_values(${DRIFT_METRICS.psi}, model)` }],
        rows: [
            {
                title: "Summary",
                panels: [
                    { title: "Drifting features", kind: "stat", width: 8, thresholds: [{ value: 1, color: "red" }], targets: [{ expr: `sum by (model) (${DRIFT_METRICS.drift}{${sel}})`, legend: "{{model}}" }] },
                    { title: "Rows in the checked batch", kind: "stat", width: 8, targets: [{ expr: `max by (model) (${DRIFT_METRICS.rows}{${sel}})`, legend: "{{model}}" }] },
                    { title: "Age of the last check", kind: "stat", width: 8, unit: "s", targets: [{ expr: `time() - max by (model) (${DRIFT_METRICS.timestamp}{${sel}})`, legend: "{{model}}" }] },
                ],
            },
            {
                title: "Per feature",
                panels: [
                    { title: "PSI per feature", kind: "timeseries", thresholds: psiSteps, targets: [{ expr: `max by (model, feature) (${DRIFT_METRICS.psi}{${sel}})`, legend: "{{model}} {{feature}}" }] },
                    { title: "KS p-value per feature", kind: "timeseries", thresholds: [], targets: [{ expr: `min by (model, feature) (${DRIFT_METRICS.ksPvalue}{${sel}})`, legend: "{{model}} {{feature}}" }] },
                    {
                        title: "Latest check",
                        kind: "table",
                        width: 24,
                        targets: [
                            { expr: `max by (model, feature) (${DRIFT_METRICS.psi}{${sel}})`, instant: true },
                            { expr: `min by (model, feature) (${DRIFT_METRICS.ksPvalue}{${sel}})`, instant: true },
                            { expr: `max by (model, feature) (${DRIFT_METRICS.drift}{${sel}})`, instant: true },
                            { expr: `max by (model, feature) (${DRIFT_METRICS.missingRatio}{${sel}})`, instant: true },
                        ],
                    },
                ],
            },
        ],
    };
}

/** Every platform dashboard, keyed by the ConfigMap key (file name) Grafana loads it from. */
export function platformDashboards(o: DashboardOptions): Record<string, DashboardSpec> {
    return {
        "mlops-serving.json": servingDashboard(o),
        "mlops-gpu.json": gpuDashboard(o),
        "mlops-training.json": trainingDashboard(),
        "mlops-drift.json": driftDashboard(),
    };
}
