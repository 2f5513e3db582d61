import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as assert from "node:assert/strict";
import {
    GPU_COUNT_BY_INSTANCE_TYPE,
    GPU_INSTANCE_FAMILIES,
    GPU_MODEL_BY_FAMILY,
    GpuNodeGroup,
    GpuNodeGroupArgs,
    gpuScheduling,
    validateGpuNodeGroupArgs,
} from "../../components/gpuNodeGroup";
import { NodeGroupTarget } from "../../components/mlCluster";
import { GPU_RESOURCE, GpuScheduling } from "../../components/scheduling";
import { NVIDIA_DEVICE_PLUGIN_IMAGE } from "../../components/versions";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, childrenOf, one, ofType } from "../helpers/resources";

const TEMPLATE = "k8s.io/cluster-autoscaler/node-template";
const NG = "aws:eks/nodeGroup:NodeGroup";
const LT = "aws:ec2/launchTemplate:LaunchTemplate";
const TAG = "aws:autoscaling/tag:Tag";
const DS = "kubernetes:apps/v1:DaemonSet";

/** A cluster to join, as MlCluster would hand it over. */
function target(): NodeGroupTarget {
    return {
        clusterName: "mlc",
        kubernetesVersion: "1.34",
        nodeRoleArn: "arn:aws:iam::123456789012:role/mlc-node-role-1234567",
        privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        provider: new k8s.Provider("mlc-k8s", { kubeconfig: "{}", enableServerSideApply: true }),
    };
}

async function build(args: Omit<GpuNodeGroupArgs, "cluster">, name = "train"): Promise<{ resources: RecordedResource[]; scheduling: GpuScheduling }> {
    let scheduling: GpuScheduling | undefined;
    const { resources } = await recordResources(() => {
        const pool = new GpuNodeGroup(name, { cluster: target(), ...args });
        scheduling = pool.scheduling;
    });
    return { resources, scheduling: scheduling! };
}

/** Kubernetes effect of an EKS taint effect. */
const K8S_EFFECT: Record<string, string> = { NO_SCHEDULE: "NoSchedule", NO_EXECUTE: "NoExecute", PREFER_NO_SCHEDULE: "PreferNoSchedule" };

