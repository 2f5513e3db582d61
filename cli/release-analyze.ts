// `mlops release analyze`: automated canary analysis. Measures the candidate (canary track, or the
// idle blue-green slot behind the preview Service) and the baseline (stable, or the active slot)
// through Prometheus' HTTP API, compares them with `serving.analysis` of the stack file and prints a
// verdict table. With --write the verdict is applied through the ordinary `mlops release` edits
// (next step of the step plan / promote / rollback; blue-green: switch), with their rule checks.
import { Command } from "commander";
import * as fs from "fs";
import {
    AnalysisConfig,
    AnalysisResult,
    ANALYZE_EXIT,
    checkAnalysisConfig,
    decideCanary,
    formatAnalysisTable,
    nextStep,
    TrackMeasurement,
    trackQueries,
    Verdict,
} from "../release-contract/analysis";
import { describeRelease } from "../components/modelRelease";
import { ServingConfig, SERVING_CONFIG_KEY } from "../components/servingConfig";
import { ReleaseAction, releaseCommand, ReleaseError } from "./release";
import { servingOf, stackConfigValues, stackFilePath, StackFileError } from "./stack-settings";

/** Reads one instant value from Prometheus; undefined when the query returns no series. */
export type PromQuery = (query: string) => Promise<number | undefined>;

/** A Prometheus answer that is not a usable instant vector/scalar, or an unreachable server. */
export class PrometheusError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PrometheusError";
    }
}

/** Parses a `/api/v1/query` response body into one number (sum over series is done in PromQL). */
export function parseInstantValue(body: unknown, query: string): number | undefined {
    const b = body as any;
    if (!b || b.status !== "success") {
        throw new PrometheusError(`Prometheus refused ${query}: ${b?.errorType ?? "error"}: ${b?.error ?? JSON.stringify(b)?.slice(0, 200)}`);
    }
    const data = b.data;
    if (data?.resultType === "scalar") return promNumber(data.result[1]);
    if (data?.resultType !== "vector" || !Array.isArray(data.result)) {
        throw new PrometheusError(`Prometheus answered ${query} with resultType ${data?.resultType}; an instant vector was expected`);
    }
    if (data.result.length === 0) return undefined;
    if (data.result.length > 1) {
        throw new PrometheusError(`Prometheus answered ${query} with ${data.result.length} series; the analysis queries aggregate to one`);
    }
    // Prometheus encodes sample values as strings: "NaN", "+Inf" and "-Inf" included.
    return promNumber(data.result[0].value[1]);
}

/** A Prometheus sample value: a decimal string, or "NaN", "+Inf", "-Inf" (which Number() does not read). */
export function promNumber(v: unknown): number {
    if (v === "+Inf" || v === "Inf") return Infinity;
    if (v === "-Inf") return -Infinity;
    return Number(v);
}

