import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ProgramRun, runProgram } from "../../offline-plan/run";
import { SECRET_PLACEHOLDER } from "../../offline-plan/types";
import { ofType } from "../helpers/resources";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const STATEFUL = ["aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:ecr/repository:Repository"];

describe("whole program, both stacks", function () {
    const runs: Record<string, ProgramRun> = {};

    before(async () => {
        for (const stack of ["dev", "prod"]) {
            runs[stack] = await runProgram({ root: ROOT, stack });
        }
    });

    it("dev: data can be destroyed with the stack and nothing is protected", () => {
        const buckets = ofType(runs.dev.resources, "aws:s3/bucket:Bucket");
        assert.equal(buckets.length, 4);
        assert.ok(buckets.every((b) => b.inputs.forceDestroy === true && !b.protect));
        assert.equal(runs.dev.outputs.environment, "dev");
    });

    it("prod: stateful resources are protected and retained, never force-destroyed", () => {
        for (const type of STATEFUL) {
            const rs = ofType(runs.prod.resources, type);
            assert.ok(rs.length > 0, `prod has ${type}`);
            for (const r of rs) {
                assert.equal(r.protect, true, `${r.name} protected`);
                assert.equal(r.retainOnDelete, true, `${r.name} retained`);
                assert.notEqual(r.inputs.forceDestroy, true);
                assert.notEqual(r.inputs.forceDelete, true);
            }
        }
    });

    it("prod keeps noncurrent versions for a year", () => {
        const lc = runs.prod.resources.find((r) => r.name.endsWith("-raw-lifecycle"))!;
        assert.equal(lc.inputs.rules.find((r: any) => r.id === "expire-noncurrent-versions").noncurrentVersionExpiration.noncurrentDays, 365);
    });

    it("exports computed outputs the way the providers compute them", () => {
        const o = runs.dev.outputs as any;
        assert.match(o.rawBucket, /^mlops-data-raw-[0-9a-f]{7}$/);
        assert.match(o.dataKmsKeyArn, /^arn:aws:kms:us-east-1:123456789012:key\//);
        assert.equal(o.repositoryUrls.trainer, "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-platform-dev/trainer");
        assert.equal(o.dvcRemoteUrl, `s3://${o.rawBucket}/dvc`);
    });

    it("exports hold values, never the text of an unresolved Output (nested Outputs are lifted as the engine does)", () => {
        for (const run of Object.values(runs)) {
            const text = JSON.stringify(run.outputs);
            assert.ok(!text.includes("Calling [toJSON] on an [Output<T>]"), text.slice(0, 300));
            assert.ok(!text.includes("Output<T>"));
        }
        const o = runs.prod.outputs as any;
        assert.match(o.ciRoleArns.deploy, /^arn:aws:iam::123456789012:role\//);
        assert.deepEqual(Object.keys(o.gpuPools).sort(), ["serving", "training"]);
        for (const name of Object.values<string>(o.gpuPools)) {
            assert.equal(typeof name, "string");
        }
    });

    it("no input carries an unresolved account, region or partition (`undefined` inside an ARN or service name)", () => {
        for (const run of Object.values(runs)) {
            for (const r of run.resources) {
                const text = JSON.stringify(r.inputs);
                assert.ok(!/arn:undefined|:undefined:|\.undefined\.|undefined\.amazonaws|"undefined"/.test(text), `${r.type} ${r.name}: ${text.match(/.{0,60}undefined.{0,40}/)?.[0]}`);
            }
        }
    });

    it("the program only calls invokes the mock layer knows (unknown ones fail the run)", () => {
        assert.ok(runs.dev.invokes.includes("aws:index/getCallerIdentity:getCallerIdentity"));
    });

    it("every resource is parented under the MlPlatform component", () => {
        for (const run of Object.values(runs)) {
            const roots = run.resources.filter((r) => r.parent === "");
            assert.deepEqual(roots.map((r) => r.type), ["mlops-platform:index:MlPlatform"]);
        }
    });

    it("no secret appears in plain text in any input", () => {
        for (const run of Object.values(runs)) {
            const text = JSON.stringify(run.resources);
            assert.ok(!text.includes("mock-ecr-password") && !text.includes("mock-password-from-secrets-manager"));
            for (const r of run.resources) {
                for (const key of r.secretInputs) {
                    assert.ok(JSON.stringify(r.inputs[key]).includes(SECRET_PLACEHOLDER));
                }
            }
        }
    });

    it("a training run records its source commit as lineage (GIT_SHA for the trainer)", async () => {
        const dev = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["mlops-platform:training"];
        const run = await runProgram({
            root: ROOT,
            stack: "dev",
            configOverrides: { "mlops-platform:training": JSON.stringify({ ...dev, gitSha: "4f2a9c0d7b1e3a5c6d8e9f0a1b2c3d4e5f607182" }) },
        });
        const job = run.resources.find((r) => r.type === "kubernetes:batch/v1:Job" && r.inputs.metadata?.labels?.["mlops.platform/role"] === "training")!;
        const env = job.inputs.spec.template.spec.containers[0].env;
        assert.ok(env.some((e: any) => e.name === "GIT_SHA" && e.value === "4f2a9c0d7b1e3a5c6d8e9f0a1b2c3d4e5f607182"));
    });

    it("with MLflow basic auth on, training and model servers each read their own credential; users are provisioned least-privilege", async () => {
        const run = await runProgram({
            root: ROOT,
            stack: "dev",
            configOverrides: {
                "mlops-platform:trackingAuthAdminSecret": "mlflow-admin",
                "mlops-platform:trackingTrainingSecret": "mlflow-training",
                "mlops-platform:trackingServingSecret": "mlflow-serving",
            },
        });
        const fromSecret = (containers: any[], name: string) =>
            containers.flatMap((c) => c.env ?? []).find((e: any) => e.name === name)?.valueFrom?.secretKeyRef;
        const job = run.resources.find((r) => r.type === "kubernetes:batch/v1:Job" && r.inputs.metadata?.labels?.["mlops.platform/role"] === "training")!;
        assert.deepEqual(fromSecret(job.inputs.spec.template.spec.containers, "MLFLOW_TRACKING_PASSWORD"), { name: "mlflow-training", key: "password" });
        // The MLflow client records LOGNAME as the run's user: the gate checks it against the training user.
        assert.deepEqual(fromSecret(job.inputs.spec.template.spec.containers, "LOGNAME"), { name: "mlflow-training", key: "username" });
        const server = run.resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === "mlops-serving-stable")!;
        assert.deepEqual(fromSecret(server.inputs.spec.template.spec.containers, "MLFLOW_TRACKING_USERNAME"), { name: "mlflow-serving", key: "username" });
        const provision = run.resources.find((r) => r.type === "kubernetes:batch/v1:Job" && r.inputs.spec?.template?.spec?.containers?.[0]?.name === "provision-users")!;
        const env = Object.fromEntries(provision.inputs.spec.template.spec.containers[0].env.map((e: any) => [e.name, e]));
        assert.deepEqual(JSON.parse(env.MLOPS_AUTH_USERS.value), [
            {
                username: "mlops-training",
                passwordEnv: "MLOPS_USER_0_PASSWORD",
                usernameEnv: "MLOPS_USER_0_USERNAME",
                experiments: [{ name: "credit-risk", permission: "EDIT" }],
                registeredModels: [{ name: "credit-risk", permission: "EDIT" }],
            },
            {
                username: "mlops-serving",
                passwordEnv: "MLOPS_USER_1_PASSWORD",
                usernameEnv: "MLOPS_USER_1_USERNAME",
                experiments: [{ name: "credit-risk", permission: "READ" }],
                registeredModels: [{ name: "credit-risk", permission: "READ" }],
            },
        ]);
        assert.deepEqual(env.MLOPS_USER_1_PASSWORD.valueFrom, { secretKeyRef: { name: "mlflow-serving", key: "password" } });
        assert.deepEqual(env.MLFLOW_TRACKING_PASSWORD.valueFrom, { secretKeyRef: { name: "mlflow-admin", key: "password" } });
        for (const missing of ["trackingTrainingSecret", "trackingServingSecret"]) {
            const overrides: Record<string, string> = {
                "mlops-platform:trackingAuthAdminSecret": "mlflow-admin",
                "mlops-platform:trackingTrainingSecret": "mlflow-training",
                "mlops-platform:trackingServingSecret": "mlflow-serving",
            };
            delete overrides[`mlops-platform:${missing}`];
            await assert.rejects(runProgram({ root: ROOT, stack: "dev", configOverrides: overrides }), new RegExp(`mlops-platform:${missing}`));
        }
        await assert.rejects(
            runProgram({ root: ROOT, stack: "dev", configOverrides: { "mlops-platform:trackingServingUser": "mlops-training" } }),
            /mlops-platform:trackingServingUser: must differ from trackingTrainingUser/,
        );
        await assert.rejects(
            runProgram({ root: ROOT, stack: "dev", configOverrides: { "mlops-platform:vpcInterfaceEndpoints": '["ecr.api","sts"]' } }),
            /mlops-platform:vpcInterfaceEndpoints: must include "secretsmanager"/,
        );
    });

    it("a bad config value fails the run with an error naming the key", async () => {
        await assert.rejects(
            runProgram({ root: ROOT, stack: "dev", configOverrides: { "mlops-platform:environment": "qa" } }),
            (e: any) => /mlops-platform:environment/.test(e.message) && /got "qa"/.test(e.message),
        );
    });
});
