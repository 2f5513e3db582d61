// `mlops gate`: candidate and baseline metrics from MLflow's REST API → the stack's gating rules
// (the same code and configuration the gating policy pack uses) → a verdict table and exit code.
import * as fs from "fs";
import * as YAML from "yaml";
import { SERVING_CONFIG_KEY, ServingConfig } from "../components/servingConfig";
import type { ModelRelease } from "../release-contract/annotations";
import { DEFAULT_GATE_CONFIG, evaluateGate, firstReleaseGate, formatVerdictTable, GateConfig, GateVerdict, verdictFailures } from "../release-contract/gate";
import type { PolicyPackConfig } from "../offline-plan/policy-runner";
import { MlflowClient, MlflowClientOptions, ResolvedMetrics } from "./mlflow-client";
import { ENVIRONMENT_KEY, enforceGatingRules, rawServing, resolvePolicyConfig, servingOf, stackConfigValues, stackFilePath, StackFileError } from "./stack-settings";
import { spliceValue } from "./yaml-splice";
import { checkRunProvenance, ProvenanceResult, trainingIdentityOf } from "./run-provenance";

/** Metric the trainer logs with the size of its evaluation set (for the significance test). */
export const EVAL_SAMPLES_METRIC = "eval_samples";

/** What the gate reads from a stack: one source for the thresholds, shared with the program. */
export interface StackGate {
    /** `Pulumi.<stack>.yaml` */
    file: string;
    full: string;
    text: string;
    environment: unknown;
    /** The validated serving block, or undefined before the first release. */
    serving?: ServingConfig;
    /**
     * serving.thresholds and serving.significance of the stack file: what the program computes the
     * release's gate annotation with (the default, F1 +2 %, when there is no serving block yet).
     */
    config: GateConfig;
    /** The stack's config values (for the training identity the gate checks the candidate against). */
    values: Record<string, unknown>;
}

/** Reads a stack's gate from its stack file; refuses an unknown stack and an invalid serving block. */
export function loadStackGate(root: string, stack: string): StackGate {
    const { file, full } = stackFilePath(root, stack);
    const text = fs.readFileSync(full, "utf8");
    const values = stackConfigValues(text, file);
    const serving = servingOf(values, file);
    return { file, full, text, environment: values[ENVIRONMENT_KEY], serving, config: serving ? serving.gate : DEFAULT_GATE_CONFIG, values };
}

/** The release that serves all traffic now (canary: stable; blue-green: the active slot). */
export function liveRelease(serving: ServingConfig | undefined): ModelRelease | undefined {
    if (!serving) return undefined;
    if (serving.strategy === "canary") return serving.canary?.stable;
    return serving.blueGreen?.slots[serving.blueGreen.active];
}

export interface GateOptions {
    root: string;
    stack: string;
    /** `runs:/<id>`, `models:/<name>/<version>` or `models:/<name>@<alias>`. */
    candidate: string;
    /**
     * Default: the release the stack serves now (`models:/<name>/<version>` of the stable release
     * or active slot), else `models:/<model>@champion`; none for a first release (no serving block).
     */
    baseline?: string;
    client: MlflowClient | MlflowClientOptions;
}

export interface GateOutcome {
    verdict: GateVerdict;
    stack: StackGate;
    /** True when the stack serves nothing yet: judged on value thresholds only. */
    firstRelease: boolean;
    candidate: ResolvedMetrics;
    baseline?: ResolvedMetrics;
    config: GateConfig;
    /** Whether the training identity logged the candidate's run (refused otherwise, exit 3). */
    provenance: ProvenanceResult;
    text: string;
    exitCode: number;
}

function samples(m: ResolvedMetrics | undefined): number | undefined {
    const n = m?.metrics[EVAL_SAMPLES_METRIC];
    return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined;
}

