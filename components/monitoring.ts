// Monitoring: Prometheus, Alertmanager and Grafana (kube-prometheus-stack), GPU metrics (NVIDIA
// DCGM exporter), a Pushgateway for batch jobs, the platform's Grafana dashboards as code and its
// alert rules, for one cluster.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ROLE_LABEL } from "../release-contract/annotations";
import { DashboardOptions, KSM_ROLE_LABEL, platformDashboards } from "./dashboards/platform";
import { buildDashboard } from "./dashboards/grafana";
import {
    ResourceSpec,
    RESTRICTED_NAMESPACE_LABELS,
    containerResources,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
    scratchVolume,
} from "./k8s-security";
import { checkResources, quantityValue } from "./k8s-validation";
import { GPU_PRESENT_LABEL, GPU_TAINT } from "./gpuNodeGroup";
import { Toleration } from "./scheduling";
import { DEFAULT_SERVING_METRICS, ServingMetrics } from "./servingStack";
import { RUN_ID_LABEL, TRAINING_JOB_LABEL } from "./trainingJob";
import { Problems, checkDnsLabel, checkInt, describe } from "./validation";
import { DCGM_EXPORTER_CHART, KUBE_PROMETHEUS_STACK_CHART, PUSHGATEWAY_IMAGE } from "./versions";

/** uid/gid of the Grafana image (the chart's default securityContext). */
export const GRAFANA_UID = 472;

/** Label the Grafana sidecar loads dashboard ConfigMaps by (kube-prometheus-stack default). */
export const GRAFANA_DASHBOARD_LABEL = { grafana_dashboard: "1" } as const;
/** Port of the Pushgateway (upstream default). */
export const PUSHGATEWAY_PORT = 9091;
/** Where the Prometheus Operator mounts `alertmanagerSpec.secrets`: `<dir>/<secret>/<key>`. */
export const ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets";
/** Job labels kube-state-metrics exposes as `label_*` (the training alerts and dashboard join on them). */
export const KSM_LABELS_ALLOWLIST = [`jobs=[${ROLE_LABEL},${TRAINING_JOB_LABEL},${RUN_ID_LABEL}]`, `cronjobs=[${ROLE_LABEL}]`];

/** A Kubernetes Secret key in the monitoring namespace (created outside Pulumi, e.g. by External Secrets). */
export interface SecretKeyRef {
    /** Secret name. */
    name: string;
    /** Key holding the credential. */
    key: string;
}

/**
 * Where Alertmanager sends notifications. The credential (webhook URL, routing/API key) is never a
 * value here: Alertmanager reads it from the Secret, mounted into its pods, through the receiver's
 * `*_file` field (https://prometheus.io/docs/alerting/latest/configuration/#receiver-integration-settings).
 */
export type AlertReceiver =
    | { name: string; type: "slack"; secret: SecretKeyRef; /** Channel override (the webhook's default otherwise). */ channel?: string }
    | { name: string; type: "pagerduty"; /** Events API v2 routing key. */ secret: SecretKeyRef }
    | { name: string; type: "webhook"; /** The URL (it often embeds a token). */ secret: SecretKeyRef }
    | { name: string; type: "opsgenie"; /** API key. */ secret: SecretKeyRef };

export const RECEIVER_TYPES = ["slack", "pagerduty", "webhook", "opsgenie"] as const;

/** A child route of Alertmanager's routing tree. */
export interface AlertRoute {
    receiver: string;
    /** Alertmanager matchers, e.g. `severity="critical"`, `component=~"serving|tracking"`. All must match. */
    matchers: string[];
    /** Keep evaluating later routes after a match. Default false. */
    continue?: boolean;
    /** Minimum time between repeated notifications for this route, e.g. `1h`. */
    repeatInterval?: string;
}

/** Thresholds of the platform alert rules. */
export interface PlatformAlertSettings {
    /** Default `for` of rules without a specific one. Default `10m`. */
    for: string;
    /** Availability objective of every model server (share of non-5xx responses). Default 0.995. */
    servingAvailabilityObjective: number;
    /** p99 latency objective over 30 minutes, seconds. Default 1. */
    servingP99LatencySeconds: number;
    /** Canary 5xx ratio minus stable 5xx ratio above which the canary is worse. Default 0.01 (1 point). */
    canaryErrorRateMargin: number;
    /** Canary requests/s below which the comparison is not made (too little traffic). Default 0.1. */
    canaryMinRequestsPerSecond: number;
    /** GPU utilisation (%) under which a GPU counts as idle. Default 5. */
    gpuIdlePercent: number;
    /** How long a GPU node must stay idle/unallocated before the cost alert fires. Default `2h`. */
    gpuIdleFor: string;
    /** How long the tracking server may have no available replica. Default `5m`. */
    trackingDownFor: string;
    /** How long a training Job must be failed before alerting. Default `1m`. */
    trainingFailedFor: string;
}

export const DEFAULT_PLATFORM_ALERTS: PlatformAlertSettings = {
    for: "10m",
    servingAvailabilityObjective: 0.995,
    servingP99LatencySeconds: 1,
    canaryErrorRateMargin: 0.01,
    canaryMinRequestsPerSecond: 0.1,
    gpuIdlePercent: 5,
    gpuIdleFor: "2h",
    trackingDownFor: "5m",
    trainingFailedFor: "1m",
};

