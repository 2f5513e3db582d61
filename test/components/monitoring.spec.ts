import * as k8s from "@pulumi/kubernetes";
import * as assert from "node:assert/strict";
import { dashboardExprs } from "../../components/dashboards/grafana";
import { KUBE_PROMETHEUS_STACK_REQUIRED_VALUES } from "../../policies/security/rules/k8s-network";
import { METRIC_SOURCES, metricCatalogue, promqlMetricNames, unknownMetrics } from "../../components/dashboards/metrics";
import { platformDashboards } from "../../components/dashboards/platform";
import { DriftMonitorSettings, driftAlertRules, validateDriftMonitorArgs } from "../../components/driftMonitor";
import {
    ALERTMANAGER_SECRETS_DIR,
    AlertRule,
    DEFAULT_PLATFORM_ALERTS,
    GRAFANA_DASHBOARD_LABEL,
    KSM_LABELS_ALLOWLIST,
    Monitoring,
    MonitoringArgs,
    monitoringPolicyExemptions,
    platformAlertRules,
    validateMonitoringArgs,
} from "../../components/monitoring";
import { alertRules as servingAlertRules, DEFAULT_SERVING_METRICS, planServingStack } from "../../components/servingStack";
import { DCGM_EXPORTER_CHART, KUBE_PROMETHEUS_STACK_CHART, PUSHGATEWAY_IMAGE } from "../../components/versions";
import { checkManifests } from "../../offline-plan/manifests";
import { runPolicyPack } from "../../offline-plan/policy-runner";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { securityPolicies } from "../../policies/security/policies";
import { assertInvalid, inventory, one, ofType, oneComponentPackConfig } from "../helpers/resources";
import { CANARY } from "./servingStack.spec";

const T = {
    ns: "kubernetes:core/v1:Namespace",
    netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    chart: "kubernetes:helm.sh/v4:Chart",
    cm: "kubernetes:core/v1:ConfigMap",
    rule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    monitor: "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    deploy: "kubernetes:apps/v1:Deployment",
    svc: "kubernetes:core/v1:Service",
};

/** GpuNodeGroup's contract, common to every pool. */
const GPU = { nodeSelector: { "nvidia.com/gpu.present": "true" }, tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] };

type Args = Omit<MonitoringArgs, "provider">;

export const MONITORING: Args = {
    storageClassName: "gp3-encrypted",
    prometheus: { retention: "3d", storageSize: "20Gi" },
    alertmanager: {
        receivers: [
            { name: "platform-slack", type: "slack", secret: { name: "alertmanager-slack", key: "webhook-url" }, channel: "#ml-platform" },
            { name: "oncall", type: "pagerduty", secret: { name: "alertmanager-pagerduty", key: "routing-key" } },
        ],
        defaultReceiver: "platform-slack",
        routes: [{ receiver: "oncall", matchers: ['severity="critical"'], continue: true }],
    },
    grafana: { adminSecret: { name: "grafana-admin" } },
    dcgmExporter: {},
    pushgateway: { allowFromNamespaces: ["ml-training"] },
};

async function render(args: Args, name = "mon") {
    const rec = await recordResources(() => {
        const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
        const m = new Monitoring(name, { ...args, provider });
        return { ns: m.namespace, pushgateway: m.pushgatewayUrl, prometheus: m.prometheusUrl, grafana: m.grafanaUrl, alertmanager: m.alertmanagerUrl };
    });
    return { resources: rec.resources.filter((r) => !r.type.startsWith("pulumi:providers:")), outputs: rec.outputs };
}

function allRules(groups: { rules: AlertRule[] }[]): AlertRule[] {
    return groups.flatMap((g) => g.rules);
}

