// The pure gate shared by the gating pack and `mlops gate`: MLflow MetricThreshold semantics,
// validation of threshold specs, the significance test, the verdict table, and the release
// annotations contract.
import * as assert from "node:assert/strict";
import {
    ANNOTATIONS,
    parseReleaseAnnotations,
    releaseAnnotations,
    ReleaseAnnotationError,
    ModelRelease,
} from "../../release-contract/annotations";
import {
    DEFAULT_GATE_CONFIG,
    erfc,
    evaluateGate,
    evaluateRelease,
    GateConfigError,
    MetricThreshold,
    normalCdf,
    twoProportionZTest,
    validateGateConfig,
    validateThresholds,
    formatVerdictTable,
    ZERO_BASELINE_MARGIN,
} from "../../release-contract/gate";

const gate = (spec: MetricThreshold, candidate: number | undefined, baseline: number | undefined, metric = "m") =>
    evaluateGate(
        { metrics: candidate === undefined ? {} : { [metric]: candidate } },
        baseline === undefined ? { metrics: {} } : { metrics: { [metric]: baseline } },
        { thresholds: { [metric]: spec } },
    );

function assertProblems(fn: () => unknown, expected: [string, RegExp][]): void {
    assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof GateConfigError, `GateConfigError expected, got ${String(e)}`);
        for (const [path, reason] of expected) {
            assert.ok(
                e.errors.some((x) => x.propertyPath === path && reason.test(x.reason)),
                `expected a problem at ${path} matching ${reason}; got ${JSON.stringify(e.errors)}`,
            );
            assert.ok(e.message.includes(path), `message names ${path}`);
        }
        assert.equal(e.errors.length, expected.length, `exactly the expected problems: ${JSON.stringify(e.errors)}`);
        return true;
    });
}