export interface MonitoringArgs {
    /** Kubernetes provider of the cluster. Required: every k8s resource names its provider. */
    provider: k8s.Provider;
    /** Namespace to create for the stack (Pod Security "restricted" enforced). Default `monitoring`. */
    namespace?: string;
    /**
     * Existing namespace for the node agents that need host access (node-exporter: host network/PID
     * and /proc, /sys; DCGM exporter: root with SYS_ADMIN and the kubelet pod-resources socket),
     * which a "restricted" namespace would refuse. Default `kube-system`.
     */
    nodeAgentsNamespace?: string;
    /** Helm release name; prefixes every object the charts create. Default `kps`. */
    releaseName?: string;
    /** Chart reference and version. Default {@link KUBE_PROMETHEUS_STACK_CHART}. */
    chart?: { chart?: string; repo?: string; version?: string };
    /**
     * Extra kube-prometheus-stack values, deep-merged last. Keys that carry credentials or replace the
     * routing (grafana.adminPassword, grafana.admin, alertmanager.config, alertmanager.stringConfig)
     * are refused: use `grafana.adminSecret` and `alertmanager`.
     */
    extraValues?: Record<string, unknown>;
    /** Registry mirror (e.g. an ECR pull-through cache) for every chart image (`global.imageRegistry`). Default none. */
    imageRegistry?: string;
    /** StorageClass of the persistent volumes (MlCluster.storageClassName: encrypted gp3). */
    storageClassName: pulumi.Input<string>;
    prometheus?: {
        /** How long samples are kept (Prometheus duration). Default `15d`. */
        retention?: string;
        /** Size cap of the TSDB (e.g. `45GB`); the oldest blocks go first. Default: 90% of storageSize. */
        retentionSize?: string;
        /** Volume size per replica. Default `50Gi`. */
        storageSize?: string;
        /** Replicas (each scrapes everything; 2 for HA). Default 1. */
        replicas?: number;
        /** Default scrape interval. Default `30s`. */
        scrapeInterval?: string;
        /** Requests/limits. Default cpu 500m, memory 2Gi (limit 4Gi). */
        resources?: ResourceSpec;
    };
    alertmanager: {
        /** Notification targets; credentials come from Secrets (see {@link AlertReceiver}). */
        receivers: AlertReceiver[];
        /** Receiver of alerts no route matches. */
        defaultReceiver: string;
        /** Child routes, evaluated in order. Default none. */
        routes?: AlertRoute[];
        /** Labels alerts are grouped by in one notification. Default alertname, namespace, severity. */
        groupBy?: string[];
        /** Default repeat interval. Default `4h`. */
        repeatInterval?: string;
        /** Replicas (gossip cluster for HA). Default 1. */
        replicas?: number;
        /** Volume for silences and the notification log. Default `5Gi`. */
        storageSize?: string;
    };
    grafana: {
        /** Existing Secret in the monitoring namespace with the admin user and password (never a value here). */
        adminSecret: { name: string; userKey?: string; passwordKey?: string };
        /** Volume for Grafana's database (users, preferences). Default `10Gi`. */
        storageSize?: string;
    };
    /** NVIDIA DCGM exporter on GPU nodes, or false. Default on. */
    dcgmExporter?:
        | false
        | {
              chart?: { chart?: string; repo?: string; version?: string };
              /** Nodes to run on. Default every GPU node of every GpuNodeGroup (`nvidia.com/gpu.present: "true"`). */
              nodeSelector?: Record<string, string>;
              /** Taints to tolerate. Default the GpuNodeGroup GPU taint (`nvidia.com/gpu`, NoSchedule). */
              tolerations?: Toleration[];
              /** Requests/limits. Default cpu 100m, memory 512Mi (limit 1Gi). */
              resources?: ResourceSpec;
          };
    /** Pushgateway for batch jobs (the drift check), or false. Default on. */
    pushgateway?:
        | false
        | {
              /** Image, pinned by tag or digest. Default {@link PUSHGATEWAY_IMAGE}. */
              image?: string;
              /** Namespaces whose pods may push (e.g. where DriftMonitor runs). Default none (only the monitoring namespace). */
              allowFromNamespaces?: string[];
              resources?: ResourceSpec;
          };
    /** Thresholds of the platform alert rules. */
    alerts?: Partial<PlatformAlertSettings>;
    /** Metric names of the model servers (as given to ServingStack). Default: MLServer's ({@link DEFAULT_SERVING_METRICS}). */
    servingMetrics?: Partial<ServingMetrics>;
    /** The MLflow tracking server Deployment to watch, or false. Default `mlflow` in namespace `mlflow` (TrackingServer's defaults). */
    trackingServer?: false | { namespace: string; deploymentName: string };
}

/** Settings after defaults; see {@link validateMonitoringArgs}. */
export interface MonitoringSettings {
    namespace: string;
    nodeAgentsNamespace: string;
    releaseName: string;
    chart: { chart: string; repo: string; version: string };
    extraValues: Record<string, unknown>;
    imageRegistry?: string;
    prometheus: { retention: string; retentionSize: string; storageSize: string; replicas: number; scrapeInterval: string; resources: ResourceSpec };
    alertmanager: {
        receivers: AlertReceiver[];
        defaultReceiver: string;
        routes: AlertRoute[];
        groupBy: string[];
        repeatInterval: string;
        replicas: number;
        storageSize: string;
    };
    grafana: { adminSecret: { name: string; userKey: string; passwordKey: string }; storageSize: string };
    dcgmExporter?: { chart: { chart: string; repo: string; version: string }; nodeSelector: Record<string, string>; tolerations: Toleration[]; resources: ResourceSpec };
    pushgateway?: { image: string; allowFromNamespaces: string[]; resources: ResourceSpec };
    alerts: PlatformAlertSettings;
    servingMetrics: ServingMetrics;
    trackingServer?: { namespace: string; deploymentName: string };
}

const PROM_DURATION = /^([0-9]+(ms|s|m|h|d|w|y))+$/;
const TSDB_SIZE = /^[0-9]+(B|KB|MB|GB|TB|PB|EB)$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MATCHER = /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
const PINNED_IMAGE = /^[^\s@]+(@sha256:[a-f0-9]{64})?$/;
const FORBIDDEN_EXTRA_VALUES = ["grafana.adminPassword", "grafana.admin", "alertmanager.config", "alertmanager.stringConfig", "alertmanager.alertmanagerSpec.useExistingSecret"];

function exactVersion(p: Problems, path: string, v: unknown): void {
    p.check(typeof v === "string" && /^v?[0-9]+\.[0-9]+\.[0-9]+$/.test(v), path, `must be an exact chart version (e.g. ${KUBE_PROMETHEUS_STACK_CHART.version}), got ${describe(v)}`);
}

function checkDuration(p: Problems, path: string, v: unknown): void {
    p.check(typeof v === "string" && PROM_DURATION.test(v), path, `must be a Prometheus duration such as "10m" or "15d", got ${describe(v)}`);
}

function checkQuantity(p: Problems, path: string, v: unknown): void {
    const q = quantityValue(v);
    p.check(q !== undefined && q > 0, path, `must be a storage quantity such as "50Gi", got ${describe(v)}`);
}

/** Whether an image reference is pinned: an explicit tag other than `latest`, and/or a digest. */
export function isPinnedImage(image: string): boolean {
    if (typeof image !== "string" || !PINNED_IMAGE.test(image)) return false;
    const [name, digest] = image.split("@");
    const lastSlash = name.lastIndexOf("/");
    const colon = name.indexOf(":", lastSlash + 1);
    const tag = colon >= 0 ? name.slice(colon + 1) : undefined;
    return (tag !== undefined && tag !== "" && tag !== "latest") || digest !== undefined;
}

function hasPath(values: Record<string, unknown>, dotted: string): boolean {
    let cur: unknown = values;
    for (const part of dotted.split(".")) {
        if (cur === null || typeof cur !== "object" || !(part in (cur as Record<string, unknown>))) return false;
        cur = (cur as Record<string, unknown>)[part];
    }
    return true;
}

