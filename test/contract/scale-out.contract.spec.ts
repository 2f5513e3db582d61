/**
 * Contract spec: scale-out training against the real MLflow server (the pinned MLflow on
 * PostgreSQL + the S3 emulator, with the dev stack's artifact destination; fixture.startRegistry).
 *
 * 1. The distributed PyTorch trainer with two workers: the TrainingJob component renders a
 *    2-worker torchrun Indexed Job (launcher torchrun, as MlPlatform renders `trainer: pytorch`);
 *    the spec runs its `trainer` container twice on loopback, with exactly the rendered command and
 *    env, supplying only what the cluster supplies: the completion index (PET_NODE_RANK, a
 *    downward-API value: 0 and 1), rank 0's address (the headless Service's DNS name → 127.0.0.1),
 *    the tracking Service → the loopback server, and the termination-log path. Backend gloo (CPU).
 *    Asserted: one run, metrics logged by rank 0 only, a registered version the gate's client reads.
 * 2. A sweep of 3 small trials as the TrainingSweep component renders it (start Job, trial Jobs,
 *    finalize Job, each run with its rendered command and env): one parent run, three children,
 *    the best by the gate's metric registered under the alias.
 *
 * Needs test/contract/services.sh and test/contract/torch-venv.sh (run.sh runs both).
 */
import * as k8s from "@pulumi/kubernetes";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MlflowClient } from "../../cli/mlflow-client";
import { TrainingJob, TrainingJobArgs } from "../../components/trainingJob";
import { TrainingSweep } from "../../components/trainingSweep";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { Registry, flagValue, loadContractServices, onLoopback, renderStack, repoRoot, startRegistry } from "./fixture";
import { ProcessHandle, RenderedContainer, freePort, startProcess, tail } from "./mlflow-contract";
import { renderedContainer } from "./rendered";

