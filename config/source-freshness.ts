// The deployed program is the compiled JavaScript (Pulumi.yaml `main: dist/index.js`), the same
// files `mlops plan` and the tests run. Compiling is a separate step, so a source edited after the
// last build would silently deploy the old code; the program refuses to start instead.
import * as fs from "fs";
import * as path from "path";

/** Folders (beside index.ts) whose TypeScript makes up the program. */
export const PROGRAM_SOURCE_DIRS = ["components", "config"] as const;

function tsSources(root: string): string[] {
    const out = [path.join(root, "index.ts")];
    const walk = (dir: string) => {
        if (!fs.existsSync(dir)) {
            return;
        }
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name);
            if (e.isDirectory()) {
                walk(p);
            } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
                out.push(p);
            }
        }
    };
    PROGRAM_SOURCE_DIRS.forEach((d) => walk(path.join(root, d)));
    return out.filter((f) => fs.existsSync(f));
}

/**
 * Program sources (relative to `sourceRoot`) whose compiled file in `compiledRoot` is missing or
 * older than the source. Empty when the program runs from its sources (compiledRoot = sourceRoot).
 */
export function staleProgramSources(sourceRoot: string, compiledRoot: string): string[] {
    if (path.resolve(sourceRoot) === path.resolve(compiledRoot)) {
        return [];
    }
    const stale: string[] = [];
    for (const src of tsSources(sourceRoot)) {
        const rel = path.relative(sourceRoot, src);
        const js = path.join(compiledRoot, rel.replace(/\.ts$/, ".js"));
        if (!fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(src).mtimeMs) {
            stale.push(rel);
        }
    }
    return stale.sort();
}

/** Throws, naming the files and the command to run, when the compiled program is older than its sources. */
export function assertCompiledProgramCurrent(sourceRoot: string, compiledRoot: string): void {
    const stale = staleProgramSources(sourceRoot, compiledRoot);
    if (stale.length > 0) {
        const shown = stale.slice(0, 5).join(", ") + (stale.length > 5 ? ` and ${stale.length - 5} more` : "");
        throw new Error(
            `the compiled program in ${path.relative(sourceRoot, compiledRoot) || "."}/ is older than its sources (${shown}): ` +
                "run `npm run build` before `pulumi preview` / `pulumi up` (Pulumi.yaml runs dist/index.js)",
        );
    }
}
