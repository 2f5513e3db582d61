// The model gate, rule by rule (issue 13): what each configuration problem is called, what each
// rule decides and says, the significance test's bookkeeping, first releases, and the verdict table.
import * as assert from "node:assert/strict";
import {
    erfc,
    evaluateGate,
    evaluateMetric,
    evaluateRelease,
    evaluateSignificance,
    firstReleaseGate,
    formatVerdictTable,
    GateConfigError,
    normalCdf,
    twoProportionZTest,
    validateGateConfig,
    validateThresholds,
    verdictFailures,
} from "../../release-contract/gate";

const F1 = { f1: { minRelativeChange: 0.02, greaterIsBetter: true } };

/** The problems of a gate config as `path: reason`. */
function problems(raw: unknown, path?: string): string[] {
    try {
        validateGateConfig(raw, path);
    } catch (e: any) {
        assert.ok(e instanceof GateConfigError);
        assert.equal(e.name, "GateConfigError");
        assert.equal(e.message, `invalid gate configuration: ${e.errors.map((x: any) => `${x.propertyPath}: ${x.reason}`).join("; ")}`);
        return e.errors.map((x: any) => `${x.propertyPath}: ${x.reason}`);
    }
    assert.fail(`accepted ${JSON.stringify(raw)}`);
}