const ROOT = repoRoot();
const EXAMPLE = path.join(ROOT, "examples", "credit-risk");
const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/trainer@sha256:${"e".repeat(64)}`;
const TRACKING = "http://mlflow.mlflow.svc.cluster.local:5000";

/** TrainingJob arguments as MlPlatform builds them for `trainer: pytorch` (small hyperparameters). */
function pytorchJobArgs(overrides: Partial<TrainingJobArgs> = {}): TrainingJobArgs {
    return {
        provider: new k8s.Provider("k8s", { kubeconfig: "{}" }),
        clusterName: "mlops-dev",
        namespace: "ml-training",
        image: IMAGE,
        command: ["torchrun", "/app/train_torch.py"],
        launcher: "torchrun",
        workers: 2,
        queue: { name: "training", priorityClass: "production" },
        hyperparameters: { epochs: 8, n_samples: 3000, hidden_units: 32 },
        tracking: { uri: TRACKING, experimentName: "credit-risk-ddp" },
        model: { name: "credit-risk-ddp", alias: "candidate" },
        data: { uri: "s3://mlops-dev-processed/credit-risk/2026-11-01/", version: "2026-11-01" },
        access: { dataPolicy: "{}", artifactsPolicy: "{}" },
        ...overrides,
    };
}


async function run(c: RenderedContainer & { cwd: string; name: string }, timeoutMs: number): Promise<{ code: number | null; proc: ProcessHandle }> {
    const proc = startProcess(c);
    const timer = setTimeout(() => void proc.stop(2_000), timeoutMs);
    const status = await proc.exited;
    clearTimeout(timer);
    return { code: status.code, proc };
}

const jobsOf = (rs: RecordedResource[]) => rs.filter((r) => r.type === "kubernetes:batch/v1:Job");

describe("contract: scale-out training (torchrun DDP workers, sweep) against MLflow", function () {
    this.timeout(900_000);
    const svc = loadContractServices(ROOT);
    const torchPython = path.join(ROOT, ".contract", "torch-venv", "bin", "python");
    const dbName = `mlflow_so_${Date.now()}_${process.pid}`;
    let workDir = "";
    let server: ProcessHandle | undefined;
    let base = "";
    let client: MlflowClient;
    let registry: Registry | undefined;

    before(async function () {
        const required = process.env.CONTRACT_REQUIRED === "1";
        const problem = !svc ? ".contract/env.json not found (test/contract/services.sh)" : !fs.existsSync(torchPython) ? ".contract/torch-venv missing (test/contract/torch-venv.sh)" : undefined;
        if (problem) {
            if (required) throw new Error(`[contract] ${problem}`);
            console.log(`    [contract] ${problem} -- SKIPPED`);
            this.skip();
            return;
        }
        const stack = await renderStack("dev", ROOT);
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "scale-out-contract-"));
        fs.mkdirSync(path.join(workDir, "home"));
        const port = Number(process.env.CONTRACT_MLFLOW_PORT || (await freePort()));
        registry = await startRegistry(svc!, { workDir, dbName, port, artifactsDestination: flagValue(stack.trackingServer.args, "--artifacts-destination")! });
        server = registry.process;
        base = registry.base;
        client = new MlflowClient({ trackingUri: base, timeoutMs: 30_000 });
    });

    after(async function () {
        await registry?.stop();
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    /** What the cluster gives a trainer pod that the rendering cannot: S3 credentials/endpoint. */
    const s3Env = () => ({ MLFLOW_S3_ENDPOINT_URL: svc!.s3.endpointUrl, AWS_ACCESS_KEY_ID: svc!.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: svc!.s3.secretAccessKey });

    describe("two torchrun workers (ranks 0 and 1, gloo on loopback)", function () {
        let rendered: RenderedContainer;
        let results: Array<{ code: number | null; proc: ProcessHandle }> = [];
        let result: any;
        let resultFiles: string[] = [];

        before(async function () {
            if (!server) return this.skip();
            const rec = await recordResources(() => {
                new TrainingJob("ddp", pytorchJobArgs());
                return {};
            });
            const jobs = jobsOf(rec.resources);
            assert.strictEqual(jobs.length, 1);
            const spec = jobs[0].inputs.spec;
            assert.deepStrictEqual([spec.completionMode, spec.completions, spec.parallelism, spec.suspend], ["Indexed", 2, 2, true]);
            rendered = renderedContainer(jobs[0], "trainer");
            const masterPort = await freePort();
            resultFiles = [0, 1].map((r) => path.join(workDir, `termination-log-${r}`));
            const procs = [0, 1].map((rank) => {
                const c = onLoopback(rendered, {
                    command: { torchrun: path.join(path.dirname(torchPython), "torchrun"), "/app/train_torch.py": path.join(EXAMPLE, "train_torch.py") },
                    env: {
                        MLFLOW_TRACKING_URI: base,
                        // The downward API's completion index and the headless Service's DNS name.
                        PET_NODE_RANK: String(rank),
                        PET_MASTER_ADDR: "127.0.0.1",
                        PET_MASTER_PORT: String(masterPort),
                        MLOPS_RESULT_FILE: resultFiles[rank],
                        ...s3Env(),
                    },
                });
                return run({ ...c, cwd: workDir, name: `rank ${rank}` }, 600_000);
            });
            const t0 = Date.now();
            results = await Promise.all(procs);
            console.log(`    [contract] two workers finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
            const line = results[0].proc.stdout().split("\n").find((l) => l.startsWith("MLOPS_RESULT "));
            result = line ? JSON.parse(line.slice("MLOPS_RESULT ".length)) : undefined;
        });

        it("renders torchrun's options for rank 0's headless Service and the completion index", function () {
            assert.deepStrictEqual(rendered.command, ["torchrun", "/app/train_torch.py"]);
            assert.strictEqual(rendered.env.PET_NNODES, "2");
            assert.strictEqual(rendered.env.PET_NPROC_PER_NODE, "1");
            assert.strictEqual(rendered.env.PET_NODE_RANK, "$(PET_NODE_RANK)", "valueFrom: the completion index");
            assert.match(rendered.env.PET_MASTER_ADDR, /^ddp-[0-9a-f]{10}-0\.ddp-[0-9a-f]{10}$/);
        });

        it("both workers exit 0; rank 0 reports the run, rank 1 does not", function () {
            for (const [i, r] of results.entries()) assert.strictEqual(r.code, 0, `rank ${i} exited ${r.code}:\n${tail(r.proc.logs(), 40)}`);
            assert.ok(result, `rank 0 printed no MLOPS_RESULT:\n${tail(results[0].proc.stdout(), 20)}`);
            assert.ok(!results[1].proc.stdout().includes("MLOPS_RESULT"), "rank 1 must not report a run");
            assert.ok(fs.existsSync(resultFiles[0]) && !fs.existsSync(resultFiles[1]), "only rank 0 writes the termination log");
            assert.strictEqual(result.world_size, 2);
        });

        it("logged exactly one run (by rank 0) with train.py's metric names and world_size 2", async function () {
            const exp = await client.getExperimentByName("credit-risk-ddp");
            assert.ok(exp);
            const { runs } = await client.searchRuns({ experimentIds: [exp!.experiment_id] });
            assert.strictEqual(runs.length, 1, `runs: ${runs.map((r: any) => r.info.run_id)}`);
            const metrics = await client.getRunMetrics(result.run_id);
            for (const k of ["accuracy", "f1", "precision", "recall", "roc_auc", "train_seconds", "eval_samples"]) assert.ok(k in metrics, `metric ${k}`);
            assert.strictEqual(metrics.world_size, 2);
            assert.ok(metrics.roc_auc > 0.6, `roc_auc ${metrics.roc_auc}`);
        });

        it("registered a version with the alias that the gate's client resolves to the run's metrics", async function () {
            const byAlias = await client.resolveMetrics("models:/credit-risk-ddp@candidate");
            assert.strictEqual(byAlias.runId, result.run_id);
            assert.strictEqual(byAlias.version, result.model_version);
            assert.ok(Math.abs(byAlias.metrics.f1 - result.metrics.f1) < 1e-5);
        });
    });

    describe("sweep of 3 trials (grid): parent, children, best registered", function () {
        let sweepJobs: RecordedResource[] = [];
        const outcomes: Record<string, { code: number | null; proc: ProcessHandle; result?: any }> = {};

        before(async function () {
            if (!server) return this.skip();
            const rec = await recordResources(() => {
                const { runId: _r, ...job } = pytorchJobArgs({ workers: 1, model: { name: "credit-risk-sweep", alias: "candidate" }, tracking: { uri: TRACKING, experimentName: "credit-risk-sweep" }, hyperparameters: { epochs: 4, n_samples: 2000 } });
                new TrainingSweep("sweep", {
                    job: { ...job, queue: { name: "training", priorityClass: "experiment" } },
                    sweep: { id: "s1", method: "grid", space: { hidden_units: [4, 16, 32] }, parallelism: 2, metric: "f1", direction: "maximize" },
                });
                return {};
            });
            sweepJobs = jobsOf(rec.resources);
            const order = ["start", "t0", "t1", "t2", "finalize"];
            for (const role of order) {
                const job = sweepJobs.find((j) => j.inputs.metadata.name.startsWith(`sweep-${role}-`))!;
                assert.ok(job, `no Job for ${role}: ${sweepJobs.map((j) => j.inputs.metadata.name)}`);
                const c = onLoopback(renderedContainer(job, "trainer"), {
                    command: {
                        torchrun: path.join(path.dirname(torchPython), "torchrun"),
                        python: torchPython,
                        "/app/train_torch.py": path.join(EXAMPLE, "train_torch.py"),
                        "/app/sweep.py": path.join(EXAMPLE, "sweep.py"),
                    },
                    env: { MLFLOW_TRACKING_URI: base, MLOPS_RESULT_FILE: path.join(workDir, `sweep-${role}.json`), ...s3Env() },
                });
                const r = await run({ ...c, cwd: workDir, name: role }, 300_000);
                const line = r.proc.stdout().split("\n").find((l) => l.startsWith("MLOPS_RESULT "));
                outcomes[role] = { ...r, result: line ? JSON.parse(line.slice("MLOPS_RESULT ".length)) : undefined };
            }
        });

        it("renders start, one Job per trial through the queue, finalize", function () {
            assert.strictEqual(sweepJobs.length, 5);
            for (const j of sweepJobs) {
                assert.strictEqual(j.inputs.metadata.labels["kueue.x-k8s.io/queue-name"], "training");
                assert.strictEqual(j.inputs.spec.suspend, true);
            }
        });

        it("every Job exits 0", function () {
            for (const [role, o] of Object.entries(outcomes)) assert.strictEqual(o.code, 0, `${role} exited ${o.code}:\n${tail(o.proc.logs(), 40)}`);
        });

        it("one parent run with three child runs (trials 0..2, not registered)", async function () {
            const exp = await client.getExperimentByName("credit-risk-sweep");
            const { runs } = await client.searchRuns({ experimentIds: [exp!.experiment_id] });
            const tags = (r: any) => Object.fromEntries((r.data.tags ?? []).map((t: any) => [t.key, t.value]));
            const parents = runs.filter((r) => tags(r)["mlops.sweep.role"] === "parent");
            assert.strictEqual(parents.length, 1);
            const children = runs.filter((r) => tags(r)["mlflow.parentRunId"] === parents[0].info.run_id);
            assert.deepStrictEqual(children.map((r) => tags(r)["mlops.sweep.trial"]).sort(), ["0", "1", "2"]);
            for (const t of ["t0", "t1", "t2"]) assert.strictEqual(outcomes[t].result.model_version, null, `${t} must not register`);
        });

        it("registered the best trial by f1 under the alias; the gate's client reads it", async function () {
            const best = ["t0", "t1", "t2"].map((t) => outcomes[t].result).sort((a, b) => b.metrics.f1 - a.metrics.f1)[0];
            const fin = outcomes.finalize.result;
            assert.strictEqual(fin.run_id, best.run_id);
            const byAlias = await client.resolveMetrics("models:/credit-risk-sweep@candidate");
            assert.strictEqual(byAlias.runId, best.run_id);
            assert.strictEqual(byAlias.version, fin.model_version);
            assert.ok(Math.abs(byAlias.metrics.f1 - best.metrics.f1) < 1e-5);
        });
    });
});
