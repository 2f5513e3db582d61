// One threshold source: the stack's serving.thresholds. The program computes the release's verdict
// with them and records them on the release (`gate-thresholds`); the gating pack's
// model-gate-thresholds and the CLI's release refusals re-check the release against exactly those,
// with no threshold floor of their own in the pack configuration.
import * as assert from "node:assert/strict";
import { ANNOTATIONS, parseReleaseAnnotations, ModelRelease } from "../../release-contract/annotations";
import { checkServedTracks, trackAnnotations } from "../../release-contract/check";
import { GateConfig } from "../../release-contract/gate";
import { THRESHOLDS_RULE_DEFAULTS, thresholdsRule } from "../../release-contract/rules";

const canary: ModelRelease = {
    model: "credit-risk",
    version: "4",
    modelUri: "models:/credit-risk/4",
    metrics: { f1: 0.84, accuracy: 0.91 },
    baseline: { version: "3", metrics: { f1: 0.82, accuracy: 0.88 } },
};
const served = (release: ModelRelease) => [{ track: "canary" as const, release, workload: "Deployment ml-serving/credit-risk-canary", percent: 10, via: "HTTPRoute ml-serving/credit-risk rules[0]" }];
const thresholdViolations = (release: ModelRelease, gate: GateConfig) =>
    checkServedTracks(served(release), gate, {}).filter((v) => v.policy === "model-gate-thresholds").map((v) => v.message);

describe("gate thresholds: the stack's serving block is the one source", () => {
    it("a release that passes the stack's thresholds passes the pack's rule, though F1 fell (no pack floor of its own)", () => {
        // The stack gates on accuracy only; the pack has no F1 +2 % floor of its own to add.
        const gate: GateConfig = { thresholds: { accuracy: { minAbsoluteChange: 0.02, greaterIsBetter: true } } };
        const flat = { ...canary, metrics: { f1: 0.81, accuracy: 0.91 } }; // F1 below its baseline
        assert.deepEqual(thresholdViolations(flat, gate), []);
    });

    it("a release that fails the stack's stricter thresholds is refused with the stack's rule, not only the annotation", () => {
        const gate: GateConfig = { thresholds: { f1: { minRelativeChange: 0.1, greaterIsBetter: true } } };
        const [message, ...more] = thresholdViolations(canary, gate);
        assert.deepEqual(more, []);
        assert.match(message, /credit-risk v4 \(canary\): fails the gate: f1: candidate 0\.84 vs baseline 0\.82 is \+2\.43902% better; needs >= 10%/);
    });

    it("the program records the thresholds it gated with on the release, and the pack reads them back", () => {
        const gate: GateConfig = { thresholds: { accuracy: { threshold: 0.9, greaterIsBetter: true } } };
        const annotations = trackAnnotations(canary, "canary", gate);
        assert.deepEqual(JSON.parse(annotations[ANNOTATIONS.gateThresholds]), gate.thresholds);
        const parsed = parseReleaseAnnotations(annotations)!;
        assert.deepEqual(thresholdsRule(parsed, THRESHOLDS_RULE_DEFAULTS), []);
        // A hand edit of the recorded thresholds cannot hide a failing release: the verdict says fail.
        const edited = parseReleaseAnnotations({ ...annotations, [ANNOTATIONS.gateThresholds]: JSON.stringify({ accuracy: { threshold: 0.95, greaterIsBetter: true } }) })!;
        assert.match(thresholdsRule(edited, THRESHOLDS_RULE_DEFAULTS)[0], /fails the gate \(annotated gate=pass contradicts the thresholds\): accuracy: candidate 0\.91 must be >= 0\.95/);
    });

    it("a first release records the full thresholds (change rules included), judged on value thresholds only", () => {
        const gate: GateConfig = { thresholds: { f1: { threshold: 0.8, minRelativeChange: 0.02, greaterIsBetter: true } } };
        const first = { ...canary, baseline: undefined };
        const annotations = trackAnnotations(first, "stable", gate);
        assert.deepEqual(JSON.parse(annotations[ANNOTATIONS.gateThresholds]), gate.thresholds);
        assert.equal(annotations[ANNOTATIONS.gate], "pass");
        assert.deepEqual(thresholdsRule(parseReleaseAnnotations(annotations)!, THRESHOLDS_RULE_DEFAULTS), []);
    });

    it("recorded thresholds that are not valid are reported, naming the annotation", () => {
        const bad = parseReleaseAnnotations({ ...trackAnnotations(canary, "canary", { thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true } } }), [ANNOTATIONS.gateThresholds]: '{"f1":{"minRelativeChange":2}}' })!;
        assert.match(thresholdsRule(bad, THRESHOLDS_RULE_DEFAULTS)[0], /recorded thresholds are invalid: .*mlops\.platform\/gate-thresholds\.f1\.greaterIsBetter: is required.*mlops\.platform\/gate-thresholds\.f1\.minRelativeChange: must be a number in \[0, 1\]/);
        const notJson = parseReleaseAnnotations({ ...trackAnnotations(canary, "canary", { thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true } } }), [ANNOTATIONS.gateThresholds]: "{" })!;
        assert.deepEqual(notJson.problems, ["mlops.platform/gate-thresholds is not JSON"]);
    });
});
