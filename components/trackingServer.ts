import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ROLE_LABEL } from "../release-contract/annotations";
import { policyJson } from "./iam";
import { customerManagedKey } from "./kms";
import {
    RESTRICTED_NAMESPACE_LABELS,
    ResourceSpec,
    WORKLOAD_UID,
    containerResources,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
    scratchVolume,
} from "./k8s-security";
import { assertDigestPinned, checkImage, checkResources } from "./k8s-validation";
import { Problems, checkDnsLabel, checkInt, checkOneOf, describe } from "./validation";
import pythonPackages from "./python-packages.json";
import { WorkloadIdentity, WorkloadIdentityMode } from "./workloadIdentity";
import { providerOutput } from "./provider-outputs";

/** MLflow version the tracking server image must contain; pinned once, in components/python-packages.json. */
export const MLFLOW_VERSION: string = pythonPackages.mlflow;

/**
 * Environment variable `mlflow server` reads the backend store URI from (click `envvar` of
 * `--backend-store-uri` in mlflow/cli/__init__.py). The image's entry sets it in memory from
 * Secrets Manager just before it execs the server, so the URI is in no argv, manifest or state.
 */
export const BACKEND_STORE_URI_ENV = "MLFLOW_BACKEND_STORE_URI";

/** The image's entry script (images/mlflow/mlops_mlflow.py), run with the image's Python. */
export const ENTRY_COMMAND = ["python", "/opt/mlops/mlops_mlflow.py"] as const;

/** The RDS CA bundle baked into the image (images/mlflow/Dockerfile); `verify-full` checks against it. */
export const RDS_CA_BUNDLE_PATH = "/opt/mlops/rds-global-bundle.pem";

/** Keys the operator-provided basic-auth admin Secret must hold. */
export const AUTH_SECRET_KEYS = { username: "username", password: "password", flaskSecretKey: "flask-secret-key" } as const;

/** Keys of the per-user credential Secrets (training writer, serving reader). */
export const USER_SECRET_KEYS = { username: "username", password: "password" } as const;

const DB_NAME = "mlflow";
/** RDS master user: owns the database; only the bootstrap Job ever logs in as it. */
const DB_MASTER_USER = "mlflow";
/** Dedicated least-privilege role MLflow connects as (created by the bootstrap Job). */
export const DB_APP_USER = "mlflow_app";
const AUTH_CONFIG_DIR = "/etc/mlflow/auth";
const AUTH_CONFIG_FILE = "basic_auth.ini";
const HOME_DIR = "/home/mlflow";

export interface TrackingServerDatabaseArgs {
    /** RDS instance class. Default `db.t4g.medium`. */
    instanceClass?: string;
    /** PostgreSQL major version (minor versions are upgraded automatically). Default `"17"`. */
    engineVersion?: string;
    /** Initial storage (GiB, gp3). Default 20. */
    allocatedStorageGb?: number;
    /** Storage autoscaling ceiling (GiB); must exceed allocatedStorageGb. Default 100. */
    maxAllocatedStorageGb?: number;
    /** Standby in a second AZ. Default false (set true in prod). */
    multiAz?: boolean;
    /** Refuse deletion of the instance. Default true. */
    deletionProtection?: boolean;
    /** Take a final snapshot when the instance is deleted. Default true. */
    finalSnapshot?: boolean;
    /** Days automated backups are kept, 7..35. Default 7. */
    backupRetentionDays?: number;
    /**
     * Days between rotations of the RDS-managed master password (Secrets Manager), or 0 to turn
     * rotation off. Default 30. The Kubernetes Secret is rebuilt on every `pulumi up`, so a deploy
     * must run within this period (see the class comment).
     */
    passwordRotationDays?: number;
    /** Performance Insights (encrypted with the KMS key), 7 days retention. Default true. */
    performanceInsights?: boolean;
    /** Apply modifications immediately instead of in the maintenance window. Default false. */
    applyImmediately?: boolean;
    /** Enhanced Monitoring granularity, seconds: 1, 5, 10, 15, 30 or 60 (0 turns it off). Default 60. */
    monitoringIntervalSeconds?: number;
    /**
     * Statements PostgreSQL logs for audit (`log_statement`, exported to CloudWatch with the
     * `postgresql` log): `ddl` (schema changes), `mod` (plus every write) or `all`. Default `ddl`.
     */
    auditLogStatement?: "ddl" | "mod" | "all";
}

export type MlflowPermission = "READ" | "EDIT" | "MANAGE" | "NO_PERMISSIONS";
export const MLFLOW_PERMISSIONS: readonly MlflowPermission[] = ["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"];

/** A basic-auth user the provisioning Job creates, with permissions on named experiments and models. */
export interface TrackingUserArgs {
    /** MLflow user name; must equal the `username` key of the Secret. */
    username: string;
    /** Secret in the server's namespace with `username` and `password` (the same Secret the client's namespace holds). */
    secretName: string;
    /** Experiments (created when missing) and the permission the user gets on each. */
    experiments?: { name: string; permission: MlflowPermission }[];
    /** Registered models (created when missing) and the permission the user gets on each. */
    registeredModels?: { name: string; permission: MlflowPermission }[];
}

export interface TrackingAuthArgs {
    adminSecretName: string;
    /**
     * Permission of every user on resources nobody granted them. Default `NO_PERMISSIONS`: a user
     * sees and changes only what {@link TrackingAuthArgs.users} grants (a leaked serving
     * credential cannot read other experiments, a training credential cannot write them).
     */
    defaultPermission?: MlflowPermission;
    /** Users created after every rollout by the `provision-users` Job, with the admin credential. Default none. */
    users?: TrackingUserArgs[];
}

