// Model releases as they travel through stack config to serving: typed validation (a served
// version must be immutable), normalisation, and the replica / GPU budget math of a rollout.
import { ModelRelease } from "../release-contract/annotations";
import { Problems, describe } from "./validation";

export { ModelRelease };

/** `models:/<name>/<version number>`: the only registry reference that cannot move. */
export const MODELS_URI_RE = /^models:\/([^/@]+)\/([1-9][0-9]*)$/;
/** A digest-pinned reference (`...@sha256:<64 hex>`), for images and digest-pinned model URIs. */
export const DIGEST_RE = /@sha256:[a-f0-9]{64}$/;
/** MLflow registry versions are positive integers assigned at registration. */
const VERSION_RE = /^[1-9][0-9]*$/;
/** MLflow's (deprecated) stages: they name whichever version currently holds the stage. */
const STAGES = ["none", "staging", "production", "archived"];

/**
 * Why `version` is not an immutable registry version, or undefined when it is. `latest`, stages
 * and aliases (`champion`, `@champion`) all name whatever version they point to today.
 */
export function mutableVersionReason(version: string): string | undefined {
    if (VERSION_RE.test(version)) {
        return undefined;
    }
    const v = version.toLowerCase();
    if (v === "latest") {
        return `'latest' resolves to a different version after every registration; use the version number`;
    }
    if (STAGES.includes(v)) {
        return `'${version}' is a registry stage, which can point to another version; use the version number`;
    }
    if (version.startsWith("@") || /^[A-Za-z]/.test(version)) {
        return `'${version}' looks like an alias, which can be moved to another version; resolve it to its version number`;
    }
    return `must be a registry version number (1, 2, ...), got ${describe(version)}`;
}

/**
 * Why `uri` is not an immutable model reference, or undefined when it is: `models:/<name>/<n>` or
 * an `@sha256:` digest. Same semantics as the gating pack's `model-ref-immutable` policy.
 */
export function mutableModelUriReason(uri: string): string | undefined {
    if (MODELS_URI_RE.test(uri) || DIGEST_RE.test(uri)) {
        return undefined;
    }
    const m = /^models:\/([^/@]+)(?:\/([^/]+)|@(.+))$/.exec(uri);
    if (m?.[3] !== undefined) {
        return `'${uri}' names the alias '@${m[3]}', which can be moved to another version`;
    }
    if (m?.[2] !== undefined) {
        return m[2].toLowerCase() === "latest"
            ? `'${uri}' resolves 'latest', which changes with every registration`
            : `'${uri}' names the stage '${m[2]}', which can point to another version`;
    }
    return `'${uri}' is neither models:/<name>/<version> nor pinned by @sha256 digest`;
}

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Accepts a version written as a YAML number (`7`) or string (`"7"`). */
function versionString(v: unknown): string | undefined {
    if (typeof v === "number" && Number.isInteger(v)) {
        return String(v);
    }
    return typeof v === "string" ? v.trim() : undefined;
}

function checkMetricMap(p: Problems, path: string, raw: unknown, required: boolean): Record<string, number> | undefined {
    if (raw === undefined && !required) {
        return undefined;
    }
    if (!isObject(raw)) {
        p.add(path, `must be a map of metric name to number, got ${describe(raw)}`);
        return undefined;
    }
    const out: Record<string, number> = {};
    for (const [name, value] of Object.entries(raw)) {
        // The annotation key `mlops.platform/baseline-metric.<name>` must stay a valid name (<= 63).
        if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name) || name.length > 40) {
            p.add(`${path}.${name}`, "metric names use letters, digits, '-', '_' and '.', at most 40 characters");
        } else if (typeof value !== "number" || !Number.isFinite(value)) {
            p.add(`${path}.${name}`, `must be a finite number, got ${describe(value)}`);
        } else {
            out[name] = value;
        }
    }
    return out;
}

function checkPositiveInt(p: Problems, path: string, raw: unknown): number | undefined {
    if (raw === undefined) {
        return undefined;
    }
    return p.check(typeof raw === "number" && Number.isInteger(raw) && raw > 0, path, `must be a positive integer, got ${describe(raw)}`)
        ? (raw as number)
        : undefined;
}

/**
 * Validates and normalises one release into `p` (paths prefixed with `path`), returning it when
 * valid. Normalisation: versions become strings, strings are trimmed, a missing `modelUri` becomes
 * `models:/<model>/<version>`. Rejected: `latest`, stages and aliases as version or URI, a URI
 * naming another model or version, an image not pinned by digest, unknown properties.
 */
