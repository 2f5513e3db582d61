#!/usr/bin/env node
// The `mlops` command line: offline plans, plan diffs, the metrics gate and releases.
import { Command, CommanderError } from "commander";
import * as path from "path";
import { planCommand } from "./plan";

/** The project root: the folder holding Pulumi.yaml (the package root). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

export function buildProgram(root: string = PROJECT_ROOT): Command {
    const program = new Command("mlops").description("mlops-platform: offline plans, model gates and releases").exitOverride();
    program
        .command("plan")
        .description("Run the Pulumi program offline for a stack and print the resource tree")
        .requiredOption("-s, --stack <name>", "stack name (Pulumi.<name>.yaml)")
        .option("-o, --out <dir>", "write plan.json (and manifests) to this folder")
        .action(async (o: { stack: string; out?: string }) => {
            const result = await planCommand({ root, stack: o.stack, out: o.out ? path.resolve(o.out) : undefined });
            console.log(result.text);
            process.exitCode = result.exitCode;
        });
    return program;
}

export async function main(argv: string[]): Promise<number> {
    try {
        process.exitCode = 0;
        await buildProgram().parseAsync(argv, { from: "user" });
        return Number(process.exitCode ?? 0);
    } catch (e: any) {
        if (e instanceof CommanderError) {
            return e.exitCode;
        }
        console.error(`mlops: ${e?.message ?? e}`);
        return 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code));
}
