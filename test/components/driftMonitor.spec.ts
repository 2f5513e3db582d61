import * as k8s from "@pulumi/kubernetes";
import * as fs from "fs";
import * as assert from "node:assert/strict";
import * as path from "path";
import { DataLake } from "../../components/dataLake";
import { DRIFT_DEFAULTS, DRIFT_METRICS, DRIFT_PUSH_JOB, metricCatalogue, unknownMetrics } from "../../components/dashboards/metrics";
import {
    DRIFT_CONTAINER,
    DriftMonitor,
    DriftMonitorArgs,
    assertReadOnlyPolicy,
    defaultStaleAfter,
    driftAlertRules,
    driftCheckArgs,
    durationSeconds,
    validateDriftMonitorArgs,
} from "../../components/driftMonitor";
import { assertDigestPinned } from "../../components/k8s-validation";
import { checkManifests } from "../../offline-plan/manifests";
import { runPolicyPack } from "../../offline-plan/policy-runner";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory, one, policyDoc, oneComponentPackConfig } from "../helpers/resources";

const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-trainer@sha256:${"c".repeat(64)}`;
const PUSHGATEWAY = "http://kps-pushgateway.monitoring.svc.cluster.local:9091";
const REFERENCE = "s3://mlops-dev-artifacts/mlflow/1/";
const BATCH = "s3://mlops-dev-processed/credit-risk/batches/";
const READ = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:GetObject", "s3:ListBucket"], Resource: "*" }] });

const T = {
    cron: "kubernetes:batch/v1:CronJob",
    rule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
};

type Args = Omit<DriftMonitorArgs, "provider" | "access">;

const BASE: Args = {
    clusterName: "mlops-dev",
    namespace: "ml-training",
    model: "credit-risk",
    image: IMAGE,
    schedule: "0 6 * * *",
    reference: { uri: REFERENCE },
    batch: { uri: BATCH },
    pushgatewayUrl: PUSHGATEWAY,
};

/** Renders a DriftMonitor whose read policies come from a real DataLake (read grants on two prefixes). */
async function render(args: Args, access?: (lake: DataLake) => DriftMonitorArgs["access"], withCrds = false) {
    const rec = await recordResources(() => {
        const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
        const lake = new DataLake("lake");
        // Stands in for the chart that installs the CRDs (a custom resource, so the dependency is recorded).
        const crds = withCrds ? new k8s.core.v1.ConfigMap("crds", { metadata: { name: "crds" } }, { provider }) : undefined;
        const d = new DriftMonitor("credit-risk-drift", {
            ...args,
            provider,
            access: access
                ? access(lake)
                : {
                      referencePolicy: lake.accessPolicy([{ bucket: "artifacts", prefix: "mlflow/", access: "read" }]),
                      batchPolicy: lake.accessPolicy([{ bucket: "processed", prefix: "credit-risk/", access: "read" }]),
                  },
            ...(crds ? { crdDependency: crds } : {}),
        });
        return { cron: d.cronJobName, sa: d.serviceAccountName, role: d.roleArn, rule: d.ruleName };
    });
    const lakeUrns = new Set(rec.resources.filter((r) => r.urn.includes("DataLake") || r.name.startsWith("lake")).map((r) => r.urn));
    return { resources: rec.resources.filter((r) => !r.type.startsWith("pulumi:providers:") && !lakeUrns.has(r.urn) && r.name !== "crds"), outputs: rec.outputs, all: rec.resources };
}

describe("DriftMonitor", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;
    before(async () => ({ resources, outputs } = await render(BASE)));

    it("declares exactly the expected children: identity, NetworkPolicy, CronJob, PrometheusRule", () => {
        assert.deepEqual(
            inventory(resources),
            [
                "aws:eks/podIdentityAssociation:PodIdentityAssociation credit-risk-drift-identity-association",
                "aws:iam/role:Role credit-risk-drift-identity-role",
                "aws:iam/rolePolicy:RolePolicy credit-risk-drift-identity-batch-read",
                "aws:iam/rolePolicy:RolePolicy credit-risk-drift-identity-reference-read",
                `${T.cron} credit-risk-drift-cronjob`,
                "kubernetes:core/v1:ServiceAccount credit-risk-drift-identity-sa",
                `${T.rule} credit-risk-drift-alerts`,
                `${T.netpol} credit-risk-drift-netpol`,
                "mlops-platform:index:DriftMonitor credit-risk-drift",
                "mlops-platform:index:WorkloadIdentity credit-risk-drift-identity",
            ].sort(),
        );
        const component = one(resources, "mlops-platform:index:DriftMonitor", "credit-risk-drift");
        const identity = one(resources, "mlops-platform:index:WorkloadIdentity", "credit-risk-drift-identity");
        for (const r of resources.filter((x) => x !== component)) {
            assert.ok(r.parent === component.urn || r.parent === identity.urn, `${r.name} is parented to the component`);
            if (r.custom && r.type.startsWith("kubernetes:")) assert.match(r.provider, /pulumi:providers:kubernetes::k8s::/);
        }
        assert.deepEqual(outputs, {
            cron: "credit-risk-drift",
            sa: "credit-risk-drift-check",
            role: outputs.role,
            rule: "credit-risk-drift",
        });
        assert.match(outputs.role, /^arn:aws:iam::123456789012:role\//);
    });

    it("renders schema-valid objects (CronJob, NetworkPolicy, ServiceAccount, PrometheusRule)", () => {
        const checks = checkManifests(resources);
        assert.deepEqual(checks.map((c) => c.manifest.kind).sort(), ["CronJob", "NetworkPolicy", "PrometheusRule", "ServiceAccount"]);
        for (const c of checks) assert.deepEqual([c.manifest.kind, c.schema, c.errors], [c.manifest.kind, true, []]);
    });

    it("gives the check read-only access to the reference and batch prefixes, through its own ServiceAccount", () => {
        const ref = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "credit-risk-drift-identity-reference-read"));
        const batch = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "credit-risk-drift-identity-batch-read"));
        for (const doc of [ref, batch]) {
            const actions = doc.Statement.flatMap((s: any) => s.Action);
            assert.ok(actions.every((a: string) => ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:GetObjectVersion", "kms:Decrypt"].includes(a)), actions.join());
            assert.ok(!actions.some((a: string) => /Put|Delete|GenerateDataKey/.test(a)));
        }
        assert.match(JSON.stringify(ref), /mlflow\/\*/);
        assert.match(JSON.stringify(batch), /credit-risk\/\*/);
        const sa = one(resources, "kubernetes:core/v1:ServiceAccount", "credit-risk-drift-identity-sa").inputs;
        assert.deepEqual([sa.metadata.name, sa.metadata.namespace, sa.automountServiceAccountToken], ["credit-risk-drift-check", "ml-training", false]);
        const assoc = one(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "credit-risk-drift-identity-association").inputs;
        assert.deepEqual([assoc.namespace, assoc.serviceAccount], ["ml-training", "credit-risk-drift-check"]);
    });

    it("refuses a policy that grants more than reads, naming the argument", async () => {
        await assert.rejects(
            render(BASE, (lake) => ({
                referencePolicy: lake.accessPolicy([{ bucket: "artifacts", prefix: "mlflow/", access: "read" }]),
                batchPolicy: lake.accessPolicy([{ bucket: "processed", prefix: "credit-risk/", access: "readwrite" }]),
            })),
            (e: any) => e.errors?.some((x: any) => x.propertyPath.startsWith("access.batchPolicy") && /s3:PutObject/.test(x.reason)),
        );
        assertInvalid(() => assertReadOnlyPolicy("t", "access.referencePolicy", JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] })), "access.referencePolicy.Statement[0]");
        assertInvalid(() => assertReadOnlyPolicy("t", "access.referencePolicy", JSON.stringify({ Statement: [{ Effect: "Allow", NotAction: "s3:DeleteObject", Resource: "*" }] })), "access.referencePolicy.Statement[0]");
        assertInvalid(() => assertReadOnlyPolicy("t", "access.referencePolicy", "not json"), "access.referencePolicy");
        assert.equal(assertReadOnlyPolicy("t", "p", READ), READ);
        // Deny statements restrict; they are fine whatever they name.
        assertReadOnlyPolicy("t", "p", JSON.stringify({ Statement: [{ Effect: "Deny", Action: "s3:*", Resource: "*" }, { Effect: "Allow", Action: "s3:GetObject", Resource: "*" }] }));
    });

    describe("CronJob", () => {
        let cron: any;
        let job: any;
        let container: any;
        before(() => {
            cron = one(resources, T.cron, "credit-risk-drift-cronjob").inputs;
            job = cron.spec.jobTemplate.spec;
            container = job.template.spec.containers[0];
        });

        it("is bounded: schedule, Forbid, starting deadline, history, activeDeadline, backoff, TTL", () => {
            assert.deepEqual(
                [cron.metadata.name, cron.metadata.namespace, cron.spec.schedule, cron.spec.concurrencyPolicy, cron.spec.startingDeadlineSeconds, cron.spec.successfulJobsHistoryLimit, cron.spec.failedJobsHistoryLimit],
                ["credit-risk-drift", "ml-training", "0 6 * * *", "Forbid", 300, 3, 3],
            );
            assert.deepEqual([job.activeDeadlineSeconds, job.backoffLimit, job.ttlSecondsAfterFinished], [1800, 1, 86400]);
            // Configuration errors (exit 2) fail the Job at once; evictions do not count.
            assert.deepEqual(job.podFailurePolicy.rules, [
                { action: "FailJob", onExitCodes: { containerName: DRIFT_CONTAINER, operator: "In", values: [2] } },
                { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
            ]);
        });

        it("runs drift.py from the digest-pinned trainer image with the thresholds, the S3 prefixes and the Pushgateway", () => {
            assert.equal(container.name, DRIFT_CONTAINER);
            assert.equal(container.image, IMAGE);
            assert.deepEqual(container.command, ["python", "/app/drift.py"]);
            assert.deepEqual(container.args, [
                "--reference", REFERENCE,
                "--current", BATCH,
                "--model", "credit-risk",
                "--psi-threshold", String(DRIFT_DEFAULTS.psiThreshold),
                "--ks-alpha", String(DRIFT_DEFAULTS.ksAlpha),
                "--decision", "both",
                "--min-rows", "100",
                "--pushgateway", PUSHGATEWAY,
                "--push-job", DRIFT_PUSH_JOB,
                "--drift-exit-code", "0",
            ]);
            assert.deepEqual(
                Object.fromEntries(container.env.map((e: any) => [e.name, e.value])),
                { HOME: "/tmp", TMPDIR: "/tmp", PYTHONDONTWRITEBYTECODE: "1", AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: "us-east-1", MLOPS_RESULT_FILE: "/dev/termination-log" },
            );
        });

        it("every rendered flag is one drift.py accepts", () => {
            const source = fs.readFileSync(path.join(__dirname, "..", "..", "..", "examples", "credit-risk", "drift.py"), "utf8");
            const accepted = new Set([...source.matchAll(/add_argument\("(--[a-z-]+)"/g)].map((m) => m[1]));
            const flags = container.args.filter((a: string) => a.startsWith("--"));
            assert.ok(flags.length >= 10);
            for (const f of flags) assert.ok(accepted.has(f), `drift.py accepts ${f}`);
        });

        it("runs hardened: restricted security context, read-only root with /tmp scratch, no API token, resources", () => {
            const pod = job.template.spec;
            assert.deepEqual([pod.restartPolicy, pod.serviceAccountName, pod.automountServiceAccountToken, pod.enableServiceLinks], ["Never", "credit-risk-drift-check", false, false]);
            assert.equal(pod.securityContext.runAsNonRoot, true);
            assert.deepEqual([container.securityContext.readOnlyRootFilesystem, container.securityContext.allowPrivilegeEscalation, container.securityContext.capabilities], [true, false, { drop: ["ALL"] }]);
            assert.deepEqual(container.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
            assert.deepEqual(pod.volumes, [{ name: "tmp", emptyDir: { sizeLimit: "2Gi" } }]);
            assert.deepEqual(container.resources, { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "1Gi" } });
            // Not a training Job: the platform's TrainingJobFailed alert keys on role=training.
            assert.equal(job.template.metadata.labels["mlops.platform/role"], "system");
        });

        it("accepts no connections (ingress NetworkPolicy selecting its pods)", () => {
            const np = one(resources, T.netpol, "credit-risk-drift-netpol").inputs.spec;
            assert.deepEqual(np.ingress, []);
            for (const [k, v] of Object.entries(np.podSelector.matchLabels)) assert.equal(job.template.metadata.labels[k], v);
        });

        it("passes the security policy pack", async () => {
            const result = await runPolicyPack("security", resources, oneComponentPackConfig(["ml-training"]));
            assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
        });
    });

    describe("alerts", () => {
        it("fire on the drift metric over the thresholds, a stale or missing check, a failed check Job", () => {
            const rule = one(resources, T.rule, "credit-risk-drift-alerts").inputs;
            assert.equal(rule.metadata.namespace, "ml-training");
            const rules = rule.spec.groups[0].rules;
            assert.deepEqual(rules.map((r: any) => r.alert), ["FeatureDriftDetected", "DriftCheckStale", "DriftCheckMissing", "DriftCheckJobFailed"]);
            assert.equal(
                rules[0].expr,
                `(max by (model, feature) (${DRIFT_METRICS.psi}{model="credit-risk"}) > 0.2) and on (model, feature) (min by (model, feature) (${DRIFT_METRICS.ksPvalue}{model="credit-risk"}) < 0.01)`,
            );
            assert.equal(rules[1].expr, `time() - max by (model) (${DRIFT_METRICS.timestamp}{model="credit-risk"}) > 93600`, "daily schedule → 26h");
            assert.equal(rules[3].expr, '(kube_job_failed{condition="true",namespace="ml-training"} == 1) and on (namespace, job_name) kube_job_owner{owner_kind="CronJob",owner_name="credit-risk-drift",namespace="ml-training"}');
            for (const r of rules) {
                assert.ok(r.for && ["critical", "warning", "info"].includes(r.labels.severity), r.alert);
                assert.ok(r.annotations.summary && r.annotations.description && r.annotations.runbook, r.alert);
                assert.equal(r.labels.model, "credit-risk");
            }
            assert.deepEqual(unknownMetrics(rules.map((r: any) => r.expr), metricCatalogue()), []);
        });

        it("follow the configured thresholds and decision rule", () => {
            const s = validateDriftMonitorArgs("d", { ...BASE, provider: {} as any, access: { referencePolicy: READ, batchPolicy: READ }, thresholds: { psi: 0.25, ksAlpha: 0.001, decision: "either" }, alerts: { severity: "critical", for: "1h" } });
            const [drift] = driftAlertRules(s);
            assert.equal(drift.expr, '(max by (model, feature) (mlops_feature_psi{model="credit-risk"}) > 0.25) or on (model, feature) (min by (model, feature) (mlops_feature_ks_pvalue{model="credit-risk"}) < 0.001)');
            assert.deepEqual([drift.for, drift.labels.severity], ["1h", "critical"]);
            assert.match(driftAlertRules({ ...s, decision: "psi" })[0].expr, /^\(max by \(model, feature\) \(mlops_feature_psi\{model="credit-risk"\}\) > 0\.25\)$/);
            assert.match(driftAlertRules({ ...s, decision: "ks" })[0].expr, /^\(min by .* < 0\.001\)$/);
            assert.deepEqual(driftCheckArgs(s, { referenceUri: "s3://a-b/r", batchUri: "s3://a-b/c", pushgatewayUrl: "http://p:9091/" }).slice(6, 12), ["--psi-threshold", "0.25", "--ks-alpha", "0.001", "--decision", "either"]);
        });

        it("wait for the prometheus-operator CRDs when given the dependency", async () => {
            const { all } = await render(BASE, undefined, true);
            const crds = one(all, "kubernetes:core/v1:ConfigMap", "crds");
            assert.ok(one(all, T.rule, "credit-risk-drift-alerts").dependencies.includes(crds.urn));
        });
    });

    it("can fail the Job on drift (exit 1, not retried) and check a feature subset", async () => {
        const { resources: r } = await render({ ...BASE, failJobOnDrift: true, features: ["credit_score", "debt_to_income"], timeZone: "Europe/Paris" });
        const cj = one(r, T.cron, "credit-risk-drift-cronjob").inputs;
        const args: string[] = cj.spec.jobTemplate.spec.template.spec.containers[0].args;
        assert.equal(args[args.indexOf("--drift-exit-code") + 1], "1");
        assert.equal(args[args.indexOf("--features") + 1], "credit_score,debt_to_income");
        assert.deepEqual(cj.spec.jobTemplate.spec.podFailurePolicy.rules[0].onExitCodes.values, [1, 2]);
        assert.equal(cj.spec.timeZone, "Europe/Paris");
    });

    it("derives the staleness window from the schedule", () => {
        assert.deepEqual(
            ["@hourly", "15 * * * *", "@daily", "0 6 * * *", "0 6 * * 1", "0 6 1 * *", "*/30 * * * *"].map(defaultStaleAfter),
            ["2h", "2h", "26h", "26h", "8d", "32d", "2d"],
        );
        assert.equal(durationSeconds("1d2h30m"), 95400);
    });

    it("refuses an image that is not digest-pinned (Outputs are checked with the same helper when they resolve)", () => {
        assertInvalid(() => validateDriftMonitorArgs("d", { ...BASE, image: "python:3.11", provider: {} as any, access: { referencePolicy: READ, batchPolicy: READ } }), "image");
        assertInvalid(() => assertDigestPinned("DriftMonitor arguments", "image", "registry.example/trainer:latest"), "image");
    });

    it("validates its arguments, naming each bad property", () => {
        const base: DriftMonitorArgs = { ...BASE, provider: {} as any, access: { referencePolicy: READ, batchPolicy: READ } };
        const bad = (a: Partial<DriftMonitorArgs>, prop: string, reason?: RegExp) => assertInvalid(() => validateDriftMonitorArgs("credit-risk-drift", { ...base, ...a }), prop, reason);
        bad({ provider: undefined as any }, "provider");
        bad({ namespace: "ML" }, "namespace");
        bad({ namePrefix: "a".repeat(41) }, "namePrefix");
        bad({ model: "credit/risk" }, "model", /Pushgateway path segment/);
        bad({ command: [] }, "command");
        bad({ schedule: "daily" }, "schedule");
        bad({ schedule: "TZ=UTC 0 6 * * *" }, "schedule");
        bad({ timeZone: "Paris time" }, "timeZone");
        bad({ reference: { uri: "https://bucket/key" } }, "reference.uri");
        bad({ batch: { uri: "/data/batch.csv" } }, "batch.uri");
        bad({ reference: undefined as any }, "reference.uri");
        bad({ access: { referencePolicy: READ } as any }, "access.batchPolicy");
        bad({ access: { batchPolicy: READ } as any }, "access.referencePolicy");
        bad({ pushgatewayUrl: "pushgateway:9091" }, "pushgatewayUrl");
        bad({ pushgatewayUrl: undefined as any }, "pushgatewayUrl");
        bad({ thresholds: { psi: 0 } }, "thresholds.psi");
        bad({ thresholds: { ksAlpha: 0.5 } }, "thresholds.ksAlpha");
        bad({ thresholds: { decision: "majority" as any } }, "thresholds.decision");
        bad({ thresholds: { minRows: 5 } }, "thresholds.minRows");
        bad({ features: [] }, "features");
        bad({ features: ["credit score"] }, "features[0]");
        bad({ features: ["age", "age"] }, "features");
        bad({ alerts: { for: "5 minutes" } }, "alerts.for");
        bad({ alerts: { staleAfter: "1 day" } }, "alerts.staleAfter");
        bad({ alerts: { severity: "page" as any } }, "alerts.severity");
        bad({ resources: { cpu: "1", memory: "lots" } }, "resources.memory");
        bad({ scratchSize: "big" }, "scratchSize");
        bad({ activeDeadlineSeconds: 10 }, "activeDeadlineSeconds");
        bad({ backoffLimit: 5 }, "backoffLimit");
        bad({ ttlSecondsAfterFinished: 0 }, "ttlSecondsAfterFinished");
        bad({ startingDeadlineSeconds: 1 }, "startingDeadlineSeconds");
    });
});
