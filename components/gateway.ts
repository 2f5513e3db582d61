import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RESTRICTED_NAMESPACE_LABELS } from "./k8s-security";
import { DNS_LABEL, Problems, checkDnsLabel, describe } from "./validation";

/**
 * The Gateway API implementation the platform installs: Envoy Gateway's Helm chart, pinned. The
 * chart ships the Gateway API CRDs and the controller; the controller creates one Envoy proxy
 * Deployment + Service (type LoadBalancer) per Gateway in the controller's namespace.
 * https://gateway.envoyproxy.io/docs/install/install-helm/
 */
export const ENVOY_GATEWAY_CHART = { chart: "oci://docker.io/envoyproxy/gateway-helm", version: "v1.8.2" } as const;
/** `spec.controllerName` Envoy Gateway claims GatewayClasses by. */
export const ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller";
/** Namespaces carrying this label (value "true") may attach routes to the platform's Gateway. */
export const GATEWAY_ACCESS_LABEL = "mlops.platform/gateway-access";
export const GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1";

/** Where an HTTPRoute attaches: a Gateway, optionally one listener of it. */
export interface GatewayParentRef {
    name: string;
    namespace: string;
    /** Listener name; default: every listener that allows the route. */
    sectionName?: string;
}

export interface GatewayListener {
    /** Listener name (DNS label), the `sectionName` routes may name. */
    name: string;
    port: number;
    protocol: "HTTP" | "HTTPS";
    /** Only requests for this host (or wildcard) are accepted. */
    hostname?: string;
    /** HTTPS: Secret (kubernetes.io/tls) in the Gateway's namespace holding the certificate. */
    tlsSecretName?: string;
}

export interface GatewayArgs {
    /** Kubernetes provider of the cluster. Required: every k8s resource names its provider. */
    provider: k8s.Provider;
    /**
     * Attach to a Gateway that already exists instead of installing one; nothing is created.
     * `proxyNamespace` is where its proxies run (for NetworkPolicies); default its namespace.
     */
    existing?: GatewayParentRef & { proxyNamespace?: string };
    /** Namespace of the controller, its proxies and the Gateway (created). Default `envoy-gateway-system`. */
    namespace?: string;
    /** Chart reference and version. Default {@link ENVOY_GATEWAY_CHART}; values are passed through. */
    chart?: { chart?: string; version?: string; values?: Record<string, unknown> };
    /** GatewayClass name. Default `<name>`. */
    gatewayClassName?: string;
    /** Gateway name. Default `<name>`. */
    gatewayName?: string;
    /** Listeners. Default one `http` listener on port 80. */
    listeners?: GatewayListener[];
}

/** Settings after defaults; see {@link validateGatewayArgs}. */
export interface GatewaySettings {
    mode: "install" | "existing";
    namespace: string;
    proxyNamespace: string;
    gatewayName: string;
    gatewayClassName: string;
    sectionName?: string;
    chart: { chart: string; version: string; values: Record<string, unknown> };
    listeners: GatewayListener[];
}

