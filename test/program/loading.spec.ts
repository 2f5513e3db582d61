// How Pulumi's Node.js runtime loads this program (@pulumi/pulumi/cmd/run): Node's module
// resolution, not TypeScript's. A `require("./x")` tries x.js, x.json and x.node before any extension
// ts-node or another loader adds, so a source `x.ts` beside `x.json` is shadowed by the JSON file.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const SOURCE_DIRS = ["components", "config", "offline-plan", "cli", "policies", "engine"];

function walk(dir: string, out: string[] = []): string[] {
    if (!fs.existsSync(dir)) {
        return out;
    }
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.name === "node_modules" || e.name === "dist") {
            continue;
        }
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
            walk(p, out);
        } else {
            out.push(p);
        }
    }
    return out;
}

describe("program loading (as Pulumi's Node.js runtime resolves modules)", () => {
    it("no TypeScript module is shadowed by a .js, .json or .node file of the same name", () => {
        const files = [path.join(ROOT, "index.ts"), ...SOURCE_DIRS.flatMap((d) => walk(path.join(ROOT, d)))];
        const shadowed: string[] = [];
        for (const f of files.filter((x) => x.endsWith(".ts") && !x.endsWith(".d.ts"))) {
            const base = f.slice(0, -3);
            for (const ext of [".js", ".json", ".node"]) {
                if (fs.existsSync(base + ext)) {
                    shadowed.push(`${path.relative(ROOT, f)} is shadowed by ${path.relative(ROOT, base + ext)}`);
                }
            }
        }
        assert.deepEqual(shadowed, []);
    });
});

describe("the compiled program the CLI runs (Pulumi.yaml main: dist/index.js)", () => {
    const { staleProgramSources, assertCompiledProgramCurrent } = require("../../config/source-freshness") as typeof import("../../config/source-freshness");
    const os = require("os") as typeof import("os");

    function project(): { root: string; dist: string } {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-fresh-"));
        const dist = path.join(root, "dist");
        fs.mkdirSync(path.join(root, "components"), { recursive: true });
        fs.mkdirSync(path.join(dist, "components"), { recursive: true });
        for (const [src, js] of [["index.ts", "index.js"], ["components/a.ts", "components/a.js"]]) {
            fs.writeFileSync(path.join(root, src), "export {};\n");
            fs.writeFileSync(path.join(dist, js), "\"use strict\";\n");
            const built = new Date(Date.now() - 30_000);
            const written = new Date(Date.now() - 60_000);
            fs.utimesSync(path.join(root, src), written, written);
            fs.utimesSync(path.join(dist, js), built, built);
        }
        return { root, dist };
    }

    it("Pulumi.yaml runs dist/index.js without ts-node", () => {
        const YAML = require("yaml") as typeof import("yaml");
        const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
        assert.equal(project.main, "dist/index.js");
        assert.equal(project.runtime.options.typescript, false);
    });

    it("accepts a build newer than its sources", () => {
        const { root, dist } = project();
        assert.deepEqual(staleProgramSources(root, dist), []);
        assert.doesNotThrow(() => assertCompiledProgramCurrent(root, dist));
    });

    it("refuses to run when a source was edited after the build, naming it and `npm run build`", () => {
        const { root, dist } = project();
        fs.writeFileSync(path.join(root, "components", "a.ts"), "export const edited = 1;\n");
        assert.deepEqual(staleProgramSources(root, dist), ["components/a.ts"]);
        assert.throws(() => assertCompiledProgramCurrent(root, dist), /components\/a\.ts.*npm run build/);
    });

    it("refuses a source that was never compiled", () => {
        const { root, dist } = project();
        fs.writeFileSync(path.join(root, "components", "new.ts"), "export {};\n");
        assert.deepEqual(staleProgramSources(root, dist), ["components/new.ts"]);
    });

    it("does not check when the program runs from its sources", () => {
        const { root } = project();
        fs.writeFileSync(path.join(root, "components", "a.ts"), "export const edited = 1;\n");
        assert.deepEqual(staleProgramSources(root, root), []);
    });
});
