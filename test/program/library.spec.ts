import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");

describe("the built package as a library", () => {
    it("platform teams can import components by the package name", () => {
        // A separate process resolves "mlops-platform" through package.json `exports` (self-reference),
        // i.e. the built dist/, not the TypeScript source.
        const script = `
            const lib = require("mlops-platform");
            const names = ["DataLake", "ContainerRegistry", "Network", "MlCluster", "GpuNodeGroup", "CiAccess", "WorkloadIdentity", "TrackingServer", "TrainingJob", "ServingStack", "Gateway", "Monitoring", "DriftMonitor", "MlPlatform"].filter((n) => typeof lib[n] !== "function");
            if (names.length) { console.error("missing exports: " + names.join(",")); process.exit(2); }
            console.log(require.resolve("mlops-platform"));
        `;
        const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), path.join(ROOT, "dist", "components", "index.js"));
    });
});

describe("dependency hygiene", () => {
    it("has exactly one copy of @pulumi/pulumi (3.248.x: Node 20) and TypeScript below 7", () => {
        const copies: string[] = [];
        const walk = (dir: string, depth: number) => {
            if (depth > 6 || !require("fs").existsSync(dir)) return;
            for (const e of require("fs").readdirSync(dir, { withFileTypes: true })) {
                if (!e.isDirectory()) continue;
                const p = path.join(dir, e.name);
                if (e.name === "@pulumi") {
                    const sdk = path.join(p, "pulumi", "package.json");
                    if (require("fs").existsSync(sdk)) copies.push(sdk);
                    for (const sub of require("fs").readdirSync(p)) walk(path.join(p, sub, "node_modules"), depth + 1);
                } else if (e.name.startsWith("@")) {
                    for (const sub of require("fs").readdirSync(p)) walk(path.join(p, sub, "node_modules"), depth + 1);
                } else {
                    walk(path.join(p, "node_modules"), depth + 1);
                }
            }
        };
        walk(path.join(ROOT, "node_modules"), 0);
        assert.deepEqual(copies, [path.join(ROOT, "node_modules", "@pulumi", "pulumi", "package.json")]);
        assert.match(require(copies[0]).version, /^3\.248\./);
        assert.ok(Number(require(path.join(ROOT, "node_modules", "typescript", "package.json")).version.split(".")[0]) < 7);
    });
});
