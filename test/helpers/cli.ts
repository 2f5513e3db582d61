// Running `mlops` as a user does, on a throwaway copy of the project, against a small stand-in of
// MLflow's REST API (the real server is exercised by the contract suite).
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "..", "..", "..");

export interface Version {
    version: string;
    runId: string;
    metrics: Record<string, number>;
    /** Who logged the run (its user_id). Default the training identity, `mlops-training`. */
    userId?: string;
}

/** Serves registered-models/alias, model-versions/get and runs/get for one model. */
export function fakeMlflow(model: string, versions: Version[], champion: string): Promise<{ url: string; close: () => void }> {
    const mv = (v: Version) => ({ name: model, version: v.version, run_id: v.runId, source: `runs:/${v.runId}/model`, status: "READY", tags: [] });
    const server = http.createServer((req, res) => {
        const url = new URL(req.url!, "http://x");
        const send = (code: number, body: unknown) => {
            res.writeHead(code, { "Content-Type": "application/json" });
            res.end(JSON.stringify(body));
        };
        const notFound = () => send(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "not found" });
        const q = url.searchParams;
        if (url.pathname === "/api/2.0/mlflow/registered-models/alias") {
            const v = q.get("name") === model && q.get("alias") === "champion" ? versions.find((x) => x.version === champion) : undefined;
            return v ? send(200, { model_version: mv(v) }) : notFound();
        }
        if (url.pathname === "/api/2.0/mlflow/model-versions/get") {
            const v = q.get("name") === model ? versions.find((x) => x.version === q.get("version")) : undefined;
            return v ? send(200, { model_version: mv(v) }) : notFound();
        }
        if (url.pathname === "/api/2.0/mlflow/runs/get") {
            const v = versions.find((x) => x.runId === q.get("run_id"));
            return v
                ? send(200, {
                      run: {
                          info: { run_id: v.runId, status: "FINISHED", experiment_id: "1", user_id: v.userId ?? "mlops-training" },
                          data: { metrics: Object.entries(v.metrics).map(([key, value]) => ({ key, value, timestamp: 1, step: 0 })), tags: [] },
                      },
                  })
                : notFound();
        }
        notFound();
    });
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as any).port}`, close: () => server.close() })),
    );
}

/** A throwaway copy of the project files the CLI reads and writes (the compiled code stays in place). */
export function tempProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gate-write-"));
    for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"]) {
        fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    }
    fs.cpSync(path.join(ROOT, "policies", "config"), path.join(dir, "policies", "config"), { recursive: true });
    return dir;
}

export function mlops(args: string[], cwdRoot: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    // The CLI finds its project two folders above dist/cli; run a copy of the entry that points at the temp project.
    const shim = path.join(cwdRoot, "mlops-shim.js");
    fs.writeFileSync(
        shim,
        `const { buildProgram } = require(${JSON.stringify(path.join(ROOT, "dist", "cli", "mlops.js"))});\n` +
            `buildProgram(${JSON.stringify(cwdRoot)}).parseAsync(process.argv.slice(2), { from: "user" }).then(() => process.exit(process.exitCode ?? 0), (e) => { console.error("mlops: " + e.message); process.exit(1); });\n`,
    );
    return new Promise((resolve) => {
        const p = spawn(process.execPath, [shim, ...args], { env: { ...process.env, MLFLOW_TRACKING_URI: "" } });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (d) => (stdout += d));
        p.stderr.on("data", (d) => (stderr += d));
        p.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

