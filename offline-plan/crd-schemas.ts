// Schemas of custom resources the platform declares whose CRDs ship no kubernetes-models package,
// taken verbatim from the CRDs of the pinned releases (openAPIV3Schema of the storage version,
// committed under offline-plan/crds/<project>-<version>/ with the URL they came from; Kueue's from
// the release components/versions.ts KUEUE_CHART pins). They are
// validated with Ajv as the API server would, with one deliberate difference: a field the schema
// does not declare is an error here (the API server would silently prune it), so a misspelt key
// fails the plan instead of vanishing. CEL rules (x-kubernetes-validations) are not evaluated
// offline; the component validators cover the ones that matter to the platform (quota sizes).
import Ajv, { ErrorObject, ValidateFunction } from "ajv";
import kueueClusterQueues from "./crds/kueue-v0.19.2/clusterqueues.json";
import kueueLocalQueues from "./crds/kueue-v0.19.2/localqueues.json";
import kueueResourceFlavors from "./crds/kueue-v0.19.2/resourceflavors.json";
import kueueWorkloadPriorityClasses from "./crds/kueue-v0.19.2/workloadpriorityclasses.json";

/** A vendored CRD version: `offline-plan/crds/<dir>/<plural>.json`. */
interface VendoredCrd {
    source: string;
    group: string;
    kind: string;
    scope: "Namespaced" | "Cluster";
    version: string;
    versions: Array<{ name: string; served: boolean; storage: boolean; deprecated: boolean }>;
    openAPIV3Schema: Record<string, unknown>;
}

/** The vendored CRDs (imported as JSON so they ship inside dist/ with the CLI). */
const VENDORED_CRDS = [kueueResourceFlavors, kueueClusterQueues, kueueLocalQueues, kueueWorkloadPriorityClasses] as unknown as VendoredCrd[];

/**
 * OpenAPI v3 (Kubernetes structural schema) → JSON Schema for Ajv: int-or-string and nullable
 * become type unions, objects with declared properties refuse undeclared ones unless the schema
 * preserves unknown fields, and `metadata` is left to the API server (the CRD declares it as a
 * bare object).
 */
export function structuralToJsonSchema(s: any, atRoot = true): any {
    if (s === null || typeof s !== "object") {
        return s;
    }
    const out: any = {};
    for (const [k, v] of Object.entries(s)) {
        if (k === "properties") {
            out.properties = Object.fromEntries(Object.entries(v as object).map(([p, ps]) => [p, atRoot && p === "metadata" ? { type: "object" } : structuralToJsonSchema(ps, false)]));
        } else if (k === "items" || k === "additionalProperties" || k === "not") {
            out[k] = typeof v === "object" ? structuralToJsonSchema(v, false) : v;
        } else if (k === "anyOf" || k === "allOf" || k === "oneOf") {
            out[k] = (v as any[]).map((x) => structuralToJsonSchema(x, false));
        } else if (k === "format" || k.startsWith("x-kubernetes-") || k === "nullable") {
            // format: int32/int64/date-time are informative for the API server; CEL is not evaluated.
            continue;
        } else {
            out[k] = v;
        }
    }
    if (s["x-kubernetes-int-or-string"] === true) {
        delete out.type;
        if (!out.anyOf) {
            out.anyOf = [{ type: "integer" }, { type: "string" }];
        }
    }
    if (s.nullable === true && typeof out.type === "string") {
        out.type = [out.type, "null"];
    }
    if (out.type === "object" && out.properties && out.additionalProperties === undefined && s["x-kubernetes-preserve-unknown-fields"] !== true) {
        out.additionalProperties = false;
    }
    return out;
}

interface CompiledCrd {
    crd: VendoredCrd;
    validate: ValidateFunction;
}

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
let compiled: Map<string, CompiledCrd> | undefined;

/** `<group>/<version>/<kind>` → compiled schema, for every vendored CRD. */
function registry(): Map<string, CompiledCrd> {
    if (compiled) {
        return compiled;
    }
    compiled = new Map();
    for (const crd of VENDORED_CRDS) {
        compiled.set(`${crd.group}/${crd.version}/${crd.kind}`, { crd, validate: ajv.compile(structuralToJsonSchema(crd.openAPIV3Schema)) });
    }
    return compiled;
}

/** Kinds with a vendored CRD, as `<apiVersion> <kind>` (for docs and tests). */
export function vendoredCrdKinds(): string[] {
    return [...registry().values()].map((c) => `${c.crd.group}/${c.crd.version} ${c.crd.kind}`);
}

/** Where the schema of a vendored kind came from (CRD URL at the pinned tag). */
export function vendoredCrdSource(apiVersion: string, kind: string): string | undefined {
    return registry().get(`${apiVersion}/${kind}`)?.crd.source;
}

/**
 * Validates a manifest of a vendored CRD kind: undefined when its group has no vendored CRD,
 * else the errors (empty when valid). A version of a vendored group that is not vendored is an
 * error too (e.g. the deprecated kueue.x-k8s.io/v1beta1).
 */
export function validateVendoredCrdObject(manifest: { apiVersion: string; kind: string; metadata?: { namespace?: string } }): string[] | undefined {
    const reg = registry();
    const group = manifest.apiVersion.split("/")[0];
    const sameGroup = [...reg.values()].filter((c) => c.crd.group === group && c.crd.kind === manifest.kind);
    if (sameGroup.length === 0) {
        return [...reg.values()].some((c) => c.crd.group === group) ? [`no ${manifest.kind} in the vendored CRDs of ${group}`] : undefined;
    }
    const entry = reg.get(`${manifest.apiVersion}/${manifest.kind}`);
    if (!entry) {
        const c = sameGroup[0].crd;
        const known = c.versions.find((v) => `${c.group}/${v.name}` === manifest.apiVersion);
        return [
            `${manifest.apiVersion} ${manifest.kind} is ${known ? (known.deprecated ? "a deprecated version" : "not the storage version") : "not served"} in ${c.source.split("/blob/")[1]?.split("/")[0] ?? "the pinned release"}; use ${c.group}/${c.version}`,
        ];
    }
    const errors: string[] = [];
    const namespaced = entry.crd.scope === "Namespaced";
    if (namespaced !== (manifest.metadata?.namespace !== undefined)) {
        errors.push(`/metadata/namespace ${namespaced ? "is required (namespaced kind)" : "must not be set (cluster-scoped kind)"}`);
    }
    if (!entry.validate(manifest)) {
        errors.push(...(entry.validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${(e.params as any).additionalProperty})` : ""}`.trim()));
    }
    return errors;
}