export function checkModelRelease(p: Problems, path: string, raw: unknown): ModelRelease | undefined {
    if (!isObject(raw)) {
        p.add(path, `must be a release { model, version, modelUri?, image?, metrics, baseline?, evaluation?, approvedBy? }, got ${describe(raw)}`);
        return undefined;
    }
    const before = p.list.length;
    const known = ["model", "version", "modelUri", "image", "metrics", "baseline", "evaluation", "approvedBy"];
    for (const k of Object.keys(raw)) {
        p.check(known.includes(k), `${path}.${k}`, `unknown property; expected one of ${known.join(", ")}`);
    }
    const model = typeof raw.model === "string" ? raw.model.trim() : undefined;
    p.check(
        model !== undefined && model !== "" && !/[/@\s]/.test(model),
        `${path}.model`,
        `must be a registered model name without '/', '@' or spaces, got ${describe(raw.model)}`,
    );
    const version = versionString(raw.version);
    if (version === undefined || version === "") {
        p.add(`${path}.version`, `is required: the registry version number, got ${describe(raw.version)}`);
    } else {
        const reason = mutableVersionReason(version);
        if (reason) {
            p.add(`${path}.version`, `is not immutable: ${reason}`);
        }
    }
    let modelUri = typeof raw.modelUri === "string" ? raw.modelUri.trim() : undefined;
    if (raw.modelUri !== undefined && modelUri === undefined) {
        p.add(`${path}.modelUri`, `must be a string, got ${describe(raw.modelUri)}`);
    } else if (modelUri === undefined && model && version) {
        modelUri = `models:/${model}/${version}`;
    } else if (modelUri !== undefined) {
        const reason = mutableModelUriReason(modelUri);
        const m = MODELS_URI_RE.exec(modelUri);
        if (reason) {
            p.add(`${path}.modelUri`, `is not immutable: ${reason}`);
        } else if (m && (m[1] !== model || m[2] !== version)) {
            p.add(`${path}.modelUri`, `'${modelUri}' does not match model '${model}' version '${version}'`);
        }
    }
    const image = raw.image;
    if (image !== undefined) {
        p.check(
            typeof image === "string" && DIGEST_RE.test(image),
            `${path}.image`,
            `must be pinned by digest (<repository>@sha256:<64 hex>), got ${describe(image)}`,
        );
    }
    const metrics = checkMetricMap(p, `${path}.metrics`, raw.metrics ?? {}, true);
    let baseline: ModelRelease["baseline"];
    if (raw.baseline !== undefined) {
        if (!isObject(raw.baseline)) {
            p.add(`${path}.baseline`, `must be { version, metrics, samples? }, got ${describe(raw.baseline)}`);
        } else {
            const b = raw.baseline;
            for (const k of Object.keys(b)) {
                p.check(["version", "metrics", "samples"].includes(k), `${path}.baseline.${k}`, "unknown property; expected version, metrics, samples");
            }
            const bv = versionString(b.version);
            const bReason = bv ? mutableVersionReason(bv) : "is required";
            p.check(!bReason, `${path}.baseline.version`, bReason === "is required" ? "is required" : `is not immutable: ${bReason}`);
            const bm = checkMetricMap(p, `${path}.baseline.metrics`, b.metrics, true);
            const samples = checkPositiveInt(p, `${path}.baseline.samples`, b.samples);
            if (bv && bm) {
                baseline = { version: bv, metrics: bm, ...(samples !== undefined ? { samples } : {}) };
            }
        }
    }
    let evaluation: ModelRelease["evaluation"];
    if (raw.evaluation !== undefined) {
        if (!isObject(raw.evaluation)) {
            p.add(`${path}.evaluation`, `must be { samples }, got ${describe(raw.evaluation)}`);
        } else {
            const samples = checkPositiveInt(p, `${path}.evaluation.samples`, raw.evaluation.samples ?? null);
            if (samples !== undefined) {
                evaluation = { samples };
            }
        }
    }
    const approvedBy = raw.approvedBy;
    if (approvedBy !== undefined) {
        p.check(typeof approvedBy === "string" && approvedBy.trim() !== "", `${path}.approvedBy`, `must be a non-empty string, got ${describe(approvedBy)}`);
    }
    if (p.list.length > before) {
        return undefined;
    }
    return {
        model: model!,
        version: version!,
        modelUri: modelUri!,
        ...(typeof image === "string" ? { image } : {}),
        metrics: metrics!,
        ...(baseline ? { baseline } : {}),
        ...(evaluation ? { evaluation } : {}),
        ...(typeof approvedBy === "string" ? { approvedBy: approvedBy.trim() } : {}),
    };
}

/** Validates one release; throws InputPropertiesError naming each bad property under `path`. */
export function validateModelRelease(raw: unknown, path = "release"): ModelRelease {
    const p = new Problems("model release");
    const r = checkModelRelease(p, path, raw);
    p.throwIfAny();
    return r!;
}