describe("GpuNodeGroup (AL2023 NVIDIA, spot, scale to zero)", () => {
    let resources: RecordedResource[];
    let scheduling: GpuScheduling;

    before(async () => {
        ({ resources, scheduling } = await build({ instanceTypes: ["g5.12xlarge", "g6.12xlarge"], capacityType: "SPOT", maxSize: 3, pool: "training", tags: { team: "ml" } }));
    });

    it("declares exactly the expected children", () => {
        const component = one(resources, "mlops-platform:index:GpuNodeGroup", "train");
        assert.deepEqual(
            childrenOf(resources, component).map((r) => `${r.type} ${r.name}`).sort(),
            [
                `${LT} train-lt`,
                `${NG} train-nodes`,
                `${TAG} train-asg-label-nvidia-com-gpu-present`,
                `${TAG} train-asg-label-mlops-platform-pool`,
                `${TAG} train-asg-label-k8s-amazonaws-com-accelerator`,
                `${TAG} train-asg-label-eks-amazonaws-com-capacitytype`,
                `${TAG} train-asg-taint-nvidia-com-gpu`,
                `${TAG} train-asg-resources-nvidia-com-gpu`,
                `${TAG} train-asg-resources-ephemeral-storage`,
                `${DS} train-device-plugin`,
            ].sort(),
        );
    });

    it("creates a managed node group on the NVIDIA AMI, spot, min 0, with the autoscaler owning the desired size", () => {
        const ng = one(resources, NG, "train-nodes");
        const i = ng.inputs;
        assert.deepEqual([i.clusterName, i.version, i.amiType, i.capacityType], ["mlc", "1.34", "AL2023_x86_64_NVIDIA", "SPOT"]);
        assert.deepEqual(i.instanceTypes, ["g5.12xlarge", "g6.12xlarge"]);
        assert.deepEqual(i.scalingConfig, { minSize: 0, maxSize: 3, desiredSize: 0 });
        assert.deepEqual(ng.ignoreChanges, ["scalingConfig.desiredSize"]);
        assert.deepEqual(i.updateConfig, { maxUnavailable: 1 });
        assert.deepEqual(i.nodeRepairConfig, { enabled: true });
        assert.deepEqual(i.subnetIds, ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]);
        assert.equal(i.nodeRoleArn, "arn:aws:iam::123456789012:role/mlc-node-role-1234567");
        assert.deepEqual(i.taints, [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }]);
        // g5 (A10G) and g6 (L4) differ in model, so the accelerator label is the generic one.
        assert.deepEqual(i.labels, { "nvidia.com/gpu.present": "true", "mlops.platform/pool": "training", "k8s.amazonaws.com/accelerator": "nvidia" });
        assert.equal(i.tags.team, "ml");
    });

    it("uses the hardened launch template with a large encrypted gp3 root volume", () => {
        const lt = one(resources, LT, "train-lt");
        assert.equal(one(resources, NG, "train-nodes").inputs.launchTemplate.id, lt.id);
        assert.deepEqual(lt.inputs.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" });
        assert.deepEqual(lt.inputs.blockDeviceMappings, [
            { deviceName: "/dev/xvda", ebs: { volumeType: "gp3", volumeSize: 200, iops: 3000, throughput: 250, encrypted: "true", deleteOnTermination: "true" } },
        ]);
        assert.equal(lt.inputs.networkInterfaces, undefined);
        assert.deepEqual(lt.inputs.tagSpecifications.map((t: any) => t.resourceType), ["instance", "volume", "network-interface"]);
    });

    it("tags the node group's ASG so the autoscaler sees labels, taint and GPU capacity of a group with no nodes", () => {
        const ng = one(resources, NG, "train-nodes");
        const asg = ng.outputs.resources[0].autoscalingGroups[0].name;
        const tags = Object.fromEntries(
            ofType(resources, TAG).map((t) => {
                assert.equal(t.inputs.autoscalingGroupName, asg, `${t.name} is on the node group's ASG`);
                assert.equal(t.inputs.tag.propagateAtLaunch, false);
                return [t.inputs.tag.key, t.inputs.tag.value];
            }),
        );
        // Derived from what the node group declares, not from the constants the component uses.
        const expected: Record<string, string> = {};
        for (const [k, v] of Object.entries(ng.inputs.labels as Record<string, string>)) {
            expected[`${TEMPLATE}/label/${k}`] = v;
        }
        for (const t of ng.inputs.taints) {
            expected[`${TEMPLATE}/taint/${t.key}`] = `${t.value}:${K8S_EFFECT[t.effect]}`;
        }
        expected[`${TEMPLATE}/label/eks.amazonaws.com/capacityType`] = ng.inputs.capacityType;
        expected[`${TEMPLATE}/resources/${GPU_RESOURCE}`] = String(GPU_COUNT_BY_INSTANCE_TYPE["g5.12xlarge"]);
        expected[`${TEMPLATE}/resources/ephemeral-storage`] = "200Gi";
        assert.deepEqual(tags, expected);
        assert.equal(tags[`${TEMPLATE}/resources/nvidia.com/gpu`], "4");
    });

    it("exports a scheduling contract that matches the pool's taint and labels", () => {
        const ng = one(resources, NG, "train-nodes").inputs;
        assert.equal(scheduling.resourceName, GPU_RESOURCE);
        // Every taint of the pool is tolerated...
        for (const taint of ng.taints) {
            assert.ok(
                scheduling.tolerations.some(
                    (t) => t.key === taint.key && t.effect === K8S_EFFECT[taint.effect] && (t.operator === "Exists" || t.value === taint.value),
                ),
                `tolerates ${taint.key}`,
            );
        }
        // ...and the selector picks exactly nodes carrying the pool's labels.
        for (const [k, v] of Object.entries(scheduling.nodeSelector)) {
            assert.equal(ng.labels[k], v, `node label ${k}`);
        }
        assert.equal(scheduling.nodeSelector["mlops.platform/pool"], "training");
        assert.deepEqual(scheduling, gpuScheduling("training"));
    });

    it("runs the NVIDIA device plugin on this pool's nodes only, pinned, tolerating the taint, with the provider set", () => {
        const ds = one(resources, DS, "train-device-plugin");
        const provider = one(resources, "pulumi:providers:kubernetes", "mlc-k8s");
        assert.equal(ds.provider, `${provider.urn}::${provider.id}`, "uses the cluster's provider");
        assert.equal(ds.inputs.metadata.namespace, "kube-system");
        assert.equal(ds.inputs.metadata.name, "nvidia-device-plugin-training");
        const pod = ds.inputs.spec.template.spec;
        assert.deepEqual(pod.nodeSelector, scheduling.nodeSelector);
        assert.deepEqual(pod.tolerations, scheduling.tolerations);
        assert.equal(pod.priorityClassName, "system-node-critical");
        assert.equal(pod.automountServiceAccountToken, false);
        const c = pod.containers[0];
        assert.equal(c.image, NVIDIA_DEVICE_PLUGIN_IMAGE);
        assert.match(c.image, /^nvcr\.io\/nvidia\/k8s-device-plugin:v\d+\.\d+\.\d+$/);
        assert.ok(c.resources.requests.cpu && c.resources.limits.memory);
        assert.equal(c.resources.limits[GPU_RESOURCE], undefined, "does not consume GPUs");
    });

    it("confines the device plugin's exemption to kubelet's device-plugin directory", () => {
        const pod = one(resources, DS, "train-device-plugin").inputs.spec.template.spec;
        assert.deepEqual(pod.volumes, [{ name: "device-plugins", hostPath: { path: "/var/lib/kubelet/device-plugins", type: "Directory" } }]);
        assert.equal(pod.hostNetwork, undefined);
        assert.equal(pod.hostPID, undefined);
        assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
        const sc = pod.containers[0].securityContext;
        assert.deepEqual([sc.privileged, sc.allowPrivilegeEscalation], [false, false]);
        assert.deepEqual(sc.capabilities, { drop: ["ALL"] });
        assert.deepEqual(pod.containers[0].volumeMounts, [{ name: "device-plugins", mountPath: "/var/lib/kubelet/device-plugins" }]);
    });
});