/** Validates Monitoring args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateMonitoringArgs(args: MonitoringArgs): MonitoringSettings {
    const p = new Problems("Monitoring arguments");
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    p.check(args.storageClassName !== undefined, "storageClassName", "is required (MlCluster.storageClassName: the encrypted gp3 class)");
    const prom = args.prometheus ?? {};
    const storageSize = prom.storageSize ?? "50Gi";
    const storageBytes = quantityValue(storageSize) ?? 0;
    const am = args.alertmanager;
    const s: MonitoringSettings = {
        namespace: args.namespace ?? "monitoring",
        nodeAgentsNamespace: args.nodeAgentsNamespace ?? "kube-system",
        releaseName: args.releaseName ?? "kps",
        chart: {
            chart: args.chart?.chart ?? KUBE_PROMETHEUS_STACK_CHART.chart,
            repo: args.chart?.repo ?? KUBE_PROMETHEUS_STACK_CHART.repo,
            version: args.chart?.version ?? KUBE_PROMETHEUS_STACK_CHART.version,
        },
        extraValues: args.extraValues ?? {},
        ...(args.imageRegistry !== undefined ? { imageRegistry: args.imageRegistry } : {}),
        prometheus: {
            retention: prom.retention ?? "15d",
            // The size cap keeps Prometheus from filling the volume (a full volume stops ingestion).
            retentionSize: prom.retentionSize ?? `${Math.max(1, Math.floor((storageBytes * 0.9) / 1e9))}GB`,
            storageSize,
            replicas: prom.replicas ?? 1,
            scrapeInterval: prom.scrapeInterval ?? "30s",
            resources: prom.resources ?? { cpu: "500m", memory: "2Gi", memoryLimit: "4Gi" },
        },
        alertmanager: {
            receivers: am?.receivers ?? [],
            defaultReceiver: am?.defaultReceiver,
            routes: am?.routes ?? [],
            groupBy: am?.groupBy ?? ["alertname", "namespace", "severity"],
            repeatInterval: am?.repeatInterval ?? "4h",
            replicas: am?.replicas ?? 1,
            storageSize: am?.storageSize ?? "5Gi",
        },
        grafana: {
            adminSecret: {
                name: args.grafana?.adminSecret?.name,
                userKey: args.grafana?.adminSecret?.userKey ?? "admin-user",
                passwordKey: args.grafana?.adminSecret?.passwordKey ?? "admin-password",
            },
            storageSize: args.grafana?.storageSize ?? "10Gi",
        },
        alerts: { ...DEFAULT_PLATFORM_ALERTS, ...(args.alerts ?? {}) },
        // MLServer's names (what the serving image exports), unless the stack says otherwise.
        servingMetrics: { ...DEFAULT_SERVING_METRICS, ...(args.servingMetrics ?? {}) },
    };
    if (args.dcgmExporter !== false) {
        const d = args.dcgmExporter ?? {};
        s.dcgmExporter = {
            chart: {
                chart: d.chart?.chart ?? DCGM_EXPORTER_CHART.chart,
                repo: d.chart?.repo ?? DCGM_EXPORTER_CHART.repo,
                version: d.chart?.version ?? DCGM_EXPORTER_CHART.version,
            },
            nodeSelector: d.nodeSelector ?? { [GPU_PRESENT_LABEL]: "true" },
            tolerations: d.tolerations ?? [{ key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect }],
            resources: d.resources ?? { cpu: "100m", memory: "512Mi", memoryLimit: "1Gi" },
        };
    }
    if (args.pushgateway !== false) {
        const g = args.pushgateway ?? {};
        s.pushgateway = {
            image: g.image ?? PUSHGATEWAY_IMAGE,
            allowFromNamespaces: g.allowFromNamespaces ?? [],
            resources: g.resources ?? { cpu: "50m", memory: "64Mi", memoryLimit: "128Mi" },
        };
    }
    if (args.trackingServer !== false) {
        s.trackingServer = args.trackingServer ?? { namespace: "mlflow", deploymentName: "mlflow" };
    }

    checkDnsLabel(p, "namespace", s.namespace);
    checkDnsLabel(p, "nodeAgentsNamespace", s.nodeAgentsNamespace);
    p.check(s.namespace !== s.nodeAgentsNamespace, "nodeAgentsNamespace", `must differ from namespace ("${s.namespace}" enforces the restricted profile the node agents cannot meet)`);
    if (checkDnsLabel(p, "releaseName", s.releaseName)) {
        // Chart object names append suffixes such as "-prometheus-node-exporter" (24 characters).
        p.check(s.releaseName.length <= 20, "releaseName", `must be at most 20 characters (the charts append suffixes to it), got ${s.releaseName.length}`);
    }
    exactVersion(p, "chart.version", s.chart.version);
    p.check(/^(https:\/\/|oci:\/\/)/.test(s.chart.repo), "chart.repo", `must be an https:// or oci:// chart repository, got ${describe(s.chart.repo)}`);
    for (const path of FORBIDDEN_EXTRA_VALUES) {
        p.check(!hasPath(s.extraValues, path), `extraValues.${path}`, "is managed by the component (credentials come from Secrets; routing from `alertmanager`) and may not be overridden");
    }
    if (s.imageRegistry !== undefined) {
        p.check(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._/-]+)?$/.test(s.imageRegistry), "imageRegistry", `must be a registry host (and optional path), got ${describe(s.imageRegistry)}`);
    }

    checkDuration(p, "prometheus.retention", s.prometheus.retention);
    p.check(TSDB_SIZE.test(s.prometheus.retentionSize), "prometheus.retentionSize", `must be a Prometheus size such as "45GB" (B, KB, MB, GB, TB, PB, EB), got ${describe(s.prometheus.retentionSize)}`);
    checkQuantity(p, "prometheus.storageSize", s.prometheus.storageSize);
    if (TSDB_SIZE.test(s.prometheus.retentionSize) && storageBytes > 0) {
        const [, n, unit] = /^([0-9]+)([A-Z]+)$/.exec(s.prometheus.retentionSize)!;
        const bytes = Number(n) * ({ B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15, EB: 1e18 } as Record<string, number>)[unit];
        p.check(bytes < storageBytes, "prometheus.retentionSize", `must be below prometheus.storageSize (${s.prometheus.storageSize}) so compaction has room`);
    }
    checkInt(p, "prometheus.replicas", s.prometheus.replicas, 1, 5);
    checkDuration(p, "prometheus.scrapeInterval", s.prometheus.scrapeInterval);
    checkResources(p, "prometheus.resources", s.prometheus.resources);

    // Alertmanager: receivers reference Secrets; routes reference receivers.
    p.check(am !== undefined, "alertmanager", "is required: receivers (credentials from Secrets) and a defaultReceiver");
    const names = new Set<string>();
    s.alertmanager.receivers.forEach((r, i) => {
        const at = `alertmanager.receivers[${i}]`;
        if (p.check(typeof r?.name === "string" && /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/.test(r.name), `${at}.name`, `must be letters, digits, '-' or '_' (at most 63), got ${describe(r?.name)}`)) {
            p.check(r.name !== "null", `${at}.name`, `"null" is reserved (the receiver that drops the Watchdog heartbeat)`);
            p.check(!names.has(r.name), `${at}.name`, `duplicates receiver "${r.name}"`);
            names.add(r.name);
        }
        p.check((RECEIVER_TYPES as readonly string[]).includes(r?.type), `${at}.type`, `must be one of ${RECEIVER_TYPES.map((t) => `"${t}"`).join(", ")}, got ${describe(r?.type)}`);
        checkDnsLabel(p, `${at}.secret.name`, r?.secret?.name);
        p.check(typeof r?.secret?.key === "string" && SECRET_KEY.test(r.secret.key), `${at}.secret.key`, `must be a Secret key (letters, digits, '-', '_', '.'), got ${describe(r?.secret?.key)}`);
        for (const k of Object.keys(r ?? {})) {
            p.check(["name", "type", "secret", "channel"].includes(k), `${at}.${k}`, "is not a receiver setting; credentials (URLs, keys) belong in the Secret named by `secret`");
        }
        if (r?.type === "slack" && r.channel !== undefined) {
            p.check(/^[#@]?[a-z0-9._-]{1,80}$/.test(r.channel), `${at}.channel`, `must be a Slack channel name, got ${describe(r.channel)}`);
        }
    });
    p.check(s.alertmanager.receivers.length > 0, "alertmanager.receivers", "must hold at least one receiver (alerts that reach nobody are lost)");
    p.check(names.has(s.alertmanager.defaultReceiver), "alertmanager.defaultReceiver", `must name one of the receivers (${[...names].map((n) => `"${n}"`).join(", ") || "none defined"}), got ${describe(s.alertmanager.defaultReceiver)}`);
    s.alertmanager.routes.forEach((r, i) => {
        const at = `alertmanager.routes[${i}]`;
        p.check(names.has(r?.receiver), `${at}.receiver`, `must name one of the receivers, got ${describe(r?.receiver)}`);
        p.check(Array.isArray(r?.matchers) && r.matchers.length > 0, `${at}.matchers`, "must hold at least one matcher such as severity=\"critical\"");
        (r?.matchers ?? []).forEach((m, j) =>
            p.check(typeof m === "string" && MATCHER.test(m), `${at}.matchers[${j}]`, `must be an Alertmanager matcher such as severity="critical" or component=~"serving|gpu", got ${describe(m)}`),
        );
        if (r?.repeatInterval !== undefined) checkDuration(p, `${at}.repeatInterval`, r.repeatInterval);
    });
    s.alertmanager.groupBy.forEach((l, i) => p.check(LABEL_NAME.test(l), `alertmanager.groupBy[${i}]`, `must be a label name, got ${describe(l)}`));
    checkDuration(p, "alertmanager.repeatInterval", s.alertmanager.repeatInterval);
    checkInt(p, "alertmanager.replicas", s.alertmanager.replicas, 1, 5);
    checkQuantity(p, "alertmanager.storageSize", s.alertmanager.storageSize);

    p.check(args.grafana !== undefined, "grafana", "is required: grafana.adminSecret names the Secret holding the admin credentials");
    if (checkDnsLabel(p, "grafana.adminSecret.name", s.grafana.adminSecret.name)) {
        p.check(SECRET_KEY.test(s.grafana.adminSecret.userKey), "grafana.adminSecret.userKey", `must be a Secret key, got ${describe(s.grafana.adminSecret.userKey)}`);
        p.check(SECRET_KEY.test(s.grafana.adminSecret.passwordKey), "grafana.adminSecret.passwordKey", `must be a Secret key, got ${describe(s.grafana.adminSecret.passwordKey)}`);
    }
    checkQuantity(p, "grafana.storageSize", s.grafana.storageSize);

    if (s.dcgmExporter) {
        exactVersion(p, "dcgmExporter.chart.version", s.dcgmExporter.chart.version);
        checkResources(p, "dcgmExporter.resources", s.dcgmExporter.resources);
        p.check(Object.keys(s.dcgmExporter.nodeSelector).length > 0, "dcgmExporter.nodeSelector", "must select the GPU nodes (the exporter fails on nodes without GPUs)");
    }
    if (s.pushgateway) {
        p.check(isPinnedImage(s.pushgateway.image), "pushgateway.image", `must be pinned by an explicit tag (not latest) or a digest, got ${describe(s.pushgateway.image)}`);
        s.pushgateway.allowFromNamespaces.forEach((n, i) => checkDnsLabel(p, `pushgateway.allowFromNamespaces[${i}]`, n));
        checkResources(p, "pushgateway.resources", s.pushgateway.resources);
    }
    if (s.trackingServer) {
        checkDnsLabel(p, "trackingServer.namespace", s.trackingServer.namespace);
        checkDnsLabel(p, "trackingServer.deploymentName", s.trackingServer.deploymentName);
    }

    const a = s.alerts;
    for (const k of ["for", "gpuIdleFor", "trackingDownFor", "trainingFailedFor"] as const) checkDuration(p, `alerts.${k}`, a[k]);
    p.check(typeof a.servingAvailabilityObjective === "number" && a.servingAvailabilityObjective >= 0.9 && a.servingAvailabilityObjective < 1, "alerts.servingAvailabilityObjective", `must be in [0.9, 1) (e.g. 0.995), got ${describe(a.servingAvailabilityObjective)}`);
    p.check(typeof a.servingP99LatencySeconds === "number" && a.servingP99LatencySeconds > 0, "alerts.servingP99LatencySeconds", `must be a positive number of seconds, got ${describe(a.servingP99LatencySeconds)}`);
    p.check(typeof a.canaryErrorRateMargin === "number" && a.canaryErrorRateMargin >= 0 && a.canaryErrorRateMargin < 1, "alerts.canaryErrorRateMargin", `must be in [0, 1), got ${describe(a.canaryErrorRateMargin)}`);
    p.check(typeof a.canaryMinRequestsPerSecond === "number" && a.canaryMinRequestsPerSecond >= 0, "alerts.canaryMinRequestsPerSecond", `must be >= 0, got ${describe(a.canaryMinRequestsPerSecond)}`);
    p.check(typeof a.gpuIdlePercent === "number" && a.gpuIdlePercent > 0 && a.gpuIdlePercent <= 100, "alerts.gpuIdlePercent", `must be in (0, 100], got ${describe(a.gpuIdlePercent)}`);
    const sm = s.servingMetrics;
    for (const k of ["latencyHistogram", "requestsCounter", "statusLabel"] as const) {
        p.check(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(sm[k]), `servingMetrics.${k}`, `must be a Prometheus metric/label name, got ${describe(sm[k])}`);
    }
    p.throwIfAny();
    return s;
}

/** One alerting rule as the PrometheusRule CRD takes it. */
export interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    labels: { severity: "critical" | "warning" | "info"; [k: string]: string };
    annotations: { summary: string; description: string; runbook: string; [k: string]: string };
}

