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
