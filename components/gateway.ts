import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RESTRICTED_NAMESPACE_LABELS } from "./k8s-security";
import { parseCidr } from "./network";
import { DNS_LABEL, Problems, checkDnsLabel, checkOneOf, describe } from "./validation";

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
/** API of Envoy Gateway's own resources (EnvoyProxy, SecurityPolicy). */
export const ENVOY_GATEWAY_API_VERSION = "gateway.envoyproxy.io/v1alpha1";

/**
 * Annotations on the proxy Service that decide what load balancer AWS creates. Both the AWS Load
 * Balancer Controller (`…-scheme`) and the in-tree cloud provider (`…-internal`) read them; without
 * either, AWS creates an internet-facing load balancer.
 * https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/
 */
export const LB_SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme";
export const LB_INTERNAL_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-internal";
/** ACM certificate the load balancer terminates TLS with, and the ports it applies to. */
export const LB_SSL_CERT_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert";
export const LB_SSL_PORTS_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports";
export const LB_BACKEND_PROTOCOL_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-backend-protocol";

export const LB_SCHEMES = ["internal", "internet-facing"] as const;
export type LoadBalancerScheme = (typeof LB_SCHEMES)[number];
export const GATEWAY_TLS_MODES = ["none", "acm", "secret", "certManager"] as const;
export type GatewayTlsMode = (typeof GATEWAY_TLS_MODES)[number];

/**
 * How the Gateway's clients get TLS:
 * - `none`: one HTTP listener on port 80 (dev; the policy `gateway-https` refuses it where TLS is required);
 * - `acm`: the AWS load balancer terminates TLS on 443 with an ACM certificate and forwards to an
 *   HTTP listener on 443 inside the VPC;
 * - `secret`: an HTTPS listener on 443 terminating with a kubernetes.io/tls Secret in the Gateway namespace;
 * - `certManager`: the same, the Secret issued by cert-manager's gateway-shim from the Gateway's
 *   `cert-manager.io/(cluster-)issuer` annotation (cert-manager must be installed).
 */
export interface GatewayTls {
    mode: GatewayTlsMode;
    /** acm: certificate ARN (`arn:aws:acm:<region>:<account>:certificate/<id>`). */
    certificateArn?: string;
    /** secret: the Secret's name; certManager: the Secret to issue into. Default `<gateway>-tls` for certManager. */
    secretName?: string;
    /** certManager: issuer name. */
    issuerName?: string;
    /** certManager: `ClusterIssuer` (default) or `Issuer`. */
    issuerKind?: "ClusterIssuer" | "Issuer";
}

/** The cloud load balancer in front of the proxies. */
export interface GatewayLoadBalancer {
    /** `internal` (default): reachable from the VPC (and peered networks) only. */
    scheme?: LoadBalancerScheme;
    /** Client CIDRs allowed through the load balancer (`loadBalancerSourceRanges`); required when internet-facing, never 0.0.0.0/0. */
    sourceRanges?: string[];
}

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
    /** Listeners. Default: derived from `tls` (one `http` listener on port 80 for `none`, one `https` listener on 443 otherwise). Excludes `tls`. */
    listeners?: GatewayListener[];
    /** TLS for clients. Default `{ mode: "none" }`. */
    tls?: GatewayTls;
    /** Hostname the default listener accepts (required for certManager, which issues a certificate for it). */
    hostname?: string;
    /** Load balancer of the proxy Service. Default internal, no source ranges. */
    loadBalancer?: GatewayLoadBalancer;
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
    tls: GatewayTls;
    loadBalancer: { scheme: LoadBalancerScheme; sourceRanges: string[] };
    /** Annotations of the proxy Service (scheme, TLS certificate). */
    serviceAnnotations: Record<string, string>;
    /** Gateway annotations (cert-manager issuer). */
    gatewayAnnotations: Record<string, string>;
}

const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;