/** Rounds away binary noise (14.4 × 0.005 = 0.07200000000000001). */
function num(x: number): string {
    return String(Number(x.toPrecision(6)));
}

/** The platform alert rules, grouped (pure; exported for docs and tests). */
export function platformAlertRules(s: Pick<MonitoringSettings, "alerts" | "servingMetrics" | "trackingServer">): { name: string; rules: AlertRule[] }[] {
    const a = s.alerts;
    const m = s.servingMetrics;
    const sel = (...extra: string[]) => `{${[m.requestSelector, ...extra].filter((x) => x).join(",")}}`;
    const err = `${m.statusLabel}=~"5.."`;
    const by = "namespace, model_server";
    const ratio = (w: string, ...track: string[]) =>
        `(sum by (${by}) (rate(${m.requestsCounter}${sel(err, ...track)}[${w}])) / sum by (${by}) (rate(${m.requestsCounter}${sel(...track)}[${w}])))`;
    const budget = 1 - a.servingAvailabilityObjective;
    const common = { platform: "mlops" };
    // Multiwindow, multi-burn-rate alerts (Google SRE Workbook, "Alerting on SLOs"): 14.4x burns 2% of
    // a 30-day budget in 1 hour (page); 6x burns 5% in 6 hours (ticket).
    const serving: AlertRule[] = [
        {
            alert: "ModelServingErrorBudgetFastBurn",
            expr: `${ratio("5m")} > ${num(14.4 * budget)} and ${ratio("1h")} > ${num(14.4 * budget)}`,
            for: "2m",
            labels: { severity: "critical", component: "serving", ...common },
            annotations: {
                summary: "{{ $labels.model_server }} in {{ $labels.namespace }} burns its error budget 14x too fast",
                description: `5xx ratio above ${num(14.4 * budget)} over 5m and 1h (objective ${a.servingAvailabilityObjective}); at this rate 2% of the 30-day budget goes every hour. Source: ${m.requestsCounter} from the model servers.`,
                runbook: "Check the canary first (ModelServingCanaryErrorRateAboveStable, dashboard 'MLOps / Model serving'): `mlops release rollback` sends all traffic to stable. Otherwise inspect server logs and the tracking server (models:/ URIs resolve through it).",
            },
        },
        {
            alert: "ModelServingErrorBudgetSlowBurn",
            expr: `${ratio("30m")} > ${num(6 * budget)} and ${ratio("6h")} > ${num(6 * budget)}`,
            for: "15m",
            labels: { severity: "warning", component: "serving", ...common },
            annotations: {
                summary: "{{ $labels.model_server }} in {{ $labels.namespace }} is eating its error budget",
                description: `5xx ratio above ${num(6 * budget)} over 30m and 6h (objective ${a.servingAvailabilityObjective}): 5% of the 30-day budget per 6 hours. Source: ${m.requestsCounter}.`,
                runbook: "Look for a slow leak: errors on one track or one model version (dashboard 'MLOps / Model serving', 5xx by track), resource pressure (OOMKilled, CPU throttling), a dependency. Plan a fix before the budget runs out.",
            },
        },
        {
            alert: "ModelServingLatencyObjectiveMissed",
            expr: `histogram_quantile(0.99, sum by (le, ${by}) (rate(${m.latencyHistogram}_bucket${sel()}[30m]))) > ${num(a.servingP99LatencySeconds)}`,
            for: a.for,
            labels: { severity: "warning", component: "serving", ...common },
            annotations: {
                summary: "p99 latency of {{ $labels.model_server }} in {{ $labels.namespace }} is {{ $value | humanizeDuration }}",
                description: `p99 over 30 minutes above the objective of ${num(a.servingP99LatencySeconds)}s, all tracks together. Source: ${m.latencyHistogram} from the model servers.`,
                runbook: "Compare tracks on 'p99 latency by track': a slow canary is rolled back with `mlops release rollback`; a slow stable needs more replicas (autoscaling.maxReplicas) or CPU, or a smaller model.",
            },
        },
        {
            alert: "ModelServingCanaryErrorRateAboveStable",
            expr:
                `(${ratio("10m", 'track="canary"')} - ${ratio("10m", 'track="stable"')}) > ${num(a.canaryErrorRateMargin)}` +
                ` and sum by (${by}) (rate(${m.requestsCounter}${sel('track="canary"')}[10m])) > ${num(a.canaryMinRequestsPerSecond)}`,
            for: a.for,
            labels: { severity: "critical", component: "serving", track: "canary", ...common },
            annotations: {
                summary: "The canary of {{ $labels.model_server }} in {{ $labels.namespace }} fails more than stable",
                description: `Canary 5xx ratio exceeds stable's by more than ${num(a.canaryErrorRateMargin)} over 10 minutes (with at least ${num(a.canaryMinRequestsPerSecond)} canary requests/s). Source: ${m.requestsCounter} by track.`,
                runbook: "Roll the canary back (`mlops release rollback`, or set its weight to 0) and compare its logs with stable's; do not promote.",
            },
        },
    ];
    const training: AlertRule[] = [
        {
            alert: "TrainingJobFailed",
            expr: `(kube_job_failed{condition="true"} == 1) and on (namespace, job_name) kube_job_labels{${KSM_ROLE_LABEL}="training"}`,
            for: a.trainingFailedFor,
            labels: { severity: "warning", component: "training", ...common },
            annotations: {
                summary: "Training Job {{ $labels.namespace }}/{{ $labels.job_name }} failed",
                description: "The Job reached its Failed condition (backoffLimit, activeDeadlineSeconds or a configuration-error exit code). Source: kube_job_failed and kube_job_labels from kube-state-metrics.",
                runbook: "`kubectl -n {{ $labels.namespace }} describe job {{ $labels.job_name }}` shows the reason and the termination message; exit code 2 is a configuration error (fix the TrainingJob args), otherwise read the pod logs. A new run needs a new runId. The alert clears when the Job is deleted (ttlSecondsAfterFinished).",
            },
        },
    ];
    const gpuRequested =
        `sum by (node) (kube_pod_container_resource_requests{resource="nvidia_com_gpu"} * on (namespace, pod) group_left () ` +
        `max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Running"} == 1))`;
    const gpu: AlertRule[] = [
        {
            alert: "GpuNodeIdle",
            expr: `max by (Hostname) (DCGM_FI_DEV_GPU_UTIL) < ${num(a.gpuIdlePercent)}`,
            for: a.gpuIdleFor,
            labels: { severity: "warning", component: "gpu", cost: "true", ...common },
            annotations: {
                summary: "GPU node {{ $labels.Hostname }} has been idle for " + a.gpuIdleFor,
                description: `Every GPU of the node stayed under ${num(a.gpuIdlePercent)}% utilisation for ${a.gpuIdleFor}: you are paying for an unused GPU. Source: DCGM_FI_DEV_GPU_UTIL from the NVIDIA DCGM exporter.`,
                runbook: "Find the pods holding its GPUs (`kubectl describe node`): a stuck or finished-but-not-exiting trainer, or a serving track with no traffic. The autoscaler removes the node (scale to zero) once no pod requests a GPU there.",
            },
        },
        {
            alert: "GpuNodeUnallocated",
            expr: `(sum by (node) (kube_node_status_allocatable{resource="nvidia_com_gpu"}) > 0) unless on (node) (${gpuRequested} > 0)`,
            for: a.gpuIdleFor,
            labels: { severity: "warning", component: "gpu", cost: "true", ...common },
            annotations: {
                summary: "GPU node {{ $labels.node }} has had no GPU pod for " + a.gpuIdleFor,
                description: `No pending or running pod requests nvidia.com/gpu on the node, yet it keeps running. Source: kube_node_status_allocatable and kube_pod_container_resource_requests from kube-state-metrics.`,
                runbook: "The Cluster Autoscaler should remove it: check its logs for 'scale down' blockers (pods with safe-to-evict=false, PDBs, local storage, node group minimum > 0).",
            },
        },
        {
            alert: "GpuMetricsMissing",
            expr: `absent(DCGM_FI_DEV_GPU_UTIL) and on () (sum(kube_node_status_allocatable{resource="nvidia_com_gpu"}) > 0)`,
            for: "15m",
            labels: { severity: "warning", component: "gpu", ...common },
            annotations: {
                summary: "GPU nodes run but no GPU metrics arrive",
                description: "The cluster has allocatable GPUs and DCGM_FI_DEV_GPU_UTIL is absent: the DCGM exporter is not running on the GPU nodes or not scraped, so the GPU idle alert cannot fire.",
                runbook: "`kubectl -n <node agents namespace> get ds,pods -l app.kubernetes.io/name=dcgm-exporter -o wide`: check its node selector/tolerations against the GPU node taints, and the ServiceMonitor target in Prometheus.",
            },
        },
    ];
    const groups = [
        { name: "mlops-serving", rules: serving },
        { name: "mlops-training", rules: training },
        { name: "mlops-gpu", rules: gpu },
    ];
    if (s.trackingServer) {
        const t = s.trackingServer;
        const match = `{namespace="${t.namespace}",deployment="${t.deploymentName}"}`;
        groups.push({
            name: "mlops-tracking",
            rules: [
                {
                    alert: "TrackingServerDown",
                    expr: `(max by (namespace, deployment) (kube_deployment_status_replicas_available${match}) == 0) or absent(kube_deployment_status_replicas_available${match})`,
                    for: a.trackingDownFor,
                    labels: { severity: "critical", component: "tracking", ...common },
                    annotations: {
                        summary: `MLflow tracking server ${t.namespace}/${t.deploymentName} has no available replica`,
                        description: "Training runs cannot log, the gate cannot read metrics and models:/ URIs cannot resolve. Source: kube_deployment_status_replicas_available from kube-state-metrics (absent = the Deployment is gone).",
                        runbook: `\`kubectl -n ${t.namespace} get pods -l app.kubernetes.io/instance=${t.deploymentName}\`: a failing db-upgrade init container points at the database (RDS status, credentials Secret); CrashLoopBackOff at the server args; Pending at capacity.`,
                    },
                },
            ],
        });
    }
    return groups;
}

