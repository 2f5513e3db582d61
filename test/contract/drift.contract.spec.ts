/**
 * Contract spec: the drift check (examples/credit-risk/drift.py) with the numpy/scipy/pandas pins of
 * the trainer from PyPI (the `.contract/venv` test/contract/services.sh builds), on reference
 * statistics made by train.py's own feature_statistics(), pushing to a local HTTP server that plays
 * the Pushgateway. The last case runs the exact command line DriftMonitor renders, against S3
 * (moto) for the reference and batch prefixes.
 *
 * Without .contract/env.json the spec is skipped; with CONTRACT_REQUIRED=1 it fails instead.
 */
import * as k8s from "@pulumi/kubernetes";
import * as assert from "assert";
import { runCaptured } from "./mlflow-contract";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { DRIFT_METRICS, DRIFT_PUSH_JOB, METRIC_SOURCES } from "../../components/dashboards/metrics";
import { DRIFT_CONTAINER, DriftMonitor } from "../../components/driftMonitor";
import { recordResources } from "../../offline-plan/run";
import { ContractServices, flagValue, loadContractServices, repoRoot, withBucket } from "./fixture";
import { renderedContainer } from "./rendered";

const ROOT = repoRoot();
const DRIFT_PY = path.join(ROOT, "examples", "credit-risk", "drift.py");
const FIXTURE_PY = path.join(ROOT, "test", "contract", "drift-fixture.py");
const FEATURES = [
    "age",
    "annual_income",
    "employment_years",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "credit_utilization",
    "num_open_accounts",
    "delinquencies_2y",
    "home_ownership",
];
const SHIFTED = ["credit_score", "debt_to_income"];
const SHIFTS = ["--shift", "credit_score=+60", "--shift", "debt_to_income=*1.5"];

