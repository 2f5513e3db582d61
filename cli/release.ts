// `mlops release`: move traffic between model releases by editing the stack file. The stack file
// is the source of truth for what serves (reviewed in a pull request, applied by `pulumi up`), so a
// release move is a small, exact edit of `mlops-platform:serving` in Pulumi.<stack>.yaml that keeps
// every comment, key order and formatting, checked against the same validator the program uses.
import { Command } from "commander";
import * as fs from "fs";
import * as YAML from "yaml";
import { describeRelease, ModelRelease, replicaRatioSplit } from "../components/modelRelease";
import { parseServingConfig, SERVING_CONFIG_KEY, ServingConfig, Slot } from "../components/servingConfig";
import type { PolicyPackConfig } from "../offline-plan/policy-runner";
import { evaluateRelease, verdictFailures } from "../release-contract/gate";
import { ENVIRONMENT_KEY, enforceGatingRules, resolvePolicyConfig, stackConfigValues, stackFilePath, StackFileError } from "./stack-settings";

/** A refused or impossible release move; the message says why and what to do. */
export class ReleaseError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ReleaseError";
    }
}

export type ReleaseAction =
    | { kind: "switch"; to?: Slot }
    | { kind: "promote" }
    | { kind: "rollback" }
    | { kind: "set-weight"; weight: string | number };

/** One changed setting, as printed. */
export interface ReleaseChange {
    /** Path under `mlops-platform:serving`, e.g. `canary.canaryWeight`. */
    path: string;
    before: string;
    after: string;
}

export interface ReleasePlan {
    /** The new stack file text (unchanged when there are no changes). */
    text: string;
    changes: ReleaseChange[];
    /** Notes worth printing (e.g. the precision of the replica-ratio fallback). */
    notes: string[];
    /** The serving config after the move. */
    config: ServingConfig;
}

interface Edit {
    start: number;
    end: number;
    text: string;
}

const PROJECT_KEY = SERVING_CONFIG_KEY.split(":")[1];

