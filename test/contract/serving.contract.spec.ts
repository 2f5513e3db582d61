/**
 * Contract spec: the model servers of the dev stack's ServingStack (stable and canary Deployments),
 * run with exactly the command, args and environment the rendered Deployments carry, from the venv
 * built with the server image's pins (test/contract/serving-services.sh), loading
 * `models:/credit-risk/<version>` from the real MLflow tracking server (the rendered one, on
 * PostgreSQL and moto) where the reference trainer registered the versions. Only what the cluster
 * supplies without rendering it is bound: the loopback tracking URI (the Service), per-pod ports
 * and the /tmp emptyDir (each pod has its own network namespace and volume), Pod Identity
 * credentials and the S3 endpoint (moto), and a fresh working directory as the image's empty model
 * repository.
 *
 * Bounded synthetic traffic (V2 and /invocations) on loopback; asserts per-model/version metrics on
 * MLServer's metrics port, prediction logs in moto in the documented layout that drift.py reads
 * back, and that a SIGTERM during traffic loses no accepted record.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { RecordedResource } from "../../offline-plan/types";
import { ContractServices, Registry, StackRendering, flagValue, loadContractServices, onLoopback, renderStack, repoRoot, startRegistry } from "./fixture";
import { ProcessHandle, RenderedContainer, startProcess, tail, waitForHttp } from "./mlflow-contract";
import { bucketOfDataClass, renderedContainer } from "./rendered";

const ROOT = repoRoot();
const STACK = "dev";
const TRAIN_PY = path.join(ROOT, "examples", "credit-risk", "train.py");
const DRIFT_PY = path.join(ROOT, "examples", "credit-risk", "drift.py");
const FIXTURE_PY = path.join(ROOT, "test", "contract", "drift-fixture.py");
/** Ports of this spec's servers (the task's range), three per server: http, grpc, metrics. */
const PORT_BASE = Number(process.env.CONTRACT_SERVING_PORT_BASE ?? 56140);

interface ServingVenv {
    python: string;
    mlserver: string;
}

function loadServingVenv(): ServingVenv | undefined {
    const f = path.join(ROOT, ".contract", "serving-env.json");
    return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, "utf8")) as ServingVenv) : undefined;
}

function py(python: string, args: string[], env: Record<string, string> = {}, timeoutMs = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile(python, args, { timeout: timeoutMs, maxBuffer: 64 << 20, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir(), ...env } }, (err, stdout, stderr) =>
            resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }),
        );
    });
}

/** The server container of the Deployment of one track (role serving). */
function servingDeployment(resources: RecordedResource[], track: string): RecordedResource {
    const found = resources.filter(
        (r) => r.type === "kubernetes:apps/v1:Deployment" && r.inputs.metadata?.labels?.["mlops.platform/role"] === "serving" && r.inputs.metadata?.labels?.["mlops.platform/track"] === track,
    );
    assert.strictEqual(found.length, 1, `one serving Deployment for track ${track}`);
    return found[0];
}

interface Sample {
    name: string;
    labels: Record<string, string>;
    value: number;
}

function parseMetrics(text: string): Sample[] {
    const out: Sample[] = [];
    for (const line of text.split("\n")) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!m) continue;
        const labels: Record<string, string> = {};
        for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
        out.push({ name: m[1], labels, value: Number(m[3]) });
    }
    return out;
}

function sum(samples: Sample[], name: string, match: (l: Record<string, string>) => boolean = () => true): number {
    return samples.filter((s) => s.name === name && match(s.labels)).reduce((a, s) => a + s.value, 0);
}

async function freePortInRange(from: number): Promise<number> {
    for (let p = from; p < from + 40; p++) {
        const ok = await new Promise<boolean>((resolve) => {
            const srv = net.createServer();
            srv.once("error", () => resolve(false));
            srv.listen(p, "127.0.0.1", () => srv.close(() => resolve(true)));
        });
        if (ok) return p;
    }
    throw new Error(`no free port in ${from}..${from + 39}`);
}

/** Rows of a CSV written by pandas (numbers and plain strings only). */
function readCsv(file: string): { columns: string[]; rows: string[][] } {
    const lines = fs.readFileSync(file, "utf8").trim().split("\n");
    return { columns: lines[0].split(","), rows: lines.slice(1).map((l) => l.split(",")) };
}

