/**
 * Contract spec (issue 12 #8): MLflow basic auth as the TrackingServer component renders it for
 * the dev stack with auth on (`trackingAuthAdminSecret`, `trackingTrainingSecret`,
 * `trackingServingSecret` set as config overrides), run against the pinned MLflow with
 * PostgreSQL and the S3 emulator: the server (image entry `server`, `--app-name basic-auth`, the
 * auth ini the entry writes), the `provision-users` Job, the reference trainer with the training
 * credential, and `mlops gate`'s provenance check on the runs this server holds.
 *
 * The spec supplies only what the cluster supplies: Secret values (admin, training and serving
 * credentials, made up here), loopback addresses in place of the Service, RDS and S3 names, the
 * emptyDir paths, and Secrets Manager in the emulator. Needs `test/contract/services.sh`
 * (skipped without it unless CONTRACT_REQUIRED=1).
 */
import * as assert from "assert";
import { execFile } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { ENTRY_COMMAND } from "../../components/trackingServer";
import { trainingIdentityOf } from "../../cli/run-provenance";
import { ContractServices, StackRendering, flagValue, loadContractServices, onLoopback, renderStack, repoRoot, withBucket } from "./fixture";
import { ExitStatus, ProcessHandle, RenderedContainer, freePort, startProcess, tail, waitForHttp } from "./mlflow-contract";

const ROOT = repoRoot();
const STACK = "dev";
const PROJECT = "mlops-platform";
const ENTRY_PY = path.join(ROOT, "images", "mlflow", "mlops_mlflow.py");
const TRAIN_PY = path.join(ROOT, "examples", "credit-risk", "train.py");
const CLI = path.join(ROOT, "dist", "cli", "mlops.js");

/** What turns basic auth on for the dev stack (Secret names; their values are the cluster's). */
const AUTH_CONFIG: Record<string, string> = {
    [`${PROJECT}:trackingAuthAdminSecret`]: "mlflow-admin",
    [`${PROJECT}:trackingTrainingSecret`]: "mlflow-training",
    [`${PROJECT}:trackingServingSecret`]: "mlflow-serving",
};

interface Credential {
    username: string;
    password: string;
}

interface Reply {
    status: number;
    body: any;
    headers: Headers;
}

function secret(): string {
    return randomBytes(18).toString("base64url");
}


async function runToEnd(c: RenderedContainer & { cwd?: string; name?: string }, timeoutMs: number): Promise<{ status: ExitStatus; proc: ProcessHandle }> {
    const proc = startProcess(c);
    const timer = setTimeout(() => void proc.stop(2_000), timeoutMs);
    const status = await proc.exited;
    clearTimeout(timer);
    return { status, proc };
}

/** A Python snippet with the contract venv and the emulator's AWS endpoint; returns stdout. */
function venvPython(svc: ContractServices, code: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(
            svc.venv.python,
            ["-c", code, ...args],
            { timeout: 60_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...awsOnLoopback(svc), AWS_DEFAULT_REGION: svc.s3.region } },
            (err, stdout, stderr) => (err ? reject(new Error(`python: ${err.message}\n${stderr}`)) : resolve(stdout.trim())),
        );
    });
}

/** Pod Identity credentials and the Secrets Manager endpoint, as the emulator's. */
function awsOnLoopback(svc: ContractServices): Record<string, string> {
    return { AWS_ACCESS_KEY_ID: svc.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: svc.s3.secretAccessKey, AWS_ENDPOINT_URL_SECRETS_MANAGER: svc.s3.endpointUrl };
}

const PG_ADMIN = `
import sys, psycopg2
host, port, user, password, maintenance_db, ca, action, db = sys.argv[1:9]
c = psycopg2.connect(host=host, port=int(port), user=user, password=password, dbname=maintenance_db,
                     sslmode="verify-full", sslrootcert=ca, connect_timeout=10)
c.autocommit = True
if action == "create":
    c.cursor().execute(f'CREATE DATABASE "{db}"')
else:
    c.cursor().execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
`;

const SM_ADMIN = `
import sys, boto3
sm = boto3.client("secretsmanager")
action, name = sys.argv[1:3]
if action == "create":
    print(sm.create_secret(Name=name, **({"SecretString": sys.argv[3]} if len(sys.argv) > 3 else {}))["ARN"])
else:
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
`;