/** `churn v7 (models:/churn/7)`: how a release is shown in plans and CLI output. */
export function describeRelease(r: ModelRelease | undefined): string {
    return r ? `${r.model} v${r.version} (${r.modelUri})` : "(none)";
}

// ---------------------------------------------------------------------------------------------
// Replica and GPU budget math
// ---------------------------------------------------------------------------------------------

/** Canary replicas a Gateway weight needs so the canary carries its share: ceil(weight/100 × replicas). */
export function canaryReplicasForWeight(weight: number, replicas: number): number {
    return weight <= 0 ? 0 : Math.ceil((weight * replicas) / 100);
}

/**
 * The replica-ratio fallback (no Gateway: one Service selects both tracks, kube-proxy spreads
 * connections evenly over ready endpoints, so a track's share is its share of the pods).
 *
 * Stable keeps its `replicas` and the canary is added beside it with c = round(w·s / (100 − w))
 * pods (at least 1 when w > 0), so the effective weight c / (s + c) is the closest ratio these pod
 * counts allow; weight 100 moves everything: stable 0, canary `replicas`. Precision: with s stable
 * pods the reachable weights are c/(s+c) — s = 2 gives 33%, 50%, 60%...; s = 3 gives 25%, 40%,
 * 50%...; 10% needs s ≥ 9. It is also per connection, not per request (keep-alive clients stick to
 * one pod), so treat it as an approximation and use a Gateway for small canary weights.
 */
export function replicaRatioSplit(weight: number, replicas: number): { stable: number; canary: number; effectiveWeight: number } {
    if (weight <= 0) {
        return { stable: replicas, canary: 0, effectiveWeight: 0 };
    }
    if (weight >= 100) {
        return { stable: 0, canary: replicas, effectiveWeight: 100 };
    }
    const canary = Math.max(1, Math.round((weight * replicas) / (100 - weight)));
    return { stable: replicas, canary, effectiveWeight: (100 * canary) / (replicas + canary) };
}

/** Where {@link planCapacity} reports problems (a Problems, or one that prefixes paths). */
export interface ProblemSink {
    add(propertyPath: string, reason: string): void;
}

/** What the budget math needs to know about a rollout. */
export interface CapacityInput {
    strategy: "blueGreen" | "canary";
    /** Serving replicas of the stable track / active slot (the HPA minimum when autoscaling). */
    replicas: number;
    /** HPA maximum when autoscaling (CPU canaries scale between 1 and this). */
    maxReplicas?: number;
    /** GPUs per replica (0 = CPU serving). */
    gpus: number;
    /** GPUs beyond the steady-state fleet (replicas × gpus) a rollout may use. */
    maxExtraGpus: number;
    /** Blue-green: both slots hold a release (the idle one stays up, full size, for instant rollback). */
    bothSlotsFilled?: boolean;
    /** Canary: a canary release exists. */
    hasCanary?: boolean;
    canaryWeight?: number;
    /** Canary pods when pinned explicitly (Gateway routing only). */
    canaryReplicas?: number;
    /** `gateway`: weights on an HTTPRoute; `replicaRatio`: the fallback. */
    routing: "gateway" | "replicaRatio";
}

/** Pods per track and GPUs used beyond the steady-state fleet. */
export interface CapacityPlan {
    /** Stable track / each blue-green slot: fixed pods, or the HPA minimum. */
    stableReplicas: number;
    /** Canary pods (fixed), or the HPA minimum when `canaryMaxReplicas` is set. */
    canaryReplicas: number;
    /** HPA maximum of the canary; undefined = fixed size (no HPA on the canary). */
    canaryMaxReplicas?: number;
    /** Canary traffic share actually delivered: the weight (Gateway) or the replica ratio. */
    effectiveCanaryWeight: number;
    /** GPUs the rollout holds beyond replicas × gpus. */
    extraGpus: number;
    /** Room left in the budget for one surge pod per rolling update (GPU serving only). */
    surgeAllowed: boolean;
}

/**
 * Sizes the tracks of a rollout and checks it against the GPU budget; problems are added to `p`
 * with paths relative to the serving settings (`maxExtraGpus`, `canary.canaryWeight`, ...).
 *
 * - Blue-green: two filled slots need a second full slot: replicas × gpus extra.
 * - Canary behind a Gateway: the canary Deployment has a fixed size that does not depend on the
 *   weight (so a weight change touches only the HTTPRoute). On GPUs it is sized from the budget,
 *   min(replicas, floor(maxExtraGpus / gpus)) unless pinned; on CPU it is pinned, or autoscaled
 *   from 1 to maxReplicas, or `replicas`. The weight must fit it: ceil(weight/100 × replicas) pods.
 * - Canary by replica ratio: see {@link replicaRatioSplit}; extra = (stable + canary − replicas) × gpus.
 */
