/**
 * Contract spec: the MLflow tracking server, its schema migration and the reference trainer, run
 * with exactly the command lines and environments the TrackingServer and TrainingJob components
 * render for the dev stack (dist/index.js under the mock runtime with Pulumi.dev.yaml), against
 * real PostgreSQL and an S3 emulator. Only what the cluster injects is supplied by the spec: the
 * Secret's backend store URI (built with the component's own postgresUri() from the loopback
 * PostgreSQL), Pod Identity credentials and the S3 endpoint (moto), the emptyDir HOME, and the
 * loopback host/port/bucket in place of the Service, RDS and S3 names.
 *
 * Needs `test/contract/services.sh` (writes .contract/env.json; CONTRACT_ENV_JSON=<file> reads
 * another one); without it the server part is skipped and only the offline checks at the bottom
 * run. `test/contract/run.sh` does both.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { MlflowApiError, MlflowClient, parseModelRef } from "../../cli/mlflow-client";
import { DB_APP_USER, ENTRY_COMMAND } from "../../components/trackingServer";
import {
    ContractServices,
    StackRendering,
    flagValue,
    loadContractServices,
    onLoopback,
    renderStack,
    repoRoot,
    withBucket,
} from "./fixture";
import {
    ExitStatus,
    ProcessHandle,
    RenderedContainer,
    expandK8sVars,
    freePort,
    resolveContainer,
    startProcess,
    tail,
    waitForHttp,
} from "./mlflow-contract";
import { valueFromPlaceholders } from "./rendered";

const ROOT = repoRoot();
/** The stack whose rendering the contract runs. */
const STACK = "dev";
const TRAIN_PY = path.join(ROOT, "examples", "credit-risk", "train.py");
/** The image's entry script (copied to ENTRY_COMMAND[1] by images/mlflow/Dockerfile). */
const ENTRY_PY = path.join(ROOT, "images", "mlflow", "mlops_mlflow.py");

interface TrainResult {
    run_id: string;
    experiment_id: string;
    model_name: string;
    model_version: string;
    model_uri: string;
    logged_model_uri: string;
    metrics: Record<string, number>;
}


/** Runs a short-lived process to completion (its process group is killed after `timeoutMs`). */
async function runToEnd(
    c: RenderedContainer & { cwd?: string; name?: string },
    timeoutMs: number,
): Promise<{ status: ExitStatus; proc: ProcessHandle }> {
    const proc = startProcess(c);
    const timer = setTimeout(() => void proc.stop(2_000), timeoutMs);
    const status = await proc.exited;
    clearTimeout(timer);
    return { status, proc };
}

/** Runs a Python snippet with the contract venv (psycopg2 is there); returns stdout. */
function venvPython(svc: ContractServices, code: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(svc.venv.python, ["-c", code, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`python failed: ${err.message}\n${stderr}`));
            } else {
                resolve(stdout);
            }
        });
    });
}

const PG_ADMIN = `
import json, sys, psycopg2
host, port, user, password, maintenance_db, action, db, ca = sys.argv[1:9]
conn = psycopg2.connect(host=host, port=int(port), user=user, password=password,
                        dbname=maintenance_db, sslmode="verify-full", sslrootcert=ca, connect_timeout=10)
conn.autocommit = True
cur = conn.cursor()
if action == "create":
    cur.execute(f'CREATE DATABASE "{db}"')
elif action == "drop":
    cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
elif action == "tables":
    c2 = psycopg2.connect(host=host, port=int(port), user=user, password=password, dbname=db,
                          sslmode="verify-full", sslrootcert=ca, connect_timeout=10)
    k = c2.cursor()
    # The catalog, not information_schema: the master sees tables it has no privilege on here.
    k.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    n = k.fetchone()[0]
    k.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
    owners = ",".join(sorted(r[0] for r in k.fetchall()))
    print(n, owners)
elif action == "seed":
    # A table of the master user in another database: the dedicated role must not read it.
    cur.execute("CREATE TABLE IF NOT EXISTS contract_master_only (secret text)")
elif action == "sessions":
    # Who is connected to the database, and over TLS? (the server's pooled connections)
    cur.execute("""SELECT DISTINCT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                   WHERE a.datname = %s AND a.pid <> pg_backend_pid()""", (db,))
    print(json.dumps(sorted([r[0], r[1]] for r in cur.fetchall())))
`;

/** What the dedicated role may do, tried with its own credentials (from its Secrets Manager secret). */
const PG_AS_APP = `
import json, sys, boto3, psycopg2
host, port, ca, secret_id, own_db, other_db = sys.argv[1:7]
creds = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
out = {"username": creds["username"]}
def attempt(name, db, statement):
    try:
        c = psycopg2.connect(host=host, port=int(port), user=creds["username"], password=creds["password"],
                             dbname=db, sslmode="verify-full", sslrootcert=ca, connect_timeout=10)
        c.autocommit = True
        c.cursor().execute(statement)
        out[name] = "allowed"
        c.close()
    except psycopg2.Error as e:
        out[name] = "denied: " + str(e).strip().splitlines()[0]
attempt("createDatabase", own_db, "CREATE DATABASE mlflow_app_attempt")
attempt("createRole", own_db, "CREATE ROLE mlflow_app_attempt")
attempt("readOtherDatabase", other_db, "SELECT * FROM contract_master_only")
attempt("ownTables", own_db, "SELECT count(*) FROM experiments")
c = psycopg2.connect(host=host, port=int(port), user=creds["username"], password=creds["password"],
                     dbname=own_db, sslmode="verify-full", sslrootcert=ca, connect_timeout=10)
k = c.cursor()
k.execute("SELECT version_num FROM alembic_version")
out["revision"] = k.fetchone()[0]
print(json.dumps(out))
`;

/** Secrets in the S3 emulator's Secrets Manager (moto serves every AWS API on one port). */
const SM_ADMIN = `
import json, sys, boto3
sm = boto3.client("secretsmanager")
action, name = sys.argv[1:3]
if action == "create":
    value = sys.argv[3] if len(sys.argv) > 3 else None
    kw = {"SecretString": value} if value else {}
    print(sm.create_secret(Name=name, **kw)["ARN"])
elif action == "delete":
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
elif action == "get":
    print(sm.get_secret_value(SecretId=name)["SecretString"])
`;