/** Deep merge of plain objects (`b` wins; arrays are replaced). */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) {
        const cur = out[k];
        out[k] =
            v && typeof v === "object" && !Array.isArray(v) && cur && typeof cur === "object" && !Array.isArray(cur) && !pulumi.Output.isInstance(v)
                ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
                : v;
    }
    return out;
}

/** Alertmanager's configuration: routes and receivers whose credentials are files from mounted Secrets. */
export function alertmanagerConfig(s: MonitoringSettings["alertmanager"]): Record<string, unknown> {
    const file = (r: SecretKeyRef) => `${ALERTMANAGER_SECRETS_DIR}/${r.name}/${r.key}`;
    const receiver = (r: AlertReceiver): Record<string, unknown> => {
        switch (r.type) {
            case "slack":
                return {
                    name: r.name,
                    slack_configs: [
                        {
                            api_url_file: file(r.secret),
                            ...(r.channel ? { channel: r.channel } : {}),
                            send_resolved: true,
                            title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})',
                            text: "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook }}\n{{ end }}",
                        },
                    ],
                };
            case "pagerduty":
                return { name: r.name, pagerduty_configs: [{ routing_key_file: file(r.secret), send_resolved: true, severity: "{{ .CommonLabels.severity }}" }] };
            case "webhook":
                return { name: r.name, webhook_configs: [{ url_file: file(r.secret), send_resolved: true }] };
            case "opsgenie":
                return { name: r.name, opsgenie_configs: [{ api_key_file: file(r.secret), send_resolved: true }] };
        }
    };
    return {
        global: { resolve_timeout: "5m" },
        route: {
            receiver: s.defaultReceiver,
            group_by: s.groupBy,
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: s.repeatInterval,
            routes: [
                // The Watchdog heartbeat always fires (it proves the pipeline works); nobody is paged for it.
                { receiver: "null", matchers: ['alertname="Watchdog"'] },
                ...s.routes.map((r) => ({
                    receiver: r.receiver,
                    matchers: r.matchers,
                    ...(r.continue ? { continue: true } : {}),
                    ...(r.repeatInterval ? { repeat_interval: r.repeatInterval } : {}),
                })),
            ],
        },
        inhibit_rules: [
            // A critical alert mutes the warning of the same alert and namespace.
            { source_matchers: ['severity="critical"'], target_matchers: ['severity=~"warning|info"'], equal: ["namespace", "alertname"] },
        ],
        receivers: [{ name: "null" }, ...s.receivers.map(receiver)],
        templates: ["/etc/alertmanager/config/*.tmpl"],
    };
}

