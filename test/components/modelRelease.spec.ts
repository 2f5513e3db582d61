import * as assert from "node:assert/strict";
import {
    canaryReplicasForWeight,
    describeRelease,
    mutableModelUriReason,
    mutableVersionReason,
    planCapacity,
    replicaRatioSplit,
    validateModelRelease,
    CapacityInput,
} from "../../components/modelRelease";
import { parseServingConfig, SERVING_CONFIG_KEY } from "../../components/servingConfig";
import { Problems } from "../../components/validation";
import { assertInvalid } from "../helpers/resources";

const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/server@sha256:${"c".repeat(64)}`;

describe("ModelRelease validation", () => {
    it("normalises: numeric versions become strings, modelUri defaults to models:/<model>/<version>", () => {
        const r = validateModelRelease({
            model: " churn ",
            version: 7,
            metrics: { f1: 0.86 },
            baseline: { version: 6, metrics: { f1: 0.84 }, samples: 4000 },
            evaluation: { samples: 5000 },
            approvedBy: " lead@example.com ",
        });
        assert.deepEqual(r, {
            model: "churn",
            version: "7",
            modelUri: "models:/churn/7",
            metrics: { f1: 0.86 },
            baseline: { version: "6", metrics: { f1: 0.84 }, samples: 4000 },
            evaluation: { samples: 5000 },
            approvedBy: "lead@example.com",
        });
    });

    it("accepts a digest-pinned model URI and image", () => {
        const uri = `s3://models/churn@sha256:${"d".repeat(64)}`;
        assert.equal(validateModelRelease({ model: "churn", version: "3", modelUri: uri, image: IMAGE, metrics: {} }).modelUri, uri);
    });

    it("rejects latest, stages and aliases as version, naming the property", () => {
        assertInvalid(() => validateModelRelease({ model: "churn", version: "latest", metrics: {} }), "release.version", /'latest' resolves to a different version/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "Production", metrics: {} }), "release.version", /registry stage/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "champion", metrics: {} }), "release.version", /alias/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "@challenger", metrics: {} }), "release.version", /alias/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "0", metrics: {} }), "release.version", /version number/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", metrics: {}, baseline: { version: "latest", metrics: {} } }), "release.baseline.version", /latest/);
    });

    it("rejects mutable or mismatched model URIs", () => {
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", modelUri: "models:/churn/latest", metrics: {} }), "release.modelUri", /latest/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", modelUri: "models:/churn/Staging", metrics: {} }), "release.modelUri", /stage 'Staging'/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", modelUri: "models:/churn@champion", metrics: {} }), "release.modelUri", /alias '@champion'/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", modelUri: "runs:/abc/model", metrics: {} }), "release.modelUri", /neither/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", modelUri: "models:/other/7", metrics: {} }), "release.modelUri", /does not match/);
    });

    it("rejects unpinned images, bad metrics, bad samples and unknown properties", () => {
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", image: "server:latest", metrics: {} }), "release.image", /digest/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", metrics: { f1: "0.9" } }), "release.metrics.f1", /finite number/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", metrics: { "f1 score": 0.9 } }), "release.metrics.f1 score", /metric names/);
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", metrics: {}, evaluation: { samples: 0 } }), "release.evaluation.samples");
        assertInvalid(() => validateModelRelease({ model: "churn", version: "7", metrics: {}, stage: "Production" }), "release.stage", /unknown property/);
        assertInvalid(() => validateModelRelease({ model: "a/b", version: "7", metrics: {} }), "release.model");
    });

    it("reports every problem at once", () => {
        assert.throws(
            () => validateModelRelease({ model: "", version: "latest", image: "x", metrics: [] }),
            (e: any) => e.errors.length === 4 && /release\.model/.test(e.message) && /release\.image/.test(e.message),
        );
    });

    it("explains why references move", () => {
        assert.equal(mutableVersionReason("12"), undefined);
        assert.equal(mutableModelUriReason("models:/churn/12"), undefined);
        assert.match(mutableModelUriReason("models:/churn/Production")!, /stage/);
        assert.equal(describeRelease(validateModelRelease({ model: "churn", version: 7, metrics: {} })), "churn v7 (models:/churn/7)");
        assert.equal(describeRelease(undefined), "(none)");
    });
});