export function planCapacity(p: ProblemSink, c: CapacityInput): CapacityPlan {
    const gpus = c.gpus;
    const perPod = (n: number) => n * gpus;
    if (c.strategy === "blueGreen") {
        const extra = c.bothSlotsFilled ? perPod(c.replicas) : 0;
        if (gpus > 0 && extra > c.maxExtraGpus) {
            p.add(
                "maxExtraGpus",
                `blue-green with both slots holding a release needs a second full slot: ${c.replicas} replicas × ${gpus} GPUs = ` +
                    `${extra} extra GPUs, but maxExtraGpus is ${c.maxExtraGpus}; raise maxExtraGpus, empty the idle slot, or use the canary strategy`,
            );
        }
        return {
            stableReplicas: c.replicas,
            canaryReplicas: 0,
            effectiveCanaryWeight: 0,
            extraGpus: extra,
            surgeAllowed: gpus === 0 || c.maxExtraGpus - extra >= gpus,
        };
    }
    const weight = c.hasCanary ? (c.canaryWeight ?? 0) : 0;
    if (!c.hasCanary) {
        return { stableReplicas: c.replicas, canaryReplicas: 0, effectiveCanaryWeight: 0, extraGpus: 0, surgeAllowed: gpus === 0 || c.maxExtraGpus >= gpus };
    }
    if (c.routing === "replicaRatio") {
        const split = replicaRatioSplit(weight, c.replicas);
        const extra = Math.max(0, perPod(split.stable + split.canary - c.replicas));
        if (gpus > 0 && extra > c.maxExtraGpus) {
            p.add(
                "canary.canaryWeight",
                `without a Gateway, weight ${weight}% is approximated by ${split.canary} canary pod(s) beside ${split.stable} stable; ` +
                    `that is ${extra} extra GPUs (${gpus} per pod) but maxExtraGpus is ${c.maxExtraGpus}; lower the weight, raise maxExtraGpus or route through a Gateway`,
            );
        }
        return {
            stableReplicas: split.stable,
            canaryReplicas: split.canary,
            effectiveCanaryWeight: split.effectiveWeight,
            extraGpus: extra,
            surgeAllowed: gpus === 0 || c.maxExtraGpus - extra >= gpus,
        };
    }
    let fixed: number;
    let max: number | undefined;
    if (gpus > 0) {
        const fromBudget = Math.min(c.replicas, Math.floor(c.maxExtraGpus / gpus));
        fixed = c.canaryReplicas ?? fromBudget;
        if (c.canaryReplicas !== undefined && perPod(c.canaryReplicas) > c.maxExtraGpus) {
            p.add(
                "canary.replicas",
                `${c.canaryReplicas} canary replicas × ${gpus} GPUs = ${perPod(c.canaryReplicas)} extra GPUs, but maxExtraGpus is ${c.maxExtraGpus}`,
            );
        } else if (fixed === 0) {
            p.add(
                "maxExtraGpus",
                `a canary needs at least one extra replica (${gpus} GPUs) but maxExtraGpus is ${c.maxExtraGpus}; ` +
                    `raise maxExtraGpus to at least ${gpus} (the platform never assumes double GPU capacity)`,
            );
        }
    } else if (c.canaryReplicas !== undefined) {
        fixed = c.canaryReplicas;
    } else if (c.maxReplicas !== undefined) {
        fixed = 1;
        max = c.maxReplicas;
    } else {
        fixed = c.replicas;
    }
    const capacity = max ?? fixed;
    const needed = canaryReplicasForWeight(weight, c.replicas);
    if (fixed > 0 && needed > capacity) {
        p.add(
            "canary.canaryWeight",
            `weight ${weight}% of ${c.replicas} replicas needs ceil(${weight}/100 × ${c.replicas}) = ${needed} canary replicas, but the canary ` +
                `can run ${capacity}${gpus > 0 ? ` (maxExtraGpus ${c.maxExtraGpus} / ${gpus} GPUs per replica)` : ""}; ` +
                `lower the weight${gpus > 0 ? " or raise maxExtraGpus" : " or raise canary.replicas"}`,
        );
    }
    const extra = perPod(max ?? fixed);
    return {
        stableReplicas: c.replicas,
        canaryReplicas: fixed,
        ...(max !== undefined ? { canaryMaxReplicas: max } : {}),
        effectiveCanaryWeight: weight,
        extraGpus: gpus > 0 ? extra : 0,
        surgeAllowed: gpus === 0 || c.maxExtraGpus - extra >= gpus,
    };
}
