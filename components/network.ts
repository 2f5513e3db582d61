import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { PolicyDocument, policyJson } from "./iam";
import { customerManagedKey } from "./kms";
import { Problems, checkInt, checkOneOf, describe } from "./validation";
import { providerOutput } from "./provider-outputs";

/** Interface endpoints the Network can create (PrivateLink), by service suffix. */
export const INTERFACE_ENDPOINT_SERVICES = ["ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager"] as const;
export type InterfaceEndpointService = (typeof INTERFACE_ENDPOINT_SERVICES)[number];

/** NAT layouts: one gateway per AZ (survives an AZ outage) or one for the VPC (cheaper, dev). */
export const NAT_STRATEGIES = ["OnePerAz", "Single"] as const;
export type NatStrategy = (typeof NAT_STRATEGIES)[number];

/** Retention values CloudWatch Logs accepts (days). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** Subnet tags the AWS Load Balancer Controller and EKS use to pick subnets for load balancers. */
export const PUBLIC_ELB_TAG = "kubernetes.io/role/elb";
export const INTERNAL_ELB_TAG = "kubernetes.io/role/internal-elb";

/**
 * Policy of the S3 gateway endpoint: traffic through it reaches only buckets of this account, plus
 * the AWS-owned bucket ECR serves image layers from (nodes pull images through the endpoint).
 * A stolen credential of another account cannot carry data out through this VPC.
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-setting-up-s3-gateway
 */
export function s3EndpointPolicy(accountId: string, partition: string, region: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "OwnAccountBucketsOnly",
                Effect: "Allow",
                Principal: "*",
                Action: "s3:*",
                Resource: "*",
                Condition: { StringEquals: { "aws:ResourceAccount": accountId } },
            },
            {
                Sid: "EcrImageLayers",
                Effect: "Allow",
                Principal: "*",
                Action: "s3:GetObject",
                Resource: `arn:${partition}:s3:::prod-${region}-starport-layer-bucket/*`,
            },
        ],
    };
}

/** An existing VPC the platform runs in instead of creating one. */
export interface ExistingVpc {
    /** `vpc-…` id. */
    vpcId: string;
    /** Private subnets (at least two, in different AZs) for nodes, the control plane ENIs and endpoints. */
    privateSubnetIds: string[];
    /** Public subnets for internet-facing load balancers. Default none. */
    publicSubnetIds?: string[];
}

export interface NetworkArgs {
    /** Use this VPC instead of creating one. Excludes cidrBlock, availabilityZones, natGateways and the subnet masks. */
    existingVpc?: ExistingVpc;
    /** IPv4 CIDR of a new VPC, /16 to /24. Default `10.0.0.0/16`. */
    cidrBlock?: string;
    /** Availability zones a new VPC spans (the region's first N), 2 to 4. Default 2. */
    availabilityZones?: number;
    /** NAT gateways of a new VPC: `OnePerAz` (default) or `Single` (dev; one AZ failure cuts egress). */
    natGateways?: NatStrategy;
    /** Prefix length of each private subnet (nodes and pods take their IPs here). Default 19 (8,190 addresses). */
    privateSubnetCidrMask?: number;
    /** Prefix length of each public subnet (load balancers, NAT). Default 22. */
    publicSubnetCidrMask?: number;
    /** S3 gateway endpoint on the private route tables (free; keeps data-lake traffic off NAT). Default true for a new VPC, false for an existing one. */
    s3GatewayEndpoint?: boolean;
    /** Interface endpoints to create. Default all of ecr.api, ecr.dkr, sts, logs for a new VPC; none for an existing one (it may already have them, and private DNS names cannot be claimed twice). */
    interfaceEndpoints?: InterfaceEndpointService[];
    /** VPC flow logs to an encrypted CloudWatch log group. Default true for a new VPC, false for an existing one. */
    flowLogs?: boolean;
    /** Days flow logs are kept; a CloudWatch retention value. Default 90. */
    flowLogRetentionDays?: number;
    /** Traffic flow logs record: ALL (default), ACCEPT or REJECT. */
    flowLogTrafficType?: "ALL" | "ACCEPT" | "REJECT";
    /** Tags for every resource. */
    /** `protect` + `retainOnDelete` on the flow-log key and log group (audit data). Default false. */
    protect?: boolean;
    tags?: Record<string, string>;
}