/** Queries `<url>/api/v1/query` with fetch (Node 20). */
export function prometheusClient(url: string, timeoutMs = 15000): PromQuery {
    let base: URL;
    try {
        base = new URL(url);
    } catch {
        throw new PrometheusError(`--prometheus-url must be an http(s) URL, got '${url}'`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new PrometheusError(`--prometheus-url must be an http(s) URL, got '${url}'`);
    return async (query: string) => {
        const u = new URL(`${base.pathname.replace(/\/$/, "")}/api/v1/query`, base);
        u.searchParams.set("query", query);
        let res: Response;
        try {
            res = await fetch(u, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
        } catch (e: any) {
            throw new PrometheusError(`cannot reach Prometheus at ${base.origin}: ${e?.cause?.code ?? e?.message ?? e}`);
        }
        let body: unknown;
        try {
            body = await res.json();
        } catch {
            throw new PrometheusError(`Prometheus at ${base.origin} answered HTTP ${res.status} without JSON for ${query}`);
        }
        return parseInstantValue(body, query);
    };
}

/** No candidate: no canary release, an empty idle slot, or no serving block. */
export class NothingToAnalyse extends ReleaseError {}

/** Which tracks are compared, and what `--write` does with each verdict. */
export interface AnalysisSubject {
    strategy: "canary" | "blueGreen";
    candidate: { track: string; label: string };
    baseline: { track: string; label: string };
    /** Canary: current weight (0..100). */
    weight?: number;
}

/** The candidate and baseline of a serving config, or a ReleaseError when there is nothing to analyse. */
export function analysisSubject(cfg: ServingConfig): AnalysisSubject {
    if (cfg.strategy === "canary" && cfg.canary) {
        const c = cfg.canary;
        if (!c.canary) throw new NothingToAnalyse(`nothing to analyse: there is no canary release (${SERVING_CONFIG_KEY}.canary.canary is empty)`);
        return {
            strategy: "canary",
            candidate: { track: "canary", label: `canary ${describeRelease(c.canary)}` },
            baseline: { track: "stable", label: `stable ${describeRelease(c.stable)}` },
            weight: c.canaryWeight,
        };
    }
    const bg = cfg.blueGreen!;
    const idle = bg.active === "blue" ? "green" : "blue";
    const rel = bg.slots[idle];
    if (!rel) throw new NothingToAnalyse(`nothing to analyse: the idle slot '${idle}' holds no release (${SERVING_CONFIG_KEY}.blueGreen.slots.${idle} is empty)`);
    return {
        strategy: "blueGreen",
        candidate: { track: idle, label: `preview ${idle} ${describeRelease(rel)}` },
        baseline: { track: bg.active, label: `active ${bg.active} ${describeRelease(bg.slots[bg.active])}` },
    };
}

/** The release edit a verdict leads to (undefined: nothing to write). */
export function actionFor(subject: AnalysisSubject, verdict: Verdict, steps: number[], start: boolean): { action?: ReleaseAction; describe: string } {
    if (verdict === "hold") return { describe: "hold: nothing changes; analyse again after more traffic" };
    if (subject.strategy === "blueGreen") {
        if (verdict === "promote") return { action: { kind: "switch", to: subject.candidate.track as "blue" | "green" }, describe: `switch the live Service to slot '${subject.candidate.track}'` };
        return { describe: `do not switch: slot '${subject.candidate.track}' stays idle (the active slot keeps serving)` };
    }
    if (verdict === "rollback") return { action: { kind: "rollback" }, describe: "roll back: canary weight 0" };
    const w = subject.weight ?? 0;
    if (w === 0 && !start) return { describe: "the canary receives no traffic: start the rollout with --start (first step of analysis.steps)" };
    const next = nextStep(steps, w);
    if (next !== undefined) return { action: { kind: "set-weight", weight: next }, describe: `next step: canary weight ${w} → ${next}` };
    return { action: { kind: "promote" }, describe: "promote the canary to stable (last step passed)" };
}

export interface AnalyzeOptions {
    root: string;
    stack: string;
    query: PromQuery;
    /** Overrides analysis.window. */
    window?: string;
    write?: boolean;
    /** A canary at weight 0 is moved to the first step without measurements. */
    start?: boolean;
}

export interface AnalyzeOutcome {
    verdict: Verdict;
    result: AnalysisResult;
    subject: AnalysisSubject;
    config: AnalysisConfig;
    queries: Record<string, Record<string, string>>;
    measurements: { candidate: TrackMeasurement; baseline: TrackMeasurement };
    /** The release edit for the verdict, as described. */
    decision: string;
    /** Whether --write changed the stack file. */
    written: boolean;
    /** The rollout is over: promoted, switched or rolled back (or nothing left to walk). */
    done: boolean;
    text: string;
    exitCode: number;
}

async function measure(query: PromQuery, qs: Record<string, string>): Promise<TrackMeasurement> {
    const out: TrackMeasurement = {};
    for (const [k, q] of Object.entries(qs)) {
        (out as any)[k] = await query(q);
    }
    return out;
}

/** Runs the analysis for a stack (and applies it with `write`). */
export async function analyzeCommand(opts: AnalyzeOptions): Promise<AnalyzeOutcome> {
    let file: string, full: string;
    let cfg: ServingConfig | undefined;
    try {
        ({ file, full } = stackFilePath(opts.root, opts.stack));
        cfg = servingOf(stackConfigValues(fs.readFileSync(full, "utf8"), file), file);
    } catch (e) {
        if (e instanceof StackFileError) throw new ReleaseError(e.message);
        throw e;
    }
    if (!cfg) throw new NothingToAnalyse(`${file} has no ${SERVING_CONFIG_KEY}: nothing serves, nothing to analyse`);
    let analysis = cfg.analysis;
    if (opts.window !== undefined) {
        const checked = checkAnalysisConfig({ window: opts.window }, "--");
        if (!checked.config) throw new ReleaseError(checked.problems.map((p) => `${p.path} ${p.reason}`).join("\n"));
        analysis = { ...analysis, window: checked.config.window };
    }
    const subject = analysisSubject(cfg);
    const target = (track: string) => ({ namespace: cfg!.namespace, server: cfg!.name, track });
    const cq = trackQueries(target(subject.candidate.track), analysis) as unknown as Record<string, string>;
    const bq = trackQueries(target(subject.baseline.track), analysis) as unknown as Record<string, string>;
    const startWithoutData = subject.strategy === "canary" && subject.weight === 0 && opts.start === true && !cfg.canary?.mirror;
    const candidate = startWithoutData ? {} : await measure(opts.query, cq);
    const baseline = startWithoutData ? {} : await measure(opts.query, bq);
    const result: AnalysisResult = startWithoutData
        ? { verdict: "promote", reasons: ["--start: the canary receives no traffic yet; the first step exposes it"], rows: [] }
        : decideCanary(candidate, baseline, analysis);
    const decision = actionFor(subject, result.verdict, analysis.steps, opts.start === true);
    const lines = [
        `${file}: ${subject.candidate.label} against ${subject.baseline.label}, window ${analysis.window}` +
            (subject.weight !== undefined ? `, canary weight ${subject.weight}%` : ""),
    ];
    if (result.rows.length) lines.push(formatAnalysisTable(result, { candidate: subject.strategy === "canary" ? "canary" : "preview", baseline: subject.strategy === "canary" ? "stable" : "active" }));
    lines.push(`verdict: ${result.verdict.toUpperCase()}`);
    for (const r of result.reasons) lines.push(`  - ${r}`);
    lines.push(`decision: ${decision.describe}`);
    let written = false;
    if (opts.write && decision.action) {
        const run = releaseCommand({ root: opts.root, stack: opts.stack, action: decision.action });
        lines.push(run.output);
        written = run.plan.changes.length > 0;
    } else if (decision.action) {
        lines.push(`(without --write: ${file} not changed)`);
    }
    const done =
        result.verdict === "rollback" ||
        (result.verdict === "promote" && (subject.strategy === "blueGreen" || decision.action?.kind === "promote"));
    return {
        verdict: result.verdict,
        result,
        subject,
        config: analysis,
        queries: { candidate: cq, baseline: bq },
        measurements: { candidate, baseline },
        decision: decision.describe,
        written,
        done,
        text: lines.join("\n"),
        exitCode: ANALYZE_EXIT[result.verdict],
    };
}

/** Adds `mlops release analyze` under the `release` command. */
export function registerAnalyzeCommand(release: Command, rootOf: () => string): void {
    release
        .command("analyze")
        .description(
            "Compare the canary (or blue-green preview slot) with stable (the active slot) in Prometheus; verdict promote (exit 0), hold (2) or roll back (3); errors exit 1",
        )
        .requiredOption("-s, --stack <name>", "stack name (Pulumi.<name>.yaml; thresholds from serving.analysis)")
        .option("--prometheus-url <url>", "Prometheus base URL (default $PROMETHEUS_URL)")
        .option("--window <duration>", "override serving.analysis.window (e.g. 10m)")
        .option("--write", "apply the verdict: next step of serving.analysis.steps or promote / rollback; blue-green: switch")
        .option("--start", "a canary at weight 0 moves to the first step without measurements (with --write)")
        .option("--json", "print the outcome as JSON")
        .option("--if-pending", "exit 0 (JSON pending: false) when there is nothing to analyse (no canary, empty idle slot)")
        .action(async (o: { stack: string; prometheusUrl?: string; window?: string; write?: boolean; start?: boolean; json?: boolean; ifPending?: boolean }) => {
            const url = o.prometheusUrl ?? process.env.PROMETHEUS_URL;
            if (!url) throw new ReleaseError("--prometheus-url (or $PROMETHEUS_URL) is required: the Prometheus that scrapes the model servers");
            let outcome: AnalyzeOutcome;
            try {
                outcome = await analyzeCommand({ root: rootOf(), stack: o.stack, query: prometheusClient(url), window: o.window, write: o.write, start: o.start });
            } catch (e) {
                if (o.ifPending && e instanceof NothingToAnalyse) {
                    console.log(o.json ? JSON.stringify({ pending: false, reason: e.message }) : `nothing to analyse: ${e.message}`);
                    return;
                }
                throw e;
            }
            if (o.json) {
                const { text: _text, ...rest } = outcome;
                console.log(JSON.stringify({ pending: true, strategy: outcome.subject.strategy, ...rest }, null, 2));
            } else {
                console.log(outcome.text);
            }
            process.exitCode = outcome.exitCode;
        });
}
