// The model-quality gate: pure functions shared by the gating policy pack and the `mlops gate`
// CLI. Threshold semantics follow MLflow's MetricThreshold / validate_evaluation_results
// (value threshold, minimum absolute change, minimum relative change, greater-is-better; a
// missing candidate metric fails; a missing baseline metric fails when a change rule is set; every
// failure is reported, not just the first). Optional one-sided two-proportion z-test.
import type { ModelRelease } from "./annotations";

/** One metric's rule. At least one of threshold / minAbsoluteChange / minRelativeChange. */
export interface MetricThreshold {
    /** Value threshold: candidate >= threshold (greater is better) or <= threshold. */
    threshold?: number;
    /** Candidate must beat the baseline by at least this much (> 0). */
    minAbsoluteChange?: number;
    /** Candidate must beat the baseline by at least this fraction of it, in [0, 1] (0.02 = 2%). */
    minRelativeChange?: number;
    /** Direction of improvement (required, as in MLflow). */
    greaterIsBetter: boolean;
}

export type MetricThresholds = Record<string, MetricThreshold>;

export interface SignificanceConfig {
    /** One-sided significance level in (0, 1), e.g. 0.05. */
    alpha: number;
    /** Proportion metrics to test; default: every thresholded metric that has a change rule. */
    metrics?: string[];
    /** Fail (instead of skipping) when candidate or baseline sample counts are missing. */
    requireSamples?: boolean;
}

export interface GateConfig {
    thresholds: MetricThresholds;
    significance?: SignificanceConfig;
}

/** "F1 must beat the baseline by at least 2% (relative)." */
export const DEFAULT_GATE_CONFIG: GateConfig = {
    thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true } },
};

/**
 * With a baseline of exactly 0 a relative change is undefined; the candidate must then beat it
 * by this tiny absolute margin instead (i.e. be strictly better than 0).
 */
export const ZERO_BASELINE_MARGIN = 1e-12;

export type GateRule = "threshold" | "minAbsoluteChange" | "minRelativeChange";

export interface MetricResult {
    metric: string;
    candidate?: number;
    baseline?: number;
    rule: GateRule;
    /** The bound the candidate had to reach (for display), when computable. */
    required?: number;
    passed: boolean;
    message: string;
}

export interface SignificanceTest {
    metric: string;
    candidate?: number;
    baseline?: number;
    candidateSamples?: number;
    baselineSamples?: number;
    z?: number;
    pValue?: number;
    passed: boolean;
    message: string;
}

export interface SignificanceResult {
    alpha: number;
    passed: boolean;
    /** Why no test ran (samples missing and not required). */
    skipped?: string;
    tests: SignificanceTest[];
}

export interface GateVerdict {
    passed: boolean;
    /** The configuration the verdict was computed with (recorded on the release as `gate-thresholds`). */
    config?: GateConfig;
    results: MetricResult[];
    significance?: SignificanceResult;
}

/** What is compared: metrics and, optionally, the evaluation set size. */
export interface GateSubject {
    metrics: Record<string, number>;
    samples?: number;
}

// ---------------------------------------------------------------------------------------------
// Configuration validation
// ---------------------------------------------------------------------------------------------

export interface GateConfigProblem {
    propertyPath: string;
    reason: string;
}

/** Invalid gate configuration; lists every problem with the property it concerns. */
export class GateConfigError extends Error {
    constructor(public readonly errors: GateConfigProblem[]) {
        super(`invalid gate configuration: ${errors.map((e) => `${e.propertyPath}: ${e.reason}`).join("; ")}`);
        this.name = "GateConfigError";
    }
}

