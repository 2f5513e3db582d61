// Security group rules (policy catalog row 59).

import * as aws from "@pulumi/aws";
import { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";

import { validateStackWith } from "./aws-stack";
import { configSchema, globMatch, list, num, read, settings, str, strings, UNKNOWN, where } from "./aws-values";

const OPEN = ["0.0.0.0/0", "::/0"];

const publicIngressSchema = configSchema({
    allowedPorts: {
        type: "array",
        items: { type: "integer" },
        default: [] as number[],
        description: "Single TCP ports any group may open to the internet (e.g. 443 for a public load balancer).",
    },
    exemptResources: {
        type: "array",
        items: { type: "string" },
        default: [] as string[],
        description: "Logical names (globs) of security groups / rules exempt from this rule.",
    },
});

interface Ingress {
    path: string;
    cidrs: string[];
    from?: number;
    to?: number;
    protocol?: string;
}

/** Only a single-port TCP rule on an allowed port may be public. */
function allowedPublic(rule: Ingress, ports: number[]): boolean {
    const proto = (rule.protocol ?? "").toLowerCase();
    return (proto === "tcp" || proto === "6") && rule.from !== undefined && rule.from === rule.to && ports.includes(rule.from);
}

function portText(r: Ingress): string {
    const proto = (r.protocol ?? "").toLowerCase();
    if (proto === "-1" || proto === "all") return "all traffic";
    return r.from === r.to ? `${proto} port ${r.from}` : `${proto} ports ${r.from}-${r.to}`;
}

const n = (v: any): number | undefined => {
    const x = num(v);
    return typeof x === "number" ? x : undefined;
};

function ingressRules(props: any, args: ResourceValidationArgs): Ingress[] {
    if (args.isType(aws.ec2.SecurityGroup)) {
        const rules = list(read(props, "ingress"));
        if (rules === UNKNOWN) return [];
        return rules.map((r, i) => ({
            path: where("ingress", i),
            cidrs: [...strings(read(r, "cidrBlocks")), ...strings(read(r, "ipv6CidrBlocks"))],
            from: n(read(r, "fromPort")),
            to: n(read(r, "toPort")),
            protocol: str(read(r, "protocol")) as string | undefined,
        }));
    }
    if (args.isType(aws.ec2.SecurityGroupRule)) {
        if (str(read(props, "type")) !== "ingress") return [];
        return [{
            path: "",
            cidrs: [...strings(read(props, "cidrBlocks")), ...strings(read(props, "ipv6CidrBlocks"))],
            from: n(read(props, "fromPort")),
            to: n(read(props, "toPort")),
            protocol: str(read(props, "protocol")) as string | undefined,
        }];
    }
    // aws.vpc.SecurityGroupIngressRule
    const cidrs = [str(read(props, "cidrIpv4")), str(read(props, "cidrIpv6"))].filter((c): c is string => typeof c === "string");
    return [{ path: "", cidrs, from: n(read(props, "fromPort")), to: n(read(props, "toPort")), protocol: str(read(props, "ipProtocol")) as string | undefined }];
}

export const sgNoPublicIngress: ResourceValidationPolicy = {
    name: "sg-no-public-ingress",
    description: "Security groups take no ingress from 0.0.0.0/0 or ::/0, except configured single TCP ports (CKV_AWS_24/25/260/277, AVD-AWS-0107).",
    severity: "critical",
    enforcementLevel: "mandatory",
    configSchema: publicIngressSchema,
    validateResource: [aws.ec2.SecurityGroup, aws.ec2.SecurityGroupRule, aws.vpc.SecurityGroupIngressRule].map((cls) =>
        validateResourceOfType(cls as any, ((props: any, args: ResourceValidationArgs, report: ReportViolation) => {
            const c = settings(args, publicIngressSchema);
            const exempt = c.exemptResources.some((p) => globMatch(args.name, p));
            for (const rule of ingressRules(props, args)) {
                const open = rule.cidrs.filter((x) => OPEN.includes(x));
                if (open.length === 0) continue;
                if (exempt || allowedPublic(rule, c.allowedPorts)) continue;
                const prop = args.isType(aws.vpc.SecurityGroupIngressRule)
                    ? (open.includes("::/0") ? "cidrIpv6" : "cidrIpv4")
                    : `${rule.path ? rule.path + "." : ""}${open.includes("0.0.0.0/0") ? "cidrBlocks" : "ipv6CidrBlocks"}`;
                report(`${prop} opens ${portText(rule)} to ${open.join(", ")}.`);
            }
        }) as any),
    ),
};

/** (direction, protocol, from, to) of a rule, for matching read-back inline rules to standalone ones. */
function ruleKey(dir: string, protocol: any, from: any, to: any): string {
    const p = String(str(protocol) ?? "").toLowerCase();
    const proto = p === "all" || p === "-1" ? "-1" : p === "6" ? "tcp" : p === "17" ? "udp" : p;
    return `${dir}|${proto}|${proto === "-1" ? "" : `${n(from) ?? ""}-${n(to) ?? ""}`}`;
}

function standaloneKey(r: PolicyResource): string | undefined {
    if (r.isType(aws.ec2.SecurityGroupRule)) {
        return ruleKey(String(str(read(r.props, "type"))), read(r.props, "protocol"), read(r.props, "fromPort"), read(r.props, "toPort"));
    }
    const dir = r.isType(aws.vpc.SecurityGroupIngressRule) ? "ingress" : "egress";
    return ruleKey(dir, read(r.props, "ipProtocol"), read(r.props, "fromPort"), read(r.props, "toPort"));
}

function targetsGroup(rule: PolicyResource, sg: PolicyResource): boolean {
    if ((rule.propertyDependencies?.securityGroupId ?? []).some((d) => d.urn === sg.urn)) return true;
    const id = str(read(rule.props, "securityGroupId"));
    return typeof id === "string" && id === str(read(sg.props, "id"));
}

export const sgRuleConflicts: StackValidationPolicy = {
    name: "sg-rule-conflicts",
    description: "A security group's rules are managed one way: not by its inline ingress/egress and also by separate rule resources (they overwrite each other).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateStack: validateStackWith([aws.ec2.SecurityGroup], (sgs, args, report) => {
        const standalone = args.resources.filter(
            (r) => r.isType(aws.ec2.SecurityGroupRule) || r.isType(aws.vpc.SecurityGroupIngressRule) || r.isType(aws.vpc.SecurityGroupEgressRule),
        );
        for (const sg of sgs) {
            const mine = standalone.filter((r) => targetsGroup(r, sg));
            if (mine.length === 0) continue;
            // After a deployment the provider reads standalone rules back into ingress/egress, so only
            // inline entries no standalone rule explains are the group's own.
            const keys = new Set(mine.map(standaloneKey));
            const own: string[] = [];
            for (const dir of ["ingress", "egress"]) {
                const inline = list(read(sg.props, dir));
                if (inline === UNKNOWN) continue;
                inline.forEach((e, i) => {
                    if (e === UNKNOWN) return;
                    if (!keys.has(ruleKey(dir, read(e, "protocol"), read(e, "fromPort"), read(e, "toPort")))) own.push(where(dir, i));
                });
            }
            if (own.length > 0) {
                report(`security group "${sg.name}": inline ${own.join(", ")} and separate rule resources ${mine.map((r) => `"${r.name}"`).join(", ")} both manage its rules.`, sg.urn);
            }
        }
    }),
};

export const sgPolicies = [sgNoPublicIngress, sgRuleConflicts];