/** Defaults applied by {@link validateNetworkArgs}. */
export interface NetworkSettings {
    existingVpc?: ExistingVpc;
    cidrBlock: string;
    availabilityZones: number;
    natGateways: NatStrategy;
    privateSubnetCidrMask: number;
    publicSubnetCidrMask: number;
    s3GatewayEndpoint: boolean;
    interfaceEndpoints: InterfaceEndpointService[];
    flowLogs: boolean;
    flowLogRetentionDays: number;
    flowLogTrafficType: "ALL" | "ACCEPT" | "REJECT";
    protect: boolean;
    tags: Record<string, string>;
}

const VPC_ID = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** Parses `a.b.c.d/n`; undefined when malformed or host bits are set. @internal */
export function parseCidr(cidr: unknown): { base: number; prefix: number } | undefined {
    if (typeof cidr !== "string") {
        return undefined;
    }
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!m) {
        return undefined;
    }
    const octets = m.slice(1, 5).map(Number);
    const prefix = Number(m[5]);
    if (octets.some((o) => o > 255) || prefix > 32) {
        return undefined;
    }
    const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
    const hostBits = prefix === 0 ? 0xffffffff : (1 << (32 - prefix)) - 1;
    if (prefix < 32 && (base & hostBits) !== 0) {
        return undefined;
    }
    return { base, prefix };
}

/** Validates Network args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateNetworkArgs(args: NetworkArgs): NetworkSettings {
    const existing = args.existingVpc;
    const s: NetworkSettings = {
        existingVpc: existing,
        cidrBlock: args.cidrBlock ?? "10.0.0.0/16",
        availabilityZones: args.availabilityZones ?? 2,
        natGateways: args.natGateways ?? "OnePerAz",
        privateSubnetCidrMask: args.privateSubnetCidrMask ?? 19,
        publicSubnetCidrMask: args.publicSubnetCidrMask ?? 22,
        s3GatewayEndpoint: args.s3GatewayEndpoint ?? !existing,
        interfaceEndpoints: args.interfaceEndpoints ?? (existing ? [] : [...INTERFACE_ENDPOINT_SERVICES]),
        flowLogs: args.flowLogs ?? !existing,
        flowLogRetentionDays: args.flowLogRetentionDays ?? 90,
        flowLogTrafficType: args.flowLogTrafficType ?? "ALL",
        protect: args.protect ?? false,
        tags: args.tags ?? {},
    };
    const p = new Problems("Network arguments");
    if (existing) {
        for (const key of ["cidrBlock", "availabilityZones", "natGateways", "privateSubnetCidrMask", "publicSubnetCidrMask"] as const) {
            p.check(args[key] === undefined, key, "applies only to a new VPC; remove it or remove existingVpc");
        }
        p.check(typeof existing.vpcId === "string" && VPC_ID.test(existing.vpcId), "existingVpc.vpcId", `must be a VPC id (vpc-…), got ${describe(existing.vpcId)}`);
        const priv = existing.privateSubnetIds;
        if (p.check(Array.isArray(priv) && priv.length >= 2, "existingVpc.privateSubnetIds", "must list at least two private subnets (EKS needs two availability zones)")) {
            priv.forEach((id, i) => p.check(SUBNET_ID.test(String(id)), `existingVpc.privateSubnetIds[${i}]`, `must be a subnet id (subnet-…), got ${describe(id)}`));
        }
        const pub = existing.publicSubnetIds ?? [];
        pub.forEach((id, i) => p.check(SUBNET_ID.test(String(id)), `existingVpc.publicSubnetIds[${i}]`, `must be a subnet id (subnet-…), got ${describe(id)}`));
        const all = [...(Array.isArray(priv) ? priv : []), ...pub];
        const dupes = all.filter((id, i) => all.indexOf(id) !== i);
        p.check(dupes.length === 0, "existingVpc.publicSubnetIds", `subnets may appear once across private and public lists; repeated: ${[...new Set(dupes)].join(", ")}`);
    } else {
        const cidr = parseCidr(s.cidrBlock);
        const cidrOk = p.check(
            cidr !== undefined && cidr.prefix >= 16 && cidr.prefix <= 24,
            "cidrBlock",
            `must be an IPv4 network address with a /16 to /24 prefix (host bits zero), got ${describe(s.cidrBlock)}`,
        );
        const azOk = checkInt(p, "availabilityZones", s.availabilityZones, 2, 4);
        checkOneOf(p, "natGateways", s.natGateways, NAT_STRATEGIES);
        const privOk = checkInt(p, "privateSubnetCidrMask", s.privateSubnetCidrMask, 17, 28);
        const pubOk = checkInt(p, "publicSubnetCidrMask", s.publicSubnetCidrMask, 17, 28);
        if (cidrOk && azOk && privOk && pubOk) {
            // awsx gives each AZ an equal, power-of-two block; both subnets must fit in it.
            const azPrefix = cidr!.prefix + Math.ceil(Math.log2(s.availabilityZones));
            const needed = 2 ** (32 - s.privateSubnetCidrMask) + 2 ** (32 - s.publicSubnetCidrMask);
            p.check(
                needed <= 2 ** (32 - azPrefix),
                "privateSubnetCidrMask",
                `a /${s.privateSubnetCidrMask} private and a /${s.publicSubnetCidrMask} public subnet do not fit in each AZ's /${azPrefix} block of ${s.cidrBlock}; use longer prefixes or a larger cidrBlock`,
            );
        }
    }
    const seen = new Set<string>();
    s.interfaceEndpoints.forEach((e, i) => {
        checkOneOf(p, `interfaceEndpoints[${i}]`, e, INTERFACE_ENDPOINT_SERVICES);
        p.check(!seen.has(e), `interfaceEndpoints[${i}]`, `"${e}" is listed twice`);
        seen.add(e);
    });
    p.check(
        (LOG_RETENTION_DAYS as readonly number[]).includes(s.flowLogRetentionDays),
        "flowLogRetentionDays",
        `must be a CloudWatch Logs retention value (${LOG_RETENTION_DAYS.join(", ")}), got ${describe(s.flowLogRetentionDays)}`,
    );
    checkOneOf(p, "flowLogTrafficType", s.flowLogTrafficType, ["ALL", "ACCEPT", "REJECT"] as const);
    p.throwIfAny();
    return s;
}

/**
 * Network: the VPC an ML platform's cluster runs in — private subnets for nodes across several
 * AZs, public subnets for load balancers and NAT, an S3 gateway endpoint so data-lake traffic
 * skips NAT, PrivateLink endpoints for ECR/STS/Logs (image pulls and credentials without the
 * internet), and encrypted VPC flow logs. Or an existing VPC, validated and used as given.
 * https://docs.aws.amazon.com/eks/latest/best-practices/subnets.html
 */