const THRESHOLD_KEYS = ["threshold", "minAbsoluteChange", "minRelativeChange", "greaterIsBetter"];

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function collectThresholdProblems(raw: unknown, path: string, problems: GateConfigProblem[]): void {
    if (!isPlainObject(raw)) {
        problems.push({ propertyPath: path, reason: "must be an object mapping metric names to thresholds" });
        return;
    }
    if (Object.keys(raw).length === 0) {
        problems.push({ propertyPath: path, reason: "at least one metric threshold is required" });
    }
    for (const [metric, spec] of Object.entries(raw)) {
        const p = `${path}.${metric}`;
        if (!isPlainObject(spec)) {
            problems.push({ propertyPath: p, reason: "must be an object { threshold?, minAbsoluteChange?, minRelativeChange?, greaterIsBetter }" });
            continue;
        }
        for (const k of Object.keys(spec)) {
            if (!THRESHOLD_KEYS.includes(k)) {
                problems.push({ propertyPath: `${p}.${k}`, reason: `unknown property; expected one of ${THRESHOLD_KEYS.join(", ")}` });
            }
        }
        if (typeof spec.greaterIsBetter !== "boolean") {
            problems.push({ propertyPath: `${p}.greaterIsBetter`, reason: "is required and must be true or false" });
        }
        const { threshold, minAbsoluteChange: abs, minRelativeChange: rel } = spec;
        if (threshold === undefined && abs === undefined && rel === undefined) {
            problems.push({ propertyPath: p, reason: "needs at least one of threshold, minAbsoluteChange, minRelativeChange" });
        }
        if (threshold !== undefined && !(typeof threshold === "number" && Number.isFinite(threshold))) {
            problems.push({ propertyPath: `${p}.threshold`, reason: `must be a finite number, got ${JSON.stringify(threshold)}` });
        }
        if (abs !== undefined && !(typeof abs === "number" && Number.isFinite(abs) && abs > 0)) {
            problems.push({ propertyPath: `${p}.minAbsoluteChange`, reason: `must be a number > 0, got ${JSON.stringify(abs)}` });
        }
        if (rel !== undefined && !(typeof rel === "number" && rel >= 0 && rel <= 1)) {
            problems.push({ propertyPath: `${p}.minRelativeChange`, reason: `must be a number in [0, 1] (0.02 = 2%), got ${JSON.stringify(rel)}` });
        }
    }
}

function collectSignificanceProblems(raw: unknown, path: string, problems: GateConfigProblem[]): void {
    if (!isPlainObject(raw)) {
        problems.push({ propertyPath: path, reason: "must be an object { alpha, metrics?, requireSamples? }" });
        return;
    }
    for (const k of Object.keys(raw)) {
        if (!["alpha", "metrics", "requireSamples"].includes(k)) {
            problems.push({ propertyPath: `${path}.${k}`, reason: "unknown property; expected alpha, metrics, requireSamples" });
        }
    }
    if (!(typeof raw.alpha === "number" && raw.alpha > 0 && raw.alpha < 1)) {
        problems.push({ propertyPath: `${path}.alpha`, reason: `must be a number in (0, 1), got ${JSON.stringify(raw.alpha)}` });
    }
    if (raw.metrics !== undefined && !(Array.isArray(raw.metrics) && raw.metrics.every((m) => typeof m === "string" && m))) {
        problems.push({ propertyPath: `${path}.metrics`, reason: "must be a list of metric names" });
    }
    if (raw.requireSamples !== undefined && typeof raw.requireSamples !== "boolean") {
        problems.push({ propertyPath: `${path}.requireSamples`, reason: "must be true or false" });
    }
}

/** Validates metric thresholds; throws GateConfigError naming each bad property. */
export function validateThresholds(raw: unknown, path = "thresholds"): MetricThresholds {
    const problems: GateConfigProblem[] = [];
    collectThresholdProblems(raw, path, problems);
    if (problems.length) throw new GateConfigError(problems);
    return raw as MetricThresholds;
}

