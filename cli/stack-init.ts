// `mlops stack init <name>`: a new stack file that plans clean. It holds only what has no safe
// default (region, environment, who administers the cluster); everything else comes from Pulumi.yaml's
// defaults, and the policy packs use the environment's configuration until the stack gets its own.
import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { AWS_REGIONS, parsePlatformConfig, PROJECT, stackNameProblem } from "../config/schema";
import { initCommittedStack } from "./stack-file";
import { ENVIRONMENT_POLICY_DEFAULTS } from "./stack-settings";

export const ENVIRONMENTS = ["dev", "staging", "prod"] as const;

export interface StackInitOptions {
    root: string;
    name: string;
    environment: string;
    region: string;
    /** `owner/name`: CI roles for this repository (the deploy role administers the cluster). */
    githubRepository?: string;
    /** IAM role ARNs that administer the cluster. */
    adminRoleArns?: string[];
}

/** The stack file text for `opts`; throws naming the option when one is invalid. */
export function renderStackFile(opts: StackInitOptions): string {
    const problems: string[] = [];
    const nameProblem = stackNameProblem(opts.name);
    if (nameProblem) problems.push(`<name>: ${nameProblem}`);
    if (!(ENVIRONMENTS as readonly string[]).includes(opts.environment)) {
        problems.push(`--environment: must be one of ${ENVIRONMENTS.join(", ")}, got ${JSON.stringify(opts.environment)}`);
    }
    if (!AWS_REGIONS.includes(opts.region)) problems.push(`--region: must be an AWS region (${AWS_REGIONS.join(", ")}), got ${JSON.stringify(opts.region)}`);
    if (!opts.githubRepository && !(opts.adminRoleArns ?? []).length) {
        problems.push("--github-repository or --admin-role-arn: one is required (who administers the cluster: the CI deploy role, or the roles you name)");
    }
    if (problems.length) throw new Error(`cannot create stack '${opts.name}':\n  - ${problems.join("\n  - ")}`);
    const policyEnv = ENVIRONMENT_POLICY_DEFAULTS[opts.environment];
    const lines = [
        `# Stack ${opts.name} (${opts.environment}), created by \`mlops stack init\`. Every other setting takes its`,
        "# default from Pulumi.yaml (see the README's configuration reference).",
        `# Policy packs: until policies/config/${opts.name}.json exists (then \`npm run gen:config\`), \`mlops plan\``,
        `# uses the ${policyEnv} defaults (policies/config/<pack>.${policyEnv}.json) and says so.`,
        "# `pulumi stack init` rewrites a stack file that lacks `encryptionsalt:` (or secretsprovider:); `mlops stack init " +
            opts.name +
            "` runs it and keeps this file byte-identical except that line, which you commit.",
        "config:",
        `  aws:region: ${opts.region}`,
        `  ${PROJECT}:environment: ${opts.environment}`,
        ...(opts.githubRepository ? [`  ${PROJECT}:githubRepository: ${opts.githubRepository}`] : []),
        ...((opts.adminRoleArns ?? []).length ? [`  ${PROJECT}:clusterAdminRoleArns:`, ...opts.adminRoleArns!.map((a) => `    - ${a}`)] : []),
        "",
    ];
    // The program's own validation, before anything is written.
    const raw: Record<string, string> = { environment: opts.environment };
    if (opts.githubRepository) raw.githubRepository = opts.githubRepository;
    if (opts.adminRoleArns?.length) raw.clusterAdminRoleArns = JSON.stringify(opts.adminRoleArns);
    try {
        parsePlatformConfig(raw, { project: PROJECT, stack: opts.name, awsRegion: opts.region });
    } catch (e: any) {
        throw new Error(`cannot create stack '${opts.name}': ${e.message}`);
    }
    return lines.join("\n");
}

/** Writes Pulumi.<name>.yaml; refuses to overwrite an existing stack file. */
export function stackInit(opts: StackInitOptions): string {
    const file = path.join(opts.root, `Pulumi.${opts.name}.yaml`);
    const text = renderStackFile(opts);
    if (fs.existsSync(file)) throw new Error(`Pulumi.${opts.name}.yaml already exists in ${opts.root}; not overwritten`);
    fs.writeFileSync(file, text, { flag: "wx" });
    return `wrote Pulumi.${opts.name}.yaml; next: \`mlops plan --stack ${opts.name}\`, then \`pulumi stack init ${opts.name}\` and commit the file`;
}

export function registerStackCommands(program: Command, root: () => string): void {
    const stack = program.command("stack").description("Create and initialise stacks");
    stack
        .command("init")
        .description(
            "Without Pulumi.<name>.yaml: create it for a new stack that plans clean (name: lowercase, at most 24 characters). " +
                "Then (unless --file-only) run `pulumi stack init`, keeping the committed stack file byte-identical except the secrets-provider lines",
        )
        .argument("<name>", "stack name")
        .option("-e, --environment <env>", `for a new stack: one of ${ENVIRONMENTS.join(", ")}`)
        .option("-r, --region <region>", "for a new stack: AWS region", "us-east-1")
        .option("--github-repository <owner/name>", "for a new stack: repository whose CI roles deploy (its deploy role administers the cluster)")
        .option("--admin-role-arn <arn...>", "for a new stack: IAM role ARNs that administer the cluster")
        .option("--secrets-provider <url>", "pulumi stack init --secrets-provider")
        .option("--file-only", "only write Pulumi.<name>.yaml; do not run pulumi stack init")
        .action(
            (
                name: string,
                o: { environment?: string; region: string; githubRepository?: string; adminRoleArn?: string[]; secretsProvider?: string; fileOnly?: boolean },
            ) => {
                const dir = root();
                const exists = fs.existsSync(path.join(dir, `Pulumi.${name}.yaml`));
                if (!exists) {
                    if (!o.environment) throw new Error(`Pulumi.${name}.yaml does not exist: pass --environment (${ENVIRONMENTS.join(", ")}) to create it`);
                    console.log(stackInit({ root: dir, name, environment: o.environment, region: o.region, githubRepository: o.githubRepository, adminRoleArns: o.adminRoleArn }));
                } else if (o.environment || o.githubRepository || o.adminRoleArn) {
                    throw new Error(`Pulumi.${name}.yaml already exists; not overwritten (drop --environment/--github-repository/--admin-role-arn to initialise it with pulumi)`);
                }
                if (o.fileOnly) return;
                const changed = initCommittedStack({ root: dir, stack: name, ...(o.secretsProvider ? { secretsProvider: o.secretsProvider } : {}) });
                console.log(changed.length ? `pulumi stack init ${name}: ${changed.join(", ")} in Pulumi.${name}.yaml (commit it)` : `pulumi stack init ${name}: Pulumi.${name}.yaml unchanged`);
            },
        );
}
