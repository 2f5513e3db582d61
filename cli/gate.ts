// `mlops gate`: candidate and baseline metrics from MLflow's REST API → the stack's gating rules
// (the same code and configuration the gating policy pack uses) → a verdict table and exit code.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { SERVING_CONFIG_KEY, parseServingConfig } from "../components/servingConfig";
import type { ModelRelease } from "../release-contract/annotations";
import {
    DEFAULT_GATE_CONFIG,
    GateConfig,
    GateVerdict,
    evaluateGate,
    formatVerdictTable,
    validateGateConfig,
    verdictFailures,
} from "../release-contract/gate";
import { MlflowClient, MlflowClientOptions, ResolvedMetrics } from "./mlflow-client";

/** Metric the trainer logs with the size of its evaluation set (for the significance test). */
export const EVAL_SAMPLES_METRIC = "eval_samples";

/**
 * The stack's gate: thresholds from the `model-gate-thresholds` entry of
 * `policies/config/<stack>.json` and, unless that policy is disabled, the significance test of
 * `model-significance` — exactly what the gating pack enforces at preview.
 */
export function loadGateConfig(root: string, stack: string): GateConfig {
    const file = path.join(root, "policies", "config", `${stack}.json`);
    let cfg: Record<string, any> = {};
    if (fs.existsSync(file)) {
        try {
            cfg = JSON.parse(fs.readFileSync(file, "utf8"));
        } catch (e: any) {
            throw new Error(`${path.relative(root, file)} is not valid JSON: ${e.message}`);
        }
    }
    const entry = (name: string): Record<string, any> | undefined => {
        const v = cfg[name];
        if (v === "disabled" || v?.enforcementLevel === "disabled") {
            return undefined;
        }
        return typeof v === "object" && v !== null ? v : {};
    };
    const thresholds = entry("model-gate-thresholds")?.thresholds ?? DEFAULT_GATE_CONFIG.thresholds;
    const sig = entry("model-significance");
    const raw: Record<string, unknown> = { thresholds };
    if (sig) {
        raw.significance = {
            alpha: sig.alpha ?? 0.05,
            metrics: sig.metrics ?? ["f1"],
            requireSamples: sig.requireSamples ?? false,
        };
    }
    return validateGateConfig(raw, `${path.relative(root, file)}: model-gate-thresholds`);
}

export interface GateOptions {
    root: string;
    stack: string;
    /** `runs:/<id>`, `models:/<name>/<version>` or `models:/<name>@<alias>`. */
    candidate: string;
    /** Default: `models:/<candidate's model>@champion`; `none` for a first release. */
    baseline?: string;
    client: MlflowClient | MlflowClientOptions;
}

export interface GateOutcome {
    verdict: GateVerdict;
    candidate: ResolvedMetrics;
    baseline?: ResolvedMetrics;
    config: GateConfig;
    text: string;
    exitCode: number;
}

function samples(m: ResolvedMetrics | undefined): number | undefined {
    const n = m?.metrics[EVAL_SAMPLES_METRIC];
    return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined;
}

export async function gateCommand(opts: GateOptions): Promise<GateOutcome> {
    const config = loadGateConfig(opts.root, opts.stack);
    const client = opts.client instanceof MlflowClient ? opts.client : new MlflowClient(opts.client);
    const candidate = await client.resolveMetrics(opts.candidate);
    let baselineRef = opts.baseline;
    if (baselineRef === undefined) {
        if (!candidate.modelName) {
            throw new Error(`--baseline is required when the candidate (${opts.candidate}) is not a registered model version`);
        }
        baselineRef = `models:/${candidate.modelName}@champion`;
    }
    let baseline: ResolvedMetrics | undefined;
    let baselineNote = "";
    if (baselineRef !== "none") {
        try {
            baseline = await client.resolveMetrics(baselineRef);
        } catch (e: any) {
            if (opts.baseline === undefined && e?.isNotFound) {
                baselineNote = `no baseline: ${baselineRef} does not exist (first release?); change rules fail without one`;
            } else {
                throw e;
            }
        }
    }
    const verdict = evaluateGate(
        { metrics: candidate.metrics, samples: samples(candidate) },
        baseline ? { metrics: baseline.metrics, samples: samples(baseline) } : undefined,
        config,
    );
    const describe = (m: ResolvedMetrics) => (m.modelName ? `${m.modelName} v${m.version} (run ${m.runId})` : `run ${m.runId}`);
    const lines = [
        `gate for stack ${opts.stack}: candidate ${describe(candidate)} vs ${baseline ? `baseline ${describe(baseline)}` : "no baseline"}`,
        ...(baselineNote ? [baselineNote] : []),
        "",
        formatVerdictTable(verdict),
        "",
        verdict.passed ? "verdict: PASS" : `verdict: FAIL\n${verdictFailures(verdict).map((f) => `  - ${f}`).join("\n")}`,
    ];
    return { verdict, candidate, baseline, config, text: lines.join("\n"), exitCode: verdict.passed ? 0 : 3 };
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

/**
 * Records a gated release as the candidate in a stack file's serving block: the `canary` track
 * (canary strategy) or the idle slot (blue-green), through the yaml Document API so comments and
 * key order stay. The result is validated as the program will validate it; nothing is written
 * for an invalid result. Returns the new text and where the release went.
 */
export function recordRelease(text: string, file: string, release: ModelRelease): { text: string; target: string } {
    const doc = YAML.parseDocument(text);
    if (doc.errors.length > 0) {
        throw new Error(`${file} is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
    }
    const config = doc.get("config", true);
    const key = YAML.isMap(config) && config.has(SERVING_CONFIG_KEY) ? SERVING_CONFIG_KEY : "serving";
    const serving = YAML.isMap(config) ? config.get(key, true) : undefined;
    if (!YAML.isMap(serving)) {
        throw new Error(`${file} has no ${SERVING_CONFIG_KEY} block to record the release in; add one (strategy, and the stable release) first`);
    }
    const strategy = serving.get("strategy");
    let target: string[];
    if (strategy === "canary") {
        target = ["canary", "canary"];
    } else if (strategy === "blueGreen") {
        const active = serving.getIn(["blueGreen", "active"]);
        target = ["blueGreen", "slots", active === "blue" ? "green" : "blue"];
    } else {
        throw new Error(`${file}: ${SERVING_CONFIG_KEY}.strategy must be canary or blueGreen to record a release, got ${JSON.stringify(strategy)}`);
    }
    const node = doc.createNode(release);
    serving.setIn(target, node);
    const next = doc.toString({ lineWidth: 0 });
    try {
        parseServingConfig(YAML.parse(next).config[key]);
    } catch (e: any) {
        throw new Error(`recording ${release.model} v${release.version} would make ${SERVING_CONFIG_KEY} invalid, so ${file} was not changed:\n${e.message}`);
    }
    return { text: next, target: `${SERVING_CONFIG_KEY}.${target.join(".")}` };
}
