import * as k8s from "@pulumi/kubernetes";
import * as assert from "node:assert/strict";
import {
    MLFLOW_VERSION,
    TrackingServer,
    TrackingServerArgs,
    allowedHostList,
    mlflowServerArgs,
    validateTrackingServerArgs,
} from "../../components/trackingServer";
import { RESTRICTED_NAMESPACE_LABELS } from "../../components/k8s-security";
import { assertDigestPinned } from "../../components/k8s-validation";
import { checkManifests } from "../../offline-plan/manifests";
import { runPolicyPack } from "../../offline-plan/policy-runner";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { renderedDbMigration, renderedTrackingJob, renderedTrackingServer } from "../contract/rendered";
import { assertInvalid, inventory, one, ofType, oneComponentPackConfig, policyDoc } from "../helpers/resources";

// Answered by the getSecretVersion mock (offline-plan/mocks.ts).
const MOCK_PASSWORD = "mock-password-from-secrets-manager";
const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/mlflow@sha256:${"c".repeat(64)}`;
const ARTIFACTS_POLICY = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::art/mlflow/*" }] });
const LAKE_KEY = "arn:aws:kms:us-east-1:123456789012:key/lake";

function args(overrides: Partial<TrackingServerArgs> = {}): TrackingServerArgs {
    return {
        provider: new k8s.Provider("k8s", { kubeconfig: "{}" }),
        clusterName: "mlops-dev",
        vpcId: "vpc-0abc",
        subnetIds: ["subnet-a", "subnet-b"],
        clientSecurityGroupIds: ["sg-cluster", "sg-nodes"],
        image: IMAGE,
        artifacts: { bucket: "mlops-dev-artifacts", prefix: "mlflow/", policy: ARTIFACTS_POLICY },
        allowedNamespaces: ["ml-training", "ml-serving"],
        ...overrides,
    };
}

/** The component and everything beneath it. */
function subtree(resources: RecordedResource[], root: RecordedResource): RecordedResource[] {
    const out = [root];
    for (let i = 0; i < out.length; i++) {
        out.push(...resources.filter((r) => r.parent === out[i].urn));
    }
    return out;
}

async function render(a: TrackingServerArgs | (() => TrackingServerArgs)) {
    return recordResources(() => {
        const ts = new TrackingServer("tracking", typeof a === "function" ? a() : a);
        return { trackingUri: ts.trackingUri, dbEndpoint: ts.dbEndpoint, externalUrl: ts.externalUrl, namespace: ts.namespace, dbSecretArn: ts.dbSecretArn };
    });
}

const RDS = "aws:rds/instance:Instance";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";

describe("TrackingServer", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, unknown>;

    before(async () => {
        const rec = await render(() => args());
        resources = rec.resources;
        outputs = rec.outputs;
    });

    const mlflow = () => one(resources, DEPLOYMENT, "tracking-server").inputs.spec.template.spec.containers[0];

    it("declares exactly the expected children, all under the component", () => {
        const component = one(resources, "mlops-platform:index:TrackingServer", "tracking");
        assert.deepEqual(
            inventory(subtree(resources, component)),
            [
                "aws:ec2/securityGroup:SecurityGroup tracking-db-sg",
                "aws:eks/podIdentityAssociation:PodIdentityAssociation tracking-identity-association",
                "aws:iam/role:Role tracking-identity-role",
                "aws:iam/rolePolicy:RolePolicy tracking-identity-artifacts",
                "aws:iam/rolePolicy:RolePolicy tracking-identity-db-credentials",
                "aws:eks/podIdentityAssociation:PodIdentityAssociation tracking-db-bootstrap-identity-association",
                "aws:iam/role:Role tracking-db-bootstrap-identity-role",
                "aws:iam/rolePolicy:RolePolicy tracking-db-bootstrap-identity-db-bootstrap",
                "aws:secretsmanager/secret:Secret tracking-db-app-credentials",
                "kubernetes:batch/v1:Job tracking-db-bootstrap",
                "kubernetes:core/v1:ServiceAccount tracking-db-bootstrap-identity-sa",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy tracking-jobs-netpol",
                "mlops-platform:index:WorkloadIdentity tracking-db-bootstrap-identity",
                "aws:kms/key:Key tracking-db-key",
                "aws:iam/role:Role tracking-db-monitoring-role",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment tracking-db-monitoring-policy",
                "aws:rds/instance:Instance tracking-db",
                "aws:rds/parameterGroup:ParameterGroup tracking-db-params",
                "aws:rds/subnetGroup:SubnetGroup tracking-db-subnets",
                "aws:secretsmanager/secretRotation:SecretRotation tracking-db-password-rotation",
                "kubernetes:apps/v1:Deployment tracking-server",
                "kubernetes:core/v1:Namespace tracking-ns",
                "kubernetes:core/v1:Service tracking-service",
                "kubernetes:core/v1:ServiceAccount tracking-identity-sa",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy tracking-netpol",
                "mlops-platform:index:TrackingServer tracking",
                "mlops-platform:index:WorkloadIdentity tracking-identity",
            ].sort(),
        );
        const provider = one(resources, "pulumi:providers:kubernetes", "k8s");
        for (const r of resources.filter((x) => x.custom && x.type.startsWith("kubernetes:"))) {
            assert.ok(r.provider.startsWith(provider.urn), `${r.name} uses the cluster's provider`);
        }
    });

    it("runs PostgreSQL privately, encrypted with the KMS key, with RDS-managed credentials, backups, IAM auth and logs", () => {
        const db = one(resources, RDS, "tracking-db").inputs;
        const key = one(resources, "aws:kms/key:Key", "tracking-db-key");
        assert.equal(key.inputs.enableKeyRotation, true);
        assert.equal(db.engine, "postgres");
        assert.equal(db.engineVersion, "17");
        assert.equal(db.autoMinorVersionUpgrade, true);
        assert.equal(db.publiclyAccessible, false);
        assert.equal(db.storageEncrypted, true);
        assert.equal(db.kmsKeyId, key.outputs.arn);
        assert.equal(db.manageMasterUserPassword, true);
        assert.equal(db.masterUserSecretKmsKeyId, key.outputs.arn);
        assert.equal(db.password, undefined, "no password passes through the program");
        assert.equal(db.iamDatabaseAuthenticationEnabled, true);
        assert.ok(db.backupRetentionPeriod >= 7);
        assert.deepEqual(db.enabledCloudwatchLogsExports, ["postgresql", "upgrade"]);
        assert.equal(db.performanceInsightsEnabled, true);
        assert.equal(db.performanceInsightsKmsKeyId, key.outputs.arn);
        assert.equal(db.storageType, "gp3");
        assert.ok(db.maxAllocatedStorage > db.allocatedStorage);
        assert.equal(db.dbSubnetGroupName, one(resources, "aws:rds/subnetGroup:SubnetGroup", "tracking-db-subnets").outputs.name);
        assert.deepEqual(one(resources, "aws:rds/subnetGroup:SubnetGroup", "tracking-db-subnets").inputs.subnetIds, ["subnet-a", "subnet-b"]);
        assert.deepEqual(db.vpcSecurityGroupIds, [one(resources, "aws:ec2/securityGroup:SecurityGroup", "tracking-db-sg").id]);
        // Secure defaults: survives a mistaken delete, snapshot on delete.
        assert.equal(db.deletionProtection, true);
        assert.equal(db.skipFinalSnapshot, false);
        assert.equal(db.finalSnapshotIdentifier, "tracking-db-final");
        assert.equal(db.multiAz, false);
    });

    it("forces TLS and logs DDL statements for audit through its own parameter group", () => {
        const pg = one(resources, "aws:rds/parameterGroup:ParameterGroup", "tracking-db-params");
        assert.equal(pg.inputs.family, "postgres17");
        assert.deepEqual(pg.inputs.parameters, [
            { name: "rds.force_ssl", value: "1" },
            { name: "log_statement", value: "ddl" },
        ]);
        assert.equal(one(resources, RDS, "tracking-db").inputs.parameterGroupName, pg.outputs.name);
    });

    it("turns on Enhanced Monitoring every 60 s through a role only RDS monitoring of this account assumes", () => {
        const db = one(resources, RDS, "tracking-db").inputs;
        const role = one(resources, "aws:iam/role:Role", "tracking-db-monitoring-role");
        assert.equal(db.monitoringInterval, 60);
        assert.equal(db.monitoringRoleArn, role.outputs.arn);
        const trust = policyDoc(role, "assumeRolePolicy").Statement[0];
        assert.deepEqual(trust.Principal, { Service: "monitoring.rds.amazonaws.com" });
        assert.deepEqual(trust.Condition, { StringEquals: { "aws:SourceAccount": "123456789012" } });
        assert.equal(
            one(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "tracking-db-monitoring-policy").inputs.policyArn,
            "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
        );
    });

    it("rejects an Enhanced Monitoring interval RDS does not offer", () =>
        assertInvalid(() => validateTrackingServerArgs(args({ database: { monitoringIntervalSeconds: 20 } })), "database.monitoringIntervalSeconds"));

    it("admits PostgreSQL only from the client security groups, and opens nothing outbound", () => {
        const sg = one(resources, "aws:ec2/securityGroup:SecurityGroup", "tracking-db-sg").inputs;
        assert.equal(sg.vpcId, "vpc-0abc");
        assert.equal(sg.ingress.length, 1);
        const rule = sg.ingress[0];
        assert.deepEqual([rule.protocol, rule.fromPort, rule.toPort], ["tcp", 5432, 5432]);
        assert.deepEqual(rule.securityGroups, ["sg-cluster", "sg-nodes"]);
        assert.equal(rule.cidrBlocks, undefined);
        assert.deepEqual(sg.egress, []);
    });

    it("sets the rotation schedule of the RDS-managed master secret", () => {
        const rot = one(resources, "aws:secretsmanager/secretRotation:SecretRotation", "tracking-db-password-rotation").inputs;
        const db = one(resources, RDS, "tracking-db");
        assert.equal(rot.secretId, db.outputs.masterUserSecrets[0].secretArn);
        assert.deepEqual(rot.rotationRules, { automaticallyAfterDays: 30 });
        assert.equal(outputs.dbSecretArn, db.outputs.masterUserSecrets[0].secretArn);
    });

    it("never reads a secret at deploy time: no getSecretVersion, no Kubernetes Secret, no password in any input", () => {
        for (const r of resources) {
            const text = JSON.stringify(r.inputs);
            for (const needle of [MOCK_PASSWORD, encodeURIComponent(MOCK_PASSWORD), "postgresql://", "postgresql+psycopg2://"]) {
                assert.ok(!text.includes(needle), `${r.type} ${r.name} carries ${needle} in its inputs`);
            }
        }
        assert.equal(ofType(resources, "kubernetes:core/v1:Secret").length, 0, "no Kubernetes Secret holds database credentials");
        const env = mlflow().env;
        assert.ok(!env.some((e: any) => e.valueFrom), "the server needs no Secret reference at all");
        assert.ok(!env.some((e: any) => e.name === "MLFLOW_BACKEND_STORE_URI"), "the URI is set by the entry, in memory");
    });

    it("declares the dedicated role's secret without a value, encrypted with the database key", () => {
        const secret = one(resources, "aws:secretsmanager/secret:Secret", "tracking-db-app-credentials").inputs;
        assert.equal(ofType(resources, "aws:secretsmanager/secretVersion:SecretVersion").length, 0, "no value in the program (or its state)");
        const key = one(resources, "aws:kms/key:Key", "tracking-db-key");
        assert.equal(secret.kmsKeyId, key.outputs.arn);
    });

    it("creates the dedicated role in a bootstrap Job whose identity alone reads the master secret", () => {
        const db = one(resources, RDS, "tracking-db");
        const master = db.outputs.masterUserSecrets[0].secretArn;
        const app = one(resources, "aws:secretsmanager/secret:Secret", "tracking-db-app-credentials").outputs.arn;
        const job = renderedTrackingJob(resources, "bootstrap-db");
        assert.deepEqual([...job.command, ...job.args], ["python", "/opt/mlops/mlops_mlflow.py", "bootstrap-db"]);
        assert.equal(job.env.MLOPS_DB_MASTER_SECRET_ID, master);
        assert.equal(job.env.MLOPS_DB_APP_USER, "mlflow_app");
        assert.equal(job.env.MLOPS_DB_SECRET_ID, app);
        const policies = ofType(resources, "aws:iam/rolePolicy:RolePolicy").map((r) => ({ name: r.name, doc: policyDoc(r) }));
        const readers = policies.filter((p) => JSON.stringify(p.doc).includes(master)).map((p) => p.name);
        assert.deepEqual(readers, ["tracking-db-bootstrap-identity-db-bootstrap"], "only the bootstrap's role may read the master secret");
        const server = policies.find((p) => p.name === "tracking-identity-db-credentials")!.doc;
        assert.deepEqual(server.Statement[0], { Sid: "Secrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [app] });
        assert.equal(server.Statement[1].Condition.StringEquals["kms:ViaService"], "secretsmanager.us-east-1.amazonaws.com");
        // The Deployment waits for it.
        const deployment = one(resources, DEPLOYMENT, "tracking-server");
        assert.ok(deployment.dependencies.some((u: string) => u.endsWith("tracking-db-bootstrap")), "Deployment depends on the bootstrap Job");
        // Its pods are not selected by the server's Service.
        const jobPod = one(resources, "kubernetes:batch/v1:Job", "tracking-db-bootstrap").inputs.spec.template;
        const svc = one(resources, "kubernetes:core/v1:Service", "tracking-service").inputs.spec.selector;
        assert.ok(Object.entries(svc).some(([k, v]) => jobPod.metadata.labels[k] !== v));
    });

    it("runs the image entry's `server` (mlflow server) proxying artifacts to the S3 prefix, with no URI in argv", () => {
        const c = mlflow();
        assert.deepEqual(c.command, ["python", "/opt/mlops/mlops_mlflow.py"]);
        assert.deepEqual(c.args, [
            "server",
            "--artifacts-destination",
            "s3://mlops-dev-artifacts/mlflow",
            "--serve-artifacts",
            "--host",
            "0.0.0.0",
            "--port",
            "5000",
            "--workers",
            "2",
            "--allowed-hosts",
            [
                "mlflow",
                "mlflow:5000",
                "mlflow.mlflow",
                "mlflow.mlflow:5000",
                "mlflow.mlflow.svc",
                "mlflow.mlflow.svc:5000",
                "mlflow.mlflow.svc.cluster.local",
                "mlflow.mlflow.svc.cluster.local:5000",
                "localhost",
                "localhost:*",
                "127.0.0.1",
                "127.0.0.1:*",
            ].join(","),
        ]);
        assert.equal(c.image, IMAGE);
        const env = Object.fromEntries(c.env.filter((e: any) => "value" in e).map((e: any) => [e.name, e.value]));
        assert.equal(env.MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD, "true");
        assert.equal(env.AWS_REGION, "us-east-1");
        assert.equal(env.HOME, "/home/mlflow");
        assert.equal(env.MLFLOW_S3_UPLOAD_EXTRA_ARGS, undefined, "no SSE arguments unless the bucket's key is given");
    });

    it("migrates the schema in an init container before the server starts", () => {
        const init = one(resources, DEPLOYMENT, "tracking-server").inputs.spec.template.spec.initContainers;
        assert.equal(init.length, 1);
        assert.equal(init[0].name, "db-upgrade");
        assert.equal(init[0].image, IMAGE);
        assert.deepEqual([...init[0].command, ...init[0].args], ["python", "/opt/mlops/mlops_mlflow.py", "db-upgrade"]);
        const env = Object.fromEntries(init[0].env.map((e: any) => [e.name, e.value]));
        assert.equal(env.MLOPS_DB_SSLROOTCERT, "/opt/mlops/rds-global-bundle.pem", "verify-full against the RDS CA bundle in the image");
        assert.equal(env.MLOPS_DB_NAME, "mlflow");
        assert.ok(!init[0].env.some((e: any) => e.valueFrom));
        assert.equal(init[0].securityContext.readOnlyRootFilesystem, true);
        assert.ok(init[0].resources.requests.cpu && init[0].resources.limits.memory);
    });

    it("renders the commands the contract spec runs (test/contract/rendered.ts)", () => {
        const server = renderedTrackingServer(resources);
        assert.deepEqual(server.command, ["python", "/opt/mlops/mlops_mlflow.py"]);
        assert.equal(server.args[0], "server");
        assert.equal(server.env.AWS_DEFAULT_REGION, "us-east-1");
        assert.deepEqual(Object.keys(server.env)[0], "MLOPS_DB_HOST", "declaration order is kept");
        const migration = renderedDbMigration(resources);
        assert.deepEqual(migration.args, ["db-upgrade"]);
    });

    it("hardens the pod: restricted security context, read-only root with writable emptyDirs, no API token", () => {
        const pod = one(resources, DEPLOYMENT, "tracking-server").inputs.spec.template.spec;
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
        const c = pod.containers[0];
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
        assert.deepEqual(
            c.volumeMounts.map((m: any) => m.mountPath),
            ["/tmp", "/home/mlflow"],
        );
        assert.deepEqual(pod.volumes.map((v: any) => [v.name, Object.keys(v).filter((k) => k !== "name")[0]]), [["tmp", "emptyDir"], ["home", "emptyDir"]]);
        assert.deepEqual(c.resources, { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "1Gi" } });
        assert.equal(pod.serviceAccountName, "mlflow");
    });

    it("probes /health for startup and readiness, and the open port for liveness, on the http port", () => {
        const c = mlflow();
        for (const p of [c.startupProbe, c.readinessProbe]) {
            assert.deepEqual(p.httpGet, { path: "/health", port: "http" });
        }
        assert.deepEqual([c.livenessProbe.tcpSocket, c.livenessProbe.httpGet], [{ port: "http" }, undefined]);
        assert.deepEqual(c.ports, [{ name: "http", containerPort: 5000, protocol: "TCP" }]);
    });

    it("takes a slow server out of rotation long before liveness would restart it", () => {
        const c = mlflow();
        const window = (p: any) => p.periodSeconds * p.failureThreshold + p.timeoutSeconds;
        // kube-score's pod-probes-identical compares the handlers: they differ, not only the timing.
        assert.notDeepEqual([c.readinessProbe.httpGet, c.readinessProbe.tcpSocket], [c.livenessProbe.httpGet, c.livenessProbe.tcpSocket]);
        assert.ok(window(c.readinessProbe) <= 15, `readiness reacts within 15 s (${window(c.readinessProbe)} s)`);
        assert.ok(window(c.livenessProbe) >= 120, `liveness tolerates two minutes without an answer (${window(c.livenessProbe)} s)`);
        assert.ok(c.livenessProbe.timeoutSeconds > c.readinessProbe.timeoutSeconds, "a late answer fails readiness, not liveness");
        assert.ok(window(c.startupProbe) >= 180, "the startup probe covers a slow first start");
    });

    it("labels the workload for the platform policies and pins the MLflow version from components/python-packages.json", () => {
        const d = one(resources, DEPLOYMENT, "tracking-server").inputs;
        assert.equal(d.metadata.labels["mlops.platform/role"], "tracking");
        assert.equal(d.spec.template.metadata.labels["mlops.platform/role"], "tracking");
        assert.equal(MLFLOW_VERSION, require("../../components/python-packages.json").mlflow);
        assert.equal(d.metadata.labels["app.kubernetes.io/version"], MLFLOW_VERSION);
    });

    it("creates a restricted namespace, a ClusterIP Service and zone/host spread; no PDB with one replica", () => {
        const ns = one(resources, "kubernetes:core/v1:Namespace", "tracking-ns").inputs;
        assert.equal(ns.metadata.name, "mlflow");
        for (const [k, v] of Object.entries(RESTRICTED_NAMESPACE_LABELS)) {
            assert.equal(ns.metadata.labels[k], v);
        }
        const svc = one(resources, "kubernetes:core/v1:Service", "tracking-service").inputs;
        assert.equal(svc.spec.type, "ClusterIP");
        assert.deepEqual(svc.spec.ports, [{ name: "http", port: 5000, targetPort: "http", protocol: "TCP", appProtocol: "http" }]);
        const selector = one(resources, DEPLOYMENT, "tracking-server").inputs.spec.selector.matchLabels;
        assert.deepEqual(svc.spec.selector, selector);
        // With one pod a budget protects nothing: the config reference promises one from 2 replicas on.
        assert.equal(ofType(resources, "kubernetes:policy/v1:PodDisruptionBudget").length, 0);
        const spread = one(resources, DEPLOYMENT, "tracking-server").inputs.spec.template.spec.topologySpreadConstraints;
        assert.deepEqual(spread.map((t: any) => t.topologyKey), ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]);
        const d = one(resources, DEPLOYMENT, "tracking-server").inputs.spec;
        assert.equal(d.replicas, 1);
        assert.deepEqual(d.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
    });

    it("admits only the allowed namespaces on the server port", () => {
        const np = one(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "tracking-netpol").inputs.spec;
        assert.deepEqual(np.policyTypes, ["Ingress"]);
        assert.deepEqual(np.ingress, [
            {
                from: [
                    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ml-training" } } },
                    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ml-serving" } } },
                ],
                ports: [{ protocol: "TCP", port: 5000 }],
            },
        ]);
    });

    it("gives the server a workload identity limited to the artifacts policy and its database credentials", () => {
        const sa = one(resources, "kubernetes:core/v1:ServiceAccount", "tracking-identity-sa").inputs;
        assert.deepEqual([sa.metadata.name, sa.metadata.namespace], ["mlflow", "mlflow"]);
        const policies = resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name.startsWith("tracking-identity-"));
        assert.deepEqual(policies.map((p) => p.name), ["tracking-identity-artifacts", "tracking-identity-db-credentials"]);
        assert.deepEqual(policyDoc(policies[0]), JSON.parse(ARTIFACTS_POLICY));
        const assoc = one(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "tracking-identity-association").inputs;
        assert.deepEqual([assoc.clusterName, assoc.namespace, assoc.serviceAccount], ["mlops-dev", "mlflow", "mlflow"]);
    });

    it("outputs the in-cluster tracking URI and the database endpoint", () => {
        assert.equal(outputs.trackingUri, "http://mlflow.mlflow.svc.cluster.local:5000");
        const db = one(resources, RDS, "tracking-db").outputs;
        assert.equal(outputs.dbEndpoint, `${db.address}:5432`);
        assert.equal(outputs.externalUrl, undefined);
    });

    describe("basic auth with provisioned users", () => {
        let rec: Awaited<ReturnType<typeof recordResources>>;

        before(async () => {
            rec = await recordResources(() => {
                const ts = new TrackingServer(
                    "tracking",
                    args({
                        auth: {
                            adminSecretName: "mlflow-admin",
                            users: [{ username: "mlops-training", secretName: "mlflow-training", experiments: [{ name: "credit-risk", permission: "EDIT" }] }],
                        },
                    }),
                );
                // A consumer of the tracking URI, as a training Job's environment is.
                new k8s.core.v1.ConfigMap("consumer", { metadata: { namespace: "ml-training" }, data: { uri: ts.trackingUri } });
                return { trackingUri: ts.trackingUri };
            });
        });

        it("consumers of trackingUri wait for the provision-users Job: a trainer started before its user exists gets 401", () => {
            const job = one(rec.resources, "kubernetes:batch/v1:Job", "tracking-provision-users");
            const consumer = one(rec.resources, "kubernetes:core/v1:ConfigMap", "consumer");
            assert.ok(consumer.dependencies.includes(job.urn), `consumer depends on ${JSON.stringify(consumer.dependencies)}`);
            assert.ok(consumer.dependencies.includes(one(rec.resources, DEPLOYMENT, "tracking-server").urn), "and on the Deployment");
            assert.equal(rec.outputs.trackingUri, "http://mlflow.mlflow.svc.cluster.local:5000");
        });
    });

    describe("prod knobs, basic auth and a Gateway route", () => {
        let prod: RecordedResource[];
        let prodOutputs: Record<string, unknown>;

        before(async () => {
            const rec = await render(() =>
                args({
                    protect: true,
                    replicas: 2,
                    workers: 4,
                    kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/platform",
                    database: { multiAz: true, instanceClass: "db.m7g.large", backupRetentionDays: 14, passwordRotationDays: 0 },
                    artifacts: { bucket: "mlops-prod-artifacts", prefix: "mlflow/", policy: ARTIFACTS_POLICY, kmsKeyArn: LAKE_KEY },
                    auth: { adminSecretName: "mlflow-admin" },
                    route: { gatewayRef: { name: "public", namespace: "gateway" }, hostname: "mlflow.example.com", proxyNamespace: "envoy-gateway-system" },
                }),
            );
            prod = rec.resources;
            prodOutputs = rec.outputs;
        });

        it("protects the database, runs it Multi-AZ and keeps backups and a final snapshot", () => {
            const db = one(prod, RDS, "tracking-db");
            assert.equal(db.protect, true);
            assert.equal(db.retainOnDelete, true);
            assert.equal(db.inputs.multiAz, true);
            assert.equal(db.inputs.deletionProtection, true);
            assert.equal(db.inputs.skipFinalSnapshot, false);
            assert.equal(db.inputs.backupRetentionPeriod, 14);
            assert.equal(db.inputs.instanceClass, "db.m7g.large");
            assert.equal(db.inputs.kmsKeyId, "arn:aws:kms:us-east-1:123456789012:key/platform");
            assert.equal(prod.filter((r) => r.type === "aws:kms/key:Key").length, 0, "a given key is used, none created");
            const rot = one(prod, "aws:secretsmanager/secretRotation:SecretRotation", "tracking-db-password-rotation").inputs;
            assert.equal(rot.rotationEnabled, false);
            assert.equal(rot.rotationRules, undefined);
        });

        it("runs >= 2 replicas and more workers", () => {
            const d = one(prod, DEPLOYMENT, "tracking-server").inputs;
            assert.equal(d.spec.replicas, 2);
            const c = d.spec.template.spec.containers[0];
            assert.equal(c.args[c.args.indexOf("--workers") + 1], "4");
        });

        it("turns on basic auth with credentials from secrets only", () => {
            const d = one(prod, DEPLOYMENT, "tracking-server").inputs.spec.template.spec;
            const c = d.containers[0];
            assert.deepEqual(c.args.slice(c.args.indexOf("--app-name")), ["--app-name", "basic-auth"]);
            const env = Object.fromEntries(c.env.map((e: any) => [e.name, e]));
            assert.deepEqual(env.MLFLOW_AUTH_ADMIN_USERNAME.valueFrom, { secretKeyRef: { name: "mlflow-admin", key: "username" } });
            assert.deepEqual(env.MLFLOW_AUTH_ADMIN_PASSWORD.valueFrom, { secretKeyRef: { name: "mlflow-admin", key: "password" } });
            assert.deepEqual(env.MLFLOW_FLASK_SERVER_SECRET_KEY.valueFrom, { secretKeyRef: { name: "mlflow-admin", key: "flask-secret-key" } });
            assert.equal(env.MLFLOW_AUTH_CONFIG_PATH.value, "/etc/mlflow/auth/basic_auth.ini");
            assert.equal(env.MLOPS_AUTH_DEFAULT_PERMISSION.value, "NO_PERMISSIONS", "users see only what they are granted");
            // The entry writes the ini (it holds the database URI) into a memory-backed emptyDir.
            const vol = d.volumes.find((v: any) => v.name === "auth-config");
            assert.deepEqual(vol.emptyDir, { medium: "Memory", sizeLimit: "1Mi" });
            assert.ok(c.volumeMounts.some((m: any) => m.name === "auth-config" && m.mountPath === "/etc/mlflow/auth"));
            for (const r of prod) {
                assert.ok(!JSON.stringify(r.inputs).includes(MOCK_PASSWORD), `${r.name} carries the password`);
            }
        });

        it("sends SSE-KMS headers the data lake's bucket policy requires", () => {
            const c = one(prod, DEPLOYMENT, "tracking-server").inputs.spec.template.spec.containers[0];
            const extra = c.env.find((e: any) => e.name === "MLFLOW_S3_UPLOAD_EXTRA_ARGS");
            assert.deepEqual(JSON.parse(extra.value), { ServerSideEncryption: "aws:kms", SSEKMSKeyId: LAKE_KEY });
        });

        it("exposes the server through an HTTPRoute on the gateway's TLS listener, with matching hosts and CORS origin", () => {
            const route = one(prod, "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "tracking-route").inputs;
            assert.equal(route.apiVersion, "gateway.networking.k8s.io/v1");
            assert.deepEqual(route.spec.parentRefs, [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "public", namespace: "gateway", sectionName: "https" }]);
            assert.deepEqual(route.spec.hostnames, ["mlflow.example.com"]);
            assert.deepEqual(route.spec.rules[0].backendRefs, [{ name: "mlflow", port: 5000 }]);
            const c = one(prod, DEPLOYMENT, "tracking-server").inputs.spec.template.spec.containers[0];
            const hosts = c.args[c.args.indexOf("--allowed-hosts") + 1].split(",");
            assert.ok(hosts.includes("mlflow.example.com") && hosts.includes("mlflow.example.com:443"));
            assert.equal(c.args[c.args.indexOf("--cors-allowed-origins") + 1], "https://mlflow.example.com");
            assert.equal(prodOutputs.externalUrl, "https://mlflow.example.com");
        });

        it("renders Kubernetes objects valid against their schemas (Gateway API included)", () => {
            const checks = checkManifests(prod);
            assert.deepEqual(checks.map((c) => c.manifest.kind).sort(), ["Deployment", "HTTPRoute", "Job", "Namespace", "NetworkPolicy", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount", "ServiceAccount"]);
            for (const c of checks) {
                assert.deepEqual([c.manifest.kind, c.schema, c.errors], [c.manifest.kind, true, []]);
            }
        });

        it("has a PodDisruptionBudget from 2 replicas on, which lets drains evict a crash-looping pod", () => {
            const selector = one(prod, DEPLOYMENT, "tracking-server").inputs.spec.selector.matchLabels;
            const pdb = one(prod, "kubernetes:policy/v1:PodDisruptionBudget", "tracking-pdb").inputs;
            assert.deepEqual(pdb.spec, { maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow", selector: { matchLabels: selector } });
        });

        it("passes the security policy pack with no violation", async () => {
            const result = await runPolicyPack("security", prod, oneComponentPackConfig(["mlflow"]));
            assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
        });

        it("admits the gateway's proxy namespace in the NetworkPolicy", () => {
            const np = one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "tracking-netpol").inputs.spec;
            assert.deepEqual(
                np.ingress[0].from.map((f: any) => f.namespaceSelector.matchLabels["kubernetes.io/metadata.name"]),
                ["ml-training", "ml-serving", "envoy-gateway-system"],
            );
        });
    });

    describe("other shapes", () => {
        it("denies all ingress when no namespace is allowed and no route exists", async () => {
            const rec = await render(() => args({ allowedNamespaces: [] }));
            assert.deepEqual(one(rec.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "tracking-netpol").inputs.spec.ingress, []);
        });

        it("skips the final snapshot only when asked (dev teardown)", async () => {
            const rec = await render(() => args({ database: { finalSnapshot: false, deletionProtection: false } }));
            const db = one(rec.resources, RDS, "tracking-db").inputs;
            assert.equal(db.skipFinalSnapshot, true);
            assert.equal(db.finalSnapshotIdentifier, undefined);
            assert.equal(db.deletionProtection, false);
        });

        it("checks an image Output when it resolves", () => {
            assert.equal(assertDigestPinned("TrackingServer arguments", "image", IMAGE), IMAGE);
            assertInvalid(() => assertDigestPinned("TrackingServer arguments", "image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlflow:3.17.2"), "image", /digest/);
        });
    });

    describe("validation", () => {
        const base = () => args();
        const cases: Array<[string, Partial<TrackingServerArgs>]> = [
            ["image", { image: "mlflow:3.17.2" }],
            ["vpcId", { vpcId: "" }],
            ["subnetIds", { subnetIds: ["subnet-a"] }],
            ["clientSecurityGroupIds", { clientSecurityGroupIds: [] }],
            ["namespace", { namespace: "ML_Flow" }],
            ["serviceName", { serviceName: "mlflow server" }],
            ["port", { port: 80 }],
            ["replicas", { replicas: 0 }],
            ["workers", { workers: 0 }],
            ["resources.memory", { resources: { cpu: "1", memory: "lots" } }],
            ["allowedNamespaces[1]", { allowedNamespaces: ["ok", "Not_OK"] }],
            ["allowedHosts[0]", { allowedHosts: ["*"] }],
            ["artifacts.prefix", { artifacts: { bucket: "b", prefix: "/mlflow", policy: "{}" } }],
            ["database.instanceClass", { database: { instanceClass: "m5.large" } }],
            ["database.engineVersion", { database: { engineVersion: "12" } }],
            ["database.allocatedStorageGb", { database: { allocatedStorageGb: 5 } }],
            ["database.maxAllocatedStorageGb", { database: { allocatedStorageGb: 100, maxAllocatedStorageGb: 50 } }],
            ["database.backupRetentionDays", { database: { backupRetentionDays: 1 } }],
            ["database.passwordRotationDays", { database: { passwordRotationDays: -1 } }],
            ["database.deletionProtection", { protect: true, database: { deletionProtection: false } }],
            ["database.finalSnapshot", { protect: true, database: { finalSnapshot: false } }],
            ["auth.adminSecretName", { auth: { adminSecretName: "Admin Secret" } }],
            ["auth.defaultPermission", { auth: { adminSecretName: "a", defaultPermission: "ALL" as any } }],
            ["route.hostname", { route: { gatewayRef: { name: "gw", namespace: "gateway" }, hostname: "mlflow" } }],
            ["route.gatewayRef.namespace", { route: { gatewayRef: { name: "gw", namespace: "" }, hostname: "mlflow.example.com" } }],
        ];
        for (const [property, override] of cases) {
            it(`names ${property}`, () => {
                assertInvalid(() => validateTrackingServerArgs({ ...base(), ...override }), property);
            });
        }

        it("reports every problem at once", () => {
            assert.throws(
                () => validateTrackingServerArgs({ ...base(), port: 1, replicas: 0, image: "x" }),
                (e: any) => ["port", "replicas", "image"].every((p) => e.errors.some((x: any) => x.propertyPath === p)),
            );
        });

        it("throws from the constructor before declaring anything", async () => {
            const rec = await recordResources(() => {
                assert.throws(() => new TrackingServer("bad", args({ port: 22 })), /port/);
            });
            assert.equal(rec.resources.filter((r) => r.type === RDS).length, 0);
        });
    });

    it("lists Service names, port-forward hosts and route hosts as allowed hosts", () => {
        const s = validateTrackingServerArgs(args({ namespace: "tracking", serviceName: "ml", port: 8080, allowedHosts: ["10.0.*"] }));
        const hosts = allowedHostList(s);
        assert.ok(hosts.includes("ml.tracking.svc.cluster.local:8080"));
        assert.ok(hosts.includes("10.0.*"));
        assert.equal(new Set(hosts).size, hosts.length);
        assert.ok(!mlflowServerArgs(s, "s3://b/p").includes("--app-name"));
    });
});
