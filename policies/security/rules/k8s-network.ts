// Stack policies relating Kubernetes objects to what makes them effective on a real cluster: the
// CNI that enforces NetworkPolicies, the load balancer and TLS in front of the Gateway, client
// authentication on model routes, and chart values the Pod Security profile and rule validation
// depend on (issue 12: each promise held on paper while the cluster ignored it).
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { K8S, lit, UNKNOWN, withDefaults } from "./k8s-resources";
import { isPlanned } from "./k8s-inventory";

export const EKS_ADDON_TYPE = "aws:eks/addon:Addon";
export const ENVOY_PROXY_TYPE = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy";
export const SECURITY_POLICY_TYPE = "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy";
export const GATEWAY_TYPE = "kubernetes:gateway.networking.k8s.io/v1:Gateway";
export const GATEWAY_CLASS_TYPE = "kubernetes:gateway.networking.k8s.io/v1:GatewayClass";
export const HTTP_ROUTE_TYPE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";
export const CHART_TYPE = "kubernetes:helm.sh/v4:Chart";
const ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller";

const SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme";
const INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal";
const SSL_CERT = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert";
const SSL_PORTS = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports";
const OPEN = ["0.0.0.0/0", "::/0"];

const read = <T>(get: () => T): T | undefined => {
    const v = lit(get);
    return v === UNKNOWN ? undefined : (v as T);
};
const isUnknown = (get: () => unknown): boolean => lit(get) === UNKNOWN;
const ofType = (resources: PolicyResource[], type: string) => resources.filter((r) => r.type === type);
const nsName = (r: PolicyResource) => {
    const ns = read(() => r.props.metadata?.namespace);
    const name = read(() => r.props.metadata?.name) ?? r.name;
    return { namespace: typeof ns === "string" ? ns : undefined, name: String(name) };
};

/** Parses an EKS addon's configurationValues (a JSON string, or YAML the API also takes if it is JSON). */
function addonConfig(raw: unknown): Record<string, any> | undefined {
    if (raw === undefined || raw === null || raw === "") return {};
    if (typeof raw !== "string") return typeof raw === "object" ? (raw as Record<string, any>) : undefined;
    try {
        const v = JSON.parse(raw);
        return typeof v === "object" && v !== null ? v : undefined;
    } catch {
        return undefined;
    }
}

const truthy = (v: unknown) => v === true || v === "true";
const falsy = (v: unknown) => v === false || v === "false";

/** Why a vpc-cni addon does not enforce NetworkPolicies, or undefined when it does. */
export function vpcCniEnforcementProblem(configurationValues: unknown): string | undefined {
    const cfg = addonConfig(configurationValues);
    if (cfg === undefined) return "configurationValues is not a JSON object";
    if (!truthy(cfg.enableNetworkPolicy)) {
        return `configurationValues.enableNetworkPolicy is ${cfg.enableNetworkPolicy === undefined ? "unset (default false)" : JSON.stringify(cfg.enableNetworkPolicy)}`;
    }
    if (falsy(cfg.nodeAgent?.enabled)) return "configurationValues.nodeAgent.enabled is false (no node agent programs the policies)";
    return undefined;
}

interface EnforcedConfig {
    requireManagedCni: boolean;
}

/**
 * NetworkPolicies only exist on paper unless the CNI enforces them: with the EKS VPC CNI that is the
 * addon's `enableNetworkPolicy` (off by default) and its node agent.
 */
export const eksNetworkPolicyEnforced: StackValidationPolicy = {
    name: "eks-network-policy-enforced",
    description:
        "A stack that declares Kubernetes NetworkPolicies manages a vpc-cni addon that enforces them " +
        "(configurationValues enableNetworkPolicy \"true\", node agent not disabled); otherwise every policy is silently ignored.",
    severity: "high",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "aws", "security", "network"],
    remediationSteps: 'Set the vpc-cni addon\'s configurationValues to {"enableNetworkPolicy":"true"} (MlCluster does).',
    configSchema: {
        properties: {
            requireManagedCni: {
                type: "boolean",
                default: false,
                description: "Also fail when the stack declares NetworkPolicies but no vpc-cni addon (the CNI is managed elsewhere).",
            },
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<EnforcedConfig>({ requireManagedCni: false }, args.getConfig<Partial<EnforcedConfig>>());
        const policies = ofType(args.resources, K8S.networkPolicy);
        if (policies.length === 0) return;
        const cnis = ofType(args.resources, EKS_ADDON_TYPE).filter((r) => read(() => r.props.addonName) === "vpc-cni");
        if (cnis.length === 0) {
            if (config.requireManagedCni) {
                reportViolation(`the stack declares ${policies.length} NetworkPolicies but manages no vpc-cni addon that enforces them`);
            }
            return;
        }
        for (const cni of cnis) {
            if (isUnknown(() => cni.props.configurationValues)) continue;
            const problem = vpcCniEnforcementProblem(read(() => cni.props.configurationValues));
            if (problem) {
                reportViolation(
                    `vpc-cni addon ${cni.name}: ${problem}; the stack's ${policies.length} NetworkPolicies (e.g. ${nsName(policies[0]).namespace}/${nsName(policies[0]).name}) would not be enforced`,
                    cni.urn,
                );
            }
        }
    },
};

