// `mlops gate`: candidate and baseline metrics from MLflow's REST API → the stack's gating rules
// (the same code and configuration the gating policy pack uses) → a verdict table and exit code.
import * as fs from "fs";
import * as path from "path";
import {
    DEFAULT_GATE_CONFIG,
    GateConfig,
    GateVerdict,
    evaluateGate,
    formatVerdictTable,
    validateGateConfig,
    verdictFailures,
} from "../policies/gating/gate";
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