export interface TrackingServerArgs {
    /** Kubernetes provider of the cluster. Required: every k8s resource names its provider. */
    provider: k8s.Provider;
    /** EKS cluster name (Pod Identity associations are per cluster). */
    clusterName: pulumi.Input<string>;
    /** VPC of the cluster; the database security group lives here. */
    vpcId: pulumi.Input<string>;
    /** Private subnets (at least two AZs) for the DB subnet group. */
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** Security groups (cluster / node SGs) allowed to reach PostgreSQL on 5432. Nothing else is. */
    clientSecurityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * MLflow server image pinned by digest (`repo@sha256:...`) containing MLflow {@link MLFLOW_VERSION}
     * (`mlflow[auth]` when `auth` is set: basic auth needs Flask-WTF), psycopg2 and boto3, running
     * as a non-root user. Tags are refused.
     */
    image: pulumi.Input<string>;
    /** Artifact store: the server proxies artifacts to `s3://<bucket>/<prefix>`. */
    artifacts: {
        bucket: pulumi.Input<string>;
        /** Key prefix, e.g. `mlflow/`: no leading `/`, ends with `/`. */
        prefix: string;
        /** IAM policy (JSON) for the server's role, e.g. `DataLake.accessPolicy([{bucket: "artifacts", prefix, access: "readwrite"}])`. */
        policy: pulumi.Input<string>;
        /**
         * KMS key the bucket requires on uploads (DataLake.kmsKeyArn). When set, the server sends
         * `ServerSideEncryption: aws:kms` + this key on every upload (MLFLOW_S3_UPLOAD_EXTRA_ARGS).
         */
        kmsKeyArn?: pulumi.Input<string>;
    };
    /** KMS key for DB storage, Performance Insights and the master-password secret. Default: a new key with rotation. */
    kmsKeyArn?: pulumi.Input<string>;
    /** How the server's pods get AWS credentials. Default Pod Identity. */
    workloadIdentity?: { mode?: WorkloadIdentityMode; oidcProviderArn?: pulumi.Input<string>; oidcIssuerUrl?: pulumi.Input<string> };
    /** Namespace the component creates (Pod Security `restricted`). Default `mlflow`. */
    namespace?: string;
    /** Name of the Deployment, Service and ServiceAccount. Default `mlflow`. */
    serviceName?: string;
    /** Container and Service port (>= 1024: the server runs without capabilities). Default 5000. */
    port?: number;
    /** Namespaces whose pods may reach the server (NetworkPolicy); e.g. the training namespace. */
    allowedNamespaces: string[];
    /** Server pods. Default 1; use >= 2 in prod: from 2 on, a PodDisruptionBudget keeps one up during drains (none with 1). */
    replicas?: number;
    /** Worker processes per pod (`--workers`). Default 2. */
    workers?: number;
    /** Requests/limits of the server container. Default 500m CPU, 1Gi memory (limit 1Gi). */
    resources?: ResourceSpec;
    /** Extra Host headers accepted (`--allowed-hosts`), on top of the Service names, the route hostname and localhost. */
    allowedHosts?: string[];
    /** Database knobs (environment-driven). */
    database?: TrackingServerDatabaseArgs;
    /** `protect` + `retainOnDelete` on the database and its key. Default false (true in prod). */
    protect?: boolean;
    /**
     * Built-in basic auth (`--app-name basic-auth`). The named Secret, in the server's namespace,
     * must hold `username`, `password` (the admin bootstrapped on first start) and `flask-secret-key`.
     * Default: off.
     */
    auth?: TrackingAuthArgs;
    /**
     * Exposure through a Gateway API HTTPRoute. TLS terminates at the Gateway listener named by
     * `gatewayRef.sectionName` (default `https` when `tls`, else `http`).
     */
    route?: {
        gatewayRef: { name: string; namespace: string; sectionName?: string };
        hostname: string;
        /** Default true. */
        tls?: boolean;
        /** Namespace of the gateway's proxy pods, admitted by the NetworkPolicy. Default gatewayRef.namespace. */
        proxyNamespace?: string;
    };
    /** Let clients upload large artifacts in parts through presigned URLs. Default true. */
    multipartUpload?: boolean;
    tags?: Record<string, string>;
}

