/**
 * Contract spec of the data loop (issue 15), on the dev stack as `mlops plan` renders it, against
 * moto (S3 + EventBridge + SQS, from test/contract/services.sh) and a local HTTP receiver:
 *
 * - the IngestionJob's command (ingest.py) run with the environment the CronJob renders copies a
 *   dated batch into the raw bucket, manifest last; a second run writes nothing;
 * - the PipelineTrigger's rule, installed in moto with its rendered pattern, sees the S3 events of
 *   that ingestion and fires exactly once per batch (the manifest), not per part; real S3
 *   "Object Created" samples match, other keys, buckets and event types do not (moto has no
 *   TestEventPattern, so matching is observed on delivery);
 * - the rule's input transformer, rendered by moto on delivery, is a repository_dispatch body the
 *   receiver accepts (POST to the API destination's path, the connection's auth header, the
 *   target's headers), and train.yml's `validate` job reads it: its expressions and its "Which
 *   batch" script derive the batch, its validate step passes the batch and pins its digest;
 * - validate.py on real files: a good batch passes; a missing column, a wrong type, a null spike and
 *   an out-of-range value each fail with a report naming column, rule and rows; the trainer's loader
 *   refuses an unpinned version and a batch changed after validation.
 *
 * Without .contract/env.json the spec is skipped; with CONTRACT_REQUIRED=1 it fails instead.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import { runCaptured } from "./mlflow-contract";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { INGEST_CONTAINER } from "../../components/ingestionJob";
import { RecordedResource } from "../../offline-plan/types";
import { ContractServices, StackRendering, loadContractServices, renderStack, repoRoot } from "./fixture";
import { renderedContainer } from "./rendered";

const ROOT = repoRoot();
const CREDIT = path.join(ROOT, "examples", "credit-risk");
const FIXTURE = path.join(ROOT, "test", "contract", "data-loop-fixture.py");
const RECEIVER_PORT = Number(process.env.CONTRACT_DATALOOP_PORT ?? 56310);
const TODAY = new Date().toISOString().slice(0, 10);

interface RunResult {
    code: number | null;
    stdout: string;
    stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string>, cwd = ROOT, timeoutMs = 180_000): Promise<RunResult> {
    return runCaptured(cmd, args, { env, cwd, timeoutMs });
}

function byType(resources: RecordedResource[], type: string): RecordedResource {
    const found = resources.filter((r) => r.type === type);
    assert.strictEqual(found.length, 1, `one ${type} in the dev stack, found ${found.map((r) => r.name).join(", ")}`);
    return found[0];
}

describe("contract: data loop (ingestion → trigger → validation) against moto", function () {
    this.timeout(900_000);
    let services: ContractServices | undefined;
    let stack: StackRendering;
    let python: string;
    let aws: Record<string, string>;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "dataloop-"));
    const tag = `dl${process.pid}`;

    const fixture = async (cmd: string, args: unknown): Promise<any> => {
        const r = await run(python, [FIXTURE, cmd, JSON.stringify(args)], aws);
        assert.strictEqual(r.code, 0, `fixture ${cmd}: ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split("\n").pop()!);
    };

    before(async function () {
        services = loadContractServices();
        if (!services) {
            if (process.env.CONTRACT_REQUIRED === "1") throw new Error("contract services are not running (test/contract/services.sh)");
            this.skip();
        }
        const venv = await run("bash", [path.join(ROOT, "test", "contract", "data-loop-services.sh")], { PATH: process.env.PATH ?? "" });
        assert.strictEqual(venv.code, 0, venv.stderr);
        python = venv.stdout.trim();
        aws = {
            AWS_ENDPOINT_URL: services!.s3.endpointUrl,
            AWS_ENDPOINT_URL_S3: services!.s3.endpointUrl,
            AWS_ACCESS_KEY_ID: services!.s3.accessKeyId,
            AWS_SECRET_ACCESS_KEY: services!.s3.secretAccessKey,
            AWS_REGION: "us-east-1",
            AWS_DEFAULT_REGION: "us-east-1",
        };
        stack = await renderStack("dev");
    });

    describe("ingestion and trigger", () => {
        let ingest: { command: string[]; env: Record<string, string> };
        let rawBucket: string;
        let sourceBucket: string;
        let queues: { capture: string; rendered: string };
        let pattern: any;
        let target: any;
        let s3Event: any;
        let batchUri = "";
        let firstPin = "";

        before(async () => {
            const cron = stack.resources.find((r) => r.type === "kubernetes:batch/v1:CronJob" && r.inputs.metadata?.labels?.["app.kubernetes.io/component"] === "ingestion");
            assert.ok(cron, "the dev stack renders the ingestion CronJob");
            ingest = renderedContainer(cron!, INGEST_CONTAINER);
            const dest = /^s3:\/\/([^/]+)\/(.+)$/.exec(ingest.env.MLOPS_INGEST_DEST)!;
            rawBucket = dest[1];
            assert.strictEqual(dest[2], "credit-risk/");
            assert.strictEqual(rawBucket, String(stack.outputs.rawBucket), "the job writes the stack's raw bucket");
            const src = /^s3:\/\/([^/]+)\/(.*)\{date\}\/$/.exec(ingest.env.MLOPS_INGEST_SOURCE)!;
            assert.ok(src, `source is an s3 prefix with {date}: ${ingest.env.MLOPS_INGEST_SOURCE}`);
            // Same bucket names as the stack renders, made unique per run in the shared emulator.
            sourceBucket = `${src[1]}-${tag}`;
            rawBucket = `${rawBucket}-${tag}`.slice(0, 63);
            const rule = byType(stack.resources, "aws:cloudwatch/eventRule:EventRule");
            target = byType(stack.resources, "aws:cloudwatch/eventTarget:EventTarget").inputs;
            pattern = JSON.parse(rule.inputs.eventPattern);
            assert.deepStrictEqual(pattern.detail.bucket.name, [String(stack.outputs.rawBucket)]);
            pattern.detail.bucket.name = [rawBucket];
            const dir = path.join(work, "source");
            await fixture("batch", { dir, rows: 1000 });
            const parts = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
            queues = await fixture("setup", {
                tag,
                source: { bucket: sourceBucket, prefix: `${src[2]}${TODAY}/`, parts },
                raw: rawBucket,
                rule: { name: `${rule.inputs.name}-${tag}`, pattern: JSON.stringify(pattern), inputPaths: target.inputTransformer.inputPaths, inputTemplate: target.inputTransformer.inputTemplate },
            });
            ingest.env.MLOPS_INGEST_SOURCE = ingest.env.MLOPS_INGEST_SOURCE.replace(src[1], sourceBucket);
            ingest.env.MLOPS_INGEST_DEST = `s3://${rawBucket}/credit-risk/`;
        });

        const runIngest = () =>
            run(python, [path.join(CREDIT, "ingest.py")], { ...ingest.env, ...aws, MLOPS_INGEST_DATE: TODAY, MLOPS_RESULT_FILE: path.join(work, "ingest-result.json") });

        it("the ingestion command copies the dated batch into raw/<dataset>/<date>/ with the manifest written last", async () => {
            assert.deepStrictEqual(ingest.command, ["python", "/app/ingest.py"]);
            const r = await runIngest();
            assert.strictEqual(r.code, 0, r.stderr);
            const result = JSON.parse(fs.readFileSync(path.join(work, "ingest-result.json"), "utf8"));
            assert.deepStrictEqual([result.status, result.written, result.rows], ["copied", 3, 1000]);
            const v = (await fixture("versions", { bucket: rawBucket })).versions.map((x: string) => x.split("@")[0]);
            assert.deepStrictEqual(v.sort(), [`credit-risk/${TODAY}/_manifest.json`, `credit-risk/${TODAY}/part-0000.csv`, `credit-risk/${TODAY}/part-0001.csv`]);
            // The rule saw three Object Created events and fired once: for the manifest, written last.
            const captured = (await fixture("drain", { queue: queues.capture })).messages;
            assert.deepStrictEqual(captured.map((e: any) => [e["detail-type"], e.detail.object.key]), [["Object Created", `credit-risk/${TODAY}/_manifest.json`]]);
            s3Event = captured[0];
            // moto delivers S3-originated events untransformed; the body is rendered below via PutEvents of this event.
            await fixture("drain", { queue: queues.rendered });
        });

        it("is idempotent: a second run for the same date writes nothing and triggers nothing", async () => {
            const before = (await fixture("versions", { bucket: rawBucket })).versions;
            const r = await runIngest();
            assert.strictEqual(r.code, 0, r.stderr);
            const result = JSON.parse(fs.readFileSync(path.join(work, "ingest-result.json"), "utf8"));
            assert.deepStrictEqual([result.status, result.written], ["exists", 0]);
            assert.deepStrictEqual((await fixture("versions", { bucket: rawBucket })).versions, before);
            assert.deepStrictEqual((await fixture("drain", { queue: queues.capture })).messages, []);
        });

        it("the rule's pattern matches real S3 Object Created samples of the marker and rejects parts, other buckets and other event types", async () => {
            // Shape of the AWS documentation's "Object Created" sample (S3 user guide, EventBridge event structure).
            const sample = (key: string, over: Record<string, any> = {}) => ({
                source: "aws.s3",
                "detail-type": "Object Created",
                resources: [`arn:aws:s3:::${rawBucket}`],
                detail: {
                    version: "0",
                    bucket: { name: rawBucket },
                    object: { key, size: 5, etag: "b1946ac92492d2347c6235b4d2611184", "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", sequencer: "00617F08299329D189" },
                    "request-id": "N4N7GDK58NMKJ12R",
                    requester: "123456789012",
                    "source-ip-address": "1.2.3.4",
                    reason: "PutObject",
                },
                ...over,
            });
            const marker = `credit-risk/2026-12-01/_manifest.json`;
            const samples = [
                sample(marker),
                sample(`credit-risk/2026-12-01/part-0000.csv`),
                sample(`other-dataset/2026-12-01/_manifest.json`),
                { ...sample(marker), "detail-type": "Object Deleted" },
                { ...sample(marker), detail: { ...sample(marker).detail, bucket: { name: `${rawBucket}-x` } } },
            ];
            assert.strictEqual((await fixture("put-events", { events: samples })).failed, 0);
            const got = (await fixture("drain", { queue: queues.capture })).messages;
            assert.deepStrictEqual(got.map((e: any) => [e["detail-type"], e.detail.bucket.name, e.detail.object.key]), [["Object Created", rawBucket, marker]]);
            const bodies = (await fixture("drain", { queue: queues.rendered })).messages;
            assert.strictEqual(bodies.length, 1);
            assert.strictEqual(bodies[0].client_payload.marker_key, marker);
            assert.strictEqual(bodies[0].client_payload.marker_version_id, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e");
        });

        it("delivers a repository_dispatch body that train.yml reads: validate derives the batch, passes it and pins its digest", async () => {
            // The event S3 emitted for the ingested batch's manifest, through the rule's input transformer (moto renders it).
            assert.strictEqual((await fixture("put-events", { events: [s3Event] })).failed, 0);
            await fixture("drain", { queue: queues.capture });
            const rendered = (await fixture("drain", { queue: queues.rendered })).messages;
            assert.strictEqual(rendered.length, 1, "one rendered body for the ingested batch");
            const body = rendered[0];
            // The receiver plays GitHub's API: POST /repos/<owner>/<repo>/dispatches with the connection's header.
            const dest = byType(stack.resources, "aws:cloudwatch/eventApiDestination:EventApiDestination").inputs;
            const conn = byType(stack.resources, "aws:cloudwatch/eventConnection:EventConnection").inputs;
            const endpoint = new URL(dest.invocationEndpoint);
            assert.strictEqual(endpoint.href, "https://api.github.com/repos/example-org/mlops-platform/dispatches");
            const received: { method?: string; url?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};
            const server = http.createServer((req, res) => {
                let b = "";
                req.on("data", (d) => (b += d));
                req.on("end", () => {
                    Object.assign(received, { method: req.method, url: req.url, headers: req.headers, body: b });
                    const parsed = JSON.parse(b);
                    const ok =
                        typeof parsed.event_type === "string" &&
                        parsed.event_type.length >= 1 &&
                        parsed.event_type.length <= 100 &&
                        typeof parsed.client_payload === "object" &&
                        Object.keys(parsed.client_payload).length <= 10 &&
                        String(req.headers.authorization ?? "").startsWith("Bearer ");
                    res.writeHead(ok ? 204 : 422).end();
                });
            });
            await new Promise<void>((r) => server.listen(RECEIVER_PORT, "127.0.0.1", r));
            const status = await new Promise<number>((resolve, reject) => {
                const payload = JSON.stringify(body);
                const headers = { ...target.httpTarget.headerParameters, "Content-Type": "application/json; charset=utf-8", [conn.authParameters.apiKey.key]: "Bearer test-token-set-out-of-band" };
                const req = http.request({ host: "127.0.0.1", port: RECEIVER_PORT, path: endpoint.pathname, method: dest.httpMethod, headers }, (res) => resolve(res.statusCode ?? 0));
                req.on("error", reject);
                req.end(payload);
            });
            await new Promise<void>((r) => server.close(() => r()));
            assert.strictEqual(status, 204, `receiver refused: ${received.body}`);
            assert.strictEqual(received.url, "/repos/example-org/mlops-platform/dispatches");
            assert.strictEqual(received.headers?.accept, "application/vnd.github+json");
            assert.deepStrictEqual(Object.keys(body.client_payload).sort(), ["bucket", "event_id", "event_time", "marker_key", "marker_version_id"]);
            assert.strictEqual(body.client_payload.bucket, rawBucket);
            assert.strictEqual(body.client_payload.marker_key, `credit-risk/${TODAY}/_manifest.json`);

            // train.yml: the event type it listens to, the validate job's env expressions, its scripts.
            const wf = YAML.parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", "train.yml"), "utf8"));
            assert.ok(wf.on.repository_dispatch.types.includes(body.event_type), `train.yml listens to ${body.event_type}`);
            const job = wf.jobs.validate;
            assert.deepStrictEqual(wf.jobs.train.needs, "validate");
            const ctx = { github: { event: body } };
            const expr = (v: string) =>
                v.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_m, e: string) => {
                    const val = e.split(".").reduce((o: any, k: string) => (o === undefined || o === null ? undefined : o[k]), ctx as any);
                    return val === undefined || val === null ? "" : String(val);
                });
            const env: Record<string, string> = Object.fromEntries(Object.entries(job.env as Record<string, string>).map(([k, v]) => [k, expr(String(v))]));
            const step = (name: string) => job.steps.find((s: any) => s.name === name);
            const out1 = path.join(work, "gh-output-1");
            fs.writeFileSync(out1, "");
            const which = await run("bash", ["-e", "-c", step("Which batch").run], { ...env, RAW_BUCKET: "unused-when-dispatched", GITHUB_OUTPUT: out1 });
            assert.strictEqual(which.code, 0, which.stderr);
            const outputs: Record<string, string> = Object.fromEntries(fs.readFileSync(out1, "utf8").trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));
            assert.deepStrictEqual(outputs, { data_uri: `s3://${rawBucket}/credit-risk/${TODAY}/`, data_prefix: `credit-risk/${TODAY}/`, label: TODAY });
            batchUri = outputs.data_uri;

            const check = step("Validate the batch against the data contract");
            const out2 = path.join(work, "gh-output-2");
            fs.writeFileSync(out2, "");
            // `python` of the CI job = the validation venv (requirements-validate.txt).
            const bin = path.join(work, "bin");
            fs.mkdirSync(bin, { recursive: true });
            fs.writeFileSync(path.join(bin, "python"), `#!/bin/sh\nexec "${python}" "$@"\n`, { mode: 0o755 });
            const stepEnv = Object.fromEntries(Object.entries(check.env as Record<string, string>).map(([k, v]) => [k, String(v).replace(/\$\{\{\s*steps\.batch\.outputs\.(\w+)\s*\}\}/, (_m, k2: string) => (outputs as Record<string, string>)[k2])]));
            const validated = await run("bash", ["-e", "-c", check.run], { ...aws, ...stepEnv, PATH: `${bin}:${process.env.PATH}`, GITHUB_OUTPUT: out2, GITHUB_WORKSPACE: work }, path.join(ROOT, check["working-directory"]));
            assert.strictEqual(validated.code, 0, validated.stdout + validated.stderr);
            const pinned: Record<string, string> = Object.fromEntries(fs.readFileSync(out2, "utf8").trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));
            assert.strictEqual(pinned.status, "passed");
            assert.match(pinned.data_version, new RegExp(`^${TODAY}@sha256:[0-9a-f]{64}$`));
            const report = JSON.parse(fs.readFileSync(path.join(work, "validation", "report.json"), "utf8"));
            assert.deepStrictEqual([report.status, report.rows, report.manifest, report.freshness.batch_date], ["passed", 1000, true, TODAY]);

            // The trainer's loader takes exactly that batch, and refuses it once it changed.
            const load = (version: string) =>
                run(python, ["-c", "import sys, validate\ntry:\n    f, t, r = validate.load_for_training(sys.argv[1], sys.argv[2]); print('loaded', len(f), r['data_digest'])\nexcept validate.DataRefused as e:\n    print('refused:', e); sys.exit(2)", outputs.data_uri, version], aws, CREDIT);
            const ok = await load(pinned.data_version);
            assert.strictEqual(ok.code, 0, ok.stderr);
            assert.match(ok.stdout, /^loaded 1000 sha256:/);
            const unpinned = await load(TODAY);
            assert.strictEqual(unpinned.code, 2);
            assert.match(unpinned.stdout, /not pinned to a validated batch/);
            await fixture("put-object", { bucket: rawBucket, key: `credit-risk/${TODAY}/part-0002.csv`, body: fs.readFileSync(path.join(work, "source", "part-0000.csv"), "utf8") });
            const changed = await load(pinned.data_version);
            assert.strictEqual(changed.code, 2);
            assert.match(changed.stdout, /refusing data this run was not given/);
            firstPin = pinned.data_version;
        });

        it("the trainer (MLflow venv + pandera, as in the image) refuses the changed batch with a FAILED run carrying the report, and trains on a pinned one, logging the report", async function () {
            assert.ok(batchUri, "the dispatch case ran");
            const mlflow = services!.venv.mlflow;
            const port = Number(process.env.CONTRACT_DATALOOP_MLFLOW_PORT ?? 56321);
            const store = path.join(work, "mlflow");
            fs.mkdirSync(store, { recursive: true });
            const server = spawn(mlflow, ["server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", `sqlite:///${store}/mlflow.db`, "--artifacts-destination", `${store}/artifacts`, "--workers", "1"], {
                env: { PATH: process.env.PATH ?? "", HOME: work },
                stdio: "ignore",
                detached: true,
            });
            const base = `http://127.0.0.1:${port}`;
            try {
                for (let i = 0; i < 120; i++) {
                    try {
                        if ((await fetch(`${base}/health`)).ok) break;
                    } catch {
                        /* not up yet */
                    }
                    await new Promise((r) => setTimeout(r, 1000));
                }
                const rendered = stack.trainer.env;
                const env: Record<string, string> = Object.fromEntries(Object.entries(rendered).filter(([, v]) => !v.includes("$(")));
                const train = (version: string) =>
                    run(services!.venv.python, [path.join(CREDIT, "train.py"), "--n-estimators", "10"], { ...env, ...aws, MLFLOW_TRACKING_URI: base, MLOPS_DATA_URI: batchUri, MLOPS_DATA_VERSION: version, MLOPS_RESULT_FILE: "", MLOPS_IMAGE_DIGEST: "" }, work, 300_000);
                const api = async (p: string, body?: unknown) => (await fetch(`${base}/api/2.0/mlflow/${p}`, body ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {})).json() as Promise<any>;
                // The batch changed after validation (the dispatch case added a part): the version the
                // validate job pinned before is refused, exit 2.
                const refused = await train(firstPin);
                assert.strictEqual(refused.code, 2, refused.stdout + refused.stderr);
                assert.match(refused.stderr, /data refused: .*refusing data this run was not given/);
                const exp = (await api(`experiments/get-by-name?experiment_name=${encodeURIComponent(env.MLFLOW_EXPERIMENT_NAME ?? "credit-risk")}`)).experiment;
                const refusedRun = (await api("runs/search", { experiment_ids: [exp.experiment_id], filter: "tags.`mlops.data_validation` = 'refused'" })).runs[0];
                assert.strictEqual(refusedRun.info.status, "FAILED");
                const refusedArtifacts = await api(`artifacts/list?run_id=${refusedRun.info.run_id}&path=validation`);
                assert.deepStrictEqual(refusedArtifacts.files.map((f: any) => f.path), ["validation/report.json"]);
                // The extra part removed, the batch is the validated one again: trains, logging the report and the digest.
                await fixture("delete-object", { bucket: rawBucket, key: `credit-risk/${TODAY}/part-0002.csv` });
                const pinned = firstPin;
                const ok = await train(pinned);
                assert.strictEqual(ok.code, 0, ok.stdout + ok.stderr);
                const runId = /^run_id=(\S+)$/m.exec(ok.stdout)![1];
                const r = (await api(`runs/get?run_id=${runId}`)).run;
                const tags = Object.fromEntries(r.data.tags.map((t: any) => [t.key, t.value]));
                assert.deepStrictEqual([tags["mlops.data_validation"], tags["mlops.data_version"], tags["mlops.data_digest"]], ["passed", pinned, `sha256:${pinned.split("@sha256:")[1]}`]);
                const files = await api(`artifacts/list?run_id=${runId}&path=validation`);
                assert.deepStrictEqual(files.files.map((f: any) => f.path), ["validation/report.json"]);
            } finally {
                try {
                    process.kill(-server.pid!, "SIGTERM");
                } catch {
                    /* already gone */
                }
            }
        });
    });

    describe("validation stage on real files", () => {
        const validate = async (defect: string | null) => {
            const dir = path.join(work, `batch-${defect ?? "good"}`, TODAY);
            await fixture("batch", { dir, rows: 1000, defect });
            const reportDir = path.join(work, `report-${defect ?? "good"}`);
            const r = await run(python, ["validate.py", "--data", dir, "--data-version", TODAY, "--report-dir", reportDir], {}, CREDIT);
            const report = JSON.parse(fs.readFileSync(path.join(reportDir, "report.json"), "utf8"));
            const md = fs.readFileSync(path.join(reportDir, "report.md"), "utf8");
            return { code: r.code, report, md, failures: report.failures.map((f: any) => [f.column, f.rule, f.rows]) };
        };

        it("a good batch passes and is pinned", async () => {
            const v = await validate(null);
            assert.deepStrictEqual([v.code, v.report.status, v.failures], [0, "passed", []]);
            assert.match(v.report.pinned_version, /@sha256:[0-9a-f]{64}$/);
        });

        it("a missing column fails, naming the column, the rule and every row", async () => {
            const v = await validate("missing");
            assert.deepStrictEqual([v.code, v.failures], [1, [["credit_score", "required column", 1000]]]);
            assert.match(v.md, /\| credit_score \| required column \| 1000 \|/);
        });

        it("a wrong type fails, naming the column, the type and the rows that are not of it", async () => {
            const v = await validate("type");
            assert.deepStrictEqual([v.code, v.failures], [1, [["age", "type int64 (values that are not)", 3]]]);
        });

        it("a null spike fails, naming the column, the allowed fraction and the null rows", async () => {
            const v = await validate("nulls");
            assert.deepStrictEqual([v.code, v.failures], [1, [["employment_years", "max_null_fraction 5% (found 10.0%)", 100]]]);
        });

        it("an out-of-range value fails, naming the column, the bound and the rows", async () => {
            const v = await validate("range");
            assert.deepStrictEqual([v.code, v.failures], [1, [["credit_score", "less_than_or_equal_to(850)", 2]]]);
            assert.deepStrictEqual(v.report.failures[0].examples, [900, 900]);
        });
    });
});
