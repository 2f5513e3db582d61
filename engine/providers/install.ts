// Installs the mock provider plugins into a Pulumi home with the CLI's own command,
// `pulumi plugin install resource <name> <version> --file <executable>`, for exactly the versions the
// SDKs request, so the engine finds them in its plugin cache (no PATH lookup, no download).
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { MOCK_PROVIDER_VERSIONS } from "./provider";

const run = promisify(execFile);

/** The compiled plugin entry (dist/engine/providers/main.js next to this file once compiled). */
export function pluginEntry(): string {
    return path.join(__dirname, "main.js");
}

/**
 * The executable installed for `name`: a shell script that runs this checkout's compiled plugin with
 * the node that runs us (absolute paths: the plugin cache holds a copy, not a link).
 */
export function wrapperScript(name: string, entry: string = pluginEntry(), node: string = process.execPath): string {
    return `#!/bin/sh\n# mlops-platform mock provider plugin '${name}' (engine tier; not a real provider)\nexec ${JSON.stringify(node)} ${JSON.stringify(entry)} ${name} "$@"\n`;
}

function pulumiHome(env: NodeJS.ProcessEnv): string {
    return env.PULUMI_HOME ?? path.join(env.HOME ?? os.homedir(), ".pulumi");
}

/** Where `pulumi plugin install` puts the executable of resource plugin `name` at `version`. */
export function installedPluginPath(env: NodeJS.ProcessEnv, name: string, version: string): string {
    return path.join(pulumiHome(env), "plugins", `resource-${name}-v${version}`, `pulumi-resource-${name}`);
}

export interface InstallReport {
    installed: string[];
    alreadyInstalled: string[];
}

/**
 * Installs every mock provider plugin into the Pulumi home of `env` (PULUMI_HOME or ~/.pulumi).
 * Idempotent and fast: a plugin whose installed executable already has this checkout's wrapper is
 * left alone (no CLI call).
 */
export async function installMockProviders(pulumiBin: string, env: NodeJS.ProcessEnv): Promise<InstallReport> {
    const entry = pluginEntry();
    if (!fs.existsSync(entry)) {
        throw new Error(`mock providers are not compiled: ${entry} is missing (run \`npx tsc -p .\`)`);
    }
    const report: InstallReport = { installed: [], alreadyInstalled: [] };
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-mock-providers-"));
    try {
        for (const [name, version] of Object.entries(MOCK_PROVIDER_VERSIONS)) {
            const script = wrapperScript(name, entry);
            const target = installedPluginPath(env, name, version);
            if (fs.existsSync(target) && fs.readFileSync(target, "utf8") === script) {
                report.alreadyInstalled.push(`${name}@${version}`);
                continue;
            }
            const file = path.join(staging, `pulumi-resource-${name}`);
            fs.writeFileSync(file, script, { mode: 0o755 });
            const args = ["plugin", "install", "resource", name, version, "--file", file, "--reinstall"];
            try {
                await run(pulumiBin, args, { env, timeout: 60_000 });
            } catch (e: any) {
                throw new Error(`\`pulumi ${args.join(" ")}\` failed: ${e.stderr || e.message}`);
            }
            if (!fs.existsSync(target) || fs.readFileSync(target, "utf8") !== script) {
                throw new Error(`pulumi plugin install did not put the wrapper for ${name}@${version} at ${target}`);
            }
            report.installed.push(`${name}@${version}`);
        }
    } finally {
        fs.rmSync(staging, { recursive: true, force: true });
    }
    return report;
}
