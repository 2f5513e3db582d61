import { validateWorkflow } from "@action-validator/core";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import * as YAML from "yaml";
import { buildProgram } from "../../cli/mlops";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const workflowFiles = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));

/** Every shell line the pipelines run, with the stack matrix expanded. */
function shellLines(): Array<{ file: string; line: string }> {
    const out: Array<{ file: string; line: string }> = [];
    const add = (file: string, text: unknown) => {
        for (const stack of ["dev", "prod"]) {
            const expanded = String(text)
                .replace(/\$\{\{\s*matrix\.stack\s*\}\}/g, stack)
                .replace(/"?\$STACK"?/g, stack)
                .replace(/"?\$s"?|"?\$stack"?/g, stack);
            for (const line of expanded.split("\n")) {
                out.push({ file, line });
            }
        }
    };
    for (const f of workflowFiles) {
        const wf = YAML.parse(fs.readFileSync(path.join(WORKFLOWS, f), "utf8"));
        for (const job of Object.values<any>(wf.jobs)) {
            for (const step of job.steps ?? []) {
                if (step.run) add(f, step.run);
                for (const v of Object.values(step.with ?? {})) add(f, v);
            }
        }
    }
    const gl = YAML.parse(fs.readFileSync(path.join(ROOT, ".gitlab-ci.yml"), "utf8"), { merge: true });
    for (const [name, job] of Object.entries<any>(gl)) {
        if (job && typeof job === "object" && !Array.isArray(job)) {
            for (const key of ["script", "before_script"]) {
                for (const s of [job[key] ?? []].flat(2)) add(`.gitlab-ci.yml:${name}`, s);
            }
        }
    }
    return out;
}

describe("CI/CD pipelines for users", () => {
    for (const f of workflowFiles) {
        it(`${f} is a valid GitHub Actions workflow`, () => {
            const state = validateWorkflow(fs.readFileSync(path.join(WORKFLOWS, f), "utf8"));
            assert.deepEqual(state.errors, [], JSON.stringify(state.errors, null, 2));
        });
    }

    it("the validator rejects a broken workflow (it is really checking)", () => {
        const state = validateWorkflow("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n");
        assert.ok(state.errors.length > 0);
    });

    describe("schema validation with check-jsonschema (SchemaStore schemas)", function () {
        const bin = path.join(ROOT, ".tools", "venv", "bin", "check-jsonschema");
        const check = (schema: string, files: string[]) => spawnSync(bin, ["--builtin-schema", schema, ...files], { encoding: "utf8" });

        before(function () {
            if (!fs.existsSync(bin)) {
                console.warn("    check-jsonschema is not installed: run `bash test/ci/install-tools.sh` (.ci/run does)");
                this.skip();
            }
        });

        it(".gitlab-ci.yml is valid against the GitLab CI schema", () => {
            const r = check("vendor.gitlab-ci", [path.join(ROOT, ".gitlab-ci.yml")]);
            assert.equal(r.status, 0, r.stdout + r.stderr);
        });

        it("the GitHub workflows are valid against the workflow schema too", () => {
            const r = check("vendor.github-workflows", workflowFiles.map((f) => path.join(WORKFLOWS, f)));
            assert.equal(r.status, 0, r.stdout + r.stderr);
        });

        it("a misspelt GitLab keyword is rejected (the check is real)", () => {
            const bad = path.join(fs.mkdtempSync(path.join(require("os").tmpdir(), "gl-")), ".gitlab-ci.yml");
            fs.writeFileSync(bad, "broken:\n  stage: check\n  scriptt: [echo]\n");
            const r = check("vendor.gitlab-ci", [bad]);
            assert.equal(r.status, 1);
            assert.match(r.stdout, /scriptt/);
        });
    });

    it("every `npm run` script the pipelines call exists", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts;
        const used = shellLines().flatMap(({ file, line }) => [...line.matchAll(/npm run ([\w:-]+)/g)].map((m) => ({ file, script: m[1] })));
        assert.ok(used.length > 0);
        for (const u of used) {
            assert.ok(scripts[u.script], `${u.file}: npm run ${u.script} is not a package.json script`);
        }
    });

    it("every `mlops` subcommand and option the pipelines call exists", () => {
        const program = buildProgram(ROOT);
        const calls = shellLines().flatMap(({ file, line }) => [...line.matchAll(/npx mlops ([a-z-]+)((?: [^;|&>]*)?)/g)].map((m) => ({ file, cmd: m[1], rest: m[2] })));
        assert.ok(calls.length > 0);
        for (const c of calls) {
            const sub = program.commands.find((k) => k.name() === c.cmd);
            assert.ok(sub, `${c.file}: mlops ${c.cmd} does not exist`);
            for (const opt of [...c.rest.matchAll(/(--[a-z-]+)/g)].map((m) => m[1])) {
                assert.ok(sub!.options.some((o) => o.long === opt), `${c.file}: mlops ${c.cmd} has no option ${opt}`);
            }
        }
    });

    it("every repository path the pipelines name exists", () => {
        const paths = shellLines().flatMap(({ file, line }) =>
            [...line.matchAll(/(?:^|[\s"'=])((?:policies|examples|test|\.ci|bench)\/[\w./-]+)/g)].map((m) => ({ file, p: m[1].replace(/[.,;]$/, "") })),
        );
        assert.ok(paths.length > 0);
        for (const { file, p } of paths) {
            assert.ok(fs.existsSync(path.join(ROOT, p)), `${file}: ${p} does not exist`);
        }
    });
});

