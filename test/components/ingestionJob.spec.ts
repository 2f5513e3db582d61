import * as k8s from "@pulumi/kubernetes";
import * as assert from "node:assert/strict";
import { DataLake } from "../../components/dataLake";
import { INGEST_CONTAINER, IngestionJob, IngestionJobArgs, assertWriteOnlyPolicy, validateIngestionJobArgs } from "../../components/ingestionJob";
import { checkManifests } from "../../offline-plan/manifests";
import { runPolicyPack } from "../../offline-plan/policy-runner";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory, one, oneComponentPackConfig, policyDoc } from "../helpers/resources";

const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-trainer@sha256:${"c".repeat(64)}`;
const T = { cron: "kubernetes:batch/v1:CronJob", netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy" };
type Args = Omit<IngestionJobArgs, "provider" | "access" | "destinationBucket">;
const BASE: Args = {
    clusterName: "mlops-dev",
    namespace: "ml-training",
    dataset: "credit-risk",
    image: IMAGE,
    schedule: "30 1 * * *",
    source: { uri: "s3://partner-exports/credit/{date}/" },
};

async function render(args: Args) {
    const rec = await recordResources(() => {
        const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
        const lake = new DataLake("lake");
        const https = args.source.uri.startsWith("https://");
        const j = new IngestionJob("credit-risk-ingest", {
            ...args,
            provider,
            destinationBucket: lake.rawBucket,
            access: {
                ...(https ? {} : { sourcePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:GetObject", "s3:ListBucket"], Resource: "*" }] }) }),
                destinationPolicy: lake.accessPolicy([{ bucket: "raw", prefix: "credit-risk/", access: "write" }]),
            },
        });
        return { cron: j.cronJobName, sa: j.serviceAccountName, role: j.roleArn, raw: lake.rawBucket };
    });
    const lakeUrns = new Set(rec.resources.filter((r) => r.urn.includes("DataLake") || r.name.startsWith("lake")).map((r) => r.urn));
    return { resources: rec.resources.filter((r) => !r.type.startsWith("pulumi:providers:") && !lakeUrns.has(r.urn)), outputs: rec.outputs };
}

describe("IngestionJob", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;
    before(async () => ({ resources, outputs } = await render(BASE)));

    it("declares exactly the expected children: identity with read-source and write-raw policies, NetworkPolicy, CronJob", () => {
        assert.deepEqual(
            inventory(resources),
            [
                "aws:eks/podIdentityAssociation:PodIdentityAssociation credit-risk-ingest-identity-association",
                "aws:iam/role:Role credit-risk-ingest-identity-role",
                "aws:iam/rolePolicy:RolePolicy credit-risk-ingest-identity-raw-write",
                "aws:iam/rolePolicy:RolePolicy credit-risk-ingest-identity-source-read",
                `${T.cron} credit-risk-ingest-cronjob`,
                "kubernetes:core/v1:ServiceAccount credit-risk-ingest-identity-sa",
                `${T.netpol} credit-risk-ingest-netpol`,
                "mlops-platform:index:IngestionJob credit-risk-ingest",
                "mlops-platform:index:WorkloadIdentity credit-risk-ingest-identity",
            ].sort(),
        );
        assert.equal(outputs.cron, "credit-risk-ingest");
        assert.equal(outputs.sa, "credit-risk-ingest");
    });

    it("renders schema-valid objects", () => {
        const checks = checkManifests(resources);
        assert.deepEqual(checks.map((c) => c.manifest.kind).sort(), ["CronJob", "NetworkPolicy", "ServiceAccount"]);
        for (const c of checks) assert.deepEqual([c.manifest.kind, c.schema, c.errors], [c.manifest.kind, true, []]);
    });

    it("is bounded and runs ingest.py with the source, the raw bucket's dataset prefix and no retry on configuration errors", () => {
        const cron = one(resources, T.cron, "credit-risk-ingest-cronjob").inputs;
        assert.equal(cron.spec.schedule, "30 1 * * *");
        assert.equal(cron.spec.concurrencyPolicy, "Forbid");
        assert.equal(cron.spec.startingDeadlineSeconds, 600);
        const job = cron.spec.jobTemplate.spec;
        assert.deepEqual([job.backoffLimit, job.activeDeadlineSeconds, job.ttlSecondsAfterFinished], [2, 3600, 86400]);
        assert.deepEqual(job.podFailurePolicy.rules[0], { action: "FailJob", onExitCodes: { containerName: INGEST_CONTAINER, operator: "In", values: [2] } });
        const c = job.template.spec.containers[0];
        assert.deepEqual(c.command, ["python", "/app/ingest.py"]);
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
        assert.equal(env.MLOPS_INGEST_SOURCE, "s3://partner-exports/credit/{date}/");
        assert.equal(env.MLOPS_INGEST_DEST, `s3://${outputs.raw}/credit-risk/`);
        assert.equal(env.MLOPS_INGEST_SUFFIXES, ".csv");
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(job.template.spec.automountServiceAccountToken, false);
    });

    it("can only write the dataset prefix of the raw bucket (no read, no delete)", () => {
        const doc = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "credit-risk-ingest-identity-raw-write"));
        const actions = doc.Statement.flatMap((s: any) => s.Action);
        assert.ok(actions.includes("s3:PutObject"));
        for (const a of ["s3:GetObject", "s3:DeleteObject", "s3:GetObjectVersion"]) assert.ok(!actions.includes(a), a);
        assert.throws(
            () => assertWriteOnlyPolicy("IngestionJob arguments", "access.destinationPolicy", JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }] })),
            /access\.destinationPolicy\.Statement\[0\]: grants "s3:GetObject"/,
        );
    });

    it("gives an HTTPS source egress to public addresses on 443 only, and no S3 source access", async () => {
        const https = await render({ ...BASE, source: { uri: "https://data.example.com/exports/{date}.csv" } });
        const np = one(https.resources, T.netpol, "credit-risk-ingest-netpol").inputs.spec;
        assert.deepEqual(np.policyTypes, ["Ingress", "Egress"]);
        assert.deepEqual(np.egress, [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] } }], ports: [{ protocol: "TCP", port: 443 }] }]);
        assert.ok(!https.resources.some((r) => r.name.endsWith("source-read")));
    });

    it("passes the security policy pack", async () => {
        const result = await runPolicyPack("security", resources, oneComponentPackConfig(["ml-training"]));
        assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
    });

    it("validates its arguments, naming each bad property", () => {
        const ok = { ...BASE, provider: {} as any, destinationBucket: "raw", access: { sourcePolicy: "{}", destinationPolicy: "{}" } };
        assertInvalid(() => validateIngestionJobArgs({ ...ok, source: { uri: "ftp://x/y" } }), "source.uri");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, source: { uri: "s3://bucket/no-trailing-slash" } }), "source.uri");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, source: { uri: "s3://bucket/p/", suffixes: [] } }), "source.suffixes");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, access: { destinationPolicy: "{}" } }), "access.sourcePolicy");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, source: { uri: "https://x.example/a.csv" } }), "access.sourcePolicy");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, dataset: "Credit_Risk" }), "dataset");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, schedule: "daily" }), "schedule");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, image: "trainer:latest" }), "image");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, backoffLimit: 9 }), "backoffLimit");
        assertInvalid(() => validateIngestionJobArgs({ ...ok, activeDeadlineSeconds: 10 }), "activeDeadlineSeconds");
    });
});
