// Builds the configuration the Pulumi CLI would hand the program for a stack: Pulumi.yaml
// declarations (defaults and project-level values) merged with Pulumi.<stack>.yaml, keys
// namespaced as the CLI does, `secure:` values replaced by marked placeholders.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export interface StackConfig {
    project: string;
    stack: string;
    /** `namespace:key` → value as the CLI passes it (strings; lists and maps as JSON). */
    config: Record<string, string>;
    /** Keys whose value is (or contains) a secret. */
    secretKeys: string[];
}

/** The value the offline plan substitutes for a `secure:` config value it cannot decrypt. */
export const SECURE_CONFIG_PLACEHOLDER = "[secure config placeholder: encrypted in the stack file]";

export class StackConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackConfigError";
    }
}

function readYaml(file: string): any {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (e: any) {
        throw new StackConfigError(`cannot read ${file}: ${e.message}`);
    }
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
        const first = doc.errors[0];
        const where = first.linePos ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : "";
        throw new StackConfigError(`${path.basename(file)} is not valid YAML${where}: ${first.message.split("\n")[0]}`);
    }
    return doc.toJS() ?? {};
}

/** Stack names that have a `Pulumi.<stack>.yaml` next to Pulumi.yaml. */
export function listStacks(root: string): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

function namespaced(project: string, key: string): string {
    return key.includes(":") ? key : `${project}:${key}`;
}

/** Replaces every `{ secure: … }` inside a value by the placeholder; reports whether any was found. */
function stripSecure(value: unknown): { value: unknown; secret: boolean } {
    if (Array.isArray(value)) {
        const items = value.map(stripSecure);
        return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
    }
    if (value !== null && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (Object.keys(obj).length === 1 && typeof obj.secure === "string") {
            return { value: SECURE_CONFIG_PLACEHOLDER, secret: true };
        }
        let secret = false;
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj)) {
            const r = stripSecure(v);
            out[k] = r.value;
            secret = secret || r.secret;
        }
        return { value: out, secret };
    }
    return { value, secret: false };
}

function asConfigString(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

function checkDeclaredType(file: string, key: string, type: unknown, value: unknown): void {
    if (type === undefined) {
        return;
    }
    const ok =
        (type === "string" && typeof value === "string") ||
        (type === "integer" && typeof value === "number" && Number.isInteger(value)) ||
        (type === "boolean" && typeof value === "boolean") ||
        (type === "array" && Array.isArray(value)) ||
        (type === "object" && value !== null && typeof value === "object" && !Array.isArray(value));
    if (!ok) {
        throw new StackConfigError(`${file}: config key '${key}' is declared as ${type} in Pulumi.yaml, got ${JSON.stringify(value)}`);
    }
}

/** Loads the merged configuration of `stack` in the project at `root`. */
export function loadStackConfig(root: string, stack: string): StackConfig {
    const stacks = listStacks(root);
    if (!stacks.includes(stack)) {
        throw new StackConfigError(
            `no stack named '${stack}': Pulumi.${stack}.yaml does not exist in ${root}; stacks: ${stacks.join(", ") || "(none)"}`,
        );
    }
    const project = readYaml(path.join(root, "Pulumi.yaml"));
    if (typeof project.name !== "string") {
        throw new StackConfigError("Pulumi.yaml: `name` is required");
    }
    const projectName: string = project.name;
    const config: Record<string, string> = {};
    const secretKeys = new Set<string>();
    const declared: Record<string, any> = {};

    for (const [rawKey, decl] of Object.entries<any>(project.config ?? {})) {
        const key = namespaced(projectName, rawKey);
        const isDecl = decl !== null && typeof decl === "object" && !Array.isArray(decl);
        if (!isDecl) {
            // Shorthand `key: value` sets a project-wide value.
            config[key] = asConfigString(decl);
            continue;
        }
        declared[key] = decl;
        const v = decl.value !== undefined ? decl.value : decl.default;
        if (v !== undefined) {
            checkDeclaredType("Pulumi.yaml", key, decl.type, v);
            config[key] = asConfigString(v);
        }
    }

    const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
    const stackDoc = readYaml(stackFile);
    const stackConfig = stackDoc.config ?? {};
    if (typeof stackConfig !== "object" || Array.isArray(stackConfig)) {
        throw new StackConfigError(`Pulumi.${stack}.yaml: \`config\` must be a mapping of keys to values`);
    }
    for (const [rawKey, rawValue] of Object.entries(stackConfig)) {
        const key = namespaced(projectName, rawKey);
        const { value, secret } = stripSecure(rawValue);
        if (!secret && declared[key]) {
            checkDeclaredType(`Pulumi.${stack}.yaml`, key, declared[key].type, value);
        }
        config[key] = asConfigString(value);
        if (secret || declared[key]?.secret === true) {
            secretKeys.add(key);
        }
    }
    // The CLI refuses a stack that lacks a key the project declares without `default` or `value`
    // (sdk/go/common/workspace/config.go mergeConfig): so does the offline plan, with its message.
    const missing = Object.entries(declared)
        .filter(([key, decl]) => key.startsWith(`${projectName}:`) && decl.default === undefined && decl.value === undefined && !(key in config))
        .map(([key]) => key.slice(projectName.length + 1))
        .sort();
    if (missing.length > 0) {
        const list = missing.map((k) => `'${k}'`);
        const names = list.length === 1 ? list[0] : `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
        throw new StackConfigError(
            `validating stack config: Stack '${stack}' is missing configuration value${missing.length === 1 ? "" : "s"} ${names} ` +
                `(Pulumi.yaml declares ${missing.length === 1 ? "it" : "them"} without a default, which makes ${missing.length === 1 ? "it" : "them"} required)`,
        );
    }
    return { project: projectName, stack, config, secretKeys: [...secretKeys].sort() };
}