/** Defaults applied by {@link validateTrackingServerArgs}. */
export interface TrackingServerSettings {
    namespace: string;
    serviceName: string;
    port: number;
    replicas: number;
    workers: number;
    resources: ResourceSpec;
    allowedNamespaces: string[];
    allowedHosts: string[];
    protect: boolean;
    multipartUpload: boolean;
    artifactsPrefix: string;
    database: Required<TrackingServerDatabaseArgs>;
    auth?: { adminSecretName: string; defaultPermission: MlflowPermission; users: TrackingUserArgs[] };
    route?: { gatewayRef: { name: string; namespace: string; sectionName: string }; hostname: string; tls: boolean; proxyNamespace: string };
    tags: Record<string, string>;
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** Validates TrackingServer args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateTrackingServerArgs(args: TrackingServerArgs): TrackingServerSettings {
    const p = new Problems("TrackingServer arguments");
    const db = args.database ?? {};
    const s: TrackingServerSettings = {
        namespace: args.namespace ?? "mlflow",
        serviceName: args.serviceName ?? "mlflow",
        port: args.port ?? 5000,
        replicas: args.replicas ?? 1,
        workers: args.workers ?? 2,
        resources: args.resources ?? { cpu: "500m", memory: "1Gi" },
        allowedNamespaces: args.allowedNamespaces ?? [],
        allowedHosts: args.allowedHosts ?? [],
        protect: args.protect ?? false,
        multipartUpload: args.multipartUpload ?? true,
        artifactsPrefix: args.artifacts?.prefix,
        database: {
            instanceClass: db.instanceClass ?? "db.t4g.medium",
            engineVersion: db.engineVersion ?? "17",
            allocatedStorageGb: db.allocatedStorageGb ?? 20,
            maxAllocatedStorageGb: db.maxAllocatedStorageGb ?? 100,
            multiAz: db.multiAz ?? false,
            deletionProtection: db.deletionProtection ?? true,
            finalSnapshot: db.finalSnapshot ?? true,
            backupRetentionDays: db.backupRetentionDays ?? 7,
            passwordRotationDays: db.passwordRotationDays ?? 30,
            performanceInsights: db.performanceInsights ?? true,
            applyImmediately: db.applyImmediately ?? false,
            monitoringIntervalSeconds: db.monitoringIntervalSeconds ?? 60,
            auditLogStatement: db.auditLogStatement ?? "ddl",
        },
        tags: args.tags ?? {},
    };
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    checkImage(p, "image", args.image);
    p.check(args.vpcId !== undefined && args.vpcId !== "", "vpcId", "is required (the cluster's VPC)");
    if (Array.isArray(args.subnetIds)) {
        p.check(args.subnetIds.length >= 2, "subnetIds", `must list private subnets in at least two AZs (RDS subnet groups need two), got ${args.subnetIds.length}`);
    } else {
        p.check(args.subnetIds !== undefined, "subnetIds", "is required (private subnets in at least two AZs)");
    }
    if (Array.isArray(args.clientSecurityGroupIds)) {
        p.check(args.clientSecurityGroupIds.length >= 1, "clientSecurityGroupIds", "must list the cluster/node security groups allowed to reach PostgreSQL");
    } else {
        p.check(args.clientSecurityGroupIds !== undefined, "clientSecurityGroupIds", "is required (the cluster/node security groups)");
    }
    checkDnsLabel(p, "namespace", s.namespace);
    checkDnsLabel(p, "serviceName", s.serviceName);
    checkInt(p, "port", s.port, 1024, 65535);
    checkInt(p, "replicas", s.replicas, 1, 20);
    checkInt(p, "workers", s.workers, 1, 64);
    checkResources(p, "resources", s.resources);
    if (p.check(Array.isArray(s.allowedNamespaces), "allowedNamespaces", `must be a list of namespace names, got ${describe(s.allowedNamespaces)}`)) {
        s.allowedNamespaces.forEach((ns, i) => checkDnsLabel(p, `allowedNamespaces[${i}]`, ns));
    }
    s.allowedHosts.forEach((h, i) =>
        p.check(typeof h === "string" && /^[A-Za-z0-9*.:\[\]-]+$/.test(h) && h !== "*", `allowedHosts[${i}]`, `must be a host[:port] pattern other than "*", got ${describe(h)}`),
    );
    if (p.check(args.artifacts !== undefined, "artifacts", "is required ({ bucket, prefix, policy })")) {
        p.check(
            typeof s.artifactsPrefix === "string" && /^([A-Za-z0-9!_.*'()-]+\/)+$/.test(s.artifactsPrefix),
            "artifacts.prefix",
            `must be a non-empty key prefix without a leading "/" and ending with "/", e.g. "mlflow/", got ${describe(s.artifactsPrefix)}`,
        );
        p.check(args.artifacts.policy !== undefined, "artifacts.policy", "is required (an IAM policy limited to the artifacts prefix)");
    }
    const d = s.database;
    p.check(typeof d.instanceClass === "string" && /^db\.[a-z0-9-]+\.[a-z0-9]+$/.test(d.instanceClass), "database.instanceClass", `must be an RDS instance class such as "db.t4g.medium", got ${describe(d.instanceClass)}`);
    p.check(typeof d.engineVersion === "string" && /^(1[4-9]|[2-9][0-9])(\.[0-9]+)?$/.test(d.engineVersion), "database.engineVersion", `must be a PostgreSQL version from 14, e.g. "17", got ${describe(d.engineVersion)}`);
    checkInt(p, "database.allocatedStorageGb", d.allocatedStorageGb, 20, 65536);
    if (checkInt(p, "database.maxAllocatedStorageGb", d.maxAllocatedStorageGb, 20, 65536)) {
        p.check(d.maxAllocatedStorageGb > d.allocatedStorageGb, "database.maxAllocatedStorageGb", `must exceed allocatedStorageGb (${d.allocatedStorageGb}), got ${d.maxAllocatedStorageGb}`);
    }
    checkInt(p, "database.backupRetentionDays", d.backupRetentionDays, 7, 35);
    checkInt(p, "database.passwordRotationDays", d.passwordRotationDays, 0, 1000);
    p.check(
        [0, 1, 5, 10, 15, 30, 60].includes(d.monitoringIntervalSeconds as number),
        "database.monitoringIntervalSeconds",
        `must be 0 (off), 1, 5, 10, 15, 30 or 60, got ${describe(d.monitoringIntervalSeconds)}`,
    );
    checkOneOf(p, "database.auditLogStatement", d.auditLogStatement, ["ddl", "mod", "all"] as const);
    if (s.protect) {
        p.check(d.deletionProtection, "database.deletionProtection", "must be true when protect is true");
        p.check(d.finalSnapshot, "database.finalSnapshot", "must be true when protect is true");
    }
    if (args.auth !== undefined) {
        p.check(typeof args.auth.adminSecretName === "string" && DNS_NAME.test(args.auth.adminSecretName), "auth.adminSecretName", `must be a Secret name, got ${describe(args.auth.adminSecretName)}`);
        const perm = args.auth.defaultPermission ?? "NO_PERMISSIONS";
        checkOneOf(p, "auth.defaultPermission", perm, MLFLOW_PERMISSIONS);
        const users = args.auth.users ?? [];
        const seen = new Set<string>();
        users.forEach((u, i) => {
            const at = `auth.users[${i}]`;
            p.check(typeof u.username === "string" && /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(u.username), `${at}.username`, `must be a user name (letters, digits, _.@-), got ${describe(u.username)}`);
            p.check(u.username !== undefined && !seen.has(u.username), `${at}.username`, `"${u.username}" is listed twice`);
            seen.add(u.username);
            p.check(typeof u.secretName === "string" && DNS_NAME.test(u.secretName), `${at}.secretName`, `must be a Secret name, got ${describe(u.secretName)}`);
            for (const kind of ["experiments", "registeredModels"] as const) {
                (u[kind] ?? []).forEach((g, j) => {
                    p.check(typeof g.name === "string" && g.name.trim() !== "", `${at}.${kind}[${j}].name`, `must be a non-empty name, got ${describe(g.name)}`);
                    checkOneOf(p, `${at}.${kind}[${j}].permission`, g.permission, MLFLOW_PERMISSIONS);
                });
            }
        });
        s.auth = { adminSecretName: args.auth.adminSecretName, defaultPermission: perm, users };
    }
    if (args.route !== undefined) {
        const r = args.route;
        const tls = r.tls ?? true;
        checkDnsLabel(p, "route.gatewayRef.name", r.gatewayRef?.name);
        checkDnsLabel(p, "route.gatewayRef.namespace", r.gatewayRef?.namespace);
        p.check(typeof r.hostname === "string" && DNS_NAME.test(r.hostname) && r.hostname.includes("."), "route.hostname", `must be a fully qualified DNS name, got ${describe(r.hostname)}`);
        const proxyNamespace = r.proxyNamespace ?? r.gatewayRef?.namespace;
        if (r.proxyNamespace !== undefined) {
            checkDnsLabel(p, "route.proxyNamespace", r.proxyNamespace);
        }
        s.route = {
            gatewayRef: { name: r.gatewayRef?.name, namespace: r.gatewayRef?.namespace, sectionName: r.gatewayRef?.sectionName ?? (tls ? "https" : "http") },
            hostname: r.hostname,
            tls,
            proxyNamespace,
        };
    }
    p.throwIfAny();
    return s;
}

/**
 * Host headers the server accepts (`--allowed-hosts`, DNS-rebinding protection): the Service's
 * in-cluster names with and without port, localhost for `kubectl port-forward`, the route hostname.
 */
export function allowedHostList(s: Pick<TrackingServerSettings, "serviceName" | "namespace" | "port" | "route" | "allowedHosts">): string[] {
    const names = [s.serviceName, `${s.serviceName}.${s.namespace}`, `${s.serviceName}.${s.namespace}.svc`, `${s.serviceName}.${s.namespace}.svc.cluster.local`];
    const hosts = names.flatMap((n) => [n, `${n}:${s.port}`]);
    hosts.push("localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*");
    if (s.route) {
        hosts.push(s.route.hostname, `${s.route.hostname}:${s.route.tls ? 443 : 80}`);
    }
    return [...new Set([...hosts, ...s.allowedHosts])];
}

/**
 * The arguments of the image entry's `server` command (passed on to `mlflow server`). No
 * `--backend-store-uri`: the entry puts the URI into {@link BACKEND_STORE_URI_ENV}.
 */
export function mlflowServerArgs(s: TrackingServerSettings, artifactsDestination: string): string[] {
    const args = [
        "server",
        "--artifacts-destination",
        artifactsDestination,
        "--serve-artifacts",
        "--host",
        "0.0.0.0",
        "--port",
        String(s.port),
        "--workers",
        String(s.workers),
        "--allowed-hosts",
        allowedHostList(s).join(","),
    ];
    if (s.route) {
        args.push("--cors-allowed-origins", `${s.route.tls ? "https" : "http"}://${s.route.hostname}`);
    }
    if (s.auth) {
        args.push("--app-name", "basic-auth");
    }
    return args;
}

/**
 * Probes of the MLflow server. Readiness (`GET /health`) takes a slow server out of rotation
 * quickly (2 failed checks 5 s apart). Liveness is a different, tolerant check: the server process
 * still accepts connections on its port, six times 20 s apart, so a busy server that answers late
 * is taken out of rotation, not restarted (a TCP check also needs no credentials when basic auth is
 * on). The startup probe covers the first start. A server that is up but never ready is reported by
 * the TrackingServerDown alert, not hidden by restarts.
 */
export function mlflowProbes(): Record<"startupProbe" | "readinessProbe" | "livenessProbe", k8s.types.input.core.v1.Probe> {
    const httpGet = { path: "/health", port: "http" };
    return {
        startupProbe: { httpGet, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 36 },
        readinessProbe: { httpGet, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2, successThreshold: 1 },
        livenessProbe: { tcpSocket: { port: "http" }, periodSeconds: 20, timeoutSeconds: 10, failureThreshold: 6 },
    };
}

/**
 * Bounds of the component's Jobs: a few retries (a database or server still starting), 15 minutes
 * at most, and the finished Job kept a day for its logs. Idempotent, so re-running them (e.g.
 * after `pulumi refresh` forgot a Job the TTL removed) is harmless.
 */
const ONE_SHOT_JOB_LIMITS = { backoffLimit: 3, activeDeadlineSeconds: 900, ttlSecondsAfterFinished: 86400 } as const;

/** Labels of the component's one-shot Job pods: distinct `name`, so no Service or PDB selects them. */
export function jobLabels(labels: Record<string, string>, component: string): Record<string, string> {
    return { ...labels, "app.kubernetes.io/name": `mlflow-${component}`, "app.kubernetes.io/component": component };
}

/** Pod spec of a one-shot Job of the component (restricted, no API token unless a ServiceAccount needs AWS). */
function oneShotPodSpec(
    serviceAccountName: pulumi.Input<string> | undefined,
    container: k8s.types.input.core.v1.Container,
    volumes: k8s.types.input.core.v1.Volume[],
): k8s.types.input.core.v1.PodSpec {
    return {
        ...(serviceAccountName !== undefined ? { serviceAccountName } : {}),
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        restartPolicy: "Never",
        securityContext: restrictedPodSecurityContext(WORKLOAD_UID),
        containers: [container],
        volumes,
    };
}

/** Secrets Manager statements: read one secret (and decrypt it with its key, through Secrets Manager only). */
function secretStatements(secretArns: pulumi.Input<string>[], actions: string[], kmsKeyArn: pulumi.Input<string>, kmsActions: string[]) {
    const region = aws.getRegionOutput().region;
    return [
        { Sid: "Secrets", Effect: "Allow", Action: actions, Resource: secretArns },
        {
            Sid: "SecretKey",
            Effect: "Allow",
            Action: kmsActions,
            Resource: [kmsKeyArn],
            Condition: { StringEquals: { "kms:ViaService": pulumi.interpolate`secretsmanager.${region}.amazonaws.com` } },
        },
    ];
}

/** Policy of the server's identity: read the dedicated role's secret, nothing else. */
export function readSecretPolicy(appSecretArn: pulumi.Input<string>, kmsKeyArn: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.jsonStringify({ Version: "2012-10-17", Statement: secretStatements([appSecretArn], ["secretsmanager:GetSecretValue"], kmsKeyArn, ["kms:Decrypt"]) });
}

/** Policy of the bootstrap's identity: read the master secret, read and write the dedicated role's secret. */
export function bootstrapSecretPolicy(masterSecretArn: pulumi.Input<string>, appSecretArn: pulumi.Input<string>, kmsKeyArn: pulumi.Input<string>): pulumi.Output<string> {
    const [read, key] = secretStatements([masterSecretArn, appSecretArn], ["secretsmanager:GetSecretValue"], kmsKeyArn, ["kms:Decrypt", "kms:GenerateDataKey"]);
    return pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [read, { Sid: "WriteAppSecret", Effect: "Allow", Action: ["secretsmanager:PutSecretValue"], Resource: [appSecretArn] }, key],
    });
}

/**
 * TrackingServer: an MLflow tracking server on Kubernetes with a PostgreSQL (RDS) backend store
 * and S3 artifacts served through the server.
 *
 * - RDS: private subnets, 5432 only from the client security groups, KMS-encrypted storage,
 *   master password generated by RDS in Secrets Manager, forced TLS, IAM auth, log exports.
 * - Credentials (issue 12, finding 4): MLflow connects as a dedicated role ({@link DB_APP_USER}:
 *   no CREATEDB/CREATEROLE, CONNECT on the MLflow database only, CREATE in its `public` schema),
 *   never as the RDS master. A bootstrap Job (its own ServiceAccount and IAM role, the only
 *   identity that may read the RDS-managed master secret) creates the role on every `pulumi up`
 *   and keeps its generated password in a Secrets Manager secret the program declares without a
 *   value. The server and its migration read that secret with their own Pod Identity at start,
 *   so no password is in Pulumi state, a Kubernetes Secret, a manifest or any argv; the URI
 *   reaches `mlflow server` through its environment and the migration through a Python call.
 *   TLS is `verify-full` against the RDS CA bundle baked into the image.
 *   IAM database authentication stays enabled (for operators' `rds_iam` logins) but MLflow does
 *   not use it: SQLAlchemy would need a token refresher on every new pooled connection (tokens
 *   live 15 minutes), which `mlflow server` has no hook for.
 * - Basic auth (optional): the auth app's ini (with the same URI) is written by the entry into a
 *   memory-backed emptyDir; users and their experiment / registered-model permissions are
 *   created by the `provision-users` Job with the admin credential after each rollout.
 * - Pods: restricted security context, read-only root filesystem, migration init container,
 *   probes on /health, PodDisruptionBudget, zone/host spread, NetworkPolicy.
 *
 * https://mlflow.org/docs/latest/self-hosting/architecture/tracking-server
 */
export class TrackingServer extends pulumi.ComponentResource {
    /** In-cluster tracking URI: `http://<service>.<namespace>.svc.cluster.local:<port>`. */
    public readonly trackingUri: pulumi.Output<string>;
    /** External URL through the HTTPRoute, when a route is configured. */
    public readonly externalUrl: pulumi.Output<string | undefined>;
    /** Database endpoint `host:port`. */
    public readonly dbEndpoint: pulumi.Output<string>;
    /** Database host name. */
    public readonly dbAddress: pulumi.Output<string>;
    /** ARN of the RDS-managed Secrets Manager secret holding the master credentials. */
    public readonly dbSecretArn: pulumi.Output<string>;
    /** Namespace the server runs in. */
    public readonly namespace: pulumi.Output<string>;
    /** Service name. */
    public readonly serviceName: pulumi.Output<string>;
    /** IAM role of the server's ServiceAccount. */
    public readonly roleArn: pulumi.Output<string>;
    /** MLflow version the image must contain. */
    public readonly mlflowVersion: string = MLFLOW_VERSION;
    /** Port of the server's Service (and pods). */
    public readonly port: number;