/** Whether load-balancer annotations make AWS create an internal load balancer. */
export function isInternalLoadBalancer(annotations: Record<string, unknown> | undefined): boolean {
    const a = annotations ?? {};
    if (a[SCHEME] !== undefined) return a[SCHEME] === "internal";
    return a[INTERNAL] === "true" || a[INTERNAL] === true;
}

function lbProblem(annotations: Record<string, unknown> | undefined, ranges: unknown): string | undefined {
    if (isInternalLoadBalancer(annotations)) return undefined;
    const list = Array.isArray(ranges) ? ranges.map(String) : [];
    if (list.length === 0) return "internet-facing load balancer without loadBalancerSourceRanges (open to the whole internet)";
    const open = list.filter((c) => OPEN.includes(c) || /\/0$/.test(c));
    if (open.length) return `internet-facing load balancer open to ${open.join(", ")}`;
    return undefined;
}

/** Gateway classes of Envoy Gateway and the EnvoyProxy each points at (undefined: none). */
function envoyClasses(resources: PolicyResource[]) {
    const proxies = ofType(resources, ENVOY_PROXY_TYPE);
    return ofType(resources, GATEWAY_CLASS_TYPE)
        .filter((c) => read(() => c.props.spec?.controllerName) === ENVOY_GATEWAY_CONTROLLER)
        .map((c) => {
            const ref = read(() => c.props.spec?.parametersRef) as any;
            const proxy =
                ref && ref.kind === "EnvoyProxy"
                    ? proxies.find((p) => nsName(p).name === ref.name && (ref.namespace === undefined || nsName(p).namespace === ref.namespace))
                    : undefined;
            return { cls: c, name: String(read(() => c.props.metadata?.name) ?? c.name), ref, proxy, refUnknown: isUnknown(() => c.props.spec?.parametersRef) };
        });
}

/** The proxy Service settings of an EnvoyProxy. */
function envoyService(proxy: PolicyResource | undefined): { annotations: Record<string, unknown>; ranges: unknown; type: string } {
    const svc = (proxy ? read(() => proxy.props.spec?.provider?.kubernetes?.envoyService) : undefined) as any;
    return { annotations: svc?.annotations ?? {}, ranges: svc?.loadBalancerSourceRanges, type: svc?.type ?? "LoadBalancer" };
}

/** Public load balancers only with source CIDRs; Envoy Gateway classes say which load balancer they get. */
export const gatewayLoadBalancerRestricted: StackValidationPolicy = {
    name: "gateway-load-balancer-restricted",
    description:
        "Every LoadBalancer Service and every Envoy Gateway proxy Service (the EnvoyProxy its GatewayClass references) is internal " +
        "(aws-load-balancer-scheme: internal), or internet-facing with loadBalancerSourceRanges that exclude 0.0.0.0/0. " +
        "A GatewayClass without an EnvoyProxy gets Envoy Gateway's default: a public load balancer open to all.",
    severity: "high",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "aws", "security", "network"],
    remediationSteps: "Annotate the Service (or EnvoyProxy envoyService) with service.beta.kubernetes.io/aws-load-balancer-scheme: internal, or list client CIDRs in loadBalancerSourceRanges.",
    validateStack: (args, reportViolation) => {
        for (const svc of ofType(args.resources, K8S.service)) {
            if (read(() => svc.props.spec?.type) !== "LoadBalancer") continue;
            if (isUnknown(() => svc.props.metadata?.annotations) || isUnknown(() => svc.props.spec?.loadBalancerSourceRanges)) continue;
            const problem = lbProblem(read(() => svc.props.metadata?.annotations), read(() => svc.props.spec?.loadBalancerSourceRanges));
            if (problem) reportViolation(`Service ${nsName(svc).namespace}/${nsName(svc).name}: ${problem}`, svc.urn);
        }
        for (const c of envoyClasses(args.resources)) {
            if (c.refUnknown) continue;
            if (!c.proxy) {
                reportViolation(
                    `GatewayClass ${c.name}: no EnvoyProxy parametersRef in the stack, so its proxies get a default internet-facing load balancer open to all`,
                    c.cls.urn,
                );
                continue;
            }
            if (isUnknown(() => c.proxy!.props.spec)) continue;
            const svc = envoyService(c.proxy);
            if (svc.type !== "LoadBalancer") continue;
            const problem = lbProblem(svc.annotations, svc.ranges);
            if (problem) reportViolation(`EnvoyProxy ${nsName(c.proxy).namespace}/${nsName(c.proxy).name} (GatewayClass ${c.name}): ${problem}`, c.proxy.urn);
        }
    },
};