export class Network extends pulumi.ComponentResource {
    public readonly vpcId: pulumi.Output<string>;
    /** Private subnets: nodes, the EKS control plane ENIs, interface endpoints. */
    public readonly privateSubnetIds: pulumi.Output<string[]>;
    /** Public subnets: internet-facing load balancers and NAT gateways. */
    public readonly publicSubnetIds: pulumi.Output<string[]>;
    /** Security group of the interface endpoints (443 from the VPC CIDR), when any exist. */
    public readonly endpointSecurityGroupId: pulumi.Output<string | undefined>;
    /** Name of the flow-log group, when flow logs are on. */
    public readonly flowLogGroupName: pulumi.Output<string | undefined>;
    /** IPv4 CIDR of the VPC (nodes, pods, the EKS control plane ENIs, interface endpoints). */
    public readonly vpcCidrBlock: pulumi.Output<string>;
    /**
     * Address ranges of S3 in the region, as the gateway endpoint reports them (its prefix list's
     * CIDRs; read on each `pulumi up`), for NetworkPolicies allowing S3. Empty without the endpoint.
     */
    public readonly s3Cidrs: pulumi.Output<string[]>;
    /** Whether the S3 gateway endpoint exists (plain: it decides which NetworkPolicy rules exist). */
    public readonly hasS3Endpoint: boolean;