/** Validates a whole gate configuration; throws GateConfigError naming each bad property. */
export function validateGateConfig(raw: unknown, path = ""): GateConfig {
    const at = (k: string) => (path ? `${path}.${k}` : k);
    const problems: GateConfigProblem[] = [];
    if (!isPlainObject(raw)) {
        throw new GateConfigError([{ propertyPath: path || "(root)", reason: "must be an object { thresholds, significance? }" }]);
    }
    for (const k of Object.keys(raw)) {
        if (k !== "thresholds" && k !== "significance") {
            problems.push({ propertyPath: at(k), reason: "unknown property; expected thresholds, significance" });
        }
    }
    collectThresholdProblems(raw.thresholds, at("thresholds"), problems);
    if (raw.significance !== undefined) collectSignificanceProblems(raw.significance, at("significance"), problems);
    if (problems.length) throw new GateConfigError(problems);
    return raw as unknown as GateConfig;
}

// ---------------------------------------------------------------------------------------------
// Exact decimal comparison: metrics arrive as decimal strings ("0.816"); binary floating point
// would make "exactly +2%" fail ((0.816 - 0.8) / 0.8 = 0.01999999999999988). Numbers are
// converted through their shortest round-trip decimal representation and compared exactly.
// ---------------------------------------------------------------------------------------------

interface Dec {
    n: bigint;
    /** value = n * 10^-s */
    s: number;
}

function dec(x: number): Dec {
    const [mant, expPart] = x.toString().toLowerCase().split("e");
    const exp = expPart ? Number(expPart) : 0;
    // "-1.25" -> BigInt("-125") (the sign stays on the integer part), scale 2.
    // The scale may be negative (1e21 -> 1 * 10^21); align() and mul() handle any scale.
    const [ip, fp = ""] = mant.split(".");
    return { n: BigInt(ip + fp), s: fp.length - exp };
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
    const s = Math.max(a.s, b.s);
    return [a.n * 10n ** BigInt(s - a.s), b.n * 10n ** BigInt(s - b.s), s];
}

function sub(a: Dec, b: Dec): Dec {
    const [x, y, s] = align(a, b);
    return { n: x - y, s };
}

function mul(a: Dec, b: Dec): Dec {
    return { n: a.n * b.n, s: a.s + b.s };
}

/** a >= b, exactly. */
function gte(a: Dec, b: Dec): boolean {
    const [x, y] = align(a, b);
    return x >= y;
}