describe("gate: MLflow MetricThreshold semantics", () => {
    it("defaults to 'F1 must beat the baseline by at least 2% (relative)'", () => {
        assert.deepEqual(DEFAULT_GATE_CONFIG, { thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true } } });
    });

    describe("relative change", () => {
        const rel2 = { minRelativeChange: 0.02, greaterIsBetter: true };
        it("passes at exactly +2% (decimal-exact, no float drift)", () => {
            assert.equal(gate(rel2, 0.816, 0.8).passed, true);
            assert.equal(gate(rel2, 0.765, 0.75).passed, true);
            assert.equal(gate(rel2, 0.714, 0.7).passed, true);
        });
        it("fails just below +2%", () => {
            const v = gate(rel2, 0.8159999, 0.8);
            assert.equal(v.passed, false);
            assert.match(v.results[0].message, /m: candidate 0.8159999 vs baseline 0.8 is \+1.99999% better; needs >= 2% \(>= 0.816, minRelativeChange\)/);
        });
        it("lower is better: (baseline - candidate) / baseline", () => {
            const spec = { minRelativeChange: 0.1, greaterIsBetter: false };
            assert.equal(gate(spec, 0.45, 0.5).passed, true);
            assert.equal(gate(spec, 0.46, 0.5).passed, false);
            assert.equal(gate(spec, 0.55, 0.5).passed, false);
        });
        it("a negative baseline does not invert the rule (relative to |baseline|)", () => {
            const spec = { minRelativeChange: 0.1, greaterIsBetter: true };
            assert.equal(gate(spec, -1.8, -2).passed, true);
            assert.equal(gate(spec, -1.9, -2).passed, false);
            assert.equal(gate(spec, -2.1, -2).passed, false);
        });
        it("baseline 0 falls back to a tiny absolute margin", () => {
            assert.equal(gate(rel2, 0, 0).passed, false);
            assert.equal(gate(rel2, ZERO_BASELINE_MARGIN / 2, 0).passed, false);
            assert.equal(gate(rel2, 0.001, 0).passed, true);
            const lower = { minRelativeChange: 0.5, greaterIsBetter: false };
            assert.equal(gate(lower, 0, 0).passed, false);
            assert.equal(gate(lower, -0.01, 0).passed, true);
            assert.match(gate(rel2, 0, 0).results[0].message, /baseline is 0 so relative change is undefined/);
        });
        it("minRelativeChange 0 means 'no worse than the baseline'", () => {
            assert.equal(gate({ minRelativeChange: 0, greaterIsBetter: true }, 0.8, 0.8).passed, true);
            assert.equal(gate({ minRelativeChange: 0, greaterIsBetter: true }, 0.79, 0.8).passed, false);
        });
    });

    describe("absolute change", () => {
        it("greater is better: candidate >= baseline + abs, inclusive", () => {
            const spec = { minAbsoluteChange: 0.01, greaterIsBetter: true };
            assert.equal(gate(spec, 0.81, 0.8).passed, true);
            assert.equal(gate(spec, 0.8099, 0.8).passed, false);
        });
        it("lower is better: candidate <= baseline - abs, inclusive", () => {
            const spec = { minAbsoluteChange: 0.05, greaterIsBetter: false };
            assert.equal(gate(spec, 0.45, 0.5).passed, true);
            assert.equal(gate(spec, 0.4501, 0.5).passed, false);
            assert.equal(gate(spec, 0.45, 0.5).results[0].required, 0.45);
        });
    });

    describe("value threshold", () => {
        it("greater is better: v >= t (inclusive)", () => {
            assert.equal(gate({ threshold: 0.9, greaterIsBetter: true }, 0.9, undefined).passed, true);
            assert.equal(gate({ threshold: 0.9, greaterIsBetter: true }, 0.8999, undefined).passed, false);
        });
        it("lower is better: v <= t (inclusive)", () => {
            assert.equal(gate({ threshold: 0.2, greaterIsBetter: false }, 0.2, undefined).passed, true);
            assert.equal(gate({ threshold: 0.2, greaterIsBetter: false }, 0.2001, undefined).passed, false);
        });
        it("needs no baseline", () => {
            const v = evaluateGate({ metrics: { auc: 0.95 } }, undefined, { thresholds: { auc: { threshold: 0.9, greaterIsBetter: true } } });
            assert.equal(v.passed, true);
        });
    });

    describe("missing metrics", () => {
        it("a missing candidate metric fails every configured rule", () => {
            const v = gate({ threshold: 0.5, minRelativeChange: 0.02, greaterIsBetter: true }, undefined, 0.8, "f1");
            assert.equal(v.passed, false);
            assert.deepEqual(v.results.map((r) => [r.rule, r.passed]), [["threshold", false], ["minRelativeChange", false]]);
            assert.ok(v.results.every((r) => /f1: candidate value is missing/.test(r.message)));
        });
        it("a missing baseline metric fails change rules but not the value threshold", () => {
            const v = gate({ threshold: 0.5, minAbsoluteChange: 0.01, greaterIsBetter: true }, 0.9, undefined, "f1");
            assert.deepEqual(v.results.map((r) => [r.rule, r.passed]), [["threshold", true], ["minAbsoluteChange", false]]);
            assert.match(v.results[1].message, /f1: baseline value is missing \(needed by minAbsoluteChange\)/);
        });
        it("no baseline at all behaves as every baseline metric missing", () => {
            const v = evaluateGate({ metrics: { f1: 0.9 } }, undefined, DEFAULT_GATE_CONFIG);
            assert.equal(v.passed, false);
            assert.match(v.results[0].message, /baseline value is missing/);
        });
        it("NaN counts as missing", () => {
            assert.equal(gate({ threshold: 0, greaterIsBetter: true }, NaN, undefined).passed, false);
        });
    });

    it("reports every failure together, each naming metric, values and rule", () => {
        const v = evaluateGate(
            { metrics: { f1: 0.81, accuracy: 0.85, latency_ms: 140 } },
            { metrics: { f1: 0.8, accuracy: 0.9, latency_ms: 120 } },
            {
                thresholds: {
                    f1: { minRelativeChange: 0.02, greaterIsBetter: true },
                    accuracy: { threshold: 0.88, minAbsoluteChange: 0.001, greaterIsBetter: true },
                    latency_ms: { threshold: 150, minRelativeChange: 0, greaterIsBetter: false },
                    recall: { threshold: 0.5, greaterIsBetter: true },
                },
            },
        );
        assert.equal(v.passed, false);
        const failed = v.results.filter((r) => !r.passed);
        assert.deepEqual(failed.map((r) => `${r.metric}/${r.rule}`), [
            "f1/minRelativeChange",
            "accuracy/threshold",
            "accuracy/minAbsoluteChange",
            "latency_ms/minRelativeChange",
            "recall/threshold",
        ]);
        assert.deepEqual(v.results.filter((r) => r.passed).map((r) => `${r.metric}/${r.rule}`), ["latency_ms/threshold"]);
        assert.match(failed[1].message, /accuracy: candidate 0.85 must be >= 0.88 \(threshold\)/);
        assert.match(failed[3].message, /latency_ms: candidate 140 vs baseline 120 is -16.6667% lower; needs >= 0%/);
        assert.equal(failed[0].candidate, 0.81);
        assert.equal(failed[0].baseline, 0.8);
    });

    describe("threshold spec validation", () => {
        it("accepts the MLflow shapes", () => {
            assert.doesNotThrow(() => validateThresholds({ f1: { minRelativeChange: 0.02, greaterIsBetter: true }, loss: { threshold: 1, minAbsoluteChange: 0.1, greaterIsBetter: false } }));
        });
        it("names each bad property, all at once", () => {
            assertProblems(
                () =>
                    validateThresholds({
                        a: { greaterIsBetter: true },
                        b: { minAbsoluteChange: 0, greaterIsBetter: true },
                        c: { minRelativeChange: 1.5, greaterIsBetter: false },
                        d: { threshold: 0.5 },
                        e: { minRelChange: 0.02, threshold: 1, greaterIsBetter: true },
                        f: { threshold: "0.5", greaterIsBetter: true },
                        g: { minAbsoluteChange: -1, greaterIsBetter: true },
                    }),
                [
                    ["thresholds.a", /at least one of threshold, minAbsoluteChange, minRelativeChange/],
                    ["thresholds.b.minAbsoluteChange", /must be a number > 0, got 0/],
                    ["thresholds.c.minRelativeChange", /must be a number in \[0, 1\].*got 1.5/],
                    ["thresholds.d.greaterIsBetter", /is required/],
                    ["thresholds.e.minRelChange", /unknown property/],
                    ["thresholds.f.threshold", /must be a finite number/],
                    ["thresholds.g.minAbsoluteChange", /must be a number > 0, got -1/],
                ],
            );
        });
        it("requires at least one metric, and an object", () => {
            assertProblems(() => validateThresholds({}), [["thresholds", /at least one metric threshold/]]);
            assertProblems(() => validateThresholds([1]), [["thresholds", /must be an object/]]);
        });
        it("validates the whole gate config including significance", () => {
            assertProblems(
                () => validateGateConfig({ thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true } }, significance: { alpha: 1, metrics: "f1" }, extra: 1 }, "gate"),
                [
                    ["gate.extra", /unknown property/],
                    ["gate.significance.alpha", /in \(0, 1\)/],
                    ["gate.significance.metrics", /list of metric names/],
                ],
            );
            assert.doesNotThrow(() => validateGateConfig({ ...DEFAULT_GATE_CONFIG, significance: { alpha: 0.05 } }));
        });
    });
});