/** Validates Gateway args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateGatewayArgs(name: string, args: GatewayArgs): GatewaySettings {
    const p = new Problems("Gateway arguments");
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    if (args.existing) {
        const e = args.existing;
        checkDnsLabel(p, "existing.name", e.name);
        checkDnsLabel(p, "existing.namespace", e.namespace);
        if (e.sectionName !== undefined) checkDnsLabel(p, "existing.sectionName", e.sectionName);
        if (e.proxyNamespace !== undefined) checkDnsLabel(p, "existing.proxyNamespace", e.proxyNamespace);
        for (const k of ["namespace", "chart", "gatewayClassName", "gatewayName", "listeners"] as const) {
            p.check(args[k] === undefined, k, "applies only when installing a Gateway; remove it or remove `existing`");
        }
        p.throwIfAny();
        return {
            mode: "existing",
            namespace: e.namespace,
            proxyNamespace: e.proxyNamespace ?? e.namespace,
            gatewayName: e.name,
            gatewayClassName: "",
            ...(e.sectionName ? { sectionName: e.sectionName } : {}),
            chart: { chart: "", version: "", values: {} },
            listeners: [],
        };
    }
    const s: GatewaySettings = {
        mode: "install",
        namespace: args.namespace ?? "envoy-gateway-system",
        proxyNamespace: args.namespace ?? "envoy-gateway-system",
        gatewayName: args.gatewayName ?? name,
        gatewayClassName: args.gatewayClassName ?? name,
        chart: {
            chart: args.chart?.chart ?? ENVOY_GATEWAY_CHART.chart,
            version: args.chart?.version ?? ENVOY_GATEWAY_CHART.version,
            values: args.chart?.values ?? {},
        },
        listeners: args.listeners ?? [{ name: "http", port: 80, protocol: "HTTP" }],
    };
    checkDnsLabel(p, "namespace", s.namespace);
    checkDnsLabel(p, "gatewayName", s.gatewayName);
    checkDnsLabel(p, "gatewayClassName", s.gatewayClassName);
    // A pinned chart: an exact semantic version, never a range or `latest`.
    p.check(/^v?[0-9]+\.[0-9]+\.[0-9]+$/.test(s.chart.version), "chart.version", `must be an exact chart version (e.g. ${ENVOY_GATEWAY_CHART.version}), got ${describe(s.chart.version)}`);
    p.check(s.listeners.length > 0, "listeners", "must hold at least one listener");
    const seen = new Set<string>();
    s.listeners.forEach((l, i) => {
        const at = `listeners[${i}]`;
        if (checkDnsLabel(p, `${at}.name`, l.name)) {
            p.check(!seen.has(l.name), `${at}.name`, `duplicates listener '${l.name}'`);
            seen.add(l.name);
        }
        p.check(Number.isInteger(l.port) && l.port >= 1 && l.port <= 65535, `${at}.port`, `must be a port number, got ${describe(l.port)}`);
        p.check(l.protocol === "HTTP" || l.protocol === "HTTPS", `${at}.protocol`, `must be "HTTP" or "HTTPS", got ${describe(l.protocol)}`);
        if (l.protocol === "HTTPS") {
            p.check(typeof l.tlsSecretName === "string" && DNS_LABEL.test(l.tlsSecretName), `${at}.tlsSecretName`, "is required for HTTPS (a kubernetes.io/tls Secret in the Gateway namespace)");
        }
    });
    p.throwIfAny();
    return s;
}

/**
 * Gateway: the entry point of model traffic. Installs a Gateway API implementation (Envoy Gateway,
 * from its pinned Helm chart via `helm.sh/v4` Chart, so policies see every object it renders), a
 * GatewayClass and a Gateway whose listeners accept HTTPRoutes from namespaces labelled
 * {@link GATEWAY_ACCESS_LABEL}; or references an existing Gateway.
 *
 * Teardown: the cloud load balancer is created by the controller (the proxy Service of type
 * LoadBalancer), not by Pulumi, so the order of deletion matters (data-on-eks#685). Pulumi deletes
 * dependents first: HTTPRoutes (they take `parentRef` from this component) → Gateway (the
 * controller, still running, deletes the proxy Service and its load balancer) → GatewayClass →
 * chart → the Namespace, whose deletion waits for any Service still carrying the load-balancer
 * cleanup finalizer → the cluster and network (every object here uses the cluster's provider).
 * Pass the controller that provisions load balancers (e.g. the AWS Load Balancer Controller) in
 * `opts.dependsOn` so it outlives the Gateway. {@link teardownDependencies} lists the resources a
 * consumer should `dependsOn` to be deleted before the Gateway.
 */