    constructor(name: string, args: NetworkArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:Network", name, {}, opts);
        const s = validateNetworkArgs(args);
        this.hasS3Endpoint = s.s3GatewayEndpoint;
        const child: pulumi.CustomResourceOptions = { parent: this };
        const region = aws.getRegionOutput({}, { parent: this }).region;

        let vpcId: pulumi.Output<string>;
        let vpcCidr: pulumi.Output<string>;
        if (s.existingVpc) {
            vpcId = pulumi.output(s.existingVpc.vpcId);
            this.privateSubnetIds = pulumi.output(s.existingVpc.privateSubnetIds);
            this.publicSubnetIds = pulumi.output(s.existingVpc.publicSubnetIds ?? []);
            vpcCidr = aws.ec2.getVpcOutput({ id: s.existingVpc.vpcId }, { parent: this }).cidrBlock;
        } else {
            const vpc = new awsx.ec2.Vpc(
                `${name}-vpc`,
                {
                    cidrBlock: s.cidrBlock,
                    numberOfAvailabilityZones: s.availabilityZones,
                    enableDnsHostnames: true,
                    enableDnsSupport: true,
                    natGateways: { strategy: s.natGateways },
                    subnetStrategy: "Auto",
                    subnetSpecs: [
                        { type: "Private", cidrMask: s.privateSubnetCidrMask, tags: { ...s.tags, [INTERNAL_ELB_TAG]: "1" } },
                        { type: "Public", cidrMask: s.publicSubnetCidrMask, tags: { ...s.tags, [PUBLIC_ELB_TAG]: "1" } },
                    ],
                    tags: { ...s.tags, Name: name },
                },
                { parent: this },
            );
            vpcId = vpc.vpcId;
            // CIS AWS 5.4: the VPC's default security group takes no traffic. Adopting it with no
            // ingress or egress blocks removes the rules AWS creates (all traffic within the group
            // and all egress), so anything launched without a group gets no network access. The
            // platform never uses this group (nodes, endpoints and the database have their own).
            new aws.ec2.DefaultSecurityGroup(
                `${name}-default-sg`,
                { vpcId, ingress: [], egress: [], tags: { ...s.tags, Name: `${name}-default (no rules)` } },
                child,
            );
            this.privateSubnetIds = vpc.privateSubnetIds;
            this.publicSubnetIds = vpc.publicSubnetIds;
            vpcCidr = pulumi.output(s.cidrBlock);
        }
        this.vpcId = vpcId;
        this.vpcCidrBlock = vpcCidr;

        if (s.s3GatewayEndpoint) {
            // Route tables of the private subnets, looked up once the subnets exist.
            const routeTables = aws.ec2.getRouteTablesOutput(
                { vpcId, filters: [{ name: "association.subnet-id", values: this.privateSubnetIds }] },
                { parent: this },
            );
            const identity = aws.getCallerIdentityOutput({}, { parent: this });
            const partition = aws.getPartitionOutput({}, { parent: this }).partition;
            const s3 = new aws.ec2.VpcEndpoint(
                `${name}-s3`,
                {
                    vpcId,
                    serviceName: pulumi.interpolate`com.amazonaws.${region}.s3`,
                    vpcEndpointType: "Gateway",
                    routeTableIds: routeTables.ids,
                    policy: pulumi
                        .all([identity.accountId, partition, region])
                        .apply(([account, part, reg]) => policyJson(s3EndpointPolicy(account, part, reg))),
                    tags: { ...s.tags, Name: `${name}-s3` },
                },
                child,
            );
            this.s3Cidrs = s3.cidrBlocks.apply((c) =>
                providerOutput(c, { component: `Network ${name}`, resourceType: "aws:ec2/vpcEndpoint:VpcEndpoint", output: "cidrBlocks", resource: this }),
            );
        } else {
            this.s3Cidrs = pulumi.output([]);
        }

        if (s.interfaceEndpoints.length > 0) {
            const sg = new aws.ec2.SecurityGroup(
                `${name}-endpoints`,
                {
                    vpcId,
                    description: "Interface VPC endpoints: HTTPS from inside the VPC only",
                    tags: { ...s.tags, Name: `${name}-endpoints` },
                },
                child,
            );
            new aws.vpc.SecurityGroupIngressRule(
                `${name}-endpoints-https`,
                { securityGroupId: sg.id, cidrIpv4: vpcCidr, ipProtocol: "tcp", fromPort: 443, toPort: 443, description: "HTTPS from the VPC" },
                child,
            );
            for (const service of s.interfaceEndpoints) {
                const role = service.replace(".", "-");
                new aws.ec2.VpcEndpoint(
                    `${name}-${role}`,
                    {
                        vpcId,
                        serviceName: pulumi.interpolate`com.amazonaws.${region}.${service}`,
                        vpcEndpointType: "Interface",
                        privateDnsEnabled: true,
                        subnetIds: this.privateSubnetIds,
                        securityGroupIds: [sg.id],
                        tags: { ...s.tags, Name: `${name}-${role}` },
                    },
                    child,
                );
            }
            this.endpointSecurityGroupId = sg.id;
        } else {
            this.endpointSecurityGroupId = pulumi.output(undefined);
        }

        if (s.flowLogs) {
            this.flowLogGroupName = this.createFlowLogs(name, s, vpcId, region).apply((n) => n as string | undefined);
        } else {
            this.flowLogGroupName = pulumi.output(undefined);
        }

        this.registerOutputs({
            vpcId: this.vpcId,
            privateSubnetIds: this.privateSubnetIds,
            publicSubnetIds: this.publicSubnetIds,
            endpointSecurityGroupId: this.endpointSecurityGroupId,
            flowLogGroupName: this.flowLogGroupName,
            vpcCidrBlock: this.vpcCidrBlock,
            s3Cidrs: this.s3Cidrs,
        });
    }

