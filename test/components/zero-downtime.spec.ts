// Zero-downtime switches proven offline: render the stack before and after a release move and
// compare what Pulumi would diff. The resource set must be identical and only the traffic objects
// (Service selectors, HTTPRoute rules) may change; Deployments — and so their pods — stay untouched.
import * as k8s from "@pulumi/kubernetes";
import * as assert from "node:assert/strict";
import { ServingStack, ServingStackArgs } from "../../components/servingStack";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import * as models from "kubernetes-models";
import * as gatewayApi from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import * as promOp from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-platform-prod-server@sha256:${"b".repeat(64)}`;

function release(version: number, f1: number, baselineF1: number) {
    return {
        model: "fraud",
        version: String(version),
        modelUri: `models:/fraud/${version}`,
        metrics: { f1, auc: 0.95 },
        baseline: { version: String(version - 1), metrics: { f1: baselineF1, auc: 0.94 } },
        approvedBy: "ml-lead@example.com",
    };
}

const COMMON = {
    namespace: "serving",
    runtime: { kind: "mlflow" as const, image: IMAGE, trackingUri: "http://tracking.mlflow.svc.cluster.local:5000" },
    identity: { clusterName: "mlops-prod", artifactReadPolicy: "{}" },
    prometheusOperator: true,
    replicas: 3,
};
const GATEWAY = { parentRef: { name: "mlops", namespace: "envoy-gateway-system" }, hostname: "fraud.example.com" };

async function render(args: Omit<ServingStackArgs, "provider">): Promise<RecordedResource[]> {
    const rec = await recordResources(() => {
        const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
        new ServingStack("fraud", { ...args, provider });
    });
    return rec.resources;
}

/** Dotted paths where two values differ. */
function diffPaths(a: unknown, b: unknown, path = ""): string[] {
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
        const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
        return [...keys].flatMap((k) => diffPaths((a as any)[k], (b as any)[k], path ? `${path}.${k}` : k));
    }
    return [path];
}

/** Per resource (`type name`), the input paths that differ; asserts both renders declare the same set. */
function compare(before: RecordedResource[], after: RecordedResource[]): Record<string, string[]> {
    const key = (r: RecordedResource) => `${r.type} ${r.name}`;
    assert.deepEqual(after.map(key).sort(), before.map(key).sort(), "same resources (type + name): nothing created, nothing deleted");
    assert.deepEqual(after.map((r) => r.urn).sort(), before.map((r) => r.urn).sort(), "same URNs: nothing replaced by a rename or reparent");
    const changes: Record<string, string[]> = {};
    for (const b of before) {
        const a = after.find((x) => key(x) === key(b))!;
        const d = diffPaths(b.inputs, a.inputs);
        if (d.length) changes[key(b)] = d;
    }
    return changes;
}

const SCHEMAS: Record<string, new (data: any) => { validate(): void }> = {
    "kubernetes:core/v1:Namespace": models.v1.Namespace as any,
    "kubernetes:core/v1:ServiceAccount": models.v1.ServiceAccount as any,
    "kubernetes:core/v1:Service": models.v1.Service as any,
    "kubernetes:apps/v1:Deployment": models.apps.v1.Deployment as any,
    "kubernetes:policy/v1:PodDisruptionBudget": models.policy.v1.PodDisruptionBudget as any,
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": models.autoscaling.v2.HorizontalPodAutoscaler as any,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": models.networkingK8sIo.v1.NetworkPolicy as any,
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": gatewayApi.HTTPRoute as any,
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": promOp.ServiceMonitor as any,
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": promOp.PrometheusRule as any,
};

function assertSchemaValid(resources: RecordedResource[]): void {
    for (const r of resources.filter((x) => x.custom && x.type.startsWith("kubernetes:"))) {
        const Model = SCHEMAS[r.type];
        assert.ok(Model, `schema for ${r.type}`);
        assert.doesNotThrow(() => new Model(r.inputs).validate(), `${r.type} ${r.name}`);
    }
}

describe("zero-downtime release moves", () => {
    it("blue-green switch changes only the two Services' selectors", async () => {
        const slots = { blue: release(11, 0.82, 0.8), green: release(12, 0.86, 0.82) };
        const before = await render({ ...COMMON, strategy: "blueGreen", gateway: GATEWAY, blueGreen: { slots, active: "blue" } });
        const after = await render({ ...COMMON, strategy: "blueGreen", gateway: GATEWAY, blueGreen: { slots, active: "green" } });
        assert.deepEqual(compare(before, after), {
            "kubernetes:core/v1:Service fraud-svc-main": ["spec.selector.mlops.platform/track"],
            "kubernetes:core/v1:Service fraud-svc-preview": ["spec.selector.mlops.platform/track"],
        });
        const selector = (rs: RecordedResource[], name: string) => rs.find((r) => r.name === name)!.inputs.spec.selector["mlops.platform/track"];
        assert.deepEqual([selector(before, "fraud-svc-main"), selector(before, "fraud-svc-preview")], ["blue", "green"]);
        assert.deepEqual([selector(after, "fraud-svc-main"), selector(after, "fraud-svc-preview")], ["green", "blue"]);
        assertSchemaValid(before);
        assertSchemaValid(after);
    });

    it("blue-green switch without a Gateway is the same selector-only change", async () => {
        const slots = { blue: release(11, 0.82, 0.8), green: release(12, 0.86, 0.82) };
        const before = await render({ ...COMMON, strategy: "blueGreen", blueGreen: { slots, active: "green" } });
        const after = await render({ ...COMMON, strategy: "blueGreen", blueGreen: { slots, active: "blue" } });
        assert.deepEqual(Object.keys(compare(before, after)).sort(), ["kubernetes:core/v1:Service fraud-svc-main", "kubernetes:core/v1:Service fraud-svc-preview"]);
    });

    it("canary weight change (5% → 10%) changes only the HTTPRoute weights", async () => {
        const canary = { stable: release(11, 0.82, 0.8), canary: release(12, 0.86, 0.82) };
        const before = await render({ ...COMMON, strategy: "canary", gateway: GATEWAY, canary: { ...canary, canaryWeight: 5 } });
        const after = await render({ ...COMMON, strategy: "canary", gateway: GATEWAY, canary: { ...canary, canaryWeight: 10 } });
        assert.deepEqual(compare(before, after), {
            "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute fraud-route": ["spec.rules.1.backendRefs.0.weight", "spec.rules.1.backendRefs.1.weight"],
        });
        const weights = (rs: RecordedResource[]) =>
            rs.find((r) => r.name === "fraud-route")!.inputs.spec.rules[1].backendRefs.map((b: any) => `${b.name}=${b.weight}`);
        assert.deepEqual(weights(before), ["fraud-stable=95", "fraud-canary=5"]);
        assert.deepEqual(weights(after), ["fraud-stable=90", "fraud-canary=10"]);
        assertSchemaValid(before);
        assertSchemaValid(after);
    });

    it("rollback (weight → 0) and mirroring on/off change only the HTTPRoute", async () => {
        const canary = { stable: release(11, 0.82, 0.8), canary: release(12, 0.86, 0.82) };
        const live = await render({ ...COMMON, strategy: "canary", gateway: GATEWAY, canary: { ...canary, canaryWeight: 10 } });
        const rolledBack = await render({ ...COMMON, strategy: "canary", gateway: GATEWAY, canary: { ...canary, canaryWeight: 0 } });
        const shadow = await render({ ...COMMON, strategy: "canary", gateway: GATEWAY, canary: { ...canary, canaryWeight: 0, mirror: true } });
        assert.deepEqual(Object.keys(compare(live, rolledBack)), ["kubernetes:gateway.networking.k8s.io/v1:HTTPRoute fraud-route"]);
        assert.deepEqual(compare(rolledBack, shadow), { "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute fraud-route": ["spec.rules.1.filters"] });
    });

    it("autoscaled tracks: a weight change still touches only the HTTPRoute", async () => {
        const canary = { stable: release(11, 0.82, 0.8), canary: release(12, 0.86, 0.82) };
        const args = { ...COMMON, strategy: "canary" as const, gateway: GATEWAY, autoscaling: { maxReplicas: 10, targetCpuUtilization: 60 } };
        const before = await render({ ...args, canary: { ...canary, canaryWeight: 10 } });
        const after = await render({ ...args, canary: { ...canary, canaryWeight: 60 } });
        assert.deepEqual(Object.keys(compare(before, after)), ["kubernetes:gateway.networking.k8s.io/v1:HTTPRoute fraud-route"]);
    });

    it("replica-ratio fallback: a weight change only scales the canary (pod template untouched)", async () => {
        const canary = { stable: release(11, 0.82, 0.8), canary: release(12, 0.86, 0.82) };
        const before = await render({ ...COMMON, strategy: "canary", canary: { ...canary, canaryWeight: 25 } });
        const after = await render({ ...COMMON, strategy: "canary", canary: { ...canary, canaryWeight: 50 } });
        assert.deepEqual(compare(before, after), { "kubernetes:apps/v1:Deployment fraud-canary": ["spec.replicas"] });
        const replicas = (rs: RecordedResource[]) => rs.find((r) => r.name === "fraud-canary" && r.type.endsWith("Deployment"))!.inputs.spec.replicas;
        assert.deepEqual([replicas(before), replicas(after)], [1, 3]);
    });
});
