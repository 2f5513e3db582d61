/**
 * The real renderings a contract spec runs, and how it moves them onto loopback services.
 *
 * `renderStack()` runs the compiled program (dist/index.js) for a stack (default dev, with its
 * Pulumi.<stack>.yaml) under the mock runtime, exactly as `mlops plan` does, and reads the
 * tracking server, its schema migration and the trainer from the registered Kubernetes resources
 * (test/contract/rendered.ts). Nothing here is hand-written: values a kubelet injects from Secrets
 * or the downward API come back as `$(NAME)` placeholders, and `onLoopback` refuses to run a
 * container until the spec has supplied every one of them.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { runProgram } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { ProcessHandle, RenderedContainer, startProcess, tail, waitForHttp } from "./mlflow-contract";
import {
    RenderedCommand,
    RenderedService,
    bucketOfDataClass,
    renderedDbMigration,
    renderedTrackingServer,
    renderedTrackingJob,
    renderedTrackingService,
    renderedTrainingJob,
    renderedTrainingJobMetadata,
    valueFromPlaceholders,
} from "./rendered";

/** What a stack renders for the MLflow contract. */
export interface StackRendering {
    stack: string;
    resources: RecordedResource[];
    /** Stack outputs (secret ones replaced by the offline plan placeholder). */
    outputs: Record<string, unknown>;
    /** The TrackingServer Deployment's `mlflow` container. */
    trackingServer: RenderedCommand;
    /** Its `db-upgrade` init container (the image entry's migration). */
    migration: RenderedCommand;
    /** The database bootstrap Job's container (creates MLflow's own role with the master credentials). */
    dbBootstrap: RenderedCommand;
    /** The provision-users Job's container, when basic auth is on. */
    provisionUsers?: RenderedCommand;
    /** The TrackingServer's Service (in-cluster name, namespace, port, URL). */
    trackingService: RenderedService;
    /** The TrainingJob's `trainer` container. */
    trainer: RenderedCommand;
    /** `metadata.name` and namespace of the rendered Job. */
    trainingJob: { name: string; namespace: string };
    /** Physical name of the DataLake's artifacts bucket (the mock provider's name). */
    artifactsBucket: string;
}

const renderings = new Map<string, Promise<StackRendering>>();

/** Renders `stack` once per process (offline; needs dist/ compiled). */
export function renderStack(stack = "dev", root = repoRoot(), configOverrides?: Record<string, string>): Promise<StackRendering> {
    const key = `${root}\0${stack}\0${JSON.stringify(configOverrides ?? {})}`;
    let p = renderings.get(key);
    if (!p) {
        p = runProgram({ root, stack, ...(configOverrides ? { configOverrides } : {}) }).then((run) => ({
            stack,
            resources: run.resources,
            outputs: run.outputs,
            trackingServer: renderedTrackingServer(run.resources),
            migration: renderedDbMigration(run.resources),
            dbBootstrap: renderedTrackingJob(run.resources, "bootstrap-db"),
            provisionUsers: run.resources.some((r) => r.inputs?.spec?.template?.spec?.containers?.some?.((c: any) => c.name === "provision-users"))
                ? renderedTrackingJob(run.resources, "provision-users")
                : undefined,
            trackingService: renderedTrackingService(run.resources),
            trainer: renderedTrainingJob(run.resources),
            trainingJob: renderedTrainingJobMetadata(run.resources),
            artifactsBucket: bucketOfDataClass(run.resources, "artifacts"),
        }));
        // Cached as a promise: a failed render is reported to every caller.
        renderings.set(key, p);
    }
    return p;
}

/** `.contract/env.json` as written by test/contract/services.sh. */
export interface ContractServices {
    mlflowVersion: string;
    postgres: { host: string; port: number; user: string; password: string; database: string; sslmode: string; sslrootcert: string };
    s3: { endpointUrl: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };
    venv: { dir: string; python: string; mlflow: string };
    logs: { postgres: string; moto: string };
}

/** Repository root (works from both the .ts sources and dist/). */
export function repoRoot(): string {
    let dir = __dirname;
    // dist/ may hold a copy of package.json (resolveJsonModule), so look for this script too.
    while (!fs.existsSync(path.join(dir, "test", "contract", "services.sh"))) {
        const parent = path.dirname(dir);
        if (parent === dir) {
            throw new Error(`no test/contract/services.sh above ${__dirname}`);
        }
        dir = parent;
    }
    return dir;
}

/**
 * The services description, or undefined when services.sh has not been run (or was stopped).
 * `CONTRACT_ENV_JSON=<file>` reads another description instead of `<root>/.contract/env.json`
 * (e.g. a missing file, to exercise the skip path while services are running).
 */
export function loadContractServices(root = repoRoot()): ContractServices | undefined {
    const file = process.env.CONTRACT_ENV_JSON || path.join(root, ".contract", "env.json");
    if (!fs.existsSync(file)) {
        return undefined;
    }
    return JSON.parse(fs.readFileSync(file, "utf8")) as ContractServices;
}

export interface LoopbackBinding {
    /** Executable/script tokens of `command` to replace, e.g. `{ mlflow: "/venv/bin/mlflow" }`. */
    command?: Record<string, string>;
    /** `--flag value` pairs of `args` to replace (the flag must be rendered). */
    flags?: Record<string, string>;
    /**
     * Env values to set: replaced in place (declaration order is kept, so `$(VAR)` references
     * keep their meaning), or appended when the rendering has no such variable (what the
     * cluster adds without rendering it, e.g. Pod Identity credentials).
     */
    env?: Record<string, string>;
}