describe("contract: model servers (MLServer + MLflow runtime) as ServingStack renders them", function () {
    this.timeout(900_000);
    const svc = loadContractServices(ROOT);
    const venv = loadServingVenv();
    const required = process.env.CONTRACT_REQUIRED === "1";
    const dbName = `mlflow_serving_${Date.now()}_${process.pid}`;
    let workDir = "";
    let stack: StackRendering;
    let registry: Registry | undefined;
    let trackingBase = "";
    const servers: Record<string, { proc: ProcessHandle; http: string; metrics: string; container: RenderedContainer; version: string }> = {};
    let logBucket = "";
    let referenceUri = "";
    let csv: { columns: string[]; rows: string[][] };
    const sent: Record<string, number> = { stable: 0, canary: 0 };
    let trafficRuns = 0;
    /** Input rows of the answered requests per track. */
    const sentRows: Record<string, number> = { stable: 0, canary: 0 };

    const s3Env = (s: ContractServices) => ({
        AWS_ACCESS_KEY_ID: s.s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s.s3.secretAccessKey,
        AWS_ENDPOINT_URL_S3: s.s3.endpointUrl,
        MLFLOW_S3_ENDPOINT_URL: s.s3.endpointUrl,
    });

    async function s3(code: string, args: string[]): Promise<string> {
        const r = await py(svc!.venv.python, ["-c", code, ...args], { ...s3Env(svc!), AWS_REGION: svc!.s3.region });
        assert.strictEqual(r.code, 0, `boto3 helper failed:\n${r.stderr}`);
        return r.stdout;
    }

    async function startServer(track: string, portBase: number): Promise<void> {
        const rendered = renderedContainer(servingDeployment(stack.resources, track), "server");
        const [http, grpc, metrics] = [await freePortInRange(portBase), await freePortInRange(portBase + 1), await freePortInRange(portBase + 2)];
        const podTmp = path.join(workDir, `pod-${track}-tmp`);
        const repo = path.join(workDir, `pod-${track}-models`);
        fs.mkdirSync(podTmp, { recursive: true });
        fs.mkdirSync(repo, { recursive: true });
        const container = onLoopback(rendered, {
            command: { mlserver: venv!.mlserver },
            env: {
                MLFLOW_TRACKING_URI: trackingBase,
                MLSERVER_HOST: "127.0.0.1",
                MLSERVER_HTTP_PORT: String(http),
                MLSERVER_GRPC_PORT: String(grpc),
                MLSERVER_METRICS_PORT: String(metrics),
                HOME: podTmp,
                TMPDIR: podTmp,
                AWS_REGION: svc!.s3.region,
                ...s3Env(svc!),
            },
        });
        const proc = startProcess({ ...container, cwd: repo, name: `mlserver ${track}` });
        servers[track] = { proc, http: `http://127.0.0.1:${http}`, metrics: `http://127.0.0.1:${metrics}`, container, version: rendered.env.MLSERVER_MODEL_VERSION };
    }

    before(async function () {
        const problem = !svc ? ".contract/env.json not found (test/contract/services.sh)" : !venv || !fs.existsSync(venv.mlserver) ? ".contract/serving-env.json not found (test/contract/serving-services.sh)" : undefined;
        if (problem) {
            if (required) throw new Error(`[contract] ${problem}`);
            console.log(`    [contract] ${problem} -- SKIPPED`);
            this.skip();
            return;
        }
        stack = await renderStack(STACK, ROOT);
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "serving-contract-"));
        const s = svc!;
        // The tracking server is only this spec's model registry (fixture.startRegistry).
        const trackingPort = await freePortInRange(PORT_BASE + 20);
        registry = await startRegistry(s, { workDir, dbName, port: trackingPort, artifactsDestination: flagValue(stack.trackingServer.args, "--artifacts-destination")! });
        trackingBase = registry.base;

        // The reference trainer, as rendered, registers versions until the ones the Deployments serve exist.
        const want = Math.max(...["stable", "canary"].map((t) => Number(renderedContainer(servingDeployment(stack.resources, t), "server").env.MLSERVER_MODEL_VERSION)));
        for (let v = 1; v <= want; v++) {
            const c = onLoopback(stack.trainer, { command: { python: s.venv.python, "/app/train.py": TRAIN_PY }, env: { MLFLOW_TRACKING_URI: trackingBase } });
            const t = startProcess({ ...c, cwd: workDir, name: `train.py #${v}` });
            const st = await t.exited;
            assert.strictEqual(st.code, 0, `train.py #${v}:\n${tail(t.logs(), 30)}`);
            const line = t.stdout().split("\n").find((l) => l.startsWith("MLOPS_RESULT "))!;
            const result = JSON.parse(line.slice("MLOPS_RESULT ".length));
            assert.strictEqual(String(result.model_version), String(v));
        }
        // The reference statistics the trainer logged (drift.py reads the newest feature_stats.json under the prefix).
        referenceUri = `s3://${s.s3.bucket}/`;

        // The DataLake's processed bucket, as the plan names it (the prediction-log destination).
        logBucket = bucketOfDataClass(stack.resources, "processed");
        // Fresh logs: the emulator outlives earlier runs of this spec (same bucket and prefix).
        await s3(
            "import boto3,sys\nc=boto3.client('s3'); b=sys.argv[1]\ntry: c.create_bucket(Bucket=b)\nexcept c.exceptions.BucketAlreadyOwnedByYou: pass\nfor p in c.get_paginator('list_objects_v2').paginate(Bucket=b, Prefix='predictions/'):\n    for o in p.get('Contents', []): c.delete_object(Bucket=b, Key=o['Key'])",
            [logBucket],
        );

        const batch = path.join(workDir, "traffic.csv");
        const made = await py(s.venv.python, [FIXTURE_PY, "batch", batch, "--rows", "400", "--seed", "11"]);
        assert.strictEqual(made.code, 0, made.stderr);
        csv = readCsv(batch);

        await startServer("stable", PORT_BASE);
        await startServer("canary", PORT_BASE + 5);
        for (const [track, srv] of Object.entries(servers)) {
            await waitForHttp(`${srv.http}/v2/health/ready`, 300_000, { process: srv.proc }).catch((e) => {
                throw new Error(`${track}: ${e}\n${tail(srv.proc.logs(), 40)}`);
            });
        }
    });

    after(async function () {
        for (const srv of Object.values(servers)) await srv.proc.stop(5_000);
        await registry?.stop();
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") {
            for (const [t, srv] of Object.entries(servers)) console.log(`    [contract] ${t} server log (tail):\n${tail(srv.proc.logs(), 30)}`);
        }
    });

    function invocationsBody(rows: string[][]): string {
        const cell = (v: string) => (/^-?[0-9.eE+-]+$/.test(v) ? Number(v) : v);
        return JSON.stringify({ dataframe_split: { columns: csv.columns, data: rows.map((r) => r.map(cell)) } });
    }

    function v2Body(rows: string[][], id: string): string {
        const inputs = csv.columns.map((c, j) => {
            const values = rows.map((r) => r[j]);
            const numeric = values.every((v) => /^-?[0-9.eE+-]+$/.test(v));
            const float = numeric && values.some((v) => /[.eE]/.test(v));
            return { name: c, shape: [rows.length], datatype: !numeric ? "BYTES" : float ? "FP64" : "INT64", data: numeric ? values.map(Number) : values };
        });
        return JSON.stringify({ id, inputs });
    }

    async function traffic(track: string, requests: number, rowsPer = 4): Promise<{ ok: number; failed: number }> {
        const srv = servers[track];
        const run = ++trafficRuns; // V2 request ids unique across calls (the logs are counted by id)
        let ok = 0;
        let failed = 0;
        for (let i = 0; i < requests; i++) {
            const start = (i * rowsPer) % (csv.rows.length - rowsPer);
            const rows = csv.rows.slice(start, start + rowsPer);
            const v2 = i % 2 === 0;
            try {
                const res = await fetch(v2 ? `${srv.http}/v2/models/credit-risk/infer` : `${srv.http}/invocations`, {
                    method: "POST",
                    headers: { "content-type": "application/json" },
                    body: v2 ? v2Body(rows, `${track}-${run}-${i}`) : invocationsBody(rows),
                });
                await res.arrayBuffer();
                if (res.status === 200) ok++;
                else failed++;
            } catch {
                failed++;
            }
        }
        sent[track] += ok;
        sentRows[track] += ok * rowsPer;
        return { ok, failed };
    }

    it("the prediction logger's unit specs pass in the server venv (sampling, exclusion, bounded queue, close)", async () => {
        const r = await py(venv!.python, ["-m", "unittest", "discover", "-s", path.join(ROOT, "images", "server", "tests"), "-t", path.join(ROOT, "images", "server")]);
        assert.strictEqual(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stderr, /Ran [1-9]\d* tests?[\s\S]*\nOK/);
    });

    it("the rendered servers are MLServer with the platform runtime, the release's models:/ URI and the track", () => {
        for (const [track, srv] of Object.entries(servers)) {
            assert.deepStrictEqual([...srv.container.command, ...srv.container.args], [venv!.mlserver, "start", "."]);
            assert.strictEqual(srv.container.env.MLSERVER_MODEL_IMPLEMENTATION, "mlops_server.runtime.PredictionLoggingRuntime");
            assert.strictEqual(srv.container.env.MLSERVER_MODEL_URI, `models:/credit-risk/${srv.version}`);
            assert.strictEqual(srv.container.env.MLOPS_TRACK, track);
            assert.strictEqual(srv.container.env.MLOPS_PREDICTION_LOG_ENABLED, "true");
        }
        assert.notStrictEqual(servers.stable.version, servers.canary.version);
    });

    it("answers the V2 protocol and MLflow's /invocations with the same predictions", async () => {
        const rows = csv.rows.slice(0, 5);
        for (const srv of Object.values(servers)) {
            const inv = await fetch(`${srv.http}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: invocationsBody(rows) });
            const invJson = (await inv.json()) as { predictions: unknown[] };
            assert.strictEqual(inv.status, 200, JSON.stringify(invJson));
            assert.strictEqual(invJson.predictions.length, 5);
            const v2 = await fetch(`${srv.http}/v2/models/credit-risk/infer`, { method: "POST", headers: { "content-type": "application/json" }, body: v2Body(rows, "parity") });
            const v2Json = (await v2.json()) as { model_name: string; model_version: string; id: string; outputs: { data: unknown[] }[] };
            assert.strictEqual(v2.status, 200, JSON.stringify(v2Json));
            assert.strictEqual(v2Json.model_name, "credit-risk");
            assert.strictEqual(v2Json.model_version, srv.version);
            assert.strictEqual(v2Json.id, "parity");
            assert.deepStrictEqual(v2Json.outputs[0].data.map(Number), invJson.predictions.map(Number));
        }
        sent.stable += 2;
        sent.canary += 2;
        sentRows.stable += 10;
        sentRows.canary += 10;
    });

    it("exports request counts and latency histograms per model version on the metrics port", async () => {
        const load = { stable: await traffic("stable", 30), canary: await traffic("canary", 10) };
        assert.deepStrictEqual([load.stable.failed, load.canary.failed], [0, 0]);
        for (const [track, srv] of Object.entries(servers)) {
            const m = parseMetrics(await (await fetch(`${srv.metrics}/metrics`)).text());
            const inv = sum(m, "rest_server_requests_total", (l) => l.path === "/invocations" && l.status_code === "200");
            const v2 = sum(m, "rest_server_requests_total", (l) => /^\/v2\/models\/.+\/infer$/.test(l.path) && l.status_code === "200");
            const expected = track === "stable" ? 30 : 10;
            assert.strictEqual(inv + v2, expected + 2, `${track}: requests on /invocations + V2 infer`);
            assert.strictEqual(sum(m, "rest_server_request_duration_seconds_count", (l) => l.path === "/invocations"), inv);
            assert.ok(m.some((s) => s.name === "rest_server_request_duration_seconds_bucket" && s.labels.le === "+Inf"), "a latency histogram");
            // MLServer's own V2 counter carries the model name (the version comes from the pod via relabeling).
            assert.strictEqual(sum(m, "model_infer_request_success_total", (l) => l.model === "credit-risk"), v2);
            assert.strictEqual(sum(m, "mlops_prediction_log_dropped_total"), 0, `${track}: nothing dropped`);
        }
    });

    it("writes sampled prediction logs to the processed bucket in the documented layout, readable by drift.py", async function () {
        // flushSeconds is 30 in the rendering: wait for a flush rather than changing the config.
        const listing = async () =>
            JSON.parse(
                await s3(
                    "import boto3,sys,json; c=boto3.client('s3'); print(json.dumps([o['Key'] for p in c.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[1], Prefix='predictions/') for o in p.get('Contents', [])]))",
                    [logBucket],
                ),
            ) as string[];
        let keys: string[] = [];
        for (let i = 0; i < 45 && keys.filter((k) => k.includes(`version=${servers.stable.version}/`)).length === 0; i++) {
            await new Promise((r) => setTimeout(r, 1_000));
            keys = await listing();
        }
        const day = new Date().toISOString().slice(0, 10);
        const layout = /^predictions\/model=credit-risk\/version=(\d+)\/date=(\d{4}-\d{2}-\d{2})\/(stable|canary)-[^/]+\.parquet$/;
        assert.ok(keys.length > 0, "no prediction log objects");
        for (const k of keys) {
            const m = layout.exec(k);
            assert.ok(m, `key ${k} is not predictions/model=<m>/version=<v>/date=<yyyy-mm-dd>/<track>-...parquet`);
            assert.ok([servers.stable.version, servers.canary.version].includes(m![1]), k);
            assert.ok(m![2] === day || Math.abs(Date.parse(m![2]) - Date.parse(day)) <= 86_400_000, k);
        }
        const prefix = `s3://${logBucket}/predictions/model=credit-risk/version=${servers.stable.version}/`;
        const rows = JSON.parse(
            await s3(
                "import sys,json,io,boto3,pandas as pd\nc=boto3.client('s3'); b=sys.argv[1]; p=sys.argv[2]\nfs=[pd.read_parquet(io.BytesIO(c.get_object(Bucket=b,Key=o['Key'])['Body'].read())) for pg in c.get_paginator('list_objects_v2').paginate(Bucket=b,Prefix=p) for o in pg.get('Contents',[])]\nd=pd.concat(fs)\nprint(json.dumps({'rows': len(d), 'columns': list(d.columns), 'tracks': sorted(set(d.mlops_track)), 'versions': sorted(set(d.mlops_version)), 'requests': int(d.mlops_request_id.nunique())}))",
                [logBucket, prefix.replace(`s3://${logBucket}/`, "")],
            ),
        );
        // dev logs every request (sampleRate 1): 32 stable requests of 4-5 rows each.
        assert.strictEqual(rows.requests, sent.stable);
        assert.deepStrictEqual(rows.tracks, ["stable"]);
        assert.deepStrictEqual(rows.versions, [servers.stable.version]);
        for (const c of ["mlops_prediction", "mlops_model", "mlops_version", "mlops_track", "mlops_request_id", "mlops_timestamp", ...csv.columns]) {
            assert.ok(rows.columns.includes(c), `column ${c} in ${rows.columns}`);
        }
        // drift.py (the DriftMonitor's script) reads the stable version's logs as its batch.
        const d = await py(
            svc!.venv.python,
            [DRIFT_PY, "--reference", referenceUri, "--current", prefix, "--current-objects", "200", "--model", "credit-risk", "--min-rows", "100", "--drift-exit-code", "0"],
            { ...s3Env(svc!), AWS_REGION: svc!.s3.region },
        );
        assert.strictEqual(d.code, 0, `drift.py exit ${d.code}\n${d.stdout}\n${d.stderr}`);
        const summary = JSON.parse(d.stdout.split("\n").find((l) => l.startsWith("MLOPS_DRIFT "))!.slice("MLOPS_DRIFT ".length));
        assert.strictEqual(summary.rows, rows.rows);
    });

    it("a SIGTERM during traffic loses no accepted record (flushed before exit)", async function () {
        const srv = servers.canary;
        const rowsBefore = sentRows.canary;
        const prefix = `predictions/model=credit-risk/version=${srv.version}/`;
        // flushSeconds is 30: the records of this traffic are still in memory when the signal comes.
        const running = traffic("canary", 400, 2);
        await new Promise((r) => setTimeout(r, 1_500));
        // The kubelet signals the container's main process only.
        process.kill(srv.proc.pid, "SIGTERM");
        const [result, status] = await Promise.all([running, srv.proc.exited]);
        assert.strictEqual(status.code, 0, `exit ${JSON.stringify(status)}\n${tail(srv.proc.logs(), 20)}`);
        assert.ok(result.ok > 0, "some requests were answered before the shutdown");
        const inS3 = Number(
            (
                await s3(
                    "import sys,io,boto3,pandas as pd\nc=boto3.client('s3')\nfs=[pd.read_parquet(io.BytesIO(c.get_object(Bucket=sys.argv[1],Key=o['Key'])['Body'].read())) for pg in c.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[1],Prefix=sys.argv[2]) for o in pg.get('Contents',[])]\nprint(len(pd.concat(fs)))",
                    [logBucket, prefix],
                )
            ).trim(),
        );
        // sampleRate 1: every answered request's rows are in S3. Requests are sent one at a time, so at
        // most the one in flight at the signal (2 rows) may have been predicted and logged unanswered.
        const answered = rowsBefore + 2 * result.ok;
        assert.ok(inS3 >= answered && inS3 <= answered + 2, `rows in S3 ${inS3}, rows of answered requests ${answered}`);
        for (const m of srv.proc.logs().matchAll(/prediction log closed: (\d+) accepted, (\d+) dropped/g)) assert.strictEqual(m[2], "0", m[0]);
    });
});
