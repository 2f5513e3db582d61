// `mlops plan`: the offline plan of a stack — resource tree, counts, and a deterministic plan.json.
import * as fs from "fs";
import * as path from "path";
import { ManifestCheck, checkManifests, manifestFileName, manifestYaml } from "../offline-plan/manifests";
import { PackName, PolicyViolation, runPolicyPack } from "../offline-plan/policy-runner";
import { ENVIRONMENT_KEY, resolvePolicyConfig } from "./stack-settings";
import { ProgramRun, runProgram } from "../offline-plan/run";
import { SECURE_CONFIG_PLACEHOLDER } from "../offline-plan/stack-config";
import { RecordedResource } from "../offline-plan/types";

export interface PlanResource {
    urn: string;
    type: string;
    name: string;
    parent: string;
    custom: boolean;
    provider: string;
    protect: boolean;
    retainOnDelete: boolean;
    dependencies: string[];
    inputs: Record<string, unknown>;
    secretInputs: string[];
}

/** A policy verdict as plan.json records it. */
export interface PlanVerdict {
    pack: string;
    policyName: string;
    enforcementLevel: string;
    severity?: string;
    message: string;
    urn?: string;
}

export interface Plan {
    formatVersion: 1;
    project: string;
    stack: string;
    config: Record<string, string>;
    resources: PlanResource[];
    counts: Record<string, number>;
    outputs: Record<string, unknown>;
    /** Violations reported by the policy packs (absent when they were not run). */
    policies?: PlanVerdict[];
}

/** JSON with object keys sorted at every level, so equal plans are byte-identical. */
export function stableStringify(value: unknown): string {
    const sortKeys = (v: any): any => {
        if (Array.isArray(v)) {
            return v.map(sortKeys);
        }
        if (v !== null && typeof v === "object") {
            return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
        }
        return v;
    };
    return JSON.stringify(sortKeys(value), null, 2) + "\n";
}

export function countByType(resources: Array<{ type: string }>): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of resources) {
        counts[r.type] = (counts[r.type] ?? 0) + 1;
    }
    return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function toPlan(run: ProgramRun): Plan {
    const secret = new Set(run.config.secretKeys);
    const config = Object.fromEntries(
        Object.entries(run.config.config)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([k, v]) => [k, secret.has(k) ? SECURE_CONFIG_PLACEHOLDER : v]),
    );
    const resources: PlanResource[] = run.resources.map((r: RecordedResource) => ({
        urn: r.urn,
        type: r.type,
        name: r.name,
        parent: r.parent,
        custom: r.custom,
        provider: r.provider,
        protect: r.protect,
        retainOnDelete: r.retainOnDelete,
        dependencies: [...r.dependencies].sort(),
        inputs: r.inputs,
        secretInputs: r.secretInputs,
    }));
    return { formatVersion: 1, project: run.project, stack: run.stack, config, resources, counts: countByType(run.resources), outputs: run.outputs };
}

/** Renders the component → children tree, one line per resource. */
export function renderTree(resources: Array<{ urn: string; type: string; name: string; parent: string; protect: boolean }>): string {
    const children = new Map<string, typeof resources>();
    const urns = new Set(resources.map((r) => r.urn));
    for (const r of resources) {
        const parent = urns.has(r.parent) ? r.parent : "";
        children.set(parent, [...(children.get(parent) ?? []), r]);
    }
    const lines: string[] = [];
    const walk = (parent: string, indent: string) => {
        const kids = (children.get(parent) ?? []).slice().sort((a, b) => (a.type + a.name < b.type + b.name ? -1 : 1));
        kids.forEach((k, i) => {
            const last = i === kids.length - 1;
            const flags = k.protect ? " [protected]" : "";
            lines.push(`${indent}${last ? "└─ " : "├─ "}${k.type}  ${k.name}${flags}`);
            walk(k.urn, indent + (last ? "   " : "│  "));
        });
    };
    walk("", "");
    return lines.join("\n");
}

export function renderCounts(counts: Record<string, number>): string {
    const width = Math.max(...Object.keys(counts).map((k) => k.length), 4);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return [...Object.entries(counts).map(([t, n]) => `${t.padEnd(width)}  ${String(n).padStart(4)}`), `${"total".padEnd(width)}  ${String(total).padStart(4)}`].join("\n");
}