export async function gateCommand(opts: GateOptions): Promise<GateOutcome> {
    const stack = loadStackGate(opts.root, opts.stack);
    const config = stack.config;
    const live = liveRelease(stack.serving);
    const firstRelease = stack.serving === undefined;
    if (opts.baseline === "none" && !firstRelease) {
        throw new StackFileError(
            `--baseline none is for a first release, but ${stack.file} already serves ${live ? `${live.model} v${live.version}` : "a release"}: ` +
                `a candidate is compared with the release it would replace (omit --baseline)`,
        );
    }
    const client = opts.client instanceof MlflowClient ? opts.client : new MlflowClient(opts.client);
    const candidate = await client.resolveMetrics(opts.candidate);
    // Metrics are trusted only when the training identity logged them (issue 12 #8).
    const identity = trainingIdentityOf(stack.values);
    const provenance = checkRunProvenance(
        await client.getRun(candidate.runId),
        identity,
        identity.authEnabled && identity.experimentName ? (await client.getExperimentByName(identity.experimentName))?.experiment_id : undefined,
    );
    let baselineRef = opts.baseline;
    if (baselineRef === undefined && !firstRelease) {
        if (live && candidate.modelName === live.model) {
            baselineRef = `models:/${live.model}/${live.version}`;
        } else if (candidate.modelName) {
            baselineRef = `models:/${candidate.modelName}@champion`;
        } else {
            throw new Error(`--baseline is required when the candidate (${opts.candidate}) is not a registered model version`);
        }
    }
    let baseline: ResolvedMetrics | undefined;
    const notes: string[] = [];
    if (baselineRef !== undefined && baselineRef !== "none") {
        baseline = await client.resolveMetrics(baselineRef);
    }
    if (firstRelease) {
        notes.push(
            `first release: ${stack.file} has no ${SERVING_CONFIG_KEY} block, so there is no baseline to beat; ` +
                `value thresholds apply, change rules and the significance test do not`,
        );
    }
    const verdict = evaluateGate(
        { metrics: candidate.metrics, samples: samples(candidate) },
        baseline ? { metrics: baseline.metrics, samples: samples(baseline) } : undefined,
        firstRelease && !baseline ? firstReleaseGate(config) : config,
    );
    const describe = (m: ResolvedMetrics) => (m.modelName ? `${m.modelName} v${m.version} (run ${m.runId})` : `run ${m.runId}`);
    notes.push(...provenance.notes);
    const refused = provenance.problems.length > 0;
    const lines = [
        `gate for stack ${opts.stack} (thresholds: ${stack.serving ? `${SERVING_CONFIG_KEY}.thresholds in ${stack.file}` : "the default, F1 +2 % relative"}): ` +
            `candidate ${describe(candidate)} vs ${baseline ? `baseline ${describe(baseline)}` : "no baseline"}`,
        ...notes,
        "",
        formatVerdictTable(verdict),
        "",
        verdict.passed && !refused
            ? "verdict: PASS"
            : `verdict: FAIL\n${[...provenance.problems.map((p) => `provenance: ${p}`), ...verdictFailures(verdict)].map((f) => `  - ${f}`).join("\n")}`,
    ];
    const passed = verdict.passed && !refused;
    return { verdict, stack, firstRelease, candidate, baseline, config, provenance, text: lines.join("\n"), exitCode: passed ? 0 : 3 };
}

/** Run metrics that describe the run, not the model's quality; not recorded in releases. */
const OPERATIONAL_METRICS = new Set([EVAL_SAMPLES_METRIC, "train_seconds"]);

/** The release a passing gate proposes: the candidate version, its metrics, its baseline. */
export function releaseFromGate(outcome: GateOutcome, approvedBy?: string): ModelRelease {
    const c = outcome.candidate;
    if (!c.modelName || !c.version) {
        throw new Error(`--write needs a registered model version as the candidate (models:/<name>/<version> or models:/<name>@<alias>), got run ${c.runId}`);
    }
    const quality = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !OPERATIONAL_METRICS.has(k)).sort(([a], [b]) => a.localeCompare(b)));
    const samples = c.metrics[EVAL_SAMPLES_METRIC];
    const b = outcome.baseline;
    return {
        model: c.modelName,
        version: c.version,
        modelUri: `models:/${c.modelName}/${c.version}`,
        metrics: quality(c.metrics),
        ...(b?.version
            ? {
                  baseline: {
                      version: b.version,
                      metrics: quality(b.metrics),
                      ...(b.metrics[EVAL_SAMPLES_METRIC] ? { samples: b.metrics[EVAL_SAMPLES_METRIC] } : {}),
                  },
              }
            : {}),
        ...(samples ? { evaluation: { samples } } : {}),
        ...(approvedBy ? { approvedBy } : {}),
    };
}

