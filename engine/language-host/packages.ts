/**
 * Which provider plugins a Node.js program needs, found the way upstream `pulumi-language-nodejs` v3.248.0 finds them
 * (`GetRequiredPackages` / `getPackagesFromDir` / `getPackageInfo` in its main.go):
 *
 * - walk the program directory recursively (sorted like Go's os.ReadDir), following symlinks to directories and
 *   never visiting the same resolved directory twice;
 * - skip any directory that holds a PulumiPolicy.{json,yaml,yml} file: a nested policy pack's plugins are not the
 *   program's;
 * - a `package.json` counts only below a `node_modules` directory; it names a plugin when its `"pulumi"` section has
 *   `"resource": true`: name = `pulumi.name`, else the `@pulumi/`-stripped package name (third-party packages must set
 *   `pulumi.name`); version = `pulumi.version`, else the package version, with a leading `v` added; server and
 *   parameterization copied;
 * - every `@pulumi/pulumi` copy's version is recorded so that copies with incompatible versions can be warned about.
 *
 * Errors in single files do not stop the walk (upstream logs them at verbosity 3 and returns what it found).
 */
import * as fs from "fs";
import * as path from "path";

export interface PackageParameterization {
    name: string;
    version: string;
    /** Decoded from the base64 string in package.json (Go's []byte JSON encoding). */
    value: Uint8Array;
}

export interface PackageInfo {
    name: string;
    kind: "resource";
    version: string;
    server: string;
    parameterization?: PackageParameterization;
}

export interface RequiredPackagesResult {
    packages: PackageInfo[];
    /** Versions of every @pulumi/pulumi package.json found, keyed by that file's path. */
    pulumiVersions: Map<string, string>;
    /** Non-fatal problems (unreadable directories, malformed package.json files). */
    errors: string[];
}

const policyPackFiles = ["PulumiPolicy.json", "PulumiPolicy.yaml", "PulumiPolicy.yml"];

function isPolicyPackDir(dir: string): boolean {
    return policyPackFiles.some((f) => {
        try {
            return !fs.statSync(path.join(dir, f)).isDirectory();
        } catch {
            return false;
        }
    });
}

/** Walks `programDirectory` and returns the plugins its node_modules tree declares. */
export function getRequiredPackages(programDirectory: string): RequiredPackagesResult {
    const result: RequiredPackagesResult = { packages: [], pulumiVersions: new Map(), errors: [] };
    walk(path.resolve(programDirectory), false, new Set(), result);
    return result;
}

function walk(dir: string, inNodeModules: boolean, visited: Set<string>, out: RequiredPackagesResult): void {
    dir = path.resolve(dir);
    if (visited.has(dir)) {
        return;
    }
    visited.add(dir);

    let entries: fs.Dirent[];
    try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
        out.errors.push(`reading plugin dir ${dir}: ${(err as Error).message}`);
        return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    for (const entry of entries) {
        let curr = path.join(dir, entry.name);
        let isDir = entry.isDirectory();
        if (entry.isSymbolicLink()) {
            try {
                curr = fs.realpathSync(curr);
                isDir = fs.statSync(curr).isDirectory();
            } catch (err) {
                out.errors.push(`resolving link in plugin dir ${curr}: ${(err as Error).message}`);
                continue;
            }
        }
        if (isDir) {
            if (isPolicyPackDir(curr)) {
                continue;
            }
            walk(curr, inNodeModules || path.basename(dir) === "node_modules", visited, out);
        } else if (inNodeModules && entry.name === "package.json") {
            readPackageJson(curr, out);
        }
    }
}

function readPackageJson(file: string, out: RequiredPackagesResult): void {
    let info: any;
    try {
        info = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        out.errors.push(`unmarshaling package.json ${file}: ${(err as Error).message}`);
        return;
    }
    if (info === null || typeof info !== "object" || Array.isArray(info)) {
        out.errors.push(`unmarshaling package.json ${file}: not a JSON object`);
        return;
    }
    if (info.name === "@pulumi/pulumi") {
        if (typeof info.version !== "string" || parseSemver(info.version) === undefined) {
            out.errors.push(`Could not understand version ${info.version} in '${file}'`);
            return;
        }
        out.pulumiVersions.set(file, info.version);
    }
    try {
        const pkg = getPackageInfo(info);
        if (pkg) {
            out.packages.push(pkg);
        }
    } catch (err) {
        out.errors.push(`unmarshaling package.json ${file}: ${(err as Error).message}`);
    }
}

