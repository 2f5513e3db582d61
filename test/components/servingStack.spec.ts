import * as k8s from "@pulumi/kubernetes";
import * as assert from "node:assert/strict";
import {
    Gateway,
    GatewayArgs,
    validateGatewayArgs,
    ENVOY_GATEWAY_CHART,
    ENVOY_GATEWAY_CONTROLLER,
    GATEWAY_ACCESS_LABEL,
    LB_SCHEME_ANNOTATION,
    LB_SSL_CERT_ANNOTATION,
} from "../../components/gateway";
import { validateEnvoyGatewayObject } from "../../offline-plan/envoy-gateway-schemas";
import { ModelRelease } from "../../components/modelRelease";
import { planServingStack, ServingStack, ServingStackArgs } from "../../components/servingStack";
import { ANNOTATIONS, canonicalJson, parseReleaseAnnotations, releaseAnnotations } from "../../release-contract/annotations";
import { DEFAULT_GATE_CONFIG } from "../../release-contract/gate";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory, one, ofType } from "../helpers/resources";
import * as models from "kubernetes-models";
import * as gatewayApi from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import * as promOp from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const T = {
    ns: "kubernetes:core/v1:Namespace",
    deploy: "kubernetes:apps/v1:Deployment",
    svc: "kubernetes:core/v1:Service",
    pdb: "kubernetes:policy/v1:PodDisruptionBudget",
    hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    route: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    monitor: "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    rule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
};

