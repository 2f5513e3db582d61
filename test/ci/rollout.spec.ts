// The progressive-delivery script both deploy pipelines run (.ci/rollout.sh), executed for real:
// the real `mlops` CLI (dist/cli/mlops.js) edits a copy of Pulumi.dev.yaml, `pulumi` is a recording
// stand-in (no cloud here) and Prometheus is a local HTTP server answering the analysis queries.
import * as assert from "node:assert/strict";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { buildProgram } from "../../cli/mlops";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const SCRIPT = path.join(ROOT, ".ci", "rollout.sh");

function project(edit: (serving: any) => void): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-rollout-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
    fs.cpSync(path.join(ROOT, "policies", "config"), path.join(root, "policies", "config"), { recursive: true });
    const doc = YAML.parseDocument(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
    const config = doc.get("config") as YAML.YAMLMap;
    const serving = (config.get("mlops-platform:serving") as YAML.YAMLMap).toJSON();
    edit(serving);
    config.set("mlops-platform:serving", doc.createNode(serving));
    fs.writeFileSync(path.join(root, "Pulumi.dev.yaml"), doc.toString());
    // `pulumi`: records each call with the canary weight the stack file holds at that moment.
    fs.writeFileSync(
        path.join(root, "pulumi"),
        `#!/usr/bin/env bash\nw=$(grep -E '^ +canaryWeight:' "${root}/Pulumi.dev.yaml" | head -n1 | awk '{print $2}')\nv=$(node -e 'const y=require("${require.resolve("yaml")}");const s=y.parse(require("fs").readFileSync("${root}/Pulumi.dev.yaml","utf8")).config["mlops-platform:serving"];process.stdout.write(String(s.canary?s.canary.stable.version:s.blueGreen.active))')\necho "$* weight=$w stable=$v" >> "${root}/pulumi.log"\n`,
        { mode: 0o755 },
    );
    return root;
}

/** A Prometheus stand-in: canary error count from `canaryErrors` (of 400 requests per track). */
async function prometheus(canaryErrors: number): Promise<{ url: string; close: () => void }> {
    const server = http.createServer((req, res) => {
        const q = new URL(req.url!, "http://x").searchParams.get("query")!;
        const track = /track="([a-z]+)"/.exec(q)?.[1];
        const v = q.includes("histogram_quantile") ? "0.04" : q.includes("5..|400") ? (track === "canary" ? String(canaryErrors) : "0") : "400";
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [Date.now() / 1000, v] }] } }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

function rollout(root: string, promUrl: string): Promise<{ code: number | null; log: string[]; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn("bash", [SCRIPT, "dev"], {
            env: {
                PATH: process.env.PATH!,
                PROMETHEUS_URL: promUrl,
                PULUMI: path.join(root, "pulumi"),
                PULUMI_STACK: "org/dev",
                PULUMI_UP_ARGS: "--policy-pack policies/gating",
                MLOPS: `${process.execPath} ${path.join(ROOT, "dist", "cli", "mlops.js")} --project-dir ${root}`,
                ROLLOUT_WAIT: "0",
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.stdout.on("data", (d) => (stderr += d));
        child.on("close", (code) => {
            const f = path.join(root, "pulumi.log");
            resolve({ code, stderr, log: fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : [] });
        });
    });
}

describe(".ci/rollout.sh: the deploy pipelines' step plan", function () {
    this.timeout(180_000);

    it("walks serving.analysis.steps with pulumi up at each step, then promotes (healthy canary)", async () => {
        const root = project((s) => {
            s.canary.canaryWeight = 0;
            s.analysis = { steps: [10, 25, 50, 100], minRequests: 100 };
        });
        const prom = await prometheus(0);
        try {
            const r = await rollout(root, prom.url);
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(r.log, [
                "up --yes --stack org/dev --policy-pack policies/gating weight=10 stable=3",
                "up --yes --stack org/dev --policy-pack policies/gating weight=25 stable=3",
                "up --yes --stack org/dev --policy-pack policies/gating weight=50 stable=3",
                "up --yes --stack org/dev --policy-pack policies/gating weight=100 stable=3",
                "up --yes --stack org/dev --policy-pack policies/gating weight=0 stable=4",
            ]);
            assert.match(r.stderr, /rollout complete/);
        } finally {
            prom.close();
        }
    });

    it("rolls back automatically (weight 0 + pulumi up, exit 1) when the canary fails the analysis", async () => {
        const root = project((s) => {
            s.canary.canaryWeight = 0;
            s.analysis = { steps: [10, 50, 100] };
        });
        const prom = await prometheus(40); // 10% errors
        try {
            const r = await rollout(root, prom.url);
            assert.equal(r.code, 1, r.stderr);
            assert.deepEqual(r.log, [
                "up --yes --stack org/dev --policy-pack policies/gating weight=10 stable=3",
                "up --yes --stack org/dev --policy-pack policies/gating weight=0 stable=3",
            ]);
            assert.match(r.stderr, /"verdict": "rollback"/);
        } finally {
            prom.close();
        }
    });

    it("an unreachable Prometheus before any answer edits nothing and fails (exit 1)", async () => {
        const root = project((s) => (s.canary.canaryWeight = 25));
        const r = await rollout(root, "http://127.0.0.1:1");
        assert.equal(r.code, 1, r.stderr);
        // The strategy is unknown until one analysis answered: nothing is edited blindly.
        assert.deepEqual(r.log, []);
        assert.match(r.stderr, /analysis failed \(exit 1\): nothing changed/);
    });

    it("does nothing without a candidate", async () => {
        const root = project((s) => {
            delete s.canary.canary;
            s.canary.canaryWeight = 0;
        });
        const r = await rollout(root, "http://127.0.0.1:1");
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.log, []);
        assert.match(r.stderr, /nothing to analyse/);
    });

    it("blue-green: a healthy preview slot is switched to with one pulumi up", async () => {
        const root = project((s) => {
            const stable = s.canary.stable;
            const cand = s.canary.canary;
            delete s.canary;
            s.strategy = "blueGreen";
            s.blueGreen = { active: "blue", slots: { blue: stable, green: cand } };
        });
        const prom = await prometheus(0);
        try {
            const r = await rollout(root, prom.url);
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(r.log, ["up --yes --stack org/dev --policy-pack policies/gating weight= stable=green"]);
        } finally {
            prom.close();
        }
    });
});