describe("gate rules", () => {
    describe("configuration problems, each named", () => {
        it("the whole config", () => {
            assert.deepEqual(problems("strict"), ["(root): must be an object { thresholds, significance? }"]);
            assert.deepEqual(problems([], "serving.gate"), ["serving.gate: must be an object { thresholds, significance? }"]);
            assert.deepEqual(problems({ thresholds: F1, gates: 1 }), ["gates: unknown property; expected thresholds, significance"]);
            assert.deepEqual(problems({ thresholds: F1, gates: 1 }, "g"), ["g.gates: unknown property; expected thresholds, significance"]);
            assert.deepEqual(problems({}), ["thresholds: must be an object mapping metric names to thresholds"]);
            assert.deepEqual(problems({ thresholds: {} }, "g"), ["g.thresholds: at least one metric threshold is required"]);
            // Every problem at once, in one message.
            assert.deepEqual(problems({ thresholds: {}, gates: 1, significance: [] }), [
                "gates: unknown property; expected thresholds, significance",
                "thresholds: at least one metric threshold is required",
                "significance: must be an object { alpha, metrics?, requireSamples? }",
            ]);
        });

        it("each metric's rules", () => {
            const t = (spec: unknown) => problems({ thresholds: { f1: spec } });
            assert.deepEqual(t(0.8), ["thresholds.f1: must be an object { threshold?, minAbsoluteChange?, minRelativeChange?, greaterIsBetter }"]);
            assert.deepEqual(t(null), ["thresholds.f1: must be an object { threshold?, minAbsoluteChange?, minRelativeChange?, greaterIsBetter }"]);
            assert.deepEqual(t({ threshold: 0.8, greaterIsBetter: true, min: 1 }), ["thresholds.f1.min: unknown property; expected one of threshold, minAbsoluteChange, minRelativeChange, greaterIsBetter"]);
            assert.deepEqual(t({ threshold: 0.8 }), ["thresholds.f1.greaterIsBetter: is required and must be true or false"]);
            assert.deepEqual(t({ greaterIsBetter: true }), ["thresholds.f1: needs at least one of threshold, minAbsoluteChange, minRelativeChange"]);
            assert.deepEqual(t({ threshold: "0.8", greaterIsBetter: true }), ['thresholds.f1.threshold: must be a finite number, got "0.8"']);
            for (const v of [0, -0.01, "0.01"]) {
                assert.deepEqual(t({ minAbsoluteChange: v, greaterIsBetter: true }), [`thresholds.f1.minAbsoluteChange: must be a number > 0, got ${JSON.stringify(v)}`]);
            }
            for (const v of [-0.01, 1.5, "2%", "0.5"]) {
                assert.deepEqual(t({ minRelativeChange: v, greaterIsBetter: true }), [`thresholds.f1.minRelativeChange: must be a number in [0, 1] (0.02 = 2%), got ${JSON.stringify(v)}`]);
            }
            for (const v of [0, 1]) assert.doesNotThrow(() => validateGateConfig({ thresholds: { f1: { minRelativeChange: v, greaterIsBetter: false } } }));
            assert.doesNotThrow(() => validateGateConfig({ thresholds: { loss: { threshold: -3, minAbsoluteChange: 1e-9, greaterIsBetter: false } } }));
        });

        it("validateThresholds alone, under its own path", () => {
            assert.equal(validateThresholds(F1), F1);
            assert.throws(() => validateThresholds({ f1: {} }), /^GateConfigError: invalid gate configuration: thresholds\.f1\.greaterIsBetter: is required/);
            assert.throws(() => validateThresholds(5, "serving.thresholds"), /serving\.thresholds: must be an object mapping metric names to thresholds/);
        });

        it("the significance block", () => {
            const s = (sig: unknown) => problems({ thresholds: F1, significance: sig });
            assert.deepEqual(s([]), ["significance: must be an object { alpha, metrics?, requireSamples? }"]);
            assert.deepEqual(s({}), ["significance.alpha: must be a number in (0, 1), got undefined"]);
            assert.deepEqual(s({ alpha: "0.05" }), ['significance.alpha: must be a number in (0, 1), got "0.05"']);
            assert.deepEqual(s({ alpha: 0.05, level: 1 }), ["significance.level: unknown property; expected alpha, metrics, requireSamples"]);
            for (const m of ["f1", [""], [1], ["f1", null]]) assert.deepEqual(s({ alpha: 0.05, metrics: m }), ["significance.metrics: must be a list of metric names"]);
            assert.deepEqual(s({ alpha: 0.05, requireSamples: "yes" }), ["significance.requireSamples: must be true or false"]);
            assert.doesNotThrow(() => validateGateConfig({ thresholds: F1, significance: { alpha: 0.01, metrics: ["f1", "accuracy"], requireSamples: false } }));
        });
    });

    describe("each rule decides and says", () => {
        it("threshold, both directions, exactly at the bound", () => {
            assert.deepEqual(evaluateMetric("f1", { threshold: 0.8, greaterIsBetter: true }, 0.8, undefined), [
                { metric: "f1", candidate: 0.8, baseline: undefined, rule: "threshold", required: 0.8, passed: true, message: "f1: candidate 0.8 must be >= 0.8 (threshold)" },
            ]);
            const lat = evaluateMetric("p99", { threshold: 120, greaterIsBetter: false }, 120.5, 100);
            assert.deepEqual(lat.map((r) => [r.passed, r.message]), [[false, "p99: candidate 120.5 must be <= 120 (threshold)"]]);
            assert.deepEqual(evaluateMetric("f1", { threshold: 0.8, greaterIsBetter: true }, undefined, 0.7).map((r) => [r.passed, r.message, r.required]), [
                [false, "f1: candidate value is missing", 0.8],
            ]);
        });

        it("numbers in exponent notation compare exactly (tiny and huge values)", () => {
            const gte = (c: number, t: number) => evaluateMetric("m", { threshold: t, greaterIsBetter: true }, c, undefined)[0].passed;
            assert.equal(gte(2e-7, 1e-7), true);
            assert.equal(gte(1e-7, 2e-7), false);
            assert.equal(gte(2e21, 1e21), true);
            assert.equal(gte(5e20, 1e21), false);
            assert.equal(gte(1e21, 1e21), true);
            assert.equal(gte(-1e21, 1e20), false);
            assert.equal(gte(-1, -2), true);
        });

        it("minAbsoluteChange: improve (or decrease) by at least the amount, exactly", () => {
            assert.deepEqual(evaluateMetric("f1", { minAbsoluteChange: 0.05, greaterIsBetter: true }, 0.85, 0.8), [
                { metric: "f1", candidate: 0.85, baseline: 0.8, rule: "minAbsoluteChange", required: 0.85, passed: true, message: "f1: candidate 0.85 vs baseline 0.8 must improve by >= 0.05 (needs >= 0.85, minAbsoluteChange)" },
            ]);
            const loss = evaluateMetric("loss", { minAbsoluteChange: 0.1, greaterIsBetter: false }, 0.45, 0.5)[0];
            assert.equal(loss.passed, false);
            assert.equal(loss.required, 0.4);
            assert.equal(loss.message, "loss: candidate 0.45 vs baseline 0.5 must decrease by >= 0.1 (needs <= 0.4, minAbsoluteChange)");
            assert.deepEqual(evaluateMetric("f1", { minAbsoluteChange: 0.05, greaterIsBetter: true }, 0.9, undefined).map((r) => [r.passed, r.message]), [
                [false, "f1: baseline value is missing (needed by minAbsoluteChange)"],
            ]);
            assert.deepEqual(evaluateMetric("f1", { minAbsoluteChange: 0.05, greaterIsBetter: true }, undefined, 0.8).map((r) => r.message), ["f1: candidate value is missing"]);
        });

        it("minRelativeChange: relative to |baseline|, with the shortfall shown", () => {
            const r = evaluateMetric("f1", { minRelativeChange: 0.02, greaterIsBetter: true }, 0.816, 0.8)[0];
            assert.deepEqual([r.passed, r.required, r.message], [true, 0.816, "f1: candidate 0.816 vs baseline 0.8 is +2% better; needs >= 2% (>= 0.816, minRelativeChange)"]);
            const worse = evaluateMetric("f1", { minRelativeChange: 0.02, greaterIsBetter: true }, 0.7, 0.8)[0];
            assert.equal(worse.message, "f1: candidate 0.7 vs baseline 0.8 is -12.5% better; needs >= 2% (>= 0.816, minRelativeChange)");
            assert.equal(evaluateMetric("f1", { minRelativeChange: 0, greaterIsBetter: true }, 0.8, 0.8)[0].message, "f1: candidate 0.8 vs baseline 0.8 is +0% better; needs >= 0% (>= 0.8, minRelativeChange)");
            const lower = evaluateMetric("err", { minRelativeChange: 0.1, greaterIsBetter: false }, 0.18, 0.2)[0];
            assert.deepEqual([lower.passed, lower.required, lower.message], [true, 0.18, "err: candidate 0.18 vs baseline 0.2 is +10% lower; needs >= 10% (<= 0.18, minRelativeChange)"]);
            // A negative baseline must not invert the rule: -0.9 is a 10% improvement on -1.
            const neg = evaluateMetric("score", { minRelativeChange: 0.1, greaterIsBetter: true }, -0.9, -1)[0];
            assert.deepEqual([neg.passed, neg.required], [true, -0.9]);
            assert.equal(evaluateMetric("score", { minRelativeChange: 0.1, greaterIsBetter: true }, -0.95, -1)[0].passed, false);
        });

        it("minRelativeChange with a baseline of 0: strictly better than 0", () => {
            const up = evaluateMetric("gain", { minRelativeChange: 0.02, greaterIsBetter: true }, 0.001, 0)[0];
            assert.deepEqual([up.passed, up.required, up.message], [
                true,
                1e-12,
                "gain: baseline is 0 so relative change is undefined; candidate 0.001 must be strictly above 0 (by >= 1e-12, minRelativeChange)",
            ]);
            const down = evaluateMetric("err", { minRelativeChange: 0.02, greaterIsBetter: false }, 0, 0)[0];
            assert.deepEqual([down.passed, down.required, down.message], [
                false,
                -1e-12,
                "err: baseline is 0 so relative change is undefined; candidate 0 must be strictly below 0 (by >= 1e-12, minRelativeChange)",
            ]);
        });

        it("a metric that is not a finite number counts as missing (NaN, Infinity, a string)", () => {
            for (const bad of [NaN, Infinity, "0.9"]) {
                const v = evaluateGate({ metrics: { f1: bad as number } }, { metrics: { f1: 0.8 } }, { thresholds: F1 });
                assert.deepEqual(verdictFailures(v), ["f1: candidate value is missing"], String(bad));
                const b = evaluateGate({ metrics: { f1: 0.9 } }, { metrics: { f1: bad as number } }, { thresholds: F1 });
                assert.deepEqual(verdictFailures(b), ["f1: baseline value is missing (needed by minRelativeChange)"], String(bad));
                const sig = evaluateSignificance({ metrics: { f1: bad as number }, samples: 100 }, { metrics: { f1: 0.8 }, samples: 100 }, F1, { alpha: 0.05 });
                assert.equal(sig.tests[0].message, "f1: candidate value is missing");
            }
        });

        it("every configured rule yields a result, in order threshold, absolute, relative", () => {
            const all = evaluateMetric("f1", { threshold: 0.8, minAbsoluteChange: 0.01, minRelativeChange: 0.01, greaterIsBetter: true }, 0.9, 0.8);
            assert.deepEqual(all.map((r) => [r.rule, r.passed]), [["threshold", true], ["minAbsoluteChange", true], ["minRelativeChange", true]]);
        });
    });

    describe("significance bookkeeping", () => {
        const cfg = { alpha: 0.05 };
        it("says which sample counts are missing; skips unless they are required", () => {
            const m = { metrics: { f1: 0.9 } };
            assert.deepEqual(evaluateSignificance(m, { metrics: { f1: 0.8 } }, F1, cfg), { alpha: 0.05, passed: true, tests: [], skipped: "candidate and baseline evaluation sample counts are missing" });
            assert.deepEqual(evaluateSignificance({ ...m, samples: 100 }, undefined, F1, { ...cfg, requireSamples: true }), {
                alpha: 0.05,
                passed: false,
                tests: [],
                skipped: "baseline evaluation sample count is missing (required)",
            });
            assert.equal(evaluateSignificance(m, { metrics: { f1: 0.8 }, samples: 100 }, F1, cfg).skipped, "candidate evaluation sample count is missing");
            assert.equal(evaluateSignificance({ ...m, samples: -5 }, { metrics: { f1: 0.8 }, samples: 100 }, F1, cfg).skipped, "candidate evaluation sample count is missing");
            assert.equal(evaluateSignificance({ ...m, samples: "100" as unknown as number }, { metrics: { f1: 0.8 }, samples: 100 }, F1, cfg).skipped, "candidate evaluation sample count is missing");
        });

        it("tests the metrics with change rules by default (a value threshold alone is not a comparison)", () => {
            const thresholds = { f1: { minRelativeChange: 0.02, greaterIsBetter: true }, auc: { minAbsoluteChange: 0.01, greaterIsBetter: true }, acc: { threshold: 0.5, greaterIsBetter: true } };
            const r = evaluateSignificance({ metrics: { f1: 0.9, auc: 0.9, acc: 0.9 }, samples: 1000 }, { metrics: { f1: 0.8, auc: 0.8, acc: 0.8 }, samples: 1000 }, thresholds, cfg);
            assert.deepEqual(r.tests.map((t) => t.metric), ["f1", "auc"]);
        });

        it("a metric missing on either side fails, naming the side", () => {
            const r = evaluateSignificance({ metrics: { f1: 0.9 }, samples: 100 }, { metrics: { acc: 0.8 }, samples: 100 }, {}, { alpha: 0.05, metrics: ["f1", "acc"] });
            assert.deepEqual(r.tests.map((t) => [t.metric, t.passed, t.message]), [
                ["f1", false, "f1: baseline value is missing"],
                ["acc", false, "acc: candidate value is missing"],
            ]);
            assert.equal(r.passed, false);
        });

        it("proportions of exactly 0 and 1 are valid (a perfect score is a proportion)", () => {
            const perfect = evaluateSignificance({ metrics: { acc: 1 }, samples: 1000 }, { metrics: { acc: 0.9 }, samples: 1000 }, {}, { alpha: 0.05, metrics: ["acc"] });
            assert.equal(perfect.passed, true);
            const none = evaluateSignificance({ metrics: { err: 0 }, samples: 1000 }, { metrics: { err: 0.1 }, samples: 1000 }, { err: { threshold: 0.2, greaterIsBetter: false } }, { alpha: 0.05, metrics: ["err"] });
            assert.equal(none.passed, true);
            const same = evaluateSignificance({ metrics: { acc: 1 }, samples: 100 }, { metrics: { acc: 1 }, samples: 100 }, {}, { alpha: 0.05, metrics: ["acc"] });
            assert.deepEqual([same.tests[0].pValue, same.tests[0].passed], [0.5, false]);
            const zero = evaluateSignificance({ metrics: { acc: 0 }, samples: 100 }, { metrics: { acc: 0 }, samples: 100 }, {}, { alpha: 0.05, metrics: ["acc"] });
            assert.deepEqual([zero.tests[0].pValue, zero.tests[0].passed], [0.5, false]);
        });

        it("only the failed tests are listed as failures", () => {
            const v = evaluateGate(
                { metrics: { f1: 0.9, acc: 0.801 }, samples: 10000 },
                { metrics: { f1: 0.8, acc: 0.8 }, samples: 10000 },
                { thresholds: { f1: { threshold: 0.5, greaterIsBetter: true } }, significance: { alpha: 0.05, metrics: ["f1", "acc"] } },
            );
            assert.deepEqual(verdictFailures(v), [`significance: ${v.significance!.tests[1].message}`]);
        });

        it("reports z, the one-sided p-value and the comparison with alpha", () => {
            const r = evaluateSignificance({ metrics: { f1: 0.9 }, samples: 1000 }, { metrics: { f1: 0.8 }, samples: 1000 }, F1, cfg);
            const t = r.tests[0];
            assert.equal(t.passed, true);
            assert.equal(t.candidateSamples, 1000);
            assert.equal(t.baselineSamples, 1000);
            assert.match(t.message, /^f1: 0\.9 \(n=1000\) vs 0\.8 \(n=1000\), z=6\.\d{3}, one-sided p=\d\.\d\de-\d+ <= alpha 0\.05$/);
            const weak = evaluateSignificance({ metrics: { f1: 0.81 }, samples: 100 }, { metrics: { f1: 0.8 }, samples: 100 }, F1, cfg).tests[0];
            assert.equal(weak.passed, false);
            assert.match(weak.message, /, one-sided p=0\.\d{3} > alpha 0\.05$/);
        });

        it("the z-test and the normal CDF", () => {
            const { z, pValue } = twoProportionZTest(0.55, 1000, 0.5, 1000);
            assert.ok(Math.abs(z - 2.2396) < 1e-3, String(z));
            assert.ok(Math.abs(pValue - 0.01256) < 1e-4, String(pValue));
            assert.ok(Math.abs(normalCdf(1.959963984540054) - 0.975) < 1e-12);
            assert.equal(normalCdf(0), 0.5);
        });

        it("erfc is accurate on both sides of the series/continued-fraction switch and in the tails", () => {
            // Reference values: Python's math.erfc. Absolute error below 5e-14 (what a p-value needs), relative in the tails.
            const close = (x: number, want: number) => assert.ok(Math.abs(erfc(x) - want) < 5e-14, `erfc(${x}) = ${erfc(x)}, want ${want}`);
            close(0, 1);
            close(0.5, 0.4795001221869535);
            close(1, 0.15729920705028513);
            close(2.9, 4.109787809945886e-5);
            close(-1, 1.842700792949715);
            const rel = (x: number, want: number) => assert.ok(Math.abs(erfc(x) / want - 1) < 1e-10, `erfc(${x}) = ${erfc(x)}, want ${want}`);
            rel(3, 2.2090496998585438e-5);
            rel(5, 1.5374597944280349e-12);
            rel(10, 2.088487583762545e-45);
            rel(26, 5.663192408856143e-296);
            assert.equal(erfc(28), 0);
            assert.ok(Number.isNaN(erfc(NaN)));
        });
    });

    describe("first releases", () => {
        it("keep only the value thresholds, without the change rules or the significance test", () => {
            const full = {
                thresholds: { f1: { threshold: 0.7, minRelativeChange: 0.02, greaterIsBetter: true }, auc: { minAbsoluteChange: 0.01, greaterIsBetter: true } },
                significance: { alpha: 0.05 },
            };
            assert.deepEqual(firstReleaseGate(full), { thresholds: { f1: { threshold: 0.7, greaterIsBetter: true } } });
        });

        it("apply on stable, blue and green only; the verdict records the full configuration", () => {
            const config = { thresholds: { f1: { threshold: 0.7, minRelativeChange: 0.02, greaterIsBetter: true } } };
            const release = { model: "m", version: "1", modelUri: "models:/m/1", metrics: { f1: 0.75 } };
            for (const track of ["stable", "blue", "green"]) {
                const v = evaluateRelease(release, config, track);
                assert.equal(v.passed, true, track);
                assert.deepEqual(v.results.map((r) => r.rule), ["threshold"]);
                assert.equal(v.config, config);
            }
            for (const track of ["canary", undefined]) {
                const v = evaluateRelease(release, config, track);
                assert.equal(v.passed, false, String(track));
                assert.deepEqual(verdictFailures(v), ["f1: baseline value is missing (needed by minRelativeChange)"]);
            }
            const withBaseline = evaluateRelease({ ...release, baseline: { version: "0", metrics: { f1: 0.74 } } }, config, "stable");
            assert.deepEqual(withBaseline.results.map((r) => [r.rule, r.passed]), [["threshold", true], ["minRelativeChange", false]]);
        });
    });

    describe("the verdict table", () => {
        it("a passing gate with a significance test", () => {
            const v = evaluateGate({ metrics: { f1: 0.9 }, samples: 1000 }, { metrics: { f1: 0.8 }, samples: 1000 }, { thresholds: F1, significance: { alpha: 0.05 } });
            const t = v.significance!.tests[0];
            assert.equal(
                formatVerdictTable(v),
                [
                    "METRIC  RULE               CANDIDATE  BASELINE  REQUIRED  RESULT",
                    "f1      minRelativeChange  0.9        0.8       0.816     pass",
                    "",
                    "significance (alpha 0.05):",
                    "METRIC  CANDIDATE (n)  BASELINE (n)  Z      P (ONE-SIDED)  RESULT",
                    `f1      0.9 (1000)     0.8 (1000)    ${t.z!.toFixed(3)}  ${t.pValue!.toPrecision(3).padEnd(13)}  pass`,
                    "",
                    "GATE PASSED",
                ].join("\n"),
            );
        });

        it("a failing gate: missing values, a failed test, one line per failure", () => {
            const v = evaluateGate(
                { metrics: { f1: 0.81 }, samples: 100 },
                { metrics: { f1: 0.8, acc: 0.9 }, samples: 100 },
                { thresholds: { ...F1, acc: { threshold: 0.85, greaterIsBetter: true } }, significance: { alpha: 0.05, metrics: ["f1", "acc"] } },
            );
            const p = v.significance!.tests[0].pValue!.toPrecision(3);
            assert.equal(
                formatVerdictTable(v),
                [
                    "METRIC  RULE               CANDIDATE  BASELINE  REQUIRED  RESULT",
                    "f1      minRelativeChange  0.81       0.8       0.816     FAIL",
                    "acc     threshold          missing    0.9       0.85      FAIL",
                    "",
                    "significance (alpha 0.05):",
                    "METRIC  CANDIDATE (n)  BASELINE (n)  Z      P (ONE-SIDED)  RESULT",
                    `f1      0.81 (100)     0.8 (100)     ${v.significance!.tests[0].z!.toFixed(3)}  ${p.padEnd(13)}  FAIL`,
                    "acc     missing (100)  0.9 (100)     -      -              FAIL",
                    "",
                    "GATE FAILED (4 failures):",
                    "- f1: candidate 0.81 vs baseline 0.8 is +1.25% better; needs >= 2% (>= 0.816, minRelativeChange)",
                    "- acc: candidate value is missing",
                    `- significance: ${v.significance!.tests[0].message}`,
                    "- significance: acc: candidate value is missing",
                ].join("\n"),
            );
        });

        it("a rule without a computable requirement shows - in REQUIRED", () => {
            const v = evaluateGate({ metrics: { f1: 0.9 } }, undefined, { thresholds: F1 });
            assert.equal(
                formatVerdictTable(v),
                [
                    "METRIC  RULE               CANDIDATE  BASELINE  REQUIRED  RESULT",
                    "f1      minRelativeChange  0.9        missing   -         FAIL",
                    "",
                    "GATE FAILED (1 failure):",
                    "- f1: baseline value is missing (needed by minRelativeChange)",
                ].join("\n"),
            );
        });

        it("a skipped test says skipped (or FAIL when samples are required); one failure is singular", () => {
            const skipped = evaluateGate({ metrics: { f1: 0.9 } }, { metrics: { f1: 0.8 } }, { thresholds: F1, significance: { alpha: 0.05 } });
            assert.match(formatVerdictTable(skipped), /\n\nsignificance \(alpha 0\.05\): skipped: candidate and baseline evaluation sample counts are missing\n\nGATE PASSED$/);
            const required = evaluateGate({ metrics: { f1: 0.9 } }, { metrics: { f1: 0.8 } }, { thresholds: F1, significance: { alpha: 0.05, requireSamples: true } });
            assert.match(
                formatVerdictTable(required),
                /\n\nsignificance \(alpha 0\.05\): FAIL: candidate and baseline evaluation sample counts are missing \(required\)\n\nGATE FAILED \(1 failure\):\n- significance: candidate and baseline evaluation sample counts are missing \(required\)$/,
            );
            assert.deepEqual(verdictFailures(skipped), []);
        });
    });
});
