// The gating pack's release rules as pure functions (issue 13): each rule's pass and fail cases
// with the message the pack prints, and how a policy's level and settings are read from the pack
// configuration. The pack runs these in its own process; here they run in-process.
import * as assert from "node:assert/strict";
import { ParsedRelease } from "../../release-contract/annotations";
import { checkServedTracks, policySettings, ServedTrack } from "../../release-contract/check";
import {
    APPROVAL_RULE_DEFAULTS,
    approvalRule,
    BLUE_GREEN_RULE_DEFAULTS,
    blueGreenSwitchRule,
    CANARY_WEIGHT_RULE_DEFAULTS,
    canaryWeightRule,
    globMatch,
    immutableRefRule,
    mutableModelRefReason,
    releaseLabel,
    SIGNIFICANCE_RULE_DEFAULTS,
    significanceRule,
    THRESHOLDS_RULE_DEFAULTS,
    thresholdsRule,
} from "../../release-contract/rules";

const REL = { model: "m", version: "2", modelUri: "models:/m/2", metrics: { f1: 0.9 }, baseline: { version: "1", metrics: { f1: 0.8 } } };
const parsed = (over: Partial<ParsedRelease> = {}, rel: Record<string, unknown> = {}): ParsedRelease => ({
    release: { ...REL, ...rel } as ParsedRelease["release"],
    track: "canary",
    gate: "pass",
    problems: [],
    ...over,
});

