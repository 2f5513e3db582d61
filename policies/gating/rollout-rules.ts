// Rollout gates: how much traffic a release may get before (and after) it passed the gate.
// Traffic shares come from Gateway API HTTPRoute weights (rules[].backendRefs[].weight) and, where
// one Service selects several release workloads, from their replica ratio (the fallback
// ServingStack uses without a Gateway). Catalog row 80.
import { StackValidationPolicy } from "@pulumi/policy";
import {
    buildInventory,
    hpaFor,
    HttpRouteInfo,
    K8sInventory,
    serviceForBackend,
    ServiceInfo,
    WorkloadInfo,
    workloadsSelectedBy,
} from "../security/rules/k8s-inventory";
import { describeResource, globMatch, UNKNOWN, withDefaults } from "../security/rules/k8s-resources";
import { ANNOTATIONS, ENDPOINT_LABEL, TRACKS } from "../../release-contract/annotations";
import {
    BLUE_GREEN_RULE_DEFAULTS,
    BlueGreenRuleConfig,
    blueGreenSwitchRule,
    CANARY_WEIGHT_RULE_DEFAULTS,
    CanaryWeightRuleConfig,
    canaryWeightRule,
} from "../../release-contract/rules";
import { readRelease, ReleaseOnResource } from "./release-rules";

function releaseOf(w: WorkloadInfo): ReleaseOnResource | undefined {
    return readRelease(w.type, w.resource.props, w.resource.name);
}

/** Pods a workload runs for traffic-share purposes: literal replicas, else HPA minimum, else 1. */
function podWeight(inv: K8sInventory, w: WorkloadInfo): number {
    if (typeof w.replicas === "number") return w.replicas;
    const hpa = hpaFor(inv, w);
    if (hpa && typeof hpa.minReplicas === "number") return hpa.minReplicas;
    return 1;
}

/** Splits `share` among the workloads a Service selects, by pod count. */
function splitByPods(inv: K8sInventory, ws: WorkloadInfo[], share: number, into: Map<WorkloadInfo, number>): void {
    const pods = ws.map((w) => podWeight(inv, w));
    const total = pods.reduce((a, b) => a + b, 0);
    ws.forEach((w, i) => {
        const part = total > 0 ? (share * pods[i]) / total : share / ws.length;
        into.set(w, (into.get(w) ?? 0) + part);
    });
}

function routeName(r: HttpRouteInfo): string {
    return describeResource("HTTPRoute", r.meta);
}

function isServiceRef(ref: { kind: string; group: string }): boolean {
    return ref.kind === "Service" && (ref.group === "" || ref.group === "core");
}

export interface TrafficShare {
    workload: WorkloadInfo;
    /** Percentage of the traffic entering `via`. */
    percent: number;
    via: string;
}

/** Traffic shares per release workload, per route rule and per multi-workload Service not behind a route. */
export function trafficShares(inv: K8sInventory): { shares: TrafficShare[]; nonLiteralRoutes: HttpRouteInfo[] } {
    const shares: TrafficShare[] = [];
    const nonLiteralRoutes: HttpRouteInfo[] = [];
    const routed = new Set<ServiceInfo>();
    for (const route of inv.httpRoutes) {
        if (route.rules === UNKNOWN) {
            nonLiteralRoutes.push(route);
            continue;
        }
        route.rules.forEach((rule, i) => {
            if (rule.targeted) return; // opt-in traffic (header/query match), not a share of all requests
            const refs = rule.backendRefs;
            const total = refs.reduce((a, r) => a + Math.max(0, r.weight), 0);
            const into = new Map<WorkloadInfo, number>();
            for (const ref of refs) {
                if (!isServiceRef(ref)) continue;
                const svc = serviceForBackend(inv, route, ref);
                if (!svc) continue; // services-select-workloads reports dangling refs
                routed.add(svc);
                if (total <= 0 || ref.weight <= 0) continue;
                const ws = workloadsSelectedBy(inv, svc);
                if (ws.length) splitByPods(inv, ws, (100 * ref.weight) / total, into);
            }
            for (const [workload, percent] of into) {
                shares.push({ workload, percent, via: `${routeName(route)} rules[${i}]` });
            }
        });
    }
    for (const svc of inv.services) {
        if (routed.has(svc)) continue;
        const ws = workloadsSelectedBy(inv, svc).filter((w) => releaseOf(w));
        if (ws.length < 2) continue;
        const into = new Map<WorkloadInfo, number>();
        splitByPods(inv, ws, 100, into);
        for (const [workload, percent] of into) {
            shares.push({ workload, percent, via: `${describeResource("Service", svc.meta)} (replica ratio)` });
        }
    }
    return { shares, nonLiteralRoutes };
}