export class Gateway extends pulumi.ComponentResource {
    /** What an HTTPRoute puts in `parentRefs`. */
    public readonly parentRef: pulumi.Output<GatewayParentRef>;
    /** Namespace of the Gateway object. */
    public readonly namespace: pulumi.Output<string>;
    /** Namespace the proxies run in (allow it in NetworkPolicies of backends). */
    public readonly proxyNamespace: pulumi.Output<string>;
    /** GatewayClass name ("" for an existing Gateway). */
    public readonly gatewayClassName: pulumi.Output<string>;
    /** Resources dependents should `dependsOn` (empty for an existing Gateway). */
    public readonly teardownDependencies: pulumi.Resource[];
    /** Chart version installed ("" for an existing Gateway). */
    public readonly chartVersion: string;

    constructor(name: string, args: GatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:Gateway", name, {}, opts);
        const s = validateGatewayArgs(name, args);
        this.chartVersion = s.chart.version;
        if (s.mode === "existing") {
            this.parentRef = pulumi.output({ name: s.gatewayName, namespace: s.namespace, ...(s.sectionName ? { sectionName: s.sectionName } : {}) });
            this.namespace = pulumi.output(s.namespace);
            this.proxyNamespace = pulumi.output(s.proxyNamespace);
            this.gatewayClassName = pulumi.output("");
            this.teardownDependencies = [];
            this.registerOutputs({ parentRef: this.parentRef });
            return;
        }
        const k8sOpts = { parent: this, provider: args.provider };
        const labels = { "app.kubernetes.io/part-of": "mlops-platform", "app.kubernetes.io/managed-by": "pulumi" };
        const ns = new k8s.core.v1.Namespace(
            `${name}-ns`,
            { metadata: { name: s.namespace, labels: { ...labels, ...RESTRICTED_NAMESPACE_LABELS } } },
            k8sOpts,
        );
        const chart = new k8s.helm.v4.Chart(
            `${name}-controller`,
            {
                chart: s.chart.chart,
                version: s.chart.version,
                namespace: ns.metadata.name,
                values: s.chart.values,
            },
            { ...k8sOpts, dependsOn: [ns] },
        );
        const gatewayClass = new k8s.apiextensions.CustomResource(
            `${name}-class`,
            {
                apiVersion: GATEWAY_API_VERSION,
                kind: "GatewayClass",
                metadata: { name: s.gatewayClassName, labels },
                spec: { controllerName: ENVOY_GATEWAY_CONTROLLER, description: `${name}: Envoy Gateway ${s.chart.version} for model serving` },
            },
            { ...k8sOpts, dependsOn: [chart] },
        );
        const gateway = new k8s.apiextensions.CustomResource(
            `${name}-gateway`,
            {
                apiVersion: GATEWAY_API_VERSION,
                kind: "Gateway",
                metadata: { name: s.gatewayName, namespace: ns.metadata.name, labels },
                spec: {
                    gatewayClassName: s.gatewayClassName,
                    listeners: s.listeners.map((l) => ({
                        name: l.name,
                        port: l.port,
                        protocol: l.protocol,
                        ...(l.hostname ? { hostname: l.hostname } : {}),
                        ...(l.protocol === "HTTPS" ? { tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: l.tlsSecretName! }] } } : {}),
                        allowedRoutes: {
                            kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }],
                            namespaces: { from: "Selector", selector: { matchLabels: { [GATEWAY_ACCESS_LABEL]: "true" } } },
                        },
                    })),
                },
            },
            { ...k8sOpts, dependsOn: [gatewayClass, chart] },
        );
        // Read names back through the Gateway so routes depend on it (and are deleted before it).
        this.parentRef = pulumi
            .all([gateway.metadata.name, gateway.metadata.namespace])
            .apply(([n, namespace]) => ({ name: n, namespace: namespace ?? s.namespace }));
        this.namespace = this.parentRef.apply((r) => r.namespace);
        this.proxyNamespace = ns.metadata.name;
        this.gatewayClassName = pulumi.output(s.gatewayClassName);
        this.teardownDependencies = [gateway, gatewayClass, chart, ns];
        this.registerOutputs({ parentRef: this.parentRef, proxyNamespace: this.proxyNamespace, gatewayClassName: this.gatewayClassName });
    }
}
