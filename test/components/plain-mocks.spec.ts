// Issue 13 item 14: components that read provider-computed outputs, run the way a platform team's
// unit test runs them, under an ordinary `pulumi.runtime.setMocks` mock that echoes the inputs.
// They must fail with one clear error naming the component, the resource type, the missing output
// and the likely cause (use mlops-platform/testing), never with a TypeError from deep in an apply.
// Each case runs in its own Node process (as a user's test file does), so the failed registrations
// of one case cannot leak into other specs.
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { missingProviderOutputMessage } from "../../components/provider-outputs";

const DIST = path.resolve(__dirname, "..", "..");
const ROOT = path.resolve(DIST, "..");

/** Runs `body` (JS, with `D` = dist folder) under plain mocks; returns the distinct errors the process saw. */
function underPlainMocks(body: string): { name: string; message: string }[] {
    const script = `
const D = ${JSON.stringify(DIST)};
const pulumi = require("@pulumi/pulumi");
const seen = new Map();
const note = (e) => { const k = (e && e.name) + ":" + String(e && e.message); if (!seen.has(k)) seen.set(k, { name: String(e && e.name), message: String(e && e.message) }); last = Date.now(); };
let last = Date.now();
process.on("unhandledRejection", note);
process.on("uncaughtException", note);
pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name + "_id", state: a.inputs }), call: (a) => a.inputs }, "mlops-platform", "dev", false);
try { ${body} } catch (e) { note(e); }
const start = Date.now();
const timer = setInterval(() => {
    if (Date.now() - last > 3000 || Date.now() - start > 60000) { clearInterval(timer); process.stdout.write(JSON.stringify([...seen.values()])); process.exit(0); }
}, 250);
`;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    // (Pulumi's exit hook sets a non-zero code for the registrations left pending; the output is what counts.)
    assert.ok(r.stdout.startsWith("["), `no result from the mocked program: ${r.stderr}`);
    return JSON.parse(r.stdout);
}

/** The part of the message after Pulumi's "error serializing property ..." prefixes. */
function core(message: string): string {
    return message.replace(/^(error serializing property "[^"]+": )+/, "");
}

describe("components under ordinary Pulumi mocks (not mlops-platform/testing)", function () {
    this.timeout(180_000);

    it("GpuNodeGroup names itself, the node group's missing ASG output and the testing mocks", () => {
        const errors = underPlainMocks(`
const k8s = require("@pulumi/kubernetes");
const { GpuNodeGroup } = require(D + "/components/gpuNodeGroup");
new GpuNodeGroup("train", {
    cluster: { clusterName: "mlc", kubernetesVersion: "1.34", nodeRoleArn: "arn:aws:iam::123456789012:role/node", privateSubnetIds: ["subnet-0123456789abcdef0"], provider: new k8s.Provider("k", { kubeconfig: "{}" }) },
    instanceTypes: ["g5.xlarge"], maxSize: 2, pool: "training",
});`);
        assert.deepEqual(
            errors.map((e) => `${e.name}: ${core(e.message)}`),
            [
                `MissingProviderOutputError: ${missingProviderOutputMessage({ component: "GpuNodeGroup train", resourceType: "aws:eks/nodeGroup:NodeGroup", output: "resources[0].autoscalingGroups[0].name" })}`,
            ],
        );
        assert.match(errors[0].message, /ordinary pulumi\.runtime\.setMocks mock returns only the inputs; use the provider-shaped mocks of mlops-platform\/testing/);
    });

    it("MlPlatform (the dev stack) fails only with clear missing-output errors, one per provider output read", () => {
        const errors = underPlainMocks(`
const { loadStackConfig } = require(D + "/offline-plan/stack-config");
pulumi.runtime.setAllConfig(loadStackConfig(${JSON.stringify(ROOT)}, "dev").config);
const config = require(D + "/config/load").loadPlatformConfig();
const { MlPlatform } = require(D + "/components/mlPlatform");
new MlPlatform("mlops", { config, projectRoot: ${JSON.stringify(ROOT)} });`);
        assert.ok(errors.length > 0, "plain mocks cannot satisfy MlPlatform; it must say why");
        const notClear = errors.filter((e) => e.name !== "MissingProviderOutputError");
        assert.deepEqual(notClear, [], "every failure is a MissingProviderOutputError (no TypeError, no argument error on an undefined image)");
        const sites = [...new Set(errors.map((e) => /^(.*?) returned no `([^`]+)`/.exec(core(e.message))?.slice(1, 3).join(" / ")))].sort();
        assert.deepEqual(sites, [
            "ContainerRegistry mlops-registry: docker:index/image:Image / repoDigest",
            "GpuNodeGroup mlops-gpu-training: aws:eks/nodeGroup:NodeGroup / resources[0].autoscalingGroups[0].name",
            "Network mlops-network: aws:ec2/vpcEndpoint:VpcEndpoint / cidrBlocks",
            "TrackingServer mlops-tracking: aws:rds/instance:Instance / masterUserSecrets[0].secretArn",
        ]);
        for (const e of errors) assert.match(e.message, /use the provider-shaped mocks of mlops-platform\/testing \(setProviderMocks\)\.$/);
    });
});
