// A first day: a new stack that plans clean, config errors that name the key the user wrote, and a
// CLI that works on the user's own project folder.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { parsePlatformConfig } from "../../config/schema";
import { assertInvalid } from "../helpers/resources";
import { mlops, ROOT, tempProject } from "../helpers/cli";

const ctx = { project: "mlops-platform", stack: "dev" };
const base = { githubRepository: "example-org/mlops-platform" };

describe("new stacks (issue 13, item 11)", function () {
    this.timeout(300_000);

    it("mlops stack init creates a stack that plans clean, with a notice that the environment's policy defaults apply", async () => {
        const dir = tempProject();
        let r = await mlops(["stack", "init", "staging", "--environment", "staging", "--github-repository", "example-org/mlops-platform", "--file-only"], dir);
        assert.equal(r.code, 0, r.stderr);
        const text = fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8");
        assert.match(text, /encryptionsalt/, "the file says what `pulumi stack init` will add to it");
        r = await mlops(["plan", "--stack", "staging", "--program", path.join(ROOT, "dist", "index.js")], dir);
        assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
        assert.match(r.stdout, /Policies \(mlops-security, mlops-gating\): 0 mandatory, 0 advisory violation\(s\)/);
        assert.match(r.stdout, /note: policies\/config\/security\.staging\.json does not exist: the security pack uses the staging environment's defaults \(policies\/config\/security\.dev\.json\)/);

        r = await mlops(["stack", "init", "staging", "--environment", "staging", "--github-repository", "example-org/mlops-platform", "--file-only"], dir);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /Pulumi\.staging\.yaml already exists; not overwritten/);
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8"), text);
    });

    it("stack names: lowercase, at most 24 characters, validated by init and by the program", async () => {
        const dir = tempProject();
        const long = "a-very-long-staging-stack"; // 25
        const r = await mlops(["stack", "init", long, "-e", "staging", "--github-repository", "o/r", "--file-only"], dir);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /<name>: must be at most 24 characters \(resource names derive from it\), got 25/);
        assert.ok(!fs.existsSync(path.join(dir, `Pulumi.${long}.yaml`)));
        assertInvalid(() => parsePlatformConfig(base, { ...ctx, stack: long }), "stack name", /at most 24 characters/);
        assertInvalid(() => parsePlatformConfig(base, { ...ctx, stack: "Staging" }), "stack name", /lowercase letters/);
        const init = await mlops(["stack", "init", "qa", "-e", "qa", "--github-repository", "o/r", "--file-only"], dir);
        assert.match(init.stderr, /--environment: must be one of dev, staging, prod, got "qa"/);
    });

    it("an empty stack file names the key that is missing and what to set", () => {
        assertInvalid(
            () => parsePlatformConfig({ environment: "staging" }, { ...ctx, stack: "staging" }),
            "mlops-platform:clusterAdminRoleArns",
            /is required when neither githubRepository nor gitlabCi is set: list the IAM role ARNs .* or set githubRepository \(owner\/name\) or gitlabCi/,
        );
    });
});

describe("config errors name the key the user wrote (issue 13, item 12)", () => {
    it("aws:region is checked against the AWS SDK's region list", () => {
        assertInvalid(() => parsePlatformConfig(base, { ...ctx, awsRegion: "us-est-1" }), "aws:region", /is not an AWS region, got "us-est-1"; valid: .*us-east-1/);
        assertInvalid(() => parsePlatformConfig(base, { ...ctx, awsRegion: "eu-middle-9" }), "aws:region", /valid: .*eu-west-1/);
        assert.doesNotThrow(() => parsePlatformConfig(base, { ...ctx, awsRegion: "eu-central-1" }));
    });

    it("vpcCidr, clusterPublicAccessCidrs, clusterAdminRoleArns and driftMonitor.schedule say what is valid", () => {
        assertInvalid(() => parsePlatformConfig({ ...base, vpcCidr: "10.0.0.0/33" }, ctx), "mlops-platform:vpcCidr", /IPv4 CIDR block from \/16 to \/24/);
        assertInvalid(() => parsePlatformConfig({ ...base, clusterPublicAccessCidrs: '["203.0.113.7"]' }, ctx), "mlops-platform:clusterPublicAccessCidrs[0]", /must be an IPv4 CIDR block such as 203\.0\.113\.0\/24/);
        assertInvalid(() => parsePlatformConfig({ ...base, clusterAdminRoleArns: '["admin"]' }, ctx), "mlops-platform:clusterAdminRoleArns[0]", /must be an IAM role ARN, arn:aws:iam::<12-digit account>:role\/<name>/);
        const drift = JSON.stringify({ model: "m", schedule: "daily", referencePrefix: "r/", batchPrefix: "b/" });
        assertInvalid(() => parsePlatformConfig({ ...base, driftMonitor: drift }, ctx), "mlops-platform:driftMonitor.schedule", /5-field cron expression/);
    });
});

describe("the CLI on the user's project (issue 13, item 15)", () => {
    it("mlops --version prints the package version; --project-dir and the current directory select the project", async () => {
        const { spawnSync } = await import("child_process");
        const cli = path.join(ROOT, "dist", "cli", "mlops.js");
        const v = spawnSync(process.execPath, [cli, "--version"], { encoding: "utf8" });
        assert.equal(v.status, 0);
        assert.equal(v.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version);

        const dir = tempProject();
        const before = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
        const inCwd = spawnSync(process.execPath, [cli, "release", "set-weight", "20", "--stack", "dev"], { cwd: path.join(dir, "policies"), encoding: "utf8" });
        assert.equal(inCwd.status, 0, inCwd.stderr);
        assert.match(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), /canaryWeight: 20/, "the project found above the current directory was edited");
        assert.equal(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8").includes("canaryWeight: 20"), false, "not the package's own stack file");
        const viaFlag = spawnSync(process.execPath, [cli, "--project-dir", dir, "release", "set-weight", "50", "--stack", "dev"], { cwd: "/", encoding: "utf8" });
        assert.equal(viaFlag.status, 0, viaFlag.stderr);
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), before);
        const nowhere = spawnSync(process.execPath, [cli, "release", "rollback", "--stack", "dev"], { cwd: "/", encoding: "utf8" });
        assert.equal(nowhere.status, 1);
        assert.match(nowhere.stderr, /no Pulumi\.yaml in \/ or above it: run mlops in your Pulumi project, or pass --project-dir <dir>/);
    });
});