describe("release rules (in-process)", () => {
    it("globMatch: * is any run of characters, everything else literal", () => {
        assert.equal(globMatch("*-preview", "svc-preview"), true);
        assert.equal(globMatch("*-preview", "svc-previews"), false);
        assert.equal(globMatch("a.b", "aXb"), false);
        assert.equal(globMatch("a.b", "a.b"), true);
        assert.equal(globMatch("a.b", "xa.b"), false, "anchored at the start");
        assert.equal(globMatch("a.b", "a.bx"), false, "anchored at the end");
        assert.equal(globMatch("*@example.com", "lead@example.com"), true);
        assert.equal(globMatch("*@example.com", "lead@example.org"), false);
        assert.equal(globMatch("(x)+[y]", "(x)+[y]"), true);
    });

    it("releaseLabel: model, version (or ?) and track", () => {
        assert.equal(releaseLabel(parsed()), "m v2 (canary)");
        assert.equal(releaseLabel(parsed({ track: undefined }, { version: "" })), "m v?");
    });

    describe("model-gate-thresholds", () => {
        const cfg = THRESHOLDS_RULE_DEFAULTS;
        it("passes a release that beats its recorded thresholds; skips tracks it does not gate", () => {
            assert.deepEqual(thresholdsRule(parsed(), cfg), []);
            const failing = parsed({}, { metrics: { f1: 0.7 } });
            assert.deepEqual(thresholdsRule(failing, { ...cfg, tracks: ["stable"] }), []);
        });
        it("fails a release below the thresholds, and says when its gate=pass claim contradicts them", () => {
            const msg = "fails the gate (annotated gate=pass contradicts the thresholds): f1: candidate 0.7 vs baseline 0.8 is -12.5% better; needs >= 2% (>= 0.816, minRelativeChange)";
            assert.deepEqual(thresholdsRule(parsed({}, { metrics: { f1: 0.7 } }), cfg), [msg]);
            assert.deepEqual(thresholdsRule(parsed({ gate: "fail" }, { metrics: { f1: 0.7 } }), cfg), [msg.replace(" (annotated gate=pass contradicts the thresholds)", "")]);
        });
        it("uses the recorded thresholds, and refuses invalid ones", () => {
            const strict = { f1: { minRelativeChange: 0.5, greaterIsBetter: true } };
            assert.match(thresholdsRule(parsed({ gateThresholds: strict }), cfg)[0], /^fails the gate \(annotated gate=pass contradicts the thresholds\): f1: .*needs >= 50%/);
            assert.deepEqual(thresholdsRule(parsed({ gateThresholds: { f1: { minRelativeChange: 0.5 } } }), cfg), [
                "recorded thresholds are invalid: invalid gate configuration: mlops.platform/gate-thresholds.f1.greaterIsBetter: is required and must be true or false",
            ]);
        });
        it("lists every failed rule in one message", () => {
            const two = { f1: { minRelativeChange: 0.02, greaterIsBetter: true }, acc: { threshold: 0.95, greaterIsBetter: true } };
            assert.deepEqual(thresholdsRule(parsed({ gate: "fail", gateThresholds: two }, { metrics: { f1: 0.7, acc: 0.9 } }), cfg), [
                "fails the gate: f1: candidate 0.7 vs baseline 0.8 is -12.5% better; needs >= 2% (>= 0.816, minRelativeChange); acc: candidate 0.9 must be >= 0.95 (threshold)",
            ]);
        });
        it("a gate=fail annotation fails even when the metrics pass", () => {
            assert.deepEqual(thresholdsRule(parsed({ gate: "fail" }), cfg), ["is annotated mlops.platform/gate=fail"]);
        });
        it("a missing baseline: a canary fails the change rules unless allowMissingBaseline makes it a first release", () => {
            const first = parsed({ gateThresholds: { f1: { threshold: 0.5, minRelativeChange: 0.02, greaterIsBetter: true } } }, { baseline: undefined });
            assert.match(thresholdsRule(first, cfg)[0], /baseline value is missing \(needed by minRelativeChange\)/);
            assert.deepEqual(thresholdsRule(first, { ...cfg, allowMissingBaseline: true }), []);
            assert.deepEqual(thresholdsRule({ ...first, track: "stable" }, cfg), []);
        });
    });

    describe("model-significance", () => {
        const cfg = SIGNIFICANCE_RULE_DEFAULTS;
        const n = (c: number, b: number, cs?: number, bs?: number) =>
            parsed({}, { metrics: { f1: c }, evaluation: cs === undefined ? undefined : { samples: cs }, baseline: { version: "1", metrics: { f1: b }, samples: bs } });
        it("a first release (no baseline) is not tested unless samples are required", () => {
            assert.deepEqual(significanceRule(parsed({}, { baseline: undefined }), cfg), []);
            assert.deepEqual(significanceRule(parsed({}, { baseline: undefined, evaluation: { samples: 100 } }), { ...cfg, requireSamples: true }), [
                "significance cannot be tested: baseline evaluation sample count is missing (required)",
            ]);
        });
        it("missing samples pass unless required; an insignificant improvement fails with the test's numbers", () => {
            assert.deepEqual(significanceRule(n(0.9, 0.8), cfg), []);
            assert.deepEqual(significanceRule(n(0.9, 0.8), { ...cfg, requireSamples: true }), ["significance cannot be tested: candidate and baseline evaluation sample counts are missing (required)"]);
            assert.deepEqual(significanceRule(n(0.9, 0.8, 1000, 1000), cfg), []);
            const two = (c: Record<string, number>, b: Record<string, number>) =>
                parsed({}, { metrics: c, evaluation: { samples: 1000 }, baseline: { version: "1", metrics: b, samples: 1000 } });
            const oneWeak = significanceRule(two({ f1: 0.9, acc: 0.81 }, { f1: 0.8, acc: 0.8 }), { ...cfg, metrics: ["f1", "acc"] });
            assert.match(oneWeak[0], /^improvement is not significant at alpha 0\.05: acc: 0\.81 \(n=1000\) vs 0\.8 \(n=1000\), [^;]*$/);
            const bothWeak = significanceRule(two({ f1: 0.81, acc: 0.81 }, { f1: 0.8, acc: 0.8 }), { ...cfg, metrics: ["f1", "acc"] });
            assert.match(bothWeak[0], /: f1: 0\.81 [^;]* > alpha 0\.05; acc: 0\.81 [^;]* > alpha 0\.05$/);
            const weak = significanceRule(n(0.81, 0.8, 100, 100), { ...cfg, alpha: 0.01 });
            assert.equal(weak.length, 1);
            assert.match(weak[0], /^improvement is not significant at alpha 0\.01: f1: 0\.81 \(n=100\) vs 0\.8 \(n=100\), z=0\.\d{3}, one-sided p=0\.\d+ > alpha 0\.01$/);
        });
    });

    describe("model-approval-required", () => {
        it("requires an approver when configured, from the approvers list when one is given", () => {
            assert.deepEqual(approvalRule(parsed(), APPROVAL_RULE_DEFAULTS), []);
            assert.deepEqual(approvalRule(parsed(), { requireApproval: true, approvers: [] }), ["has no mlops.platform/approved-by annotation; approval is required in this stack"]);
            const approved = parsed({}, { approvedBy: "lead@example.com" });
            assert.deepEqual(approvalRule(approved, { requireApproval: true, approvers: [] }), []);
            assert.deepEqual(approvalRule(approved, { requireApproval: false, approvers: ["*@example.org", "boss@example.com"] }), ["approved by 'lead@example.com', who is not in the approvers list"]);
            assert.deepEqual(approvalRule(approved, { requireApproval: true, approvers: ["*@example.org", "*@example.com"] }), []);
        });
    });

    describe("model-ref-immutable", () => {
        it("names why a reference is mutable", () => {
            assert.equal(mutableModelRefReason("models:/m/2"), undefined);
            assert.equal(mutableModelRefReason("123.dkr.ecr.us-east-1.amazonaws.com/m@sha256:" + "0".repeat(64)), undefined);
            assert.equal(mutableModelRefReason("models:/m@champion"), "'models:/m@champion' names the alias '@champion', which can be moved to another version");
            assert.equal(mutableModelRefReason("models:/m/Latest"), "'models:/m/Latest' resolves 'latest', which changes with every registration");
            assert.equal(mutableModelRefReason("models:/m/Production"), "'models:/m/Production' names the stage 'Production', which can point to another version");
            assert.equal(mutableModelRefReason("s3://bucket/model"), "'s3://bucket/model' is neither models:/<name>/<version> nor pinned by @sha256 digest");
            assert.equal(mutableModelRefReason("models:/churn/latest"), "'models:/churn/latest' resolves 'latest', which changes with every registration");
            for (const uri of ["xmodels:/churn/latest", "models:/churn/Staging/x", "models:/churn"]) {
                assert.equal(mutableModelRefReason(uri), `'${uri}' is neither models:/<name>/<version> nor pinned by @sha256 digest`);
            }
        });
        it("the rule: mutable or mismatching references fail; no URI is left to the thresholds rule", () => {
            assert.deepEqual(immutableRefRule(parsed()), []);
            assert.deepEqual(immutableRefRule(parsed({}, { modelUri: "" })), []);
            assert.deepEqual(immutableRefRule(parsed({}, { modelUri: "models:/m/latest" })), ["model reference is mutable: 'models:/m/latest' resolves 'latest', which changes with every registration"]);
            assert.deepEqual(immutableRefRule(parsed({}, { modelUri: "models:/m/3" })), ["model-uri 'models:/m/3' does not match the annotated model 'm' version '2'"]);
            assert.deepEqual(immutableRefRule(parsed({}, { modelUri: "models:/other/2" })), ["model-uri 'models:/other/2' does not match the annotated model 'm' version '2'"]);
        });
    });

    describe("canary-weight-limit", () => {
        const cfg = CANARY_WEIGHT_RULE_DEFAULTS;
        const fail = parsed({ gate: "fail" });
        it("limits an ungated release on a limited track to canaryMaxWeight", () => {
            assert.equal(canaryWeightRule("D", fail, 10, "R", cfg), undefined, "at the limit");
            assert.equal(
                canaryWeightRule("Deployment ns/x-canary", fail, 33.3333, "Service ns/x (replica ratio)", cfg),
                "Deployment ns/x-canary: canary release m v2 (mlops.platform/gate=fail) receives 33.33% of traffic via Service ns/x (replica ratio); at most 10% before the gate passes",
            );
            assert.equal(canaryWeightRule("D", parsed(), 100, "R", cfg), undefined, "gated");
            assert.equal(canaryWeightRule("D", fail, 100, "R", cfg, false), canaryWeightRule("D", fail, 100, "R", cfg));
            assert.equal(canaryWeightRule("D", { ...fail, track: "stable" }, 100, "R", cfg), undefined, "stable is not limited");
            assert.equal(canaryWeightRule("D", { ...fail, track: undefined }, 100, "R", cfg), undefined, "no track");
        });
        it("a gate value computed from an output is not trusted", () => {
            assert.equal(
                canaryWeightRule("D", parsed(), 20, "R", cfg, true),
                "D: canary release m v2 (mlops.platform/gate=(not literal)) receives 20% of traffic via R; at most 10% before the gate passes",
            );
        });
    });

    describe("blue-green-switch-gated", () => {
        const cfg = BLUE_GREEN_RULE_DEFAULTS;
        it("a Service may only send traffic to a gated slot", () => {
            const green = parsed({ track: "green" });
            assert.equal(blueGreenSwitchRule("Service ns/x", "Deployment ns/x-green", green, cfg), undefined);
            assert.equal(
                blueGreenSwitchRule("Service ns/x", "Deployment ns/x-green", { ...green, gate: "none" }, cfg),
                "Service ns/x sends traffic to slot 'green' (Deployment ns/x-green) whose release m v2 is mlops.platform/gate=none; switch only to a gated slot",
            );
            assert.match(blueGreenSwitchRule("S", "D", { ...green, problems: ["bad"] }, cfg)!, / is malformed; switch only to a gated slot$/);
            assert.match(blueGreenSwitchRule("S", "D", green, cfg, true)!, / is not literal; switch only to a gated slot$/);
            assert.equal(blueGreenSwitchRule("S", "D", { ...green, gate: "fail", track: "canary" }, cfg), undefined, "not a slot");
            assert.equal(blueGreenSwitchRule("S", "D", { ...green, gate: "fail", track: undefined }, cfg), undefined, "no track");
        });
    });

    describe("policy settings from the pack configuration", () => {
        it("level and properties: defaults, a bare level, an object, the `all` fallback", () => {
            const d = { a: 1, b: [2] };
            assert.deepEqual(policySettings({}, "p", d), { level: "mandatory", config: { a: 1, b: [2] } });
            assert.deepEqual(policySettings({ p: "advisory" }, "p", d), { level: "advisory", config: { a: 1, b: [2] } });
            assert.deepEqual(policySettings({ p: { enforcementLevel: "disabled", a: 5, b: null, c: undefined } }, "p", d), { level: "disabled", config: { a: 5, b: [2] } });
            assert.deepEqual(policySettings({ all: "advisory" }, "p", d), { level: "advisory", config: d });
            assert.deepEqual(policySettings({ all: "advisory", p: { a: 3 } }, "p", d), { level: "mandatory", config: { a: 3, b: [2] } });
            assert.deepEqual(policySettings({ p: 7 }, "p", d), { level: "mandatory", config: d });
        });

        it("checkServedTracks: every rule, its level, disabled ones skipped", () => {
            const rel = { model: "m", version: "2", modelUri: "models:/m/latest", metrics: { f1: 0.7 }, baseline: { version: "1", metrics: { f1: 0.8 } } };
            const tracks: ServedTrack[] = [
                { track: "canary", release: rel, workload: "Deployment ns/x-canary", percent: 50, via: "HTTPRoute ns/x rules[1]" },
                { track: "green", release: { ...rel, modelUri: "models:/m/2" }, workload: "Deployment ns/x-green", percent: 100, via: "Service ns/x", activeService: "Service ns/x" },
                // The idle slot receives no live traffic: the blue-green rule does not apply to it.
                { track: "blue", release: { ...rel, modelUri: "models:/m/2" }, workload: "Deployment ns/x-blue", percent: 0, via: "Service ns/x" },
            ];
            const gate = { thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true } } };
            const v = checkServedTracks(tracks, gate, { "model-approval-required": { requireApproval: true }, "model-significance": { requireSamples: true, enforcementLevel: "advisory" } });
            assert.deepEqual(
                v.map((x) => [x.policy, x.level, x.message.split(": ")[0]]),
                [
                    ["model-gate-thresholds", "mandatory", "Deployment ns/x-canary"],
                    ["model-significance", "advisory", "Deployment ns/x-canary"],
                    ["model-approval-required", "mandatory", "Deployment ns/x-canary"],
                    ["model-ref-immutable", "mandatory", "Deployment ns/x-canary"],
                    ["canary-weight-limit", "mandatory", "Deployment ns/x-canary"],
                    ["model-gate-thresholds", "mandatory", "Deployment ns/x-green"],
                    ["model-significance", "advisory", "Deployment ns/x-green"],
                    ["model-approval-required", "mandatory", "Deployment ns/x-green"],
                    ["blue-green-switch-gated", "mandatory", "Service ns/x sends traffic to slot 'green' (Deployment ns/x-green) whose release m v2 is mlops.platform/gate=fail; switch only to a gated slot"],
                    ["model-gate-thresholds", "mandatory", "Deployment ns/x-blue"],
                    ["model-significance", "advisory", "Deployment ns/x-blue"],
                    ["model-approval-required", "mandatory", "Deployment ns/x-blue"],
                ],
            );
            assert.match(v[0].message, /^Deployment ns\/x-canary: release m v2 \(canary\): fails the gate: f1: /);
            const quiet = checkServedTracks(tracks, gate, { all: "disabled" });
            assert.deepEqual(quiet, []);
        });
    });
});
