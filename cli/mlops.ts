#!/usr/bin/env node
// The `mlops` command line: offline plans, plan diffs, the metrics gate and releases.
import { Command, CommanderError } from "commander";
import * as path from "path";
import * as fs from "fs";
import { diffPlans, renderDiffMarkdown, renderDiffText } from "./diff";
import { gateCommand, writeGatedRelease } from "./gate";
import { registerReleaseCommands } from "./release";
import { registerAnalyzeCommand } from "./release-analyze";
import { MlflowClient } from "./mlflow-client";
import { checkOutDir, planCommand } from "./plan";
import { registerStackCommands } from "./stack-init";

/** The installed package (its compiled policy packs, its package.json). */
export const PACKAGE_ROOT = path.resolve(__dirname, "..", "..");
/** This repository's own project root (the package is also a Pulumi project). */
export const PROJECT_ROOT = PACKAGE_ROOT;

/** The nearest folder at or above `start` holding a Pulumi.yaml. */
export function findProjectDir(start: string): string | undefined {
    let dir = path.resolve(start);
    for (;;) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        const up = path.dirname(dir);
        if (up === dir) return undefined;
        dir = up;
    }
}

/** The project the CLI works on: --project-dir, else the nearest Pulumi.yaml at or above the current directory. */
export function resolveProjectDir(projectDir: string | undefined, cwd = process.cwd()): string {
    if (projectDir !== undefined) {
        const dir = path.resolve(cwd, projectDir);
        if (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) throw new Error(`--project-dir: ${dir} holds no Pulumi.yaml (a Pulumi project folder is expected)`);
        return dir;
    }
    const found = findProjectDir(cwd);
    if (!found) throw new Error(`no Pulumi.yaml in ${cwd} or above it: run mlops in your Pulumi project, or pass --project-dir <dir>`);
    return found;
}

export function packageVersion(): string {
    return JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")).version;
}

/**
 * The `mlops` program. `fixedRoot` pins the project folder (tests); otherwise it is --project-dir
 * or found from the current directory.
 */
export function buildProgram(fixedRoot?: string): Command {
    const program = new Command("mlops")
        .description("mlops-platform: offline plans, model gates and releases")
        .version(packageVersion(), "-V, --version", "print the mlops-platform version")
        .option("-C, --project-dir <dir>", "the Pulumi project to work on (default: the nearest Pulumi.yaml at or above the current directory)")
        .exitOverride();
    const rootOf = () => fixedRoot ?? resolveProjectDir(program.opts().projectDir);
    program
        .command("plan")
        .description("Run the Pulumi program offline for a stack and print the resource tree")
        .requiredOption("-s, --stack <name>", "stack name (Pulumi.<name>.yaml)")
        .option("-o, --out <dir>", "write plan.json, manifests/ and summary.md to this folder")
        .option("-c, --compare <plan.json>", "print what changed against a base plan instead of the tree")
        .option("-f, --format <format>", "output format with --compare: text or markdown", "text")
        .option("--no-policies", "skip the security and gating policy packs")
        .option("--program <file>", "compiled program to run (default: <project>/dist/index.js)")
        .action(async (o: { stack: string; out?: string; compare?: string; format: string; policies: boolean; program?: string }) => {
            const root = rootOf();
            if (!["text", "markdown"].includes(o.format)) {
                throw new Error(`--format must be "text" or "markdown", got "${o.format}"`);
            }
            let base: any;
            if (o.compare) {
                try {
                    base = JSON.parse(fs.readFileSync(path.resolve(o.compare), "utf8"));
                } catch (e: any) {
                    throw new Error(`--compare: cannot read base plan ${o.compare}: ${e.message}`);
                }
                if (base?.formatVersion !== 1 || !Array.isArray(base.resources)) {
                    throw new Error(`--compare: ${o.compare} is not a plan.json written by \`mlops plan --out\``);
                }
            }
            // Inputs are checked before the plan runs (it takes a while): a base plan of another stack,
            // an --out folder holding files the CLI did not write.
            if (base && base.stack !== o.stack) {
                throw new Error(`--compare: the base plan is of stack '${base.stack}', this plan is of '${o.stack}'`);
            }
            if (o.out) checkOutDir(path.resolve(o.out));
            const result = await planCommand({
                root,
                stack: o.stack,
                out: o.out ? path.resolve(o.out) : undefined,
                policies: o.policies,
                ...(o.program ? { program: path.resolve(o.program) } : {}),
            });
            if (base) {
                const d = diffPlans(base, result.plan);
                console.log(o.format === "markdown" ? renderDiffMarkdown(d) : renderDiffText(d));
            } else {
                console.log(result.text);
            }
            process.exitCode = result.exitCode;
        });
    program
        .command("gate")
        .description("Gate a candidate model on MLflow metrics with the stack's gating rules (exit 3 on FAIL)")
        .requiredOption("-s, --stack <name>", "stack whose gate applies (serving.thresholds of Pulumi.<stack>.yaml)")
        .requiredOption("--candidate <ref>", "runs:/<id>, models:/<name>/<version> or models:/<name>@<alias>")
        .option("--baseline <ref>", "baseline reference (default: the release the stack serves; none on a stack that serves nothing yet)")
        .option("--tracking-uri <url>", "MLflow tracking server (default $MLFLOW_TRACKING_URI; auth from $MLFLOW_TRACKING_USERNAME/_PASSWORD/_TOKEN)")
        .option("--json", "print the verdict as JSON")
        .option("--write", "on PASS, record the release as the candidate in Pulumi.<stack>.yaml (canary track or idle blue-green slot)")
        .option("--approved-by <who>", "record the approver with --write (required by the gating pack in prod)")
        .action(async (o: { stack: string; candidate: string; baseline?: string; trackingUri?: string; json?: boolean; write?: boolean; approvedBy?: string }) => {
            const root = rootOf();
            const env = { ...process.env, ...(o.trackingUri ? { MLFLOW_TRACKING_URI: o.trackingUri } : {}) };
            const outcome = await gateCommand({ root, stack: o.stack, candidate: o.candidate, baseline: o.baseline, client: MlflowClient.fromEnv(env) });
            console.log(
                o.json
                    ? JSON.stringify({ passed: outcome.exitCode === 0, verdict: outcome.verdict, provenance: outcome.provenance, candidate: outcome.candidate, baseline: outcome.baseline }, null, 2)
                    : outcome.text,
            );
            process.exitCode = outcome.exitCode;
            if (o.write) {
                if (outcome.exitCode !== 0) {
                    console.error(`mlops: the gate failed: Pulumi.${o.stack}.yaml was not changed`);
                    return;
                }
                console.log(writeGatedRelease(root, o.stack, outcome, o.approvedBy));
            }
        });
    registerReleaseCommands(program, rootOf);
    registerAnalyzeCommand(program.commands.find((c) => c.name() === "release")!, rootOf);
    registerStackCommands(program, rootOf);
    return program;
}

export async function main(argv: string[]): Promise<number> {
    try {
        process.exitCode = 0;
        await buildProgram().parseAsync(argv, { from: "user" });
        return Number(process.exitCode ?? 0);
    } catch (e: any) {
        if (e instanceof CommanderError) {
            return e.code === "commander.version" || e.code === "commander.helpDisplayed" ? 0 : e.exitCode;
        }
        console.error(`mlops: ${e?.message ?? e}`);
        return 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code));
}