describe("gate: significance (one-sided two-proportion z-test)", () => {
    it("normal CDF matches reference values", () => {
        const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);
        close(normalCdf(0), 0.5);
        close(normalCdf(1.959963984540054), 0.975);
        close(normalCdf(-1.6448536269514722), 0.05);
        close(normalCdf(1), 0.8413447460685429);
        close(normalCdf(-3.5), 2.326290790355250e-4, 1e-15);
        close(erfc(3), 2.209049699858544e-5, 1e-16);
        close(erfc(6), 2.151973671249891e-17, 1e-28);
        close(erfc(-1), 1.8427007929497148);
    });

    it("computes the pooled z statistic", () => {
        // pooled p = .805, se = sqrt(.805 * .195 * 2/1000) = .0177186; z = .01 / se
        const { z, pValue } = twoProportionZTest(0.81, 1000, 0.8, 1000);
        assert.ok(Math.abs(z - 0.564378) < 1e-5, String(z));
        assert.ok(Math.abs(pValue - 0.286245) < 1e-5, String(pValue));
        const lower = twoProportionZTest(0.1, 5000, 0.12, 5000, false);
        assert.ok(lower.z > 3 && lower.pValue < 0.001);
    });

    const thresholds = DEFAULT_GATE_CONFIG.thresholds;
    it("passes a large, well-sampled improvement", () => {
        const v = evaluateGate({ metrics: { f1: 0.85 }, samples: 20000 }, { metrics: { f1: 0.8 }, samples: 20000 }, { thresholds, significance: { alpha: 0.05 } });
        assert.equal(v.passed, true);
        assert.equal(v.significance?.tests.length, 1);
        assert.ok(v.significance!.tests[0].pValue! < 1e-10);
    });

    it("fails an improvement that clears +2% but is within noise, and the verdict fails with it", () => {
        const v = evaluateGate({ metrics: { f1: 0.82 }, samples: 500 }, { metrics: { f1: 0.8 }, samples: 500 }, { thresholds, significance: { alpha: 0.05 } });
        assert.equal(v.results.every((r) => r.passed), true, "thresholds pass");
        assert.equal(v.significance?.passed, false);
        assert.equal(v.passed, false);
        assert.match(v.significance!.tests[0].message, /f1: 0.82 \(n=500\) vs 0.8 \(n=500\), z=0.\d+, one-sided p=0.\d+ > alpha 0.05/);
    });

    it("skips when sample counts are missing, unless required", () => {
        const skipped = evaluateGate({ metrics: { f1: 0.85 } }, { metrics: { f1: 0.8 }, samples: 100 }, { thresholds, significance: { alpha: 0.05 } });
        assert.equal(skipped.passed, true);
        assert.match(skipped.significance!.skipped!, /candidate evaluation sample count is missing/);
        const required = evaluateGate({ metrics: { f1: 0.85 } }, { metrics: { f1: 0.8 } }, { thresholds, significance: { alpha: 0.05, requireSamples: true } });
        assert.equal(required.passed, false);
        assert.match(required.significance!.skipped!, /candidate and baseline evaluation sample counts are missing \(required\)/);
    });

    it("rejects non-proportions", () => {
        const v = evaluateGate(
            { metrics: { rmse: 3 }, samples: 100 },
            { metrics: { rmse: 4 }, samples: 100 },
            { thresholds: { rmse: { minAbsoluteChange: 0.1, greaterIsBetter: false } }, significance: { alpha: 0.05 } },
        );
        assert.equal(v.results[0].passed, true);
        assert.equal(v.significance?.passed, false);
        assert.match(v.significance!.tests[0].message, /must be proportions/);
    });
});

