// `mlops-platform:serving`: every validation rule with a bad value (the exact problems reported,
// each naming its property) and every default (issue 13: the mutation run found most of them unpinned).
import * as assert from "node:assert/strict";
import { DEFAULT_GATE_CONFIG } from "../../release-contract/gate";
import { checkServingCore, parseServingConfig, servedReleases, servedTracks, ServingConfig } from "../../components/servingConfig";
import { Problems } from "../../components/validation";

const KEY = "mlops-platform:serving";
const R = (v = "1", extra: Record<string, unknown> = {}) => ({ model: "m", version: v, modelUri: `models:/m/${v}`, metrics: { f1: 0.8 }, ...extra });
const CANARY = { strategy: "canary", canary: { stable: R("1"), canaryWeight: 0 } };
const BLUE_GREEN = { strategy: "blueGreen", blueGreen: { active: "blue", slots: { blue: R("1"), green: R("2") } } };
const DIGEST = "123456789012.dkr.ecr.us-east-1.amazonaws.com/server@sha256:" + "a".repeat(64);

/** The problems reported for `raw` (base CANARY with `over` merged at the top), as `path: reason` without the key prefix. */
function problems(over: Record<string, unknown>, base: Record<string, unknown> = CANARY, opts: { environment?: string } = {}): string[] {
    try {
        parseServingConfig({ ...base, ...over }, opts);
    } catch (e: any) {
        assert.ok(Array.isArray(e.errors), String(e));
        assert.match(e.message, /^Invalid mlops-platform:serving configuration:\n {2}- /);
        return e.errors.map((x: { propertyPath: string; reason: string }) => `${x.propertyPath.replace(`${KEY}.`, "")}: ${x.reason}`);
    }
    assert.fail(`accepted ${JSON.stringify(over)}`);
}
const ok = (over: Record<string, unknown>, base: Record<string, unknown> = CANARY, opts: { environment?: string } = {}): ServingConfig =>
    parseServingConfig({ ...base, ...over }, opts);