describe("GpuNodeGroup variants", () => {
    it("on Bottlerocket NVIDIA: no device plugin (the OS runs it), image volume on the data disk", async () => {
        const { resources } = await build({ instanceTypes: ["g6.xlarge"], amiType: "BOTTLEROCKET_x86_64_NVIDIA", rootVolumeSizeGiB: 300 }, "br");
        assert.equal(ofType(resources, DS).length, 0);
        assert.equal(one(resources, NG, "br-nodes").inputs.amiType, "BOTTLEROCKET_x86_64_NVIDIA");
        const bdm = one(resources, LT, "br-lt").inputs.blockDeviceMappings;
        assert.deepEqual(bdm.map((m: any) => [m.deviceName, m.ebs.volumeSize, m.ebs.encrypted]), [["/dev/xvda", 8, "true"], ["/dev/xvdb", 300, "true"]]);
        const tag = ofType(resources, TAG).find((t) => t.inputs.tag.key.endsWith("/resources/ephemeral-storage"));
        assert.equal(tag!.inputs.tag.value, "300Gi");
    });

    it("an on-demand serving pool keeps a minimum and advertises its capacity type and extra labels", async () => {
        const { resources, scheduling } = await build({ instanceTypes: ["g6e.xlarge"], minSize: 1, maxSize: 4, labels: { "mlops.platform/workload": "serving" } }, "serve");
        const ng = one(resources, NG, "serve-nodes").inputs;
        assert.deepEqual([ng.capacityType, ng.scalingConfig.minSize, ng.scalingConfig.desiredSize], ["ON_DEMAND", 1, 1]);
        assert.equal(ng.labels["mlops.platform/workload"], "serving");
        assert.equal(ng.labels["k8s.amazonaws.com/accelerator"], "nvidia-l40s", "the autoscaler's GPU label, with the model");
        const keys = ofType(resources, TAG).map((t) => `${t.inputs.tag.key}=${t.inputs.tag.value}`);
        assert.ok(keys.includes(`${TEMPLATE}/label/mlops.platform/workload=serving`));
        assert.ok(keys.includes(`${TEMPLATE}/label/eks.amazonaws.com/capacityType=ON_DEMAND`));
        assert.ok(keys.includes(`${TEMPLATE}/resources/nvidia.com/gpu=1`));
        assert.deepEqual(scheduling.nodeSelector, { "nvidia.com/gpu.present": "true", "mlops.platform/pool": "serve" });
    });

    it("two pools get separate device plugins that never overlap", async () => {
        const { resources } = await recordResources(() => {
            const cluster = target();
            new GpuNodeGroup("a", { cluster, instanceTypes: ["g5.xlarge"] });
            new GpuNodeGroup("b", { cluster, instanceTypes: ["g5.xlarge"] });
        });
        const selectors = ofType(resources, DS).map((d) => d.inputs.spec.template.spec.nodeSelector["mlops.platform/pool"]).sort();
        assert.deepEqual(selectors, ["a", "b"]);
    });
});