describe("rollout budget math", () => {
    it("canary replicas for a Gateway weight: ceil(weight/100 × replicas)", () => {
        assert.deepEqual([0, 1, 10, 25, 26, 50, 100].map((w) => canaryReplicasForWeight(w, 4)), [0, 1, 1, 1, 2, 2, 4]);
    });

    it("replica-ratio fallback: closest pod ratio and the weight it delivers", () => {
        const table = [
            [0, 2], [10, 2], [33, 2], [50, 2], [60, 2], [100, 2],
            [10, 3], [10, 9], [50, 3], [5, 10],
        ].map(([w, r]) => {
            const s = replicaRatioSplit(w, r);
            return `${w}%/${r}: ${s.stable}+${s.canary} = ${Number(s.effectiveWeight.toFixed(1))}%`;
        });
        assert.deepEqual(table, [
            "0%/2: 2+0 = 0%",
            "10%/2: 2+1 = 33.3%",
            "33%/2: 2+1 = 33.3%",
            "50%/2: 2+2 = 50%",
            "60%/2: 2+3 = 60%",
            "100%/2: 0+2 = 100%",
            "10%/3: 3+1 = 25%",
            "10%/9: 9+1 = 10%",
            "50%/3: 3+3 = 50%",
            "5%/10: 10+1 = 9.1%",
        ]);
    });

    const plan = (c: Partial<CapacityInput>) => {
        const p = new Problems("test");
        const out = planCapacity(p, { strategy: "canary", replicas: 4, gpus: 1, maxExtraGpus: 2, hasCanary: true, canaryWeight: 10, routing: "gateway", ...c });
        return { out, problems: p.list.map((x) => `${x.propertyPath}: ${x.reason}`) };
    };

    it("sizes a GPU canary from the budget, independent of the weight", () => {
        const a = plan({ canaryWeight: 10 });
        const b = plan({ canaryWeight: 50 });
        assert.deepEqual([a.out.canaryReplicas, b.out.canaryReplicas, a.out.extraGpus], [2, 2, 2]);
        assert.deepEqual(a.problems, []);
        assert.equal(a.out.surgeAllowed, false);
        assert.equal(plan({ maxExtraGpus: 3 }).out.surgeAllowed, false, "a budget-sized canary takes the whole budget");
        assert.equal(plan({ maxExtraGpus: 3, canaryReplicas: 2 }).out.surgeAllowed, true, "a pinned canary leaves room for one surge pod");
    });

    it("refuses a GPU canary that cannot fit", () => {
        assert.match(plan({ canaryWeight: 75 }).problems[0], /^canary\.canaryWeight: weight 75% of 4 replicas needs ceil\(75\/100 × 4\) = 3 canary replicas, but the canary can run 2/);
        assert.match(plan({ maxExtraGpus: 0 }).problems[0], /^maxExtraGpus: a canary needs at least one extra replica \(1 GPUs\)/);
        assert.match(plan({ canaryReplicas: 3 }).problems[0], /^canary\.replicas: 3 canary replicas × 1 GPUs = 3 extra GPUs/);
    });

    it("blue-green on GPUs needs two full slots", () => {
        const ok = plan({ strategy: "blueGreen", bothSlotsFilled: true, replicas: 2, gpus: 1, maxExtraGpus: 2 });
        assert.deepEqual([ok.problems, ok.out.extraGpus], [[], 2]);
        const bad = plan({ strategy: "blueGreen", bothSlotsFilled: true, replicas: 3, gpus: 1, maxExtraGpus: 2 });
        assert.match(bad.problems[0], /^maxExtraGpus: blue-green with both slots holding a release needs a second full slot: 3 replicas × 1 GPUs = 3 extra GPUs/);
        assert.deepEqual(plan({ strategy: "blueGreen", bothSlotsFilled: false, replicas: 3, maxExtraGpus: 0 }).problems, []);
    });

    it("fallback on GPUs counts the added canary pods against the budget", () => {
        const r = plan({ routing: "replicaRatio", replicas: 2, canaryWeight: 50, maxExtraGpus: 1 });
        assert.match(r.problems[0], /^canary\.canaryWeight: without a Gateway, weight 50% is approximated by 2 canary pod\(s\) beside 2 stable; that is 2 extra GPUs/);
    });

    it("CPU canaries: autoscaled from 1, or full size without an HPA", () => {
        assert.deepEqual(plan({ gpus: 0, maxExtraGpus: 0, maxReplicas: 8 }).out, {
            stableReplicas: 4, canaryReplicas: 1, canaryMaxReplicas: 8, effectiveCanaryWeight: 10, extraGpus: 0, surgeAllowed: true,
        });
        assert.equal(plan({ gpus: 0, maxExtraGpus: 0 }).out.canaryReplicas, 4);
        assert.match(plan({ gpus: 0, maxExtraGpus: 0, canaryReplicas: 1, canaryWeight: 50 }).problems[0], /raise canary\.replicas/);
    });
});

