// The offline policy runner: engine-style config reconciliation, enforcement levels, stack analysis
// inputs and secret encoding, against the real security pack served over gRPC.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import {
    defaultRoot,
    loadPolicyConfig,
    PolicyPackSession,
    runPolicyPack,
    startPolicyPack,
    toPropertiesStruct,
} from "../../offline-plan/policy-runner";
import { SECRET_PLACEHOLDER } from "../../offline-plan/types";
import { recordedResource } from "../helpers/resources";

const { deserializeProperties } = require("@pulumi/policy/deserialize");
const { Secret } = require("@pulumi/policy");

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const res = recordedResource;

const BUCKET = "aws:s3/bucket:Bucket";
const SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration";
const REPO = "aws:ecr/repository:Repository";
const badRepo = () => res(REPO, "repo", { name: "r", forceDelete: true, imageTagMutability: "MUTABLE" });

const tempDirs: string[] = [];
function tempRoot(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-runner-"));
    tempDirs.push(dir);
    for (const [f, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), text);
    }
    return dir;
}

describe("policy runner", () => {
    after(() => {
        for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
    });

    describe("loadPolicyConfig", () => {
        it("reads policies/config/<stack>.json", () => {
            const dev = loadPolicyConfig(defaultRoot(), "dev");
            assert.equal(dev["s3-no-force-destroy"], "disabled");
            assert.deepEqual(dev["rds-multi-az"], { requireMultiAz: false });
        });

        it("returns {} for a stack without a file", () => {
            assert.deepEqual(loadPolicyConfig(defaultRoot(), "no-such-stack"), {});
        });

        it("rejects an invalid enforcement level, naming the policy", () => {
            const root = tempRoot({ "policies/config/bad.json": JSON.stringify({ "s3-sse-kms": "strict" }) });
            assert.throws(() => loadPolicyConfig(root, "bad"), /s3-sse-kms.*"strict" is not a valid enforcement level/);
        });
    });

    describe("startup failures", () => {
        it("says to compile when the pack's index.js is missing", async () => {
            const root = tempRoot({ "policies/gating/package.json": "{}" });
            await assert.rejects(startPolicyPack("gating", { root }), /dist\/policies\/gating\/index\.js is missing \(run npx tsc first\)/);
        });

        it("reports the exit when the pack process dies before serving", async () => {
            const root = tempRoot({
                "dist/policies/security/index.js": "console.error('boom: bad policy'); process.exit(3);",
                "policies/security/package.json": JSON.stringify({ version: "0.0.1" }),
            });
            await assert.rejects(startPolicyPack("security", { root }), /exited with code 3 before serving:[\s\S]*boom: bad policy/);
        });
    });

    describe("with the security pack", () => {
        let pack: PolicyPackSession;

        before(async () => {
            pack = await startPolicyPack("security");
        });

        after(async () => {
            await pack?.close();
        });

        it("reports metadata, policy types and config schemas from GetAnalyzerInfo", () => {
            const byName = new Map(pack.policies.map((p) => [p.name, p]));
            assert.equal(byName.get("s3-sse-cmk")?.policyType, "resource");
            assert.equal(byName.get("s3-sse-configured")?.policyType, "stack");
            assert.equal(byName.get("ebs-default-encryption")?.enforcementLevel, "advisory");
            assert.equal(byName.get("s3-no-force-destroy")?.enforcementLevel, "mandatory");
            assert.equal(byName.get("iam-no-admin-star")?.severity, "critical");
            const schema = byName.get("eks-version-allowlist")?.configSchema;
            assert.ok(Array.isArray(schema?.properties.allowedVersions.default));
        });

        it("reconciles config like the engine: defaults, then `all`, then per-policy", () => {
            const c = pack.reconcileConfig({ all: "advisory", "gpu-nodegroup-bounds": { enforcementLevel: "mandatory", maxNodes: 2 }, "s3-sse-kms": "disabled" });
            assert.equal(c["s3-sse-cmk"].enforcementLevel, "advisory");
            assert.equal(c["s3-sse-kms"].enforcementLevel, "disabled");
            assert.equal(c["gpu-nodegroup-bounds"].enforcementLevel, "mandatory");
            assert.deepEqual(c["gpu-nodegroup-bounds"].properties, { maxNodes: 2, requireScaleToZero: false });
            assert.deepEqual(c["rds-backup-retention"].properties, { minRetentionDays: 7 });
            const none = pack.reconcileConfig();
            assert.equal(none["ebs-default-encryption"].enforcementLevel, "advisory");
            assert.equal(none["s3-sse-kms"].enforcementLevel, "mandatory");
        });

        it("rejects config that does not match a policy's schema", async () => {
            await assert.rejects(
                pack.run([badRepo()], { "gpu-nodegroup-bounds": { maxNodes: "lots" } }),
                /policy pack configuration is invalid[\s\S]*gpu-nodegroup-bounds: maxNodes: invalid type/,
            );
        });

        it("applies enforcement levels: default, disabled, advisory, `all` and per-policy overrides", async () => {
            const levels = async (config?: any) => {
                const r = await pack.run([badRepo()], config);
                return Object.fromEntries(r.violations.map((v) => [v.policyName, v.enforcementLevel]));
            };
            const base = await levels();
            assert.equal(base["ecr-no-force-delete"], "mandatory");
            assert.equal(base["ecr-immutable-tags"], "mandatory");

            const disabled = await levels({ "ecr-no-force-delete": "disabled" });
            assert.equal(disabled["ecr-no-force-delete"], undefined);
            assert.equal(disabled["ecr-immutable-tags"], "mandatory");

            const advisory = await levels({ "ecr-no-force-delete": { enforcementLevel: "advisory" } });
            assert.equal(advisory["ecr-no-force-delete"], "advisory");

            const all = await levels({ all: "advisory", "ecr-immutable-tags": "mandatory" });
            assert.equal(all["ecr-no-force-delete"], "advisory");
            assert.equal(all["ecr-immutable-tags"], "mandatory");

            const allDisabled = await levels({ all: "disabled" });
            assert.deepEqual(allDisabled, {});

            // Configure replaces the whole config: nothing leaks into the next run.
            const again = await levels();
            assert.deepEqual(again, base);
        });

        it("passes config properties to the policy", async () => {
            const cluster = res("aws:eks/cluster:Cluster", "c", { version: "1.27", vpcConfig: { subnetIds: [] } });
            const strict = await pack.run([cluster]);
            assert.ok(strict.violations.some((v) => v.policyName === "eks-version-allowlist" && /"1\.27"/.test(v.message)));
            const relaxed = await pack.run([cluster], { "eks-version-allowlist": { allowedVersions: ["1.27"] } });
            assert.ok(!relaxed.violations.some((v) => v.policyName === "eks-version-allowlist"));
        });

        it("sends propertyDependencies to stack policies", async () => {
            // No literal bucket name to match on: only the property dependency links the two.
            const bucket = res(BUCKET, "b", {});
            const sseInputs = { bucket: "b-0a1b2c", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: "k" }, bucketKeyEnabled: true }] };
            const linked = res(SSE, "b-sse", sseInputs, { propertyDependencies: { bucket: [bucket.urn] }, dependencies: [bucket.urn] });
            const unlinked = res(SSE, "b-sse", sseInputs);
            const withDeps = await pack.run([bucket, linked]);
            assert.ok(!withDeps.violations.some((v) => v.policyName === "s3-sse-configured"));
            const withoutDeps = await pack.run([bucket, unlinked]);
            const v = withoutDeps.violations.find((x) => x.policyName === "s3-sse-configured");
            assert.equal(v?.urn, bucket.urn);
            assert.equal(v?.phase, "stack");
        });

        it("attributes per-resource violations to the analyzed resource", async () => {
            const repo = badRepo();
            const r = await pack.run([repo]);
            const v = r.violations.find((x) => x.policyName === "ecr-no-force-delete");
            assert.equal(v?.urn, repo.urn);
            assert.equal(v?.phase, "resource");
            assert.equal(v?.pack, "mlops-security");
            assert.equal(r.pack, "mlops-security");
            assert.equal(r.version, "0.1.0");
        });

        it("encodes secret inputs as Pulumi secrets that the policy SDK decodes", async () => {
            const struct = toPropertiesStruct({ password: SECRET_PLACEHOLDER, username: "mlflow" }, ["password"]);
            const raw = struct.toJavaScript() as any;
            assert.deepEqual(raw.password, { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: SECRET_PLACEHOLDER });
            const proxied = deserializeProperties(struct, true);
            const target = proxied.__getSpecialProxyTarget;
            assert.ok(target.password instanceof Secret, "password deserializes as a Secret");
            assert.equal(target.password.value, SECRET_PLACEHOLDER);
            assert.equal(target.username, "mlflow");

            // Over gRPC: the pack accepts the envelope and the policy reads the unwrapped value.
            const db = res("aws:rds/instance:Instance", "db", { engine: "postgres", password: SECRET_PLACEHOLDER }, { secretInputs: ["password"], additionalSecretOutputs: ["password"] });
            const r = await pack.run([db]);
            assert.ok(r.violations.some((v) => v.policyName === "rds-managed-password" && v.message.includes("password is set")));
        });

        it("judges only literal values: unknown inputs neither violate nor downgrade to `can't run`", async () => {
            const sse = res(SSE, "b-sse", { bucket: UNKNOWN, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: UNKNOWN }, bucketKeyEnabled: UNKNOWN }] });
            const lt = res("aws:ec2/launchTemplate:LaunchTemplate", "lt", { metadataOptions: UNKNOWN, userData: UNKNOWN, blockDeviceMappings: [{ ebs: { encrypted: UNKNOWN } }] });
            const r = await pack.run([sse, lt]);
            const relevant = r.violations.filter((v) => v.urn === sse.urn || v.urn === lt.urn);
            assert.deepEqual(relevant.filter((v) => /can't run/.test(v.message)), []);
            assert.deepEqual(relevant.map((v) => v.policyName).filter((n) => /^(s3-|nodes-ebs|nodes-no-secrets)/.test(n)), []);
        });

        it("reports not-applicable policies when asked", async () => {
            const r = await pack.run([badRepo()], undefined, { collectNotApplicable: true });
            assert.ok(r.notApplicable?.some((n) => n.policyName === "s3-sse-configured"));
        });

        it("runs many times on one session, serialised", async () => {
            const results = await Promise.all([
                pack.run([badRepo()], { "ecr-no-force-delete": "disabled" }),
                pack.run([badRepo()]),
            ]);
            assert.ok(!results[0].violations.some((v) => v.policyName === "ecr-no-force-delete"));
            assert.ok(results[1].violations.some((v) => v.policyName === "ecr-no-force-delete"));
        });
    });

    it("runPolicyPack starts, runs once and shuts the pack down", async () => {
        const r = await runPolicyPack("security", [badRepo()], { all: "advisory" });
        assert.ok(r.violations.length > 0);
        assert.ok(r.violations.every((v) => v.enforcementLevel === "advisory"));
        assert.ok(r.policies.length >= 55);
    });
});