/** Policy exemptions (by namespace and name, the security pack's form) the charts' objects need, per policy. */
export function monitoringPolicyExemptions(s: MonitoringSettings): Record<string, { namespace: string; name: string; reason: string }[]> {
    const nodeExporter = { namespace: s.nodeAgentsNamespace, name: `${s.releaseName}-prometheus-node-exporter*`, reason: "node-exporter (kube-prometheus-stack): host network/PID and read-only /proc, /sys, / host mounts to report node metrics" };
    const dcgm = { namespace: s.nodeAgentsNamespace, name: "dcgm-exporter*", reason: "NVIDIA DCGM exporter: root with SYS_ADMIN and the kubelet pod-resources hostPath to read GPU telemetry" };
    const agents = [nodeExporter, ...(s.dcgmExporter ? [dcgm] : [])];
    const upstream = { namespace: s.namespace, name: `${s.releaseName}-*`, reason: `kube-prometheus-stack ${s.chart.version} and the Pushgateway: upstream images pinned in components/versions.ts${s.imageRegistry ? ` via mirror ${s.imageRegistry}` : ""}` };
    const apiClients = { namespace: s.namespace, name: `${s.releaseName}-*`, reason: "Prometheus Operator, kube-state-metrics and Grafana's dashboard sidecar read the Kubernetes API" };
    return {
        "k8s-image-pinned-registry": [upstream, ...agents.map((x) => ({ ...x, reason: `${x.reason}; upstream image pinned by chart version` }))],
        "k8s-no-automount-sa-token": [apiClients, ...(s.dcgmExporter ? [dcgm] : [])],
        "k8s-no-host-namespaces": [nodeExporter],
        "k8s-no-host-ports": [nodeExporter],
        "k8s-restricted-volumes": agents,
        "k8s-run-as-non-root": s.dcgmExporter ? [dcgm] : [],
        "k8s-run-as-user-nonzero": s.dcgmExporter ? [dcgm] : [],
        "k8s-drop-all-capabilities": s.dcgmExporter ? [dcgm] : [],
        "k8s-readonly-rootfs": s.dcgmExporter ? [dcgm] : [],
        "k8s-network-policy-coverage": agents,
    };
}

/**
 * kube-prometheus-stack values for the settings: retention and storage, Alertmanager routing with
 * Secret-mounted credentials, Grafana with an existing admin Secret and the dashboard sidecar,
 * kube-state-metrics with the platform's Job labels, node-exporter in the node agents namespace.
 * `storageClassName` may be an Output (it is resolved by the engine inside the values).
 */