describe("validateGpuNodeGroupArgs", () => {
    const cluster = {} as NodeGroupTarget;
    const v = (extra: Partial<GpuNodeGroupArgs>) => () => validateGpuNodeGroupArgs("gpu", { cluster, instanceTypes: ["g5.xlarge"], ...extra });

    it("applies defaults", () => {
        const s = validateGpuNodeGroupArgs("gpu", { cluster, instanceTypes: ["g5.xlarge"] });
        assert.deepEqual(
            [s.pool, s.amiType, s.capacityType, s.minSize, s.maxSize, s.desiredSize, s.rootVolumeSizeGiB, s.gpusPerNode, s.devicePlugin],
            ["gpu", "AL2023_x86_64_NVIDIA", "ON_DEMAND", 0, 2, 0, 200, 1, true],
        );
    });
    it("knows the GPU model of every family it accepts", () => {
        for (const family of GPU_INSTANCE_FAMILIES) {
            assert.match(GPU_MODEL_BY_FAMILY[family] ?? "", /^nvidia-/, family);
        }
        assert.equal(validateGpuNodeGroupArgs("gpu", { cluster, instanceTypes: ["g5.xlarge", "g5.2xlarge"] }).accelerator, "nvidia-a10g");
    });
    it("rejects a non-GPU instance type clearly", () => assertInvalid(v({ instanceTypes: ["m5.large"] }), "instanceTypes[0]", /not an NVIDIA GPU instance type/));
    it("rejects an unknown size of a GPU family", () => assertInvalid(v({ instanceTypes: ["g5.3xlarge"] }), "instanceTypes[0]", /g5\.xlarge/));
    it("rejects an ARM GPU type the x86 AMIs cannot run", () => assertInvalid(v({ instanceTypes: ["g5g.xlarge"] }), "instanceTypes[0]"));
    it("rejects mixed GPU counts", () => assertInvalid(v({ instanceTypes: ["g5.xlarge", "g5.12xlarge"] }), "instanceTypes", /same GPU count/));
    it("rejects no instance types", () => assertInvalid(v({ instanceTypes: [] }), "instanceTypes"));
    it("rejects min > max", () => assertInvalid(v({ minSize: 3, maxSize: 2 }), "minSize", /maxSize/));
    it("rejects desired outside min..max", () => assertInvalid(v({ minSize: 0, maxSize: 2, desiredSize: 3 }), "desiredSize"));
    it("rejects a negative minimum", () => assertInvalid(v({ minSize: -1 }), "minSize"));
    it("rejects a non-NVIDIA AMI", () => assertInvalid(v({ amiType: "AL2023_x86_64_STANDARD" as any }), "amiType"));
    it("rejects an unknown capacity type", () => assertInvalid(v({ capacityType: "RESERVED" as any }), "capacityType"));
    it("rejects a second device plugin on Bottlerocket", () => assertInvalid(v({ amiType: "BOTTLEROCKET_x86_64_NVIDIA", devicePlugin: true }), "devicePlugin", /twice/));
    it("rejects a pool name that is not a DNS label", () => assertInvalid(v({ pool: "Training_Pool" }), "pool"));
    it("rejects labels the pool or EKS own", () => assertInvalid(v({ labels: { "mlops.platform/pool": "x" } }), "labels.mlops.platform/pool", /reserved/));
    it("rejects an invalid label value", () => assertInvalid(v({ labels: { team: "a b" } }), "labels.team"));
    it("rejects a root volume too small for ML images", () => assertInvalid(v({ rootVolumeSizeGiB: 10 }), "rootVolumeSizeGiB"));
    it("rejects gp3 throughput above IOPS/4", () => assertInvalid(v({ rootVolumeThroughput: 1000 }), "rootVolumeThroughput", /IOPS\/4/));
    it("reports every problem at once", () => {
        assert.throws(
            v({ instanceTypes: ["m5.large"], minSize: 5, maxSize: 1 }),
            (e: any) => pulumi.InputPropertiesError.isInstance(e) && e.errors.length >= 2,
        );
    });
});