    constructor(name: string, args: TrackingServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:TrackingServer", name, {}, opts);
        const s = validateTrackingServerArgs(args);
        this.port = s.port;
        const d = s.database;
        const child: pulumi.CustomResourceOptions = { parent: this };
        const stateful: pulumi.CustomResourceOptions = { parent: this, protect: s.protect, retainOnDelete: s.protect };
        const k8sOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
        const tags = { ...s.tags, [ROLE_LABEL]: "tracking" };

        // ---------------------------------------------------------------- database
        let kmsKeyArn: pulumi.Input<string>;
        if (args.kmsKeyArn !== undefined) {
            kmsKeyArn = args.kmsKeyArn;
        } else {
            const key = customerManagedKey(
                `${name}-db-key`,
                {
                    description: `${name}: encrypts the MLflow database, its Performance Insights data and master-password secret`,
                    // RDS creates the master-password secret with the deploying role's rights.
                    ciCryptoViaServices: ["secretsmanager"],
                    tags: { ...tags, Name: `${name}-db-key` },
                },
                stateful,
            );
            kmsKeyArn = key.arn;
        }

        const subnetGroup = new aws.rds.SubnetGroup(
            `${name}-db-subnets`,
            { description: `${name}: private subnets of the MLflow database`, subnetIds: args.subnetIds, tags },
            child,
        );
        const securityGroup = new aws.ec2.SecurityGroup(
            `${name}-db-sg`,
            {
                description: `${name}: PostgreSQL from the cluster only`,
                vpcId: args.vpcId,
                ingress: [
                    {
                        description: "PostgreSQL from the cluster",
                        protocol: "tcp",
                        fromPort: 5432,
                        toPort: 5432,
                        securityGroups: args.clientSecurityGroupIds,
                    },
                ],
                // The database opens no connections.
                egress: [],
                revokeRulesOnDelete: true,
                tags: { ...tags, Name: `${name}-db` },
            },
            child,
        );
        const major = d.engineVersion.split(".")[0];
        const parameterGroup = new aws.rds.ParameterGroup(
            `${name}-db-params`,
            {
                family: `postgres${major}`,
                description: `${name}: MLflow PostgreSQL ${major} (TLS only, statement audit log)`,
                parameters: [
                    { name: "rds.force_ssl", value: "1" },
                    // Audit trail in the exported `postgresql` log; dynamic, so no reboot.
                    { name: "log_statement", value: d.auditLogStatement },
                ],
                tags,
            },
            child,
        );
        // Enhanced Monitoring publishes OS metrics through this role (RDS assumes it for this account only).
        let monitoringRoleArn: pulumi.Output<string> | undefined;
        if (d.monitoringIntervalSeconds > 0) {
            const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
            const partition = aws.getPartitionOutput({}, { parent: this }).partition;
            const monitoringRole = new aws.iam.Role(
                `${name}-db-monitoring-role`,
                {
                    description: `${name}: RDS Enhanced Monitoring of the MLflow database`,
                    assumeRolePolicy: policyJson({
                        Version: "2012-10-17",
                        Statement: [
                            {
                                Effect: "Allow",
                                Principal: { Service: "monitoring.rds.amazonaws.com" },
                                Action: "sts:AssumeRole",
                                Condition: { StringEquals: { "aws:SourceAccount": accountId } },
                            },
                        ],
                    }),
                    tags,
                },
                child,
            );
            const attachment = new aws.iam.RolePolicyAttachment(
                `${name}-db-monitoring-policy`,
                { role: monitoringRole.name, policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole` },
                child,
            );
            monitoringRoleArn = pulumi.all([monitoringRole.arn, attachment.id]).apply(([arn]) => arn);
        }
        const db = new aws.rds.Instance(
            `${name}-db`,
            {
                engine: "postgres",
                engineVersion: d.engineVersion,
                autoMinorVersionUpgrade: true,
                instanceClass: d.instanceClass,
                allocatedStorage: d.allocatedStorageGb,
                maxAllocatedStorage: d.maxAllocatedStorageGb,
                storageType: "gp3",
                storageEncrypted: true,
                kmsKeyId: kmsKeyArn,
                dbName: DB_NAME,
                username: DB_MASTER_USER,
                manageMasterUserPassword: true,
                masterUserSecretKmsKeyId: kmsKeyArn,
                iamDatabaseAuthenticationEnabled: true,
                dbSubnetGroupName: subnetGroup.name,
                vpcSecurityGroupIds: [securityGroup.id],
                parameterGroupName: parameterGroup.name,
                publiclyAccessible: false,
                multiAz: d.multiAz,
                backupRetentionPeriod: d.backupRetentionDays,
                copyTagsToSnapshot: true,
                deletionProtection: d.deletionProtection,
                skipFinalSnapshot: !d.finalSnapshot,
                finalSnapshotIdentifier: d.finalSnapshot ? `${name}-db-final` : undefined,
                enabledCloudwatchLogsExports: ["postgresql", "upgrade"],
                performanceInsightsEnabled: d.performanceInsights,
                performanceInsightsKmsKeyId: d.performanceInsights ? kmsKeyArn : undefined,
                performanceInsightsRetentionPeriod: d.performanceInsights ? 7 : undefined,
                caCertIdentifier: "rds-ca-rsa2048-g1",
                monitoringInterval: d.monitoringIntervalSeconds,
                monitoringRoleArn,
                applyImmediately: d.applyImmediately,
                tags,
            },
            stateful,
        );
        const masterSecretArn = db.masterUserSecrets.apply((secrets) =>
            providerOutput(secrets?.[0]?.secretArn, { component: `TrackingServer ${name}`, resourceType: "aws:rds/instance:Instance", output: "masterUserSecrets[0].secretArn", resource: this }),
        );
        // RDS rotates the managed secret every 7 days unless told otherwise.
        new aws.secretsmanager.SecretRotation(
            `${name}-db-password-rotation`,
            d.passwordRotationDays > 0
                ? { secretId: masterSecretArn, rotationRules: { automaticallyAfterDays: d.passwordRotationDays } }
                : { secretId: masterSecretArn, rotationEnabled: false },
            child,
        );

        // The dedicated role's credentials: the program declares the secret, never a value. The
        // bootstrap Job generates the password and writes the only version.
        const appSecret = new aws.secretsmanager.Secret(
            `${name}-db-app-credentials`,
            {
                description: `${name}: credentials of the MLflow database role ${DB_APP_USER} (written by the db-bootstrap Job)`,
                kmsKeyId: kmsKeyArn,
                recoveryWindowInDays: s.protect ? 30 : 7,
                tags,
            },
            child,
        );

        // ---------------------------------------------------------------- kubernetes
        const ns = new k8s.core.v1.Namespace(
            `${name}-ns`,
            { metadata: { name: s.namespace, labels: { ...RESTRICTED_NAMESPACE_LABELS, [ROLE_LABEL]: "tracking" } } },
            k8sOpts,
        );
        const namespace = ns.metadata.name;
        const labels = {
            "app.kubernetes.io/name": "mlflow",
            "app.kubernetes.io/instance": s.serviceName,
            "app.kubernetes.io/component": "tracking-server",
            "app.kubernetes.io/part-of": "mlops-platform",
            "app.kubernetes.io/version": MLFLOW_VERSION,
            [ROLE_LABEL]: "tracking",
        };
        const selector = { "app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": s.serviceName };

        const wi = args.workloadIdentity ?? {};
        const identity = new WorkloadIdentity(
            `${name}-identity`,
            {
                clusterName: args.clusterName,
                namespace,
                serviceAccountName: s.serviceName,
                policies: { artifacts: args.artifacts.policy, "db-credentials": readSecretPolicy(appSecret.arn, kmsKeyArn) },
                mode: wi.mode,
                oidcProviderArn: wi.oidcProviderArn,
                oidcIssuerUrl: wi.oidcIssuerUrl,
                provider: args.provider,
                labels,
                tags,
            },
            { parent: this },
        );

        const region = aws.getRegionOutput({}, { parent: this });
        const artifactsDestination = pulumi.interpolate`s3://${args.artifacts.bucket}/${s.artifactsPrefix.replace(/\/$/, "")}`;
        // Where the entry finds the database and the dedicated role's credentials (no secrets here).
        const dbEnv: k8s.types.input.core.v1.EnvVar[] = [
            { name: "MLOPS_DB_HOST", value: db.address },
            { name: "MLOPS_DB_PORT", value: db.port.apply(String) },
            { name: "MLOPS_DB_NAME", value: DB_NAME },
            { name: "MLOPS_DB_SECRET_ID", value: appSecret.arn },
            { name: "MLOPS_DB_SSLROOTCERT", value: RDS_CA_BUNDLE_PATH },
            { name: "HOME", value: HOME_DIR },
            { name: "AWS_REGION", value: region.region },
            { name: "AWS_DEFAULT_REGION", value: region.region },
        ];
        const env: k8s.types.input.core.v1.EnvVar[] = [
            ...dbEnv,
            { name: "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", value: String(s.multipartUpload) },
        ];
        if (args.artifacts.kmsKeyArn !== undefined) {
            env.push({
                name: "MLFLOW_S3_UPLOAD_EXTRA_ARGS",
                value: pulumi.jsonStringify({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: args.artifacts.kmsKeyArn }),
            });
        }
        const tmp = scratchVolume("tmp", "/tmp", "1Gi");
        const home = scratchVolume("home", HOME_DIR, "256Mi");
        const volumes: k8s.types.input.core.v1.Volume[] = [tmp.volume, home.volume];
        const mounts: k8s.types.input.core.v1.VolumeMount[] = [tmp.mount, home.mount];
        if (s.auth) {
            const adminRef = (key: string): k8s.types.input.core.v1.EnvVarSource => ({ secretKeyRef: { name: s.auth!.adminSecretName, key } });
            env.push(
                // The entry writes the ini (it holds the database URI) here, in a memory-backed emptyDir.
                { name: "MLFLOW_AUTH_CONFIG_PATH", value: `${AUTH_CONFIG_DIR}/${AUTH_CONFIG_FILE}` },
                { name: "MLOPS_AUTH_DEFAULT_PERMISSION", value: s.auth.defaultPermission },
                { name: "MLFLOW_AUTH_ADMIN_USERNAME", valueFrom: adminRef(AUTH_SECRET_KEYS.username) },
                { name: "MLFLOW_AUTH_ADMIN_PASSWORD", valueFrom: adminRef(AUTH_SECRET_KEYS.password) },
                { name: "MLFLOW_FLASK_SERVER_SECRET_KEY", valueFrom: adminRef(AUTH_SECRET_KEYS.flaskSecretKey) },
            );
            volumes.push({ name: "auth-config", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } });
            mounts.push({ name: "auth-config", mountPath: AUTH_CONFIG_DIR });
        }

        const image = pulumi.output(args.image).apply((i) => assertDigestPinned("TrackingServer arguments", "image", i));
        const securityContext = restrictedContainerSecurityContext();
        const serverArgs = artifactsDestination.apply((dest) => mlflowServerArgs(s, dest));
        const probes = mlflowProbes();

        // Creates the dedicated role with the master credentials, as its own identity: the
        // server's role cannot read the master secret, this one reads nothing else.
        // Not the server's selector labels: the Service and the PDB must not pick these pods.
        const bootstrapLabels = jobLabels(labels, "db-bootstrap");
        const bootstrapIdentity = new WorkloadIdentity(
            `${name}-db-bootstrap-identity`,
            {
                clusterName: args.clusterName,
                namespace,
                serviceAccountName: `${s.serviceName}-db-bootstrap`,
                policies: { "db-bootstrap": bootstrapSecretPolicy(masterSecretArn, appSecret.arn, kmsKeyArn) },
                mode: wi.mode,
                oidcProviderArn: wi.oidcProviderArn,
                oidcIssuerUrl: wi.oidcIssuerUrl,
                provider: args.provider,
                labels: bootstrapLabels,
                tags,
            },
            { parent: this },
        );
        const bootstrap = new k8s.batch.v1.Job(
            `${name}-db-bootstrap`,
            {
                metadata: { namespace, labels: bootstrapLabels },
                spec: {
                    ...ONE_SHOT_JOB_LIMITS,
                    template: {
                        metadata: { labels: bootstrapLabels },
                        spec: oneShotPodSpec(bootstrapIdentity.serviceAccountName, {
                            name: "bootstrap-db",
                            image,
                            command: [...ENTRY_COMMAND],
                            args: ["bootstrap-db"],
                            env: [
                                ...dbEnv,
                                { name: "MLOPS_DB_MASTER_SECRET_ID", value: masterSecretArn },
                                { name: "MLOPS_DB_APP_USER", value: DB_APP_USER },
                            ],
                            resources: containerResources({ cpu: "100m", memory: "256Mi" }),
                            securityContext,
                            volumeMounts: [tmp.mount, home.mount],
                        }, [tmp.volume, home.volume]),
                    },
                },
            },
            { ...k8sOpts, deleteBeforeReplace: true },
        );

        // The Jobs accept no connections (their egress is the namespace's to decide).
        new k8s.networking.v1.NetworkPolicy(
            `${name}-jobs-netpol`,
            {
                metadata: { name: `${s.serviceName}-jobs`, namespace, labels },
                spec: {
                    podSelector: { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["db-bootstrap", "provision-users"].map((c) => jobLabels({}, c)["app.kubernetes.io/name"]) }] },
                    policyTypes: ["Ingress"],
                    ingress: [],
                },
            },
            k8sOpts,
        );

        const deployment = new k8s.apps.v1.Deployment(
            `${name}-server`,
            {
                metadata: { name: s.serviceName, namespace, labels },
                spec: {
                    replicas: s.replicas,
                    revisionHistoryLimit: 5,
                    selector: { matchLabels: selector },
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
                    template: {
                        metadata: { labels },
                        spec: {
                            serviceAccountName: identity.serviceAccountName,
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: restrictedPodSecurityContext(WORKLOAD_UID),
                            terminationGracePeriodSeconds: 30,
                            topologySpreadConstraints: ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map((topologyKey) => ({
                                topologyKey,
                                maxSkew: 1,
                                whenUnsatisfiable: "ScheduleAnyway",
                                labelSelector: { matchLabels: selector },
                            })),
                            initContainers: [
                                {
                                    name: "db-upgrade",
                                    image,
                                    command: [...ENTRY_COMMAND],
                                    args: ["db-upgrade"],
                                    env: dbEnv,
                                    resources: containerResources({ cpu: "100m", memory: "512Mi" }),
                                    securityContext,
                                    volumeMounts: [tmp.mount, home.mount],
                                },
                            ],
                            containers: [
                                {
                                    name: "mlflow",
                                    image,
                                    command: [...ENTRY_COMMAND],
                                    args: serverArgs.apply((a) => ["server", ...a.slice(1)]),
                                    ports: [{ name: "http", containerPort: s.port, protocol: "TCP" }],
                                    env,
                                    resources: containerResources(s.resources),
                                    securityContext,
                                    volumeMounts: mounts,
                                    ...probes,
                                },
                            ],
                            volumes,
                        },
                    },
                },
            },
            { ...k8sOpts, dependsOn: [bootstrap] },
        );

        const service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: { name: s.serviceName, namespace, labels },
                spec: {
                    type: "ClusterIP",
                    selector,
                    ports: [{ name: "http", port: s.port, targetPort: "http", protocol: "TCP", appProtocol: "http" }],
                },
            },
            k8sOpts,
        );

