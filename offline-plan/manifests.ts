// Kubernetes manifests from what the program declared, validated against the Kubernetes schemas
// (kubernetes-models, plus its Gateway API and prometheus-operator packages; Envoy Gateway's own
// kinds with the schemas in envoy-gateway-schemas.ts; Kueue's with its CRDs vendored from the
// pinned release, crd-schemas.ts).
import * as YAML from "yaml";
import { validateVendoredCrdObject } from "./crd-schemas";
import { validateEnvoyGatewayObject } from "./envoy-gateway-schemas";
import { RecordedResource, SECRET_PLACEHOLDER } from "./types";

export interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; [k: string]: unknown };
    [k: string]: unknown;
}

export interface ManifestCheck {
    manifest: Manifest;
    urn: string;
    /** Whether a schema was found for the kind. */
    schema: boolean;
    /** Validation errors (empty when valid). */
    errors: string[];
}

/** Types that are not single Kubernetes objects (charts, YAML bundles, providers). */
const NOT_OBJECTS = /^kubernetes:(helm\.sh|yaml|kustomize)\/|^pulumi:providers:/;

/** `kubernetes:apps/v1:Deployment` → `{ apiVersion: "apps/v1", kind: "Deployment" }`. */
export function apiVersionKind(type: string): { apiVersion: string; kind: string } | undefined {
    const m = /^kubernetes:([^/]+)\/([^:]+):(.+)$/.exec(type);
    if (!m || NOT_OBJECTS.test(type)) {
        return undefined;
    }
    const [, group, version, kind] = m;
    return { apiVersion: group === "core" ? version : `${group}/${version}`, kind };
}

/** The Kubernetes objects among the recorded resources, as the API server would receive them. */
export function toManifests(resources: RecordedResource[]): Array<{ urn: string; manifest: Manifest }> {
    const out: Array<{ urn: string; manifest: Manifest }> = [];
    for (const r of resources) {
        const gvk = apiVersionKind(r.type);
        if (!gvk || !r.custom) {
            continue;
        }
        const { apiVersion: _a, kind: _k, metadata, ...rest } = r.inputs;
        const outMeta = r.outputs.metadata ?? {};
        const manifest: Manifest = {
            apiVersion: gvk.apiVersion,
            kind: gvk.kind,
            metadata: {
                ...(metadata ?? {}),
                name: metadata?.name ?? outMeta.name,
                ...(outMeta.namespace || metadata?.namespace ? { namespace: metadata?.namespace ?? outMeta.namespace } : {}),
            },
            ...rest,
        };
        if (gvk.kind === "Secret") {
            for (const field of ["data", "stringData"]) {
                const values = manifest[field];
                if (values && typeof values === "object") {
                    manifest[field] = Object.fromEntries(Object.keys(values).map((k) => [k, SECRET_PLACEHOLDER]));
                } else if (values !== undefined) {
                    // The whole map was secret: its keys are not known either.
                    manifest[field] = { redacted: SECRET_PLACEHOLDER };
                }
            }
        }
        out.push({ urn: r.urn, manifest });
    }
    return out.sort((a, b) => (manifestFileName(a.manifest) < manifestFileName(b.manifest) ? -1 : 1));
}

/** Module path of the kubernetes-models class for an apiVersion/kind, if one exists. */
function modelModule(apiVersion: string, kind: string): string | undefined {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    const candidates =
        group === ""
            ? [`kubernetes-models/${version}/${kind}`]
            : group === "gateway.networking.k8s.io"
              ? [`@kubernetes-models/gateway-api/${group}/${version}/${kind}`]
              : group === "monitoring.coreos.com"
                ? [`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`]
                : [`kubernetes-models/${group}/${version}/${kind}`];
    for (const c of candidates) {
        try {
            require.resolve(c);
            return c;
        } catch {
            // try the next
        }
    }
    return undefined;
}

/** Validates one manifest against its Kubernetes schema. */
export function validateManifest(manifest: Manifest): { schema: boolean; errors: string[] } {
    const envoy = validateEnvoyGatewayObject(manifest);
    if (envoy !== undefined) {
        return { schema: true, errors: envoy };
    }
    const vendored = validateVendoredCrdObject(manifest);
    if (vendored !== undefined) {
        return { schema: true, errors: vendored };
    }
    const mod = modelModule(manifest.apiVersion, manifest.kind);
    if (!mod) {
        return { schema: false, errors: [`no schema known for ${manifest.apiVersion} ${manifest.kind}`] };
    }
    const Model = require(mod)[manifest.kind];
    try {
        new Model(JSON.parse(JSON.stringify(manifest))).validate();
        return { schema: true, errors: [] };
    } catch (e: any) {
        const details: string[] = Array.isArray(e?.errors)
            ? e.errors.map((x: any) => `${x.instancePath ?? x.dataPath ?? ""} ${x.message ?? ""}`.trim())
            : [String(e?.message ?? e)];
        return { schema: true, errors: details };
    }
}

/** Renders and validates every Kubernetes object the program declared. */
export function checkManifests(resources: RecordedResource[]): ManifestCheck[] {
    return toManifests(resources).map(({ urn, manifest }) => ({ urn, manifest, ...validateManifest(manifest) }));
}

/** Deterministic file name: `<kind>-<namespace>-<name>.yaml` (cluster-scoped: `<kind>-<name>.yaml`). */
export function manifestFileName(m: Manifest): string {
    const parts = [m.kind.toLowerCase(), m.metadata.namespace, m.metadata.name].filter((p): p is string => typeof p === "string" && p !== "");
    return `${parts.join("-").replace(/[^A-Za-z0-9_.-]/g, "_")}.yaml`;
}

export function manifestYaml(m: Manifest): string {
    return YAML.stringify(m, { lineWidth: 0, sortMapEntries: false });
}