function pgAdmin(svc: ContractServices, action: "create" | "drop" | "tables" | "sessions" | "seed", db: string): Promise<string> {
    const pg = svc.postgres;
    return venvPython(svc, PG_ADMIN, [pg.host, String(pg.port), pg.user, pg.password, pg.database, action, db, pg.sslrootcert]);
}

/** AWS SDK environment that points Secrets Manager at the emulator (stand-in for Pod Identity + the VPC endpoint). */
export function awsOnLoopback(svc: ContractServices): Record<string, string> {
    return {
        AWS_ACCESS_KEY_ID: svc.s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: svc.s3.secretAccessKey,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: svc.s3.endpointUrl,
    };
}

function smAdmin(svc: ContractServices, action: "create" | "delete" | "get", name: string, value?: string): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(
            svc.venv.python,
            ["-c", SM_ADMIN, action, name, ...(value ? [value] : [])],
            { timeout: 60_000, env: { ...process.env, ...awsOnLoopback(svc), AWS_DEFAULT_REGION: svc.s3.region } },
            (err, stdout, stderr) => (err ? reject(new Error(`secretsmanager ${action} ${name}: ${stderr}`)) : resolve(stdout.trim())),
        );
    });
}

/** GET with an explicit Host header (fetch does not allow setting it). */
function getWithHost(port: number, urlPath: string, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, headers: { Host: host } }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