        // A budget only means something with a second pod: with one, maxUnavailable 1 guards nothing
        // (and minAvailable 1 would block every drain). AlwaysAllow lets a drain evict a pod that is
        // not Ready (crash-looping) instead of waiting on it forever.
        if (s.replicas >= 2) {
            new k8s.policy.v1.PodDisruptionBudget(
                `${name}-pdb`,
                {
                    metadata: { name: s.serviceName, namespace, labels },
                    spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow", selector: { matchLabels: selector } },
                },
                k8sOpts,
            );
        }

        const provisionLabels = s.auth && s.auth.users.length > 0 ? jobLabels(labels, "provision-users") : undefined;
        const sources: k8s.types.input.networking.v1.NetworkPolicyPeer[] = [...new Set([...s.allowedNamespaces, ...(s.route ? [s.route.proxyNamespace] : [])])].map((n) => ({
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": n } },
        }));
        new k8s.networking.v1.NetworkPolicy(
            `${name}-netpol`,
            {
                metadata: { name: s.serviceName, namespace, labels },
                spec: {
                    podSelector: { matchLabels: selector },
                    policyTypes: ["Ingress"],
                    ingress: [
                        ...(sources.length > 0 ? [{ from: sources, ports: [{ protocol: "TCP", port: s.port }] }] : []),
                        // The provision-users Job, from the server's own namespace.
                        ...(provisionLabels ? [{ from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": provisionLabels["app.kubernetes.io/name"] } } }], ports: [{ protocol: "TCP", port: s.port }] }] : []),
                    ],
                },
            },
            k8sOpts,
        );

        let provisionUsers: k8s.batch.v1.Job | undefined;
        if (s.auth && provisionLabels) {
            const adminRef = (key: string): k8s.types.input.core.v1.EnvVarSource => ({ secretKeyRef: { name: s.auth!.adminSecretName, key } });
            const users = s.auth.users.map((u, i) => ({
                username: u.username,
                passwordEnv: `MLOPS_USER_${i}_PASSWORD`,
                usernameEnv: `MLOPS_USER_${i}_USERNAME`,
                experiments: u.experiments ?? [],
                registeredModels: u.registeredModels ?? [],
            }));
            provisionUsers = new k8s.batch.v1.Job(
                `${name}-provision-users`,
                {
                    metadata: { namespace, labels: provisionLabels },
                    spec: {
                        ...ONE_SHOT_JOB_LIMITS,
                        template: {
                            metadata: { labels: provisionLabels },
                            spec: oneShotPodSpec(undefined, {
                                name: "provision-users",
                                image,
                                command: [...ENTRY_COMMAND],
                                args: ["provision-users"],
                                env: [
                                    { name: "HOME", value: HOME_DIR },
                                    { name: "MLOPS_TRACKING_URI", value: pulumi.interpolate`http://${service.metadata.name}.${namespace}.svc.cluster.local:${s.port}` },
                                    { name: "MLFLOW_TRACKING_USERNAME", valueFrom: adminRef(AUTH_SECRET_KEYS.username) },
                                    { name: "MLFLOW_TRACKING_PASSWORD", valueFrom: adminRef(AUTH_SECRET_KEYS.password) },
                                    { name: "MLOPS_AUTH_USERS", value: JSON.stringify(users) },
                                    ...s.auth.users.flatMap((u, i) => [
                                        { name: users[i].usernameEnv, valueFrom: { secretKeyRef: { name: u.secretName, key: USER_SECRET_KEYS.username } } },
                                        { name: users[i].passwordEnv, valueFrom: { secretKeyRef: { name: u.secretName, key: USER_SECRET_KEYS.password } } },
                                    ]),
                                ],
                                resources: containerResources({ cpu: "100m", memory: "256Mi" }),
                                securityContext,
                                volumeMounts: [tmp.mount, home.mount],
                            }, [tmp.volume, home.volume]),
                        },
                    },
                },
                { ...k8sOpts, deleteBeforeReplace: true, dependsOn: [deployment, service] },
            );
        }

        let externalUrl: pulumi.Output<string | undefined> = pulumi.output(undefined);
        if (s.route) {
            const r = s.route;
            new k8s.apiextensions.CustomResource(
                `${name}-route`,
                {
                    apiVersion: "gateway.networking.k8s.io/v1",
                    kind: "HTTPRoute",
                    metadata: { name: s.serviceName, namespace, labels },
                    spec: {
                        parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: r.gatewayRef.name, namespace: r.gatewayRef.namespace, sectionName: r.gatewayRef.sectionName }],
                        hostnames: [r.hostname],
                        rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: service.metadata.name, port: s.port }] }],
                    },
                },
                k8sOpts,
            );
            externalUrl = pulumi.output(`${r.tls ? "https" : "http"}://${r.hostname}`);
        }

        // Resolves once the Deployment is ready and, with basic auth, once the provision-users Job
        // has completed, so consumers (training Jobs, model servers, the drift check) start only when
        // their MLflow users exist: before that the server answers 401 and a trainer fails.
        this.trackingUri = pulumi
            .all([service.metadata.name, service.metadata.namespace, deployment.metadata.name, provisionUsers?.metadata.name])
            .apply(([svc, svcNamespace]) => `http://${svc}.${svcNamespace}.svc.cluster.local:${s.port}`);
        this.externalUrl = externalUrl;
        this.dbEndpoint = pulumi.interpolate`${db.address}:${db.port}`;
        this.dbAddress = db.address;
        this.dbSecretArn = masterSecretArn;
        this.namespace = namespace;
        this.serviceName = service.metadata.name;
        this.roleArn = identity.roleArn;
        this.registerOutputs({ trackingUri: this.trackingUri, externalUrl: this.externalUrl, dbEndpoint: this.dbEndpoint, namespace: this.namespace, roleArn: this.roleArn });
    }
}
