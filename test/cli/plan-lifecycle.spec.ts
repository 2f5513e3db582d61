// `mlops plan` as a process: it checks its inputs before the long work, never deletes files it did
// not write, and takes its policy pack processes down with it however it ends.
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MANIFEST_INDEX } from "../../cli/plan";
import { mlops, ROOT, tempProject } from "../helpers/cli";

const CLI = path.join(ROOT, "dist", "cli", "mlops.js");

/** Pids of the processes whose parent is `ppid` and whose command line contains `needle`. */
function childrenOf(ppid: number, needle: string): number[] {
    const out: number[] = [];
    for (const d of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            if (parent === ppid && fs.readFileSync(`/proc/${d}/cmdline`, "utf8").includes(needle)) out.push(Number(d));
        } catch {
            // the process ended while we looked
        }
    }
    return out;
}

function alive(pid: number): boolean {
    try {
        const state = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return state.slice(state.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
        return false;
    }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mlops plan as a process (issue 13, items 8-10)", function () {
    this.timeout(300_000);

    it("9. SIGTERM while the policy packs run leaves no pack process behind", async () => {
        const p = spawn(process.execPath, [CLI, "plan", "--stack", "dev"], { stdio: "ignore" });
        const exited = new Promise<void>((r) => p.once("exit", () => r()));
        let packs: number[] = [];
        for (let i = 0; i < 600 && packs.length < 2; i++) {
            await sleep(250);
            packs = childrenOf(p.pid!, path.join("dist", "policies"));
        }
        assert.equal(packs.length, 2, "both pack processes were started");
        p.kill("SIGTERM");
        await exited;
        for (let i = 0; i < 40 && packs.some(alive); i++) await sleep(250);
        assert.deepEqual(packs.filter(alive), [], "no pack process survives the plan");
    });

    it("8. --out never deletes or overwrites files it did not write in <out>/manifests", async () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "plan-out-"));
        const r = spawnSync(process.execPath, [CLI, "plan", "--stack", "dev", "--no-policies", "--out", out], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const written = fs.readFileSync(path.join(out, "manifests", MANIFEST_INDEX), "utf8").trim().split("\n");
        assert.equal(written.length, fs.readdirSync(path.join(out, "manifests")).length - 1, "the index lists every manifest it wrote");

        fs.writeFileSync(path.join(out, "manifests", "my-notes.md"), "mine\n");
        const again = spawnSync(process.execPath, [CLI, "plan", "--stack", "dev", "--no-policies", "--out", out], { encoding: "utf8" });
        assert.equal(again.status, 1);
        assert.match(again.stderr, /--out: .*manifests holds files mlops plan did not write \(my-notes\.md\); choose an empty or new --out folder/);
        assert.equal(fs.readFileSync(path.join(out, "manifests", "my-notes.md"), "utf8"), "mine\n");
        assert.ok(fs.existsSync(path.join(out, "manifests", written[0])), "nothing was deleted");
    });

    it("10. a base plan of another stack is refused before the plan runs", async () => {
        const dir = tempProject();
        // A program that cannot run: a late check would report this instead of the base plan's stack.
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), "config:\n  mlops-platform:environment: [broken\n");
        const base = path.join(dir, "base.json");
        fs.writeFileSync(base, JSON.stringify({ formatVersion: 1, project: "mlops-platform", stack: "dev", resources: [] }));
        const r = await mlops(["plan", "--stack", "prod", "--compare", base], dir);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /--compare: the base plan is of stack 'dev', this plan is of 'prod'/);
    });
});