describe("parseServingConfig", () => {
    const valid = {
        strategy: "canary",
        runtime: { kind: "mlflow", image: IMAGE },
        canary: {
            stable: { model: "churn", version: 6, metrics: { f1: 0.84 }, baseline: { version: 5, metrics: { f1: 0.8 } } },
            canary: { model: "churn", version: 7, metrics: { f1: 0.87 }, baseline: { version: 6, metrics: { f1: 0.84 } } },
            canaryWeight: 50,
        },
        gateway: { mode: "install", hostname: "models.dev.example.com" },
    };

    it("applies defaults and normalises releases", () => {
        const c = parseServingConfig(valid);
        assert.equal(c.name, "model");
        assert.equal(c.namespace, "ml-serving");
        assert.equal(c.replicas, 2);
        assert.deepEqual(c.resources, { cpu: "1", memory: "2Gi" });
        assert.deepEqual(c.gate, { thresholds: { f1: { minRelativeChange: 0.02, greaterIsBetter: true } } });
        assert.deepEqual(c.alerts, { p99LatencySeconds: 1, errorRate5xx: 0.01, for: "10m" });
        assert.deepEqual(c.canary!.headerMatch, { name: "x-model-track", value: "canary" });
        assert.equal(c.canary!.mirror, false);
        assert.equal(c.canary!.canary!.modelUri, "models:/churn/7");
        assert.deepEqual(c.gateway, { mode: "install", hostname: "models.dev.example.com" });
        assert.equal(c.prometheusOperator, false);
    });

    it("accepts the JSON string the Pulumi runtime passes for object config", () => {
        assert.equal(parseServingConfig(JSON.stringify(valid)).canary!.canaryWeight, 50);
    });

    it("names every bad property as mlops-platform:serving.<path>", () => {
        const k = SERVING_CONFIG_KEY;
        assertInvalid(() => parseServingConfig({ ...valid, strategy: "rolling" }), `${k}.strategy`, /"blueGreen", "canary"/);
        assertInvalid(() => parseServingConfig({ ...valid, canary: { ...valid.canary, canaryWeight: 150 } }), `${k}.canary.canaryWeight`);
        assertInvalid(() => parseServingConfig({ ...valid, canary: { ...valid.canary, canary: { ...valid.canary.canary, version: "latest" } } }), `${k}.canary.canary.version`);
        assertInvalid(
            () => parseServingConfig({ ...valid, strategy: "blueGreen", blueGreen: { active: "green", slots: { blue: valid.canary.stable } } }),
            `${k}.blueGreen.active`,
            /holds no release/,
        );
        assertInvalid(() => parseServingConfig({ ...valid, thresholds: { f1: { minRelativeChange: 2, greaterIsBetter: true } } }), `${k}.thresholds.f1.minRelativeChange`);
        assertInvalid(() => parseServingConfig({ ...valid, gateway: { mode: "existing", name: "gw" } }), `${k}.gateway.namespace`);
        assertInvalid(() => parseServingConfig({ ...valid, maxExtraGpus: 2 }), `${k}.maxExtraGpus`, /must be 0 when gpus is 0/);
        // No image anywhere is fine in the platform config: MlPlatform serves with the trainer image it builds.
        assert.doesNotThrow(() => parseServingConfig({ ...valid, runtime: { kind: "mlflow" } }));
        assertInvalid(() => parseServingConfig({ ...valid, replicaCount: 3 }), `${k}.replicaCount`, /unknown property/);
        assertInvalid(() => parseServingConfig({ ...valid, gpus: 1, maxExtraGpus: 1, canary: { ...valid.canary, canaryWeight: 100 } }), `${k}.canary.canaryWeight`, /needs ceil/);
        assertInvalid(() => parseServingConfig("not json"), k);
        assertInvalid(() => parseServingConfig(42), k);
    });

    it("validates the inactive strategy's block too", () => {
        assertInvalid(
            () => parseServingConfig({ ...valid, blueGreen: { active: "blue", slots: { blue: { model: "churn", version: "Staging", metrics: {} } } } }),
            `${SERVING_CONFIG_KEY}.blueGreen.slots.blue.version`,
        );
    });
});