/** An in-cluster URL (`http://svc.ns.svc.cluster.local:port`, an RDS endpoint) in a value. */
const IN_CLUSTER_ENDPOINT = /:\/\/[^/\s"]*\.(svc(\.cluster\.local)?|rds\.amazonaws\.com)([:/"]|$)/;

/**
 * The rendering with in-cluster endpoints, secrets and paths swapped for loopback ones. Refuses
 * a rendering that still has a `valueFrom` placeholder (a Secret / downward-API value nobody
 * supplied) or an in-cluster URL in its environment after binding.
 */
export function onLoopback(c: RenderedContainer, bind: LoopbackBinding): RenderedContainer {
    const args = [...c.args];
    for (const [flag, value] of Object.entries(bind.flags ?? {})) {
        const i = args.indexOf(flag);
        if (i < 0 || i + 1 >= args.length) {
            throw new Error(`rendered args have no ${flag} <value>: ${JSON.stringify(c.args)}`);
        }
        args[i + 1] = value;
    }
    const env = { ...c.env, ...(bind.env ?? {}) };
    const unresolved = valueFromPlaceholders(env);
    if (unresolved.length > 0) {
        throw new Error(`no loopback value for ${unresolved.map((k) => `${k} (valueFrom in the rendering)`).join(", ")}`);
    }
    const inCluster = Object.entries(env).filter(([, v]) => IN_CLUSTER_ENDPOINT.test(v));
    if (inCluster.length > 0) {
        throw new Error(`in-cluster endpoint left in env: ${inCluster.map(([k, v]) => `${k}=${v}`).join(", ")}`);
    }
    return { command: c.command.map((t) => bind.command?.[t] ?? t), args, env };
}

/** `s3://<bucket>/<prefix>` with the bucket replaced. */
export function withBucket(s3Uri: string, bucket: string): string {
    const m = /^s3:\/\/[^/]+(\/.*)?$/.exec(s3Uri);
    if (!m) {
        throw new Error(`not an s3:// URI: ${s3Uri}`);
    }
    return `s3://${bucket}${m[1] ?? ""}`;
}

/** The value following `flag` in `args`. */
export function flagValue(args: string[], flag: string): string | undefined {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
}

/** A model registry a spec reads and writes through (see `startRegistry`). */
export interface Registry {
    /** `http://127.0.0.1:<port>` */
    base: string;
    process: ProcessHandle;
    /** Stops the server and drops its database. */
    stop(): Promise<void>;
}

/**
 * The pinned MLflow as a model registry for specs that test something else (serving, distributed
 * training): its own database on the services' PostgreSQL (TLS required), the rendered server's
 * `--artifacts-destination` moved to the emulator's bucket. The rendered tracking server's own start
 * (bootstrap Job, dedicated role, verify-full, credentials from Secrets Manager) is what
 * mlflow.contract.spec.ts proves.
 */
export async function startRegistry(
    svc: ContractServices,
    opts: { workDir: string; dbName: string; port: number; artifactsDestination: string },
): Promise<Registry> {
    const pg = svc.postgres;
    const admin = (sql: string) =>
        execFileSync(
            svc.venv.python,
            ["-c", "import sys, psycopg2\nc = psycopg2.connect(host=sys.argv[1], port=int(sys.argv[2]), user=sys.argv[3], password=sys.argv[4], dbname=sys.argv[5], sslmode='require', connect_timeout=10)\nc.autocommit = True\nc.cursor().execute(sys.argv[6])", pg.host, String(pg.port), pg.user, pg.password, pg.database, sql],
            { timeout: 60_000 },
        );
    admin(`CREATE DATABASE "${opts.dbName}"`);
    const dropDb = () => admin(`DROP DATABASE IF EXISTS "${opts.dbName}" WITH (FORCE)`);
    const home = path.join(opts.workDir, `home-registry-${opts.dbName}`);
    fs.mkdirSync(home, { recursive: true });
    const backendUri = `postgresql+psycopg2://${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}@${pg.host}:${pg.port}/${opts.dbName}?sslmode=require`;
    const env = { MLFLOW_BACKEND_STORE_URI: backendUri, HOME: home };
    try {
        const migration = startProcess({ command: [svc.venv.mlflow], args: ["db", "upgrade", backendUri], env, cwd: opts.workDir, name: "mlflow db upgrade" });
        const status = await migration.exited;
        if (status.code !== 0) throw new Error(`mlflow db upgrade exited ${status.code}:\n${tail(migration.logs(), 30)}`);
        const s3 = { MLFLOW_S3_ENDPOINT_URL: svc.s3.endpointUrl, AWS_ACCESS_KEY_ID: svc.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: svc.s3.secretAccessKey };
        const server = startProcess({
            command: [svc.venv.mlflow],
            args: ["server", "--host", "127.0.0.1", "--port", String(opts.port), "--artifacts-destination", withBucket(opts.artifactsDestination, svc.s3.bucket)],
            env: { ...env, ...s3 },
            cwd: opts.workDir,
            name: "mlflow server (registry)",
        });
        const base = `http://127.0.0.1:${opts.port}`;
        try {
            await waitForHttp(`${base}/health`, 120_000, { process: server });
        } catch (e) {
            await server.stop();
            throw e;
        }
        return {
            base,
            process: server,
            stop: async () => {
                await server.stop();
                dropDb();
            },
        };
    } catch (e) {
        dropDb();
        throw e;
    }
}