export function kubePrometheusStackValues(s: MonitoringSettings, storageClassName: pulumi.Input<string>): Record<string, unknown> {
    const res = (r: ResourceSpec) => containerResources(r);
    const pvc = (size: string) => ({ volumeClaimTemplate: { spec: { storageClassName, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } } } } });
    const values: Record<string, unknown> = {
        fullnameOverride: s.releaseName,
        commonLabels: { "app.kubernetes.io/part-of": "mlops-platform" },
        ...(s.imageRegistry ? { global: { imageRegistry: s.imageRegistry } } : {}),
        crds: { enabled: true },
        defaultRules: { create: true },
        prometheusOperator: {
            // The admission webhook rejects a PrometheusRule the operator cannot load (otherwise it is
            // accepted and silently dropped from Prometheus). The operator serves it over TLS (port
            // 10250); the chart's certgen Jobs (`patch`, no cert-manager needed) create the Secret and
            // patch the CA bundle into the webhook configurations. helm.sh/v4 Chart applies those
            // hook Jobs as ordinary Jobs (pulumi-kubernetes#555), concurrently with the rest; they retry
            // until the objects they patch exist. failurePolicy Ignore covers only an unreachable webhook
            // (first install, operator restart): a reachable webhook's rejection is always enforced.
            admissionWebhooks: {
                enabled: true,
                failurePolicy: "Ignore",
                patch: {
                    enabled: true,
                    resources: res({ cpu: "10m", memory: "32Mi", memoryLimit: "64Mi" }),
                    securityContext: { runAsNonRoot: true, runAsUser: 2000, runAsGroup: 2000, seccompProfile: { type: "RuntimeDefault" } },
                },
                certManager: { enabled: false },
            },
            tls: { enabled: true },
            resources: res({ cpu: "100m", memory: "128Mi", memoryLimit: "256Mi" }),
        },
        prometheus: {
            prometheusSpec: {
                replicas: s.prometheus.replicas,
                retention: s.prometheus.retention,
                retentionSize: s.prometheus.retentionSize,
                scrapeInterval: s.prometheus.scrapeInterval,
                resources: res(s.prometheus.resources),
                storageSpec: pvc(s.prometheus.storageSize),
                // Select ServiceMonitors, PodMonitors, Probes and PrometheusRules in every namespace,
                // not only those labelled with this release (ServingStack and DriftMonitor create their own).
                serviceMonitorSelectorNilUsesHelmValues: false,
                podMonitorSelectorNilUsesHelmValues: false,
                probeSelectorNilUsesHelmValues: false,
                ruleSelectorNilUsesHelmValues: false,
                scrapeConfigSelectorNilUsesHelmValues: false,
            },
        },
        alertmanager: {
            config: alertmanagerConfig(s.alertmanager),
            alertmanagerSpec: {
                replicas: s.alertmanager.replicas,
                retention: "120h",
                // Mounted at /etc/alertmanager/secrets/<name>/; the receivers' *_file fields point there.
                secrets: [...new Set(s.alertmanager.receivers.map((r) => r.secret.name))].sort(),
                storage: pvc(s.alertmanager.storageSize),
                resources: res({ cpu: "50m", memory: "128Mi", memoryLimit: "256Mi" }),
            },
        },
        grafana: {
            fullnameOverride: `${s.releaseName}-grafana`,
            // The admin credentials come from an existing Secret; the chart creates none.
            admin: { existingSecret: s.grafana.adminSecret.name, userKey: s.grafana.adminSecret.userKey, passwordKey: s.grafana.adminSecret.passwordKey },
            persistence: { enabled: true, type: "pvc", storageClassName, accessModes: ["ReadWriteOnce"], size: s.grafana.storageSize },
            // Pod Security `restricted` (the namespace enforces it): the chart's default init container
            // chowns the volume as root with CHOWN/DAC_OVERRIDE and would be refused; fsGroup gives
            // the volume to Grafana's group instead. Pod-level seccomp covers every container, and the
            // chart's test Pod (no security context) is not rendered.
            initChownData: { enabled: false },
            securityContext: { runAsNonRoot: true, runAsUser: GRAFANA_UID, runAsGroup: GRAFANA_UID, fsGroup: GRAFANA_UID, seccompProfile: { type: "RuntimeDefault" } },
            containerSecurityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
            },
            testFramework: { enabled: false },
            defaultDashboardsEnabled: true,
            defaultDashboardsTimezone: "utc",
            sidecar: {
                dashboards: { enabled: true, label: Object.keys(GRAFANA_DASHBOARD_LABEL)[0], labelValue: Object.values(GRAFANA_DASHBOARD_LABEL)[0], searchNamespace: s.namespace },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } },
                resources: res({ cpu: "50m", memory: "64Mi", memoryLimit: "128Mi" }),
            },
            resources: res({ cpu: "100m", memory: "256Mi", memoryLimit: "512Mi" }),
        },
        "kube-state-metrics": {
            metricLabelsAllowlist: KSM_LABELS_ALLOWLIST,
            resources: res({ cpu: "50m", memory: "128Mi", memoryLimit: "256Mi" }),
        },
        "prometheus-node-exporter": {
            fullnameOverride: `${s.releaseName}-prometheus-node-exporter`,
            namespaceOverride: s.nodeAgentsNamespace,
            resources: res({ cpu: "50m", memory: "64Mi", memoryLimit: "128Mi" }),
        },
    };
    return merge(values, s.extraValues);
}

/** DCGM exporter chart values: GPU nodes only, their taints tolerated, ServiceMonitor on. */
export function dcgmExporterValues(d: NonNullable<MonitoringSettings["dcgmExporter"]>): Record<string, unknown> {
    return {
        fullnameOverride: "dcgm-exporter",
        nodeSelector: { ...d.nodeSelector },
        tolerations: d.tolerations.map((t) => ({ ...t })),
        resources: containerResources(d.resources),
        serviceMonitor: { enabled: true, interval: "30s", honorLabels: false },
    };
}

/**
 * Monitoring: the observability stack of one cluster.
 *
 * - kube-prometheus-stack from its pinned chart (helm v4 Chart, so policies see every object):
 *   Prometheus with retention and a size cap on encrypted gp3 volumes, selecting ServiceMonitors and
 *   PrometheusRules from every namespace; Alertmanager whose receivers read their credentials from
 *   Secrets mounted into its pods (`*_file` fields); Grafana with its admin user from an existing
 *   Secret and the platform dashboards provisioned from labelled ConfigMaps; kube-state-metrics with
 *   the platform's Job labels; node-exporter in the node agents namespace.
 * - The NVIDIA DCGM exporter on GPU nodes (pinned chart) for GPU utilisation and memory.
 * - A Pushgateway (restricted pod, NetworkPolicy) for batch results such as the drift check's.
 * - The platform alert rules ({@link platformAlertRules}): serving error budget and latency, canary
 *   worse than stable, training Job failed, GPU nodes idle (cost), tracking server down.
 *
 * Objects that need the prometheus-operator CRDs should `dependsOn` {@link crdDependency}.
 */
export class Monitoring extends pulumi.ComponentResource {
    /** Namespace of Prometheus, Alertmanager, Grafana and the Pushgateway. */
    public readonly namespace: pulumi.Output<string>;
    /** In-cluster URLs. */
    public readonly prometheusUrl: pulumi.Output<string>;
    public readonly alertmanagerUrl: pulumi.Output<string>;
    public readonly grafanaUrl: pulumi.Output<string>;
    /** Pushgateway URL for batch jobs (undefined when disabled). */
    public readonly pushgatewayUrl: pulumi.Output<string | undefined>;
    /** The chart that installs the prometheus-operator CRDs: `dependsOn` it from ServiceMonitors/PrometheusRules. */
    public readonly crdDependency: pulumi.Resource;
    /** Chart version installed. */
    public readonly chartVersion: string;
    /** Names of the provisioned dashboards (ConfigMap keys). */
    public readonly dashboards: string[];
    /** Settings after defaults (plain values, for plans and tests). */
    public readonly settings: MonitoringSettings;
    /** Exemptions the security pack needs for the charts' node agents and upstream images. */
    public readonly policyExemptions: Record<string, { namespace: string; name: string; reason: string }[]>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:Monitoring", name, {}, opts);
        const s = validateMonitoringArgs(args);
        this.settings = s;
        this.chartVersion = s.chart.version;
        this.policyExemptions = monitoringPolicyExemptions(s);
        const k8sOpts = { parent: this, provider: args.provider };
        const labels = { "app.kubernetes.io/part-of": "mlops-platform", "app.kubernetes.io/managed-by": "pulumi", [ROLE_LABEL]: "system" };

