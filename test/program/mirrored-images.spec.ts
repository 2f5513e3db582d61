/**
 * Issue 12 #5: the third-party images (cluster-autoscaler, NVIDIA device plugin, Pushgateway) can
 * come from the operator's mirror, pinned by digest, through stack config; the rendered workloads
 * run exactly those references and the prod security pack accepts them without its by-name
 * exemptions for upstream tags.
 */
import * as assert from "node:assert/strict";
import * as path from "path";
import { parsePlatformConfig } from "../../config/schema";
import { NVIDIA_DEVICE_PLUGIN_IMAGE, PUSHGATEWAY_IMAGE } from "../../components/versions";
import { loadPolicyConfig, startPolicyPack } from "../../offline-plan/policy-runner";
import { runProgram } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid } from "../helpers/resources";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror";
const MIRRORS = {
    clusterAutoscaler: `${ECR}/autoscaling/cluster-autoscaler@sha256:${"a".repeat(64)}`,
    nvidiaDevicePlugin: `${ECR}/nvidia/k8s-device-plugin@sha256:${"b".repeat(64)}`,
    pushgateway: `${ECR}/prometheus/pushgateway@sha256:${"c".repeat(64)}`,
};

/** Every container image a recorded resource runs (workload templates and Helm values alike). */
function imagesIn(value: unknown, out: string[] = []): string[] {
    if (Array.isArray(value)) value.forEach((v) => imagesIn(v, out));
    else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
            if (k === "image" && typeof v === "string") out.push(v);
            else imagesIn(v, out);
        }
    }
    return out;
}
const allImages = (rs: RecordedResource[]) => rs.flatMap((r) => imagesIn(r.inputs));

describe("mirroredImages: third-party images from the operator's mirror, by digest", function () {
    this.timeout(240_000);

    it("prod runs the mirrored references and no upstream tag of them; the security pack reports nothing", async () => {
        const run = await runProgram({ root: ROOT, stack: "prod", configOverrides: { "mlops-platform:mirroredImages": JSON.stringify(MIRRORS) } });
        const images = allImages(run.resources);
        for (const ref of Object.values(MIRRORS)) assert.ok(images.includes(ref), `${ref} is rendered`);
        for (const upstream of [NVIDIA_DEVICE_PLUGIN_IMAGE, PUSHGATEWAY_IMAGE]) assert.ok(!images.includes(upstream), `${upstream} is gone`);
        assert.deepEqual(images.filter((i) => /cluster-autoscaler:v/.test(i)), [], "no upstream autoscaler tag");
        const session = await startPolicyPack("security", { root: ROOT });
        try {
            const result = await session.run(run.resources, loadPolicyConfig(ROOT, "prod", "security"));
            assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
        } finally {
            await session.close();
        }
    });

    it("without it, the upstream images pinned by tag in components/versions.ts", async () => {
        const images = allImages((await runProgram({ root: ROOT, stack: "prod" })).resources);
        assert.ok(images.includes(NVIDIA_DEVICE_PLUGIN_IMAGE) && images.includes(PUSHGATEWAY_IMAGE));
    });

    it("refuses a tag, a bare name or an unknown image, naming the key", () => {
        const ctx = { project: "mlops-platform", stack: "prod" };
        const cfg = (v: unknown) => ({ clusterAdminRoleArns: JSON.stringify(["arn:aws:iam::123456789012:role/admin"]), mirroredImages: JSON.stringify(v) });
        assertInvalid(() => parsePlatformConfig(cfg({ pushgateway: `${ECR}/prometheus/pushgateway:v1.11.2` }), ctx), "mlops-platform:mirroredImages.pushgateway", /pinned by digest/);
        assertInvalid(() => parsePlatformConfig(cfg({ clusterAutoscaler: `sha256:${"a".repeat(64)}` }), ctx), "mlops-platform:mirroredImages.clusterAutoscaler");
        assertInvalid(() => parsePlatformConfig(cfg({ grafana: MIRRORS.pushgateway }), ctx), "mlops-platform:mirroredImages.grafana");
    });
});