/** Canary traffic above the limit only for a release whose gate passed. */
export const canaryWeightLimit: StackValidationPolicy = {
    name: "canary-weight-limit",
    description:
        "A canary release may receive more than canaryMaxWeight percent of traffic (weights of HTTPRoute rules that are not " +
        "header/query-targeted, or replica ratio behind one Service) only when it is annotated " +
        `${ANNOTATIONS.gate}=pass. Mirrored traffic and opt-in header routes do not count.`,
    severity: "critical",
    enforcementLevel: "mandatory",
    tags: ["model-gating", "mlops", "rollout"],
    remediationSteps: "Lower the canary weight, or pass the gate (`mlops gate`) before shifting more traffic.",
    configSchema: {
        properties: {
            canaryMaxWeight: {
                type: "number",
                minimum: 0,
                maximum: 100,
                default: 10,
                description: "Largest traffic percentage for a release that has not passed the gate (dev 50, prod 10).",
            },
            limitedTracks: {
                type: "array",
                items: { type: "string", enum: [...TRACKS] },
                default: ["canary"],
                description: `${ANNOTATIONS.track} values the limit applies to.`,
            },
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<CanaryWeightRuleConfig>(CANARY_WEIGHT_RULE_DEFAULTS, args.getConfig<Partial<CanaryWeightRuleConfig>>());
        const inv = buildInventory(args.resources);
        const { shares, nonLiteralRoutes } = trafficShares(inv);
        for (const route of nonLiteralRoutes) {
            reportViolation(`${routeName(route)}: rules/backendRefs/weights are not literal values; canary weights cannot be verified`, route.resource.urn);
        }
        for (const s of shares) {
            const rel = releaseOf(s.workload);
            if (!rel) continue;
            const message = canaryWeightRule(rel.what, rel.parsed, s.percent, s.via, config, rel.nonLiteral.length > 0);
            if (message) reportViolation(message, s.workload.resource.urn);
        }
    },
};

/** The active Service may only select a slot whose release passed the gate. */
export const blueGreenSwitchGated: StackValidationPolicy = {
    name: "blue-green-switch-gated",
    description:
        `A Service that receives traffic (any Service not labelled ${ENDPOINT_LABEL}=preview nor matching previewServices, and any ` +
        "Service a catch-all HTTPRoute rule sends weight to) " +
        `may select a blue/green slot only if that slot's Deployment carries a release annotated ${ANNOTATIONS.gate}=pass.`,
    severity: "critical",
    enforcementLevel: "mandatory",
    tags: ["model-gating", "mlops", "rollout"],
    remediationSteps: "Keep the active selector on the current slot until the new slot's release passes `mlops gate`.",
    configSchema: {
        properties: {
            previewServices: {
                type: "array",
                items: { type: "string" },
                default: ["*-preview"],
                description: "Service name globs used only to test an idle slot (not routed by an HTTPRoute).",
            },
            slotTracks: {
                type: "array",
                items: { type: "string", enum: [...TRACKS] },
                default: ["blue", "green"],
                description: "Tracks that are blue/green slots.",
            },
        },
    },
    validateStack: (args, reportViolation) => {
        const config = withDefaults<BlueGreenRuleConfig>(BLUE_GREEN_RULE_DEFAULTS, args.getConfig<Partial<BlueGreenRuleConfig>>());
        const inv = buildInventory(args.resources);
        const routedWithWeight = new Set<ServiceInfo>();
        for (const route of inv.httpRoutes) {
            if (route.rules === UNKNOWN) continue;
            for (const rule of route.rules) {
                if (rule.targeted) continue; // a preview header reaches the idle slot on purpose
                for (const ref of rule.backendRefs) {
                    const svc = isServiceRef(ref) && ref.weight > 0 ? serviceForBackend(inv, route, ref) : undefined;
                    if (svc) routedWithWeight.add(svc);
                }
            }
        }
        for (const svc of inv.services) {
            const preview =
                svc.meta.labels[ENDPOINT_LABEL] === "preview" || config.previewServices.some((p) => globMatch(p, svc.meta.name));
            if (preview && !routedWithWeight.has(svc)) continue;
            for (const w of workloadsSelectedBy(inv, svc)) {
                const rel = releaseOf(w);
                if (!rel) continue;
                const message = blueGreenSwitchRule(describeResource("Service", svc.meta), rel.what, rel.parsed, config, rel.nonLiteral.length > 0);
                if (message) reportViolation(message, svc.resource.urn);
            }
        }
    },
};

export const rolloutPolicies: StackValidationPolicy[] = [canaryWeightLimit, blueGreenSwitchGated];
