/**
 * What the TrackingServer and TrainingJob components render for their containers (command, args,
 * env), and how a contract spec moves that rendering onto loopback services.
 *
 * The `rendered*` functions stand in for the components until they exist: they will be replaced
 * by the container specs the components produce under mocks. Values a kubelet injects from
 * Secrets or the downward API are shown as `<...>` placeholders and supplied by `onLoopback`.
 */
import * as fs from "fs";
import * as path from "path";
import { RenderedContainer } from "./mlflow-contract";

/** In-cluster names the renderings use (dev stack). */
export const IN_CLUSTER = {
    namespace: "mlops",
    trackingService: "mlflow",
    trackingPort: 5000,
    dbHost: "mlops-dev-mlflow.cluster-abcdefghijkl.us-east-1.rds.amazonaws.com",
    dbPort: 5432,
    artifactsBucket: "mlops-dev-artifacts",
    region: "us-east-1",
} as const;

const trackingHostNames = (() => {
    const { trackingService: svc, namespace: ns, trackingPort: port } = IN_CLUSTER;
    const names = [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`];
    // --allowed-hosts REPLACES MLflow's default allow-list (localhost + private IPs), so the
    // Service names (with and without port) and localhost (kubectl port-forward) are all listed.
    return [...names.flatMap((n) => [n, `${n}:${port}`]), "localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*"];
})();

/** The MLflow tracking server container. */
export function renderedTrackingServer(): RenderedContainer {
    return {
        command: ["mlflow"],
        args: [
            "server",
            "--backend-store-uri",
            "$(MLFLOW_BACKEND_STORE_URI)",
            "--artifacts-destination",
            `s3://${IN_CLUSTER.artifactsBucket}/mlflow`,
            "--serve-artifacts",
            "--host",
            "0.0.0.0",
            "--port",
            String(IN_CLUSTER.trackingPort),
            "--workers",
            "2",
            "--allowed-hosts",
            trackingHostNames.join(","),
        ],
        env: {
            MLFLOW_DB_HOST: IN_CLUSTER.dbHost,
            MLFLOW_DB_PORT: String(IN_CLUSTER.dbPort),
            MLFLOW_DB_NAME: "mlflow",
            MLFLOW_DB_USER: "<secretKeyRef mlflow-db/username>",
            MLFLOW_DB_PASSWORD: "<secretKeyRef mlflow-db/password>",
            // SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the image ships psycopg2.
            MLFLOW_BACKEND_STORE_URI:
                "postgresql+psycopg2://$(MLFLOW_DB_USER):$(MLFLOW_DB_PASSWORD)@$(MLFLOW_DB_HOST):$(MLFLOW_DB_PORT)/$(MLFLOW_DB_NAME)?sslmode=require",
            AWS_REGION: IN_CLUSTER.region,
            AWS_DEFAULT_REGION: IN_CLUSTER.region,
            // S3 credentials come from EKS Pod Identity (injected by the agent, not rendered).
        },
    };
}

/** The schema migration the TrackingServer runs before the server (init container). */
export function renderedDbMigration(): RenderedContainer {
    const server = renderedTrackingServer();
    return { command: ["mlflow"], args: ["db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"], env: server.env };
}

/** The training Job's container for the credit-risk reference trainer. */
export function renderedTrainingJob(): RenderedContainer {
    const { trackingService: svc, namespace: ns, trackingPort: port } = IN_CLUSTER;
    return {
        command: ["python", "/app/train.py"],
        args: ["--n-estimators=$(HP_N_ESTIMATORS)", "--seed", "$(HP_SEED)"],
        env: {
            JOB_NAME: "<fieldRef metadata.labels['batch.kubernetes.io/job-name']>",
            MLFLOW_TRACKING_URI: `http://${svc}.${ns}.svc.cluster.local:${port}`,
            MLFLOW_EXPERIMENT_NAME: "credit-risk",
            MLFLOW_RUN_NAME: "$(JOB_NAME)",
            MLOPS_MODEL_NAME: "credit-risk",
            MLOPS_MODEL_ALIAS: "candidate",
            MLOPS_DATA_URI: "s3://mlops-dev-processed/credit-risk/",
            MLOPS_DATA_VERSION: "2026-11-01",
            MLOPS_IMAGE_DIGEST:
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/credit-risk-trainer@sha256:" + "ab".repeat(32),
            GIT_SHA: "0123456789abcdef0123456789abcdef01234567",
            MLOPS_RUN_TAGS: '{"mlops.job_name": "$(JOB_NAME)", "team": "risk"}',
            MLOPS_RESULT_FILE: "/dev/termination-log",
            HP_N_ESTIMATORS: "120",
            HP_MAX_DEPTH: "8",
            HP_SEED: "7",
            // Large artifacts go to S3 in parts through presigned URLs the server hands out.
            MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD: "true",
        },
    };
}

/** `.contract/env.json` as written by test/contract/services.sh. */
export interface ContractServices {
    mlflowVersion: string;
    postgres: { host: string; port: number; user: string; password: string; database: string; sslmode: string };
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

/** The services description, or undefined when services.sh has not been run (or was stopped). */
export function loadContractServices(root = repoRoot()): ContractServices | undefined {
    const file = path.join(root, ".contract", "env.json");
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
     * keep their meaning), or appended when the rendering has no such variable.
     */
    env?: Record<string, string>;
}

/** The rendering with in-cluster endpoints, secrets and paths swapped for loopback ones. */
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
    const unresolved = Object.entries(env).filter(([, v]) => /^<.*>$/.test(v));
    if (unresolved.length > 0) {
        throw new Error(`no loopback value for ${unresolved.map(([k, v]) => `${k}=${v}`).join(", ")}`);
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
