import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as assert from "node:assert/strict";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { NO_ADDRESS, NamespaceIsolation, POD_IDENTITY_AGENT_CIDR, cidrPeers, namespacePeer, tcp, validateNamespaceIsolationArgs } from "../../components/namespaceIsolation";
import { recordResources } from "../../offline-plan/run";
import { runPolicyPack } from "../../offline-plan/policy-runner";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, one, ofType } from "../helpers/resources";

const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

describe("NamespaceIsolation", () => {
    let resources: RecordedResource[];
    before(async () => {
        const rec = await recordResources(() => {
            const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
            new NamespaceIsolation("iso", {
                provider,
                namespace: "ml-serving",
                allows: [
                    { name: "mlflow", egress: [{ to: [namespacePeer("mlflow")], ports: tcp(5000) }] },
                    { name: "aws", egress: [{ to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT_CIDR } }], ports: tcp(80) }, { to: cidrPeers(pulumi.output([] as string[])), ports: tcp(443) }] },
                    { name: "scrape", podSelector: { app: "x" }, ingress: [{ from: [namespacePeer("monitoring")], ports: tcp(8080) }] },
                ],
            });
            return {};
        });
        resources = rec.resources.filter((r) => !r.type.startsWith("pulumi:providers:"));
    });

    it("denies all ingress and egress of every pod, then allows DNS and each named dependency", () => {
        assert.deepEqual(ofType(resources, NETPOL).map((r) => r.inputs.metadata.name).sort(), ["allow-aws", "allow-dns", "allow-mlflow", "allow-scrape", "default-deny"]);
        const deny = one(resources, NETPOL, "iso-default-deny").inputs;
        assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const dns = one(resources, NETPOL, "iso-allow-dns").inputs.spec;
        assert.deepEqual(dns.egress[0].to, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }]);
        assert.deepEqual(dns.egress[0].ports, [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]);
        const scrape = one(resources, NETPOL, "iso-allow-scrape").inputs.spec;
        assert.deepEqual([scrape.policyTypes, scrape.podSelector], [["Ingress"], { matchLabels: { app: "x" } }]);
        for (const r of ofType(resources, NETPOL)) {
            assert.equal(r.inputs.metadata.namespace, "ml-serving");
            assert.doesNotThrow(() => new NetworkPolicy(r.inputs as any).validate(), r.name);
        }
    });

    it("an empty CIDR list allows nothing (an empty `to` would allow every address)", () => {
        const aws = one(resources, NETPOL, "iso-allow-aws").inputs.spec;
        assert.deepEqual(aws.egress[1].to, [{ ipBlock: { cidr: NO_ADDRESS } }]);
        assert.ok(aws.egress.every((e: any) => e.to.length > 0));
    });

    it("satisfies k8s-namespace-default-deny for a workload in the namespace; without it the policy fails", async () => {
        const workload = { ...one(resources, NETPOL, "iso-default-deny") };
        const deployment: RecordedResource = {
            ...workload,
            type: "kubernetes:apps/v1:Deployment",
            name: "app",
            urn: workload.urn.replace("NetworkPolicy::iso-default-deny", "Deployment::app"),
            inputs: { metadata: { name: "app", namespace: "ml-serving" }, spec: { selector: { matchLabels: { app: "x" } }, template: { metadata: { labels: { app: "x" } }, spec: { containers: [] } } } },
        };
        const names = async (rs: RecordedResource[]) => (await runPolicyPack("security", rs, {})).violations.filter((v) => v.policyName === "k8s-namespace-default-deny").length;
        assert.equal(await names([...resources, deployment]), 0);
        assert.equal(await names([...resources.filter((r) => r.name !== "iso-default-deny"), deployment]), 1);
    });

    it("validates its arguments", () => {
        const provider = {} as any;
        assertInvalid(() => validateNamespaceIsolationArgs({ provider, namespace: "Bad_NS" }), "namespace");
        assertInvalid(() => validateNamespaceIsolationArgs({ provider, namespace: "a", allows: [{ name: "dns", egress: [{}] }] }), "allows[0].name");
        assertInvalid(() => validateNamespaceIsolationArgs({ provider, namespace: "a", allows: [{ name: "x" }] }), "allows[0]");
        assertInvalid(() => validateNamespaceIsolationArgs({ provider, namespace: "a", allows: [{ name: "x", egress: [{}] }, { name: "x", egress: [{}] }] }), "allows[1].name");
    });
});
