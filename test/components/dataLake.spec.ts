import * as pulumi from "@pulumi/pulumi";
import * as assert from "node:assert/strict";
import { DataLake, validateDataLakeArgs } from "../../components/dataLake";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory, one, ofType, policyDoc } from "../helpers/resources";

const ROLES = ["raw", "processed", "artifacts"];

describe("DataLake", () => {
    let resources: RecordedResource[];
    let policies: Record<string, any>;

    before(async () => {
        const rec = await recordResources(() => {
            const lake = new DataLake("lake", { tags: { team: "ml" } });
            return {
                read: lake.readRawProcessedPolicy,
                write: lake.writeProcessedPolicy,
                artifacts: lake.readWriteArtifactsPolicy,
                scoped: lake.accessPolicy([{ bucket: "artifacts", prefix: "models/credit-risk/", access: "readwrite" }]),
                dvc: lake.dvcRemoteUrl,
                key: lake.kmsKeyArn,
            };
        });
        resources = rec.resources;
        policies = rec.outputs;
    });

    it("declares exactly the expected children", () => {
        const expected = ["mlops-platform:index:DataLake lake", "aws:kms/key:Key lake-key", "aws:kms/alias:Alias lake-key-alias"];
        for (const role of [...ROLES, "logs"]) {
            expected.push(
                `aws:s3/bucket:Bucket lake-${role}`,
                `aws:s3/bucketOwnershipControls:BucketOwnershipControls lake-${role}-ownership`,
                `aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock lake-${role}-public-access`,
                `aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration lake-${role}-encryption`,
                `aws:s3/bucketVersioning:BucketVersioning lake-${role}-versioning`,
                `aws:s3/bucketPolicy:BucketPolicy lake-${role}-policy`,
                `aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration lake-${role}-lifecycle`,
            );
        }
        for (const role of ROLES) {
            expected.push(`aws:s3/bucketLogging:BucketLogging lake-${role}-logging`, `aws:s3/bucketNotification:BucketNotification lake-${role}-events`);
        }
        assert.deepEqual(inventory(resources), expected.sort());
        const component = one(resources, "mlops-platform:index:DataLake", "lake");
        for (const r of resources.filter((x) => x !== component)) {
            assert.equal(r.parent, component.urn, `${r.name} is parented to the component`);
        }
    });

    it("encrypts data buckets with the customer-managed key (rotation on, bucket keys on)", () => {
        const key = one(resources, "aws:kms/key:Key", "lake-key");
        assert.equal(key.inputs.enableKeyRotation, true);
        for (const role of ROLES) {
            const sse = one(resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", `lake-${role}-encryption`);
            const rule = sse.inputs.rules[0];
            assert.equal(rule.applyServerSideEncryptionByDefault.sseAlgorithm, "aws:kms");
            assert.equal(rule.applyServerSideEncryptionByDefault.kmsMasterKeyId, key.outputs.arn);
            assert.equal(rule.bucketKeyEnabled, true);
            assert.equal(sse.inputs.bucket, one(resources, "aws:s3/bucket:Bucket", `lake-${role}`).outputs.bucket);
        }
        // S3 server access logs cannot be delivered to SSE-KMS buckets.
        const logs = one(resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "lake-logs-encryption");
        assert.equal(logs.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
    });

    it("versions, blocks public access and disables ACLs on every bucket", () => {
        for (const role of [...ROLES, "logs"]) {
            assert.equal(one(resources, "aws:s3/bucketVersioning:BucketVersioning", `lake-${role}-versioning`).inputs.versioningConfiguration.status, "Enabled");
            const pab = one(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", `lake-${role}-public-access`).inputs;
            assert.deepEqual([pab.blockPublicAcls, pab.blockPublicPolicy, pab.ignorePublicAcls, pab.restrictPublicBuckets], [true, true, true, true]);
            assert.equal(one(resources, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", `lake-${role}-ownership`).inputs.rule.objectOwnership, "BucketOwnerEnforced");
        }
    });

    it("denies non-TLS requests and uploads not encrypted with the lake key", () => {
        const key = one(resources, "aws:kms/key:Key", "lake-key");
        for (const role of ROLES) {
            const policy = one(resources, "aws:s3/bucketPolicy:BucketPolicy", `lake-${role}-policy`);
            const doc = policyDoc(policy);
            const tls = doc.Statement.find((s: any) => s.Sid === "DenyInsecureTransport");
            assert.equal(tls.Effect, "Deny");
            assert.equal(tls.Condition.Bool["aws:SecureTransport"], "false");
            // Only explicit wrong headers are refused; headerless uploads get the default SSE-KMS.
            const sse = doc.Statement.find((s: any) => s.Sid === "DenyNonKmsUploads");
            assert.deepEqual(sse.Condition, {
                StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
                Null: { "s3:x-amz-server-side-encryption": "false" },
            });
            const otherKey = doc.Statement.find((s: any) => s.Sid === "DenyOtherKmsKeys");
            assert.deepEqual(otherKey.Condition, {
                StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": key.outputs.arn },
                Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
            });
            assert.ok(doc.Statement.every((s: any) => s.Effect === "Deny"), "data bucket policies grant nothing");
            // Written after the public access block, or S3 may refuse it.
            assert.ok(policy.dependencies.includes(one(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", `lake-${role}-public-access`).urn));
        }
    });

    it("logs access of every data bucket to the log bucket, which admits only S3 logging for those buckets", () => {
        const logs = one(resources, "aws:s3/bucket:Bucket", "lake-logs");
        for (const role of ROLES) {
            const logging = one(resources, "aws:s3/bucketLogging:BucketLogging", `lake-${role}-logging`);
            assert.equal(logging.inputs.targetBucket, logs.outputs.bucket);
            assert.equal(logging.inputs.targetPrefix, `${role}/`);
        }
        const doc = policyDoc(one(resources, "aws:s3/bucketPolicy:BucketPolicy", "lake-logs-policy"));
        const allow = doc.Statement.find((s: any) => s.Effect === "Allow");
        assert.deepEqual(allow.Principal, { Service: "logging.s3.amazonaws.com" });
        assert.deepEqual(
            allow.Condition.ArnLike["aws:SourceArn"],
            ROLES.map((r) => one(resources, "aws:s3/bucket:Bucket", `lake-${r}`).outputs.arn),
        );
        assert.equal(allow.Condition.StringEquals["aws:SourceAccount"], "123456789012");
    });

    it("aborts multipart uploads everywhere, tiers raw data and expires noncurrent versions", () => {
        for (const role of ROLES) {
            const rules = one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", `lake-${role}-lifecycle`).inputs.rules;
            assert.equal(rules.find((r: any) => r.id === "abort-incomplete-multipart-uploads").abortIncompleteMultipartUpload.daysAfterInitiation, 7);
            assert.equal(rules.find((r: any) => r.id === "expire-noncurrent-versions").noncurrentVersionExpiration.noncurrentDays, 30);
            const tier = rules.find((r: any) => r.id === "tier-raw-data");
            if (role === "raw") {
                assert.deepEqual(tier.transitions, [
                    { days: 30, storageClass: "STANDARD_IA" },
                    { days: 180, storageClass: "GLACIER_IR" },
                ]);
            } else {
                assert.equal(tier, undefined);
            }
        }
        assert.equal(one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lake-logs-lifecycle").inputs.rules[0].expiration.days, 90);
    });

    it("sends bucket events to EventBridge", () => {
        for (const role of ROLES) {
            assert.equal(one(resources, "aws:s3/bucketNotification:BucketNotification", `lake-${role}-events`).inputs.eventbridge, true);
        }
    });

    it("is not protected and not force-destroyable by default; tags data class", () => {
        for (const b of ofType(resources, "aws:s3/bucket:Bucket")) {
            assert.equal(b.protect, false);
            assert.equal(b.inputs.forceDestroy, false);
            assert.equal(b.inputs.tags.team, "ml");
            assert.equal(b.inputs.tags["mlops.platform/data-class"], b.name.replace("lake-", ""));
        }
    });

    it("renders least-privilege policy documents", () => {
        const bucketArn = (role: string) => one(resources, "aws:s3/bucket:Bucket", `lake-${role}`).outputs.arn;
        const read = JSON.parse(policies.read as string);
        const actions = read.Statement.flatMap((s: any) => [].concat(s.Action));
        assert.ok(!actions.some((a: string) => a.startsWith("s3:Put") || a === "s3:*"), "read policy cannot write");
        assert.deepEqual(
            read.Statement.filter((s: any) => String(s.Sid).startsWith("Objects")).map((s: any) => s.Resource),
            [`${bucketArn("raw")}/*`, `${bucketArn("processed")}/*`],
        );
        const kms = read.Statement.find((s: any) => s.Sid === "UseDataLakeKeyViaS3");
        assert.deepEqual(kms.Action, ["kms:Decrypt"]);
        assert.equal(kms.Condition.StringEquals["kms:ViaService"], "s3.us-east-1.amazonaws.com");

        const scoped = JSON.parse(policies.scoped as string);
        const objects = scoped.Statement.find((s: any) => String(s.Sid).startsWith("Objects"));
        assert.equal(objects.Resource, `${bucketArn("artifacts")}/models/credit-risk/*`);
        assert.ok(objects.Action.includes("s3:PutObject"));
        const list = scoped.Statement.find((s: any) => String(s.Sid).startsWith("List"));
        assert.deepEqual(list.Condition.StringLike["s3:prefix"], ["models/credit-risk/*"]);
        assert.deepEqual(scoped.Statement.find((s: any) => s.Sid === "UseDataLakeKeyViaS3").Action, ["kms:Decrypt", "kms:GenerateDataKey"]);

        assert.equal(policies.dvc, `s3://${one(resources, "aws:s3/bucket:Bucket", "lake-raw").outputs.bucket}/dvc`);
        assert.match(String(policies.key), /^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36}$/);
    });
});

describe("DataLake with protection and overrides", () => {
    it("protects and retains buckets, versioning and the key; honours lifecycle settings", async () => {
        const { resources } = await recordResources(() => {
            new DataLake("p", { protect: true, noncurrentVersionExpirationDays: 365, rawTransitionIaDays: 60, rawTransitionGlacierDays: 400 });
        });
        for (const r of [...ofType(resources, "aws:s3/bucket:Bucket"), ...ofType(resources, "aws:s3/bucketVersioning:BucketVersioning"), one(resources, "aws:kms/key:Key", "p-key")]) {
            assert.equal(r.protect, true, `${r.name} protected`);
            assert.equal(r.retainOnDelete, true, `${r.name} retained on delete`);
        }
        const raw = one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "p-raw-lifecycle").inputs.rules;
        assert.deepEqual(raw.find((r: any) => r.id === "tier-raw-data").transitions.map((t: any) => t.days), [60, 400]);
        assert.equal(raw.find((r: any) => r.id === "expire-noncurrent-versions").noncurrentVersionExpiration.noncurrentDays, 365);
    });

    it("sets forceDestroy only when asked", async () => {
        const { resources } = await recordResources(() => {
            new DataLake("d", { forceDestroy: true });
        });
        assert.ok(ofType(resources, "aws:s3/bucket:Bucket").every((b) => b.inputs.forceDestroy === true && b.protect === false));
    });
});

describe("validateDataLakeArgs", () => {
    it("applies defaults", () => {
        const s = validateDataLakeArgs({});
        assert.deepEqual([s.rawTransitionIaDays, s.rawTransitionGlacierDays, s.noncurrentVersionExpirationDays, s.multipartAbortDays], [30, 180, 30, 7]);
    });
    it("rejects a STANDARD_IA transition before 30 days", () => assertInvalid(() => validateDataLakeArgs({ rawTransitionIaDays: 10 }), "rawTransitionIaDays", /from 30/));
    it("rejects Glacier before STANDARD_IA", () =>
        assertInvalid(() => validateDataLakeArgs({ rawTransitionIaDays: 90, rawTransitionGlacierDays: 60 }), "rawTransitionGlacierDays", /greater than/));
    it("rejects non-integer retention", () => assertInvalid(() => validateDataLakeArgs({ noncurrentVersionExpirationDays: 1.5 }), "noncurrentVersionExpirationDays"));
    it("rejects protect with forceDestroy", () => assertInvalid(() => validateDataLakeArgs({ protect: true, forceDestroy: true }), "forceDestroy"));
    it("reports every problem at once", () => {
        assert.throws(
            () => validateDataLakeArgs({ multipartAbortDays: 0, accessLogRetentionDays: -1 }),
            (e: any) => pulumi.InputPropertiesError.isInstance(e) && e.errors.length === 2,
        );
    });
});
