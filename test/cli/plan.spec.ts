import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const CLI = path.join(ROOT, "dist", "cli", "mlops.js");

function mlops(args: string[]) {
    return spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8" });
}

describe("mlops plan (as a user runs it)", () => {
    it("prints the resource tree and counts for dev and exits 0", () => {
        const r = mlops(["plan", "--stack", "dev"]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /└─ mlops-platform:index:MlPlatform {2}mlops/);
        assert.match(r.stdout, /aws:s3\/bucket:Bucket\s+4/);
        assert.match(r.stdout, /^total\s+\d+$/m);
    });

    it("marks protected resources in prod", () => {
        const r = mlops(["plan", "--stack", "prod"]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /aws:kms\/key:Key {2}mlops-data-key \[protected\]/);
    });

    it("writes a byte-identical plan.json for the same input", () => {
        const a = fs.mkdtempSync(path.join(os.tmpdir(), "plan-a-"));
        const b = fs.mkdtempSync(path.join(os.tmpdir(), "plan-b-"));
        assert.equal(mlops(["plan", "--stack", "prod", "--out", a]).status, 0);
        assert.equal(mlops(["plan", "--stack", "prod", "--out", b]).status, 0);
        const pa = fs.readFileSync(path.join(a, "plan.json"));
        assert.ok(pa.equals(fs.readFileSync(path.join(b, "plan.json"))));
        const plan = JSON.parse(pa.toString());
        assert.equal(plan.stack, "prod");
        assert.ok(plan.resources.length > 40);
        // Raw, processed, artifacts and logs, and in prod their cross-region replicas plus the replicas' log bucket.
        assert.equal(plan.counts["aws:s3/bucket:Bucket"], 9);
    });

    it("fails clearly on an unknown stack, listing the stacks that exist", () => {
        const r = mlops(["plan", "--stack", "qa"]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /no stack named 'qa'.*stacks: dev, prod/);
    });

    it("requires --stack", () => {
        const r = mlops(["plan"]);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /--stack/);
    });

    it("is the bin of the package", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        assert.equal(path.resolve(ROOT, pkg.bin.mlops), CLI);
        assert.match(fs.readFileSync(CLI, "utf8"), /^#!\/usr\/bin\/env node/);
    });
});