describe("Monitoring", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;
    before(async () => ({ resources, outputs } = await render(MONITORING)));

    it("declares exactly the expected children, parented to the component, on the cluster provider", () => {
        assert.deepEqual(
            inventory(resources),
            [
                `${T.chart} mon-dcgm-exporter`,
                `${T.chart} mon-stack`,
                `${T.cm} mon-dashboard-drift`,
                `${T.cm} mon-dashboard-gpu`,
                `${T.cm} mon-dashboard-serving`,
                `${T.cm} mon-dashboard-training`,
                `${T.ns} mon-ns`,
                `${T.deploy} mon-pushgateway`,
                `${T.svc} mon-pushgateway`,
                `${T.rule} mon-alerts`,
                `${T.monitor} mon-pushgateway-monitor`,
                `${T.netpol} mon-netpol`,
                `${T.netpol} mon-pushgateway-ingress`,
                "mlops-platform:index:Monitoring mon",
            ].sort(),
        );
        const component = one(resources, "mlops-platform:index:Monitoring", "mon");
        for (const r of resources.filter((x) => x !== component)) {
            assert.equal(r.parent, component.urn, `${r.name} is parented to the component`);
            assert.match(r.provider, /pulumi:providers:kubernetes::k8s::/, `${r.name} names the cluster provider`);
        }
        assert.equal(ofType(resources, "kubernetes:helm.sh/v3:Release").length, 0, "never a helm v3 Release (policies cannot see its objects)");
    });

    it("every Kubernetes object validates against its schema (kubernetes-models + prometheus-operator)", () => {
        const checks = checkManifests(resources);
        assert.equal(checks.length, 11);
        for (const c of checks) {
            assert.deepEqual([c.manifest.kind, c.manifest.metadata.name, c.schema, c.errors], [c.manifest.kind, c.manifest.metadata.name, true, []]);
        }
        assert.deepEqual(checks.map((c) => c.manifest.kind).filter((k) => k === "PrometheusRule" || k === "ServiceMonitor").sort(), ["PrometheusRule", "ServiceMonitor"]);
    });

    it("the schema check bites: a malformed PrometheusRule and ServiceMonitor fail", () => {
        const rule = one(resources, T.rule, "mon-alerts");
        const badRule = { ...rule, inputs: { ...rule.inputs, spec: { groups: [{ name: "x", rules: [{ alert: "A", expr: 42, for: 5 }] }] } } };
        const monitor = one(resources, T.monitor, "mon-pushgateway-monitor");
        const badMonitor = { ...monitor, inputs: { ...monitor.inputs, spec: { ...monitor.inputs.spec, endpoints: "all" } } };
        for (const c of checkManifests([badRule, badMonitor])) {
            assert.ok(c.errors.length > 0, `${c.manifest.kind} should be invalid`);
        }
    });

    it("creates the namespace with Pod Security restricted, and a same-namespace-only NetworkPolicy", () => {
        const ns = one(resources, T.ns, "mon-ns").inputs.metadata;
        assert.equal(ns.name, "monitoring");
        assert.equal(ns.labels["pod-security.kubernetes.io/enforce"], "restricted");
        const np = one(resources, T.netpol, "mon-netpol").inputs;
        assert.deepEqual(np.spec, { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: {} }] }] });
    });

    describe("kube-prometheus-stack chart", () => {
        let chart: RecordedResource;
        let values: any;
        before(() => {
            chart = one(resources, T.chart, "mon-stack");
            values = chart.inputs.values;
        });

        it("is the pinned chart (helm v4) in the monitoring namespace, after the namespace", () => {
            assert.deepEqual(
                [chart.inputs.name, chart.inputs.chart, chart.inputs.version, chart.inputs.repositoryOpts.repo, chart.inputs.namespace],
                ["kps", KUBE_PROMETHEUS_STACK_CHART.chart, KUBE_PROMETHEUS_STACK_CHART.version, KUBE_PROMETHEUS_STACK_CHART.repo, "monitoring"],
            );
            assert.match(KUBE_PROMETHEUS_STACK_CHART.version, /^[0-9]+\.[0-9]+\.[0-9]+$/);
            assert.ok(chart.dependencies.includes(one(resources, T.ns, "mon-ns").urn));
        });

        it("keeps metrics for the retention on an encrypted gp3 volume, capped below the volume size", () => {
            const spec = values.prometheus.prometheusSpec;
            assert.equal(spec.retention, "3d");
            assert.equal(spec.retentionSize, "19GB", "90% of 20Gi");
            assert.deepEqual(spec.storageSpec.volumeClaimTemplate.spec, {
                storageClassName: "gp3-encrypted",
                accessModes: ["ReadWriteOnce"],
                resources: { requests: { storage: "20Gi" } },
            });
            assert.equal(values.alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.storageClassName, "gp3-encrypted");
            assert.equal(values.grafana.persistence.storageClassName, "gp3-encrypted");
            assert.deepEqual(spec.resources, { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "4Gi" } });
        });

        it("selects ServiceMonitors and PrometheusRules from every namespace (ServingStack's and DriftMonitor's)", () => {
            const spec = values.prometheus.prometheusSpec;
            for (const k of ["serviceMonitorSelectorNilUsesHelmValues", "podMonitorSelectorNilUsesHelmValues", "ruleSelectorNilUsesHelmValues", "probeSelectorNilUsesHelmValues"]) {
                assert.equal(spec[k], false, k);
            }
        });

        it("routes alerts from args; receiver credentials are files from mounted Secrets, never values", () => {
            const am = values.alertmanager;
            assert.deepEqual(am.alertmanagerSpec.secrets, ["alertmanager-pagerduty", "alertmanager-slack"]);
            const receivers = Object.fromEntries(am.config.receivers.map((r: any) => [r.name, r]));
            assert.deepEqual(Object.keys(receivers).sort(), ["null", "oncall", "platform-slack"]);
            assert.equal(receivers["platform-slack"].slack_configs[0].api_url_file, `${ALERTMANAGER_SECRETS_DIR}/alertmanager-slack/webhook-url`);
            assert.equal(receivers["platform-slack"].slack_configs[0].channel, "#ml-platform");
            assert.equal(receivers.oncall.pagerduty_configs[0].routing_key_file, `${ALERTMANAGER_SECRETS_DIR}/alertmanager-pagerduty/routing-key`);
            const text = JSON.stringify(am.config);
            for (const literal of ['"api_url"', '"routing_key"', '"service_key"', '"url"', '"api_key"', "hooks.slack.com"]) {
                assert.ok(!text.includes(literal), `no literal credential field ${literal}`);
            }
            assert.equal(am.config.route.receiver, "platform-slack");
            assert.deepEqual(am.config.route.routes, [
                { receiver: "null", matchers: ['alertname="Watchdog"'] },
                { receiver: "oncall", matchers: ['severity="critical"'], continue: true },
            ]);
        });

        it("takes Grafana's admin user from an existing Secret (no password value) and loads dashboards by label", () => {
            assert.deepEqual(values.grafana.admin, { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" });
            assert.ok(!("adminPassword" in values.grafana), "no admin password value");
            assert.deepEqual(values.grafana.sidecar.dashboards, { enabled: true, label: "grafana_dashboard", labelValue: "1", searchNamespace: "monitoring" });
        });

        it("exposes the platform's Job labels through kube-state-metrics and puts node-exporter with the node agents", () => {
            assert.deepEqual(values["kube-state-metrics"].metricLabelsAllowlist, KSM_LABELS_ALLOWLIST);
            assert.deepEqual(KSM_LABELS_ALLOWLIST, ["jobs=[mlops.platform/role,mlops.platform/training-job,mlops.platform/run-id]", "cronjobs=[mlops.platform/role]"]);
            assert.equal(values["prometheus-node-exporter"].namespaceOverride, "kube-system");
        });

        // What the pinned charts' templates read (kube-prometheus-stack templates/prometheus-operator/
        // admission-webhooks/*, grafana templates/_pod.tpl and tests/test.yaml; read in
        // prometheus-community/helm-charts and grafana-community/helm-charts): each key below is one a
        // template branches on, and the value is the one that keeps every pod it renders within Pod
        // Security `restricted`, with the admission webhook on.
        it("sets every value the chart templates read for Grafana under Pod Security restricted and for the operator's admission webhook", () => {
            for (const req of KUBE_PROMETHEUS_STACK_REQUIRED_VALUES) {
                const got = req.path.split(".").reduce<any>((v, k) => v?.[k], values);
                assert.deepEqual(got, req.want, `${req.path} (${req.why})`);
            }
            const g = values.grafana;
            // _pod.tpl: `if (and .Values.persistence.enabled .Values.initChownData.enabled)` adds the root chown init container.
            assert.equal(g.persistence.enabled, true);
            assert.equal(g.initChownData.enabled, false);
            // Pod-level seccomp and non-root cover the sidecar and Grafana containers; fsGroup gives the volume to Grafana.
            assert.deepEqual(g.securityContext, { runAsNonRoot: true, runAsUser: 472, runAsGroup: 472, fsGroup: 472, seccompProfile: { type: "RuntimeDefault" } });
            for (const sc of [g.containerSecurityContext, g.sidecar.securityContext]) {
                assert.deepEqual([sc.allowPrivilegeEscalation, sc.capabilities, sc.seccompProfile], [false, { drop: ["ALL"] }, { type: "RuntimeDefault" }]);
            }
            // admission-webhooks/job-patch: the certgen Jobs (no cert-manager) create the TLS Secret and patch the CA bundle.
            const w = values.prometheusOperator.admissionWebhooks;
            assert.deepEqual([w.enabled, w.patch.enabled, w.certManager.enabled, w.failurePolicy], [true, true, false, "Ignore"]);
            assert.deepEqual(w.patch.securityContext, { runAsNonRoot: true, runAsUser: 2000, runAsGroup: 2000, seccompProfile: { type: "RuntimeDefault" } });
            assert.equal(values.prometheusOperator.tls.enabled, true, "the operator serves the webhook over TLS");
        });

        it("deep-merges extraValues but refuses the keys that carry credentials or routing", () => {
            const s = validateMonitoringArgs({ ...MONITORING, provider: {} as any, extraValues: { grafana: { ingress: { enabled: false } }, prometheus: { prometheusSpec: { retention: "1d" } } } });
            assert.deepEqual(s.extraValues.grafana, { ingress: { enabled: false } });
            assertInvalid(() => validateMonitoringArgs({ ...MONITORING, provider: {} as any, extraValues: { grafana: { adminPassword: "hunter2" } } }), "extraValues.grafana.adminPassword");
            assertInvalid(() => validateMonitoringArgs({ ...MONITORING, provider: {} as any, extraValues: { alertmanager: { config: {} } } }), "extraValues.alertmanager.config");
        });
    });

    it("installs the DCGM exporter from its pinned chart on every GPU pool's nodes (GPU taint tolerated), after the CRDs", () => {
        const dcgm = one(resources, T.chart, "mon-dcgm-exporter");
        assert.deepEqual([dcgm.inputs.chart, dcgm.inputs.version, dcgm.inputs.repositoryOpts.repo, dcgm.inputs.namespace], [DCGM_EXPORTER_CHART.chart, DCGM_EXPORTER_CHART.version, DCGM_EXPORTER_CHART.repo, "kube-system"]);
        assert.deepEqual(dcgm.inputs.values.nodeSelector, GPU.nodeSelector);
        assert.deepEqual(dcgm.inputs.values.tolerations, GPU.tolerations);
        assert.equal(dcgm.inputs.values.serviceMonitor.enabled, true);
        assert.ok(dcgm.dependencies.includes(one(resources, T.chart, "mon-stack").urn), "its ServiceMonitor needs the CRDs");
    });

    it("provisions the four dashboards as labelled ConfigMaps of valid dashboard JSON", () => {
        const cms = ofType(resources, T.cm);
        assert.deepEqual(cms.map((c) => Object.keys(c.inputs.data)[0]).sort(), ["mlops-drift.json", "mlops-gpu.json", "mlops-serving.json", "mlops-training.json"]);
        for (const cm of cms) {
            assert.equal(cm.inputs.metadata.namespace, "monitoring");
            assert.equal(cm.inputs.metadata.labels.grafana_dashboard, GRAFANA_DASHBOARD_LABEL.grafana_dashboard);
            const json = JSON.parse(Object.values(cm.inputs.data)[0] as string);
            assert.match(json.uid, /^mlops-/);
            const panels = json.panels.filter((p: any) => p.type !== "row");
            assert.ok(panels.length >= 3, `${json.uid} has panels`);
            for (const p of panels) {
                assert.equal(p.datasource.uid, "${datasource}");
                assert.ok(p.targets.length > 0 && p.targets.every((t: any) => typeof t.expr === "string" && t.expr.length > 0), `${json.uid}/${p.title} queries`);
                assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${json.uid}/${p.title} fits the grid`);
            }
            assert.equal(new Set(json.panels.map((p: any) => p.id)).size, json.panels.length, "unique panel ids");
        }
        const serving = JSON.parse(one(resources, T.cm, "mon-dashboard-serving").inputs.data["mlops-serving.json"]);
        const titles = serving.panels.map((p: any) => p.title);
        for (const t of ["Requests per second by track", "p50 latency by track", "p99 latency by track", "5xx error rate by track", "Canary vs stable error rate"]) {
            assert.ok(titles.includes(t), `serving dashboard has '${t}'`);
        }
        const gpu = JSON.stringify(JSON.parse(one(resources, T.cm, "mon-dashboard-gpu").inputs.data["mlops-gpu.json"]));
        assert.ok(gpu.includes("DCGM_FI_DEV_GPU_UTIL") && gpu.includes("DCGM_FI_DEV_FB_USED"));
        const training = JSON.stringify(JSON.parse(one(resources, T.cm, "mon-dashboard-training").inputs.data["mlops-training.json"]));
        assert.ok(["kube_job_status_completion_time", "kube_job_status_start_time", "kube_job_failed", "label_mlops_platform_role"].every((m) => training.includes(m)));
    });

    describe("alert rules", () => {
        const settings = validateMonitoringArgs({ ...MONITORING, provider: {} as any });
        const groups = platformAlertRules(settings);
        const rules = allRules(groups);

        it("cover the issue's alerts: serving latency/error budget, canary vs stable, training failed, GPU idle, tracking down", () => {
            assert.deepEqual(
                rules.map((r) => r.alert),
                [
                    "ModelServingErrorBudgetFastBurn",
                    "ModelServingErrorBudgetSlowBurn",
                    "ModelServingLatencyObjectiveMissed",
                    "ModelServingCanaryErrorRateAboveStable",
                    "TrainingJobFailed",
                    "GpuNodeIdle",
                    "GpuNodeUnallocated",
                    "GpuMetricsMissing",
                    "TrackingServerDown",
                ],
            );
        });

        it("every alert has `for`, a severity, summary/description and a runbook hint", () => {
            for (const r of rules) {
                assert.match(r.for, /^([0-9]+(ms|s|m|h|d|w|y))+$/, `${r.alert}: for`);
                assert.ok(["critical", "warning", "info"].includes(r.labels.severity), `${r.alert}: severity`);
                for (const k of ["summary", "description", "runbook"] as const) {
                    assert.ok(r.annotations[k] && r.annotations[k].length > 20, `${r.alert}: ${k}`);
                }
            }
        });

        it("are rendered as the component's PrometheusRule, after the CRDs", () => {
            const rule = one(resources, T.rule, "mon-alerts");
            assert.deepEqual(rule.inputs.spec.groups, JSON.parse(JSON.stringify(groups)));
            assert.ok(rule.dependencies.includes(one(resources, T.chart, "mon-stack").urn));
        });

        it("compute the error budget burn rates from the objective (14.4x fast, 6x slow) and compare canary with stable", () => {
            const fast = rules.find((r) => r.alert === "ModelServingErrorBudgetFastBurn")!;
            assert.match(fast.expr, /\[5m\]\)\)\) > 0\.072 and .*\[1h\]\)\)\) > 0\.072$/);
            assert.match(rules.find((r) => r.alert === "ModelServingErrorBudgetSlowBurn")!.expr, /> 0\.03 and .* > 0\.03$/);
            const canary = rules.find((r) => r.alert === "ModelServingCanaryErrorRateAboveStable")!.expr;
            assert.ok(canary.includes('track="canary"') && canary.includes('track="stable"') && canary.includes("> 0.01"));
            assert.ok(canary.includes('path=~"/invocations|/v2/models/.+/infer"'), "only scoring requests count (MLflow format and V2 infer)");
            const tracking = rules.find((r) => r.alert === "TrackingServerDown")!.expr;
            assert.equal(tracking, '(max by (namespace, deployment) (kube_deployment_status_replicas_available{namespace="mlflow",deployment="mlflow"}) == 0) or absent(kube_deployment_status_replicas_available{namespace="mlflow",deployment="mlflow"})');
            const training = rules.find((r) => r.alert === "TrainingJobFailed")!.expr;
            assert.equal(training, '(kube_job_failed{condition="true"} == 1) and on (namespace, job_name) kube_job_labels{label_mlops_platform_role="training"}');
            assert.equal(rules.find((r) => r.alert === "GpuNodeIdle")!.for, DEFAULT_PLATFORM_ALERTS.gpuIdleFor);
        });

        it("read only metrics the exporters really expose: every name is in the catalogue (rules, drift rules, ServingStack rules, dashboards)", () => {
            const drift: DriftMonitorSettings = validateDriftMonitorArgs("credit-risk-drift", {
                provider: {} as any,
                clusterName: "c",
                namespace: "ml-training",
                model: "credit-risk",
                image: `r.example/x@sha256:${"a".repeat(64)}`,
                schedule: "@daily",
                reference: { uri: "s3://bucket-a/ref/" },
                batch: { uri: "s3://bucket-b/batch/" },
                access: { referencePolicy: "{}", batchPolicy: "{}" },
                pushgatewayUrl: "http://pg:9091",
            });
            // The default runtime (MLServer): the one whose metrics the catalogue says something produces.
            const plan = planServingStack("churn", {
                ...CANARY,
                runtime: { kind: "mlserver", image: (CANARY.runtime as { image: string }).image, trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000" },
                provider: {} as any,
            });
            const exprs = [
                ...rules.map((r) => r.expr),
                ...(["both", "either", "psi", "ks"] as const).flatMap((decision) => driftAlertRules({ ...drift, decision }).map((r) => r.expr)),
                ...plan.tracks.flatMap((t) => servingAlertRules(plan, t.track).map((r) => r.expr)),
                ...Object.values(platformDashboards({ serving: DEFAULT_SERVING_METRICS, availabilityObjective: 0.995, gpuIdlePercent: 5 })).flatMap(dashboardExprs),
            ];
            assert.ok(exprs.length > 40);
            assert.deepEqual(unknownMetrics(exprs, metricCatalogue()), []);
            const used = new Set(exprs.flatMap(promqlMetricNames).map((n) => n.replace(/_(bucket|sum|count)$/, "")));
            for (const [name, src] of Object.entries(METRIC_SOURCES)) {
                assert.match(src.doc, /^(https:\/\/|examples\/)/, `${name}: documented source`);
                assert.ok(src.exporter.length > 0 && src.labels.length > 0, `${name}: exporter and labels`);
                assert.ok(used.has(name), `${name} is used by some rule or dashboard (no dead catalogue entries)`);
            }
        });

        it("the platform's serving rules and dashboards read MLServer's metric names, which the catalogue lists without any stack override", () => {
            const s = validateMonitoringArgs({ ...MONITORING, provider: {} as any });
            assert.equal(s.servingMetrics.requestsCounter, "rest_server_requests_total");
            assert.equal(s.servingMetrics.latencyHistogram, "rest_server_request_duration_seconds");
            assert.equal(s.servingMetrics.statusLabel, "status_code");
            const exprs = [
                ...allRules(platformAlertRules(s)).map((r) => r.expr),
                ...Object.values(platformDashboards({ serving: s.servingMetrics, availabilityObjective: 0.995, gpuIdlePercent: 5 })).flatMap(dashboardExprs),
            ];
            // Strict: METRIC_SOURCES only (metricCatalogue() would add configured names as "custom").
            assert.deepEqual(unknownMetrics(exprs, METRIC_SOURCES), []);
            assert.ok(exprs.some((e) => e.includes('rest_server_requests_total{path=~"/invocations|/v2/models/.+/infer"')), "inference paths only");
            assert.equal(METRIC_SOURCES.http_requests_total, undefined);
            assert.equal(METRIC_SOURCES.http_request_duration_seconds, undefined);
        });

        it("the metric check bites: names inside functions, joins and histograms are found; unknown ones reported", () => {
            assert.deepEqual(
                promqlMetricNames('histogram_quantile(0.99, sum by (le, track) (rate(foo_seconds_bucket{a="b", c=~"x|y"}[5m]))) > 1e3 and on (track) bar_total offset 5m unless absent(baz{job="q"})'),
                ["bar_total", "baz", "foo_seconds_bucket"],
            );
            // http_requests_total is what MLflow's scoring server does NOT export: nothing deployed produces it.
            assert.deepEqual(unknownMetrics(["rate(http_requests_total[5m]) / ignoring(x) group_left(y) DCGM_FI_DEV_GPU_UTIL", "nvidia_gpu_duty_cycle > 0"]), ["http_requests_total", "nvidia_gpu_duty_cycle"]);
            assert.deepEqual(unknownMetrics(["rest_server_request_duration_seconds_bucket", "kube_job_labels_bucket"]), ["kube_job_labels_bucket"], "only histogram families have _bucket series");
        });

        it("follow a stack's own serving metric names and leave out the tracking rule when disabled", () => {
            const s = validateMonitoringArgs({ ...MONITORING, provider: {} as any, servingMetrics: { requestsCounter: "requests_total", requestSelector: "" }, trackingServer: false });
            const g = platformAlertRules(s);
            assert.ok(!g.some((x) => x.name === "mlops-tracking"));
            const fast = allRules(g).find((r) => r.alert === "ModelServingErrorBudgetFastBurn")!.expr;
            assert.ok(fast.includes('rate(requests_total{status_code=~"5.."}[5m])') && fast.includes("rate(requests_total{}[5m])"));
            assert.deepEqual(unknownMetrics(allRules(g).map((r) => r.expr), metricCatalogue(s.servingMetrics)), []);
        });
    });

    describe("Pushgateway", () => {
        it("runs pinned, restricted, with resources, behind a Service, scraped with honorLabels", () => {
            const d = one(resources, T.deploy, "mon-pushgateway").inputs;
            assert.equal(d.metadata.name, "kps-pushgateway");
            const pod = d.spec.template.spec;
            const c = pod.containers[0];
            assert.equal(c.image, PUSHGATEWAY_IMAGE);
            assert.equal(pod.securityContext.runAsNonRoot, true);
            assert.equal(pod.automountServiceAccountToken, false);
            assert.deepEqual([c.securityContext.readOnlyRootFilesystem, c.securityContext.allowPrivilegeEscalation, c.securityContext.capabilities], [true, false, { drop: ["ALL"] }]);
            assert.deepEqual(c.resources, { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } });
            assert.deepEqual([c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path], ["/-/ready", "/-/healthy"]);
            const sm = one(resources, T.monitor, "mon-pushgateway-monitor").inputs.spec;
            assert.deepEqual(sm.endpoints, [{ port: "http", path: "/metrics", interval: "30s", honorLabels: true }]);
            assert.deepEqual(sm.selector.matchLabels, one(resources, T.svc, "mon-pushgateway").inputs.spec.selector);
            assert.equal(outputs.pushgateway, "http://kps-pushgateway.monitoring.svc.cluster.local:9091");
        });

        it("accepts pushes only from the monitoring namespace and the listed namespaces", () => {
            const np = one(resources, T.netpol, "mon-pushgateway-ingress").inputs.spec;
            assert.deepEqual(np.ingress, [
                {
                    from: [{ podSelector: {} }, { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["ml-training"] }] } }],
                    ports: [{ protocol: "TCP", port: 9091 }],
                },
            ]);
        });

        it("passes the security pack with a digest-pinned mirror, and with the component's exemptions for the upstream image", async () => {
            const mine = resources.filter((r) => r.type !== T.chart);
            const upstream = await runPolicyPack("security", mine, oneComponentPackConfig(["monitoring"], { "k8s-image-pinned-registry": { exemptions: monitoringPolicyExemptions(validateMonitoringArgs({ ...MONITORING, provider: {} as any }))["k8s-image-pinned-registry"] } }));
            assert.deepEqual(upstream.violations.map((v) => `${v.policyName}: ${v.message}`), []);
            const mirrored = await render({ ...MONITORING, pushgateway: { image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/pushgateway@sha256:${"e".repeat(64)}` } });
            const result = await runPolicyPack("security", mirrored.resources.filter((r) => r.type !== T.chart), oneComponentPackConfig(["monitoring"]));
            assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
            const bare = await runPolicyPack("security", mine, oneComponentPackConfig(["monitoring"]));
            assert.deepEqual([...new Set(bare.violations.map((v) => v.policyName))], ["k8s-image-pinned-registry"], "without the exemption only the upstream image is reported");
        });
    });

    it("lists policy exemptions by name, for policies the security pack has", () => {
        const ex = monitoringPolicyExemptions(validateMonitoringArgs({ ...MONITORING, provider: {} as any }));
        const names = new Set(securityPolicies.map((p) => p.name));
        for (const [policy, list] of Object.entries(ex)) {
            assert.ok(names.has(policy), `${policy} is a security pack policy`);
            for (const e of list) {
                assert.ok(e.namespace && e.name && e.reason, `${policy}: namespace, name and reason`);
                assert.notEqual(e.name, "*", `${policy}: exemptions name objects, never everything`);
            }
        }
        assert.deepEqual(ex["k8s-no-host-namespaces"], [{ namespace: "kube-system", name: "kps-prometheus-node-exporter*", reason: ex["k8s-no-host-namespaces"][0].reason }]);
        assert.ok(ex["k8s-run-as-non-root"].some((e) => e.name === "dcgm-exporter*"));
    });

    it("outputs in-cluster URLs from the chart's naming", () => {
        assert.deepEqual(outputs, {
            ns: "monitoring",
            pushgateway: "http://kps-pushgateway.monitoring.svc.cluster.local:9091",
            prometheus: "http://kps-prometheus.monitoring.svc.cluster.local:9090",
            grafana: "http://kps-grafana.monitoring.svc.cluster.local",
            alertmanager: "http://kps-alertmanager.monitoring.svc.cluster.local:9093",
        });
    });

    it("leaves out the DCGM exporter and the Pushgateway when disabled", async () => {
        const { resources: minimal, outputs: out } = await render({ ...MONITORING, dcgmExporter: false, pushgateway: false, trackingServer: false }, "m2");
        assert.deepEqual(
            inventory(minimal).filter((x) => !x.includes("ConfigMap")),
            [`${T.chart} m2-stack`, `${T.ns} m2-ns`, `${T.rule} m2-alerts`, `${T.netpol} m2-netpol`, "mlops-platform:index:Monitoring m2"].sort(),
        );
        assert.equal(out.pushgateway, undefined);
        assert.ok(!one(minimal, T.rule, "m2-alerts").inputs.spec.groups.some((g: any) => g.name === "mlops-tracking"));
    });

    it("validates its arguments, naming each bad property", () => {
        const base = { ...MONITORING, provider: {} as any };
        const bad = (a: Partial<MonitoringArgs>, prop: string, reason?: RegExp) => assertInvalid(() => validateMonitoringArgs({ ...base, ...a }), prop, reason);
        const am = MONITORING.alertmanager;
        const slack = am.receivers[0];
        bad({ storageClassName: undefined as any }, "storageClassName");
        bad({ provider: undefined as any }, "provider");
        bad({ namespace: "Monitoring" }, "namespace");
        bad({ nodeAgentsNamespace: "monitoring" }, "nodeAgentsNamespace", /restricted/);
        bad({ releaseName: "a-very-long-release-name" }, "releaseName", /20 characters/);
        bad({ chart: { version: "^91.0.0" } }, "chart.version");
        bad({ chart: { repo: "http://charts.example.com" } }, "chart.repo");
        bad({ imageRegistry: "https://mirror" }, "imageRegistry");
        bad({ prometheus: { retention: "15 days" } }, "prometheus.retention");
        bad({ prometheus: { retentionSize: "45G" } }, "prometheus.retentionSize");
        bad({ prometheus: { storageSize: "10Gi", retentionSize: "20GB" } }, "prometheus.retentionSize", /below prometheus.storageSize/);
        bad({ prometheus: { storageSize: "lots" } }, "prometheus.storageSize");
        bad({ prometheus: { replicas: 0 } }, "prometheus.replicas");
        bad({ prometheus: { resources: { cpu: "half", memory: "1Gi" } } }, "prometheus.resources.cpu");
        bad({ alertmanager: undefined as any }, "alertmanager");
        bad({ alertmanager: { ...am, receivers: [] } }, "alertmanager.receivers");
        bad({ alertmanager: { ...am, receivers: [{ ...slack, name: "null" }] } }, "alertmanager.receivers[0].name", /reserved/);
        bad({ alertmanager: { ...am, receivers: [slack, { ...slack }] } }, "alertmanager.receivers[1].name", /duplicates/);
        bad({ alertmanager: { ...am, receivers: [{ ...slack, type: "email" } as any] } }, "alertmanager.receivers[0].type");
        bad({ alertmanager: { ...am, receivers: [{ ...slack, secret: { name: "Slack_Secret", key: "url" } }] } }, "alertmanager.receivers[0].secret.name");
        bad({ alertmanager: { ...am, receivers: [{ ...slack, secret: { name: "slack", key: "a/b" } }] } }, "alertmanager.receivers[0].secret.key");
        bad({ alertmanager: { ...am, receivers: [{ ...slack, api_url: "https://hooks.slack.com/services/T0/B0/X" } as any] } }, "alertmanager.receivers[0].api_url", /belong in the Secret/);
        bad({ alertmanager: { ...am, receivers: [{ ...slack, channel: "ML Platform!" } as any] } }, "alertmanager.receivers[0].channel");
        bad({ alertmanager: { ...am, defaultReceiver: "nobody" } }, "alertmanager.defaultReceiver");
        bad({ alertmanager: { ...am, routes: [{ receiver: "nobody", matchers: ['severity="critical"'] }] } }, "alertmanager.routes[0].receiver");
        bad({ alertmanager: { ...am, routes: [{ receiver: "oncall", matchers: [] }] } }, "alertmanager.routes[0].matchers");
        bad({ alertmanager: { ...am, routes: [{ receiver: "oncall", matchers: ["severity: critical"] }] } }, "alertmanager.routes[0].matchers[0]");
        bad({ alertmanager: { ...am, routes: [{ receiver: "oncall", matchers: ['a="b"'], repeatInterval: "1 hour" }] } }, "alertmanager.routes[0].repeatInterval");
        bad({ alertmanager: { ...am, groupBy: ["alert-name"] } }, "alertmanager.groupBy[0]");
        bad({ alertmanager: { ...am, replicas: 9 } }, "alertmanager.replicas");
        bad({ grafana: undefined as any }, "grafana");
        bad({ grafana: { adminSecret: { name: "" } } }, "grafana.adminSecret.name");
        bad({ grafana: { adminSecret: { name: "grafana-admin", passwordKey: "pass word" } } }, "grafana.adminSecret.passwordKey");
        bad({ dcgmExporter: { chart: { version: "latest" } } }, "dcgmExporter.chart.version");
        bad({ dcgmExporter: { nodeSelector: {} } }, "dcgmExporter.nodeSelector");
        bad({ pushgateway: { image: "quay.io/prometheus/pushgateway:latest" } }, "pushgateway.image");
        bad({ pushgateway: { image: "quay.io/prometheus/pushgateway" } }, "pushgateway.image");
        bad({ pushgateway: { allowFromNamespaces: ["ML"] } }, "pushgateway.allowFromNamespaces[0]");
        bad({ trackingServer: { namespace: "mlflow", deploymentName: "MLflow" } }, "trackingServer.deploymentName");
        bad({ alerts: { servingAvailabilityObjective: 1 } }, "alerts.servingAvailabilityObjective");
        bad({ alerts: { gpuIdleFor: "2 hours" } }, "alerts.gpuIdleFor");
        bad({ alerts: { gpuIdlePercent: 0 } }, "alerts.gpuIdlePercent");
        bad({ alerts: { canaryErrorRateMargin: -0.1 } }, "alerts.canaryErrorRateMargin");
        bad({ servingMetrics: { requestsCounter: "http-requests" } }, "servingMetrics.requestsCounter");
    });
});