export const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-platform-dev-server@sha256:${"a".repeat(64)}`;

/** A release that passes the default gate (F1 +2% relative) when f1 >= baseline × 1.02. */
export function release(version: number, f1: number, baselineF1 = 0.8): ModelRelease {
    return {
        model: "churn",
        version: String(version),
        modelUri: `models:/churn/${version}`,
        metrics: { f1, accuracy: 0.91 },
        baseline: { version: String(version - 1), metrics: { f1: baselineF1, accuracy: 0.9 } },
        evaluation: { samples: 5000 },
        approvedBy: "lead@example.com",
    };
}

type Args = Omit<ServingStackArgs, "provider">;

const BASE: Omit<Args, "strategy"> = {
    namespace: "ml-serving",
    runtime: { kind: "mlflow", image: IMAGE, trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000" },
    identity: { clusterName: "mlops-dev", artifactReadPolicy: '{"Version":"2012-10-17","Statement":[]}' },
};

export const CANARY: Args = {
    ...BASE,
    strategy: "canary",
    canary: { stable: release(6, 0.84), canary: release(7, 0.9, 0.84), canaryWeight: 10, mirror: true },
    gateway: { parentRef: { name: "mlops", namespace: "envoy-gateway-system", sectionName: "http" }, hostname: "models.dev.example.com" },
    prometheusOperator: true,
    autoscaling: { maxReplicas: 6, targetCpuUtilization: 70 },
};

export const BLUE_GREEN: Args = {
    ...BASE,
    strategy: "blueGreen",
    blueGreen: { slots: { blue: release(6, 0.84), green: release(7, 0.9, 0.84) }, active: "blue" },
    gateway: { parentRef: { name: "mlops", namespace: "envoy-gateway-system" } },
    prometheusOperator: true,
};

/** Renders a ServingStack named `churn` under mocks. */
export async function renderStack(args: Args): Promise<{ resources: RecordedResource[]; outputs: Record<string, unknown> }> {
    const rec = await recordResources(() => {
        const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
        const s = new ServingStack("churn", { ...args, provider });
        return { effective: s.effectiveCanaryWeight, weight: s.canaryWeight, active: s.activeSlot, urls: s.serviceUrls, route: s.routeName, sa: s.serviceAccountName };
    });
    return { resources: rec.resources.filter((r) => !r.type.startsWith("pulumi:providers:")), outputs: rec.outputs };
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
    [T.ns]: models.v1.Namespace as any,
    "kubernetes:core/v1:ServiceAccount": models.v1.ServiceAccount as any,
    [T.svc]: models.v1.Service as any,
    [T.deploy]: models.apps.v1.Deployment as any,
    [T.pdb]: models.policy.v1.PodDisruptionBudget as any,
    [T.hpa]: models.autoscaling.v2.HorizontalPodAutoscaler as any,
    [T.netpol]: models.networkingK8sIo.v1.NetworkPolicy as any,
    [T.route]: gatewayApi.HTTPRoute as any,
    "kubernetes:gateway.networking.k8s.io/v1:Gateway": gatewayApi.Gateway as any,
    "kubernetes:gateway.networking.k8s.io/v1:GatewayClass": gatewayApi.GatewayClass as any,
    [T.monitor]: promOp.ServiceMonitor as any,
    [T.rule]: promOp.PrometheusRule as any,
    "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy": envoyModel,
    "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy": envoyModel,
};

/** A model-like wrapper of the offline plan's Envoy Gateway schemas. */
function envoyModel(this: any, data: any) {
    return {
        validate: () => {
            const errors = validateEnvoyGatewayObject(data);
            if (errors === undefined || errors.length) throw new Error(`invalid ${data.kind}: ${errors?.join("; ") ?? "unknown kind"}`);
        },
    };
}

/** Every Kubernetes object validates against its schema (kubernetes-models); returns how many. */
export function validateAll(resources: RecordedResource[]): number {
    let n = 0;
    for (const r of resources.filter((x) => x.custom && x.type.startsWith("kubernetes:") && !x.type.startsWith("kubernetes:helm.sh/"))) {
        const Model = MODELS[r.type];
        assert.ok(Model, `no schema registered in the spec for ${r.type}`);
        const [, gv, kind] = /^kubernetes:(.+):([^:]+)$/.exec(r.type)!;
        const apiVersion = gv.startsWith("core/") ? gv.slice(5) : gv;
        assert.equal(r.inputs.apiVersion, apiVersion, `${r.name}: apiVersion`);
        assert.equal(r.inputs.kind, kind, `${r.name}: kind`);
        assert.doesNotThrow(() => new Model({ ...r.inputs, apiVersion, kind }).validate(), `${r.type} ${r.name} is schema-valid`);
        n++;
    }
    return n;
}

function byName(resources: RecordedResource[], type: string): Record<string, RecordedResource> {
    return Object.fromEntries(ofType(resources, type).map((r) => [r.inputs.metadata.name, r]));
}

describe("ServingStack", () => {
    describe("canary behind a Gateway", () => {
        let resources: RecordedResource[];
        let outputs: Record<string, unknown>;
        before(async () => ({ resources, outputs } = await renderStack(CANARY)));

        it("declares exactly the expected children, all parented to the component", () => {
            assert.deepEqual(
                inventory(resources),
                [
                    "aws:eks/podIdentityAssociation:PodIdentityAssociation churn-identity-association",
                    "aws:iam/role:Role churn-identity-role",
                    "aws:iam/rolePolicy:RolePolicy churn-identity-model-artifacts-read",
                    `${T.deploy} churn-canary`,
                    `${T.deploy} churn-stable`,
                    `${T.hpa} churn-canary`,
                    `${T.hpa} churn-stable`,
                    `${T.ns} churn-ns`,
                    "kubernetes:core/v1:ServiceAccount churn-identity-sa",
                    `${T.svc} churn-svc-canary`,
                    `${T.svc} churn-svc-stable`,
                    `${T.route} churn-route`,
                    `${T.rule} churn-canary-alerts`,
                    `${T.rule} churn-stable-alerts`,
                    `${T.monitor} churn-canary-monitor`,
                    `${T.monitor} churn-stable-monitor`,
                    `${T.netpol} churn-ingress`,
                    `${T.pdb} churn-canary`,
                    `${T.pdb} churn-stable`,
                    "mlops-platform:index:ServingStack churn",
                    "mlops-platform:index:WorkloadIdentity churn-identity",
                ].sort(),
            );
            const component = one(resources, "mlops-platform:index:ServingStack", "churn");
            const identity = one(resources, "mlops-platform:index:WorkloadIdentity", "churn-identity");
            for (const r of resources.filter((x) => x !== component)) {
                assert.ok(r.parent === component.urn || r.parent === identity.urn, `${r.name} is parented to the component`);
                if (r.custom && r.type.startsWith("kubernetes:")) {
                    assert.match(r.provider, /pulumi:providers:kubernetes::k8s::/, `${r.name} names the cluster provider`);
                }
            }
        });

        it("every rendered Kubernetes object is schema-valid (kubernetes-models, gateway-api, prometheus-operator)", () => {
            assert.equal(validateAll(resources), 16);
        });

        it("the schema check bites: a malformed object fails validation", () => {
            const route = one(resources, T.route, "churn-route");
            const broken = { ...route, inputs: { ...route.inputs, spec: { ...route.inputs.spec, rules: [{ backendRefs: [{ name: "x", weight: "ten" }] }] } } };
            assert.throws(() => validateAll([broken]), /schema-valid/);
            const deploy = one(resources, T.deploy, "churn-stable");
            const noSelector = { ...deploy, inputs: { ...deploy.inputs, spec: { ...deploy.inputs.spec, selector: undefined } } };
            assert.throws(() => validateAll([noSelector]), /schema-valid/);
        });

        it("creates the namespace with Pod Security restricted and Gateway access labels", () => {
            const ns = one(resources, T.ns, "churn-ns").inputs.metadata;
            assert.equal(ns.name, "ml-serving");
            assert.equal(ns.labels["pod-security.kubernetes.io/enforce"], "restricted");
            assert.equal(ns.labels[GATEWAY_ACCESS_LABEL], "true");
        });

        it("runs MLflow's scoring server on models:/<name>/<version> with the tracking URI", () => {
            const c = one(resources, T.deploy, "churn-canary").inputs.spec.template.spec.containers[0];
            assert.deepEqual(c.command, ["mlflow"]);
            assert.deepEqual(c.args, ["models", "serve", "-m", "models:/churn/7", "--host", "0.0.0.0", "--port", "8080", "--env-manager", "local"]);
            assert.equal(c.image, IMAGE);
            assert.deepEqual(c.env.find((e: any) => e.name === "MLFLOW_TRACKING_URI"), { name: "MLFLOW_TRACKING_URI", value: "http://mlflow.mlflow.svc.cluster.local:5000" });
            assert.deepEqual(c.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
            assert.deepEqual(one(resources, T.deploy, "churn-stable").inputs.spec.template.spec.containers[0].args[3], "models:/churn/6");
        });

        it("probes the scoring server's /ping and /health, with a startup allowance for model loading", () => {
            const c = one(resources, T.deploy, "churn-stable").inputs.spec.template.spec.containers[0];
            assert.equal(c.livenessProbe.httpGet.path, "/ping");
            assert.equal(c.readinessProbe.httpGet.path, "/health");
            assert.equal(c.startupProbe.httpGet.path, "/ping");
            assert.ok(c.startupProbe.failureThreshold * c.startupProbe.periodSeconds >= 600);
            assert.deepEqual(c.lifecycle.preStop, { sleep: { seconds: 10 } });
        });

        it("hardens pods: restricted security context, read-only root with /tmp scratch, no token, read-only ServiceAccount", () => {
            const spec = one(resources, T.deploy, "churn-stable").inputs.spec.template.spec;
            const c = spec.containers[0];
            assert.equal(spec.securityContext.runAsNonRoot, true);
            assert.equal(spec.securityContext.seccompProfile.type, "RuntimeDefault");
            assert.equal(c.securityContext.allowPrivilegeEscalation, false);
            assert.equal(c.securityContext.readOnlyRootFilesystem, true);
            assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
            assert.equal(spec.automountServiceAccountToken, false);
            assert.equal(spec.serviceAccountName, "churn-server");
            assert.deepEqual(c.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
            assert.deepEqual(c.resources, { requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "2Gi" } });
            const sa = one(resources, "kubernetes:core/v1:ServiceAccount", "churn-identity-sa").inputs;
            assert.deepEqual([sa.metadata.name, sa.metadata.namespace, sa.automountServiceAccountToken], ["churn-server", "ml-serving", false]);
            const policy = one(resources, "aws:iam/rolePolicy:RolePolicy", "churn-identity-model-artifacts-read").inputs;
            assert.equal(policy.policy, BASE.identity.artifactReadPolicy);
        });

        it("spreads each track across zones and hosts", () => {
            const tsc = one(resources, T.deploy, "churn-stable").inputs.spec.template.spec.topologySpreadConstraints;
            assert.deepEqual(
                tsc.map((t: any) => [t.topologyKey, t.whenUnsatisfiable, t.labelSelector.matchLabels["mlops.platform/track"]]),
                [["topology.kubernetes.io/zone", "ScheduleAnyway", "stable"], ["kubernetes.io/hostname", "ScheduleAnyway", "stable"]],
            );
        });

        it("writes the release and its gate verdict on each Deployment and its pod template", () => {
            for (const [track, rel] of [["stable", CANARY.canary!.stable], ["canary", CANARY.canary!.canary!]] as const) {
                const d = one(resources, T.deploy, `churn-${track}`).inputs;
                // The verdict and the thresholds it was computed with (the default gate: F1 +2 % relative).
                const expected = { ...releaseAnnotations(rel, track, "pass"), [ANNOTATIONS.gateThresholds]: canonicalJson(DEFAULT_GATE_CONFIG.thresholds) };
                assert.deepEqual(d.metadata.annotations, expected);
                const { ["kubectl.kubernetes.io/default-container"]: dc, ...tpl } = d.spec.template.metadata.annotations;
                assert.equal(dc, "server");
                assert.deepEqual(tpl, expected);
                const parsed = parseReleaseAnnotations(d.metadata.annotations)!;
                assert.deepEqual(parsed.problems, []);
                assert.equal(parsed.gate, "pass");
                assert.equal(parsed.release.approvedBy, "lead@example.com");
                assert.equal(d.metadata.labels["mlops.platform/role"], "serving");
            }
        });

        it("omits spec.replicas where an HPA owns the count; HPAs target their Deployment", () => {
            const stable = one(resources, T.deploy, "churn-stable").inputs.spec;
            assert.equal(stable.replicas, undefined);
            const hpas = byName(resources, T.hpa);
            assert.deepEqual(
                [hpas["churn-stable"].inputs.spec.minReplicas, hpas["churn-stable"].inputs.spec.maxReplicas],
                [2, 6],
            );
            // CPU canary autoscales from 1 pod with its share of the traffic.
            assert.deepEqual([hpas["churn-canary"].inputs.spec.minReplicas, hpas["churn-canary"].inputs.spec.maxReplicas], [1, 6]);
            assert.deepEqual(hpas["churn-canary"].inputs.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "churn-canary" });
            assert.deepEqual(stable.strategy.rollingUpdate, { maxSurge: "25%", maxUnavailable: 0 });
        });

        it("puts a PodDisruptionBudget on each track that still lets nodes drain, crash-looping pods included", () => {
            for (const t of ["stable", "canary"]) {
                const pdb = one(resources, T.pdb, `churn-${t}`).inputs.spec;
                assert.equal(pdb.maxUnavailable, 1);
                assert.equal(pdb.unhealthyPodEvictionPolicy, "AlwaysAllow");
                assert.deepEqual(pdb.selector.matchLabels, { "app.kubernetes.io/name": "churn", "mlops.platform/track": t });
            }
        });

        it("exposes one ClusterIP Service per track (never a LoadBalancer)", () => {
            const svcs = byName(resources, T.svc);
            assert.deepEqual(Object.keys(svcs).sort(), ["churn-canary", "churn-stable"]);
            for (const t of ["stable", "canary"]) {
                const s = svcs[`churn-${t}`].inputs.spec;
                assert.equal(s.type, "ClusterIP");
                assert.deepEqual(s.selector, { "app.kubernetes.io/name": "churn", "mlops.platform/track": t });
                assert.deepEqual(s.ports, [{ name: "http", port: 80, targetPort: "http", protocol: "TCP", appProtocol: "http" }]);
            }
            assert.ok(ofType(resources, T.svc).every((s) => s.inputs.spec.type !== "LoadBalancer"));
        });

        it("splits traffic with HTTPRoute weights, pins the header to the canary and mirrors to it", () => {
            const route = one(resources, T.route, "churn-route").inputs;
            assert.equal(route.metadata.namespace, "ml-serving");
            assert.deepEqual(route.spec.parentRefs, [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "mlops", namespace: "envoy-gateway-system", sectionName: "http" }]);
            assert.deepEqual(route.spec.hostnames, ["models.dev.example.com"]);
            const [header, main] = route.spec.rules;
            assert.deepEqual(header.matches, [{ path: { type: "PathPrefix", value: "/" }, headers: [{ type: "Exact", name: "x-model-track", value: "canary" }] }]);
            assert.deepEqual(header.backendRefs.map((b: any) => [b.name, b.weight]), [["churn-canary", 1]]);
            assert.deepEqual(main.backendRefs.map((b: any) => [b.name, b.port, b.weight]), [["churn-stable", 80, 90], ["churn-canary", 80, 10]]);
            assert.deepEqual(main.filters, [{ type: "RequestMirror", requestMirror: { backendRef: { group: "", kind: "Service", name: "churn-canary", port: 80 } } }]);
            assert.equal(outputs.effective, 10);
            assert.equal(outputs.route, "churn");
        });

        it("admits traffic only from the Gateway's namespace, Prometheus and the namespace itself", () => {
            const np = one(resources, T.netpol, "churn-ingress").inputs.spec;
            assert.deepEqual(np.podSelector.matchLabels, { "app.kubernetes.io/name": "churn", "mlops.platform/role": "serving" });
            assert.deepEqual(np.ingress[0].from[1].namespaceSelector.matchExpressions[0].values, ["envoy-gateway-system", "monitoring"]);
            assert.deepEqual(np.ingress[0].ports, [{ protocol: "TCP", port: 8080 }]);
        });

        it("scrapes each track and alerts on its p99 latency and 5xx rate with the configured thresholds", () => {
            const mon = one(resources, T.monitor, "churn-canary-monitor").inputs.spec;
            assert.deepEqual(mon.selector.matchLabels, { "app.kubernetes.io/name": "churn", "mlops.platform/scrape": "true" });
            assert.deepEqual(mon.endpoints[0].relabelings[0], { action: "keep", sourceLabels: ["__meta_kubernetes_pod_label_mlops_platform_track"], regex: "canary" });
            const rules = one(resources, T.rule, "churn-canary-alerts").inputs.spec.groups[0].rules;
            assert.deepEqual(rules.map((r: any) => r.alert), ["ModelServingHighP99Latency", "ModelServingHigh5xxRate", "ModelServingMetricsMissing"]);
            assert.equal(
                rules[0].expr,
                'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="ml-serving",model_server="churn",track="canary",handler="/invocations"}[5m]))) > 1',
            );
            assert.match(rules[1].expr, /http_requests_total\{[^}]*status=~"5\.\."\}\[5m\]\)\) \/ sum\(rate\(http_requests_total\{[^}]*\}\[5m\]\)\)\) > 0\.01$/);
            assert.equal(rules[0].for, "10m");
        });
    });

    describe("blue-green", () => {
        let resources: RecordedResource[];
        let outputs: Record<string, unknown>;
        before(async () => ({ resources, outputs } = await renderStack(BLUE_GREEN)));

        it("declares a Deployment per filled slot, the active Service and the preview Service", () => {
            assert.deepEqual(ofType(resources, T.deploy).map((d) => d.name).sort(), ["churn-blue", "churn-green"]);
            const svcs = byName(resources, T.svc);
            assert.deepEqual(svcs["churn"].inputs.spec.selector, { "app.kubernetes.io/name": "churn", "mlops.platform/track": "blue" });
            assert.deepEqual(svcs["churn-preview"].inputs.spec.selector, { "app.kubernetes.io/name": "churn", "mlops.platform/track": "green" });
            assert.equal(one(resources, T.svc, "churn-svc-main").inputs.metadata.labels["mlops.platform/endpoint"], "active");
            assert.equal(outputs.active, "blue");
            assert.equal(validateAll(resources), 14);
        });

        it("routes everything to the active Service and the preview header to the idle slot", () => {
            const rules = one(resources, T.route, "churn-route").inputs.spec.rules;
            assert.deepEqual(rules[0].matches[0].headers, [{ type: "Exact", name: "x-model-track", value: "preview" }]);
            assert.deepEqual(rules.map((r: any) => r.backendRefs.map((b: any) => b.name)), [["churn-preview"], ["churn"]]);
        });

        it("keeps both slots full size with their own HPA-free replica count", () => {
            for (const slot of ["blue", "green"]) {
                assert.equal(one(resources, T.deploy, `churn-${slot}`).inputs.spec.replicas, 2);
            }
            assert.equal(ofType(resources, T.hpa).length, 0);
        });

        it("has no preview Service or header rule while the idle slot is empty", async () => {
            const { resources: r } = await renderStack({ ...BLUE_GREEN, blueGreen: { slots: { blue: release(6, 0.84) }, active: "blue" } });
            assert.deepEqual(ofType(r, T.svc).map((s) => s.inputs.metadata.name), ["churn"]);
            assert.equal(one(r, T.route, "churn-route").inputs.spec.rules.length, 1);
            assert.deepEqual(ofType(r, T.deploy).map((d) => d.name), ["churn-blue"]);
        });
    });

    describe("client authentication and header-based track selection", () => {
        it("with apiKeySecret, a SecurityPolicy requires an API key from the Secret on the model route", async () => {
            const { resources } = await renderStack({ ...CANARY, apiKeySecret: "model-api-keys" });
            const sp = one(resources, "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy", "churn-auth");
            assert.deepEqual(sp.inputs.metadata.namespace, "ml-serving");
            assert.deepEqual(sp.inputs.spec, {
                targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "churn" }],
                apiKeyAuth: { credentialRefs: [{ group: "", kind: "Secret", name: "model-api-keys" }], extractFrom: [{ headers: ["x-api-key"] }] },
            });
            assert.ok(sp.dependencies.includes(one(resources, T.route, "churn-route").urn));
            assert.ok(validateAll(resources) > 0);
        });

        it("without apiKeySecret there is no SecurityPolicy (dev); an API key needs a Gateway to attach to", async () => {
            const { resources } = await renderStack(CANARY);
            assert.equal(ofType(resources, "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy").length, 0);
            const { gateway: _g, ...noGateway } = CANARY;
            assertInvalid(() => planServingStack("churn", { ...noGateway, provider: {} as any, apiKeySecret: "model-api-keys" }), "apiKeySecret");
            assertInvalid(() => planServingStack("churn", { ...CANARY, provider: {} as any, apiKeySecret: "Model_Keys" }), "apiKeySecret");
        });

        it("with headerRouting off, no rule lets a caller pick the canary (or the blue-green preview) by header", async () => {
            const canary = one((await renderStack({ ...CANARY, headerRouting: false })).resources, T.route, "churn-route").inputs.spec.rules;
            assert.equal(canary.length, 1);
            assert.equal(canary[0].matches[0].headers, undefined);
            assert.deepEqual(canary[0].backendRefs.map((b: any) => [b.name, b.weight]), [["churn-stable", 90], ["churn-canary", 10]]);
            const bg = one((await renderStack({ ...BLUE_GREEN, headerRouting: false })).resources, T.route, "churn-route").inputs.spec.rules;
            assert.deepEqual(bg.map((r: any) => r.backendRefs.map((b: any) => b.name)), [["churn"]]);
        });
    });

    describe("canary without a Gateway (replica-ratio fallback)", () => {
        it("puts one Service over both tracks and sizes the canary to approximate the weight", async () => {
            const { resources, outputs } = await renderStack({
                ...BASE,
                strategy: "canary",
                replicas: 2,
                canary: { stable: release(6, 0.84), canary: release(7, 0.9, 0.84), canaryWeight: 50 },
            });
            const shared = one(resources, T.svc, "churn-svc-main").inputs;
            assert.deepEqual(shared.spec.selector, { "app.kubernetes.io/name": "churn", "mlops.platform/role": "serving" });
            assert.equal(shared.metadata.labels["mlops.platform/endpoint"], "shared");
            assert.deepEqual([one(resources, T.deploy, "churn-stable").inputs.spec.replicas, one(resources, T.deploy, "churn-canary").inputs.spec.replicas], [2, 2]);
            assert.equal(outputs.effective, 50);
            assert.equal(ofType(resources, T.route).length, 0);
            assert.equal(ofType(resources, T.hpa).length, 0);
            assert.equal(validateAll(resources), 10);
        });

        it("reports the precision it delivers: 10% with 3 stable pods becomes 1 canary pod = 25%", async () => {
            const { resources, outputs } = await renderStack({
                ...BASE,
                strategy: "canary",
                replicas: 3,
                canary: { stable: release(6, 0.84), canary: release(7, 0.9, 0.84), canaryWeight: 10 },
            });
            assert.equal(one(resources, T.deploy, "churn-canary").inputs.spec.replicas, 1);
            assert.equal(outputs.weight, 10);
            assert.equal(outputs.effective, 25);
        });
    });

    describe("GPU serving", () => {
        const gpu = {
            nodeSelector: { "mlops.platform/pool": "gpu" },
            tolerations: [{ key: "nvidia.com/gpu", operator: "Exists" as const, effect: "NoSchedule" as const }],
            resourceName: "nvidia.com/gpu" as const,
        };

        it("schedules on the GPU pool, limits GPUs and sizes the canary from the budget", async () => {
            const { resources } = await renderStack({ ...CANARY, autoscaling: false, replicas: 4, gpus: 1, gpuScheduling: gpu, maxExtraGpus: 2, canary: { ...CANARY.canary!, canaryWeight: 50 } });
            const spec = one(resources, T.deploy, "churn-canary").inputs.spec;
            assert.equal(spec.replicas, 2);
            assert.deepEqual(spec.template.spec.nodeSelector, gpu.nodeSelector);
            assert.deepEqual(spec.template.spec.tolerations, gpu.tolerations);
            assert.equal(spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"], "1");
            // The budget is spent on the canary: rolling updates replace pods instead of surging.
            assert.deepEqual(spec.strategy.rollingUpdate, { maxSurge: 0, maxUnavailable: 1 });
            const stable = one(resources, T.deploy, "churn-stable").inputs.spec;
            assert.equal(stable.replicas, 4);
        });

        it("refuses a canary weight the GPU budget cannot carry", () => {
            assertInvalid(
                () => planServingStack("churn", { ...CANARY, provider: {} as any, autoscaling: false, replicas: 4, gpus: 1, gpuScheduling: gpu, maxExtraGpus: 1, canary: { ...CANARY.canary!, canaryWeight: 50 } }),
                "canary.canaryWeight",
                /needs ceil\(50\/100 × 4\) = 2 canary replicas, but the canary can run 1/,
            );
        });

        it("refuses two full blue-green slots that exceed the budget", () => {
            assertInvalid(
                () => planServingStack("churn", { ...BLUE_GREEN, provider: {} as any, replicas: 2, gpus: 2, gpuScheduling: gpu, maxExtraGpus: 2 }),
                "maxExtraGpus",
                /needs a second full slot: 2 replicas × 2 GPUs = 4 extra GPUs, but maxExtraGpus is 2/,
            );
        });

        it("requires the GPU scheduling contract", () => {
            assertInvalid(() => planServingStack("churn", { ...CANARY, provider: {} as any, gpus: 1, maxExtraGpus: 1 }), "gpuScheduling");
        });
    });

    describe("validation", () => {
        const plan = (over: Partial<ServingStackArgs>) => () => planServingStack("churn", { ...CANARY, provider: {} as any, ...over });

        it("rejects a mutable version (latest, stage, alias), naming the property", () => {
            assertInvalid(plan({ canary: { ...CANARY.canary!, canary: { ...release(7, 0.9), version: "latest", modelUri: undefined as any } } }), "canary.canary.version", /latest/);
            assertInvalid(plan({ canary: { ...CANARY.canary!, stable: { ...release(6, 0.84), version: "Production", modelUri: undefined as any } } }), "canary.stable.version", /stage/);
            assertInvalid(plan({ canary: { ...CANARY.canary!, canary: { ...release(7, 0.9), modelUri: "models:/churn@champion" } } }), "canary.canary.modelUri", /alias/);
        });

        it("rejects a model URI that names another version", () => {
            assertInvalid(plan({ canary: { ...CANARY.canary!, canary: { ...release(7, 0.9), modelUri: "models:/churn/8" } } }), "canary.canary.modelUri", /does not match/);
        });

        it("rejects weights outside 0..100 and a weight without a canary", () => {
            assertInvalid(plan({ canary: { ...CANARY.canary!, canaryWeight: 101 } }), "canary.canaryWeight", /0 to 100/);
            assertInvalid(plan({ canary: { stable: release(6, 0.84), canaryWeight: 20 } }), "canary.canaryWeight", /no canary release/);
        });

        it("rejects an active slot that holds no release", () => {
            assertInvalid(
                () => planServingStack("churn", { ...BLUE_GREEN, provider: {} as any, blueGreen: { slots: { blue: release(6, 0.84) }, active: "green" } }),
                "blueGreen.active",
                /holds no release/,
            );
        });

        it("rejects images not pinned by digest and releases with no image to run", () => {
            assertInvalid(plan({ runtime: { kind: "mlflow", image: "server:1.0", trackingUri: "http://x" } }), "runtime.image", /digest/);
            assertInvalid(plan({ runtime: { kind: "mlflow", trackingUri: "http://x" } }), "canary.stable.image", /set runtime.image/);
        });

        it("rejects a missing strategy block, bad names and bad metric names", () => {
            assertInvalid(plan({ canary: undefined }), "canary", /required when strategy is "canary"/);
            assertInvalid(plan({ namespace: "ML_Serving" }), "namespace");
            assertInvalid(plan({ appName: "a".repeat(41) }), "appName");
            assertInvalid(plan({ metrics: { latencyHistogram: "bad-name" } }), "metrics.latencyHistogram");
            assertInvalid(plan({ alerts: { errorRate5xx: 5 } }), "alerts.errorRate5xx");
        });

        it("accepts the valid canary and blue-green args", () => {
            assert.equal(plan({})().tracks.length, 2);
            assert.equal(planServingStack("churn", { ...BLUE_GREEN, provider: {} as any }).activeSlot, "blue");
        });
    });
});

describe("Gateway", () => {
    it("installs Envoy Gateway from its pinned chart (helm v4), a GatewayClass and a Gateway for labelled namespaces", async () => {
        let teardown: number = 0;
        const rec = await recordResources(() => {
            const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
            const gw = new Gateway("mlops", { provider });
            teardown = gw.teardownDependencies.length;
            return { parentRef: gw.parentRef, proxyNamespace: gw.proxyNamespace };
        });
        const resources = rec.resources.filter((r) => !r.type.startsWith("pulumi:providers:"));
        assert.deepEqual(inventory(resources), [
            "kubernetes:core/v1:Namespace mlops-ns",
            "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy mlops-proxy-config",
            "kubernetes:gateway.networking.k8s.io/v1:Gateway mlops-gateway",
            "kubernetes:gateway.networking.k8s.io/v1:GatewayClass mlops-class",
            "kubernetes:helm.sh/v4:Chart mlops-controller",
            "mlops-platform:index:Gateway mlops",
        ]);
        assert.equal(ofType(resources, "kubernetes:helm.sh/v3:Release").length, 0);
        const chart = one(resources, "kubernetes:helm.sh/v4:Chart", "mlops-controller");
        assert.deepEqual([chart.inputs.chart, chart.inputs.version, chart.inputs.namespace], [ENVOY_GATEWAY_CHART.chart, ENVOY_GATEWAY_CHART.version, "envoy-gateway-system"]);
        const cls = one(resources, "kubernetes:gateway.networking.k8s.io/v1:GatewayClass", "mlops-class");
        assert.equal(cls.inputs.spec.controllerName, ENVOY_GATEWAY_CONTROLLER);
        const gw = one(resources, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "mlops-gateway");
        assert.deepEqual(gw.inputs.spec.listeners[0].allowedRoutes.namespaces, { from: "Selector", selector: { matchLabels: { [GATEWAY_ACCESS_LABEL]: "true" } } });
        // Teardown order: Gateway depends on class and chart, chart on namespace; destroy runs it backwards.
        assert.ok(gw.dependencies.includes(cls.urn) && gw.dependencies.includes(chart.urn));
        assert.ok(chart.dependencies.includes(one(resources, "kubernetes:core/v1:Namespace", "mlops-ns").urn));
        assert.equal(one(resources, "kubernetes:core/v1:Namespace", "mlops-ns").inputs.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert.deepEqual(rec.outputs.parentRef, { name: "mlops", namespace: "envoy-gateway-system" });
        assert.equal(teardown, 5);
        assert.equal(validateAll(resources), 4);
    });

    describe("load balancer, TLS and the proxy Service", () => {
        const render = async (a: Partial<GatewayArgs>) => {
            const rec = await recordResources(() => {
                const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
                new Gateway("mlops", { provider, ...a });
                return {};
            });
            const r = rec.resources.filter((x) => !x.type.startsWith("pulumi:providers:"));
            return {
                resources: r,
                proxy: one(r, "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy", "mlops-proxy-config").inputs,
                cls: one(r, "kubernetes:gateway.networking.k8s.io/v1:GatewayClass", "mlops-class").inputs,
                gw: one(r, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "mlops-gateway").inputs,
            };
        };

        it("by default: an internal load balancer (both AWS controllers' annotations), HTTP on 80, the class pointing at the EnvoyProxy", async () => {
            const { proxy, cls, gw, resources } = await render({});
            const svc = proxy.spec.provider.kubernetes.envoyService;
            assert.deepEqual(svc, {
                type: "LoadBalancer",
                annotations: { [LB_SCHEME_ANNOTATION]: "internal", "service.beta.kubernetes.io/aws-load-balancer-internal": "true" },
            });
            assert.deepEqual(cls.spec.parametersRef, { group: "gateway.envoyproxy.io", kind: "EnvoyProxy", name: "mlops", namespace: "envoy-gateway-system" });
            assert.deepEqual(gw.spec.listeners.map((l: any) => [l.name, l.port, l.protocol]), [["http", 80, "HTTP"]]);
            assert.equal(validateAll(resources), 4);
        });

        it("internet-facing only with source CIDRs, which become loadBalancerSourceRanges", async () => {
            const { proxy } = await render({ loadBalancer: { scheme: "internet-facing", sourceRanges: ["203.0.113.0/24"] } });
            const svc = proxy.spec.provider.kubernetes.envoyService;
            assert.equal(svc.annotations[LB_SCHEME_ANNOTATION], "internet-facing");
            assert.equal(svc.annotations["service.beta.kubernetes.io/aws-load-balancer-internal"], undefined);
            assert.deepEqual(svc.loadBalancerSourceRanges, ["203.0.113.0/24"]);
        });

        it("acm: the load balancer terminates TLS on 443 with the certificate; the listener is 443", async () => {
            const arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
            const { proxy, gw } = await render({ tls: { mode: "acm", certificateArn: arn }, hostname: "models.example.com" });
            const a = proxy.spec.provider.kubernetes.envoyService.annotations;
            assert.deepEqual([a[LB_SSL_CERT_ANNOTATION], a["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"]], [arn, "443"]);
            assert.deepEqual(gw.spec.listeners.map((l: any) => [l.name, l.port, l.protocol, l.hostname]), [["https", 443, "HTTP", "models.example.com"]]);
        });

        it("secret and certManager: an HTTPS listener terminating with the Secret; cert-manager is asked through the Gateway annotation", async () => {
            const secret = await render({ tls: { mode: "secret", secretName: "models-tls" } });
            assert.deepEqual(secret.gw.spec.listeners[0].tls, { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: "models-tls" }] });
            assert.equal(secret.gw.spec.listeners[0].protocol, "HTTPS");
            const cm = await render({ tls: { mode: "certManager", issuerName: "letsencrypt" }, hostname: "models.example.com" });
            assert.deepEqual(cm.gw.metadata.annotations, { "cert-manager.io/cluster-issuer": "letsencrypt" });
            assert.deepEqual(cm.gw.spec.listeners[0].tls.certificateRefs, [{ group: "", kind: "Secret", name: "mlops-tls" }]);
            assert.equal(cm.gw.spec.listeners[0].hostname, "models.example.com");
        });

        it("refuses a public load balancer without (or open to all) source CIDRs, and TLS modes without what they need", () => {
            const provider = {} as any;
            const bad = (a: Partial<GatewayArgs>, prop: string) => assertInvalid(() => validateGatewayArgs("mlops", { provider, ...a }), prop);
            bad({ loadBalancer: { scheme: "internet-facing" } }, "loadBalancer.sourceRanges");
            bad({ loadBalancer: { scheme: "internet-facing", sourceRanges: ["0.0.0.0/0"] } }, "loadBalancer.sourceRanges[0]");
            bad({ loadBalancer: { scheme: "public" as any } }, "loadBalancer.scheme");
            bad({ tls: { mode: "acm" } }, "tls.certificateArn");
            bad({ tls: { mode: "acm", certificateArn: "arn:aws:iam::123456789012:role/x" } }, "tls.certificateArn");
            bad({ tls: { mode: "secret" } }, "tls.secretName");
            bad({ tls: { mode: "certManager", issuerName: "le" } }, "hostname");
            bad({ tls: { mode: "https" as any } }, "tls.mode");
            bad({ tls: { mode: "none" }, listeners: [{ name: "http", port: 80, protocol: "HTTP" }] }, "listeners");
            bad({ existing: { name: "gw", namespace: "gateways" }, tls: { mode: "none" } }, "tls");
        });
    });

    it("references an existing Gateway without creating anything, and the route depends on the Gateway it uses", async () => {
        const rec = await recordResources(() => {
            const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
            const existing = new Gateway("shared", { provider, existing: { name: "public", namespace: "gateways", sectionName: "https" } });
            const installed = new Gateway("mlops", { provider });
            new ServingStack("churn", { ...CANARY, provider, gateway: { parentRef: installed.parentRef } });
            return { ref: existing.parentRef };
        });
        assert.deepEqual(rec.outputs.ref, { name: "public", namespace: "gateways", sectionName: "https" });
        assert.equal(rec.resources.filter((r) => r.parent.endsWith("::shared")).length, 0);
        const route = one(rec.resources, T.route, "churn-route");
        const gateway = one(rec.resources, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "mlops-gateway");
        assert.ok(route.propertyDependencies.spec.includes(gateway.urn), "HTTPRoute depends on the Gateway, so destroy deletes it first");
        const svcs = ofType(rec.resources, T.svc).map((s) => s.urn);
        assert.ok(svcs.every((u) => route.dependencies.includes(u)), "HTTPRoute depends on its Services");
    });

    it("validates its arguments", () => {
        const provider = {} as any;
        const bad = (a: Partial<GatewayArgs>, prop: string) => assertInvalid(() => validateGatewayArgs("mlops", { provider, ...a }), prop);
        bad({ chart: { version: "^1.8" } }, "chart.version");
        bad({ listeners: [{ name: "https", port: 443, protocol: "HTTPS" }] }, "listeners[0].tlsSecretName");
        bad({ listeners: [{ name: "a", port: 80, protocol: "HTTP" }, { name: "a", port: 81, protocol: "HTTP" }] }, "listeners[1].name");
        bad({ existing: { name: "gw", namespace: "Bad_NS" } }, "existing.namespace");
        bad({ existing: { name: "gw", namespace: "gateways" }, listeners: [] }, "listeners");
    });
});
