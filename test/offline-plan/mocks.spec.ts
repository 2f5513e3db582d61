import * as assert from "node:assert/strict";
import * as aws from "@pulumi/aws";
import { ProviderMocks } from "../../offline-plan/mocks";
import { recordResources } from "../../offline-plan/run";

describe("mock provider layer", () => {
    const mocks = new ProviderMocks({ accountId: "111122223333", region: "eu-west-1", partition: "aws" });

    it("fails loudly on an invoke it does not know, naming the token", () => {
        assert.throws(() => mocks.call({ token: "aws:ec2/getAmi:getAmi", inputs: {} }), /no answer for invoke 'aws:ec2\/getAmi:getAmi'/);
    });

    it("a program calling an unknown invoke fails its run", async () => {
        await assert.rejects(
            recordResources(() => {
                const ami = aws.ec2.getAmiOutput({ owners: ["amazon"], mostRecent: true });
                return { ami: ami.id };
            }),
            /aws:ec2\/getAmi:getAmi/,
        );
    });

    it("computes ARNs, URLs and endpoints like the providers", () => {
        const repo = mocks.newResource({ type: "aws:ecr/repository:Repository", name: "r", inputs: { name: "team/trainer" } }).state;
        assert.equal(repo.repositoryUrl, "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/trainer");
        assert.equal(repo.arn, "arn:aws:ecr:eu-west-1:111122223333:repository/team/trainer");
        const bucket = mocks.newResource({ type: "aws:s3/bucket:Bucket", name: "data-raw", inputs: {} }).state;
        assert.match(bucket.bucket, /^data-raw-[0-9a-f]{7}$/);
        assert.equal(bucket.arn, `arn:aws:s3:::${bucket.bucket}`);
        const role = mocks.newResource({ type: "aws:iam/role:Role", name: "x", inputs: { name: "trainer" } }).state;
        assert.equal(role.arn, "arn:aws:iam::111122223333:role/trainer");
        const cluster = mocks.newResource({ type: "aws:eks/cluster:Cluster", name: "c", inputs: { name: "ml" } }).state;
        assert.match(cluster.endpoint, /^https:\/\/[0-9A-F]{32}\.gr7\.eu-west-1\.eks\.amazonaws\.com$/);
        assert.match(cluster.identities[0].oidcs[0].issuer, /^https:\/\/oidc\.eks\.eu-west-1\.amazonaws\.com\/id\/[0-9A-F]{32}$/);
        const db = mocks.newResource({ type: "aws:rds/instance:Instance", name: "db", inputs: { manageMasterUserPassword: true } }).state;
        assert.match(db.endpoint, /\.eu-west-1\.rds\.amazonaws\.com:5432$/);
        assert.match(db.masterUserSecrets[0].secretArn, /^arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-/);
    });

    it("is deterministic", () => {
        const a = mocks.newResource({ type: "aws:kms/key:Key", name: "k", inputs: {} });
        const b = new ProviderMocks({ accountId: "111122223333", region: "eu-west-1", partition: "aws" }).newResource({ type: "aws:kms/key:Key", name: "k", inputs: {} });
        assert.deepEqual(a, b);
    });
});

describe("explicit providers", () => {
    it("a resource of an aws provider for another region gets that region's ARN, as its plugin would answer", async () => {
        const { resources } = await recordResources(() => {
            const west = new aws.Provider("west", { region: "us-west-2" });
            new aws.kms.Key("replica-key", {}, { provider: west });
            new aws.kms.Key("home-key", {});
        });
        const arnOf = (n: string) => resources.find((r) => r.name === n)!.outputs.arn as string;
        assert.match(arnOf("replica-key"), /^arn:aws:kms:us-west-2:123456789012:key\//);
        assert.match(arnOf("home-key"), /^arn:aws:kms:us-east-1:123456789012:key\//);
    });
});

describe("recordResources failure handling", () => {
    it("fails fast, with the cause, when a resource input's Output rejects (instead of hanging)", async () => {
        const started = Date.now();
        await assert.rejects(
            recordResources(() => {
                const bad = aws.getCallerIdentityOutput().apply((): string => {
                    throw new Error("validation failed inside an apply");
                });
                new aws.s3.Bucket("b", { bucket: bad });
            }),
            /validation failed inside an apply/,
        );
        assert.ok(Date.now() - started < 10_000, "did not wait for the deadline");
        // ...and the offline plan is usable again afterwards.
        const { resources } = await recordResources(() => {
            new aws.s3.Bucket("ok");
        });
        assert.equal(resources.length, 1);
    });
});