/** Ports an ACM certificate on the load balancer covers, from the ssl annotations (all when `*` or unset). */
function tlsTerminatedPorts(annotations: Record<string, unknown>): ((port: number) => boolean) | undefined {
    if (typeof annotations[SSL_CERT] !== "string" || annotations[SSL_CERT] === "") return undefined;
    const ports = annotations[SSL_PORTS];
    if (ports === undefined || ports === "*") return () => true;
    const list = String(ports).split(",").map((p) => p.trim());
    return (port: number) => list.includes(String(port));
}

interface HttpsConfig {
    requireTls: boolean;
}

/** Clients reach the Gateway over TLS only (an HTTPS listener, or the load balancer terminates TLS with ACM). */
export const gatewayHttps: StackValidationPolicy = {
    name: "gateway-https",
    description:
        "With requireTls (prod), every listener of a Gateway is HTTPS/TLS, or HTTP behind a load balancer that terminates TLS " +
        "on that port with an ACM certificate (EnvoyProxy envoyService aws-load-balancer-ssl-cert/-ssl-ports).",
    severity: "high",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "security", "network", "tls"],
    remediationSteps: "Set the stack's gatewayTls to acm, secret or certManager.",
    configSchema: { properties: { requireTls: { type: "boolean", default: false, description: "Require TLS on every Gateway listener." } } },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<HttpsConfig>({ requireTls: false }, args.getConfig<Partial<HttpsConfig>>());
        if (!config.requireTls) return;
        const classes = envoyClasses(args.resources);
        for (const gw of ofType(args.resources, GATEWAY_TYPE)) {
            const listeners = read(() => gw.props.spec?.listeners);
            if (!Array.isArray(listeners)) continue;
            const cls = classes.find((c) => c.name === read(() => gw.props.spec?.gatewayClassName));
            const terminated = tlsTerminatedPorts(envoyService(cls?.proxy).annotations);
            for (const l of listeners as any[]) {
                if (l?.protocol === "HTTPS" || l?.protocol === "TLS") continue;
                if (l?.protocol === "HTTP" && terminated?.(Number(l.port))) continue;
                reportViolation(
                    `Gateway ${nsName(gw).namespace}/${nsName(gw).name}: listener ${l?.name} is plain ${l?.protocol} on port ${l?.port} with no TLS in front of it`,
                    gw.urn,
                );
            }
        }
    },
};

const AUTH_KINDS = ["apiKeyAuth", "jwt", "basicAuth", "extAuth", "oidc"];

interface RouteAuthConfig {
    requireAuth: boolean;
    forbidHeaderMatches: boolean;
}

/** Model routes authenticate their clients; where configured, callers cannot choose the track by header. */
export const gatewayRouteAuth: StackValidationPolicy = {
    name: "gateway-route-auth",
    description:
        "With requireAuth (prod), every HTTPRoute is covered by an Envoy Gateway SecurityPolicy with client authentication " +
        "(apiKeyAuth, jwt, basicAuth, extAuth or oidc) targeting the route or its Gateway; with forbidHeaderMatches, no route rule " +
        "selects a backend by request header (callers could pick an unapproved model).",
    severity: "high",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "security", "network", "serving"],
    remediationSteps: "Set the stack's modelApiKeySecret (ServingStack creates the SecurityPolicy) and modelTrackHeader: false.",
    configSchema: {
        properties: {
            requireAuth: { type: "boolean", default: false, description: "Require client authentication on every HTTPRoute." },
            forbidHeaderMatches: { type: "boolean", default: false, description: "Refuse route rules that match on request headers." },
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<RouteAuthConfig>({ requireAuth: false, forbidHeaderMatches: false }, args.getConfig<Partial<RouteAuthConfig>>());
        // Objects without planned state (first preview through an unknown cluster's provider) are
        // unknown: an unplanned SecurityPolicy may cover any route, an unplanned route is judged at `up`.
        const unplannedPolicy = ofType(args.resources, SECURITY_POLICY_TYPE).some((p) => !isPlanned(p.props));
        const policies = ofType(args.resources, SECURITY_POLICY_TYPE)
            .filter((p) => AUTH_KINDS.some((k) => read(() => p.props.spec?.[k]) !== undefined))
            .map((p) => ({ ns: nsName(p).namespace, refs: (read(() => p.props.spec?.targetRefs) as any[]) ?? [] }));
        for (const route of ofType(args.resources, HTTP_ROUTE_TYPE).filter((r) => isPlanned(r.props))) {
            const { namespace, name } = nsName(route);
            if (config.requireAuth && !unplannedPolicy && !isUnknown(() => route.props.spec?.parentRefs)) {
                const parents = ((read(() => route.props.spec?.parentRefs) as any[]) ?? []).map((p) => ({ name: p?.name, namespace: p?.namespace ?? namespace }));
                const covered = policies.some((p) =>
                    p.refs.some(
                        (t) =>
                            (t?.kind === "HTTPRoute" && t?.name === name && p.ns === namespace) ||
                            (t?.kind === "Gateway" && parents.some((g) => g.name === t?.name && g.namespace === p.ns)),
                    ),
                );
                if (!covered) reportViolation(`HTTPRoute ${namespace}/${name}: no SecurityPolicy authenticates its clients`, route.urn);
            }
            if (config.forbidHeaderMatches && !isUnknown(() => route.props.spec?.rules)) {
                const rules = (read(() => route.props.spec?.rules) as any[]) ?? [];
                const byHeader = rules.filter((r) => (r?.matches ?? []).some((m: any) => Array.isArray(m?.headers) && m.headers.length > 0));
                for (const r of byHeader) {
                    const h = r.matches.find((m: any) => m?.headers?.length).headers[0];
                    reportViolation(
                        `HTTPRoute ${namespace}/${name}: a rule routes by request header ${h?.name}=${h?.value} to ${(r.backendRefs ?? []).map((b: any) => b?.name).join(", ")}; callers could select that backend`,
                        route.urn,
                    );
                }
            }
        }
    },
};

