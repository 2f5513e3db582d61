// The same commit gives the same plan from any checkout path: what `pull-request.yml` relies on when
// it plans the base branch from a second checkout (`base/`), and what keeps a laptop and CI from
// declaring different Images (a rebuild would push an existing tag into an IMMUTABLE repository).
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runProgram } from "../../offline-plan/run";

const ROOT = path.resolve(__dirname, "..", "..", "..");

/** A second checkout: the project's files copied (mtimes kept), node_modules linked. */
function secondCheckout(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-checkout-"));
    for (const entry of fs.readdirSync(ROOT)) {
        if ([".git", "node_modules", "out", ".contract"].includes(entry)) {
            continue;
        }
        fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true, preserveTimestamps: true });
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
    return dir;
}

describe("reproducible plans", function () {
    it("dev plans identically from a second checkout path (no absolute path in any input or output)", async () => {
        const copy = secondCheckout();
        try {
            const here = await runProgram({ root: ROOT, stack: "dev" });
            const there = await runProgram({ root: copy, stack: "dev" });
            assert.deepEqual(there.resources.map((r) => r.urn), here.resources.map((r) => r.urn));
            for (let i = 0; i < here.resources.length; i++) {
                assert.deepEqual(there.resources[i].inputs, here.resources[i].inputs, `inputs of ${here.resources[i].urn}`);
                assert.deepEqual(there.resources[i].outputs, here.resources[i].outputs, `outputs of ${here.resources[i].urn}`);
            }
            assert.deepEqual(there.outputs, here.outputs);
            const text = JSON.stringify(here.resources);
            assert.ok(!text.includes(ROOT), "no input or output holds the checkout path");
        } finally {
            fs.rmSync(copy, { recursive: true, force: true });
        }
    });
});