describe("gate: verdict table", () => {
    it("lists every rule, significance and the outcome", () => {
        const v = evaluateGate(
            { metrics: { f1: 0.81, accuracy: 0.9 }, samples: 1000 },
            { metrics: { f1: 0.8, accuracy: 0.9 }, samples: 1000 },
            { thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true }, accuracy: { threshold: 0.85, greaterIsBetter: true } }, significance: { alpha: 0.05 } },
        );
        const t = formatVerdictTable(v);
        const lines = t.split("\n");
        assert.match(lines[0], /^METRIC\s+RULE\s+CANDIDATE\s+BASELINE\s+REQUIRED\s+RESULT$/);
        assert.match(lines[1], /^f1\s+minRelativeChange\s+0.81\s+0.8\s+0.816\s+FAIL$/);
        assert.match(lines[2], /^accuracy\s+threshold\s+0.9\s+0.9\s+0.85\s+pass$/);
        assert.match(t, /significance \(alpha 0.05\):/);
        assert.match(t, /GATE FAILED \(2 failures\):\n- f1: candidate 0.81/);
        assert.match(formatVerdictTable(evaluateGate({ metrics: { f1: 0.9 } }, { metrics: { f1: 0.8 } })), /GATE PASSED$/);
    });
});

describe("release annotations contract", () => {
    const release: ModelRelease = {
        model: "churn",
        version: "8",
        modelUri: "models:/churn/8",
        metrics: { f1: 0.816, accuracy: 0.9 },
        baseline: { version: "7", metrics: { f1: 0.8 }, samples: 5000 },
        evaluation: { samples: 5000 },
        approvedBy: "alice@example.com",
    };

    it("writes the documented keys", () => {
        const a = releaseAnnotations(release, "canary", { passed: true });
        assert.deepEqual(a, {
            "mlops.platform/model": "churn",
            "mlops.platform/version": "8",
            "mlops.platform/model-uri": "models:/churn/8",
            "mlops.platform/track": "canary",
            "mlops.platform/gate": "pass",
            "mlops.platform/metric.f1": "0.816",
            "mlops.platform/metric.accuracy": "0.9",
            "mlops.platform/evaluation-samples": "5000",
            "mlops.platform/baseline-version": "7",
            "mlops.platform/baseline-metric.f1": "0.8",
            "mlops.platform/baseline-evaluation-samples": "5000",
            "mlops.platform/approved-by": "alice@example.com",
        });
    });

    it("round-trips through parseReleaseAnnotations and the gate", () => {
        const parsed = parseReleaseAnnotations(releaseAnnotations(release, "blue", "none"))!;
        assert.deepEqual(parsed, { release, track: "blue", gate: "none", problems: [] });
        assert.equal(evaluateRelease(parsed.release).passed, true);
    });

    it("returns undefined for workloads without a release", () => {
        assert.equal(parseReleaseAnnotations({ "app.kubernetes.io/name": "x" }), undefined);
        assert.equal(parseReleaseAnnotations(undefined), undefined);
    });

    it("lists malformed values instead of throwing", () => {
        const p = parseReleaseAnnotations({
            [ANNOTATIONS.model]: "churn",
            [ANNOTATIONS.metricPrefix + "f1"]: "high",
            [ANNOTATIONS.baselineMetricPrefix + "f1"]: "0.8",
            [ANNOTATIONS.track]: "beta",
            [ANNOTATIONS.gate]: "yes",
            [ANNOTATIONS.evaluationSamples]: "12.5",
        })!;
        assert.deepEqual(p.problems, [
            "mlops.platform/version is missing",
            "mlops.platform/model-uri is missing",
            "mlops.platform/metric.f1='high' is not a number",
            "mlops.platform/evaluation-samples='12.5' is not a positive integer",
            "baseline metrics are present but mlops.platform/baseline-version is missing",
            "mlops.platform/track='beta' is not one of stable, canary, blue, green",
            "mlops.platform/gate='yes' is not one of pass, fail, none",
        ]);
        assert.equal(p.gate, "none");
    });

    it("refuses releases it cannot write, naming the property", () => {
        const bad = (r: Partial<ModelRelease>, path: string) =>
            assert.throws(() => releaseAnnotations({ ...release, ...r } as ModelRelease, "stable"), (e: any) => e instanceof ReleaseAnnotationError && e.propertyPath === path);
        bad({ metrics: { "f1/macro": 0.8 } }, "metrics.f1/macro");
        bad({ metrics: { f1: NaN } }, "metrics.f1");
        bad({ modelUri: "" }, "modelUri");
        bad({ evaluation: { samples: 0 } }, "evaluation.samples");
        bad({ baseline: { version: "", metrics: {} } }, "baseline.version");
        assert.throws(() => releaseAnnotations(release, "prod" as any), /track/);
    });
});