/**
 * The plugin a parsed package.json declares, or undefined when it declares none. Throws on a malformed "pulumi"
 * section or when a third-party package does not name its plugin.
 */
export function getPackageInfo(info: any): PackageInfo | undefined {
    const section = info.pulumi;
    if (section === undefined || section === null) {
        return undefined;
    }
    if (typeof section !== "object" || Array.isArray(section)) {
        throw new Error(`"pulumi" must be an object, got ${JSON.stringify(section)}`);
    }
    if (section.resource !== undefined && typeof section.resource !== "boolean") {
        throw new Error(`"pulumi.resource" must be a boolean, got ${JSON.stringify(section.resource)}`);
    }
    if (section.resource !== true) {
        return undefined;
    }
    const pkg: PackageInfo = {
        name: getPluginName(info),
        kind: "resource",
        version: getPluginVersion(info),
        server: typeof section.server === "string" ? section.server : "",
    };
    const p = section.parameterization;
    if (p !== undefined && p !== null) {
        pkg.parameterization = {
            name: String(p.name ?? ""),
            version: String(p.version ?? ""),
            value: Buffer.from(String(p.value ?? ""), "base64"),
        };
    }
    return pkg;
}

/** `pulumi.name`, else the package name without its `@pulumi/` scope; third-party packages must set `pulumi.name`. */
export function getPluginName(info: any): string {
    if (info.pulumi?.name) {
        return info.pulumi.name;
    }
    const name: unknown = info.name;
    if (typeof name !== "string" || name === "") {
        throw new Error('missing expected "name" property');
    }
    if (name.startsWith("@pulumi/")) {
        return name.slice(name.indexOf("/") + 1);
    }
    throw new Error(
        `Missing property "name" for the third-party plugin '${name}' inside package.json under the "pulumi" section.`,
    );
}

/** `pulumi.version`, else the package version; always with a leading `v`. */
export function getPluginVersion(info: any): string {
    let version: unknown = info.pulumi?.version;
    if (!version) {
        version = info.version;
        if (typeof version !== "string" || version === "") {
            throw new Error('Missing expected "version" property');
        }
    }
    const v = String(version);
    return v.startsWith("v") ? v : `v${v}`;
}

/** Major/minor/patch of a strict semantic version (what Go's blang/semver Parse accepts), or undefined. */
export function parseSemver(v: string): { major: number; minor: number; patch: number } | undefined {
    const m = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/.exec(v);
    return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/**
 * Whether two @pulumi/pulumi versions can share a program (upstream `compatibleVersions`): same major from 3 on,
 * 1.x and 2.x mix, 0.x needs the same minor, 0.17 mixes with 1.x. Returns the reason when they cannot.
 */
export function compatibleVersions(a: string, b: string): { ok: boolean; message: string } {
    const x = parseSemver(a);
    const y = parseSemver(b);
    if (!x || !y) {
        return { ok: false, message: `Could not parse versions ${a} and ${b}.` };
    }
    if (x.major === 0 && y.major === 0) {
        return x.minor === y.minor
            ? { ok: true, message: "" }
            : { ok: false, message: "Differing major or minor versions are not supported." };
    }
    if (x.major >= 1 && x.major <= 2 && y.major >= 1 && y.major <= 2) {
        return { ok: true, message: "" };
    }
    if (x.major > 2 || y.major > 2) {
        return x.major === y.major
            ? { ok: true, message: "" }
            : { ok: false, message: "Differing major versions are not supported." };
    }
    if ((x.major === 1 && y.major === 0 && y.minor === 17) || (y.major === 1 && x.major === 0 && x.minor === 17)) {
        return { ok: true, message: "" };
    }
    return { ok: false, message: "Differing major or minor versions are not supported." };
}

/** The warning upstream prints to stderr when two @pulumi/pulumi copies are incompatible, or undefined. */
export function incompatiblePulumiWarning(versions: Map<string, string>): string | undefined {
    const all = [...versions.entries()];
    if (all.length < 2) {
        return undefined;
    }
    const [firstPath, firstVersion] = all[0];
    for (const [p, v] of all.slice(1)) {
        const { ok, message } = compatibleVersions(v, firstVersion);
        if (!ok) {
            return (
                `Found incompatible versions of @pulumi/pulumi. ${message}\n` +
                `  Version ${firstVersion} referenced at ${firstPath}\n` +
                `  Version ${v} referenced at ${p}\n`
            );
        }
    }
    return undefined;
}
