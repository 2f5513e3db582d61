import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { diffPlans, diffValues, releaseHeadline, releasesOf, renderDiffMarkdown } from "../../cli/diff";
import { Plan, PlanResource, toPlan } from "../../cli/plan";
import { runProgram } from "../../offline-plan/run";

const ROOT = path.resolve(__dirname, "..", "..", "..");

function deployment(name: string, annotations: Record<string, string>): PlanResource {
    return {
        urn: `urn:pulumi:dev::mlops-platform::kubernetes:apps/v1:Deployment::${name}`,
        type: "kubernetes:apps/v1:Deployment",
        name,
        parent: "",
        custom: true,
        provider: "",
        protect: false,
        retainOnDelete: false,
        dependencies: [],
        inputs: { metadata: { name, annotations } },
        secretInputs: [],
    };
}

function route(weights: Record<string, number>): PlanResource {
    return {
        urn: "urn:pulumi:dev::mlops-platform::kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::serve",
        type: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
        name: "serve",
        parent: "",
        custom: true,
        provider: "",
        protect: false,
        retainOnDelete: false,
        dependencies: [],
        inputs: {
            spec: {
                rules: [
                    { matches: [{ headers: [{ name: "x-model-track", value: "canary" }] }], backendRefs: [{ name: "serve-canary", port: 80 }] },
                    { backendRefs: Object.entries(weights).map(([n, w]) => ({ name: n, port: 80, weight: w })) },
                ],
            },
        },
        secretInputs: [],
    };
}

function plan(resources: PlanResource[]): Plan {
    return { formatVersion: 1, project: "mlops-platform", stack: "dev", config: {}, resources, counts: {}, outputs: {} };
}

const release = (version: string, f1: string, gate = "pass") => ({
    "mlops.platform/model": "credit-risk",
    "mlops.platform/version": version,
    "mlops.platform/track": "canary",
    "mlops.platform/metric.f1": f1,
    "mlops.platform/baseline-version": "12",
    "mlops.platform/baseline-metric.f1": "0.910",
    "mlops.platform/gate": gate,
});

