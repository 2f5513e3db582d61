// Schemas of the Envoy Gateway resources the platform declares (EnvoyProxy, SecurityPolicy), for
// the offline plan's manifest check: kubernetes-models has no Envoy Gateway package. They cover
// only the fields the platform sets, each as the CRD defines it (envoyproxy/gateway
// api/v1alpha1: envoyproxy_types.go, shared_types.go KubernetesServiceSpec, securitypolicy_types.go,
// api_key_auth_types.go), and refuse any other field, so a misspelt key fails the plan instead of
// being dropped by the API server's pruning.
import Ajv, { ErrorObject } from "ajv";

const stringMap = { type: "object", additionalProperties: { type: "string" } };
const name = { type: "string", minLength: 1, maxLength: 253 };
const metadata = {
    type: "object",
    required: ["name"],
    properties: { name, namespace: { type: "string" }, labels: stringMap, annotations: stringMap },
};

const ENVOY_PROXY = {
    type: "object",
    required: ["apiVersion", "kind", "metadata", "spec"],
    properties: {
        apiVersion: { const: "gateway.envoyproxy.io/v1alpha1" },
        kind: { const: "EnvoyProxy" },
        metadata,
        spec: {
            type: "object",
            additionalProperties: false,
            properties: {
                provider: {
                    type: "object",
                    additionalProperties: false,
                    required: ["type"],
                    properties: {
                        type: { enum: ["Kubernetes", "Custom"] },
                        kubernetes: {
                            type: "object",
                            additionalProperties: false,
                            properties: {
                                envoyService: {
                                    type: "object",
                                    additionalProperties: false,
                                    properties: {
                                        type: { enum: ["ClusterIP", "LoadBalancer", "NodePort"] },
                                        annotations: stringMap,
                                        labels: stringMap,
                                        externalTrafficPolicy: { enum: ["Local", "Cluster"] },
                                        loadBalancerClass: { type: "string" },
                                        loadBalancerSourceRanges: { type: "array", items: { type: "string" } },
                                        loadBalancerSourceRangesPolicy: { enum: ["Allow", "Deny"] },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
};

const SECRET_REF = {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: { group: { type: "string" }, kind: { type: "string" }, name, namespace: { type: "string" } },
};

const SECURITY_POLICY = {
    type: "object",
    required: ["apiVersion", "kind", "metadata", "spec"],
    properties: {
        apiVersion: { const: "gateway.envoyproxy.io/v1alpha1" },
        kind: { const: "SecurityPolicy" },
        metadata,
        spec: {
            type: "object",
            additionalProperties: false,
            required: ["targetRefs"],
            properties: {
                targetRefs: {
                    type: "array",
                    minItems: 1,
                    items: {
                        type: "object",
                        additionalProperties: false,
                        required: ["group", "kind", "name"],
                        properties: { group: { type: "string" }, kind: { type: "string" }, name, sectionName: { type: "string" } },
                    },
                },
                apiKeyAuth: {
                    type: "object",
                    additionalProperties: false,
                    required: ["credentialRefs", "extractFrom"],
                    properties: {
                        credentialRefs: { type: "array", minItems: 1, items: SECRET_REF },
                        extractFrom: {
                            type: "array",
                            minItems: 1,
                            items: {
                                type: "object",
                                additionalProperties: false,
                                minProperties: 1,
                                maxProperties: 1,
                                properties: {
                                    headers: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
                                    params: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
                                    cookies: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
                                },
                            },
                        },
                        forwardClientIDHeader: { type: "string" },
                    },
                },
            },
        },
    },
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validators: Record<string, ReturnType<typeof ajv.compile>> = {
    EnvoyProxy: ajv.compile(ENVOY_PROXY),
    SecurityPolicy: ajv.compile(SECURITY_POLICY),
};

/** Validates an Envoy Gateway object; undefined when the kind is not one the platform declares. */
export function validateEnvoyGatewayObject(manifest: { apiVersion: string; kind: string }): string[] | undefined {
    if (manifest.apiVersion !== "gateway.envoyproxy.io/v1alpha1") return undefined;
    const validate = validators[manifest.kind];
    if (!validate) return undefined;
    if (validate(manifest)) return [];
    return (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || "/"} ${e.message ?? ""}${e.params && "additionalProperty" in e.params ? ` (${String((e.params as any).additionalProperty)})` : ""}`.trim());
}