    private createFlowLogs(name: string, s: NetworkSettings, vpcId: pulumi.Output<string>, region: pulumi.Output<string>): pulumi.Output<string> {
        const child: pulumi.CustomResourceOptions = { parent: this };
        const stateful: pulumi.CustomResourceOptions = { parent: this, protect: s.protect, retainOnDelete: s.protect };
        const identity = aws.getCallerIdentityOutput({}, { parent: this });
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const groupPrefix = `/vpc-flow-logs/${name}-`;
        const groupArnPattern = pulumi.interpolate`arn:${partition}:logs:${region}:${identity.accountId}:log-group:${groupPrefix}*`;

        // CloudWatch Logs encrypts with the key only for log groups the key policy names.
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
        const key = customerManagedKey(
            `${name}-flow-logs-key`,
            {
                description: `${name}: encrypts VPC flow logs`,
                extraStatements: [
                    {
                        Sid: "CloudWatchLogsForFlowLogGroups",
                        Effect: "Allow",
                        Principal: { Service: pulumi.interpolate`logs.${region}.amazonaws.com` },
                        Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                        Resource: "*",
                        Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": groupArnPattern } },
                    },
                ],
                tags: { ...s.tags, Name: `${name}-flow-logs-key` },
            },
            stateful,
        );
        const group = new aws.cloudwatch.LogGroup(
            `${name}-flow-logs`,
            { namePrefix: groupPrefix, retentionInDays: s.flowLogRetentionDays, kmsKeyId: key.arn, tags: s.tags },
            stateful,
        );
        const role = new aws.iam.Role(
            `${name}-flow-logs-role`,
            {
                description: `${name}: delivers VPC flow logs to CloudWatch Logs`,
                assumeRolePolicy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { Service: "vpc-flow-logs.amazonaws.com" },
                            Action: "sts:AssumeRole",
                            // Confused-deputy guard: only flow logs of this account.
                            Condition: {
                                StringEquals: { "aws:SourceAccount": identity.accountId },
                                ArnLike: { "aws:SourceArn": pulumi.interpolate`arn:${partition}:ec2:${region}:${identity.accountId}:vpc-flow-log/*` },
                            },
                        },
                    ],
                }),
                tags: s.tags,
            },
            child,
        );
        new aws.iam.RolePolicy(
            `${name}-flow-logs-policy`,
            {
                role: role.name,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "WriteFlowLogGroup",
                            Effect: "Allow",
                            Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                            Resource: [group.arn, pulumi.interpolate`${group.arn}:*`],
                        },
                        {
                            Sid: "FindLogGroups",
                            Effect: "Allow",
                            Action: "logs:DescribeLogGroups",
                            Resource: pulumi.interpolate`arn:${partition}:logs:${region}:${identity.accountId}:log-group:*`,
                        },
                    ],
                }),
            },
            child,
        );
        new aws.ec2.FlowLog(
            `${name}-flow-log`,
            {
                vpcId,
                trafficType: s.flowLogTrafficType,
                logDestinationType: "cloud-watch-logs",
                logDestination: group.arn,
                iamRoleArn: role.arn,
                maxAggregationInterval: 60,
                tags: { ...s.tags, Name: `${name}-flow-log` },
            },
            child,
        );
        return group.name;
    }
}