/** What a model server (models:/ URI) and the drift check (the run's reference statistics) download. */
const DOWNLOAD = `
import json, os, sys, tempfile
import mlflow
model_uri, run_id = sys.argv[1:3]
out = {}
for name, fetch in [
    ("model", lambda d: mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=d)),
    ("reference", lambda d: mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="reference/feature_stats.json", dst_path=d)),
]:
    try:
        p = fetch(tempfile.mkdtemp())
        out[name] = sorted(os.listdir(p)) if os.path.isdir(p) else [os.path.basename(p)]
    except Exception as e:
        out[name] = "error: " + " ".join(str(e).split())[:300]
print(json.dumps(out))
`;

describe("contract: MLflow basic auth as rendered (issue 12 #8): users, permissions, trainer identity, gate provenance", function () {
    this.timeout(300_000);
    const svc = loadContractServices(ROOT);
    const dbName = `mlflow_auth_${Date.now()}_${process.pid}`;
    const tag = `${Date.now()}-${process.pid}`;
    let stack: StackRendering;
    let workDir = "";
    let dbCreated = false;
    const secrets: string[] = [];
    let server: ProcessHandle | undefined;
    let base = "";
    let iniPath = "";
    const provision: { status: ExitStatus; proc: ProcessHandle }[] = [];
    let early: { status: ExitStatus; proc: ProcessHandle } | undefined;
    let oldTrainingPassword = "";

    // The Secrets the operator creates (README "MLflow authorisation"): values made up here.
    const admin: Credential = { username: "contract-admin", password: secret() };
    const flaskSecretKey = secret();
    let training: Credential;
    let serving: Credential;
    const nobody: Credential = { username: "contract-nobody", password: secret() };
    let trainingExperiment = "";
    let trainingModel = "";
    let experimentId = "";

    function pg(action: "create" | "drop", db: string): Promise<string> {
        const p = svc!.postgres;
        return venvPython(svc!, PG_ADMIN, [p.host, String(p.port), p.user, p.password, p.database, p.sslrootcert, action, db]);
    }

    /** What a pod of the tracking namespace gets from the cluster, on loopback. */
    function trackingPod(appSecret: string): Record<string, string> {
        const p = svc!.postgres;
        return {
            MLOPS_DB_HOST: p.host,
            MLOPS_DB_PORT: String(p.port),
            MLOPS_DB_NAME: dbName,
            MLOPS_DB_SECRET_ID: appSecret,
            MLOPS_DB_SSLROOTCERT: p.sslrootcert,
            HOME: path.join(workDir, "home-mlflow"),
            ...awsOnLoopback(svc!),
            PATH: `${path.join(svc!.venv.dir, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        };
    }

    const entry = () => ({ [ENTRY_COMMAND[0]]: svc!.venv.python, [ENTRY_COMMAND[1]]: ENTRY_PY });

    /** The rendered trainer with the training Secret's keys (LOGNAME is its username key too). */
    function trainerOnLoopback(resultFile: string): RenderedContainer {
        return onLoopback(stack.trainer, {
            command: { python: svc!.venv.python, "/app/train.py": TRAIN_PY },
            env: {
                MLFLOW_TRACKING_URI: base,
                MLOPS_RESULT_FILE: resultFile,
                MLFLOW_TRACKING_USERNAME: training.username,
                MLFLOW_TRACKING_PASSWORD: training.password,
                LOGNAME: training.username,
            },
        });
    }

    /** One REST call as `who` (undefined: anonymous). */
    async function call(who: Credential | undefined, method: "GET" | "POST" | "PATCH" | "DELETE", endpoint: string, body?: Record<string, unknown>): Promise<Reply> {
        const headers: Record<string, string> = {};
        if (who) {
            headers.Authorization = "Basic " + Buffer.from(`${who.username}:${who.password}`).toString("base64");
        }
        let url = `${base}${endpoint}`;
        let payload: string | undefined;
        if (method === "GET" && body) {
            url += "?" + new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]));
        } else if (body) {
            headers["Content-Type"] = "application/json";
            payload = JSON.stringify(body);
        }
        const res = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(30_000) });
        const text = await res.text();
        let parsed: any = text;
        try {
            parsed = text ? JSON.parse(text) : {};
        } catch {
            // HTML or plain text (e.g. the 401 page)
        }
        return { status: res.status, body: parsed, headers: res.headers };
    }

    /** `call` that must answer 200. */
    async function ok(who: Credential | undefined, method: "GET" | "POST" | "PATCH" | "DELETE", endpoint: string, body?: Record<string, unknown>): Promise<any> {
        const r = await call(who, method, endpoint, body);
        assert.strictEqual(r.status, 200, `${who?.username ?? "anonymous"} ${method} ${endpoint}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        return r.body;
    }

    /** A run in `experiment` as `who`, with `user_id` what an MLflow client sends (its LOGNAME). */
    async function run(who: Credential, experiment: string, metrics: Record<string, number>, userId = who.username): Promise<string> {
        const r = await ok(who, "POST", "/api/2.0/mlflow/runs/create", { experiment_id: experiment, user_id: userId, start_time: Date.now(), tags: [{ key: "mlflow.user", value: userId }] });
        const runId = r.run.info.run_id as string;
        for (const [key, value] of Object.entries(metrics)) {
            await ok(who, "POST", "/api/2.0/mlflow/runs/log-metric", { run_id: runId, key, value, timestamp: Date.now(), step: 0 });
        }
        return runId;
    }

    before(async function () {
        const required = process.env.CONTRACT_REQUIRED === "1";
        if (!svc) {
            const msg = "[contract] .contract/env.json not found; run test/contract/services.sh";
            if (required) throw new Error(msg);
            console.log(`    ${msg} -- SKIPPED`);
            this.skip();
            return;
        }
        stack = await renderStack(STACK, ROOT, AUTH_CONFIG);
        assert.ok(stack.provisionUsers, "auth on renders the provision-users Job");
        const users = JSON.parse(stack.provisionUsers.env.MLOPS_AUTH_USERS) as { username: string; experiments: { name: string; permission: string }[]; registeredModels: { name: string; permission: string }[] }[];
        const writer = users.find((u) => u.experiments.some((e) => e.permission === "EDIT"));
        const reader = users.find((u) => u !== writer);
        assert.ok(writer && reader, stack.provisionUsers.env.MLOPS_AUTH_USERS);
        training = { username: writer.username, password: secret() };
        serving = { username: reader.username, password: secret() };
        trainingExperiment = stack.trainer.env.MLFLOW_EXPERIMENT_NAME;
        trainingModel = stack.trainer.env.MLOPS_MODEL_NAME;

        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-auth-contract-"));
        for (const d of ["home-mlflow", "auth-config"]) {
            fs.mkdirSync(path.join(workDir, d), { mode: 0o700 });
        }
        await pg("create", dbName);
        dbCreated = true;
        const p = svc.postgres;
        const masterSecret = await venvPython(svc, SM_ADMIN, ["create", `contract-auth-master-${tag}`, JSON.stringify({ username: p.user, password: p.password })]);
        const appSecret = await venvPython(svc, SM_ADMIN, ["create", `contract-auth-app-${tag}`]);
        secrets.push(masterSecret, appSecret);

        const pod = trackingPod(appSecret);
        const boot = await runToEnd({ ...onLoopback(stack.dbBootstrap, { command: entry(), env: { ...pod, MLOPS_DB_MASTER_SECRET_ID: masterSecret } }), cwd: workDir, name: "bootstrap-db" }, 120_000);
        assert.strictEqual(boot.status.code, 0, tail(boot.proc.logs(), 30));
        const mig = await runToEnd({ ...onLoopback(stack.migration, { command: entry(), env: pod }), cwd: workDir, name: "db-upgrade" }, 180_000);
        assert.strictEqual(mig.status.code, 0, tail(mig.proc.logs(), 30));

        const port = await freePort();
        base = `http://127.0.0.1:${port}`;
        const rendered = stack.trackingServer;
        // The emptyDir the rendering mounts at the ini's directory, here a private temp folder.
        iniPath = path.join(workDir, "auth-config", path.basename(rendered.env.MLFLOW_AUTH_CONFIG_PATH));
        const serverContainer = onLoopback(rendered, {
            command: entry(),
            flags: {
                "--host": "127.0.0.1",
                "--port": String(port),
                "--artifacts-destination": withBucket(flagValue(rendered.args, "--artifacts-destination")!, svc.s3.bucket),
            },
            env: {
                ...pod,
                MLFLOW_S3_ENDPOINT_URL: svc.s3.endpointUrl,
                MLFLOW_AUTH_CONFIG_PATH: iniPath,
                // The admin Secret's keys.
                MLFLOW_AUTH_ADMIN_USERNAME: admin.username,
                MLFLOW_AUTH_ADMIN_PASSWORD: admin.password,
                MLFLOW_FLASK_SERVER_SECRET_KEY: flaskSecretKey,
            },
        });
        server = startProcess({ ...serverContainer, cwd: workDir, name: "mlflow server (basic-auth)" });
        // The readiness probe's request: no credentials.
        await waitForHttp(`${base}/health`, 180_000, { process: server });

        // A trainer that starts before the provision-users Job has created its user.
        early = await runToEnd({ ...trainerOnLoopback(path.join(workDir, "early-result")), cwd: workDir, name: "train.py (before provision-users)" }, 120_000);

        // The provision-users Job after the rollout, and again as on the next `pulumi up`.
        const job = () =>
            onLoopback(stack.provisionUsers!, {
                command: entry(),
                env: {
                    HOME: path.join(workDir, "home-mlflow"),
                    MLOPS_TRACKING_URI: base,
                    MLFLOW_TRACKING_USERNAME: admin.username,
                    MLFLOW_TRACKING_PASSWORD: admin.password,
                    MLOPS_USER_0_USERNAME: users[0].username,
                    MLOPS_USER_0_PASSWORD: users[0] === writer ? training.password : serving.password,
                    MLOPS_USER_1_USERNAME: users[1].username,
                    MLOPS_USER_1_PASSWORD: users[1] === writer ? training.password : serving.password,
                    PATH: `${path.join(svc.venv.dir, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
                },
            });
        provision.push(await runToEnd({ ...job(), cwd: workDir, name: "provision-users (first rollout)" }, 180_000));
        const exp = await call(admin, "GET", "/api/2.0/mlflow/experiments/get-by-name", { experiment_name: trainingExperiment });
        experimentId = exp.body?.experiment?.experiment_id ?? "";
        // Between rollouts: someone widened the serving user's grant by hand, and the operator
        // rotated the training Secret's password.
        if (experimentId) {
            const grant = { username: serving.username, resource_type: "experiment", resource_id: experimentId };
            await ok(admin, "POST", "/api/3.0/mlflow/users/permissions/revoke", grant);
            await ok(admin, "POST", "/api/3.0/mlflow/users/permissions/grant", { ...grant, permission: "EDIT" });
        }
        oldTrainingPassword = training.password;
        training.password = secret();
        provision.push(await runToEnd({ ...job(), cwd: workDir, name: "provision-users (next rollout)" }, 180_000));
    });

    after(async function () {
        await server?.stop();
        if (svc && dbCreated) {
            await pg("drop", dbName).catch((e) => console.log(`    [contract] drop ${dbName}: ${e}`));
        }
        for (const s of secrets) {
            await venvPython(svc!, SM_ADMIN, ["delete", s]).catch(() => undefined);
        }
        if (workDir) {
            fs.rmSync(workDir, { recursive: true, force: true });
        }
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed" && server) {
            console.log(`    [contract] mlflow server log (tail):\n${tail(server.logs(), 40)}`);
        }
    });

    it("renders the auth app: --app-name basic-auth, the ini in a memory emptyDir, admin and Flask key from the Secret only", function () {
        const s = stack.trackingServer;
        assert.strictEqual(flagValue(s.args, "--app-name"), "basic-auth");
        assert.strictEqual(s.env.MLFLOW_AUTH_CONFIG_PATH, "/etc/mlflow/auth/basic_auth.ini");
        assert.strictEqual(s.env.MLOPS_AUTH_DEFAULT_PERMISSION, "NO_PERMISSIONS");
        for (const k of ["MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"]) {
            assert.strictEqual(s.env[k], `$(${k})`, `${k} comes from the admin Secret (valueFrom)`);
        }
        assert.deepStrictEqual(stack.provisionUsers!.args, ["provision-users"]);
    });

    it("the entry wrote the ini the server read: NO_PERMISSIONS, the dedicated role's database, owner-only", function () {
        const ini = fs.readFileSync(iniPath, "utf8");
        assert.match(ini, /^\[mlflow\]$/m);
        assert.match(ini, /^default_permission = NO_PERMISSIONS$/m);
        assert.match(ini, /^database_uri = postgresql\+psycopg2:\/\/mlflow_app:[^@\s]+@127\.0\.0\.1:\d+\/mlflow_auth_\d+_\d+\?sslmode=verify-full&sslrootcert=/m);
        assert.strictEqual(fs.statSync(iniPath).mode & 0o777, 0o600, "the ini holds the database password");
        assert.ok(!ini.includes(admin.password), "the admin password stays in the environment");
        assert.ok(!server!.argv.some((a) => a.includes(admin.password) || a.includes(flaskSecretKey)), "no secret in the server's argv");
    });

    it("refuses anonymous and wrong-password requests (401); /health stays open for the kubelet's probes", async function () {
        for (const [method, endpoint, body] of [
            ["GET", "/api/2.0/mlflow/experiments/search", { max_results: 10 }],
            ["GET", "/api/2.0/mlflow/experiments/get-by-name", { experiment_name: trainingExperiment }],
            ["GET", "/api/2.0/mlflow/registered-models/get", { name: trainingModel }],
            ["POST", "/api/2.0/mlflow/runs/create", { experiment_id: experimentId }],
            ["POST", "/api/2.0/mlflow/users/create", { username: "intruder", password: secret() }],
        ] as const) {
            const anon = await call(undefined, method, endpoint, body);
            assert.strictEqual(anon.status, 401, `anonymous ${method} ${endpoint}: ${anon.status}`);
            assert.match(anon.headers.get("www-authenticate") ?? "", /^Basic /);
            const wrong = await call({ username: training.username, password: "not-the-password" }, method, endpoint, body);
            assert.strictEqual(wrong.status, 401, `wrong password ${method} ${endpoint}: ${wrong.status}`);
        }
        assert.strictEqual((await call(undefined, "GET", "/health")).status, 200);
    });

    it("the rendered provision-users Job creates both users and their grants, and a re-run (next rollout) succeeds", async function () {
        for (const [i, p] of provision.entries()) {
            assert.strictEqual(p.status.code, 0, `run ${i + 1}: exit ${p.status.code}\n${tail(p.proc.logs(), 30)}`);
            assert.match(p.proc.stdout(), new RegExp(`^provision-users: ${training.username} ok$`, "m"));
            assert.match(p.proc.stdout(), new RegExp(`^provision-users: ${serving.username} ok$`, "m"));
            assert.deepStrictEqual(p.proc.argv.slice(1), [ENTRY_PY, "provision-users"], "no credential in argv");
            for (const pw of [admin.password, training.password, serving.password]) {
                assert.ok(!p.proc.logs().includes(pw), "no password in the Job's log");
            }
        }
        assert.ok(experimentId, `the Job created experiment ${trainingExperiment}`);
        const expect: [Credential, string, string, string][] = [
            [training, "experiment", experimentId, "EDIT"],
            [training, "registered_model", trainingModel, "EDIT"],
            [serving, "experiment", experimentId, "READ"],
            [serving, "registered_model", trainingModel, "READ"],
            [training, "experiment", "0", "NO_PERMISSIONS"],
        ];
        for (const [who, type, id, permission] of expect) {
            const r = await ok(admin, "GET", "/api/3.0/mlflow/users/permissions/get", { username: who.username, resource_type: type, resource_id: id });
            assert.strictEqual(r.permission, permission, `${who.username} on ${type} ${id}: ${JSON.stringify(r)}`);
        }
        // Neither user is an administrator.
        for (const who of [training, serving]) {
            const u = await ok(admin, "GET", "/api/2.0/mlflow/users/get", { username: who.username });
            assert.strictEqual(u.user.is_admin, false, JSON.stringify(u));
        }
    });

    it("a re-run restores the declared grants and sets the password the user's Secret holds now", async function () {
        const r = await ok(admin, "GET", "/api/3.0/mlflow/users/permissions/get", { username: serving.username, resource_type: "experiment", resource_id: experimentId });
        assert.strictEqual(r.permission, "READ", "the hand-widened EDIT is back to the declared READ");
        const endpoint = "/api/2.0/mlflow/experiments/get-by-name";
        assert.strictEqual((await call({ username: training.username, password: oldTrainingPassword }, "GET", endpoint, { experiment_name: trainingExperiment })).status, 401, "the old password is refused");
        await ok(training, "GET", endpoint, { experiment_name: trainingExperiment });
    });

    it("a trainer started before the provision-users Job fails at once with 401 (why trackingUri waits for that Job)", function () {
        assert.ok(early);
        assert.notStrictEqual(early.status.code, 0, tail(early.proc.logs(), 20));
        assert.match(early.proc.stderr(), /^error: .*rejected the credentials \(HTTP 401\)/m);
        assert.ok(!fs.existsSync(path.join(workDir, "early-result")));
    });

    it("the admin can do everything: any experiment, runs, models, users", async function () {
        const other = await ok(admin, "POST", "/api/2.0/mlflow/experiments/create", { name: `admin-only-${tag}` });
        await run(admin, other.experiment_id, { f1: 0.5 });
        await run(admin, experimentId, { f1: 0.5 });
        await ok(admin, "GET", "/api/2.0/mlflow/registered-models/get", { name: trainingModel });
        await ok(admin, "POST", "/api/2.0/mlflow/registered-models/create", { name: `admin-model-${tag}` });
        await ok(admin, "POST", "/api/2.0/mlflow/users/create", nobody as unknown as Record<string, unknown>);
        const search = await ok(admin, "GET", "/api/2.0/mlflow/experiments/search", { max_results: 1000 });
        const names = (search.experiments ?? []).map((e: any) => e.name);
        assert.ok(names.includes(trainingExperiment) && names.includes(`admin-only-${tag}`), JSON.stringify(names));
    });

    it("the training user writes runs and metrics in the training experiment and registers versions of its model", async function () {
        await ok(training, "GET", "/api/2.0/mlflow/experiments/get-by-name", { experiment_name: trainingExperiment });
        const runId = await run(training, experimentId, { f1: 0.7, eval_samples: 1000 });
        await ok(training, "POST", "/api/2.0/mlflow/runs/log-parameter", { run_id: runId, key: "p", value: "1" });
        const mv = await ok(training, "POST", "/api/2.0/mlflow/model-versions/create", { name: trainingModel, source: `runs:/${runId}/model`, run_id: runId });
        const version = String(mv.model_version.version);
        await ok(training, "POST", "/api/2.0/mlflow/registered-models/alias", { name: trainingModel, alias: "contract-training", version });
        await ok(training, "POST", "/api/2.0/mlflow/runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
    });

    it("the training user writes nothing else: no runs in other experiments, no users, no grants (403)", async function () {
        const other = await ok(admin, "GET", "/api/2.0/mlflow/experiments/get-by-name", { experiment_name: `admin-only-${tag}` });
        const denied: [string, "GET" | "POST", string, Record<string, unknown>][] = [
            ["run in the Default experiment", "POST", "/api/2.0/mlflow/runs/create", { experiment_id: "0", user_id: training.username }],
            ["run in another experiment", "POST", "/api/2.0/mlflow/runs/create", { experiment_id: other.experiment.experiment_id, user_id: training.username }],
            ["read another experiment", "GET", "/api/2.0/mlflow/experiments/get", { experiment_id: other.experiment.experiment_id }],
            ["version of another model", "POST", "/api/2.0/mlflow/model-versions/create", { name: `admin-model-${tag}`, source: "runs:/x/model" }],
            ["create a user", "POST", "/api/2.0/mlflow/users/create", { username: `t-${tag}`, password: secret() }],
            ["grant itself more", "POST", "/api/3.0/mlflow/users/permissions/grant", { username: training.username, resource_type: "experiment", resource_id: "0", permission: "EDIT" }],
        ];
        for (const [what, method, endpoint, body] of denied) {
            const r = await call(training, method, endpoint, body);
            assert.strictEqual(r.status, 403, `training user, ${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        }
    });

    it("the serving user reads the model and the training runs, and gets 403 writing metrics, runs, versions or aliases", async function () {
        const exp = await ok(serving, "GET", "/api/2.0/mlflow/experiments/get-by-name", { experiment_name: trainingExperiment });
        assert.strictEqual(exp.experiment.experiment_id, experimentId);
        await ok(serving, "GET", "/api/2.0/mlflow/registered-models/get", { name: trainingModel });
        const latest = (await ok(serving, "GET", "/api/2.0/mlflow/registered-models/alias", { name: trainingModel, alias: "contract-training" })).model_version;
        await ok(serving, "GET", "/api/2.0/mlflow/model-versions/get", { name: trainingModel, version: latest.version });
        await ok(serving, "GET", "/api/2.0/mlflow/runs/get", { run_id: latest.run_id });
        const runs = await ok(serving, "POST", "/api/2.0/mlflow/runs/search", { experiment_ids: [experimentId] });
        assert.ok((runs.runs ?? []).some((r: any) => r.info.run_id === latest.run_id));

        const denied: [string, "POST" | "DELETE", string, Record<string, unknown>][] = [
            ["log a metric", "POST", "/api/2.0/mlflow/runs/log-metric", { run_id: latest.run_id, key: "f1", value: 0.99, timestamp: Date.now(), step: 1 }],
            ["log a batch", "POST", "/api/2.0/mlflow/runs/log-batch", { run_id: latest.run_id, metrics: [{ key: "f1", value: 0.99, timestamp: Date.now(), step: 2 }] }],
            ["create a run", "POST", "/api/2.0/mlflow/runs/create", { experiment_id: experimentId, user_id: training.username }],
            ["register a version", "POST", "/api/2.0/mlflow/model-versions/create", { name: trainingModel, source: `runs:/${latest.run_id}/model`, run_id: latest.run_id }],
            ["move an alias", "POST", "/api/2.0/mlflow/registered-models/alias", { name: trainingModel, alias: "champion", version: latest.version }],
            ["delete an alias", "DELETE", "/api/2.0/mlflow/registered-models/alias", { name: trainingModel, alias: "contract-training" }],
            ["tag a version", "POST", "/api/2.0/mlflow/model-versions/set-tag", { name: trainingModel, version: latest.version, key: "k", value: "v" }],
        ];
        for (const [what, method, endpoint, body] of denied) {
            const r = await call(serving, method, endpoint, body);
            assert.strictEqual(r.status, 403, `serving user, ${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
            assert.match(String(r.body), /Permission denied/, what);
        }
        const after = await ok(admin, "GET", "/api/2.0/mlflow/runs/get", { run_id: latest.run_id });
        assert.ok(!(after.run.data.metrics ?? []).some((m: any) => m.value === 0.99), "no metric was written");
    });

    it("a user with no grant sees nothing (default_permission NO_PERMISSIONS)", async function () {
        const r1 = await call(nobody, "GET", "/api/2.0/mlflow/experiments/get-by-name", { experiment_name: trainingExperiment });
        assert.strictEqual(r1.status, 403, JSON.stringify(r1.body));
        assert.strictEqual((await call(nobody, "GET", "/api/2.0/mlflow/registered-models/get", { name: trainingModel })).status, 403);
        const runs = await ok(nobody, "POST", "/api/2.0/mlflow/runs/search", { experiment_ids: [experimentId] });
        assert.deepStrictEqual(runs.runs ?? [], [], "search returns no run of the training experiment");
        assert.strictEqual((await call(nobody, "POST", "/api/2.0/mlflow/runs/create", { experiment_id: experimentId })).status, 403);
        const exps = await ok(nobody, "GET", "/api/2.0/mlflow/experiments/search", { max_results: 1000 });
        assert.deepStrictEqual((exps.experiments ?? []).map((e: any) => e.name), [], "search lists no experiment");
        const models = await ok(nobody, "GET", "/api/2.0/mlflow/registered-models/search", { max_results: 1000 });
        assert.deepStrictEqual((models.registered_models ?? []).map((m: any) => m.name), [], "search lists no model");
    });

    describe("reference trainer with the training credential, and mlops gate's provenance check", function () {
        let train: { status: ExitStatus; proc: ProcessHandle } | undefined;
        let result: { run_id: string; experiment_id: string; model_name: string; model_version: string } | undefined;
        let projectDir = "";
        let baselineRun = "";

        before(async function () {
            if (!svc || !server) {
                this.skip();
                return;
            }
            train = await runToEnd({ ...trainerOnLoopback(path.join(workDir, "termination-log")), cwd: workDir, name: "train.py" }, 240_000);
            const line = train.proc.stdout().split("\n").find((l) => l.startsWith("MLOPS_RESULT "));
            result = line ? JSON.parse(line.slice("MLOPS_RESULT ".length)) : undefined;

            // The stack file `mlops gate` reads, with the same auth settings the rendering used.
            projectDir = path.join(workDir, "project");
            fs.mkdirSync(projectDir);
            fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
            const doc = YAML.parseDocument(fs.readFileSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), "utf8"));
            for (const [k, v] of Object.entries(AUTH_CONFIG)) {
                doc.setIn(["config", k], v);
            }
            fs.writeFileSync(path.join(projectDir, `Pulumi.${STACK}.yaml`), doc.toString());
            // A weak earlier model of the training identity, to compare the candidate with.
            baselineRun = await run(training, experimentId, { f1: 0.05, accuracy: 0.5, eval_samples: 20000 });
        });

        function trained(): NonNullable<typeof result> {
            assert.ok(train, "trainer did not run");
            assert.strictEqual(train.status.code, 0, `train.py exited ${train.status.code}:\n${tail(train.proc.logs(), 40)}`);
            assert.ok(result, `no MLOPS_RESULT line:\n${tail(train.proc.stdout(), 20)}`);
            return result;
        }

        function gate(who: Credential, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
            return new Promise((resolve) => {
                execFile(
                    process.execPath,
                    [CLI, "--project-dir", projectDir, "gate", "--stack", STACK, "--tracking-uri", base, ...args],
                    { timeout: 120_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: workDir, MLFLOW_TRACKING_USERNAME: who.username, MLFLOW_TRACKING_PASSWORD: who.password } },
                    (err, stdout, stderr) => resolve({ code: err ? Number((err as any).code ?? 1) : 0, stdout, stderr }),
                );
            });
        }

        it("the rendered trainer (training Secret, LOGNAME) logs and registers a run whose user is the training user", async function () {
            const r = trained();
            assert.strictEqual(r.experiment_id, experimentId);
            const got = await ok(serving, "GET", "/api/2.0/mlflow/runs/get", { run_id: r.run_id });
            assert.strictEqual(got.run.info.user_id, training.username);
            const tags = Object.fromEntries((got.run.data.tags ?? []).map((t: any) => [t.key, t.value]));
            assert.strictEqual(tags["mlflow.user"], training.username);
            const mv = await ok(serving, "GET", "/api/2.0/mlflow/registered-models/alias", { name: r.model_name, alias: stack.trainer.env.MLOPS_MODEL_ALIAS });
            assert.strictEqual(String(mv.model_version.version), r.model_version);
            assert.strictEqual(mv.model_version.run_id, r.run_id);
        });

        it("the serving credential downloads the model and the run's reference statistics (model servers, drift check); no grant, no download", async function () {
            const r = trained();
            const download = (who: Credential) =>
                new Promise<Record<string, string[] | string>>((resolve, reject) =>
                    execFile(
                        svc!.venv.python,
                        ["-c", DOWNLOAD, `models:/${r.model_name}/${r.model_version}`, r.run_id],
                        {
                            timeout: 120_000,
                            cwd: workDir,
                            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: workDir, MLFLOW_TRACKING_URI: base, MLFLOW_TRACKING_USERNAME: who.username, MLFLOW_TRACKING_PASSWORD: who.password },
                        },
                        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
                    ),
                );
            const got = await download(serving);
            assert.ok(Array.isArray(got.model) && got.model.includes("MLmodel") && got.model.includes("model.skops"), JSON.stringify(got));
            assert.deepStrictEqual(got.reference, ["feature_stats.json"], JSON.stringify(got));
            const none = await download(nobody);
            assert.match(String(none.model), /^error: .*(403|PERMISSION_DENIED|Permission denied)/, JSON.stringify(none));
            assert.match(String(none.reference), /^error: .*(403|PERMISSION_DENIED|Permission denied)/, JSON.stringify(none));
        });

        it("mlops gate (serving credential) passes the trainer's candidate: provenance holds", async function () {
            trained();
            assert.ok(trainingIdentityOf(YAML.parse(fs.readFileSync(path.join(projectDir, `Pulumi.${STACK}.yaml`), "utf8")).config).authEnabled);
            const g = await gate(serving, ["--candidate", `models:/${trainingModel}@${stack.trainer.env.MLOPS_MODEL_ALIAS}`, "--baseline", `runs:/${baselineRun}`]);
            assert.strictEqual(g.code, 0, g.stdout + g.stderr);
            assert.match(g.stdout, /verdict: PASS/);
            assert.doesNotMatch(g.stdout, /provenance/);
        });

        it("mlops gate refuses (exit 3, provenance:) a run in the training experiment that another user logged", async function () {
            trained();
            const spoof = await run(admin, experimentId, { f1: 0.95, accuracy: 0.95, eval_samples: 20000 });
            const g = await gate(serving, ["--candidate", `runs:/${spoof}`, "--baseline", `runs:/${baselineRun}`]);
            assert.strictEqual(g.code, 3, g.stdout + g.stderr);
            assert.match(g.stdout, new RegExp(`provenance: run ${spoof} was logged by "${admin.username}", not by the training identity "${training.username}"`));
            assert.match(g.stdout, /verdict: FAIL/);
        });

        it("mlops gate refuses (exit 3, provenance:) a run of the training user in another experiment (a widened grant)", async function () {
            trained();
            const scratch = await ok(admin, "POST", "/api/2.0/mlflow/experiments/create", { name: `scratch-${tag}` });
            await ok(admin, "POST", "/api/3.0/mlflow/users/permissions/grant", { username: training.username, resource_type: "experiment", resource_id: scratch.experiment_id, permission: "EDIT" });
            const elsewhere = await run(training, scratch.experiment_id, { f1: 0.95, accuracy: 0.95, eval_samples: 20000 });
            const g = await gate(admin, ["--candidate", `runs:/${elsewhere}`, "--baseline", `runs:/${baselineRun}`]);
            assert.strictEqual(g.code, 3, g.stdout + g.stderr);
            assert.match(g.stdout, new RegExp(`provenance: run ${elsewhere} belongs to experiment ${scratch.experiment_id}, not to the training experiment "${trainingExperiment}" \\(${experimentId}\\)`));
            // The read-only serving credential cannot even read that run: no verdict at all.
            const s = await gate(serving, ["--candidate", `runs:/${elsewhere}`, "--baseline", `runs:/${baselineRun}`]);
            assert.notStrictEqual(s.code, 0, s.stdout);
            assert.match(s.stderr, /runs\/get .*HTTP 403/);
        });
    });
});