/** Proxy Service annotations for a load balancer scheme and TLS mode (exported for tests and policies). */
export function proxyServiceAnnotations(scheme: LoadBalancerScheme, tls: GatewayTls): Record<string, string> {
    const a: Record<string, string> = { [LB_SCHEME_ANNOTATION]: scheme };
    if (scheme === "internal") a[LB_INTERNAL_ANNOTATION] = "true";
    if (tls.mode === "acm") {
        a[LB_SSL_CERT_ANNOTATION] = tls.certificateArn!;
        a[LB_SSL_PORTS_ANNOTATION] = "443";
        a[LB_BACKEND_PROTOCOL_ANNOTATION] = "tcp";
    }
    return a;
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
        for (const k of ["namespace", "chart", "gatewayClassName", "gatewayName", "listeners", "tls", "hostname", "loadBalancer"] as const) {
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
            tls: { mode: "none" },
            loadBalancer: { scheme: "internal", sourceRanges: [] },
            serviceAnnotations: {},
            gatewayAnnotations: {},
        };
    }
    const tls: GatewayTls = args.tls ?? { mode: "none" };
    const scheme = args.loadBalancer?.scheme ?? "internal";
    const sourceRanges = args.loadBalancer?.sourceRanges ?? [];
    const gatewayName = args.gatewayName ?? name;
    const gatewayAnnotations: Record<string, string> = {};
    if (checkOneOf(p, "tls.mode", tls.mode, GATEWAY_TLS_MODES)) {
        if (tls.mode === "acm") {
            p.check(typeof tls.certificateArn === "string" && ACM_ARN.test(tls.certificateArn), "tls.certificateArn", `is required for acm: an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>), got ${describe(tls.certificateArn)}`);
        } else if (tls.mode === "secret") {
            p.check(typeof tls.secretName === "string" && DNS_LABEL.test(tls.secretName), "tls.secretName", `is required for secret: a kubernetes.io/tls Secret in the Gateway namespace, got ${describe(tls.secretName)}`);
        } else if (tls.mode === "certManager") {
            p.check(typeof tls.issuerName === "string" && tls.issuerName !== "", "tls.issuerName", `is required for certManager: the cert-manager (Cluster)Issuer, got ${describe(tls.issuerName)}`);
            p.check(tls.issuerKind === undefined || tls.issuerKind === "ClusterIssuer" || tls.issuerKind === "Issuer", "tls.issuerKind", `must be "ClusterIssuer" or "Issuer", got ${describe(tls.issuerKind)}`);
            p.check(typeof args.hostname === "string" && args.hostname !== "", "hostname", "is required for certManager (the certificate is issued for it)");
            if (tls.secretName !== undefined) p.check(DNS_LABEL.test(tls.secretName), "tls.secretName", `must be a DNS label, got ${describe(tls.secretName)}`);
            gatewayAnnotations[tls.issuerKind === "Issuer" ? "cert-manager.io/issuer" : "cert-manager.io/cluster-issuer"] = tls.issuerName ?? "";
        }
    }
    if (args.hostname !== undefined) {
        p.check(typeof args.hostname === "string" && /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(args.hostname), "hostname", `must be a DNS name, got ${describe(args.hostname)}`);
    }
    if (args.listeners !== undefined) p.check(args.tls === undefined && args.hostname === undefined, "listeners", "excludes tls and hostname (set TLS on each listener instead)");
    if (checkOneOf(p, "loadBalancer.scheme", scheme, LB_SCHEMES) && scheme === "internet-facing") {
        p.check(sourceRanges.length > 0, "loadBalancer.sourceRanges", "must list the client CIDRs allowed to reach an internet-facing load balancer");
    }
    sourceRanges.forEach((c, i) => {
        const parsed = parseCidr(c);
        if (parsed?.prefix === 0 || c === "::/0") {
            p.add(`loadBalancer.sourceRanges[${i}]`, `must not be ${c}: the model API would be open to the whole internet`);
        } else {
            p.check(parsed !== undefined, `loadBalancer.sourceRanges[${i}]`, `must be an IPv4 CIDR with host bits zero (e.g. 203.0.113.0/24), got ${describe(c)}`);
        }
    });
    const host = args.hostname ? { hostname: args.hostname } : {};
    const defaultListeners: GatewayListener[] =
        tls.mode === "none"
            ? [{ name: "http", port: 80, protocol: "HTTP", ...host }]
            : tls.mode === "acm"
              ? // The load balancer terminates TLS on 443 and forwards plain HTTP inside the VPC.
                [{ name: "https", port: 443, protocol: "HTTP", ...host }]
              : [{ name: "https", port: 443, protocol: "HTTPS", tlsSecretName: tls.secretName ?? `${gatewayName}-tls`, ...host }];
    const s: GatewaySettings = {
        mode: "install",
        namespace: args.namespace ?? "envoy-gateway-system",
        proxyNamespace: args.namespace ?? "envoy-gateway-system",
        gatewayName,
        gatewayClassName: args.gatewayClassName ?? name,
        chart: {
            chart: args.chart?.chart ?? ENVOY_GATEWAY_CHART.chart,
            version: args.chart?.version ?? ENVOY_GATEWAY_CHART.version,
            values: args.chart?.values ?? {},
        },
        listeners: args.listeners ?? defaultListeners,
        tls,
        loadBalancer: { scheme, sourceRanges },
        serviceAnnotations: proxyServiceAnnotations(scheme, tls),
        gatewayAnnotations,
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
    /**
     * Ports the proxy pods listen on for the listeners (Envoy Gateway binds a listener port below
     * 1024 at port + 10000, so it needs no capability); empty for an existing Gateway.
     */
    public readonly proxyContainerPorts: number[];
    /** Namespace the proxies run in, as a plain value (for objects that need it at construction). */
    public readonly proxyNamespaceName: string;

    constructor(name: string, args: GatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:Gateway", name, {}, opts);
        const s = validateGatewayArgs(name, args);
        this.chartVersion = s.chart.version;
        this.proxyNamespaceName = s.proxyNamespace;
        this.proxyContainerPorts = s.listeners.map((l) => (l.port < 1024 ? l.port + 10000 : l.port));
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
        // The proxies' Service: which load balancer AWS creates (internal unless configured), who may
        // reach it, and the ACM certificate it terminates TLS with. Referenced by the GatewayClass.
        const proxyConfig = new k8s.apiextensions.CustomResource(
            `${name}-proxy-config`,
            {
                apiVersion: ENVOY_GATEWAY_API_VERSION,
                kind: "EnvoyProxy",
                metadata: { name: s.gatewayClassName, namespace: ns.metadata.name, labels },
                spec: {
                    provider: {
                        type: "Kubernetes",
                        kubernetes: {
                            envoyService: {
                                type: "LoadBalancer",
                                annotations: s.serviceAnnotations,
                                ...(s.loadBalancer.sourceRanges.length ? { loadBalancerSourceRanges: s.loadBalancer.sourceRanges } : {}),
                            },
                        },
                    },
                },
            },
            { ...k8sOpts, dependsOn: [chart] },
        );
        const gatewayClass = new k8s.apiextensions.CustomResource(
            `${name}-class`,
            {
                apiVersion: GATEWAY_API_VERSION,
                kind: "GatewayClass",
                metadata: { name: s.gatewayClassName, labels },
                spec: {
                    controllerName: ENVOY_GATEWAY_CONTROLLER,
                    description: `${name}: Envoy Gateway ${s.chart.version} for model serving`,
                    parametersRef: { group: "gateway.envoyproxy.io", kind: "EnvoyProxy", name: proxyConfig.metadata.name, namespace: ns.metadata.name },
                },
            },
            { ...k8sOpts, dependsOn: [chart, proxyConfig] },
        );
        const gateway = new k8s.apiextensions.CustomResource(
            `${name}-gateway`,
            {
                apiVersion: GATEWAY_API_VERSION,
                kind: "Gateway",
                metadata: {
                    name: s.gatewayName,
                    namespace: ns.metadata.name,
                    labels,
                    ...(Object.keys(s.gatewayAnnotations).length ? { annotations: s.gatewayAnnotations } : {}),
                },
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
        this.teardownDependencies = [gateway, gatewayClass, proxyConfig, chart, ns];
        this.registerOutputs({ parentRef: this.parentRef, proxyNamespace: this.proxyNamespace, gatewayClassName: this.gatewayClassName });
    }
}