interface RunResult {
    code: number | null;
    stdout: string;
    stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<RunResult> {
    return runCaptured(cmd, args, { env, timeoutMs });
}

interface Push {
    method: string;
    url: string;
    contentType: string;
    body: string;
}

/** A stand-in Pushgateway: records every request and answers 200. */
async function fakePushgateway(): Promise<{ url: string; pushes: Push[]; close: () => Promise<void> }> {
    const pushes: Push[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (d) => (body += d));
        req.on("end", () => {
            pushes.push({ method: req.method ?? "", url: req.url ?? "", contentType: String(req.headers["content-type"] ?? ""), body });
            res.writeHead(200).end();
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    return { url: `http://127.0.0.1:${port}`, pushes, close: () => new Promise((r) => server.close(() => r())) };
}

interface Sample {
    name: string;
    labels: Record<string, string>;
    value: number;
}

/** Parses the Prometheus text exposition format (0.0.4): samples plus # TYPE lines. */
function parseExposition(text: string): { samples: Sample[]; types: Record<string, string> } {
    const samples: Sample[] = [];
    const types: Record<string, string> = {};
    for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        const t = /^# TYPE (\S+) (\S+)$/.exec(line);
        if (t) {
            types[t[1]] = t[2];
            continue;
        }
        if (line.startsWith("#")) continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
        assert.ok(m, `not an exposition line: ${line}`);
        const labels: Record<string, string> = {};
        for (const l of (m![2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
            labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        }
        const raw = m![3];
        samples.push({ name: m![1], labels, value: raw === "NaN" ? NaN : raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw) });
    }
    return { samples, types };
}

function byFeature(samples: Sample[], name: string): Record<string, number> {
    return Object.fromEntries(samples.filter((s) => s.name === name).map((s) => [s.labels.feature, s.value]));
}

async function s3Reachable(svc: ContractServices): Promise<boolean> {
    try {
        await fetch(`${svc.s3.endpointUrl}/moto-api/`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.arrayBuffer());
        return true;
    } catch {
        return false;
    }
}

describe("contract: drift check (drift.py, numpy/scipy from PyPI) → Pushgateway", function () {
    this.timeout(240_000);
    const svc = loadContractServices(ROOT);
    const required = process.env.CONTRACT_REQUIRED === "1";
    let python = "";
    let workDir = "";
    let reference = "";
    let gateway: Awaited<ReturnType<typeof fakePushgateway>>;

    before(async function () {
        const problem = !svc ? ".contract/env.json not found" : !fs.existsSync(svc.venv.python) ? `${svc.venv.python} does not exist` : undefined;
        if (problem) {
            const msg = `[contract] ${problem}; run test/contract/services.sh to build the venv (numpy, scipy, pandas from test/contract/requirements.txt)`;
            if (required) throw new Error(msg);
            console.log(`    ${msg} -- SKIPPED`);
            this.skip();
        }
        python = svc!.venv.python;
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "drift-contract-"));
        reference = path.join(workDir, "feature_stats.json");
        const made = await run(python, [FIXTURE_PY, "reference", reference, "--rows", "4000", "--seed", "42"]);
        assert.strictEqual(made.code, 0, `reference fixture failed:\n${made.stderr}`);
        gateway = await fakePushgateway();
    });

    after(async () => {
        await gateway?.close();
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("the reference is train.py's format: a 20-bin histogram and a 200-row sample per feature", () => {
        const ref = JSON.parse(fs.readFileSync(reference, "utf8"));
        assert.strictEqual(ref.schema_version, 1);
        assert.deepStrictEqual(Object.keys(ref.features), FEATURES);
        for (const f of FEATURES) {
            assert.strictEqual(ref.features[f].histogram.bin_edges.length, 21, f);
            assert.strictEqual(ref.features[f].histogram.counts.reduce((a: number, b: number) => a + b, 0), ref.features[f].count, f);
        }
        assert.deepStrictEqual(ref.sample.columns, FEATURES);
        assert.strictEqual(ref.sample.rows.length, 200);
    });

    it("unshifted data: no feature drifts (exit 0), and the pushed payload carries every gauge per feature", async () => {
        gateway.pushes.length = 0;
        const started = Date.now() / 1000;
        const r = await run(python, [DRIFT_PY, "--reference", reference, "--synthetic", "3000", "--seed", "7", "--model", "credit-risk", "--pushgateway", gateway.url]);
        const ended = Date.now() / 1000;
        assert.strictEqual(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /MLOPS_DRIFT \{"drifted": \[\], "model": "credit-risk"/);

        assert.strictEqual(gateway.pushes.length, 1);
        const push = gateway.pushes[0];
        // PUT replaces the model's previous group; the grouping key is job + model.
        assert.strictEqual(push.method, "PUT");
        assert.strictEqual(push.url, `/metrics/job/${DRIFT_PUSH_JOB}/model/credit-risk`);
        assert.match(push.contentType, /^text\/plain; version=0\.0\.4/);

        const { samples, types } = parseExposition(push.body);
        for (const name of Object.values(DRIFT_METRICS)) {
            assert.strictEqual(types[name], "gauge", `${name} declared as gauge`);
            assert.ok(METRIC_SOURCES[name], `${name} is in the metric catalogue the alert rules are checked against`);
        }
        for (const name of [DRIFT_METRICS.psi, DRIFT_METRICS.ksPvalue, DRIFT_METRICS.drift, DRIFT_METRICS.missingRatio]) {
            const rows = samples.filter((s) => s.name === name);
            assert.deepStrictEqual(rows.map((s) => s.labels.feature).sort(), [...FEATURES].sort(), `${name}: one sample per feature`);
            assert.ok(rows.every((s) => Object.keys(s.labels).sort().join() === "feature,model" && s.labels.model === "credit-risk"), `${name}: labels {model, feature}`);
        }
        const psi = byFeature(samples, DRIFT_METRICS.psi);
        const ks = byFeature(samples, DRIFT_METRICS.ksPvalue);
        const drift = byFeature(samples, DRIFT_METRICS.drift);
        for (const f of FEATURES) {
            assert.ok(psi[f] >= 0 && psi[f] < 0.1, `${f}: PSI ${psi[f]} of a same-distribution batch is < 0.1`);
            assert.ok(ks[f] > 0.01 && ks[f] <= 1, `${f}: KS p-value ${ks[f]} does not reject`);
            assert.strictEqual(drift[f], 0, `${f}: no drift`);
        }
        assert.ok(Object.values(byFeature(samples, DRIFT_METRICS.missingRatio)).every((v) => v === 0));
        const rows = samples.find((s) => s.name === DRIFT_METRICS.rows)!;
        assert.deepStrictEqual([rows.labels, rows.value], [{ model: "credit-risk" }, 3000]);
        const ts = samples.find((s) => s.name === DRIFT_METRICS.timestamp)!;
        assert.deepStrictEqual(ts.labels, { model: "credit-risk" });
        assert.ok(ts.value >= started - 1 && ts.value <= ended + 1, `timestamp ${ts.value} within the run`);
    });

    it("unshifted data stays quiet across seeds (no false positives at PSI 0.2 and KS alpha 0.01)", async () => {
        for (const seed of ["1", "2", "3", "11", "99"]) {
            const r = await run(python, [DRIFT_PY, "--reference", reference, "--synthetic", "2000", "--seed", seed]);
            assert.strictEqual(r.code, 0, `seed ${seed}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
        }
    });

    it("shifted data: drift on exactly the two shifted features (exit 1), PSI and KS both agree", async () => {
        gateway.pushes.length = 0;
        const r = await run(python, [DRIFT_PY, "--reference", reference, "--synthetic", "3000", "--seed", "7", ...SHIFTS, "--pushgateway", gateway.url]);
        assert.strictEqual(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /"drifted": \["credit_score", "debt_to_income"\]/);
        const { samples } = parseExposition(gateway.pushes[0].body);
        const drift = byFeature(samples, DRIFT_METRICS.drift);
        const psi = byFeature(samples, DRIFT_METRICS.psi);
        const ks = byFeature(samples, DRIFT_METRICS.ksPvalue);
        assert.deepStrictEqual(
            FEATURES.filter((f) => drift[f] === 1),
            SHIFTED,
        );
        for (const f of SHIFTED) {
            assert.ok(psi[f] > 0.2 && ks[f] < 0.01, `${f}: PSI ${psi[f]} > 0.2 and KS p ${ks[f]} < 0.01`);
        }
        for (const f of FEATURES.filter((x) => !SHIFTED.includes(x))) {
            assert.ok(psi[f] < 0.1, `${f} untouched: PSI ${psi[f]}`);
        }
    });

    it("thresholds are configurable: a PSI threshold above the shift reports no drift; --decision psi ignores KS", async () => {
        const high = await run(python, [DRIFT_PY, "--reference", reference, "--synthetic", "3000", "--seed", "7", ...SHIFTS, "--psi-threshold", "5"]);
        assert.strictEqual(high.code, 0, high.stdout + high.stderr);
        const psiOnly = await run(python, [DRIFT_PY, "--reference", reference, "--synthetic", "3000", "--seed", "7", "--shift", "credit_score=+60", "--decision", "psi", "--features", "credit_score,age"]);
        assert.strictEqual(psiOnly.code, 1, psiOnly.stdout + psiOnly.stderr);
        assert.match(psiOnly.stdout, /"drifted": \["credit_score"\]/);
    });

    it("reads batch files as the pipeline writes them: CSV and Parquet, non-numeric cells counted as missing", async () => {
        const parquet = path.join(workDir, "batch.parquet");
        assert.strictEqual((await run(python, [FIXTURE_PY, "batch", parquet, "--rows", "1500", "--seed", "8", "--shift", "credit_score=+60"])).code, 0);
        const fromParquet = await run(python, [DRIFT_PY, "--reference", reference, "--current", parquet, "--drift-exit-code", "0"]);
        assert.strictEqual(fromParquet.code, 0, fromParquet.stderr);
        assert.match(fromParquet.stdout, /"drifted": \["credit_score"\], "model": "credit-risk", "pushed_to": null, "rows": 1500/);

        const csv = path.join(workDir, "batch-dirty.csv");
        assert.strictEqual((await run(python, [FIXTURE_PY, "batch", csv, "--rows", "1000", "--seed", "9"])).code, 0);
        const lines = fs.readFileSync(csv, "utf8").trim().split("\n");
        const col = lines[0].split(",").indexOf("age");
        // 10% of the ages unreadable: reported as missing, the rest still checked.
        const dirty = lines.map((l, i) => (i > 0 && i % 10 === 0 ? l.split(",").map((v, j) => (j === col ? "n/a" : v)).join(",") : l));
        fs.writeFileSync(csv, dirty.join("\n") + "\n");
        const json = path.join(workDir, "dirty.json");
        const r = await run(python, [DRIFT_PY, "--reference", reference, "--current", csv, "--json", json]);
        assert.strictEqual(r.code, 0, r.stdout + r.stderr);
        const result = JSON.parse(fs.readFileSync(json, "utf8"));
        assert.ok(Math.abs(result.features.age.missing_ratio - 0.1) < 0.001, `missing ratio ${result.features.age.missing_ratio}`);
        assert.strictEqual(result.features.age.drift, false);
    });

    it("exit codes: --drift-exit-code 0 reports drift by metrics only; configuration errors exit 2 with one line", async () => {
        const reportOnly = await run(python, [DRIFT_PY, "--reference", reference, "--synthetic", "3000", "--seed", "7", ...SHIFTS, "--drift-exit-code", "0"]);
        assert.strictEqual(reportOnly.code, 0, reportOnly.stdout + reportOnly.stderr);
        assert.match(reportOnly.stdout, /"drifted": \["credit_score", "debt_to_income"\]/);

        const cases: [string[], RegExp][] = [
            [["--reference", path.join(workDir, "missing.json"), "--synthetic", "500"], /^error: cannot read reference statistics .*missing\.json/],
            [["--reference", reference, "--synthetic", "500", "--features", "age,zodiac_sign"], /^error: features not in the reference statistics: zodiac_sign$/],
            [["--reference", reference, "--synthetic", "50"], /^error: current batch .* has 50 rows, fewer than --min-rows 100$/],
            [["--reference", reference, "--synthetic", "500", "--model", "credit/risk"], /^error: --model 'credit\/risk' must be/],
            [["--reference", reference, "--synthetic", "500", "--shift", "credit_score+60"], /^error: --shift 'credit_score\+60' must look like/],
        ];
        for (const [args, message] of cases) {
            const r = await run(python, [DRIFT_PY, ...args]);
            assert.strictEqual(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
            const lines = r.stderr.trim().split("\n");
            assert.strictEqual(lines.length, 1, `one line on stderr: ${r.stderr}`);
            assert.match(lines[0], message);
        }
        // A Pushgateway that cannot be reached is a runtime error (3), never mistaken for drift.
        const unreachable = await run(python, [DRIFT_PY, "--reference", reference, "--synthetic", "500", "--pushgateway", "http://127.0.0.1:9", "--push-timeout", "2"]);
        assert.strictEqual(unreachable.code, 3, unreachable.stderr);
    });

    it("runs the command line DriftMonitor renders: newest reference and batch under S3 prefixes, pushed for alerting", async function () {
        if (!(await s3Reachable(svc!))) {
            const msg = `[contract] moto S3 from .contract/env.json is not answering at ${svc!.s3.endpointUrl}; run test/contract/services.sh`;
            if (required) throw new Error(msg);
            console.log(`    ${msg} -- SKIPPED`);
            this.skip();
        }
        const image = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-trainer@sha256:${"c".repeat(64)}`;
        const rec = await recordResources(() => {
            const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
            new DriftMonitor("credit-risk-drift", {
                provider,
                clusterName: "mlops-dev",
                namespace: "ml-training",
                model: "credit-risk",
                image,
                schedule: "0 6 * * *",
                reference: { uri: "s3://mlops-dev-artifacts/mlflow/1/" },
                batch: { uri: "s3://mlops-dev-processed/credit-risk/batches/" },
                access: { referencePolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}', batchPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":"*"}]}' },
                pushgatewayUrl: "http://kps-pushgateway.monitoring.svc.cluster.local:9091",
            });
        });
        const cron = rec.resources.find((r) => r.type === "kubernetes:batch/v1:CronJob")!;
        const rendered = renderedContainer(cron, DRIFT_CONTAINER);
        assert.deepStrictEqual(rendered.command, ["python", "/app/drift.py"]);
        // The image ships drift.py next to train.py in /app; here both live in examples/credit-risk.
        const command = [python, DRIFT_PY];
        const bucket = svc!.s3.bucket;
        const runId = `${Date.now()}-${process.pid}`;
        const refPrefix = `mlflow/1/${runId}/`;
        const batchPrefix = `credit-risk/batches/${runId}/`;
        const args = [...rendered.args];
        const swap = (flag: string, value: string) => (args[args.indexOf(flag) + 1] = value);
        swap("--reference", withBucket(flagValue(rendered.args, "--reference")!, bucket).replace(/\/$/, `/${runId}/`));
        swap("--current", withBucket(flagValue(rendered.args, "--current")!, bucket).replace(/batches\/$/, `batches/${runId}/`));
        swap("--pushgateway", gateway.url);
        assert.strictEqual(flagValue(args, "--reference"), `s3://${bucket}/${refPrefix}`);
        assert.strictEqual(flagValue(args, "--current"), `s3://${bucket}/${batchPrefix}`);

        const s3env = {
            AWS_ENDPOINT_URL_S3: svc!.s3.endpointUrl,
            AWS_ACCESS_KEY_ID: svc!.s3.accessKeyId,
            AWS_SECRET_ACCESS_KEY: svc!.s3.secretAccessKey,
            AWS_REGION: svc!.s3.region,
        };
        const put = async (file: string, key: string) => {
            const r = await run(python, [FIXTURE_PY, "upload", file, `s3://${bucket}/${key}`], s3env);
            assert.strictEqual(r.code, 0, r.stderr);
        };
        const calm = path.join(workDir, "batch-calm.csv");
        const shifted = path.join(workDir, "batch-shifted.csv");
        assert.strictEqual((await run(python, [FIXTURE_PY, "batch", calm, "--rows", "2500", "--seed", "5"])).code, 0);
        assert.strictEqual((await run(python, [FIXTURE_PY, "batch", shifted, "--rows", "2500", "--seed", "6", ...SHIFTS])).code, 0);
        await put(reference, `${refPrefix}run/artifacts/reference/feature_stats.json`);
        await put(calm, `${batchPrefix}2026-11-01.csv`);
        await new Promise((r) => setTimeout(r, 1100)); // S3 LastModified has one-second resolution
        await put(shifted, `${batchPrefix}2026-11-02.csv`);

        gateway.pushes.length = 0;
        const resultFile = path.join(workDir, "termination-log");
        const env = { ...rendered.env, ...s3env, MLOPS_RESULT_FILE: resultFile, HOME: workDir, TMPDIR: workDir };
        const r = await run(command[0], [command[1], ...args], env);
        // DriftMonitor's default: drift is reported by metrics and alerts, the Job succeeds.
        assert.strictEqual(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, new RegExp(`current=s3://${bucket}/${batchPrefix}2026-11-02\\.csv`), "the newest batch under the prefix");
        assert.match(r.stdout, new RegExp(`reference=s3://${bucket}/${refPrefix}run/artifacts/reference/feature_stats\\.json`));
        assert.deepStrictEqual(JSON.parse(fs.readFileSync(resultFile, "utf8")).drifted, SHIFTED, "summary in the termination message");

        assert.strictEqual(gateway.pushes.length, 1);
        assert.strictEqual(gateway.pushes[0].url, `/metrics/job/${DRIFT_PUSH_JOB}/model/credit-risk`);
        const drift = byFeature(parseExposition(gateway.pushes[0].body).samples, DRIFT_METRICS.drift);
        assert.deepStrictEqual(FEATURES.filter((f) => drift[f] === 1), SHIFTED);
    });
});