function absDec(a: Dec): Dec {
    return { n: a.n < 0n ? -a.n : a.n, s: a.s };
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

function fmt(v: number | undefined): string {
    return v === undefined ? "missing" : String(Number(v.toPrecision(12)));
}

/** Percentage with 6 significant digits, so a near miss never displays as the bound itself. */
function pct(v: number): string {
    return `${Number((v * 100).toPrecision(6))}%`;
}

function finite(v: unknown): number | undefined {
    return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Evaluates one metric's rules; every configured rule yields a result. */
export function evaluateMetric(metric: string, spec: MetricThreshold, candidate: number | undefined, baseline: number | undefined): MetricResult[] {
    const out: MetricResult[] = [];
    const gib = spec.greaterIsBetter;
    const cmpWord = gib ? ">=" : "<=";
    const missingCandidate = `${metric}: candidate value is missing`;

    if (spec.threshold !== undefined) {
        const t = spec.threshold;
        if (candidate === undefined) {
            out.push({ metric, candidate, baseline, rule: "threshold", required: t, passed: false, message: missingCandidate });
        } else {
            const passed = gib ? gte(dec(candidate), dec(t)) : gte(dec(t), dec(candidate));
            out.push({
                metric, candidate, baseline, rule: "threshold", required: t, passed,
                message: `${metric}: candidate ${fmt(candidate)} must be ${cmpWord} ${fmt(t)} (threshold)`,
            });
        }
    }

    const changeRules: [GateRule, number | undefined][] = [
        ["minAbsoluteChange", spec.minAbsoluteChange],
        ["minRelativeChange", spec.minRelativeChange],
    ];
    for (const [rule, amount] of changeRules) {
        if (amount === undefined) continue;
        if (candidate === undefined || baseline === undefined) {
            out.push({
                metric, candidate, baseline, rule, passed: false,
                message: candidate === undefined ? missingCandidate : `${metric}: baseline value is missing (needed by ${rule})`,
            });
            continue;
        }
        const c = dec(candidate);
        const b = dec(baseline);
        // improvement in the good direction: c - b (greater is better) or b - c
        const improvement = gib ? sub(c, b) : sub(b, c);
        const sign = gib ? 1 : -1;
        if (rule === "minAbsoluteChange") {
            const passed = gte(improvement, dec(amount));
            const required = Number((baseline + sign * amount).toPrecision(15));
            out.push({
                metric, candidate, baseline, rule, required, passed,
                message:
                    `${metric}: candidate ${fmt(candidate)} vs baseline ${fmt(baseline)} must ${gib ? "improve" : "decrease"} by >= ${fmt(amount)} ` +
                    `(needs ${cmpWord} ${fmt(required)}, minAbsoluteChange)`,
            });
        } else if (baseline === 0) {
            const passed = gte(improvement, dec(ZERO_BASELINE_MARGIN));
            out.push({
                metric, candidate, baseline, rule, required: sign * ZERO_BASELINE_MARGIN, passed,
                message:
                    `${metric}: baseline is 0 so relative change is undefined; candidate ${fmt(candidate)} must be strictly ` +
                    `${gib ? "above" : "below"} 0 (by >= ${ZERO_BASELINE_MARGIN}, minRelativeChange)`,
            });
        } else {
            // (c - b) / |b| >= rel  <=>  (c - b) >= rel * |b|  (|b|: a negative baseline must not invert the rule)
            const passed = gte(improvement, mul(dec(amount), absDec(b)));
            const actual = (gib ? candidate - baseline : baseline - candidate) / Math.abs(baseline);
            const required = Number((baseline + sign * amount * Math.abs(baseline)).toPrecision(15));
            out.push({
                metric, candidate, baseline, rule, required, passed,
                message:
                    `${metric}: candidate ${fmt(candidate)} vs baseline ${fmt(baseline)} is ${actual >= 0 ? "+" : ""}${pct(actual)} ` +
                    `${gib ? "better" : "lower"}; needs >= ${pct(amount)} (${cmpWord} ${fmt(required)}, minRelativeChange)`,
            });
        }
    }
    return out;
}

/** Standard normal CDF. */
export function normalCdf(x: number): number {
    return 0.5 * erfc(-x / Math.SQRT2);
}

/**
 * Complementary error function, accurate to ~1e-14 over the real line: the Maclaurin series of
 * erf for |x| < 3, and the Laplace continued fraction for erfc beyond (evaluated bottom-up with
 * enough terms for |x| >= 3). Small and dependency-free on purpose.
 */
export function erfc(x: number): number {
    if (Number.isNaN(x)) return NaN;
    if (x < 0) return 2 - erfc(-x);
    if (x < 3) {
        // erf(x) = 2/sqrt(pi) * sum_{n>=0} (-1)^n x^(2n+1) / (n! (2n+1))
        let term = x; // (-1)^n x^(2n+1) / n!
        let sum = x;
        for (let n = 1; n < 200; n++) {
            term *= (-x * x) / n;
            const add = term / (2 * n + 1);
            sum += add;
            if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
        }
        return 1 - (2 / Math.sqrt(Math.PI)) * sum;
    }
    if (x > 27) return 0;
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    let f = x;
    for (let k = 60; k >= 1; k--) {
        f = x + k / 2 / f;
    }
    return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/**
 * One-sided two-proportion z-test (pooled). H1: the candidate proportion is better than the
 * baseline's (higher, or lower when `greaterIsBetter` is false). Returns z and the p-value.
 */
export function twoProportionZTest(
    candidate: number,
    candidateSamples: number,
    baseline: number,
    baselineSamples: number,
    greaterIsBetter = true,
): { z: number; pValue: number } {
    const pooled = (candidate * candidateSamples + baseline * baselineSamples) / (candidateSamples + baselineSamples);
    const se = Math.sqrt(pooled * (1 - pooled) * (1 / candidateSamples + 1 / baselineSamples));
    const diff = greaterIsBetter ? candidate - baseline : baseline - candidate;
    if (se === 0) {
        // both proportions 0 or both 1: no evidence either way
        return { z: 0, pValue: diff > 0 ? 0 : 0.5 };
    }
    const z = diff / se;
    return { z, pValue: 1 - normalCdf(z) };
}

function validSamples(n: unknown): number | undefined {
    return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Significance of each tested metric. Metrics are treated as proportions of the evaluation set
 * (exact for accuracy; an approximation for F1, which is not a plain binomial proportion).
 */
export function evaluateSignificance(
    candidate: GateSubject,
    baseline: GateSubject | undefined,
    thresholds: MetricThresholds,
    config: SignificanceConfig,
): SignificanceResult {
    const alpha = config.alpha;
    const metrics =
        config.metrics ??
        Object.entries(thresholds)
            .filter(([, s]) => s.minAbsoluteChange !== undefined || s.minRelativeChange !== undefined)
            .map(([m]) => m);
    const n1 = validSamples(candidate.samples);
    const n2 = validSamples(baseline?.samples);
    if (n1 === undefined || n2 === undefined) {
        const missing = [n1 === undefined ? "candidate" : "", n2 === undefined ? "baseline" : ""].filter(Boolean).join(" and ");
        const reason = `${missing} evaluation sample count${missing.includes(" and ") ? "s are" : " is"} missing`;
        return config.requireSamples
            ? { alpha, passed: false, tests: [], skipped: `${reason} (required)` }
            : { alpha, passed: true, tests: [], skipped: reason };
    }
    const tests: SignificanceTest[] = metrics.map((metric) => {
        const c = finite(candidate.metrics[metric]);
        const b = finite(baseline?.metrics[metric]);
        const base = { metric, candidate: c, baseline: b, candidateSamples: n1, baselineSamples: n2 };
        if (c === undefined || b === undefined) {
            return { ...base, passed: false, message: `${metric}: ${c === undefined ? "candidate" : "baseline"} value is missing` };
        }
        if (c < 0 || c > 1 || b < 0 || b > 1) {
            return { ...base, passed: false, message: `${metric}: values must be proportions in [0, 1] for a z-test` };
        }
        const gib = thresholds[metric]?.greaterIsBetter ?? true;
        const { z, pValue } = twoProportionZTest(c, n1, b, n2, gib);
        const passed = pValue <= alpha;
        return {
            ...base, z, pValue, passed,
            message:
                `${metric}: ${fmt(c)} (n=${n1}) vs ${fmt(b)} (n=${n2}), z=${z.toFixed(3)}, one-sided p=${pValue.toPrecision(3)} ` +
                `${passed ? "<=" : ">"} alpha ${alpha}`,
        };
    });
    return { alpha, passed: tests.every((t) => t.passed), tests };
}

/** Runs the gate: every rule of every thresholded metric, plus the significance test if configured. */
export function evaluateGate(candidate: GateSubject, baseline: GateSubject | undefined, config: GateConfig = DEFAULT_GATE_CONFIG): GateVerdict {
    const results: MetricResult[] = [];
    for (const [metric, spec] of Object.entries(config.thresholds)) {
        results.push(...evaluateMetric(metric, spec, finite(candidate.metrics[metric]), finite(baseline?.metrics[metric])));
    }
    const verdict: GateVerdict = { passed: results.every((r) => r.passed), results, config };
    if (config.significance) {
        verdict.significance = evaluateSignificance(candidate, baseline, config.thresholds, config.significance);
        verdict.passed = verdict.passed && verdict.significance.passed;
    }
    return verdict;
}

/** The gate subjects of a release: its metrics vs its recorded baseline. */
export function releaseSubjects(release: ModelRelease): { candidate: GateSubject; baseline?: GateSubject } {
    return {
        candidate: { metrics: release.metrics, samples: release.evaluation?.samples },
        baseline: release.baseline ? { metrics: release.baseline.metrics, samples: release.baseline.samples } : undefined,
    };
}

/**
 * The gate of a first release (nothing serves yet, so there is nothing to beat): the value
 * thresholds only; change rules and the significance test need a baseline and are dropped.
 * A metric with no value threshold is not gated on a first release.
 */
export function firstReleaseGate(config: GateConfig): GateConfig {
    return {
        thresholds: Object.fromEntries(
            Object.entries(config.thresholds)
                .filter(([, s]) => s.threshold !== undefined)
                .map(([m, s]) => [m, { threshold: s.threshold, greaterIsBetter: s.greaterIsBetter }]),
        ),
    };
}

/**
 * Tracks on which a release without a recorded baseline is a first release. A canary is always a
 * candidate against the stable release, so a canary without a baseline fails the change rules.
 */
export const FIRST_RELEASE_TRACKS: readonly string[] = ["stable", "blue", "green"];

/**
 * evaluateGate over a ModelRelease: its metrics against its recorded baseline. A release without a
 * baseline on a first-release track (stable, blue, green) is judged as a first release
 * (`firstReleaseGate`); anywhere else a missing baseline fails every change rule.
 */
export function evaluateRelease(release: ModelRelease, config: GateConfig = DEFAULT_GATE_CONFIG, track?: string): GateVerdict {
    const { candidate, baseline } = releaseSubjects(release);
    const first = !baseline && track !== undefined && FIRST_RELEASE_TRACKS.includes(track);
    // The verdict records the full configuration (not the first-release subset): it is what the
    // gating pack re-applies, with the same first-release rule.
    return { ...evaluateGate(candidate, baseline, first ? firstReleaseGate(config) : config), config };
}

/** Failure messages of a verdict, one per failed rule or test. */
export function verdictFailures(verdict: GateVerdict): string[] {
    const out = verdict.results.filter((r) => !r.passed).map((r) => r.message);
    if (verdict.significance && !verdict.significance.passed) {
        if (verdict.significance.skipped) out.push(`significance: ${verdict.significance.skipped}`);
        out.push(...verdict.significance.tests.filter((t) => !t.passed).map((t) => `significance: ${t.message}`));
    }
    return out;
}

function table(rows: string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** A plain-text verdict table for the CLI (and PR comments in a code block). */
export function formatVerdictTable(verdict: GateVerdict): string {
    const rows: string[][] = [["METRIC", "RULE", "CANDIDATE", "BASELINE", "REQUIRED", "RESULT"]];
    for (const r of verdict.results) {
        rows.push([r.metric, r.rule, fmt(r.candidate), fmt(r.baseline), r.required === undefined ? "-" : fmt(r.required), r.passed ? "pass" : "FAIL"]);
    }
    const parts = [table(rows)];
    const s = verdict.significance;
    if (s) {
        if (s.skipped) {
            parts.push(`significance (alpha ${s.alpha}): ${s.passed ? "skipped" : "FAIL"}: ${s.skipped}`);
        } else {
            const srows: string[][] = [["METRIC", "CANDIDATE (n)", "BASELINE (n)", "Z", "P (ONE-SIDED)", "RESULT"]];
            for (const t of s.tests) {
                srows.push([
                    t.metric,
                    `${fmt(t.candidate)} (${t.candidateSamples ?? "-"})`,
                    `${fmt(t.baseline)} (${t.baselineSamples ?? "-"})`,
                    t.z === undefined ? "-" : t.z.toFixed(3),
                    t.pValue === undefined ? "-" : t.pValue.toPrecision(3),
                    t.passed ? "pass" : "FAIL",
                ]);
            }
            parts.push(`significance (alpha ${s.alpha}):\n${table(srows)}`);
        }
    }
    const failures = verdictFailures(verdict);
    parts.push(verdict.passed ? "GATE PASSED" : `GATE FAILED (${failures.length} failure${failures.length === 1 ? "" : "s"}):\n- ${failures.join("\n- ")}`);
    return parts.join("\n\n");
}