export interface PlanCommandOptions {
    root: string;
    stack: string;
    out?: string;
    /** Run the security and gating packs (default true). */
    policies?: boolean;
    /** Compiled program (default `<root>/dist/index.js`). */
    program?: string;
}

export const PACKS: PackName[] = ["security", "gating"];

/** Runs both policy packs the way the engine does, with the stack's per-pack config. */
export async function runPolicies(root: string, stack: string, run: ProgramRun, notices: string[] = []): Promise<PlanVerdict[]> {
    const verdicts: PlanVerdict[] = [];
    // A stack without its own policy files runs with its environment's defaults, and says so.
    const environment = run.config.config[ENVIRONMENT_KEY] ?? "dev";
    const configs = PACKS.map((pack) => resolvePolicyConfig(root, stack, pack, environment));
    for (const c of configs) if (c.notice) notices.push(c.notice);
    // The packs are separate processes (as under the engine): run them side by side.
    const results = await Promise.all(PACKS.map((pack, i) => runPolicyPack(pack, run.resources, configs[i].config)));
    for (const result of results) {
        verdicts.push(
            ...result.violations.map((v: PolicyViolation) => ({
                pack: v.pack,
                policyName: v.policyName,
                enforcementLevel: v.enforcementLevel,
                ...(v.severity ? { severity: v.severity } : {}),
                message: v.message,
                ...(v.urn ? { urn: v.urn } : {}),
            })),
        );
    }
    const order = (v: PlanVerdict) => `${v.enforcementLevel === "mandatory" ? 0 : 1}/${v.pack}/${v.policyName}/${v.urn ?? ""}/${v.message}`;
    return verdicts.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

export function renderVerdicts(verdicts: PlanVerdict[] | undefined): string {
    if (verdicts === undefined) {
        return "Policies: not run (--no-policies)";
    }
    const mandatory = verdicts.filter((v) => v.enforcementLevel === "mandatory");
    const advisory = verdicts.filter((v) => v.enforcementLevel !== "mandatory");
    const lines = [`Policies (mlops-security, mlops-gating): ${mandatory.length} mandatory, ${advisory.length} advisory violation(s)`];
    for (const v of verdicts) {
        const name = v.urn ? v.urn.split("::").pop() : "(stack)";
        lines.push(`  ${v.enforcementLevel === "mandatory" ? "✗" : "!"} [${v.enforcementLevel}] ${v.pack}/${v.policyName} ${name}: ${v.message}`);
    }
    return lines.join("\n");
}

export interface PlanResult {
    plan: Plan;
    run: ProgramRun;
    manifests: ManifestCheck[];
    text: string;
    /** 0 clean; 2 when a manifest is invalid or a mandatory policy is violated. */
    exitCode: number;
}

export function renderManifestSummary(checks: ManifestCheck[]): string {
    const invalid = checks.filter((c) => c.errors.length > 0);
    const lines = [`Kubernetes manifests: ${checks.length} (${checks.length - invalid.length} valid against the Kubernetes schemas)`];
    for (const c of invalid) {
        lines.push(`  ✗ ${c.manifest.kind} ${c.manifest.metadata.namespace ?? ""}/${c.manifest.metadata.name}: ${c.errors.join("; ")}`);
    }
    return lines.join("\n");
}

/**
 * Lists the files `mlops plan --out` wrote into `<out>/manifests`, so a later run removes exactly
 * those (manifests of objects that no longer exist) and never anything else.
 */
export const MANIFEST_INDEX = ".mlops-plan-manifests";

function writtenManifests(dir: string): string[] | undefined {
    const index = path.join(dir, MANIFEST_INDEX);
    return fs.existsSync(index) ? fs.readFileSync(index, "utf8").split("\n").filter((l) => l && !l.includes("/") && !l.includes("\\")) : undefined;
}

/**
 * Refuses an --out folder whose `manifests/` holds files `mlops plan` did not write (the user's
 * files are never deleted or overwritten). Checked before the plan runs.
 */
export function checkOutDir(out: string): void {
    if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) {
        throw new Error(`--out: ${out} exists and is not a folder`);
    }
    const dir = path.join(out, "manifests");
    if (!fs.existsSync(dir)) return;
    if (!fs.statSync(dir).isDirectory()) throw new Error(`--out: ${dir} exists and is not a folder`);
    const ours = new Set([...(writtenManifests(dir) ?? []), MANIFEST_INDEX]);
    const foreign = fs.readdirSync(dir).filter((f) => !ours.has(f));
    if (foreign.length) {
        throw new Error(
            `--out: ${dir} holds files mlops plan did not write (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? `, ... ${foreign.length} in all` : ""}); ` +
                `choose an empty or new --out folder`,
        );
    }
}

