/**
 * Runtime options of a Node.js Pulumi project (`runtime.options` in Pulumi.yaml / PulumiPolicy.yaml), parsed the way
 * the upstream host `pulumi-language-nodejs` v3.248.0 parses them (`parseOptions` in its main.go): same defaults, same
 * accepted types, same error texts, so a project that the upstream host accepts or rejects is accepted or rejected here.
 */
export type PackageManager = "auto" | "npm" | "yarn" | "pnpm" | "bun";

export interface NodeOptions {
    /** Register ts-node before loading `main` (PULUMI_NODEJS_TYPESCRIPT=true). Default: true. */
    typescript: boolean;
    /** tsconfig.json path for ts-node (PULUMI_NODEJS_TSCONFIG_PATH). Default: "" (ts-node looks it up). */
    tsconfigpath: string;
    /** Extra arguments for the `node` process, split like a shell would. Default: "". */
    nodeargs: string;
    /** Package manager; only reported by About here (InstallDependencies is a no-op). Default: "auto". */
    packagemanager: PackageManager;
}

const packageManagers: readonly PackageManager[] = ["auto", "npm", "yarn", "pnpm", "bun"];

/** Parses `runtime.options`; throws an Error naming the option and what is allowed. */
export function parseOptions(options: Record<string, unknown>): NodeOptions {
    const parsed: NodeOptions = { typescript: true, tsconfigpath: "", nodeargs: "", packagemanager: "auto" };
    if ("typescript" in options) {
        if (typeof options.typescript !== "boolean") {
            throw new Error("typescript option must be a boolean");
        }
        parsed.typescript = options.typescript;
    }
    if ("tsconfig" in options) {
        if (typeof options.tsconfig !== "string") {
            // Upstream's text names "tsconfigpath" although the key is "tsconfig"; kept verbatim.
            throw new Error("tsconfigpath option must be a string");
        }
        parsed.tsconfigpath = options.tsconfig;
    }
    if ("nodeargs" in options) {
        if (typeof options.nodeargs !== "string") {
            throw new Error("nodeargs option must be a string");
        }
        parsed.nodeargs = options.nodeargs;
    }
    if ("packagemanager" in options) {
        const pm = options.packagemanager;
        if (typeof pm !== "string") {
            throw new Error("packagemanager option must be a string");
        }
        if (!(packageManagers as readonly string[]).includes(pm)) {
            throw new Error(`packagemanager option must be one of auto, npm, yarn, pnpm or bun, got "${pm}"`);
        }
        parsed.packagemanager = pm as PackageManager;
    }
    return parsed;
}
