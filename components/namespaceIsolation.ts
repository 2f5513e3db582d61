// Default-deny networking for one namespace: a NetworkPolicy that selects every pod for ingress and
// egress with no rules, one that lets every pod resolve names through the cluster DNS, and the
// narrow allows the namespace's workloads need, each named for what it opens.
// https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DNS_LABEL, Problems, describe } from "./validation";

type EgressRule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
type IngressRule = k8s.types.input.networking.v1.NetworkPolicyIngressRule;
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

/** Labels of the cluster DNS pods (CoreDNS as the EKS addon runs it) in kube-system. */
export const KUBE_DNS_LABELS = { "k8s-app": "kube-dns" } as const;
/** Where pods reach the EKS Pod Identity agent for credentials (host network, port 80). */
export const POD_IDENTITY_AGENT_CIDR = "169.254.170.23/32";

/** One allow policy: which pods (default all in the namespace) may send or receive what. */
export interface NetworkAllow {
    /** Policy name suffix (DNS label), e.g. `mlflow` → NetworkPolicy `allow-mlflow`. */
    name: string;
    /** Pods it applies to (matchLabels). Default: every pod in the namespace. */
    podSelector?: Record<string, string>;
    egress?: pulumi.Input<EgressRule>[];
    ingress?: pulumi.Input<IngressRule>[];
}

export interface NamespaceIsolationArgs {
    /** Kubernetes provider of the cluster. */
    provider: k8s.Provider;
    /** The namespace (it must exist or be created in the same deployment; pass it in `opts.dependsOn`). */
    namespace: string;
    /** Allow DNS (UDP and TCP 53) to the cluster DNS pods. Default true. */
    dns?: boolean;
    /** Allows beyond DNS. Default none: nothing gets in or out. */
    allows?: NetworkAllow[];
    labels?: Record<string, string>;
}

/** Validates the args; throws InputPropertiesError naming each bad property. */
export function validateNamespaceIsolationArgs(args: NamespaceIsolationArgs): void {
    const p = new Problems("NamespaceIsolation arguments");
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    p.check(typeof args.namespace === "string" && DNS_LABEL.test(args.namespace), "namespace", `must be a namespace name, got ${describe(args.namespace)}`);
    const seen = new Set<string>();
    (args.allows ?? []).forEach((a, i) => {
        p.check(typeof a.name === "string" && DNS_LABEL.test(a.name) && a.name !== "dns", `allows[${i}].name`, `must be a DNS label other than "dns", got ${describe(a.name)}`);
        p.check(!seen.has(a.name), `allows[${i}].name`, `duplicates '${a.name}'`);
        seen.add(a.name);
        p.check((a.egress?.length ?? 0) + (a.ingress?.length ?? 0) > 0, `allows[${i}]`, "must allow some egress or ingress");
    });
    p.throwIfAny();
}

/**
 * An address no packet comes from or goes to (TEST-NET-1, RFC 5737): the peer used when a CIDR list
 * turns out empty, because a rule with an empty `to`/`from` list would match every address.
 */
export const NO_ADDRESS = "192.0.2.0/32";

/** Peers for a list of CIDRs (an Output while the list is not known); an empty list allows nothing. */
export function cidrPeers(cidrs: pulumi.Input<pulumi.Input<string>[]>): pulumi.Output<Peer[]> {
    return pulumi.output(cidrs).apply((cs) => {
        const list = cs.filter((c) => typeof c === "string" && c !== "");
        return (list.length ? list : [NO_ADDRESS]).map((cidr) => ({ ipBlock: { cidr } }));
    });
}

/** A peer: pods (optionally selected) in the namespace with this name. */
export function namespacePeer(namespace: pulumi.Input<string>, podLabels?: Record<string, string>): Peer {
    return {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
        ...(podLabels ? { podSelector: { matchLabels: podLabels } } : {}),
    };
}

/** TCP ports of a rule. */
export function tcp(...ports: number[]): k8s.types.input.networking.v1.NetworkPolicyPort[] {
    return ports.map((port) => ({ protocol: "TCP", port }));
}

/**
 * NamespaceIsolation: default-deny ingress and egress for every pod of a namespace, DNS, and named
 * allows. A pod may then only open the connections an allow lists (NetworkPolicies are additive);
 * enforcement needs a CNI that implements them (MlCluster turns it on in the VPC CNI).
 */
export class NamespaceIsolation extends pulumi.ComponentResource {
    /** Names of the NetworkPolicies created in the namespace. */
    public readonly policyNames: string[];

    constructor(name: string, args: NamespaceIsolationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:NamespaceIsolation", name, {}, opts);
        validateNamespaceIsolationArgs(args);
        const k8sOpts = { parent: this, provider: args.provider };
        const labels = { "app.kubernetes.io/part-of": "mlops-platform", "app.kubernetes.io/managed-by": "pulumi", ...(args.labels ?? {}) };
        const ns = args.namespace;
        const policy = (role: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec) =>
            new k8s.networking.v1.NetworkPolicy(`${name}-${role}`, { metadata: { name: role, namespace: ns, labels }, spec }, k8sOpts);

        policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const names = ["default-deny"];
        if (args.dns ?? true) {
            policy("allow-dns", {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [
                    {
                        to: [namespacePeer("kube-system", { ...KUBE_DNS_LABELS })],
                        ports: [
                            { protocol: "UDP", port: 53 },
                            { protocol: "TCP", port: 53 },
                        ],
                    },
                ],
            });
            names.push("allow-dns");
        }
        for (const a of args.allows ?? []) {
            const types = [...(a.ingress?.length ? ["Ingress"] : []), ...(a.egress?.length ? ["Egress"] : [])];
            policy(`allow-${a.name}`, {
                podSelector: a.podSelector ? { matchLabels: a.podSelector } : {},
                policyTypes: types,
                ...(a.ingress?.length ? { ingress: a.ingress } : {}),
                ...(a.egress?.length ? { egress: a.egress } : {}),
            });
            names.push(`allow-${a.name}`);
        }
        this.policyNames = names;
        this.registerOutputs({});
    }
}