describe("plan diff", () => {
    it("diffs nested values by dotted path", () => {
        assert.deepEqual(diffValues({ a: { b: [1, 2], c: "x" } }, { a: { b: [1, 3], c: "x", d: true } }), [
            { path: "a.b[1]", before: 2, after: 3 },
            { path: "a.d", before: undefined, after: true },
        ]);
    });

    it("turns a config change into exactly the property-level change it causes", async () => {
        const base = toPlan(await runProgram({ root: ROOT, stack: "dev" }));
        const head = toPlan(await runProgram({ root: ROOT, stack: "dev", configOverrides: { "mlops-platform:noncurrentVersionExpirationDays": "60" } }));
        const d = diffPlans(base, head);
        assert.equal(d.added.length, 0);
        assert.equal(d.removed.length, 0);
        assert.deepEqual(d.changed.map((c) => c.name).sort(), ["mlops-data-artifacts-lifecycle", "mlops-data-processed-lifecycle", "mlops-data-raw-lifecycle"]);
        for (const c of d.changed) {
            assert.deepEqual(c.changes, [{ path: "rules[1].noncurrentVersionExpiration.noncurrentDays", before: 30, after: 60 }]);
            assert.equal(c.replacement, false);
        }
        const md = renderDiffMarkdown(d);
        assert.match(md, /^\*\*dev\*\*: 0 to add, 3 to change, 0 to delete/m);
        assert.match(md, /`rules\[1\]\.noncurrentVersionExpiration\.noncurrentDays`: `30` → `60`/);
    });

    it("adding a repository adds its resources", async () => {
        const base = toPlan(await runProgram({ root: ROOT, stack: "dev" }));
        const head = toPlan(await runProgram({ root: ROOT, stack: "dev", configOverrides: { "mlops-platform:repositories": '["trainer","mlflow","server","features"]' } }));
        const d = diffPlans(base, head);
        assert.deepEqual(d.added.map((r) => r.name).sort(), ["mlops-registry-features", "mlops-registry-features-lifecycle"]);
    });

    it("headlines a model release: versions, primary metric with relative change, gate, canary weight", () => {
        const base = plan([deployment("serve-stable", { ...release("12", "0.910"), "mlops.platform/track": "stable" }), route({ "serve-stable": 100, "serve-canary": 0 })]);
        const head = plan([
            deployment("serve-stable", { ...release("12", "0.910"), "mlops.platform/track": "stable" }),
            deployment("serve-canary", release("13", "0.934")),
            route({ "serve-stable": 90, "serve-canary": 10 }),
        ]);
        const views = releasesOf(head);
        assert.deepEqual(views.map((v) => [v.track, v.version, v.weight]), [
            ["canary", "13", 10],
            ["stable", "12", 90],
        ]);
        const d = diffPlans(base, head);
        const canary = d.releases.find((r) => r.track === "canary")!;
        assert.equal(canary.headline, "credit-risk v12 → v13, f1 0.910 → 0.934 (+2.6 %), gate: pass, canary 10 %");
        assert.match(renderDiffMarkdown(d), /^### 🚀 credit-risk v12 → v13, f1 0\.910 → 0\.934 \(\+2\.6 %\), gate: pass, canary 10 %$/m);
    });

    it("headlines a weight change of the same release", () => {
        const before = releasesOf(plan([deployment("serve-canary", release("13", "0.934")), route({ "serve-stable": 90, "serve-canary": 10 })]))[0];
        const after = releasesOf(plan([deployment("serve-canary", release("13", "0.934")), route({ "serve-stable": 50, "serve-canary": 50 })]))[0];
        assert.equal(releaseHeadline(before, after), "credit-risk v13 (canary, unchanged release), traffic 10 % → 50 %");
    });

    it("does not headline a version move for an unchanged stable track whose traffic share changed", () => {
        const stable = { ...release("12", "0.910"), "mlops.platform/track": "stable", "mlops.platform/baseline-version": "11" };
        const base = plan([deployment("serve-stable", stable), deployment("serve-canary", release("13", "0.934")), route({ "serve-stable": 50, "serve-canary": 50 })]);
        const head = plan([deployment("serve-stable", stable), deployment("serve-canary", release("13", "0.934")), route({ "serve-stable": 70, "serve-canary": 30 })]);
        const d = diffPlans(base, head);
        assert.deepEqual(d.releases.map((r) => r.headline), [
            "credit-risk v13 (canary, unchanged release), traffic 50 % → 30 %",
            "credit-risk v12 (stable, unchanged release), traffic 50 % → 70 %",
        ]);
        assert.ok(!renderDiffMarkdown(d).includes("v11 → v12"));
    });

    it("shows route rule changes as readable matches and weights, not truncated JSON", () => {
        const d = diffPlans(plan([route({ "serve-stable": 90, "serve-canary": 10 })]), plan([route({ "serve-stable": 50, "serve-canary": 50 })]));
        const md = renderDiffMarkdown(d);
        assert.match(md, /- before: \[0\] header x-model-track=canary → serve-canary; \[1\] \(all\) → serve-stable 90 %, serve-canary 10 %/);
        assert.match(md, /- after: \[0\] header x-model-track=canary → serve-canary; \[1\] \(all\) → serve-stable 50 %, serve-canary 50 %/);
        assert.ok(!md.includes("..."), "nothing truncated");
    });

    it("marks a GPU pool's instance-type change as a replacement, as the provider decides it", () => {
        const pool = (types: string[]): PlanResource => ({
            ...deployment("gpu", {}),
            urn: "urn:pulumi:dev::mlops-platform::aws:eks/nodeGroup:NodeGroup::mlops-gpu-training",
            type: "aws:eks/nodeGroup:NodeGroup",
            name: "mlops-gpu-training",
            inputs: { instanceTypes: types, scalingConfig: { minSize: 0, maxSize: 2, desiredSize: 0 } },
        });
        const d = diffPlans(plan([pool(["g5.xlarge", "g6.xlarge"])]), plan([pool(["g5.2xlarge", "g6.xlarge"])]));
        assert.equal(d.changed[0].replacement, true);
        assert.deepEqual(d.changed[0].replacing, ["instanceTypes[0]"]);
        assert.match(renderDiffMarkdown(d), /\(1 replaced\)/);
        assert.match(renderDiffMarkdown(d), /\*\*replacement\*\*: `instanceTypes\[0\]` cannot change in place/);
        const scaled = diffPlans(plan([pool(["g5.xlarge"])]), plan([{ ...pool(["g5.xlarge"]), inputs: { instanceTypes: ["g5.xlarge"], scalingConfig: { minSize: 0, maxSize: 4, desiredSize: 0 } } }]));
        assert.equal(scaled.changed[0].replacement, false, "a scaling change is an update");
    });

    it("reports policy verdict changes", () => {
        const v = { pack: "mlops-security", policyName: "s3-versioning", enforcementLevel: "mandatory", message: "bucket x is not versioned" };
        const d = diffPlans({ ...plan([]), policies: [] } as any, { ...plan([]), policies: [v] } as any);
        assert.deepEqual(d.policiesAdded, [v]);
        assert.match(renderDiffMarkdown(d), /1 new violation\(s\) \(1 mandatory\)/);
    });

    it("the CLI compares against a base plan.json and refuses one of another stack", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cmp-"));
        const cli = path.join(ROOT, "dist", "cli", "mlops.js");
        assert.equal(spawnSync(process.execPath, [cli, "plan", "--stack", "dev", "--out", dir], { encoding: "utf8" }).status, 0);
        assert.ok(fs.readFileSync(path.join(dir, "summary.md"), "utf8").startsWith("## Offline plan: mlops-platform/dev"));
        const same = spawnSync(process.execPath, [cli, "plan", "--stack", "dev", "--compare", path.join(dir, "plan.json"), "--format", "markdown"], { encoding: "utf8" });
        assert.equal(same.status, 0, same.stderr);
        assert.match(same.stdout, /0 to add, 0 to change, 0 to delete/);
        assert.match(same.stdout, /No changes\./);
        const other = spawnSync(process.execPath, [cli, "plan", "--stack", "prod", "--compare", path.join(dir, "plan.json")], { encoding: "utf8" });
        assert.equal(other.status, 1);
        assert.match(other.stderr, /base plan is of stack 'dev'/);
    });
});