/** Keys and ETags under `prefix`, listed through moto's S3 REST API (unsigned). */
async function listBucket(svc: ContractServices, prefix: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let token: string | undefined;
    do {
        const q = new URLSearchParams({ "list-type": "2", prefix });
        if (token) {
            q.set("continuation-token", token);
        }
        const res = await fetch(`${svc.s3.endpointUrl}/${svc.s3.bucket}?${q}`);
        const xml = await res.text();
        assert.strictEqual(res.status, 200, `ListObjectsV2 on ${svc.s3.bucket}: ${xml.slice(0, 300)}`);
        for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
            const key = /<Key>([^<]*)<\/Key>/.exec(m[1])?.[1];
            const etag = /<ETag>([^<]*)<\/ETag>/.exec(m[1])?.[1] ?? "";
            if (key) {
                out.set(key, etag.replace(/&quot;|"/g, ""));
            }
        }
        token = /<IsTruncated>true<\/IsTruncated>/.test(xml)
            ? /<NextContinuationToken>([^<]*)</.exec(xml)?.[1]
            : undefined;
    } while (token);
    return out;
}

/** Why the services in env.json cannot be used (e.g. left over from a previous boot), if so. */
async function servicesUnreachable(svc: ContractServices): Promise<string | undefined> {
    const pgUp = await new Promise<boolean>((resolve) => {
        const sock = net.connect({ host: svc.postgres.host, port: svc.postgres.port });
        sock.setTimeout(2_000, () => sock.destroy());
        sock.once("connect", () => {
            sock.destroy();
            resolve(true);
        });
        sock.once("close", () => resolve(false));
        sock.once("error", () => resolve(false));
    });
    if (!pgUp) {
        return `PostgreSQL from .contract/env.json is not answering on ${svc.postgres.host}:${svc.postgres.port}`;
    }
    try {
        await fetch(`${svc.s3.endpointUrl}/moto-api/`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.arrayBuffer());
    } catch {
        return `moto S3 from .contract/env.json is not answering at ${svc.s3.endpointUrl}`;
    }
    if (!fs.existsSync(svc.venv.mlflow)) {
        return `${svc.venv.mlflow} does not exist`;
    }
    return undefined;
}

function inUnitInterval(name: string, v: number | undefined): void {
    assert.ok(typeof v === "number" && v >= 0 && v <= 1, `${name}=${v} is not in [0, 1]`);
}

describe("contract: MLflow tracking server + credit-risk trainer (PostgreSQL, S3)", function () {
    this.timeout(300_000);
    const svc = loadContractServices(ROOT);
    const dbName = `mlflow_ct_${Date.now()}_${process.pid}`;
    let workDir = "";
    let dbCreated = false;
    let migration: { status: ExitStatus; proc: ProcessHandle } | undefined;
    let server: ProcessHandle | undefined;
    let serverContainer: RenderedContainer | undefined;
    let port = 0;
    let base = "";
    let client: MlflowClient;
    let stack: StackRendering;

    let masterSecret = "";
    let appSecret = "";
    let early: { status: ExitStatus; proc: ProcessHandle } | undefined;
    let bootstrap: { status: ExitStatus; proc: ProcessHandle } | undefined;

    /**
     * Loopback values for what the rendering names in the cluster: the RDS endpoint and the
     * database, the Secrets Manager secrets (created in the emulator), the RDS CA bundle (the
     * services' CA, which signs the loopback server certificate), Pod Identity credentials and the
     * Secrets Manager endpoint, the emptyDir HOME, and the image's PATH (its venv first).
     */
    function trackingPodOnLoopback(s: ContractServices): Record<string, string> {
        const pg = s.postgres;
        return {
            MLOPS_DB_HOST: pg.host,
            MLOPS_DB_PORT: String(pg.port),
            MLOPS_DB_NAME: dbName,
            MLOPS_DB_SECRET_ID: appSecret,
            MLOPS_DB_SSLROOTCERT: pg.sslrootcert,
            HOME: path.join(workDir, "home-mlflow"),
            ...awsOnLoopback(s),
            PATH: `${path.join(s.venv.dir, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        };
    }

    /** The image's `python /opt/mlops/mlops_mlflow.py`, run from the checkout with the venv's Python. */
    function entryOnLoopback(s: ContractServices): Record<string, string> {
        return { [ENTRY_COMMAND[0]]: s.venv.python, [ENTRY_COMMAND[1]]: ENTRY_PY };
    }

    /** Stand-ins for the Pod Identity credentials and the real S3 endpoint (not rendered). */
    function s3OnLoopback(s: ContractServices): Record<string, string> {
        return { MLFLOW_S3_ENDPOINT_URL: s.s3.endpointUrl };
    }

    before(async function () {
        // run.sh sets CONTRACT_REQUIRED=1: there, missing services are a failure, not a skip.
        const required = process.env.CONTRACT_REQUIRED === "1";
        const problem = !svc
            ? `${process.env.CONTRACT_ENV_JSON || ".contract/env.json"} not found`
            : await servicesUnreachable(svc);
        if (problem) {
            const msg =
                `[contract] ${problem}; run test/contract/services.sh (or test/contract/run.sh) ` +
                "to start PostgreSQL, moto and the MLflow venv";
            if (required) {
                throw new Error(msg);
            }
            console.log(`    ${msg} -- SKIPPED`);
            this.skip();
            return;
        }
        assert.ok(svc);
        stack = await renderStack(STACK, ROOT);
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-contract-"));
        fs.mkdirSync(path.join(workDir, "home-mlflow"));
        await pgAdmin(svc, "create", dbName);
        dbCreated = true;
        await pgAdmin(svc, "seed", svc.postgres.database);
        const tag = `${Date.now()}-${process.pid}`;
        // The RDS-managed master secret, and the dedicated role's secret as the program declares it: no value.
        masterSecret = await smAdmin(svc, "create", `contract-master-${tag}`, JSON.stringify({ username: svc.postgres.user, password: svc.postgres.password }));
        appSecret = await smAdmin(svc, "create", `contract-app-${tag}`);

        const mig = onLoopback(stack.migration, { command: entryOnLoopback(svc), env: trackingPodOnLoopback(svc) });
        // Before the bootstrap Job ran, the role's secret has no value: the migration must say so.
        early = await runToEnd({ ...mig, cwd: workDir, name: "db-upgrade (before bootstrap)" }, 60_000);
        const boot = onLoopback(stack.dbBootstrap, {
            command: entryOnLoopback(svc),
            env: { ...trackingPodOnLoopback(svc), MLOPS_DB_MASTER_SECRET_ID: masterSecret },
        });
        bootstrap = await runToEnd({ ...boot, cwd: workDir, name: "bootstrap-db" }, 120_000);
        migration = await runToEnd({ ...mig, cwd: workDir, name: "db-upgrade" }, 180_000);

        port = await freePort();
        base = `http://127.0.0.1:${port}`;
        const rendered = stack.trackingServer;
        serverContainer = onLoopback(rendered, {
            command: entryOnLoopback(svc),
            flags: {
                "--host": "127.0.0.1",
                "--port": String(port),
                "--artifacts-destination": withBucket(flagValue(rendered.args, "--artifacts-destination")!, svc.s3.bucket),
            },
            env: { ...trackingPodOnLoopback(svc), ...s3OnLoopback(svc) },
        });
        if (migration.status.code !== 0) {
            return; // the migration test reports it; starting the server would only add noise
        }
        server = startProcess({ ...serverContainer, cwd: workDir, name: "mlflow server" });
        await waitForHttp(`${base}/health`, 120_000, { process: server });
        client = new MlflowClient({ trackingUri: base, timeoutMs: 30_000 });
    });

    after(async function () {
        await server?.stop();
        if (svc && dbCreated) {
            await pgAdmin(svc, "drop", dbName).catch((e) => console.log(`    [contract] drop ${dbName}: ${e}`));
        }
        for (const secret of [masterSecret, appSecret].filter((x) => x)) {
            await smAdmin(svc!, "delete", secret).catch(() => undefined);
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

    /** PG_AS_APP's answers, with the role's credentials from its secret. */
    async function asApp(s: ContractServices): Promise<Record<string, string>> {
        const pg = s.postgres;
        return JSON.parse(
            await new Promise<string>((resolve, reject) =>
                execFile(
                    s.venv.python,
                    ["-c", PG_AS_APP, pg.host, String(pg.port), pg.sslrootcert, appSecret, dbName, pg.database],
                    { timeout: 60_000, env: { ...process.env, ...awsOnLoopback(s), AWS_DEFAULT_REGION: s.s3.region } },
                    (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
                ),
            ),
        ) as Record<string, string>;
    }

    function requireServer(): void {
        assert.ok(server, `mlflow server not started; migration log:\n${tail(migration?.proc.logs() ?? "", 30)}`);
    }

    it("the migration refuses to start, naming the bootstrap Job, while the role's secret has no value", function () {
        assert.ok(early);
        assert.strictEqual(early.status.code, 1, tail(early.proc.logs(), 20));
        assert.match(early.proc.stderr(), /^error: secret .* holds no username\/password yet: the database bootstrap Job writes it/m);
    });

    it("the bootstrap Job creates the dedicated role with the master secret, and stores its password only in Secrets Manager", async function () {
        assert.ok(bootstrap);
        assert.strictEqual(bootstrap.status.code, 0, `bootstrap-db exited ${bootstrap.status.code}:\n${tail(bootstrap.proc.logs(), 30)}`);
        assert.deepStrictEqual(bootstrap.proc.argv.slice(-1), ["bootstrap-db"], "no credential in argv");
        assert.match(bootstrap.proc.stdout(), new RegExp(`role ${DB_APP_USER} (created|updated) with access to database ${dbName} only`));
        const creds = JSON.parse(await smAdmin(svc!, "get", appSecret)) as { username: string; password: string };
        assert.strictEqual(creds.username, DB_APP_USER);
        assert.ok(creds.password.length >= 32, "a generated password");
        assert.ok(!bootstrap.proc.logs().includes(creds.password), "the password is not logged");
    });

    it("the dedicated role cannot create databases or roles, nor read another database's tables", async function () {
        const out = await asApp(svc!);
        assert.strictEqual(out.username, DB_APP_USER);
        assert.match(out.createDatabase, /^denied: permission denied to create database/);
        assert.match(out.createRole, /^denied: permission denied to create role/);
        assert.match(out.readOtherDatabase, /^denied: permission denied for table contract_master_only/);
        assert.strictEqual(out.ownTables, "allowed", "it reads the tables it migrated");
    });

    it("migrates an empty database as the dedicated role over verify-full TLS, with no URI in argv", async function () {
        assert.ok(migration);
        // The rendered init container: the image entry, no URL argument.
        assert.deepStrictEqual(migration.proc.argv, [svc!.venv.python, ENTRY_PY, "db-upgrade"]);
        assert.strictEqual(migration.status.code, 0, `db-upgrade exited ${migration.status.code}:\n${tail(migration.proc.logs(), 40)}`);
        const [tables, owners] = (await pgAdmin(svc!, "tables", dbName)).trim().split(" ");
        assert.ok(Number(tables) > 10, `expected MLflow tables, found ${tables}`);
        assert.strictEqual(owners, DB_APP_USER, "every table belongs to the dedicated role, none to the master");
        assert.match((await asApp(svc!)).revision, /^[0-9a-f]{6,}$/, "alembic_version holds the head revision");
    });

    it("refuses a database certificate the configured CA did not sign (verify-full)", async function () {
        const otherCa = path.join(workDir, "other-ca.pem");
        // Any CA but the one that signed the server's certificate, e.g. the system's public roots.
        fs.copyFileSync(["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"].find((f) => fs.existsSync(f))!, otherCa);
        const mig = onLoopback(stack.migration, { command: entryOnLoopback(svc!), env: { ...trackingPodOnLoopback(svc!), MLOPS_DB_SSLROOTCERT: otherCa } });
        const r = await runToEnd({ ...mig, cwd: workDir, name: "db-upgrade (wrong CA)" }, 120_000);
        assert.notStrictEqual(r.status.code, 0);
        assert.match(r.proc.logs(), /certificate verify failed/);
    });

    it("the server connects only as the dedicated role, over TLS, and no process has its password in argv", async function () {
        requireServer();
        const res = await fetch(`${base}/api/2.0/mlflow/experiments/search?max_results=1`);
        assert.strictEqual(res.status, 200);
        const sessions = JSON.parse(await pgAdmin(svc!, "sessions", dbName)) as [string, boolean][];
        assert.deepStrictEqual(sessions, [[DB_APP_USER, true]]);
        assert.deepStrictEqual(server!.argv.slice(1, 3), [ENTRY_PY, "server"]);
        assert.ok(!server!.argv.includes("--backend-store-uri"));
        const { password } = JSON.parse(await smAdmin(svc!, "get", appSecret)) as { password: string };
        const leaking = fs
            .readdirSync("/proc")
            .filter((d) => /^\d+$/.test(d))
            .filter((d) => {
                try {
                    return fs.readFileSync(`/proc/${d}/cmdline`, "utf8").includes(password);
                } catch {
                    return false;
                }
            });
        assert.deepStrictEqual(leaking, [], "processes with the database password on their command line");
    });

    it("serves /health and the REST API; accepts the in-cluster Host names, rejects others", async function () {
        requireServer();
        const service = stack.trackingService;
        const svcHost = `${service.name}.${service.namespace}.svc.cluster.local`;
        const api = "/api/2.0/mlflow/experiments/search?max_results=1";
        assert.strictEqual(await getWithHost(port, api, `${svcHost}:${service.port}`), 200);
        assert.strictEqual(await getWithHost(port, api, service.name), 200);
        // The Host header the rendered trainer sends (its MLFLOW_TRACKING_URI).
        assert.strictEqual(await getWithHost(port, api, new URL(stack.trainer.env.MLFLOW_TRACKING_URI).host), 200);
        assert.strictEqual(await getWithHost(port, api, `127.0.0.1:${port}`), 200);
        assert.strictEqual(await getWithHost(port, api, "attacker.example.com"), 403, "--allowed-hosts enforced");
        // Kubelet probes use the pod IP as Host: /health must stay exempt from host validation.
        assert.strictEqual(await getWithHost(port, "/health", "10.1.2.3:5000"), 200);
    });

    it("advertises proxied multipart upload for the S3 artifact store", async function () {
        requireServer();
        const res = await fetch(`${base}/api/3.0/mlflow/server-info`);
        assert.strictEqual(res.status, 200);
        const info = (await res.json()) as Record<string, unknown>;
        // The client (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD unset) would follow this too.
        assert.strictEqual(info.multipart_uploads_enabled, true, JSON.stringify(info));
    });

    describe("training job (examples/credit-risk/train.py)", function () {
        let train: { status: ExitStatus; proc: ProcessHandle } | undefined;
        let result: TrainResult | undefined;
        let resultFile = "";
        let trainer: RenderedContainer;

        before(async function () {
            if (!svc || !server) {
                this.skip();
                return;
            }
            trainer = stack.trainer;
            resultFile = path.join(workDir, "termination-log");
            // HOME (/tmp, an emptyDir in the pod) is kept: /tmp is writable here too.
            const c = onLoopback(trainer, {
                command: { python: svc.venv.python, "/app/train.py": TRAIN_PY },
                env: {
                    MLFLOW_TRACKING_URI: base,
                    MLOPS_RESULT_FILE: resultFile,
                    // Test only: push even small files through the presigned multipart path.
                    MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: "1",
                },
            });
            train = await runToEnd({ ...c, cwd: workDir, name: "train.py" }, 240_000);
            const line = train.proc.stdout().split("\n").find((l) => l.startsWith("MLOPS_RESULT "));
            if (line) {
                result = JSON.parse(line.slice("MLOPS_RESULT ".length)) as TrainResult;
            }
        });

        function trained(): TrainResult {
            assert.ok(train, "trainer did not run");
            assert.strictEqual(train.status.code, 0, `train.py exited ${train.status.code}:\n${tail(train.proc.logs(), 40)}`);
            assert.ok(result, `no MLOPS_RESULT line in stdout:\n${tail(train.proc.stdout(), 20)}`);
            return result;
        }

        it("exits 0 and reports the run id and registered version (stdout and result file)", function () {
            const r = trained();
            assert.match(train!.proc.stdout(), new RegExp(`^run_id=${r.run_id}$`, "m"));
            assert.match(train!.proc.stdout(), new RegExp(`^model_version=credit-risk/${r.model_version}$`, "m"));
            assert.deepStrictEqual(JSON.parse(fs.readFileSync(resultFile, "utf8")), r);
        });

        it("logged the run with metrics in [0,1] and the rendered hyperparameters", async function () {
            const r = trained();
            const run = await client.getRun(r.run_id);
            assert.strictEqual(run.info.status, "FINISHED");
            assert.strictEqual(run.info.run_name, trainer.env.MLFLOW_RUN_NAME);
            assert.strictEqual(run.info.run_name, stack.trainingJob.name, "the run is named after the rendered Job");
            const metrics = await client.getRunMetrics(r.run_id);
            for (const m of ["accuracy", "f1", "roc_auc"]) {
                inUnitInterval(m, metrics[m]);
            }
            const params = Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
            // Every rendered hyperparameter is both a flag (--max-depth 8) and HP_* env (HP_MAX_DEPTH=8).
            const hp = Object.entries(trainer.env).filter(([k]) => k.startsWith("HP_"));
            assert.ok(hp.length >= 2, `hyperparameters rendered: ${JSON.stringify(hp)}`);
            assert.strictEqual(trainer.args.length, 2 * hp.length, `args are the hyperparameter flags: ${JSON.stringify(trainer.args)}`);
            for (const [env, value] of hp) {
                const name = env.slice("HP_".length).toLowerCase();
                assert.strictEqual(flagValue(trainer.args, `--${name.replace(/_/g, "-")}`), value, `flag for ${env}`);
                assert.strictEqual(params[name], value, `param ${name} is the rendered ${env}`);
            }
            assert.strictEqual(params.seed, trainer.env.HP_SEED ?? "42", "a hyperparameter not rendered keeps train.py's default");
            const exp = await client.getExperimentByName(trainer.env.MLFLOW_EXPERIMENT_NAME);
            assert.strictEqual(exp?.experiment_id, r.experiment_id);
            const found = await client.searchRuns({ experimentIds: [r.experiment_id], filter: "metrics.roc_auc >= 0" });
            assert.deepStrictEqual(found.runs.map((x) => x.info.run_id), [r.run_id]);
            assert.strictEqual(await client.getExperimentByName("no-such-experiment"), undefined);
        });

        it("tagged the run with lineage (data, image, git, Job and namespace run tags)", async function () {
            const r = trained();
            const { tags } = await client.resolveMetrics(`runs:/${r.run_id}`);
            assert.strictEqual(tags["mlops.data_uri"], trainer.env.MLOPS_DATA_URI);
            assert.strictEqual(tags["mlops.data_version"], trainer.env.MLOPS_DATA_VERSION);
            assert.strictEqual(tags["mlops.image_digest"], trainer.env.MLOPS_IMAGE_DIGEST);
            // The TrainingJob renders no GIT_SHA (the image digest is its code lineage): no git tag.
            assert.strictEqual(tags["mlops.git_sha"], trainer.env.GIT_SHA);
            if (trainer.env.GIT_SHA !== undefined) {
                // Without it, MLflow's own git context may tag the checkout train.py runs from here.
                assert.strictEqual(tags["mlflow.source.git.commit"], trainer.env.GIT_SHA);
            }
            const runTags = JSON.parse(trainer.env.MLOPS_RUN_TAGS) as Record<string, string>;
            assert.strictEqual(runTags["mlops.k8s.job"], stack.trainingJob.name);
            assert.strictEqual(runTags["mlops.k8s.namespace"], stack.trainingJob.namespace);
            for (const [k, v] of Object.entries(runTags)) {
                assert.strictEqual(tags[k], v, `MLOPS_RUN_TAGS ${k}`);
            }
        });

        it("registered a model version that points at the run, with lineage tags and alias", async function () {
            const r = trained();
            const mv = await client.getModelVersion(r.model_name, r.model_version);
            assert.strictEqual(mv.run_id, r.run_id);
            assert.strictEqual(mv.status, "READY");
            assert.deepStrictEqual(mv.aliases, [trainer.env.MLOPS_MODEL_ALIAS]);
            const mvTags = Object.fromEntries((mv.tags ?? []).map((t) => [t.key, t.value]));
            assert.strictEqual(mvTags["mlops.data_version"], trainer.env.MLOPS_DATA_VERSION);
            const rm = await client.getRegisteredModel(r.model_name);
            assert.strictEqual(rm.name, r.model_name);
            const byRun = await client.searchModelVersions({ filter: `run_id='${r.run_id}'` });
            assert.deepStrictEqual(byRun.modelVersions.map((v) => v.version), [r.model_version]);
        });

        it("stored the model in the S3 bucket, uploaded through the proxy in multipart", async function () {
            const r = trained();
            const mv = await client.getModelVersion(r.model_name, r.model_version);
            const modelId = /^models:\/(m-[0-9a-f]+)$/.exec(mv.source ?? "")?.[1];
            assert.ok(modelId, `unexpected model version source ${mv.source}`);
            const prefix = new URL(withBucket(flagValue(serverContainer!.args, "--artifacts-destination")!, "x")).pathname.slice(1);
            const objects = await listBucket(svc!, `${prefix}/`);
            const modelKeys = [...objects.keys()].filter((k) => k.includes(`/models/${modelId}/artifacts/`));
            const names = modelKeys.map((k) => k.split("/").pop());
            for (const f of ["MLmodel", "model.skops", "requirements.txt"]) {
                assert.ok(names.includes(f), `${f} missing among ${JSON.stringify(modelKeys)}`);
            }
            const skops = modelKeys.find((k) => k.endsWith("/model.skops"))!;
            // An S3 multipart upload's ETag is "<md5 of part md5s>-<part count>".
            assert.match(objects.get(skops)!, /-\d+$/, `model.skops ETag ${objects.get(skops)}: not multipart`);
            assert.ok(
                [...objects.keys()].some((k) => k.endsWith(`/${r.run_id}/artifacts/reference/feature_stats.json`)),
                "feature_stats.json in the bucket",
            );
        });

        it("wrote reference/feature_stats.json (histograms, quantiles, sample), readable via the proxy", async function () {
            const r = trained();
            const run = await client.getRun(r.run_id);
            const artifactPath = run.info.artifact_uri!.replace(/^mlflow-artifacts:\/?/, "");
            const res = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${artifactPath}/reference/feature_stats.json`);
            assert.strictEqual(res.status, 200);
            const stats = (await res.json()) as {
                dataset: { uri: string; version: string; rows: number };
                features: Record<string, { quantiles: Record<string, number>; histogram: { bin_edges: number[]; counts: number[] } }>;
                sample: { columns: string[]; rows: number[][] };
            };
            assert.strictEqual(stats.dataset.uri, trainer.env.MLOPS_DATA_URI);
            assert.strictEqual(stats.dataset.version, trainer.env.MLOPS_DATA_VERSION);
            const features = Object.keys(stats.features);
            assert.ok(features.includes("credit_score") && features.length >= 8, JSON.stringify(features));
            for (const [name, f] of Object.entries(stats.features)) {
                assert.strictEqual(f.histogram.bin_edges.length, f.histogram.counts.length + 1, name);
                assert.strictEqual(f.histogram.counts.reduce((a, b) => a + b, 0), stats.dataset.rows, name);
                assert.ok(f.quantiles["0.5"] >= f.quantiles["0.01"] && f.quantiles["0.99"] >= f.quantiles["0.5"], name);
            }
            assert.deepStrictEqual(stats.sample.columns, features);
            assert.ok(stats.sample.rows.length > 0 && stats.sample.rows.every((row) => row.length === features.length));
        });

        it("resolveMetrics works for runs:/, models:/name/version and models:/name@alias", async function () {
            const r = trained();
            const byRun = await client.resolveMetrics(`runs:/${r.run_id}`);
            assert.strictEqual(byRun.runId, r.run_id);
            assert.strictEqual(byRun.metrics.roc_auc, (await client.getRunMetrics(r.run_id)).roc_auc);
            assert.ok(Math.abs(byRun.metrics.f1 - r.metrics.f1) < 1e-5, "REST metrics equal the trainer's");

            const byVersion = await client.resolveMetrics(`models:/${r.model_name}/${r.model_version}`);
            assert.deepStrictEqual(
                { runId: byVersion.runId, modelName: byVersion.modelName, version: byVersion.version, metrics: byVersion.metrics },
                { runId: r.run_id, modelName: r.model_name, version: r.model_version, metrics: byRun.metrics },
            );
            assert.strictEqual(byVersion.tags["mlops.image_digest"], trainer.env.MLOPS_IMAGE_DIGEST);

            await client.setModelVersionAlias(r.model_name, "champion", r.model_version);
            const byAlias = await client.resolveMetrics(`models:/${r.model_name}@champion`);
            assert.strictEqual(byAlias.version, r.model_version);
            assert.deepStrictEqual(byAlias.metrics, byRun.metrics);
            const viaAlias = await client.getModelVersionByAlias(r.model_name, "champion");
            assert.deepStrictEqual([...(viaAlias.aliases ?? [])].sort(), ["candidate", "champion"]);
        });

        it("reports API errors with endpoint, HTTP status and MLflow error_code", async function () {
            trained();
            await assert.rejects(client.getModelVersion("credit-risk", "999"), (e: unknown) => {
                assert.ok(e instanceof MlflowApiError);
                assert.strictEqual(e.status, 404);
                assert.strictEqual(e.errorCode, "RESOURCE_DOES_NOT_EXIST");
                assert.ok(e.isNotFound);
                assert.match(e.message, /GET \/api\/2\.0\/mlflow\/model-versions\/get .*HTTP 404 RESOURCE_DOES_NOT_EXIST/);
                return true;
            });
            await assert.rejects(client.resolveMetrics("models:/credit-risk@nope"), /registered-models\/alias.*HTTP 400 INVALID_PARAMETER_VALUE/);
        });
    });

    describe("mlops gate against this server (real REST API)", function () {
        const model = `gate-demo-${process.pid}`;
        const cli = path.join(ROOT, "dist", "cli", "mlops.js");

        async function api(endpoint: string, body: unknown): Promise<any> {
            const res = await fetch(`${base}/api/2.0/mlflow/${endpoint}`, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify(body),
            });
            const text = await res.text();
            assert.ok(res.ok, `${endpoint}: ${res.status} ${text}`);
            return JSON.parse(text || "{}");
        }

        /** A run with exactly these metrics, registered as a new version of the model. */
        async function version(metrics: Record<string, number>): Promise<string> {
            const run = await api("runs/create", { experiment_id: "0", start_time: Date.now() });
            const runId = run.run.info.run_id;
            for (const [key, value] of Object.entries(metrics)) {
                await api("runs/log-metric", { run_id: runId, key, value, timestamp: Date.now(), step: 0 });
            }
            const mv = await api("model-versions/create", { name: model, source: `runs:/${runId}/model`, run_id: runId });
            return String(mv.model_version.version);
        }

        function gate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
            return new Promise((resolve) => {
                execFile(process.execPath, [cli, "gate", "--stack", "dev", "--tracking-uri", base, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
                    resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }),
                );
            });
        }

        let champion: string;
        before(async function () {
            if (!svc || !server) {
                this.skip();
                return;
            }
            await api("registered-models/create", { name: model });
            champion = await version({ f1: 0.8, accuracy: 0.85, eval_samples: 20000 });
            await client.setModelVersionAlias(model, "champion", champion);
        });

        it("passes a candidate that beats the champion's F1 by more than 2 % (exit 0)", async function () {
            const candidate = await version({ f1: 0.83, accuracy: 0.86, eval_samples: 20000 });
            const r = await gate(["--candidate", `models:/${model}/${candidate}`]);
            assert.strictEqual(r.code, 0, r.stdout + r.stderr);
            assert.match(r.stdout, new RegExp(`candidate ${model} v${candidate} .* vs baseline ${model} v${champion}`));
            assert.match(r.stdout, /^f1\s+minRelativeChange\s+0\.83\d*\s+0\.8\d*\s+.*pass$/m);
            assert.match(r.stdout, /verdict: PASS/);
        });

        it("fails a candidate that improves F1 by less than 2 % (exit 3), naming metric, values and rule", async function () {
            const candidate = await version({ f1: 0.81, accuracy: 0.9, eval_samples: 20000 });
            const r = await gate(["--candidate", `models:/${model}/${candidate}`]);
            assert.strictEqual(r.code, 3, r.stdout + r.stderr);
            assert.match(r.stdout, /verdict: FAIL/);
            assert.match(r.stdout, /f1/);
        });

        it("reads a run reference and an explicit baseline alias, and prints JSON", async function () {
            const candidate = await version({ f1: 0.9, eval_samples: 20000 });
            const mv = await client.getModelVersion(model, candidate);
            const r = await gate(["--candidate", `runs:/${mv.run_id}`, "--baseline", `models:/${model}@champion`, "--json"]);
            assert.strictEqual(r.code, 0, r.stdout + r.stderr);
            const out = JSON.parse(r.stdout);
            assert.strictEqual(out.passed, true);
            assert.strictEqual(out.candidate.metrics.f1, 0.9);
            assert.strictEqual(out.baseline.version, champion);
        });

        it("reports an unknown model clearly (exit 1)", async function () {
            const r = await gate(["--candidate", `models:/${model}-missing/1`]);
            assert.strictEqual(r.code, 1);
            assert.match(r.stderr, /RESOURCE_DOES_NOT_EXIST|404/);
        });
    });

    it("trainer exits non-zero with one line naming MLFLOW_TRACKING_URI when the server is unreachable", async function () {
        if (!svc) {
            this.skip();
            return;
        }
        const deadPort = await freePort();
        const c = onLoopback(stack.trainer, {
            command: { python: svc.venv.python, "/app/train.py": TRAIN_PY },
            env: {
                MLFLOW_TRACKING_URI: `http://127.0.0.1:${deadPort}`,
                MLOPS_RESULT_FILE: path.join(workDir, "unreachable-result"),
                MLOPS_TRACKING_CHECK_TIMEOUT: "5",
            },
        });
        const started = Date.now();
        const { status, proc } = await runToEnd({ ...c, cwd: workDir, name: "train.py" }, 60_000);
        assert.notStrictEqual(status.code, 0);
        const lines = proc.stderr().trim().split("\n");
        assert.strictEqual(lines.length, 1, `expected one line, got:\n${proc.stderr()}`);
        assert.match(lines[0], /^error: .*MLFLOW_TRACKING_URI=http:\/\/127\.0\.0\.1:\d+.*Connection refused/);
        assert.ok(Date.now() - started < 30_000, "fails fast instead of retrying for minutes");
        assert.ok(!fs.existsSync(path.join(workDir, "unreachable-result")));
    });
});

describe("contract helpers (offline)", function () {
    let stack: StackRendering;
    before(async function () {
        this.timeout(120_000);
        stack = await renderStack(STACK, ROOT);
    });

    it(`the ${STACK} stack renders the tracking server, migration and trainer the contract runs`, function () {
        const server = stack.trackingServer;
        assert.deepStrictEqual(server.command, [...ENTRY_COMMAND]);
        assert.strictEqual(server.args[0], "server");
        assert.ok(!server.args.includes("--backend-store-uri"), "the URI is set in the environment by the entry, not in argv");
        assert.ok(server.args.includes("--serve-artifacts"), "artifacts proxied through the server");
        const dest = flagValue(server.args, "--artifacts-destination") ?? "";
        assert.match(dest, new RegExp(`^s3://${stack.artifactsBucket.replace(/[.-]/g, "\\$&")}/mlflow(/|$)`), "the DataLake artifacts bucket");
        assert.strictEqual(stack.outputs.artifactsBucket, stack.artifactsBucket);
        // No Secret values at all: the credentials come from Secrets Manager at start.
        assert.deepStrictEqual(valueFromPlaceholders(server.env), []);
        assert.strictEqual(server.env.MLOPS_DB_SSLROOTCERT, "/opt/mlops/rds-global-bundle.pem");
        assert.match(server.env.MLOPS_DB_SECRET_ID, /^arn:aws:secretsmanager:/);
        assert.deepStrictEqual(stack.migration.command, server.command);
        assert.deepStrictEqual(stack.migration.args, ["db-upgrade"]);
        assert.deepStrictEqual(valueFromPlaceholders(stack.migration.env), []);
        assert.deepStrictEqual(stack.dbBootstrap.args, ["bootstrap-db"]);
        assert.match(stack.dbBootstrap.env.MLOPS_DB_MASTER_SECRET_ID, /^arn:aws:secretsmanager:.*:secret:rds!db-/);
        assert.strictEqual(server.env.MLOPS_DB_MASTER_SECRET_ID, undefined, "only the bootstrap Job knows the master secret");

        const { name, namespace, port, url } = stack.trackingService;
        assert.strictEqual(url, `http://${name}.${namespace}.svc.cluster.local:${port}`);
        assert.strictEqual(flagValue(server.args, "--port"), String(port), "the Service port is the server's port");
        assert.strictEqual(stack.trainer.env.MLFLOW_TRACKING_URI, url, "the trainer logs to the rendered tracking Service");
        assert.strictEqual(stack.outputs.trackingUri, url);
        const allowed = (flagValue(server.args, "--allowed-hosts") ?? "").split(",");
        assert.ok(allowed.includes(new URL(url).host), `--allowed-hosts ${allowed} lacks the trainer's Host ${new URL(url).host}`);
    });

    it("onLoopback refuses unsupplied Secret values and leftover in-cluster endpoints", function () {
        assert.throws(() => onLoopback(stack.trainer, { env: { MLFLOW_TRACKING_URI: "$(MLFLOW_TRACKING_URI)" } }), /no loopback value for MLFLOW_TRACKING_URI/);
        assert.throws(() => onLoopback(stack.trainer, {}), /in-cluster endpoint left in env: MLFLOW_TRACKING_URI=http:\/\/.*\.svc\.cluster\.local/);
        assert.throws(() => onLoopback(stack.trainer, { flags: { "--no-such-flag": "x" } }), /rendered args have no --no-such-flag/);
        const ok = onLoopback(stack.trainer, { env: { MLFLOW_TRACKING_URI: "http://127.0.0.1:1" } });
        assert.deepStrictEqual(Object.keys(ok.env), Object.keys(stack.trainer.env), "replaced in place, order kept");
    });

    it("expandK8sVars follows the kubelet's $(VAR) rules", function () {
        const env = { A: "x", B: "$(A)", EMPTY: "" };
        assert.strictEqual(expandK8sVars("$(A)-$(A)", env), "x-x");
        assert.strictEqual(expandK8sVars("$$(A)", env), "$(A)", "$$ escapes");
        assert.strictEqual(expandK8sVars("$$$(A)", env), "$x");
        assert.strictEqual(expandK8sVars("$(MISSING)", env), "$(MISSING)", "undefined stays");
        assert.strictEqual(expandK8sVars("$(EMPTY)|", env), "|");
        assert.strictEqual(expandK8sVars("$(B)", env), "$(A)", "no recursive expansion");
        assert.strictEqual(expandK8sVars("a$b $ $(A", env), "a$b $ $(A", "lone $ and unterminated $( stay");
        assert.strictEqual(expandK8sVars("cost: 5$", env), "cost: 5$");
    });

    it("resolveContainer expands env in declaration order, then command and args", function () {
        const r = resolveContainer({
            command: ["$(BIN)"],
            args: ["--uri", "$(URI)", "$$(URI)"],
            env: { LATER_REF: "$(USER)", USER: "u", URI: "pg://$(USER)@h", BIN: "mlflow" },
        });
        assert.deepStrictEqual(r.command, ["mlflow"]);
        assert.deepStrictEqual(r.args, ["--uri", "pg://u@h", "$(URI)"]);
        assert.strictEqual(r.env.LATER_REF, "$(USER)", "a variable declared later is not visible");
    });

    it("every $(VAR) in the renderings refers to a variable declared before it", function () {
        for (const [name, c] of Object.entries({
            server: stack.trackingServer,
            migration: stack.migration,
            trainer: stack.trainer,
        })) {
            // valueFrom entries are declared (the kubelet fills them); stand in a value for them.
            const filled = new Set(valueFromPlaceholders(c.env));
            const env = Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, filled.has(k) ? `<valueFrom ${k}>` : v]));
            const r = resolveContainer({ ...c, env });
            const left = [...r.command, ...r.args, ...Object.values(r.env)].filter((s) => /\$\([A-Za-z_][A-Za-z0-9_]*\)/.test(s));
            assert.deepStrictEqual(left, [], `${name}: unresolved references`);
        }
    });

    it("the trainer image pins the same MLflow as components/python-packages.json", function () {
        const versions = JSON.parse(fs.readFileSync(path.join(ROOT, "components", "python-packages.json"), "utf8")) as { mlflow: string };
        const reqs = fs.readFileSync(path.join(ROOT, "examples", "credit-risk", "requirements.txt"), "utf8");
        assert.match(reqs, new RegExp(`^mlflow==${versions.mlflow.replace(/\./g, "\\.")}$`, "m"));
        const dockerfile = fs.readFileSync(path.join(ROOT, "examples", "credit-risk", "Dockerfile"), "utf8");
        assert.match(dockerfile, /^USER 10001:10001$/m);
        assert.match(dockerfile, /^ENTRYPOINT \["python", "\/app\/train\.py"\]$/m);
        assert.deepStrictEqual(stack.trainer.command, ["python", "/app/train.py"], "rendering runs the image's script");
    });

    it("parseModelRef accepts runs:/, models:/name/version, models:/name@alias only", function () {
        assert.deepStrictEqual(parseModelRef("runs:/abc123"), { kind: "run", runId: "abc123" });
        assert.deepStrictEqual(parseModelRef("models:/credit-risk/3"), { kind: "version", name: "credit-risk", version: "3" });
        assert.deepStrictEqual(parseModelRef("models:/credit-risk@champion"), { kind: "alias", name: "credit-risk", alias: "champion" });
        for (const bad of ["models:/x", "models:/x/latest", "s3://b/k", "runs:/", "models:/x@"]) {
            assert.throws(() => parseModelRef(bad), /expected runs:\/<run_id>, models:\/<name>\/<version> or models:\/<name>@<alias>/, bad);
        }
    });

    it("MlflowClient sends auth, and names endpoint, status and error_code on failure", async function () {
        const seen: { url?: string; auth?: string }[] = [];
        const srv = http.createServer((req, res) => {
            seen.push({ url: req.url, auth: req.headers.authorization });
            if (req.url?.startsWith("/prefix/api/2.0/mlflow/runs/get")) {
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify({ run: { info: { run_id: "r1" }, data: { metrics: [{ key: "f1", value: 0.5, timestamp: 0, step: 0 }] } } }));
            } else if (req.url?.startsWith("/prefix/api/2.0/mlflow/registered-models/get")) {
                res.writeHead(403, { "content-type": "application/json" });
                res.end(JSON.stringify({ error_code: "PERMISSION_DENIED", message: "nope" }));
            } else {
                res.writeHead(502);
                res.end("<html>bad gateway</html>");
            }
        });
        await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
        const p = (srv.address() as net.AddressInfo).port;
        try {
            const basic = new MlflowClient({ trackingUri: `http://u%40x:p%3Aw@127.0.0.1:${p}/prefix/` });
            assert.deepStrictEqual(await basic.getRunMetrics("r1"), { f1: 0.5 });
            assert.strictEqual(seen[0].auth, "Basic " + Buffer.from("u@x:p:w").toString("base64"));
            assert.strictEqual(seen[0].url, "/prefix/api/2.0/mlflow/runs/get?run_id=r1");
            assert.ok(!basic.trackingUri.includes("p%3Aw"), "credentials not kept in the URI");

            const bearer = new MlflowClient({ trackingUri: `http://127.0.0.1:${p}/prefix`, token: "t0k" });
            await assert.rejects(bearer.getRegisteredModel("m"), (e: unknown) => {
                assert.ok(e instanceof MlflowApiError);
                assert.strictEqual(e.status, 403);
                assert.strictEqual(e.errorCode, "PERMISSION_DENIED");
                assert.match(e.message, /GET \/api\/2\.0\/mlflow\/registered-models\/get .*HTTP 403 PERMISSION_DENIED: nope \(check MLFLOW_TRACKING_USERNAME/);
                return true;
            });
            assert.strictEqual(seen[1].auth, "Bearer t0k");
            await assert.rejects(bearer.getModelVersion("m", 1), /model-versions\/get .*HTTP 502 <html>bad gateway<\/html>/);
        } finally {
            await new Promise((r) => srv.close(r));
        }
        const dead = new MlflowClient({ trackingUri: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2_000 });
        await assert.rejects(dead.getRun("x"), /MLflow GET \/api\/2\.0\/mlflow\/runs\/get at http:\/\/127\.0\.0\.1:\d+ failed: connect ECONNREFUSED/);
        assert.throws(() => new MlflowClient({ trackingUri: "file:///tmp/mlruns" }), /must be http\(s\)/);
    });
});
