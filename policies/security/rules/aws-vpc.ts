// VPC-level controls (issue 12): the default security group (CIS AWS 5.4, CKV2_AWS_12) and the
// S3 gateway endpoint's policy (traffic through it limited to the account's own buckets).
import * as aws from "@pulumi/aws";
import { PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { validateStackWith } from "./aws-stack";
import { read, str, UNKNOWN } from "./aws-values";

const DEFAULT_SG_TYPE = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup";

function ruleCount(r: PolicyResource, key: "ingress" | "egress"): number | typeof UNKNOWN {
    const v = read(r.props, key);
    if (v === UNKNOWN) return UNKNOWN;
    return Array.isArray(v) ? v.length : 0;
}

/** Does the default security group `sg` belong to `vpc` (dependency, or the same literal id)? */
function belongsTo(sg: PolicyResource, vpc: PolicyResource): boolean {
    if ((sg.propertyDependencies?.vpcId ?? []).some((d) => d.urn === vpc.urn)) return true;
    const sgVpc = read(sg.props, "vpcId");
    const id = read(vpc.props, "id");
    return typeof sgVpc === "string" && typeof id === "string" && sgVpc === id;
}

export const vpcDefaultSecurityGroupRestricted: StackValidationPolicy = {
    name: "vpc-default-sg-restricted",
    description:
        "Every VPC the stack creates adopts its default security group (aws.ec2.DefaultSecurityGroup) with no ingress and no " +
        "egress rules, so nothing launched without a group gets network access (CIS AWS 5.4, CKV2_AWS_12).",
    severity: "medium",
    enforcementLevel: "mandatory",
    tags: ["aws", "security", "network", "cis"],
    remediationSteps: "Add an aws.ec2.DefaultSecurityGroup for the VPC with no ingress and no egress (Network does).",
    validateStack: validateStackWith([aws.ec2.Vpc, aws.ec2.DefaultSecurityGroup], (subjects, args, report) => {
        const sgs = args.resources.filter((r) => r.type === DEFAULT_SG_TYPE);
        for (const vpc of subjects.filter((r) => r.isType(aws.ec2.Vpc))) {
            const mine = sgs.filter((sg) => belongsTo(sg, vpc));
            if (mine.length === 0) {
                report(`VPC ${vpc.name}: its default security group is not managed; AWS leaves it allowing all traffic within the group and all egress`, vpc.urn);
            }
        }
        for (const sg of sgs) {
            for (const key of ["ingress", "egress"] as const) {
                const n = ruleCount(sg, key);
                if (n !== UNKNOWN && n > 0) {
                    report(`default security group ${sg.name}: has ${n} ${key} rule(s); it must have none`, sg.urn);
                }
            }
        }
    }),
};

interface Statement {
    Effect?: string;
    Resource?: unknown;
    Condition?: Record<string, Record<string, unknown>>;
}

const SCOPING_KEYS = ["aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"];

/** True when an Allow statement is limited to named resources or to resources of known accounts/organisations. */
export function isScopedStatement(s: Statement): boolean {
    if (s.Effect !== "Allow") return true;
    const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
    if (resources.length > 0 && resources.every((r) => typeof r === "string" && r !== "*" && !/^arn:[^:]+:s3:::\*/.test(r))) return true;
    return Object.values(s.Condition ?? {}).some((block) => Object.keys(block ?? {}).some((k) => SCOPING_KEYS.includes(k.toLowerCase())));
}

export const vpcS3EndpointPolicy: ResourceValidationPolicy = {
    name: "vpc-s3-endpoint-policy",
    description:
        "An S3 gateway VPC endpoint has a policy whose every Allow statement is scoped to named buckets or to the account's own " +
        "resources (aws:ResourceAccount / aws:ResourceOrgID); without one, credentials of any account can move data through it.",
    severity: "medium",
    enforcementLevel: "mandatory",
    tags: ["aws", "security", "network", "s3"],
    remediationSteps: "Set the endpoint's policy (Network's s3EndpointPolicy allows this account's buckets and the ECR layer bucket).",
    validateResource: validateResourceOfType(aws.ec2.VpcEndpoint, (_ep, args, report: ReportViolation) => {
        const props = args.props;
        if (str(read(props, "vpcEndpointType")) !== "Gateway") return;
        const service = read(props, "serviceName");
        // Only S3 gateway endpoints (DynamoDB is the other gateway service); an unknown name is judged as S3.
        if (typeof service === "string" && !service.endsWith(".s3")) return;
        const raw = read(props, "policy");
        if (raw === UNKNOWN) return;
        if (raw === undefined || raw === null || raw === "") {
            report("the S3 gateway endpoint has no policy: AWS's default allows every action on every bucket of every account");
            return;
        }
        let doc: { Statement?: Statement | Statement[] };
        try {
            doc = typeof raw === "string" ? JSON.parse(raw) : raw;
        } catch {
            report("policy is not valid JSON");
            return;
        }
        const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
        statements.forEach((s, i) => {
            if (!isScopedStatement(s)) {
                report(`policy Statement[${i}] allows ${JSON.stringify(s.Resource)} without an aws:ResourceAccount/aws:ResourceOrgID condition`);
            }
        });
    }),
};

export const vpcPolicies: (ResourceValidationPolicy | StackValidationPolicy)[] = [vpcDefaultSecurityGroupRestricted, vpcS3EndpointPolicy];
