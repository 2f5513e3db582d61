import * as k8s from "@pulumi/kubernetes";
import * as assert from "node:assert/strict";
import { parsePlatformConfig } from "../../config/schema";
import { GPU_TAINT, gpuScheduling } from "../../components/gpuNodeGroup";
import { TrainingJob, TrainingJobArgs, validateTrainingJobArgs } from "../../components/trainingJob";
import { TrainingQueues, TrainingQueuesArgs, validateTrainingQueuesArgs } from "../../components/trainingQueues";
import { TrainingSweep, sweepTrials, validateSweepSpec } from "../../components/trainingSweep";
import { checkManifests, validateManifest } from "../../offline-plan/manifests";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory } from "../helpers/resources";

const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/trainer@sha256:${"d".repeat(64)}`;
const provider = () => new k8s.Provider("k8s", { kubeconfig: "{}" });

function queuesArgs(over: Partial<TrainingQueuesArgs> = {}): TrainingQueuesArgs {
    return {
        provider: provider(),
        trainingNamespaces: ["ml-training"],
        cpuQuota: { cpu: "16", memory: "64Gi" },
        gpuFlavors: [{ pool: "training", scheduling: gpuScheduling("training"), taint: { ...GPU_TAINT }, maxNodes: 2, gpusPerNode: 4, quota: { gpus: 8, cpu: "90", memory: "360Gi" } }],
        ...over,
    };
}

function jobArgs(over: Partial<TrainingJobArgs> = {}): TrainingJobArgs {
    return {
        provider: provider(),
        clusterName: "mlops-dev",
        namespace: "ml-training",
        image: IMAGE,
        command: ["torchrun", "/app/train_torch.py"],
        launcher: "torchrun",
        workers: 2,
        queue: { name: "training", priorityClass: "production" },
        tracking: { uri: "http://mlflow.mlflow.svc.cluster.local:5000", experimentName: "credit-risk" },
        model: { name: "credit-risk", alias: "candidate" },
        data: { uri: "s3://b/credit-risk/", version: "v1" },
        access: { dataPolicy: "{}" },
        resources: { cpu: "8", memory: "32Gi", gpus: 1 },
        gpu: gpuScheduling("training"),
        ...over,
    };
}

const byKind = (rs: RecordedResource[], kind: string) => rs.filter((r) => r.type.endsWith(`:${kind}`));

describe("TrainingQueues (Kueue)", () => {
    let resources: RecordedResource[];
    before(async () => {
        resources = (await recordResources(() => (new TrainingQueues("q", queuesArgs()), {}))).resources;
    });

    it("declares the chart, flavors, ClusterQueue, LocalQueue and priority classes", () => {
        assert.deepEqual(inventory(resources.filter((r) => r.type !== "pulumi:providers:kubernetes")), [
            "kubernetes:core/v1:Namespace q-ns",
            "kubernetes:helm.sh/v4:Chart q-kueue",
            "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue q-cluster-queue",
            "kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue q-local-queue-ml-training",
            "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor q-flavor-cpu",
            "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor q-flavor-gpu-training",
            "kubernetes:kueue.x-k8s.io/v1beta2:WorkloadPriorityClass q-priority-experiment",
            "kubernetes:kueue.x-k8s.io/v1beta2:WorkloadPriorityClass q-priority-production",
            "mlops-platform:index:TrainingQueues q",
        ]);
        const chart = resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart")!;
        assert.equal(chart.inputs.chart, "oci://registry.k8s.io/kueue/charts/kueue");
        assert.equal(chart.inputs.version, "0.19.2");
        assert.match(chart.inputs.values.managerConfig.controllerManagerConfigYaml, /waitForPodsReady:\n {2}timeout: 15m/);
    });

    it("GPU flavor carries the pool's labels and taint; the CPU flavor comes first with 0 GPUs", () => {
        const gpu = byKind(resources, "ResourceFlavor").find((r) => r.inputs.metadata.name === "gpu-training")!;
        assert.deepEqual(gpu.inputs.spec.nodeLabels, gpuScheduling("training").nodeSelector);
        assert.deepEqual(gpu.inputs.spec.nodeTaints, [{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }]);
        const cq = byKind(resources, "ClusterQueue")[0].inputs.spec;
        assert.deepEqual(cq.resourceGroups[0].coveredResources, ["cpu", "memory", "nvidia.com/gpu"]);
        assert.deepEqual(cq.resourceGroups[0].flavors.map((f: any) => f.name), ["cpu", "gpu-training"]);
        assert.deepEqual(cq.resourceGroups[0].flavors[0].resources[2], { name: "nvidia.com/gpu", nominalQuota: 0 });
        assert.deepEqual(cq.preemption, { withinClusterQueue: "LowerPriority", reclaimWithinCohort: "Never" });
    });

    it("every object is valid against the CRD schemas vendored from Kueue v0.19.2", () => {
        const checks = checkManifests(resources);
        assert.ok(checks.filter((c) => c.manifest.apiVersion.startsWith("kueue.x-k8s.io")).length === 6);
        for (const c of checks) assert.deepEqual([c.manifest.kind, c.schema, c.errors], [c.manifest.kind, true, []]);
    });

    it("the CRD schema refuses a misspelt field, a wrong type and the deprecated v1beta1", () => {
        const cq = { apiVersion: "kueue.x-k8s.io/v1beta2", kind: "ClusterQueue", metadata: { name: "x" }, spec: { resourceGroup: [] } };
        assert.match(validateManifest(cq as any).errors.join("; "), /must NOT have additional properties \(resourceGroup\)/);
        const lq = { apiVersion: "kueue.x-k8s.io/v1beta2", kind: "LocalQueue", metadata: { name: "x", namespace: "n" }, spec: { clusterQueue: 3 } };
        assert.match(validateManifest(lq as any).errors.join("; "), /\/spec\/clusterQueue must be string/);
        const old = { apiVersion: "kueue.x-k8s.io/v1beta1", kind: "LocalQueue", metadata: { name: "x", namespace: "n" }, spec: { clusterQueue: "q" } };
        assert.match(validateManifest(old as any).errors.join("; "), /deprecated version .* use kueue.x-k8s.io\/v1beta2/);
    });

    it("refuses a GPU quota above what the pool can provide, naming the property", () => {
        const bad = queuesArgs();
        bad.gpuFlavors![0].quota.gpus = 9;
        assertInvalid(() => validateTrainingQueuesArgs(bad), "gpuFlavors[0].quota.gpus", /must not exceed what pool "training" can provide at its maxSize \(2 nodes × 4 GPUs = 8\), got 9/);
        assertInvalid(() => validateTrainingQueuesArgs(queuesArgs({ podsReadyTimeout: "soon" })), "podsReadyTimeout", /duration/);
    });
});

describe("TrainingJob: queue and multi-node (torchrun on an Indexed Job)", () => {
    let resources: RecordedResource[];
    before(async () => {
        resources = (await recordResources(() => (new TrainingJob("ddp", jobArgs()), {}))).resources;
    });

    it("a queued Job is labelled for its LocalQueue and priority and created suspended", () => {
        const job = byKind(resources, "Job")[0];
        assert.equal(job.inputs.metadata.labels["kueue.x-k8s.io/queue-name"], "training");
        assert.equal(job.inputs.metadata.labels["kueue.x-k8s.io/priority-class"], "production");
        assert.equal(job.inputs.spec.suspend, true);
    });

    it("two workers: Indexed Job, headless Service for rank 0, failure of any worker fails the run", () => {
        const job = byKind(resources, "Job")[0];
        const spec = job.inputs.spec;
        assert.deepEqual([spec.completionMode, spec.completions, spec.parallelism, spec.backoffLimit], ["Indexed", 2, 2, 0]);
        assert.deepEqual(spec.podFailurePolicy.rules.map((r: any) => r.action), ["FailJob", "FailJob"]);
        assert.deepEqual(spec.podFailurePolicy.rules[0].onExitCodes, { containerName: "trainer", operator: "NotIn", values: [0] });
        const svc = byKind(resources, "Service")[0];
        assert.equal(svc.inputs.spec.clusterIP, "None");
        assert.equal(svc.inputs.spec.publishNotReadyAddresses, true);
        assert.equal(spec.template.spec.subdomain, svc.inputs.metadata.name);
        const env = Object.fromEntries(spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
        assert.equal(env.PET_NNODES, "2");
        assert.equal(env.PET_NPROC_PER_NODE, "1");
        assert.deepEqual(env.PET_NODE_RANK, { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } });
        assert.equal(env.PET_MASTER_ADDR, `${job.inputs.metadata.name}-0.${svc.inputs.metadata.name}`);
        const netpol = byKind(resources, "NetworkPolicy")[0];
        assert.deepEqual(netpol.inputs.spec.ingress, [{ from: [{ podSelector: { matchLabels: { "mlops.platform/training-job": "ddp" } } }] }]);
        for (const c of checkManifests(resources)) assert.deepEqual([c.manifest.kind, c.errors], [c.manifest.kind, []]);
    });

    it("refuses workers > 1 without torchrun, without a queue, or with retries, naming the property", () => {
        assertInvalid(() => validateTrainingJobArgs("t", jobArgs({ launcher: "direct" })), "workers", /needs launcher "torchrun"/);
        assertInvalid(() => validateTrainingJobArgs("t", jobArgs({ queue: undefined })), "workers", /needs a queue/);
        assertInvalid(() => validateTrainingJobArgs("t", jobArgs({ backoffLimit: 1 })), "backoffLimit", /must be 0 with workers > 1/);
    });
});

describe("TrainingSweep", () => {
    it("grid: the cartesian product in name order; random: seeded and reproducible", () => {
        const grid = validateSweepSpec({ id: "s1", method: "grid", space: { max_depth: [4, 8], n_estimators: [100, 200] }, metric: "f1", direction: "maximize" });
        assert.equal(grid.trials, 4);
        assert.deepEqual(sweepTrials(grid), [
            { max_depth: 4, n_estimators: 100 },
            { max_depth: 4, n_estimators: 200 },
            { max_depth: 8, n_estimators: 100 },
            { max_depth: 8, n_estimators: 200 },
        ]);
        const rnd = validateSweepSpec({ id: "s1", method: "random", trials: 3, seed: 7, space: { learning_rate: { min: 0.0001, max: 0.1, scale: "log" }, hidden_units: [16, 64] }, metric: "f1", direction: "maximize" });
        const a = sweepTrials(rnd);
        assert.deepEqual(a, sweepTrials(rnd));
        assert.equal(a.length, 3);
        for (const t of a) assert.ok((t.learning_rate as number) >= 0.0001 && (t.learning_rate as number) <= 0.1 && [16, 64].includes(t.hidden_units as number));
    });

    it("refuses trials beyond the grid and parallelism beyond trials, naming the property", () => {
        assertInvalid(() => validateSweepSpec({ id: "s", method: "grid", space: { a: [1, 2] }, trials: 3, metric: "f1", direction: "maximize" }), "sweep.trials", /must not exceed the grid's size \(2\)/);
        assertInvalid(() => validateSweepSpec({ id: "s", method: "grid", space: { a: [1, 2] }, parallelism: 3, metric: "f1", direction: "maximize" }), "sweep.parallelism", /must not exceed trials/);
        assertInvalid(() => validateSweepSpec({ id: "s", method: "grid", space: { a: { min: 0, max: 1 } }, metric: "f1", direction: "maximize" }), "sweep.space.a", /needs method random/);
    });

    it("renders start, one queued Job per trial (waves of `parallelism`), finalize; one shared identity", async () => {
        const { runId: _r, ...job } = jobArgs({ workers: 1 });
        const { resources } = await recordResources(() => {
            new TrainingSweep("sw", { job: { ...job, queue: { name: "training", priorityClass: "experiment" } }, sweep: { id: "r7", method: "grid", space: { hidden_units: [8, 16, 32] }, parallelism: 2, metric: "f1", direction: "maximize" } });
            return {};
        });
        const jobs = byKind(resources, "Job").map((r) => r.inputs.metadata.name as string).sort();
        assert.deepEqual(jobs.map((n) => n.replace(/-r7$/, "")), ["sw-finalize", "sw-start", "sw-t0", "sw-t1", "sw-t2"]);
        assert.equal(byKind(resources, "ServiceAccount").length, 1, "one ServiceAccount for the sweep");
        assert.equal(resources.filter((r) => r.type === "aws:iam/role:Role").length, 1, "one IAM role for the sweep");
        const t2 = byKind(resources, "Job").find((r) => r.inputs.metadata.name === "sw-t2-r7")!;
        const env = Object.fromEntries(t2.inputs.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
        assert.deepEqual([env.MLOPS_SWEEP_ID, env.MLOPS_SWEEP_TRIAL, env.MLOPS_REGISTER, env.HP_HIDDEN_UNITS], ["r7", "2", "false", "32"]);
        const fin = byKind(resources, "Job").find((r) => r.inputs.metadata.name === "sw-finalize-r7")!.inputs.spec.template.spec.containers[0];
        assert.deepEqual(fin.command, ["python", "/app/sweep.py", "finalize"]);
        const fenv = Object.fromEntries(fin.env.map((e: any) => [e.name, e.value]));
        assert.deepEqual([fenv.MLOPS_SWEEP_METRIC, fenv.MLOPS_SWEEP_DIRECTION, fenv.MLOPS_MODEL_ALIAS], ["f1", "maximize", "candidate"]);
    });
});

describe("stack config: trainingQueues and sweep", () => {
    const ctx = { project: "mlops-platform", stack: "dev" };
    const pools = JSON.stringify([{ name: "training", instanceTypes: ["g5.xlarge"], capacityType: "SPOT", minSize: 0, maxSize: 2 }]);

    it("a GPU quota above the pool's maxSize × GPUs per node is a config error naming the key", () => {
        const queues = JSON.stringify({ cpu: "8", memory: "32Gi", gpuPools: { training: { gpus: 3, cpu: "8", memory: "32Gi" } } });
        assertInvalid(() => parsePlatformConfig({ gpuPools: pools, trainingQueues: queues }, ctx), "mlops-platform:trainingQueues.gpuPools.training.gpus", /maxSize \(2 nodes × 1 GPUs = 2\)/);
    });

    it("a sweep needs training.runId and the queues, naming the keys", () => {
        const training = JSON.stringify({ modelName: "m", experimentName: "e", dataPrefix: "p/", dataVersion: "v" });
        const sweep = JSON.stringify({ method: "grid", space: { a: [1] } });
        assertInvalid(() => parsePlatformConfig({ gpuPools: pools, training, sweep }, ctx), "mlops-platform:training.runId", /required with a sweep/);
        assertInvalid(() => parsePlatformConfig({ gpuPools: pools, training, sweep }, ctx), "mlops-platform:sweep", /needs mlops-platform:trainingQueues/);
    });

    it("training.workers > 1 needs trainer pytorch", () => {
        const training = JSON.stringify({ modelName: "m", experimentName: "e", dataPrefix: "p/", dataVersion: "v", workers: 2 });
        assertInvalid(() => parsePlatformConfig({ training }, ctx), "mlops-platform:training.workers", /needs trainer: pytorch/);
    });
});