        const ns = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: s.namespace, labels: { ...labels, ...RESTRICTED_NAMESPACE_LABELS } } }, k8sOpts);
        const namespace = ns.metadata.name;

        // Pods of the namespace accept connections from each other (scrapes, Grafana → Prometheus,
        // Prometheus → Alertmanager) and nothing else; Grafana is reached with kubectl port-forward.
        new k8s.networking.v1.NetworkPolicy(
            `${name}-netpol`,
            {
                metadata: { name: `${s.releaseName}-same-namespace`, namespace, labels },
                spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: {} }] }] },
            },
            k8sOpts,
        );

        const stack = new k8s.helm.v4.Chart(
            `${name}-stack`,
            {
                name: s.releaseName,
                chart: s.chart.chart,
                repositoryOpts: { repo: s.chart.repo },
                version: s.chart.version,
                namespace,
                values: kubePrometheusStackValues(s, args.storageClassName),
            },
            { ...k8sOpts, dependsOn: [ns] },
        );
        this.crdDependency = stack;

        if (s.dcgmExporter) {
            new k8s.helm.v4.Chart(
                `${name}-dcgm-exporter`,
                {
                    name: "dcgm-exporter",
                    chart: s.dcgmExporter.chart.chart,
                    repositoryOpts: { repo: s.dcgmExporter.chart.repo },
                    version: s.dcgmExporter.chart.version,
                    namespace: s.nodeAgentsNamespace,
                    values: dcgmExporterValues(s.dcgmExporter),
                },
                // Its ServiceMonitor needs the CRDs.
                { ...k8sOpts, dependsOn: [stack] },
            );
        }

        const dashboardOptions: DashboardOptions = {
            serving: s.servingMetrics,
            availabilityObjective: s.alerts.servingAvailabilityObjective,
            gpuIdlePercent: s.alerts.gpuIdlePercent,
        };
        const dashboards = platformDashboards(dashboardOptions);
        this.dashboards = Object.keys(dashboards);
        for (const [file, spec] of Object.entries(dashboards)) {
            const role = file.replace(/^mlops-/, "").replace(/\.json$/, "");
            new k8s.core.v1.ConfigMap(
                `${name}-dashboard-${role}`,
                {
                    metadata: { name: `${s.releaseName}-dashboard-${role}`, namespace, labels: { ...labels, ...GRAFANA_DASHBOARD_LABEL } },
                    data: { [file]: JSON.stringify(buildDashboard(spec), null, 1) },
                },
                k8sOpts,
            );
        }

        new k8s.apiextensions.CustomResource(
            `${name}-alerts`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: { name: `${s.releaseName}-mlops-platform`, namespace, labels },
                spec: { groups: platformAlertRules(s) },
            },
            { ...k8sOpts, dependsOn: [stack] },
        );

        let pushgatewayUrl: pulumi.Output<string | undefined> = pulumi.output(undefined);
        if (s.pushgateway) {
            const g = s.pushgateway;
            const app = `${s.releaseName}-pushgateway`;
            const selector = { "app.kubernetes.io/name": "pushgateway", "app.kubernetes.io/instance": app };
            const podLabels = { ...labels, ...selector, "app.kubernetes.io/component": "pushgateway" };
            const data = scratchVolume("data", "/data", "256Mi");
            new k8s.apps.v1.Deployment(
                `${name}-pushgateway`,
                {
                    metadata: { name: app, namespace, labels: podLabels },
                    spec: {
                        replicas: 1,
                        selector: { matchLabels: selector },
                        template: {
                            metadata: { labels: podLabels },
                            spec: {
                                automountServiceAccountToken: false,
                                enableServiceLinks: false,
                                securityContext: restrictedPodSecurityContext(),
                                containers: [
                                    {
                                        name: "pushgateway",
                                        image: g.image,
                                        imagePullPolicy: "IfNotPresent",
                                        args: [
                                            `--web.listen-address=:${PUSHGATEWAY_PORT}`,
                                            // Survives container restarts (not rescheduling): the next run re-pushes.
                                            "--persistence.file=/data/pushgateway.db",
                                            "--persistence.interval=1m",
                                        ],
                                        ports: [{ name: "http", containerPort: PUSHGATEWAY_PORT, protocol: "TCP" }],
                                        readinessProbe: { httpGet: { path: "/-/ready", port: "http" }, periodSeconds: 10 },
                                        livenessProbe: { httpGet: { path: "/-/healthy", port: "http" }, periodSeconds: 20 },
                                        resources: containerResources(g.resources),
                                        securityContext: restrictedContainerSecurityContext(),
                                        volumeMounts: [data.mount],
                                    },
                                ],
                                volumes: [data.volume],
                            },
                        },
                    },
                },
                k8sOpts,
            );
            const svc = new k8s.core.v1.Service(
                `${name}-pushgateway`,
                {
                    metadata: { name: app, namespace, labels: podLabels },
                    spec: { type: "ClusterIP", selector, ports: [{ name: "http", port: PUSHGATEWAY_PORT, targetPort: "http", protocol: "TCP" }] },
                },
                k8sOpts,
            );
            new k8s.networking.v1.NetworkPolicy(
                `${name}-pushgateway-ingress`,
                {
                    metadata: { name: `${app}-ingress`, namespace, labels },
                    spec: {
                        podSelector: { matchLabels: selector },
                        policyTypes: ["Ingress"],
                        ingress: [
                            {
                                from: [
                                    { podSelector: {} },
                                    ...(g.allowFromNamespaces.length
                                        ? [{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: g.allowFromNamespaces }] } }]
                                        : []),
                                ],
                                ports: [{ protocol: "TCP", port: PUSHGATEWAY_PORT }],
                            },
                        ],
                    },
                },
                k8sOpts,
            );
            new k8s.apiextensions.CustomResource(
                `${name}-pushgateway-monitor`,
                {
                    apiVersion: "monitoring.coreos.com/v1",
                    kind: "ServiceMonitor",
                    metadata: { name: app, namespace, labels },
                    spec: {
                        selector: { matchLabels: selector },
                        namespaceSelector: { matchNames: [s.namespace] },
                        // honorLabels keeps the pushed job/model labels instead of the Pushgateway's own.
                        endpoints: [{ port: "http", path: "/metrics", interval: "30s", honorLabels: true }],
                    },
                },
                { ...k8sOpts, dependsOn: [stack] },
            );
            pushgatewayUrl = pulumi.interpolate`http://${svc.metadata.name}.${namespace}.svc.cluster.local:${PUSHGATEWAY_PORT}`;
        }

        // Service names follow the chart's naming with fullnameOverride (<release>-prometheus, ...).
        this.namespace = namespace;
        this.prometheusUrl = pulumi.interpolate`http://${s.releaseName}-prometheus.${namespace}.svc.cluster.local:9090`;
        this.alertmanagerUrl = pulumi.interpolate`http://${s.releaseName}-alertmanager.${namespace}.svc.cluster.local:9093`;
        this.grafanaUrl = pulumi.interpolate`http://${s.releaseName}-grafana.${namespace}.svc.cluster.local`;
        this.pushgatewayUrl = pushgatewayUrl;
        this.registerOutputs({
            namespace: this.namespace,
            prometheusUrl: this.prometheusUrl,
            alertmanagerUrl: this.alertmanagerUrl,
            grafanaUrl: this.grafanaUrl,
            pushgatewayUrl: this.pushgatewayUrl,
        });
    }
}
