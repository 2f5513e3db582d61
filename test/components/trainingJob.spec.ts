import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as assert from "node:assert/strict";
import { GpuScheduling } from "../../components/scheduling";
import {
    TrainingJob,
    TrainingJobArgs,
    canonicalJson,
    hyperparameterArgs,
    specHash,
    validateTrainingJobArgs,
} from "../../components/trainingJob";
import { checkManifests } from "../../offline-plan/manifests";
import { runPolicyPack } from "../../offline-plan/policy-runner";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { renderedTrainingJob } from "../contract/rendered";
import { assertInvalid, inventory, one, policyDoc, oneComponentPackConfig } from "../helpers/resources";

const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/trainer@sha256:${"d".repeat(64)}`;
const DATA_POLICY = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::raw/*" }] });
const ARTIFACTS_POLICY = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:PutObject", Resource: "arn:aws:s3:::art/models/*" }] });
const TRACKING_URI = "http://mlflow.mlflow.svc.cluster.local:5000";
const GPU: GpuScheduling = {
    nodeSelector: { "mlops.platform/pool": "gpu" },
    tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
    resourceName: "nvidia.com/gpu",
};

function args(overrides: Partial<TrainingJobArgs> = {}): TrainingJobArgs {
    return {
        provider: new k8s.Provider("k8s", { kubeconfig: "{}" }),
        clusterName: "mlops-dev",
        namespace: "ml-training",
        image: IMAGE,
        command: ["python", "/app/train.py"],
        hyperparameters: { n_estimators: 120, max_depth: 8, seed: 7 },
        tracking: { uri: TRACKING_URI, experimentName: "credit-risk" },
        model: { name: "credit-risk", alias: "candidate" },
        data: { uri: "s3://mlops-dev-processed/credit-risk/", version: "2026-11-01" },
        runTags: { team: "risk" },
        access: { dataPolicy: DATA_POLICY, artifactsPolicy: ARTIFACTS_POLICY },
        ...overrides,
    };
}

async function render(make: () => TrainingJobArgs, name = "credit-risk") {
    return recordResources(() => {
        const job = new TrainingJob(name, make());
        return { jobName: job.jobName, runId: job.runId, kind: job.kind };
    });
}

const JOB = "kubernetes:batch/v1:Job";
const CRONJOB = "kubernetes:batch/v1:CronJob";
const jobOf = (rs: RecordedResource[]) => one(rs, JOB, "credit-risk-job");
const podOf = (rs: RecordedResource[]) => jobOf(rs).inputs.spec.template.spec;
const envOf = (rs: RecordedResource[]): Record<string, any> => Object.fromEntries(podOf(rs).containers[0].env.map((e: any) => [e.name, "value" in e ? e.value : e]));

describe("TrainingJob", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;

    before(async () => {
        const rec = await render(() => args());
        resources = rec.resources;
        outputs = rec.outputs;
    });

    it("declares exactly the expected children", () => {
        assert.deepEqual(
            inventory(resources.filter((r) => r.type !== "pulumi:providers:kubernetes")),
            [
                "aws:eks/podIdentityAssociation:PodIdentityAssociation credit-risk-identity-association",
                "aws:iam/role:Role credit-risk-identity-role",
                "aws:iam/rolePolicy:RolePolicy credit-risk-identity-artifacts",
                "aws:iam/rolePolicy:RolePolicy credit-risk-identity-data",
                "kubernetes:batch/v1:Job credit-risk-job",
                "kubernetes:core/v1:ServiceAccount credit-risk-identity-sa",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy credit-risk-netpol",
                "mlops-platform:index:TrainingJob credit-risk",
                "mlops-platform:index:WorkloadIdentity credit-risk-identity",
            ].sort(),
        );
        const provider = one(resources, "pulumi:providers:kubernetes", "k8s");
        for (const r of resources.filter((x) => x.custom && x.type.startsWith("kubernetes:"))) {
            assert.ok(r.provider.startsWith(provider.urn), `${r.name} uses the cluster's provider`);
        }
    });

    it("names the Job from a hash of its spec and outputs it with the run id", () => {
        const job = jobOf(resources);
        assert.match(job.inputs.metadata.name, /^credit-risk-[0-9a-f]{10}$/);
        assert.equal(outputs.jobName, job.inputs.metadata.name);
        assert.equal(outputs.runId, job.inputs.metadata.name.slice("credit-risk-".length));
        assert.equal(outputs.kind, "Job");
        assert.equal(job.inputs.metadata.namespace, "ml-training");
        assert.equal(job.inputs.metadata.annotations["mlops.platform/spec-hash"], outputs.runId);
        assert.equal(job.inputs.metadata.labels["mlops.platform/run-id"], outputs.runId);
    });

    it("bounds the run: deadline, retries, failure policy, TTL", () => {
        const spec = jobOf(resources).inputs.spec;
        assert.equal(spec.activeDeadlineSeconds, 21600);
        assert.equal(spec.backoffLimit, 1);
        assert.equal(spec.ttlSecondsAfterFinished, 604800);
        assert.deepEqual(spec.podFailurePolicy.rules, [
            { action: "FailJob", onExitCodes: { containerName: "trainer", operator: "In", values: [2] } },
            { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        ]);
        assert.equal(spec.template.spec.restartPolicy, "Never", "podFailurePolicy requires restartPolicy Never");
    });

    it("waits for completion with a timeout derived from the deadline, replacing the immutable Job on change", async () => {
        const job = jobOf(resources);
        assert.equal(job.inputs.metadata.annotations["pulumi.com/skipAwait"], undefined);
        assert.equal(job.deleteBeforeReplace, true);
        // The recording does not carry customTimeouts/replaceOnChanges: read the options the Job is declared with.
        const seen: Record<string, pulumi.ResourceOptions> = {};
        await recordResources(() => {
            new TrainingJob("credit-risk", args({ activeDeadlineSeconds: 7200 }), {
                transformations: [(a) => ((seen[a.type] = a.opts), undefined)],
            });
        });
        const opts = seen["kubernetes:batch/v1:Job"] as pulumi.CustomResourceOptions;
        assert.deepEqual(opts.customTimeouts, { create: "135m", update: "135m" });
        assert.deepEqual(opts.replaceOnChanges, ["spec"]);
        assert.equal(opts.deleteBeforeReplace, true);
    });

    it("passes hyperparameters as args and HP_ env, and the MLflow/lineage environment", () => {
        const c = podOf(resources).containers[0];
        assert.equal(c.name, "trainer");
        assert.equal(c.image, IMAGE);
        assert.deepEqual(c.command, ["python", "/app/train.py"]);
        assert.deepEqual(c.args, ["--max-depth", "8", "--n-estimators", "120", "--seed", "7"]);
        const env = envOf(resources);
        const jobName = outputs.jobName;
        assert.equal(env.MLFLOW_TRACKING_URI, TRACKING_URI);
        assert.equal(env.MLFLOW_EXPERIMENT_NAME, "credit-risk");
        assert.equal(env.MLFLOW_RUN_NAME, jobName);
        assert.equal(env.MLOPS_MODEL_NAME, "credit-risk");
        assert.equal(env.MLOPS_MODEL_ALIAS, "candidate");
        assert.equal(env.MLOPS_DATA_URI, "s3://mlops-dev-processed/credit-risk/");
        assert.equal(env.MLOPS_DATA_VERSION, "2026-11-01");
        assert.equal(env.MLOPS_IMAGE_DIGEST, IMAGE);
        assert.deepEqual(JSON.parse(env.MLOPS_RUN_TAGS), { team: "risk", "mlops.k8s.job": jobName, "mlops.k8s.namespace": "ml-training" });
        assert.equal(env.MLOPS_RESULT_FILE, "/dev/termination-log");
        assert.equal(env.MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD, "true");
        assert.deepEqual([env.HP_N_ESTIMATORS, env.HP_MAX_DEPTH, env.HP_SEED], ["120", "8", "7"]);
        assert.equal(c.terminationMessagePolicy, "FallbackToLogsOnError");
    });

    it("renders the trainer command the contract spec runs (test/contract/rendered.ts)", () => {
        const r = renderedTrainingJob(resources);
        assert.deepEqual(r.command, ["python", "/app/train.py"]);
        assert.equal(r.env.MLFLOW_TRACKING_URI, TRACKING_URI);
        assert.equal(r.env.HP_SEED, "7");
        assert.deepEqual(r.args, ["--max-depth", "8", "--n-estimators", "120", "--seed", "7"]);
    });

    it("hardens the pod, mounts a memory-backed /dev/shm and a writable /tmp, and asks autoscalers not to evict it", () => {
        const tpl = jobOf(resources).inputs.spec.template;
        const pod = tpl.spec;
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.serviceAccountName, "credit-risk-trainer");
        const c = pod.containers[0];
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
        assert.deepEqual(pod.volumes, [
            { name: "dshm", emptyDir: { sizeLimit: "1Gi", medium: "Memory" } },
            { name: "tmp", emptyDir: { sizeLimit: "10Gi" } },
        ]);
        assert.deepEqual(c.volumeMounts, [
            { name: "dshm", mountPath: "/dev/shm" },
            { name: "tmp", mountPath: "/tmp" },
        ]);
        assert.deepEqual(c.resources, { requests: { cpu: "2", memory: "8Gi" }, limits: { memory: "8Gi" } });
        assert.equal(tpl.metadata.annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"], "false");
        assert.equal(tpl.metadata.annotations["karpenter.sh/do-not-disrupt"], "true");
        assert.equal(tpl.metadata.labels["mlops.platform/role"], "training");
        assert.equal(jobOf(resources).inputs.metadata.labels["mlops.platform/role"], "training");
        assert.equal(pod.tolerations, undefined, "a CPU run does not tolerate GPU taints");
        assert.equal(pod.nodeSelector, undefined);
    });

    it("gives the trainer a role that reads data and writes artifacts, nothing more", () => {
        const policies = resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy");
        assert.deepEqual(policies.map((p) => [p.name, policyDoc(p)]), [
            ["credit-risk-identity-artifacts", JSON.parse(ARTIFACTS_POLICY)],
            ["credit-risk-identity-data", JSON.parse(DATA_POLICY)],
        ]);
        const sa = one(resources, "kubernetes:core/v1:ServiceAccount", "credit-risk-identity-sa").inputs;
        assert.deepEqual([sa.metadata.name, sa.metadata.namespace], ["credit-risk-trainer", "ml-training"]);
    });

    it("denies all ingress to training pods", () => {
        const np = one(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "credit-risk-netpol").inputs;
        assert.deepEqual(np.spec, { podSelector: { matchLabels: { "mlops.platform/training-job": "credit-risk" } }, policyTypes: ["Ingress"], ingress: [] });
        assert.equal(podOf(resources).containers.length, 1);
        assert.equal(jobOf(resources).inputs.spec.template.metadata.labels["mlops.platform/training-job"], "credit-risk");
    });

    it("holds no literal secret: tracking credentials come from a Secret reference", async () => {
        const rec = await render(() => args({ tracking: { uri: TRACKING_URI, experimentName: "x", credentialsSecret: { name: "mlflow-client" } } }));
        const env = envOf(rec.resources);
        assert.deepEqual(env.MLFLOW_TRACKING_USERNAME.valueFrom, { secretKeyRef: { name: "mlflow-client", key: "username" } });
        assert.deepEqual(env.MLFLOW_TRACKING_PASSWORD.valueFrom, { secretKeyRef: { name: "mlflow-client", key: "password" } });
        for (const e of podOf(rec.resources).containers[0].env) {
            if (/PASSWORD|TOKEN|SECRET/.test(e.name)) {
                assert.ok(!("value" in e), `${e.name} is a reference`);
            }
        }
        for (const r of rec.resources) {
            assert.ok(!JSON.stringify(r.inputs).includes("mock-password-from-secrets-manager"));
        }
    });

    describe("Job naming", () => {
        const nameOf = async (make: () => TrainingJobArgs) => (await render(make)).outputs.jobName as string;

        it("keeps the name when nothing in the spec changes", async () => {
            assert.equal(await nameOf(() => args()), outputs.jobName);
        });

        it("keeps the name when only how Pulumi waits changes", async () => {
            assert.equal(await nameOf(() => args({ waitForCompletion: false, timeoutMinutes: 30 })), outputs.jobName);
        });

        it("keeps the name when hyperparameters are given in another order", async () => {
            assert.equal(await nameOf(() => args({ hyperparameters: { seed: 7, max_depth: 8, n_estimators: 120 } })), outputs.jobName);
        });

        for (const [what, change] of [
            ["a hyperparameter", { hyperparameters: { n_estimators: 121, max_depth: 8, seed: 7 } }],
            ["the image digest", { image: IMAGE.replace(/d{64}$/, "e".repeat(64)) }],
            ["the data version", { data: { uri: "s3://mlops-dev-processed/credit-risk/", version: "2026-11-02" } }],
            ["the resources", { resources: { cpu: "4", memory: "8Gi" } }],
            ["the deadline", { activeDeadlineSeconds: 3600 }],
        ] as Array<[string, Partial<TrainingJobArgs>]>) {
            it(`changes the name when ${what} changes`, async () => {
                const changed = await nameOf(() => args(change));
                assert.notEqual(changed, outputs.jobName);
                assert.match(changed, /^credit-risk-[0-9a-f]{10}$/);
            });
        }

        it("uses a given run id instead of the hash", async () => {
            const rec = await render(() => args({ runId: "2026-11-26-a", jobNamePrefix: "train-credit" }));
            assert.equal(rec.outputs.jobName, "train-credit-2026-11-26-a");
            assert.equal(rec.outputs.runId, "2026-11-26-a");
            assert.equal(envOf(rec.resources).MLFLOW_RUN_NAME, "train-credit-2026-11-26-a");
            assert.equal(one(rec.resources, "kubernetes:core/v1:ServiceAccount", "credit-risk-identity-sa").inputs.metadata.name, "train-credit-trainer");
        });

        it("hashes canonical JSON: key order does not matter, values do", () => {
            assert.equal(specHash({ a: 1, b: { c: [1, 2], d: "x" } }), specHash({ b: { d: "x", c: [1, 2] }, a: 1 }));
            assert.notEqual(specHash({ a: 1 }), specHash({ a: 2 }));
            assert.equal(canonicalJson({ b: 1, a: undefined, c: [{ y: 1, x: 2 }] }), '{"b":1,"c":[{"x":2,"y":1}]}');
            assert.deepEqual(hyperparameterArgs({ lr: 0.01, use_amp: true }), ["--lr", "0.01", "--use-amp", "true"]);
        });
    });

    it("fires and forgets when waitForCompletion is false", async () => {
        const rec = await render(() => args({ waitForCompletion: false }));
        assert.equal(jobOf(rec.resources).inputs.metadata.annotations["pulumi.com/skipAwait"], "true");
    });

    describe("GPUs", () => {
        let gpu: RecordedResource[];
        before(async () => {
            // GPU Jobs go through the training queue (k8s-gpu-job-queued).
            gpu = (await render(() => args({ resources: { cpu: "8", memory: "60Gi", gpus: 2 }, gpu: GPU, shmSize: "16Gi", queue: { name: "training" } }))).resources;
        });

        it("requests GPUs as a limit and lands on the GPU pool through the scheduling contract", () => {
            const pod = podOf(gpu);
            assert.deepEqual(pod.containers[0].resources, { requests: { cpu: "8", memory: "60Gi" }, limits: { memory: "60Gi", "nvidia.com/gpu": "2" } });
            assert.deepEqual(pod.nodeSelector, GPU.nodeSelector);
            assert.deepEqual(pod.tolerations, GPU.tolerations);
            assert.deepEqual(pod.volumes[0], { name: "dshm", emptyDir: { sizeLimit: "16Gi", medium: "Memory" } });
        });

        it("passes the security policy pack (GPU limits, tolerations, queued)", async () => {
            const result = await runPolicyPack("security", gpu, oneComponentPackConfig(["ml-training"]));
            assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
        });

        it("a GPU Job outside the queue fails k8s-gpu-job-queued", async () => {
            const bypass = (await render(() => args({ resources: { cpu: "8", memory: "60Gi", gpus: 2 }, gpu: GPU, shmSize: "16Gi" }))).resources;
            const result = await runPolicyPack("security", bypass, oneComponentPackConfig(["ml-training"]));
            assert.deepEqual(result.violations.map((v) => v.policyName), ["k8s-gpu-job-queued"]);
        });
    });

    it("renders schema-valid objects that pass the security policy pack (CPU Job)", async () => {
        for (const c of checkManifests(resources)) {
            assert.deepEqual([c.manifest.kind, c.schema, c.errors], [c.manifest.kind, true, []]);
        }
        const result = await runPolicyPack("security", resources, oneComponentPackConfig(["ml-training"]));
        assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
    });

    describe("CronJob for scheduled retraining", () => {
        let cron: RecordedResource[];
        let cronOutputs: Record<string, any>;
        before(async () => {
            const rec = await render(() => args({ schedule: "0 3 * * 1", timeZone: "Europe/Paris" }));
            cron = rec.resources;
            cronOutputs = rec.outputs;
        });

        it("declares a CronJob (and no Job) that never overlaps runs and has a starting deadline", () => {
            assert.equal(cron.filter((r) => r.type === JOB).length, 0);
            const cj = one(cron, CRONJOB, "credit-risk-cronjob").inputs;
            assert.equal(cj.metadata.name, "credit-risk");
            assert.equal(cj.spec.schedule, "0 3 * * 1");
            assert.equal(cj.spec.timeZone, "Europe/Paris");
            assert.equal(cj.spec.concurrencyPolicy, "Forbid");
            assert.equal(cj.spec.startingDeadlineSeconds, 600);
            assert.equal(cj.spec.successfulJobsHistoryLimit, 3);
            assert.equal(cj.spec.failedJobsHistoryLimit, 3);
            const job = cj.spec.jobTemplate.spec;
            assert.equal(job.activeDeadlineSeconds, 21600);
            assert.equal(job.ttlSecondsAfterFinished, 604800);
            assert.equal(job.podFailurePolicy.rules[0].action, "FailJob");
            assert.equal(cj.metadata.labels["mlops.platform/role"], "training");
            assert.equal(cronOutputs.kind, "CronJob");
            assert.equal(cronOutputs.jobName, "credit-risk");
            assert.equal(cronOutputs.runId, undefined);
        });

        it("renders a schema-valid CronJob that passes the security policy pack", async () => {
            for (const c of checkManifests(cron)) {
                assert.deepEqual([c.manifest.kind, c.schema, c.errors], [c.manifest.kind, true, []]);
            }
            const result = await runPolicyPack("security", cron, oneComponentPackConfig(["ml-training"]));
            assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
        });

        it("names each MLflow run after its Job through the downward API", () => {
            const c = one(cron, CRONJOB, "credit-risk-cronjob").inputs.spec.jobTemplate.spec.template.spec.containers[0];
            const runName = c.env.find((e: any) => e.name === "MLFLOW_RUN_NAME");
            assert.deepEqual(runName.valueFrom, { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } });
            assert.equal(renderedTrainingJob(cron).env.MLFLOW_RUN_NAME, "$(MLFLOW_RUN_NAME)");
        });
    });

    describe("validation", () => {
        const cases: Array<[string, Partial<TrainingJobArgs>]> = [
            ["image", { image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:latest" }],
            ["namespace", { namespace: "Training" }],
            ["jobNamePrefix", { jobNamePrefix: "x".repeat(53) }],
            ["runId", { runId: "Run_1" }],
            ["runId", { runId: "r1", schedule: "@daily" }],
            ["schedule", { schedule: "every day" }],
            ["startingDeadlineSeconds", { schedule: "@daily", startingDeadlineSeconds: 0 }],
            ["waitForCompletion", { schedule: "@daily", waitForCompletion: true }],
            ["timeZone", { timeZone: "Europe/Paris" }],
            ["command", { command: [] }],
            ["hyperparameters.LearningRate", { hyperparameters: { LearningRate: 0.1 } }],
            ["hyperparameters.lr", { hyperparameters: { lr: Number.NaN } }],
            ["tracking.experimentName", { tracking: { uri: TRACKING_URI, experimentName: "" } }],
            ["tracking.credentialsSecret.name", { tracking: { uri: TRACKING_URI, experimentName: "x", credentialsSecret: { name: "Bad Name" } } }],
            ["model.name", { model: { name: "" } }],
            ["env.MLFLOW_TRACKING_URI", { env: { MLFLOW_TRACKING_URI: "http://elsewhere" } }],
            ["env.HP_SEED", { env: { HP_SEED: "1" } }],
            ["env.1BAD", { env: { "1BAD": "x" } }],
            ["resources.cpu", { resources: { cpu: "two", memory: "8Gi" } }],
            ["gpu", { resources: { cpu: "2", memory: "8Gi", gpus: 1 } }],
            ["gpu", { gpu: GPU }],
            ["shmSize", { shmSize: "8Gi" }],
            ["shmSize", { shmSize: "big" }],
            ["scratchSize", { scratchSize: "lots" }],
            ["activeDeadlineSeconds", { activeDeadlineSeconds: 400000 }],
            ["backoffLimit", { backoffLimit: 6 }],
            ["ttlSecondsAfterFinished", { ttlSecondsAfterFinished: 0 }],
            ["configErrorExitCodes", { configErrorExitCodes: [0] }],
            ["timeoutMinutes", { timeoutMinutes: 0 }],
        ];
        for (const [property, override] of cases) {
            it(`names ${property} (${JSON.stringify(override).slice(0, 60)})`, () => {
                assertInvalid(() => validateTrainingJobArgs("credit-risk", { ...args(), ...override }), property);
            });
        }

        it("throws from the constructor before declaring anything", async () => {
            const rec = await recordResources(() => {
                assert.throws(() => new TrainingJob("bad", args({ backoffLimit: 10 })), /backoffLimit/);
            });
            assert.equal(rec.resources.filter((r) => r.type === JOB).length, 0);
        });
    });
});