/** Source text for a scalar that replaces `node`, keeping its quoting style. */
function scalarSource(node: YAML.Scalar | undefined, value: string | number | boolean): string {
    if (typeof value !== "string") {
        return String(value);
    }
    if (node?.type === YAML.Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
    if (node?.type === YAML.Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
    return value;
}

function pairOf(map: YAML.YAMLMap, key: string): YAML.Pair<YAML.Scalar, any> | undefined {
    return map.items.find((p) => YAML.isScalar(p.key) && p.key.value === key) as YAML.Pair<YAML.Scalar, any> | undefined;
}

function lineStart(text: string, at: number): number {
    return text.lastIndexOf("\n", at - 1) + 1;
}

/**
 * The serving block of a stack file, edited two ways at once: through the yaml Document API (the
 * intended result, as data) and as minimal source splices located by the Document's node ranges
 * (the text written). The splices are kept only if re-parsing them yields exactly the intended data;
 * otherwise the Document is serialised (comments and order kept, formatting normalised).
 */
class ServingEditor {
    readonly doc: YAML.Document.Parsed;
    readonly serving: YAML.YAMLMap;
    private readonly edits: Edit[] = [];
    private exact = true;

    constructor(
        readonly text: string,
        readonly file: string,
    ) {
        this.doc = YAML.parseDocument(text);
        if (this.doc.errors.length) {
            const e = this.doc.errors[0];
            const where = e.linePos ? ` at line ${e.linePos[0].line}` : "";
            throw new ReleaseError(`${file} is not valid YAML${where}: ${e.message.split("\n")[0]}`);
        }
        const config = this.doc.get("config");
        const node = YAML.isMap(config) ? (config.get(SERVING_CONFIG_KEY, true) ?? config.get(PROJECT_KEY)) : undefined;
        if (!YAML.isMap(node)) {
            throw new ReleaseError(
                `${file} has no ${SERVING_CONFIG_KEY} mapping under config: add the serving block (strategy, canary or blueGreen, releases) first`,
            );
        }
        this.serving = node;
    }

    /** The map at `block` of the serving block (a YAML alias there is not edited: it would change the anchor's other users). */
    map(block: string): YAML.YAMLMap {
        const n = this.serving.get(block);
        if (!YAML.isMap(n)) throw new ReleaseError(`${this.file}: ${SERVING_CONFIG_KEY}.${block} is not a mapping`);
        return n;
    }

    /** Sets the scalar `key` of the map `block` (creating the key at the end of its block map if missing). */
    setScalar(block: string, key: string, value: string | number | boolean): void {
        const parent = this.map(block);
        const pair = pairOf(parent, key);
        if (pair && YAML.isScalar(pair.value) && pair.value.range) {
            const [start, end] = pair.value.range;
            this.edits.push({ start, end, text: scalarSource(pair.value, value) });
            pair.value.value = value;
            return;
        }
        if (!pair && !parent.flow && parent.range && parent.items.length > 0 && YAML.isScalar(parent.items[0].key) && parent.items[0].key.range) {
            const first = parent.items[0].key.range[0];
            const indent = " ".repeat(first - lineStart(this.text, first));
            const at = parent.range[1];
            const nl = this.text[at - 1] === "\n" ? "" : "\n";
            this.edits.push({ start: at, end: at, text: `${nl}${indent}${key}: ${scalarSource(undefined, value)}\n` });
        } else {
            this.exact = false;
        }
        parent.set(key, value);
    }

    /**
     * Replaces the value at `to` by the value node at `from` (both maps of the map `block`; the caller
     * has checked that both exist), and deletes `from`. Block or flow style: the moved text is kept
     * as written (result() re-parses it and falls back to the Document if that changed the data).
     */
    moveValue(block: string, from: string, to: string): void {
        const parent = this.map(block);
        const src = pairOf(parent, from)!;
        const dst = pairOf(parent, to)!;
        const sv = src.value as YAML.Node;
        const dv = dst.value as YAML.Node;
        if (YAML.isMap(sv) && YAML.isMap(dv) && sv.range && dv.range && src.key.range) {
            this.edits.push({ start: dv.range[0], end: dv.range[1], text: this.text.slice(sv.range[0], sv.range[1]) });
            // Delete the source pair with the comment lines directly above its key (they describe it).
            let start = lineStart(this.text, src.key.range[0]);
            for (;;) {
                const prev = lineStart(this.text, start - 1);
                if (start === 0 || !this.text.slice(prev, start).trim().startsWith("#")) break;
                start = prev;
            }
            this.edits.push({ start, end: sv.range[2], text: "" });
        } else {
            this.exact = false;
        }
        parent.set(to, sv);
        parent.delete(from);
    }

    /** The new text: the exact splices when they reproduce the intended data, else the Document. */
    result(): string {
        const intended = this.doc.toJS();
        if (this.exact) {
            let out = this.text;
            for (const e of [...this.edits].sort((a, b) => b.start - a.start)) {
                out = out.slice(0, e.start) + e.text + out.slice(e.end);
            }
            const check = YAML.parseDocument(out);
            if (check.errors.length === 0 && JSON.stringify(check.toJS()) === JSON.stringify(intended)) {
                return out;
            }
        }
        return this.doc.toString({ lineWidth: 0 });
    }

    /** The serving block as data, as edited so far. */
    data(): unknown {
        return this.serving.toJS(this.doc);
    }
}

function invalid(file: string, e: any, what: string): ReleaseError {
    return new ReleaseError(`${what} in ${file}:\n${String((e as Error).message).replace(/^Invalid [^\n]*\n/, "")}`);
}

function gateFailures(release: ModelRelease, cfg: ServingConfig, track: string): string[] {
    return verdictFailures(evaluateRelease(release, cfg.gate, track));
}

function refuseUngated(what: string, release: ModelRelease, cfg: ServingConfig, track: string): void {
    const failures = gateFailures(release, cfg, track);
    if (failures.length) {
        throw new ReleaseError(
            `refusing to ${what}: ${describeRelease(release)} has no passing gate record against its baseline` +
                `${release.baseline ? ` v${release.baseline.version}` : " (no baseline recorded)"}:\n  - ${failures.join("\n  - ")}\n` +
                `Run \`mlops gate\` for a release that beats the baseline, or fix the thresholds in ${SERVING_CONFIG_KEY}.thresholds.`,
        );
    }
}

function otherSlot(s: Slot): Slot {
    return s === "blue" ? "green" : "blue";
}

/**
 * Plans a release move on the text of a stack file: validates the current serving config, refuses
 * bad moves, and returns the edited text with the list of changes. Pure (no file access).
 */
export function planRelease(
    text: string,
    file: string,
    action: ReleaseAction,
    /** The stack's gating policy configuration (as the pack gets it); the result must pass its rules. */
    policy: PolicyPackConfig = {},
): ReleasePlan {
    const ed = new ServingEditor(text, file);
    let cfg: ServingConfig;
    try {
        cfg = parseServingConfig(ed.data());
    } catch (e) {
        throw invalid(file, e, `the current ${SERVING_CONFIG_KEY} is invalid; fix it before moving a release`);
    }
    const changes: ReleaseChange[] = [];
    const notes: string[] = [];
    const change = (p: string, before: unknown, after: unknown) => changes.push({ path: p, before: String(before), after: String(after) });

    const doSwitch = (to: Slot | undefined, verb: string) => {
        if (cfg.strategy !== "blueGreen" || !cfg.blueGreen) {
            throw new ReleaseError(`${verb} applies to the blueGreen strategy; ${file} uses "${cfg.strategy}" (use set-weight, promote or rollback)`);
        }
        const bg = cfg.blueGreen;
        const target = to ?? otherSlot(bg.active);
        if (target !== "blue" && target !== "green") {
            throw new ReleaseError(`--to must be "blue" or "green", got "${target}"`);
        }
        if (target === bg.active) {
            throw new ReleaseError(`slot '${target}' is already active; nothing to ${verb}`);
        }
        const rel = bg.slots[target];
        if (!rel) {
            throw new ReleaseError(
                `cannot ${verb} to slot '${target}': it holds no release (${SERVING_CONFIG_KEY}.blueGreen.slots.${target} is empty); ` +
                    `deploy a release to it first`,
            );
        }
        refuseUngated(`${verb} to slot '${target}'`, rel, cfg, target);
        ed.setScalar("blueGreen", "active", target);
        change("blueGreen.active", `${bg.active} (${describeRelease(bg.slots[bg.active])})`, `${target} (${describeRelease(rel)})`);
    };

    const requireCanaryStrategy = (verb: string) => {
        if (cfg.strategy !== "canary" || !cfg.canary) {
            throw new ReleaseError(`${verb} applies to the canary strategy; ${file} uses "${cfg.strategy}" (use switch)`);
        }
        return cfg.canary;
    };

    switch (action.kind) {
        case "switch":
            doSwitch(action.to, "switch");
            break;
        case "rollback": {
            if (cfg.strategy === "blueGreen" && cfg.blueGreen) {
                // A rollback returns to the release the active one replaced: the idle slot must hold
                // the active release's recorded baseline. Anything else (a new candidate, an empty
                // slot, a stack that never switched) is not a rollback.
                const bg = cfg.blueGreen;
                const current = bg.slots[bg.active]!;
                const idle = otherSlot(bg.active);
                const previous = bg.slots[idle];
                if (!current.baseline) {
                    throw new ReleaseError(
                        `nothing to roll back to: ${describeRelease(current)} in the active slot '${bg.active}' records no baseline, so there is no previous release`,
                    );
                }
                if (!previous || previous.model !== current.model || String(previous.version) !== String(current.baseline.version)) {
                    throw new ReleaseError(
                        `nothing to roll back to: the active slot '${bg.active}' serves ${describeRelease(current)}, which replaced v${current.baseline.version}, ` +
                            `but slot '${idle}' holds ${previous ? describeRelease(previous) : "no release"}; a rollback only returns to the previous release ` +
                            `(to send traffic to a new candidate, use \`mlops release switch\`)`,
                    );
                }
                doSwitch(idle, "roll back");
                break;
            }
            const c = requireCanaryStrategy("rollback");
            if (!c.canary) {
                throw new ReleaseError(`nothing to roll back: there is no canary release (${SERVING_CONFIG_KEY}.canary.canary is empty)`);
            }
            if (c.canaryWeight === 0) {
                throw new ReleaseError(`nothing to roll back: canary.canaryWeight is already 0 (${describeRelease(c.canary)} receives no traffic)`);
            }
            ed.setScalar("canary", "canaryWeight", 0);
            change("canary.canaryWeight", c.canaryWeight, 0);
            break;
        }
        case "promote": {
            const c = requireCanaryStrategy("promote");
            if (!c.canary) {
                throw new ReleaseError(`nothing to promote: there is no canary release (${SERVING_CONFIG_KEY}.canary.canary is empty)`);
            }
            refuseUngated("promote", c.canary, cfg, "canary");
            ed.moveValue("canary", "canary", "stable");
            change("canary.stable", describeRelease(c.stable), describeRelease(c.canary));
            change("canary.canary", describeRelease(c.canary), "(none)");
            if (c.canaryWeight !== 0) {
                ed.setScalar("canary", "canaryWeight", 0);
                change("canary.canaryWeight", c.canaryWeight, 0);
            }
            if (c.mirror) {
                ed.setScalar("canary", "mirror", false);
                change("canary.mirror", true, false);
            }
            break;
        }
        case "set-weight": {
            const raw = String(action.weight).trim();
            // Decimal digits only (not 1e2, 0x10, -5, 7.0): a non-negative integer, at most 100.
            const weight = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
            if (!(weight <= 100)) {
                throw new ReleaseError(`weight must be an integer percentage from 0 to 100, got '${action.weight}'`);
            }
            const c = requireCanaryStrategy("set-weight");
            if (!c.canary && weight > 0) {
                throw new ReleaseError(`cannot send ${weight}% to the canary: there is no canary release (${SERVING_CONFIG_KEY}.canary.canary is empty)`);
            }
            if (weight === c.canaryWeight) {
                notes.push(`canary.canaryWeight is already ${weight}; nothing to change`);
                break;
            }
            if (weight === 100) {
                refuseUngated("send 100% of traffic to the canary", c.canary!, cfg, "canary");
            }
            ed.setScalar("canary", "canaryWeight", weight);
            change("canary.canaryWeight", c.canaryWeight, weight);
            break;
        }
        default:
            throw new ReleaseError(`unknown release action ${JSON.stringify(action)}`);
    }

    let after: ServingConfig;
    try {
        after = parseServingConfig(ed.data());
    } catch (e) {
        throw invalid(file, e, "refused: the result would be invalid");
    }
    if (changes.length) {
        try {
            notes.push(...enforceGatingRules(after, policy, file, `${action.kind === "set-weight" ? "set-weight " + String(action.weight) : action.kind}`));
        } catch (e) {
            if (e instanceof StackFileError) throw new ReleaseError(e.message);
            throw e;
        }
    }
    // A weight change only happens on the canary strategy.
    if (after.gateway.mode === "none" && after.canary?.canary && changes.some((x) => x.path === "canary.canaryWeight")) {
        const split = replicaRatioSplit(after.canary.canaryWeight, after.replicas);
        if (Math.abs(split.effectiveWeight - after.canary.canaryWeight) >= 0.05) {
            notes.push(
                `no Gateway: ${after.canary.canaryWeight}% is approximated by replicas (${split.canary} canary / ${split.stable} stable pods) ` +
                    `= ${Number(split.effectiveWeight.toFixed(1))}% of connections`,
            );
        }
    }
    return { text: changes.length ? ed.result() : text, changes, notes, config: after };
}

/** Printable summary of a plan. */
export function formatReleasePlan(file: string, plan: ReleasePlan): string {
    const lines: string[] = [];
    if (plan.changes.length) {
        lines.push(`${file} (${SERVING_CONFIG_KEY}, ${plan.config.strategy}):`);
        const width = Math.max(...plan.changes.map((c) => c.path.length));
        for (const c of plan.changes) lines.push(`  ${c.path.padEnd(width)}  ${c.before} → ${c.after}`);
    }
    for (const n of plan.notes) lines.push(`note: ${n}`);
    return lines.join("\n");
}

/** Runs a release move on `<root>/Pulumi.<stack>.yaml`; returns what to print. */
export function releaseCommand(opts: { root: string; stack: string; action: ReleaseAction; dryRun?: boolean }): { output: string; plan: ReleasePlan } {
    let file: string, full: string;
    try {
        ({ file, full } = stackFilePath(opts.root, opts.stack));
    } catch (e) {
        throw new ReleaseError((e as Error).message);
    }
    const text = fs.readFileSync(full, "utf8");
    let environment: unknown;
    try {
        environment = stackConfigValues(text, file)[ENVIRONMENT_KEY];
    } catch (e) {
        throw new ReleaseError((e as Error).message);
    }
    const policy = resolvePolicyConfig(opts.root, opts.stack, "gating", environment);
    const plan = planRelease(text, file, opts.action, policy.config);
    const out = [formatReleasePlan(file, plan), ...(policy.notice ? [`note: ${policy.notice}`] : [])];
    if (plan.changes.length) {
        if (opts.dryRun) {
            out.push(`(dry run: ${file} not written)`);
        } else {
            writeAtomically(full, plan.text);
            out.push(`wrote ${file}; review with \`mlops plan --stack ${opts.stack}\`, then commit and \`pulumi up --stack ${opts.stack}\``);
        }
    }
    return { output: out.join("\n"), plan };
}

/** Writes through a temporary file and a rename, so a stack file is never half-written. */
export function writeAtomically(full: string, text: string): void {
    const tmp = `${full}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, full);
}

/** Adds `mlops release switch|promote|rollback|set-weight` to the CLI. */
export function registerReleaseCommands(program: Command, root: string | (() => string)): void {
    const release = program
        .command("release")
        .description("Move model traffic (blue-green switch, canary weight, promote, rollback) by editing Pulumi.<stack>.yaml");
    const rootOf = typeof root === "function" ? root : () => root;
    const run = (stack: string, action: ReleaseAction, dryRun?: boolean) => console.log(releaseCommand({ root: rootOf(), stack, action, dryRun }).output);
    release
        .command("switch")
        .description("Blue-green: send traffic to the other slot (it must hold a release that passes the gate)")
        .requiredOption("-s, --stack <name>", "stack name (Pulumi.<name>.yaml)")
        .option("--to <slot>", "slot to activate: blue or green (default: the idle one)")
        .option("--dry-run", "print the change without writing the stack file")
        .action((o: { stack: string; to?: string; dryRun?: boolean }) => run(o.stack, { kind: "switch", to: o.to as Slot | undefined }, o.dryRun));
    release
        .command("promote")
        .description("Canary: make the gated candidate the stable release (canary weight back to 0)")
        .requiredOption("-s, --stack <name>", "stack name (Pulumi.<name>.yaml)")
        .option("--dry-run", "print the change without writing the stack file")
        .action((o: { stack: string; dryRun?: boolean }) => run(o.stack, { kind: "promote" }, o.dryRun));
    release
        .command("rollback")
        .description("Canary: weight 0 (the candidate keeps running, receives no traffic); blue-green: switch back")
        .requiredOption("-s, --stack <name>", "stack name (Pulumi.<name>.yaml)")
        .option("--dry-run", "print the change without writing the stack file")
        .action((o: { stack: string; dryRun?: boolean }) => run(o.stack, { kind: "rollback" }, o.dryRun));
    release
        .command("set-weight")
        .description("Canary: percentage of requests (0-100) sent to the candidate")
        .argument("<percent>", "integer from 0 to 100")
        .requiredOption("-s, --stack <name>", "stack name (Pulumi.<name>.yaml)")
        .option("--dry-run", "print the change without writing the stack file")
        .action((percent: string, o: { stack: string; dryRun?: boolean }) => run(o.stack, { kind: "set-weight", weight: percent }, o.dryRun));
}
