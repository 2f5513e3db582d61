/**
 * The Prometheus scrape configuration a ServiceMonitor implies, for a real Prometheus on loopback.
 *
 * prometheus-operator turns each ServiceMonitor endpoint into a scrape job over the endpoints of the
 * Services it selects (Kubernetes SD, role endpoints): it sets `namespace`, `service`, `pod`,
 * `container` and `endpoint` from the discovery meta labels, then applies the endpoint's own
 * `relabelings`. Without a cluster there is no discovery, so each pod is a static target whose
 * labels carry the same `__meta_kubernetes_*` values discovery would give (namespace, pod labels and
 * annotations, Service name); the rendered relabelings then run unchanged, in Prometheus itself.
 */
import * as YAML from "yaml";
import { RecordedResource } from "../../offline-plan/types";

/** Kubernetes label/annotation key → the meta label name (non-alphanumerics become `_`). */
export function metaName(kind: "label" | "annotation", key: string): string {
    return `__meta_kubernetes_pod_${kind}_${key.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

/** A pod as discovery would describe it, and where it answers on loopback. */
export interface StaticPod {
    namespace: string;
    name: string;
    service: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    /** host:port the endpoint's named port resolves to. */
    address: string;
}

interface Relabeling {
    action?: string;
    sourceLabels?: string[];
    separator?: string;
    targetLabel?: string;
    regex?: string;
    replacement?: string;
}

function snakeRelabel(r: Relabeling): Record<string, unknown> {
    return {
        ...(r.action ? { action: r.action.toLowerCase() } : {}),
        ...(r.sourceLabels ? { source_labels: r.sourceLabels } : {}),
        ...(r.separator !== undefined ? { separator: r.separator } : {}),
        ...(r.targetLabel ? { target_label: r.targetLabel } : {}),
        ...(r.regex !== undefined ? { regex: r.regex } : {}),
        ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
    };
}

/** The ServiceMonitors a plan recorded (kind ServiceMonitor, monitoring.coreos.com/v1). */
export function serviceMonitors(resources: RecordedResource[]): RecordedResource[] {
    return resources.filter((r) => r.inputs?.kind === "ServiceMonitor" && String(r.inputs?.apiVersion).startsWith("monitoring.coreos.com/"));
}

/**
 * One scrape job per ServiceMonitor endpoint, over `pods` (each must match the monitor's selector
 * labels, as the Service would). `intervalOverride` shortens the rendered interval for a test run.
 */
export function scrapeJobs(monitor: RecordedResource, pods: StaticPod[], intervalOverride?: string): Record<string, unknown>[] {
    const sm = monitor.inputs;
    const selector: Record<string, string> = sm.spec?.selector?.matchLabels ?? {};
    const namespaces: string[] | undefined = sm.spec?.namespaceSelector?.matchNames;
    const selected = pods.filter(
        (p) => Object.entries(selector).every(([k, v]) => p.labels[k] === v) && (!namespaces || namespaces.includes(p.namespace)),
    );
    return (sm.spec?.endpoints ?? []).map((ep: any, i: number) => ({
        job_name: `serviceMonitor/${sm.metadata.namespace}/${sm.metadata.name}/${i}`,
        metrics_path: ep.path ?? "/metrics",
        scrape_interval: intervalOverride ?? ep.interval ?? "30s",
        honor_labels: ep.honorLabels ?? false,
        static_configs: selected.map((p) => ({
            targets: [p.address],
            labels: {
                __meta_kubernetes_namespace: p.namespace,
                __meta_kubernetes_pod_name: p.name,
                __meta_kubernetes_service_name: p.service,
                ...Object.fromEntries(Object.entries(p.labels).map(([k, v]) => [metaName("label", k), v])),
                ...Object.fromEntries(Object.entries(p.annotations).map(([k, v]) => [metaName("annotation", k), v])),
            },
        })),
        relabel_configs: [
            // What the operator generates before the endpoint's own relabelings.
            { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
            { source_labels: ["__meta_kubernetes_service_name"], target_label: "service" },
            { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
            { source_labels: ["__meta_kubernetes_service_name"], target_label: "job" },
            { target_label: "endpoint", replacement: String(ep.port ?? ep.targetPort ?? "") },
            ...(ep.relabelings ?? []).map(snakeRelabel),
        ],
    }));
}

/** prometheus.yml text for the jobs. */
export function prometheusConfig(jobs: Record<string, unknown>[], evaluationInterval = "1s"): string {
    return YAML.stringify({ global: { evaluation_interval: evaluationInterval }, scrape_configs: jobs });
}
