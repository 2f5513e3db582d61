// The release annotations contract (issue 13): what ServingStack writes for a release, what it
// refuses to write (naming the property), and how the gating pack reads the annotations back,
// listing every malformed value instead of throwing.
import * as assert from "node:assert/strict";
import { canonicalJson, parseReleaseAnnotations, ReleaseAnnotationError, releaseAnnotations } from "../../release-contract/annotations";

const FULL = {
    model: "churn",
    version: "8",
    modelUri: "models:/churn/8",
    metrics: { f1: 0.816, accuracy: 0.9 },
    evaluation: { samples: 5000 },
    baseline: { version: "7", metrics: { f1: 0.8 }, samples: 4000 },
    approvedBy: "lead@example.com",
};

const refused = (f: () => unknown, path: string, reason: string) =>
    assert.throws(f, (e: any) => {
        assert.ok(e instanceof ReleaseAnnotationError);
        assert.equal(e.name, "ReleaseAnnotationError");
        assert.equal(e.propertyPath, path);
        assert.equal(e.reason, reason);
        assert.equal(e.message, `invalid release: ${path}: ${reason}`);
        return true;
    });

describe("release annotations", () => {
    it("writes every field of a release, its track, its verdict and the thresholds it was computed with", () => {
        const thresholds = { f1: { minRelativeChange: 0.02, greaterIsBetter: true } };
        assert.deepEqual(releaseAnnotations(FULL, "canary", { passed: true, config: { thresholds } }), {
            "mlops.platform/model": "churn",
            "mlops.platform/version": "8",
            "mlops.platform/model-uri": "models:/churn/8",
            "mlops.platform/track": "canary",
            "mlops.platform/gate": "pass",
            "mlops.platform/gate-thresholds": '{"f1":{"greaterIsBetter":true,"minRelativeChange":0.02}}',
            "mlops.platform/metric.f1": "0.816",
            "mlops.platform/metric.accuracy": "0.9",
            "mlops.platform/evaluation-samples": "5000",
            "mlops.platform/baseline-version": "7",
            "mlops.platform/baseline-metric.f1": "0.8",
            "mlops.platform/baseline-evaluation-samples": "4000",
            "mlops.platform/approved-by": "lead@example.com",
        });
        const bare = releaseAnnotations({ model: "m", version: 3 as unknown as string, modelUri: "models:/m/3", metrics: {} }, "stable");
        assert.deepEqual(bare, {
            "mlops.platform/model": "m",
            "mlops.platform/version": "3",
            "mlops.platform/model-uri": "models:/m/3",
            "mlops.platform/track": "stable",
            "mlops.platform/gate": "none",
        });
        assert.equal(releaseAnnotations(FULL, "blue", { passed: false })["mlops.platform/gate"], "fail");
        assert.equal(releaseAnnotations(FULL, "blue", { passed: false })["mlops.platform/gate-thresholds"], undefined);
    });

    it("refuses a release it cannot write, naming the property", () => {
        refused(() => releaseAnnotations({ ...FULL, model: "" }, "canary"), "model", "is required");
        refused(() => releaseAnnotations({ ...FULL, version: "" }, "canary"), "version", "is required");
        refused(() => releaseAnnotations({ ...FULL, version: undefined as unknown as string }, "canary"), "version", "is required");
        refused(() => releaseAnnotations({ ...FULL, modelUri: "" }, "canary"), "modelUri", "is required");
        refused(() => releaseAnnotations(FULL, "shadow" as any), "track", "must be one of stable, canary, blue, green, got shadow");
        refused(() => releaseAnnotations(FULL, "canary", "maybe" as any), "gate", "must be one of pass, fail, none");
        refused(() => releaseAnnotations({ ...FULL, metrics: { "f1 score": 1 } }, "canary"), "metrics.f1 score", "metric name does not fit an annotation key (mlops.platform/metric.f1 score)");
        refused(() => releaseAnnotations({ ...FULL, metrics: { ["a".repeat(57)]: 1 } }, "canary"), `metrics.${"a".repeat(57)}`, `metric name does not fit an annotation key (mlops.platform/metric.${"a".repeat(57)})`);
        assert.doesNotThrow(() => releaseAnnotations({ ...FULL, metrics: { ["a".repeat(56)]: 1 } }, "canary"), "56 + 'metric.' = 63 characters fit");
        refused(() => releaseAnnotations({ ...FULL, metrics: { f1: Infinity } }, "canary"), "metrics.f1", "must be a finite number, got Infinity");
        refused(() => releaseAnnotations({ ...FULL, metrics: { f1: "0.8" as unknown as number } }, "canary"), "metrics.f1", "must be a finite number, got 0.8");
        refused(() => releaseAnnotations({ ...FULL, evaluation: { samples: 0 } }, "canary"), "evaluation.samples", "must be a positive integer, got 0");
        refused(() => releaseAnnotations({ ...FULL, evaluation: { samples: 1.5 } }, "canary"), "evaluation.samples", "must be a positive integer, got 1.5");
        refused(() => releaseAnnotations({ ...FULL, baseline: { version: "", metrics: {} } }, "canary"), "baseline.version", "is required when a baseline is given");
        refused(() => releaseAnnotations({ ...FULL, baseline: { metrics: {} } as any }, "canary"), "baseline.version", "is required when a baseline is given");
        refused(() => releaseAnnotations({ ...FULL, baseline: { version: "7", metrics: { "x-": 1 } } }, "canary"), "baseline.metrics.x-", "metric name does not fit an annotation key (mlops.platform/baseline-metric.x-)");
        refused(() => releaseAnnotations({ ...FULL, baseline: { version: "7", metrics: {}, samples: -1 } }, "canary"), "baseline.samples", "must be a positive integer, got -1");
    });

    it("canonicalJson sorts keys at every level and keeps arrays in order", () => {
        assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
        assert.equal(canonicalJson("x"), '"x"');
    });

    it("reads back exactly what it wrote", () => {
        const parsed = parseReleaseAnnotations(releaseAnnotations(FULL, "green", { passed: true, config: { thresholds: { f1: { threshold: 0.5, greaterIsBetter: true } } } }));
        assert.deepEqual(parsed, { release: FULL, track: "green", gate: "pass", problems: [], gateThresholds: { f1: { greaterIsBetter: true, threshold: 0.5 } } });
        assert.equal(parseReleaseAnnotations({}), undefined);
        assert.equal(parseReleaseAnnotations(undefined), undefined);
    });

    it("lists every malformed value instead of throwing", () => {
        const p = parseReleaseAnnotations({
            "mlops.platform/model": "",
            "mlops.platform/version": "",
            "mlops.platform/metric.f1": "high",
            "mlops.platform/metric.acc": " ",
            "mlops.platform/baseline-metric.f1": "0.8",
            "mlops.platform/evaluation-samples": "2.5",
            "mlops.platform/baseline-evaluation-samples": "many",
            "mlops.platform/track": "shadow",
            "mlops.platform/gate": "maybe",
            "mlops.platform/gate-thresholds": "{f1",
            "mlops.platform/other": undefined,
            "mlops.platform/metric.unset": undefined,
        })!;
        assert.deepEqual(p.problems, [
            "mlops.platform/version is missing",
            "mlops.platform/model-uri is missing",
            "mlops.platform/model is empty",
            "mlops.platform/metric.f1='high' is not a number",
            "mlops.platform/metric.acc=' ' is not a number",
            "mlops.platform/evaluation-samples='2.5' is not a positive integer",
            "mlops.platform/baseline-evaluation-samples='many' is not a number",
            "baseline metrics are present but mlops.platform/baseline-version is missing",
            "mlops.platform/track='shadow' is not one of stable, canary, blue, green",
            "mlops.platform/gate='maybe' is not one of pass, fail, none",
            "mlops.platform/gate-thresholds is not JSON",
        ]);
        assert.deepEqual(p.release, { model: "", version: "", modelUri: "", metrics: {} });
        assert.equal(p.track, undefined);
        assert.equal(p.gate, "none");
        assert.equal("gateThresholds" in p, false);
        const noBaselineSamples = parseReleaseAnnotations({ ...releaseAnnotations({ ...FULL, baseline: { version: "7", metrics: {} } }, "canary") })!;
        assert.deepEqual(noBaselineSamples.release.baseline, { version: "7", metrics: {} });
        assert.deepEqual(noBaselineSamples.problems, []);
        // Only what is there is read: no track or gate annotation is not a problem; an empty baseline version is no baseline.
        assert.deepEqual(parseReleaseAnnotations({ "mlops.platform/model": "m", "mlops.platform/version": "1", "mlops.platform/model-uri": "models:/m/1" }), {
            release: { model: "m", version: "1", modelUri: "models:/m/1", metrics: {} },
            track: undefined,
            gate: "none",
            problems: [],
        });
        const emptyBaseline = parseReleaseAnnotations({ ...releaseAnnotations(FULL, "canary"), "mlops.platform/baseline-version": "" })!;
        assert.equal(emptyBaseline.release.baseline, undefined);
        assert.deepEqual(emptyBaseline.problems, ["baseline metrics are present but mlops.platform/baseline-version is missing"]);
        const badBaselineMetric = parseReleaseAnnotations({ ...releaseAnnotations(FULL, "canary"), "mlops.platform/baseline-metric.f1": "n/a" })!;
        assert.deepEqual(badBaselineMetric.release.baseline, { version: "7", metrics: {}, samples: 4000 });
        assert.deepEqual(badBaselineMetric.problems, ["mlops.platform/baseline-metric.f1='n/a' is not a number"]);
        const zero = parseReleaseAnnotations({ ...releaseAnnotations(FULL, "canary"), "mlops.platform/evaluation-samples": "0" })!;
        assert.deepEqual(zero.problems, ["mlops.platform/evaluation-samples='0' is not a positive integer"]);
        assert.equal(zero.release.evaluation, undefined);
    });
});