describe("deploy pipelines run the rollout after pulumi up", () => {
    const gh = YAML.parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", "deploy.yml"), "utf8"));
    const gl = YAML.parse(fs.readFileSync(path.join(ROOT, ".gitlab-ci.yml"), "utf8"), { merge: true });

    it("GitHub: each deploy job runs .ci/rollout.sh for its stack after the pulumi up step, and commits the result", () => {
        for (const [job, stack] of [["deploy", "${{ matrix.stack }}"], ["prod", "prod"]]) {
            const steps: any[] = gh.jobs[job].steps;
            const up = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions") && s.with?.command === "up");
            const ro = steps.findIndex((s) => typeof s.run === "string" && s.run.includes(`bash .ci/rollout.sh ${stack}`));
            assert.ok(up >= 0 && ro > up, `${job}: rollout after pulumi up`);
            assert.equal(steps[ro].env.PROMETHEUS_URL, "http://127.0.0.1:9090");
            assert.match(steps[ro].env.PULUMI_UP_ARGS, /policies\/gating/);
            assert.ok(steps.slice(ro + 1).some((s) => s.if === "always()" && /git push/.test(s.run)), `${job}: commits the stack file`);
            assert.equal(gh.jobs[job].permissions.contents, "write");
        }
    });

    it("GitLab: deploy-dev and deploy-prod run .ci/rollout.sh after pulumi up, commit the result and keep its exit code", () => {
        for (const stack of ["dev", "prod"]) {
            const script: string[] = gl[`deploy-${stack}`].script;
            const up = script.findIndex((l) => l.startsWith(`pulumi up --yes --stack "$PULUMI_ORG/${stack}"`));
            const ro = script.findIndex((l) => l.includes(`bash .ci/rollout.sh ${stack}`));
            assert.ok(up >= 0 && ro > up);
            assert.ok(script[ro + 1].includes("git push") && script[ro + 2] === 'exit "${rollout_rc:-0}"');
            assert.equal(gl[`deploy-${stack}`].variables.PROMETHEUS_URL, "http://127.0.0.1:9090");
        }
    });

    it("every mlops command and option .ci/rollout.sh uses exists", () => {
        const text = fs.readFileSync(SCRIPT, "utf8");
        const program = buildProgram(ROOT);
        const release = program.commands.find((c) => c.name() === "release")!;
        const calls = [...text.matchAll(/\$MLOPS release ([a-z-]+)([^\n]*)/g)];
        assert.ok(calls.length >= 2);
        for (const [, sub, rest] of calls) {
            const cmd = release.commands.find((c) => c.name() === sub);
            assert.ok(cmd, `mlops release ${sub}`);
            for (const opt of [...rest.matchAll(/(--[a-z-]+)/g)].map((m) => m[1])) {
                assert.ok(cmd!.options.some((o) => o.long === opt), `mlops release ${sub} has no ${opt}`);
            }
        }
        for (const extra of ["--start"]) assert.ok(release.commands.find((c) => c.name() === "analyze")!.options.some((o) => o.long === extra));
    });
});