/** The value at a dotted path of chart values (undefined when absent). */
function valueAt(values: unknown, path: string): unknown {
    return path.split(".").reduce<any>((v, k) => (v && typeof v === "object" ? v[k] : undefined), values);
}

/**
 * kube-prometheus-stack values the platform's promises depend on, with the value each must have:
 * Grafana under Pod Security `restricted` (no root chown init container, seccomp everywhere) and
 * the prometheus-operator admission webhook (bad PrometheusRules rejected, not silently dropped).
 */
export const KUBE_PROMETHEUS_STACK_REQUIRED_VALUES: ReadonlyArray<{ path: string; want: unknown; why: string }> = [
    { path: "prometheusOperator.admissionWebhooks.enabled", want: true, why: "PrometheusRules are validated when applied (a bad rule is rejected, not dropped)" },
    { path: "prometheusOperator.tls.enabled", want: true, why: "the operator serves the admission webhook over TLS" },
    { path: "grafana.initChownData.enabled", want: false, why: "the chown init container runs as root with CHOWN, refused under Pod Security restricted" },
    { path: "grafana.securityContext.runAsNonRoot", want: true, why: "Pod Security restricted" },
    { path: "grafana.securityContext.seccompProfile.type", want: "RuntimeDefault", why: "Pod Security restricted" },
    { path: "grafana.containerSecurityContext.allowPrivilegeEscalation", want: false, why: "Pod Security restricted" },
    { path: "grafana.sidecar.securityContext.allowPrivilegeEscalation", want: false, why: "Pod Security restricted" },
    { path: "grafana.testFramework.enabled", want: false, why: "the chart's test Pod runs without the restricted security context" },
];

export const kubePrometheusStackHardening: StackValidationPolicy = {
    name: "kube-prometheus-stack-hardening",
    description:
        "A kube-prometheus-stack Chart keeps Grafana's pods within Pod Security restricted (no root chown init container, " +
        "seccomp, no privilege escalation, no test Pod) and the prometheus-operator admission webhook on.",
    severity: "high",
    enforcementLevel: "mandatory",
    tags: ["kubernetes", "security", "pod-security-standards", "monitoring"],
    remediationSteps: "Set the listed values (Monitoring's kubePrometheusStackValues does).",
    validateStack: (args, reportViolation) => {
        for (const chart of ofType(args.resources, CHART_TYPE)) {
            if (!String(read(() => chart.props.chart) ?? "").endsWith("kube-prometheus-stack")) continue;
            if (isUnknown(() => chart.props.values)) continue;
            const values = read(() => chart.props.values);
            for (const req of KUBE_PROMETHEUS_STACK_REQUIRED_VALUES) {
                const got = valueAt(values, req.path);
                if (got !== req.want) {
                    reportViolation(`Chart ${chart.name}: ${req.path} is ${got === undefined ? "unset (chart default)" : JSON.stringify(got)}, must be ${JSON.stringify(req.want)}: ${req.why}`, chart.urn);
                }
            }
        }
    },
};

export const networkStackPolicies: StackValidationPolicy[] = [
    eksNetworkPolicyEnforced,
    gatewayLoadBalancerRestricted,
    gatewayHttps,
    gatewayRouteAuth,
    kubePrometheusStackHardening,
];
