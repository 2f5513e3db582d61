// Behaviour of the release rules that the mutation run of issue 13 found untested: each case fails
// on the listed mutant (a user-visible weakening of the gate or of the serving config parse).
import * as assert from "node:assert/strict";
import { planRelease } from "../../cli/release";
import { parseServingConfig } from "../../components/servingConfig";
import { evaluateSignificance, GateConfigError, twoProportionZTest, validateGateConfig } from "../../release-contract/gate";
import { significanceRule } from "../../release-contract/rules";
import { parseReleaseAnnotations, releaseAnnotations } from "../../release-contract/annotations";

const release = (over: Record<string, unknown> = {}) => ({ model: "m", version: "2", modelUri: "models:/m/2", metrics: { f1: 0.8 }, ...over });

describe("release rules: strength (issue 13, mutation survivors)", () => {
    describe("significance test", () => {
        const big = { metrics: { f1: 0.9, accuracy: 0.801 }, samples: 10_000 };
        const base = { metrics: { f1: 0.8, accuracy: 0.8 }, samples: 10_000 };

        it("requires every tested metric to be significant, not any", () => {
            const r = evaluateSignificance(big, base, {}, { alpha: 0.05, metrics: ["f1", "accuracy"] });
            assert.deepEqual(r.tests.map((t) => t.passed), [true, false]);
            assert.equal(r.passed, false);
        });

        it("tests lower-is-better metrics in their direction", () => {
            const lower = { greaterIsBetter: false };
            const better = evaluateSignificance({ metrics: { err: 0.1 }, samples: 5000 }, { metrics: { err: 0.2 }, samples: 5000 }, { err: lower }, { alpha: 0.05, metrics: ["err"] });
            const worse = evaluateSignificance({ metrics: { err: 0.2 }, samples: 5000 }, { metrics: { err: 0.1 }, samples: 5000 }, { err: lower }, { alpha: 0.05, metrics: ["err"] });
            assert.equal(better.passed, true);
            assert.equal(worse.passed, false);
            const parsed = parseReleaseAnnotations(
                releaseAnnotations({ ...release({ metrics: { err: 0.2 } }), evaluation: { samples: 5000 }, baseline: { version: "1", metrics: { err: 0.1 }, samples: 5000 } }, "canary"),
            )!;
            assert.match(significanceRule(parsed, { alpha: 0.05, metrics: ["err"], lowerIsBetter: ["err"], requireSamples: false })[0], /not significant/);
            assert.deepEqual(significanceRule(parsed, { alpha: 0.05, metrics: ["err"], lowerIsBetter: [], requireSamples: false }), []);
        });

        it("records the gate thresholds the same whatever the key order of the stack file (engine and offline plan agree)", () => {
            const a = releaseAnnotations(release({ metrics: { f1: 0.9 } }), "canary", { passed: true, config: { thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true } } } });
            const b = releaseAnnotations(release({ metrics: { f1: 0.9 } }), "canary", { passed: true, config: { thresholds: { f1: { greaterIsBetter: true, minRelativeChange: 0.02 } } } });
            assert.equal(a["mlops.platform/gate-thresholds"], b["mlops.platform/gate-thresholds"]);
            assert.equal(a["mlops.platform/gate-thresholds"], '{"f1":{"greaterIsBetter":true,"minRelativeChange":0.02}}');
        });

        it("does not accept a sample count of 0 as a count", () => {
            const r = evaluateSignificance({ ...big, samples: 0 }, base, {}, { alpha: 0.05, metrics: ["f1"], requireSamples: true });
            assert.equal(r.passed, false);
            assert.match(r.skipped!, /candidate evaluation sample count is missing \(required\)/);
        });
    });

    describe("gate configuration", () => {
        const invalid = (raw: unknown, path: RegExp) =>
            assert.throws(() => validateGateConfig(raw), (e: any) => e instanceof GateConfigError && e.errors.some((x) => path.test(x.propertyPath)));
        const thresholds = { f1: { minRelativeChange: 0.02, greaterIsBetter: true } };

        it("rejects unknown keys in significance (a typo like requireSample)", () => invalid({ thresholds, significance: { alpha: 0.05, requireSample: true } }, /^significance\.requireSample$/));
        it("rejects alpha <= 0 and >= 1", () => {
            invalid({ thresholds, significance: { alpha: 0 } }, /^significance\.alpha$/);
            invalid({ thresholds, significance: { alpha: -0.1 } }, /^significance\.alpha$/);
            invalid({ thresholds, significance: { alpha: 1 } }, /^significance\.alpha$/);
        });
        it("rejects non-finite thresholds", () => {
            invalid({ thresholds: { f1: { threshold: Infinity, greaterIsBetter: true } } }, /^thresholds\.f1\.threshold$/);
            invalid({ thresholds: { f1: { minAbsoluteChange: Infinity, greaterIsBetter: true } } }, /^thresholds\.f1\.minAbsoluteChange$/);
            invalid({ thresholds: { f1: { minRelativeChange: NaN, greaterIsBetter: true } } }, /^thresholds\.f1\.minRelativeChange$/);
        });
    });

    describe("serving config parse", () => {
        const canary = { stable: release({ version: "1", modelUri: "models:/m/1" }), canaryWeight: 0 };

        it("carries the significance block to the gate", () => {
            const cfg = parseServingConfig({ strategy: "canary", canary, significance: { alpha: 0.01, metrics: ["f1"], requireSamples: true } });
            assert.deepEqual(cfg.gate.significance, { alpha: 0.01, metrics: ["f1"], requireSamples: true });
        });

        it("parses autoscaling (the HPA depends on it)", () => {
            const cfg = parseServingConfig({ strategy: "canary", canary, replicas: 2, autoscaling: { maxReplicas: 6 } });
            assert.deepEqual(cfg.autoscaling, { maxReplicas: 6, targetCpuUtilization: 70 });
            assert.equal(parseServingConfig({ strategy: "canary", canary, autoscaling: false }).autoscaling, undefined);
        });

        it("a YAML-null active slot or canary is not a live release", () => {
            assert.throws(() => parseServingConfig({ strategy: "blueGreen", blueGreen: { active: "blue", slots: { blue: null, green: release() } } }), /blueGreen\.active: slot 'blue' holds no release/);
            assert.throws(() => parseServingConfig({ strategy: "canary", canary: { ...canary, canary: null, canaryWeight: 10 } }), /canaryWeight: is 10 but there is no canary release/);
        });

        it("rejects a negative canary weight", () => {
            assert.throws(() => parseServingConfig({ strategy: "canary", canary: { ...canary, canary: release(), canaryWeight: -5 } }), /canary\.canaryWeight: must be an integer percentage from 0 to 100, got -5/);
        });
    });

    describe("gate configuration and significance (second mutation run)", () => {
        it("accepts every valid combination of rules, each key optional but greaterIsBetter", () => {
            const valid = {
                thresholds: {
                    f1: { minRelativeChange: 0.02, greaterIsBetter: true },
                    auc: { minAbsoluteChange: 0.01, greaterIsBetter: true },
                    latency: { threshold: 120, greaterIsBetter: false },
                },
                significance: { alpha: 0.05 },
            };
            assert.equal(validateGateConfig(valid), valid);
        });

        it("rejects a significance block that is not an object", () => {
            assert.throws(() => validateGateConfig({ thresholds: { f1: { threshold: 0.8, greaterIsBetter: true } }, significance: "strict" }), /significance: must be an object \{ alpha, metrics\?, requireSamples\? \}/);
        });

        it("two identical proportions at 0 or 1 are no evidence (p = 0.5, not NaN)", () => {
            assert.deepEqual(twoProportionZTest(1, 100, 1, 100), { z: 0, pValue: 0.5 });
            assert.deepEqual(twoProportionZTest(0, 100, 0, 100), { z: 0, pValue: 0.5 });
        });

        it("does not accept a fractional sample count as a count", () => {
            const r = evaluateSignificance({ metrics: { f1: 0.9 }, samples: 100.5 }, { metrics: { f1: 0.8 }, samples: 100 }, {}, { alpha: 0.05, metrics: ["f1"], requireSamples: true });
            assert.equal(r.passed, false);
            assert.equal(r.skipped, "candidate evaluation sample count is missing (required)");
        });

        it("fails metrics that are not proportions in [0, 1], on either side", () => {
            const n = 1000;
            for (const [c, b] of [[1.2, 0.5], [-0.1, 0.5], [0.6, -0.2], [0.6, 1.5]]) {
                const r = evaluateSignificance({ metrics: { f1: c }, samples: n }, { metrics: { f1: b }, samples: n }, {}, { alpha: 0.05, metrics: ["f1"] });
                assert.equal(r.passed, false, `${c} vs ${b}`);
                assert.equal(r.tests[0].message, "f1: values must be proportions in [0, 1] for a z-test");
            }
        });
    });

    describe("release switch (second mutation run)", () => {
        const blueGreen = `config:
  mlops-platform:serving:
    strategy: blueGreen
    blueGreen:
      active: blue
      slots:
        blue: { model: m, version: "1", modelUri: "models:/m/1", metrics: { f1: 0.8 } }
        green: { model: m, version: "2", modelUri: "models:/m/2", metrics: { f1: 0.9 }, baseline: { version: "1", metrics: { f1: 0.8 } } }
`;
        const canaryStack = `config:
  mlops-platform:serving:
    strategy: canary
    canary:
      canaryWeight: 0
      stable: { model: m, version: "1", modelUri: "models:/m/1", metrics: { f1: 0.8 } }
`;
        it("refuses a switch on a canary stack, naming the strategy", () => {
            assert.throws(() => planRelease(canaryStack, "P.yaml", { kind: "switch" }), /switch applies to the blueGreen strategy; P\.yaml uses "canary"/);
        });
        it("refuses --to other than blue or green", () => {
            assert.throws(() => planRelease(blueGreen, "P.yaml", { kind: "switch", to: "purple" as any }), /--to must be "blue" or "green", got "purple"/);
        });
        it("switches to the other slot when --to is omitted", () => {
            assert.equal(planRelease(blueGreen, "P.yaml", { kind: "switch" }).config.blueGreen!.active, "green");
        });
    });

    it("set-weight accepts decimal digits only (1e2 and 0x10 are not 100 and 16)", () => {
        const text = `config:
  mlops-platform:serving:
    strategy: canary
    canary:
      canaryWeight: 0
      stable: { model: m, version: "1", modelUri: "models:/m/1", metrics: { f1: 0.8 } }
      canary: { model: m, version: "2", modelUri: "models:/m/2", metrics: { f1: 0.9 }, baseline: { version: "1", metrics: { f1: 0.8 } } }
`;
        for (const w of ["1e2", "0x10", "+5", "5.0", " 7 x"]) {
            assert.throws(() => planRelease(text, "P.yaml", { kind: "set-weight", weight: w }), /weight must be an integer percentage from 0 to 100/, w);
        }
        assert.equal(planRelease(text, "P.yaml", { kind: "set-weight", weight: "007" }).config.canary!.canaryWeight, 7);
    });
});