/** Writes the manifests, removing only the files a previous run listed in its index. */
export function writeManifests(dir: string, manifests: ManifestCheck[]): void {
    checkOutDir(path.dirname(dir));
    fs.mkdirSync(dir, { recursive: true });
    for (const f of writtenManifests(dir) ?? []) fs.rmSync(path.join(dir, f), { force: true });
    const names = manifests.map((c) => manifestFileName(c.manifest));
    for (const c of manifests) {
        fs.writeFileSync(path.join(dir, manifestFileName(c.manifest)), manifestYaml(c.manifest));
    }
    fs.writeFileSync(path.join(dir, MANIFEST_INDEX), names.join("\n") + "\n");
}

export async function planCommand(opts: PlanCommandOptions): Promise<PlanResult> {
    if (opts.out) checkOutDir(opts.out);
    const run = await runProgram({ root: opts.root, stack: opts.stack, ...(opts.program ? { program: opts.program } : {}) });
    const plan = toPlan(run);
    const notices: string[] = [];
    if (opts.policies !== false) {
        plan.policies = await runPolicies(opts.root, opts.stack, run, notices);
    }
    const manifests = checkManifests(run.resources);
    const text = [
        `Offline plan of ${plan.project}/${plan.stack} (mock providers; no cloud account used)`,
        "",
        renderTree(plan.resources),
        "",
        "Resources by type:",
        renderCounts(plan.counts),
        "",
        renderManifestSummary(manifests),
        "",
        renderVerdicts(plan.policies),
        ...notices.map((n) => `note: ${n}`),
    ].join("\n");
    if (opts.out) {
        fs.mkdirSync(opts.out, { recursive: true });
        fs.writeFileSync(path.join(opts.out, "plan.json"), stableStringify(plan));
        fs.writeFileSync(path.join(opts.out, "summary.md"), renderSummaryMarkdown(plan, manifests));
        writeManifests(path.join(opts.out, "manifests"), manifests);
    }
    const mandatory = (plan.policies ?? []).some((v) => v.enforcementLevel === "mandatory");
    const exitCode = manifests.some((c) => c.errors.length > 0) || mandatory ? 2 : 0;
    return { plan, run, manifests, text, exitCode };
}

/** summary.md: counts, manifest validity, for a PR comment or a job summary. */
export function renderSummaryMarkdown(plan: Plan, manifests: ManifestCheck[]): string {
    const total = Object.values(plan.counts).reduce((a, b) => a + b, 0);
    const protectedCount = plan.resources.filter((r) => r.protect).length;
    const lines = [
        `## Offline plan: ${plan.project}/${plan.stack}`,
        "",
        `${total} resources (${protectedCount} protected), ${manifests.length} Kubernetes manifests, ${manifests.filter((m) => m.errors.length > 0).length} invalid.`,
        "",
        plan.policies === undefined
            ? "Policies were not run."
            : `Policies: ${plan.policies.filter((v) => v.enforcementLevel === "mandatory").length} mandatory, ${plan.policies.filter((v) => v.enforcementLevel !== "mandatory").length} advisory violation(s).`,
        ...(plan.policies ?? []).map((v) => `- [${v.enforcementLevel}] \`${v.pack}/${v.policyName}\`: ${v.message}`),
        "",
        "<details><summary>Resources by type</summary>",
        "",
        "| type | count |",
        "|---|---:|",
        ...Object.entries(plan.counts).map(([t, n]) => `| \`${t}\` | ${n} |`),
        "",
        "</details>",
        "",
    ];
    return lines.join("\n");
}