describe("mlops-platform:serving: validation, rule by rule", () => {
    describe("the value itself", () => {
        it("accepts the JSON string the Pulumi runtime hands the program", () => {
            assert.deepEqual(parseServingConfig(JSON.stringify(CANARY)), parseServingConfig(CANARY));
        });
        it("refuses a string that is not JSON, and anything that is not an object", () => {
            assert.throws(() => parseServingConfig("canary"), (e: any) => {
                assert.deepEqual(e.errors, [{ propertyPath: KEY, reason: "must be an object (the stack file holds a YAML mapping), got a string that is not JSON" }]);
                return true;
            });
            for (const v of [[], null, 3]) {
                assert.throws(() => parseServingConfig(v), (e: any) => {
                    assert.deepEqual(e.errors, [{ propertyPath: KEY, reason: `must be an object { strategy, blueGreen?, canary?, thresholds?, ... }, got ${JSON.stringify(v)}` }]);
                    return true;
                });
            }
        });
        it("names unknown keys and lists the allowed ones", () => {
            assert.deepEqual(problems({ replica: 2 }), [
                "replica: unknown property; expected one of name, namespace, strategy, blueGreen, canary, replicas, autoscaling, resources, gpus, maxExtraGpus, thresholds, significance, alerts, runtime, prometheusOperator, gateway, analysis, predictionLog",
            ]);
        });
    });

    describe("names and flags", () => {
        it("defaults: name model, namespace ml-serving, no prometheus-operator, no Gateway, 2 replicas, no GPUs", () => {
            const c = ok({});
            assert.equal(c.name, "model");
            assert.equal(c.namespace, "ml-serving");
            assert.equal(c.prometheusOperator, false);
            assert.deepEqual(c.gateway, { mode: "none" });
            assert.equal(c.replicas, 2);
            assert.equal(c.gpus, 0);
            assert.equal(c.maxExtraGpus, 0);
            assert.equal("autoscaling" in c, false);
            assert.equal("blueGreen" in c, false);
            assert.deepEqual(c.gate, { thresholds: DEFAULT_GATE_CONFIG.thresholds });
        });
        it("name: a DNS label of at most 40 characters", () => {
            assert.deepEqual(problems({ name: "Credit_Risk" }), ['name: must be a DNS-1123 label of at most 40 characters, got "Credit_Risk"']);
            assert.deepEqual(problems({ name: "a".repeat(41) }), [`name: must be a DNS-1123 label of at most 40 characters, got "${"a".repeat(41)}"`]);
            assert.equal(ok({ name: "a".repeat(40) }).name, "a".repeat(40));
        });
        it("namespace: a DNS label", () => {
            assert.deepEqual(problems({ namespace: "ML" }), ['namespace: must be a DNS-1123 label, got "ML"']);
            assert.equal(ok({ namespace: "models" }).namespace, "models");
            assert.deepEqual(problems({ name: ["model"], namespace: ["ml"] }), [
                'name: must be a DNS-1123 label of at most 40 characters, got ["model"]',
                'namespace: must be a DNS-1123 label, got ["ml"]',
            ]);
        });
        it("prometheusOperator: a boolean", () => {
            assert.deepEqual(problems({ prometheusOperator: "yes" }), ['prometheusOperator: must be true or false, got "yes"']);
            assert.equal(ok({ prometheusOperator: true }).prometheusOperator, true);
        });
    });

    describe("gateway", () => {
        it("must be an object with known keys and a known mode", () => {
            assert.deepEqual(problems({ gateway: "install" }), ['gateway: must be { mode: "none" | "install" | "existing", ... }, got "install"']);
            assert.deepEqual(problems({ gateway: { mode: "install", port: 80 } }), ["gateway.port: unknown property; expected one of mode, name, namespace, sectionName, hostname"]);
            assert.deepEqual(problems({ gateway: { mode: "nginx" } }), ['gateway.mode: must be one of "none", "install", "existing", got "nginx"']);
            assert.deepEqual(ok({ gateway: {} }).gateway, { mode: "none" });
        });
        it("hostname: a DNS name, optionally a wildcard", () => {
            assert.deepEqual(problems({ gateway: { mode: "install", hostname: "Models.Example" } }), ['gateway.hostname: must be a DNS name (optionally *.-prefixed), got "Models.Example"']);
            assert.deepEqual(problems({ gateway: { mode: "install", hostname: 7 } }), ["gateway.hostname: must be a DNS name (optionally *.-prefixed), got 7"]);
            assert.deepEqual(ok({ gateway: { mode: "install", hostname: "*.models.example.com" } }).gateway, { mode: "install", hostname: "*.models.example.com" });
            assert.deepEqual(ok({ gateway: { mode: "install" } }).gateway, { mode: "install" });
            for (const bad of ["models.example-", "a..b", "models.", "-a.b"]) {
                assert.deepEqual(problems({ gateway: { mode: "install", hostname: bad } }), [`gateway.hostname: must be a DNS name (optionally *.-prefixed), got "${bad}"`], bad);
            }
            assert.deepEqual(ok({ gateway: { mode: "install", hostname: "a-1.b.example.com" } }).gateway, { mode: "install", hostname: "a-1.b.example.com" });
        });
        it("existing: name and namespace required, sectionName a listener name", () => {
            assert.deepEqual(problems({ gateway: { mode: "existing" } }), [
                "gateway.name: is required for an existing Gateway (DNS label), got undefined",
                "gateway.namespace: is required for an existing Gateway (DNS label), got undefined",
            ]);
            assert.deepEqual(problems({ gateway: { mode: "existing", name: "gw", namespace: "Edge" } }), ['gateway.namespace: is required for an existing Gateway (DNS label), got "Edge"']);
            assert.deepEqual(problems({ gateway: { mode: "existing", name: "GW", namespace: "edge" } }), ['gateway.name: is required for an existing Gateway (DNS label), got "GW"']);
            assert.deepEqual(problems({ gateway: { mode: "existing", name: "gw", namespace: "edge", sectionName: 443 } }), ["gateway.sectionName: must be a listener name, got 443"]);
            assert.deepEqual(ok({ gateway: { mode: "existing", name: "gw", namespace: "edge", sectionName: "https", hostname: "m.example.com" } }).gateway, {
                mode: "existing",
                name: "gw",
                namespace: "edge",
                sectionName: "https",
                hostname: "m.example.com",
            });
            assert.deepEqual(ok({ gateway: { mode: "existing", name: "gw", namespace: "edge" } }).gateway, { mode: "existing", name: "gw", namespace: "edge" });
        });
    });

    describe("strategy and its blocks", () => {
        it("strategy: blueGreen or canary, with its block present", () => {
            assert.deepEqual(problems({ strategy: "linear" }), ['strategy: must be one of "blueGreen", "canary", got "linear"']);
            assert.deepEqual(problems({ strategy: "blueGreen" }), ['blueGreen: is required when strategy is "blueGreen"']);
        });

        it("blueGreen: shape, active slot, known slots, previewHeader", () => {
            assert.deepEqual(problems({ blueGreen: "blue" }, BLUE_GREEN), ['blueGreen: must be { active: "blue" | "green", slots: { blue?, green? } }, got "blue"']);
            assert.deepEqual(problems({ blueGreen: { active: "red", slots: { blue: R() }, weight: 1 } }, BLUE_GREEN), [
                "blueGreen.weight: unknown property; expected one of active, slots, previewHeader",
                'blueGreen.active: must be "blue" or "green", got "red"',
            ]);
            assert.deepEqual(problems({ blueGreen: { active: "blue", slots: "both" } }, BLUE_GREEN), ['blueGreen.slots: must be { blue?: <release>, green?: <release> }, got "both"']);
            assert.deepEqual(problems({ blueGreen: { active: "blue", slots: { blue: R(), purple: R() } } }, BLUE_GREEN), ["blueGreen.slots.purple: unknown property; expected one of blue, green"]);
            assert.deepEqual(problems({ blueGreen: { active: "green", slots: { blue: R() } } }, BLUE_GREEN), [
                "blueGreen.active: slot 'green' holds no release (blueGreen.slots.green is empty); the active slot must serve a release",
            ]);
            assert.deepEqual(problems({ blueGreen: { active: "blue", slots: { blue: R(), green: "v2" } } }, BLUE_GREEN).map((x) => x.split(":")[0]), ["blueGreen.slots.green"]);
            assert.deepEqual(problems({ blueGreen: { active: "blue", slots: { blue: R() }, previewHeader: { name: "x model", value: "p" } } }, BLUE_GREEN), [
                'blueGreen.previewHeader: must be { name: <HTTP header name>, value: <non-empty string> }, got {"name":"x model","value":"p"}',
            ]);
            assert.deepEqual(problems({ blueGreen: { active: "blue", slots: { blue: R() }, previewHeader: { name: "x-m", value: "" } } }, BLUE_GREEN).length, 1);
            assert.deepEqual(problems({ blueGreen: { active: "blue", slots: { blue: R() }, previewHeader: "x-m" } }, BLUE_GREEN).length, 1);
        });

        it("blueGreen: defaults, a null idle slot is empty, header names are lower-cased", () => {
            const c = ok({}, BLUE_GREEN);
            assert.deepEqual(c.blueGreen, { active: "blue", slots: { blue: c.blueGreen!.slots.blue, green: c.blueGreen!.slots.green }, previewHeader: { name: "x-model-track", value: "preview" } });
            const idle = ok({ blueGreen: { active: "blue", slots: { blue: R(), green: null } } }, BLUE_GREEN);
            assert.deepEqual(Object.keys(idle.blueGreen!.slots), ["blue"]);
            assert.deepEqual(ok({ blueGreen: { active: "blue", slots: { blue: R() }, previewHeader: { name: "X-Preview", value: "Yes" } } }, BLUE_GREEN).blueGreen!.previewHeader, {
                name: "x-preview",
                value: "Yes",
            });
            assert.equal("canary" in c, false);
        });

        it("canary: shape, stable required, weight, mirror, headerMatch, replicas", () => {
            assert.deepEqual(problems({ canary: "v2" }), ['canary: must be { stable: <release>, canary?: <release>, canaryWeight: 0..100, mirror?, headerMatch? }, got "v2"']);
            assert.deepEqual(problems({ canary: {} }), ["canary.stable: is required: the release serving most traffic"]);
            assert.deepEqual(problems({ canary: { stable: R(), shadow: true } }), ["canary.shadow: unknown property; expected one of stable, canary, canaryWeight, mirror, headerMatch, replicas"]);
            for (const w of [101, 2.5, "10", -1]) {
                assert.deepEqual(problems({ canary: { stable: R(), canary: R("2"), canaryWeight: w } }), [`canary.canaryWeight: must be an integer percentage from 0 to 100, got ${JSON.stringify(w)}`]);
            }
            assert.deepEqual(problems({ canary: { stable: R(), canaryWeight: 5 } }), [
                "canary.canaryWeight: is 5 but there is no canary release (canary.canary is empty); set it to 0 or add the candidate",
            ]);
            assert.deepEqual(problems({ canary: { stable: R(), mirror: "yes" } }), ['canary.mirror: must be true or false, got "yes"']);
            assert.deepEqual(problems({ canary: { stable: R(), headerMatch: { name: "x", value: 1 } } }), [
                'canary.headerMatch: must be { name: <HTTP header name>, value: <non-empty string> }, got {"name":"x","value":1}',
            ]);
            assert.deepEqual(problems({ canary: { stable: R(), headerMatch: { name: 1, value: "x" } } }).length, 1);
            assert.deepEqual(problems({ canary: { stable: R(), replicas: 0 } }), ["canary.replicas: must be an integer from 1 to 100, got 0"]);
            assert.deepEqual(problems({ canary: { stable: R(), replicas: 101 } }), ["canary.replicas: must be an integer from 1 to 100, got 101"]);
            assert.deepEqual(problems({ canary: { stable: "v1" } }).map((x) => x.split(":")[0]), ["canary.stable"]);
            assert.deepEqual(problems({ canary: { stable: R(), canary: "v2" } }).map((x) => x.split(":")[0]), ["canary.canary"]);
        });

        it("canary: defaults (weight 0, no mirror, x-model-track: canary, no pinned replicas), bounds accepted", () => {
            assert.deepEqual(ok({ canary: { stable: R() } }).canary, { stable: ok({}).canary!.stable, canaryWeight: 0, mirror: false, headerMatch: { name: "x-model-track", value: "canary" } });
            const full = ok({ canary: { stable: R(), canary: R("2"), canaryWeight: 100, mirror: true, replicas: 100, headerMatch: { name: "X-Canary", value: "1" } } }).canary!;
            assert.equal(full.canaryWeight, 100);
            assert.equal(full.mirror, true);
            assert.equal(full.replicas, 100);
            assert.equal(full.canary!.version, "2");
            assert.deepEqual(full.headerMatch, { name: "x-canary", value: "1" });
            assert.equal(ok({ canary: { stable: R(), canary: R("2"), canaryWeight: 1, replicas: 1 } }).canary!.replicas, 1);
            assert.equal("canary" in ok({ canary: { stable: R(), canary: null, canaryWeight: 0 } }).canary!, false, "a YAML-null candidate is no candidate");
        });

        it("both blocks are validated, whichever strategy is chosen", () => {
            assert.deepEqual(problems({ blueGreen: { active: "red", slots: { blue: R() } } }), ['blueGreen.active: must be "blue" or "green", got "red"']);
            assert.deepEqual(problems({ canary: { stable: R(), mirror: 1 } }, BLUE_GREEN), ["canary.mirror: must be true or false, got 1"]);
        });
    });

    describe("capacity", () => {
        it("a bad replicas is reported once (autoscaling is not compared with it)", () => {
            assert.deepEqual(problems({ replicas: 0, autoscaling: { maxReplicas: 4 } }), ["replicas: must be an integer from 1 to 100, got 0"]);
        });
        it("the GPU budget is planned for the routing in use: without a Gateway the pod ratio decides", () => {
            const gpu = { replicas: 2, gpus: 1, maxExtraGpus: 0, canary: { stable: R(), canary: R("2"), canaryWeight: 10, replicas: 1 } };
            assert.deepEqual(problems({ ...gpu, canary: { stable: R(), canary: R("2"), canaryWeight: 10 } }), [
                "canary.canaryWeight: without a Gateway, weight 10% is approximated by 1 canary pod(s) beside 2 stable; that is 1 extra GPUs (1 per pod) but maxExtraGpus is 0; lower the weight, raise maxExtraGpus or route through a Gateway",
            ]);
            assert.ok(problems({ ...gpu, gateway: { mode: "install" } }).every((x) => !x.includes("without a Gateway")));
        });
        it("two full blue-green slots must fit the GPU budget; one slot does", () => {
            const gpu = { replicas: 2, gpus: 1, maxExtraGpus: 1 };
            assert.deepEqual(problems(gpu, BLUE_GREEN), [
                "maxExtraGpus: blue-green with both slots holding a release needs a second full slot: 2 replicas × 1 GPUs = 2 extra GPUs, but maxExtraGpus is 1; raise maxExtraGpus, empty the idle slot, or use the canary strategy",
            ]);
            assert.equal(ok({ ...gpu, blueGreen: { active: "blue", slots: { blue: R() } } }, BLUE_GREEN).gpus, 1);
            assert.equal(ok({ ...gpu, blueGreen: { active: "green", slots: { green: R() } } }, BLUE_GREEN).gpus, 1);
        });
        it("replicas: an integer from 1 to 100", () => {
            for (const r of [0, 101, 1.5]) assert.deepEqual(problems({ replicas: r }), [`replicas: must be an integer from 1 to 100, got ${r}`]);
            assert.equal(ok({ replicas: 100 }).replicas, 100);
            assert.equal(ok({ replicas: 1 }).replicas, 1);
        });
        it("autoscaling: maxReplicas required and at least replicas, target CPU 1..100 (default 70), false = off", () => {
            assert.deepEqual(problems({ autoscaling: "on" }), ['autoscaling: must be { maxReplicas, targetCpuUtilization? } or false, got "on"']);
            // `autoscaling: {}` (or a YAML-null maxReplicas) used to be accepted and silently dropped: no HPA at all.
            assert.deepEqual(problems({ autoscaling: {} }), ["autoscaling.maxReplicas: is required: the HPA maximum per track, an integer from 1 to 1000"]);
            assert.deepEqual(problems({ autoscaling: { maxReplicas: null, targetCpuUtilization: 50 } }), ["autoscaling.maxReplicas: is required: the HPA maximum per track, an integer from 1 to 1000"]);
            assert.deepEqual(problems({ autoscaling: { maxReplicas: 1001 } }), ["autoscaling.maxReplicas: must be an integer from 1 to 1000, got 1001"]);
            assert.deepEqual(problems({ replicas: 3, autoscaling: { maxReplicas: 2 } }), ["autoscaling.maxReplicas: must be at least replicas (3), got 2"]);
            assert.deepEqual(problems({ autoscaling: { maxReplicas: 4, targetCpuUtilization: 101 } }), ["autoscaling.targetCpuUtilization: must be an integer from 1 to 100, got 101"]);
            assert.deepEqual(problems({ autoscaling: { maxReplicas: 4, min: 1 } }), ["autoscaling.min: unknown property; expected one of maxReplicas, targetCpuUtilization"]);
            assert.deepEqual(ok({ replicas: 3, autoscaling: { maxReplicas: 3 } }).autoscaling, { maxReplicas: 3, targetCpuUtilization: 70 });
            assert.deepEqual(ok({ autoscaling: { maxReplicas: 8, targetCpuUtilization: 50 } }).autoscaling, { maxReplicas: 8, targetCpuUtilization: 50 });
            assert.equal("autoscaling" in ok({ autoscaling: false }), false);
        });
        it("resources: Kubernetes quantities, defaults cpu 1 and memory 2Gi, limits only when given", () => {
            assert.deepEqual(ok({}).resources, { cpu: "1", memory: "2Gi" });
            assert.deepEqual(ok({ resources: { cpu: 2 } }).resources, { cpu: "2", memory: "2Gi" });
            assert.deepEqual(ok({ resources: { cpu: "500m", memory: "1Gi", cpuLimit: "1", memoryLimit: "1.5Gi" } }).resources, { cpu: "500m", memory: "1Gi", cpuLimit: "1", memoryLimit: "1.5Gi" });
            assert.deepEqual(problems({ resources: "big" }), ['resources: must be { cpu, memory, cpuLimit?, memoryLimit? }, got "big"']);
            assert.deepEqual(problems({ resources: { cpu: "lots", gpu: 1 } }), [
                "resources.gpu: unknown property; expected one of cpu, memory, cpuLimit, memoryLimit",
                'resources.cpu: must be a Kubernetes quantity (e.g. 500m, 2, 4Gi), got "lots"',
            ]);
            assert.deepEqual(problems({ resources: { memoryLimit: true } }), ["resources.memoryLimit: must be a Kubernetes quantity (e.g. 500m, 2, 4Gi), got true"]);
            assert.deepEqual(problems({ resources: { cpu: ["1"] } }), ['resources.cpu: must be a Kubernetes quantity (e.g. 500m, 2, 4Gi), got ["1"]']);
        });
        it("gpus 0..16; maxExtraGpus is a GPU budget (0 without GPUs)", () => {
            assert.deepEqual(problems({ gpus: 17 }), ["gpus: must be an integer from 0 to 16, got 17"]);
            assert.deepEqual(problems({ maxExtraGpus: 2 }), ["maxExtraGpus: is a GPU budget; it must be 0 when gpus is 0, got 2"]);
            assert.deepEqual(problems({ gpus: 1, maxExtraGpus: 10001 }), ["maxExtraGpus: must be an integer from 0 to 10000, got 10001"]);
            const c = ok({ gpus: 1, maxExtraGpus: 2 });
            assert.equal(c.gpus, 1);
            assert.equal(c.maxExtraGpus, 2);
        });
    });

    describe("gate", () => {
        it("thresholds and significance go to the gate validator; its problems carry the serving path", () => {
            const found = problems({ thresholds: { f1: { minRelativeChange: 0.02 } } });
            assert.ok(found.length > 0 && found.every((x) => x.startsWith("thresholds.f1")), found.join("\n"));
            const sig = problems({ significance: { alpha: 2 } });
            assert.ok(sig.length > 0 && sig.every((x) => x.startsWith("significance.alpha: ")), sig.join("\n"));
            const t = { f1: { threshold: 0.7, greaterIsBetter: true } };
            assert.deepEqual(ok({ thresholds: t }).gate, { thresholds: t });
        });
    });

    describe("alerts", () => {
        it("defaults: p99 1 s, 1% 5xx, for 10m; each key can be set alone", () => {
            assert.deepEqual(ok({}).alerts, { p99LatencySeconds: 1, errorRate5xx: 0.01, for: "10m" });
            assert.deepEqual(ok({ alerts: { for: "5m" } }).alerts, { p99LatencySeconds: 1, errorRate5xx: 0.01, for: "5m" });
            assert.deepEqual(ok({ alerts: { p99LatencySeconds: 600, errorRate5xx: 1, for: "1h" } }).alerts, { p99LatencySeconds: 600, errorRate5xx: 1, for: "1h" });
        });
        it("names each bad threshold", () => {
            assert.deepEqual(problems({ alerts: "strict" }), ['alerts: must be { p99LatencySeconds?, errorRate5xx?, for? }, got "strict"']);
            assert.deepEqual(problems({ alerts: { p99: 1 } }), ["alerts.p99: unknown property; expected one of p99LatencySeconds, errorRate5xx, for"]);
            for (const v of [0, 601, "1"]) {
                assert.deepEqual(problems({ alerts: { p99LatencySeconds: v } }), [`alerts.p99LatencySeconds: must be a number of seconds in (0, 600], got ${JSON.stringify(v)}`]);
            }
            for (const v of [0, 1.5, "1%", "0.5"]) {
                assert.deepEqual(problems({ alerts: { errorRate5xx: v } }), [`alerts.errorRate5xx: must be a fraction in (0, 1] (0.01 = 1%), got ${JSON.stringify(v)}`]);
            }
            for (const v of ["5 minutes", 5, "5d", ["5m"]]) {
                assert.deepEqual(problems({ alerts: { for: v } }), [`alerts.for: must be a Prometheus duration such as 5m, got ${JSON.stringify(v)}`]);
            }
        });
    });

    describe("runtime", () => {
        it("defaults to MLServer with 1 worker and no batching", () => {
            assert.deepEqual(ok({}).runtime, { kind: "mlserver", workers: 1, maxBatchSize: 1, maxBatchTimeSeconds: 0 });
            assert.deepEqual(ok({ runtime: {} }).runtime, { kind: "mlserver", workers: 1, maxBatchSize: 1, maxBatchTimeSeconds: 0 });
            assert.equal((ok({ runtime: { workers: 4 } }).runtime as { workers: number }).workers, 4);
            assert.equal((ok({ runtime: { workers: 64 } }).runtime as { workers: number }).workers, 64);
            assert.deepEqual(ok({ runtime: { kind: "mlserver", image: DIGEST, workers: 0, maxBatchSize: 10000, maxBatchTimeSeconds: 10 } }).runtime, {
                kind: "mlserver",
                image: DIGEST,
                workers: 0,
                maxBatchSize: 10000,
                maxBatchTimeSeconds: 10,
            });
        });
        it("names a bad kind, an unpinned image, and MLServer's bad settings", () => {
            assert.deepEqual(problems({ runtime: "mlflow" }), [
                'runtime: must be { kind: "mlserver", image?, workers?, maxBatchSize?, maxBatchTimeSeconds? }, { kind: "mlflow", image?, workers? } or { kind: "custom", image?, port?, ... }, got "mlflow"',
            ]);
            assert.deepEqual(problems({ runtime: { kind: "triton", workers: 2, port: 1 } }), ['runtime.kind: must be one of "mlserver", "mlflow", "custom", got "triton"']);
            assert.deepEqual(problems({ runtime: { kind: "mlflow", image: [DIGEST] } }), [`runtime.image: must be pinned by digest (<repository>@sha256:<64 hex>), got ["${DIGEST}"]`]);
            assert.deepEqual(problems({ runtime: { maxBatchTimeSeconds: "5" } }), ['runtime.maxBatchTimeSeconds: must be seconds in [0, 10], got "5"']);
            assert.deepEqual(problems({ runtime: { maxBatchSize: 8, maxBatchTimeSeconds: "0.5" } }), [
                'runtime.maxBatchTimeSeconds: must be seconds in [0, 10], got "0.5"',
                'runtime.maxBatchTimeSeconds: must be > 0 when maxBatchSize > 1 (how long MLServer waits to fill a batch), got "0.5"',
            ]);
            assert.deepEqual(problems({ runtime: { kind: "mlflow", image: "repo/server:latest" } }), ['runtime.image: must be pinned by digest (<repository>@sha256:<64 hex>), got "repo/server:latest"']);
            assert.deepEqual(problems({ runtime: { workers: 65 } }), ["runtime.workers: must be an integer from 0 to 64, got 65"]);
            assert.deepEqual(problems({ runtime: { maxBatchSize: 0 } }), ["runtime.maxBatchSize: must be an integer from 1 to 10000, got 0"]);
            assert.deepEqual(problems({ runtime: { maxBatchTimeSeconds: 11 } }), ["runtime.maxBatchTimeSeconds: must be seconds in [0, 10], got 11"]);
            assert.deepEqual(problems({ runtime: { maxBatchTimeSeconds: -1 } }), ["runtime.maxBatchTimeSeconds: must be seconds in [0, 10], got -1"]);
            assert.deepEqual(problems({ runtime: { maxBatchSize: 8 } }), [
                "runtime.maxBatchTimeSeconds: must be > 0 when maxBatchSize > 1 (how long MLServer waits to fill a batch), got 0",
            ]);
            assert.deepEqual(problems({ runtime: { port: 8080 } }), ["runtime.port: unknown property; expected one of kind, image, workers, maxBatchSize, maxBatchTimeSeconds"]);
            assert.equal(ok({ runtime: { maxBatchSize: 8, maxBatchTimeSeconds: 0.05 } }).runtime.kind, "mlserver");
        });
        it("mlflow: image and workers (1..64) only", () => {
            assert.deepEqual(ok({ runtime: { kind: "mlflow" } }).runtime, { kind: "mlflow" });
            assert.deepEqual(ok({ runtime: { kind: "mlflow", image: DIGEST, workers: 64 } }).runtime, { kind: "mlflow", image: DIGEST, workers: 64 });
            assert.deepEqual(problems({ runtime: { kind: "mlflow", workers: 0 } }), ["runtime.workers: must be an integer from 1 to 64, got 0"]);
            assert.deepEqual(problems({ runtime: { kind: "mlflow", maxBatchSize: 2 } }), ["runtime.maxBatchSize: unknown property; expected one of kind, image, workers"]);
        });
        it("custom: port 1024..65535 (default 8080), command/args lists, probe paths (default /ping, /health)", () => {
            assert.deepEqual(ok({ runtime: { kind: "custom" } }).runtime, { kind: "custom", port: 8080, livenessPath: "/ping", readinessPath: "/health" });
            assert.deepEqual(ok({ runtime: { kind: "custom", image: DIGEST, port: 9000, command: ["serve"], args: ["--x"], livenessPath: "/live", readinessPath: "/ready" } }).runtime, {
                kind: "custom",
                image: DIGEST,
                port: 9000,
                command: ["serve"],
                args: ["--x"],
                livenessPath: "/live",
                readinessPath: "/ready",
            });
            assert.deepEqual(problems({ runtime: { kind: "custom", port: 80 } }), ["runtime.port: must be an integer from 1024 to 65535, got 80"]);
            assert.deepEqual(problems({ runtime: { kind: "custom", command: "serve" } }), ['runtime.command: must be a list of strings, got "serve"']);
            assert.deepEqual(problems({ runtime: { kind: "custom", args: ["--x", 1] } }), ['runtime.args: must be a list of strings, got ["--x",1]']);
            assert.deepEqual(problems({ runtime: { kind: "custom", livenessPath: "ping" } }), ["runtime.livenessPath: must be an HTTP path starting with '/', got \"ping\""]);
            assert.deepEqual(problems({ runtime: { kind: "custom", readinessPath: 5 } }), ["runtime.readinessPath: must be an HTTP path starting with '/', got 5"]);
            assert.deepEqual(problems({ runtime: { kind: "custom", workers: 2 } }), ["runtime.workers: unknown property; expected one of kind, image, port, command, args, livenessPath, readinessPath"]);
        });
    });

    describe("predictionLog", () => {
        const mlserver = {};
        it("defaults: on in prod only, 10% sampled, predictions/, 500 rows, 30 s, 10000 queued, parquet", () => {
            const def = { sampleRate: 0.1, prefix: "predictions/", batchSize: 500, flushSeconds: 30, queueSize: 10000, excludeFields: [], format: "parquet" };
            assert.deepEqual(ok(mlserver).predictionLog, { enabled: false, ...def });
            assert.deepEqual(ok(mlserver, CANARY, { environment: "prod" }).predictionLog, { enabled: true, ...def });
            assert.deepEqual(ok({ predictionLog: { enabled: false } }, CANARY, { environment: "prod" }).predictionLog.enabled, false);
            assert.deepEqual(
                ok({ predictionLog: { enabled: true, sampleRate: 1, prefix: "logs/x/", batchSize: 100000, flushSeconds: 3600, queueSize: 1000000, excludeFields: ["ssn"], format: "jsonl" } }).predictionLog,
                { enabled: true, sampleRate: 1, prefix: "logs/x/", batchSize: 100000, flushSeconds: 3600, queueSize: 1000000, excludeFields: ["ssn"], format: "jsonl" },
            );
        });
        it("names each bad setting", () => {
            const bad = (pl: unknown) => problems({ predictionLog: pl });
            assert.deepEqual(bad("on"), ['predictionLog: must be { enabled?, sampleRate?, prefix?, batchSize?, flushSeconds?, queueSize?, excludeFields?, format? }, got "on"']);
            assert.deepEqual(bad({ rate: 1 }), ["predictionLog.rate: unknown property; expected one of enabled, sampleRate, prefix, batchSize, flushSeconds, queueSize, excludeFields, format"]);
            assert.deepEqual(bad({ enabled: "yes" }), ['predictionLog.enabled: must be true or false, got "yes"']);
            for (const v of [0, 1.01, "0.1"]) assert.deepEqual(bad({ sampleRate: v }), [`predictionLog.sampleRate: must be a fraction in (0, 1] (0.1 = every tenth request), got ${JSON.stringify(v)}`]);
            for (const v of ["predictions", "/predictions/", "date=1/", 5, ["logs/"]]) {
                assert.deepEqual(bad({ prefix: v }), [`predictionLog.prefix: must be an S3 key prefix ending in '/' (letters, digits, !_.*'()- and '/', no '='), got ${JSON.stringify(v)}`]);
            }
            assert.deepEqual(bad({ batchSize: 0 }), ["predictionLog.batchSize: must be an integer from 1 to 100000, got 0"]);
            for (const v of [0, 3601, "30"]) assert.deepEqual(bad({ flushSeconds: v }), [`predictionLog.flushSeconds: must be seconds in (0, 3600], got ${JSON.stringify(v)}`]);
            assert.deepEqual(bad({ queueSize: 1000001 }), ["predictionLog.queueSize: must be an integer from 1 to 1000000, got 1000001"]);
            for (const v of [["first name"], "ssn", [1]]) {
                assert.deepEqual(bad({ excludeFields: v }), [`predictionLog.excludeFields: must be a list of input field names (no commas or spaces), got ${JSON.stringify(v)}`]);
            }
            assert.deepEqual(bad({ format: "csv" }), ['predictionLog.format: must be "parquet" or "jsonl", got "csv"']);
        });
        it("logging needs the MLServer runtime (off elsewhere, even in prod, only when asked for)", () => {
            assert.deepEqual(problems({ runtime: { kind: "mlflow" }, predictionLog: { enabled: true } }), [
                'predictionLog.enabled: needs runtime.kind "mlserver" (the platform\'s server logs predictions), got runtime.kind "mlflow"; set predictionLog.enabled: false for this runtime',
            ]);
            assert.deepEqual(problems({ runtime: { kind: "custom" } }, CANARY, { environment: "prod" }).map((x) => x.split(":")[0]), ["predictionLog.enabled"]);
            // With the rest of the config invalid there is no runtime to compare with: only the real problem is reported.
            assert.deepEqual(problems({ replicas: 0, predictionLog: { enabled: true } }), ["replicas: must be an integer from 1 to 100, got 0"]);
            assert.equal(ok({ runtime: { kind: "custom" }, predictionLog: { enabled: false } }, CANARY, { environment: "prod" }).predictionLog.enabled, false);
        });
    });

    describe("analysis", () => {
        it("its problems carry the serving path", () => {
            const found = problems({ analysis: { windw: "10m" } });
            assert.ok(found.length === 1 && found[0].startsWith("analysis.windw: "), found.join("\n"));
        });
    });

    describe("served releases and images", () => {
        it("servedReleases: the filled slots, or stable and the candidate, of the chosen strategy only", () => {
            const both = { ...CANARY, canary: { stable: R("1"), canary: R("2"), canaryWeight: 5 }, blueGreen: { active: "blue", slots: { blue: R("7") } } };
            assert.deepEqual(servedReleases(ok({}, both)).map((r) => [r.path, r.release.version]), [["canary.stable", "1"], ["canary.canary", "2"]]);
            assert.deepEqual(servedReleases(ok({ strategy: "blueGreen" }, both)).map((r) => [r.path, r.release.version]), [["blueGreen.slots.blue", "7"]]);
            assert.deepEqual(servedReleases(ok({}, BLUE_GREEN)).map((r) => r.path), ["blueGreen.slots.blue", "blueGreen.slots.green"]);
            assert.deepEqual(servedReleases(ok({ blueGreen: { active: "green", slots: { green: R() } } }, BLUE_GREEN)).map((r) => r.path), ["blueGreen.slots.green"]);
            assert.deepEqual(servedReleases(ok({})).map((r) => r.path), ["canary.stable"]);
            assert.deepEqual(servedTracks(ok({ strategy: "blueGreen" }, both)).map((t) => t.track), ["blue"]);
            assert.deepEqual(servedTracks(ok({}, both)).map((t) => t.track), ["stable", "canary"]);
        });

        it("without a default image (component args), every served release needs one, named by the runtime's server", () => {
            const check = (raw: Record<string, unknown>) => {
                const p = new Problems("x");
                const r = checkServingCore(p, "s.", raw, "gateway");
                return { ok: r !== undefined, problems: p.list.map((x) => `${x.propertyPath}: ${x.reason}`) };
            };
            const noImage = (server: string, v = "1", at = "canary.stable") => `s.${at}.image: no image to serve m v${v}: set runtime.image (the ${server} image) or this release's image`;
            assert.deepEqual(check(CANARY), { ok: false, problems: [noImage("MLServer")] });
            assert.deepEqual(check({ ...CANARY, runtime: { kind: "mlflow" } }).problems, [noImage("MLflow serving")]);
            assert.deepEqual(check({ ...CANARY, runtime: { kind: "custom" } }).problems, [noImage("model server")]);
            assert.deepEqual(check({ ...BLUE_GREEN, runtime: { kind: "mlflow" } }).problems, [noImage("MLflow serving", "1", "blueGreen.slots.blue"), noImage("MLflow serving", "2", "blueGreen.slots.green")]);
            assert.deepEqual(check({ ...CANARY, runtime: { kind: "mlflow", image: DIGEST } }), { ok: true, problems: [] });
            assert.deepEqual(check({ ...CANARY, canary: { stable: R("1", { image: DIGEST }) } }), { ok: true, problems: [] });
            const p = new Problems("x");
            assert.notEqual(checkServingCore(p, "", CANARY, "gateway", true), undefined);
        });
    });

    describe("servedTracks: what the gating pack sees", () => {
        it("blue-green: each filled slot, the active one with 100% through the main Service", () => {
            const c = ok({ name: "credit", namespace: "ml" }, BLUE_GREEN);
            assert.deepEqual(servedTracks(c), [
                { track: "blue", release: c.blueGreen!.slots.blue, workload: "Deployment ml/credit-blue", percent: 100, via: "Service ml/credit", activeService: "Service ml/credit" },
                { track: "green", release: c.blueGreen!.slots.green, workload: "Deployment ml/credit-green", percent: 0, via: "Service ml/credit" },
            ]);
            const one = ok({ blueGreen: { active: "green", slots: { green: R("2") } } }, BLUE_GREEN);
            assert.deepEqual(servedTracks(one).map((t) => [t.track, t.percent]), [["green", 100]]);
        });
        it("canary with a Gateway: the route's weights", () => {
            const c = ok({ gateway: { mode: "install" }, canary: { stable: R(), canary: R("2"), canaryWeight: 10 } });
            assert.deepEqual(servedTracks(c), [
                { track: "stable", release: c.canary!.stable, workload: "Deployment ml-serving/model-stable", percent: 90, via: "HTTPRoute ml-serving/model rules[1]" },
                { track: "canary", release: c.canary!.canary, workload: "Deployment ml-serving/model-canary", percent: 10, via: "HTTPRoute ml-serving/model rules[1]" },
            ]);
            const alone = ok({ gateway: { mode: "install" } });
            assert.deepEqual(servedTracks(alone), [{ track: "stable", release: alone.canary!.stable, workload: "Deployment ml-serving/model-stable", percent: 100, via: "HTTPRoute ml-serving/model rules[0]" }]);
        });
        it("canary without a Gateway: the pod ratio behind the shared Service", () => {
            const c = ok({ replicas: 3, canary: { stable: R(), canary: R("2"), canaryWeight: 10 } });
            assert.deepEqual(
                servedTracks(c).map((t) => [t.track, t.percent, t.via]),
                [
                    ["stable", 75, "Service ml-serving/model (replica ratio)"],
                    ["canary", 25, "Service ml-serving/model (replica ratio)"],
                ],
            );
        });
    });
});
