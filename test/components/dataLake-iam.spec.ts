// The data lake's bucket policies and access-policy documents, evaluated with an IAM policy
// simulator (@cloud-copilot/iam-simulate) instead of being read.
import { runSimulation } from "@cloud-copilot/iam-simulate";
import * as assert from "node:assert/strict";
import { DataLake } from "../../components/dataLake";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { one, policyDoc } from "../helpers/resources";

const ACCOUNT = "123456789012";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/trainer`;

async function decide(action: string, resource: string, identity: object, bucketPolicy: object, context: Record<string, string> = {}): Promise<string> {
    const result = await runSimulation(
        {
            request: {
                principal: ROLE,
                action,
                resource: { resource, accountId: ACCOUNT },
                contextVariables: { "aws:SecureTransport": "true", ...context },
            },
            identityPolicies: [{ name: "grant", policy: identity }],
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            resourcePolicy: bucketPolicy,
        },
        {},
    );
    if (result.resultType === "error") {
        throw new Error(JSON.stringify(result.errors));
    }
    return result.overallResult;
}

describe("DataLake policies, by IAM simulation", () => {
    let resources: RecordedResource[];
    let out: Record<string, any>;
    let artifacts: string;
    let raw: string;
    let keyArn: string;
    let artifactsPolicy: object;

    before(async () => {
        const rec = await recordResources(() => {
            const lake = new DataLake("lake");
            return {
                read: lake.readRawProcessedPolicy,
                scoped: lake.accessPolicy([{ bucket: "artifacts", prefix: "models/credit-risk/", access: "readwrite" }]),
            };
        });
        resources = rec.resources;
        out = rec.outputs;
        artifacts = one(resources, "aws:s3/bucket:Bucket", "lake-artifacts").outputs.arn;
        raw = one(resources, "aws:s3/bucket:Bucket", "lake-raw").outputs.arn;
        keyArn = one(resources, "aws:kms/key:Key", "lake-key").outputs.arn;
        artifactsPolicy = policyDoc(one(resources, "aws:s3/bucketPolicy:BucketPolicy", "lake-artifacts-policy"));
    });

    const put = (context: Record<string, string> = {}, key = "models/credit-risk/model.pkl") =>
        decide("s3:PutObject", `${artifacts}/${key}`, JSON.parse(out.scoped), artifactsPolicy, context);

    it("allows an upload without encryption headers (the bucket default SSE-KMS applies), e.g. MLflow multipart", async () => {
        assert.equal(await put(), "Allowed");
    });

    it("allows an upload that names SSE-KMS with the lake key", async () => {
        assert.equal(await put({ "s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": keyArn }), "Allowed");
    });

    it("denies an upload asking for SSE-S3", async () => {
        assert.equal(await put({ "s3:x-amz-server-side-encryption": "AES256" }), "ExplicitlyDenied");
    });

    it("denies an upload naming another KMS key", async () => {
        assert.equal(
            await put({ "s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": `arn:aws:kms:us-east-1:${ACCOUNT}:key/other` }),
            "ExplicitlyDenied",
        );
    });

    it("denies any request without TLS, even one the identity policy allows", async () => {
        assert.equal(await put({ "aws:SecureTransport": "false" }), "ExplicitlyDenied");
    });

    it("the prefix-scoped grant cannot write outside its prefix", async () => {
        assert.equal(await put({}, "models/other-model/model.pkl"), "ImplicitlyDenied");
    });

    it("the read policy reads raw data but cannot write it", async () => {
        const rawPolicy = policyDoc(one(resources, "aws:s3/bucketPolicy:BucketPolicy", "lake-raw-policy"));
        assert.equal(await decide("s3:GetObject", `${raw}/2026/11/batch.parquet`, JSON.parse(out.read), rawPolicy), "Allowed");
        assert.equal(await decide("s3:PutObject", `${raw}/2026/11/batch.parquet`, JSON.parse(out.read), rawPolicy), "ImplicitlyDenied");
        assert.equal(await decide("s3:DeleteObject", `${raw}/2026/11/batch.parquet`, JSON.parse(out.read), rawPolicy), "ImplicitlyDenied");
    });
});