/** Where `recordRelease` puts a release, and what it checked. */
export interface RecordedRelease {
    text: string;
    /** `mlops-platform:serving.canary.canary`, `...blueGreen.slots.green` or `...canary.stable` (first release). */
    target: string;
    /** Advisory verdicts and other notes worth printing. */
    notes: string[];
}

/**
 * Records a gated release in a stack file's serving block: the `canary` track (canary strategy),
 * the idle slot (blue-green) or, on a stack that serves nothing yet, a new serving block with the
 * release as the stable track (canary strategy, weight 0). The edit is a text splice of that entry
 * only; the result is validated as the program validates it and checked with the gating pack's
 * rules and the stack's policy configuration before anything is returned. Re-recording the same
 * version keeps its approvedBy unless a new one is given.
 */
export function recordRelease(text: string, file: string, release: ModelRelease, policy: PolicyPackConfig = {}): RecordedRelease {
    const values = stackConfigValues(text, file);
    const doc = YAML.parseDocument(text);
    const config = doc.get("config", true);
    const key = YAML.isMap(config) && !config.has(SERVING_CONFIG_KEY) && config.has("serving") ? "serving" : SERVING_CONFIG_KEY;
    const current = rawServing(values);
    let target: string[];
    let value: unknown;
    let existing: ModelRelease | undefined;
    if (current === undefined || current === null) {
        target = [];
        value = { name: release.model, strategy: "canary", canary: { canaryWeight: 0, stable: release } };
    } else {
        const serving = servingOf(values, file)!;
        if (serving.strategy === "canary") {
            target = ["canary", "canary"];
            existing = serving.canary?.canary;
        } else {
            const idle = serving.blueGreen!.active === "blue" ? "green" : "blue";
            target = ["blueGreen", "slots", idle];
            existing = serving.blueGreen!.slots[idle];
        }
        value = release;
    }
    if (existing?.approvedBy && !release.approvedBy && existing.model === release.model && String(existing.version) === String(release.version)) {
        release = { ...release, approvedBy: existing.approvedBy };
        if (value !== release && target.length) value = release;
    }
    const keys = ["config", key, ...target];
    let next = spliceValue(text, keys, value);
    const notes: string[] = [];
    if (next === undefined) {
        doc.setIn(keys, doc.createNode(value));
        next = doc.toString({ lineWidth: 0 });
        notes.push(`${file}: the serving block is not in block style, so the file was re-serialised (comments kept)`);
    }
    let after: ServingConfig | undefined;
    try {
        after = servingOf(stackConfigValues(next, file), file);
    } catch (e: any) {
        throw new StackFileError(
            `recording ${release.model} v${release.version} would make ${SERVING_CONFIG_KEY} invalid, so ${file} was not changed:\n` +
                String(e?.message ?? e).replace(`${file}: `, ""),
        );
    }
    if (!after) throw new StackFileError(`recording ${release.model} v${release.version} left no ${SERVING_CONFIG_KEY} in ${file}`);
    notes.push(...enforceGatingRules(after, policy, file, `recording ${release.model} v${release.version}`));
    return { text: next, target: [SERVING_CONFIG_KEY, ...(target.length ? target : ["canary", "stable"])].join("."), notes };
}

/** `mlops gate --write`: records a passing release in the stack file (or refuses, leaving it unchanged). */
export function writeGatedRelease(root: string, stackName: string, outcome: GateOutcome, approvedBy?: string): string {
    const stack = outcome.stack;
    const release = releaseFromGate(outcome, approvedBy);
    const policy = resolvePolicyConfig(root, stackName, "gating", stack.environment);
    const current = fs.readFileSync(stack.full, "utf8");
    const { text, target, notes } = recordRelease(current, stack.file, release, policy.config);
    const tmp = `${stack.full}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, stack.full);
    return [
        ...(policy.notice ? [`note: ${policy.notice}`] : []),
        ...notes.map((n) => `note: ${n}`),
        `recorded ${release.model} v${release.version} (gate: pass) at ${target} in ${stack.file}`,
    ].join("\n");
}
