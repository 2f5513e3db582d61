import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as assert from "node:assert/strict";
import { apiVersionKind, checkManifests, manifestFileName } from "../../offline-plan/manifests";
import { recordResources } from "../../offline-plan/run";

describe("Kubernetes manifests from recorded resources", () => {
    let checks: ReturnType<typeof checkManifests>;

    before(async () => {
        const { resources } = await recordResources(() => {
            const provider = new k8s.Provider("k", { kubeconfig: "{}" });
            const labels = { app: "m" };
            new k8s.apps.v1.Deployment(
                "good",
                {
                    metadata: { namespace: "ml" },
                    spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "c", image: "i@sha256:00", ports: [{ containerPort: 8080 }] }] } } },
                },
                { provider },
            );
            new k8s.apps.v1.Deployment(
                "bad",
                {
                    metadata: { name: "bad", namespace: "ml" },
                    spec: {
                        selector: { matchLabels: labels },
                        template: { metadata: { labels }, spec: { containers: [{ name: "c", image: "i", ports: [{ containerPort: "http" as any }] }] } },
                    },
                },
                { provider },
            );
            new k8s.core.v1.Secret("s", { metadata: { name: "db", namespace: "ml" }, stringData: { uri: pulumi.secret("postgresql://u:p@h/db") } }, { provider });
            new k8s.apiextensions.CustomResource(
                "route",
                {
                    apiVersion: "gateway.networking.k8s.io/v1",
                    kind: "HTTPRoute",
                    metadata: { name: "r", namespace: "ml" },
                    spec: { parentRefs: [{ name: "gw", namespace: "gateway" }], rules: [{ backendRefs: [{ name: "svc", port: 80, weight: 90 }] }] },
                },
                { provider },
            );
        });
        checks = checkManifests(resources);
    });

    it("maps type tokens to apiVersion and kind", () => {
        assert.deepEqual(apiVersionKind("kubernetes:apps/v1:Deployment"), { apiVersion: "apps/v1", kind: "Deployment" });
        assert.deepEqual(apiVersionKind("kubernetes:core/v1:Service"), { apiVersion: "v1", kind: "Service" });
        assert.equal(apiVersionKind("kubernetes:helm.sh/v4:Chart"), undefined);
    });

    it("validates a correct Deployment and names the API server's autoname", () => {
        const good = checks.find((c) => c.manifest.kind === "Deployment" && String(c.manifest.metadata.name).startsWith("good-"))!;
        assert.deepEqual(good.errors, []);
        assert.equal(good.schema, true);
        assert.equal(manifestFileName(good.manifest), `deployment-ml-${good.manifest.metadata.name}.yaml`);
    });

    it("reports a schema violation with its path", () => {
        const bad = checks.find((c) => c.manifest.metadata.name === "bad")!;
        assert.equal(bad.errors.length > 0, true);
        assert.match(bad.errors.join(" "), /containerPort/);
    });

    it("validates Gateway API objects with their own schemas", () => {
        const route = checks.find((c) => c.manifest.kind === "HTTPRoute")!;
        assert.equal(route.schema, true);
        assert.deepEqual(route.errors, []);
    });

    it("never writes Secret values", () => {
        const secret = checks.find((c) => c.manifest.kind === "Secret")!;
        assert.deepEqual(secret.manifest.stringData, { redacted: "[secret]" });
        assert.deepEqual(secret.errors, []);
        assert.ok(!JSON.stringify(checks).includes("u:p@h"));
    });
});
