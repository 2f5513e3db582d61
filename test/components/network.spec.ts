import * as assert from "node:assert/strict";
import { INTERFACE_ENDPOINT_SERVICES, Network, validateNetworkArgs } from "../../components/network";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory, one, ofType, policyDoc } from "../helpers/resources";

describe("Network (new VPC)", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;

    before(async () => {
        const rec = await recordResources(() => {
            const net = new Network("net", { availabilityZones: 3, natGateways: "OnePerAz", tags: { team: "ml" } });
            return {
                vpcId: net.vpcId,
                priv: net.privateSubnetIds,
                pub: net.publicSubnetIds,
                sg: net.endpointSecurityGroupId,
                logs: net.flowLogGroupName,
                cidr: net.vpcCidrBlock,
                s3Cidrs: net.s3Cidrs,
            };
        });
        resources = rec.resources;
        outputs = rec.outputs;
    });

    it("declares exactly the expected children", () => {
        assert.deepEqual(
            inventory(resources),
            [
                "mlops-platform:index:Network net",
                "awsx:ec2:Vpc net-vpc",
                "aws:ec2/vpcEndpoint:VpcEndpoint net-s3",
                "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup net-default-sg",
                "aws:ec2/securityGroup:SecurityGroup net-endpoints",
                "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule net-endpoints-https",
                "aws:ec2/vpcEndpoint:VpcEndpoint net-ecr-api",
                "aws:ec2/vpcEndpoint:VpcEndpoint net-ecr-dkr",
                "aws:ec2/vpcEndpoint:VpcEndpoint net-sts",
                "aws:ec2/vpcEndpoint:VpcEndpoint net-logs",
                "aws:ec2/vpcEndpoint:VpcEndpoint net-secretsmanager",
                "aws:kms/key:Key net-flow-logs-key",
                "aws:cloudwatch/logGroup:LogGroup net-flow-logs",
                "aws:iam/role:Role net-flow-logs-role",
                "aws:iam/rolePolicy:RolePolicy net-flow-logs-policy",
                "aws:ec2/flowLog:FlowLog net-flow-log",
            ].sort(),
        );
        const component = one(resources, "mlops-platform:index:Network", "net");
        for (const r of resources.filter((r) => r !== component)) {
            assert.equal(r.parent, component.urn, `${r.name} is parented to the component`);
        }
    });

    it("creates the VPC through awsx: N AZs, NAT per AZ, private+public subnets tagged for EKS load balancers", () => {
        const vpc = one(resources, "awsx:ec2:Vpc", "net-vpc").inputs;
        assert.equal(vpc.cidrBlock, "10.0.0.0/16");
        assert.equal(vpc.numberOfAvailabilityZones, 3);
        assert.deepEqual(vpc.natGateways, { strategy: "OnePerAz" });
        assert.equal(vpc.enableDnsHostnames, true);
        assert.equal(vpc.subnetStrategy, "Auto");
        const priv = vpc.subnetSpecs.find((s: any) => s.type === "Private");
        const pub = vpc.subnetSpecs.find((s: any) => s.type === "Public");
        assert.equal(priv.cidrMask, 19);
        assert.equal(priv.tags["kubernetes.io/role/internal-elb"], "1");
        assert.equal(priv.tags.team, "ml");
        assert.equal(pub.cidrMask, 22);
        assert.equal(pub.tags["kubernetes.io/role/elb"], "1");
        assert.equal(vpc.subnetSpecs.length, 2);
        assert.equal((outputs.priv as string[]).length, 3);
        assert.equal((outputs.pub as string[]).length, 3);
    });

    it("routes S3 through a gateway endpoint on the private subnets' route tables", () => {
        const s3 = one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint", "net-s3").inputs;
        assert.equal(s3.vpcEndpointType, "Gateway");
        assert.equal(s3.serviceName, "com.amazonaws.us-east-1.s3");
        assert.equal(s3.vpcId, outputs.vpcId);
        assert.equal(s3.routeTableIds.length, 3, "one route table per private subnet");
        assert.ok(s3.routeTableIds.every((id: string) => id.startsWith("rtb-")));
        // Its address ranges (the prefix list's CIDRs) are what NetworkPolicies allow for S3.
        assert.deepEqual(outputs.s3Cidrs, one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint", "net-s3").outputs.cidrBlocks);
        assert.ok((outputs.s3Cidrs as string[]).length > 0);
        assert.equal(outputs.cidr, "10.0.0.0/16");
    });

    it("limits the S3 endpoint to this account's buckets and ECR's image-layer bucket", () => {
        const doc = policyDoc(one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint", "net-s3"), "policy");
        assert.deepEqual(doc.Statement, [
            { Sid: "OwnAccountBucketsOnly", Effect: "Allow", Principal: "*", Action: "s3:*", Resource: "*", Condition: { StringEquals: { "aws:ResourceAccount": "123456789012" } } },
            { Sid: "EcrImageLayers", Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*" },
        ]);
    });

    it("adopts the VPC's default security group with no rules (CIS AWS 5.4)", () => {
        const sg = one(resources, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "net-default-sg");
        assert.deepEqual([sg.inputs.ingress, sg.inputs.egress], [[], []]);
        assert.equal(sg.inputs.vpcId, outputs.vpcId);
    });

    it("creates interface endpoints with private DNS in the private subnets, reachable on 443 from the VPC only", () => {
        const sg = one(resources, "aws:ec2/securityGroup:SecurityGroup", "net-endpoints");
        assert.equal(sg.inputs.ingress, undefined, "no inline rules (rules are separate resources)");
        assert.equal(sg.inputs.egress, undefined, "no egress: endpoints only answer");
        const rule = one(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "net-endpoints-https").inputs;
        assert.deepEqual([rule.cidrIpv4, rule.ipProtocol, rule.fromPort, rule.toPort], ["10.0.0.0/16", "tcp", 443, 443]);
        assert.equal(rule.securityGroupId, sg.id);
        for (const service of INTERFACE_ENDPOINT_SERVICES) {
            const ep = one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint", `net-${service.replace(".", "-")}`).inputs;
            assert.equal(ep.vpcEndpointType, "Interface");
            assert.equal(ep.serviceName, `com.amazonaws.us-east-1.${service}`);
            assert.equal(ep.privateDnsEnabled, true);
            assert.deepEqual(ep.subnetIds, outputs.priv);
            assert.deepEqual(ep.securityGroupIds, [sg.id]);
        }
        assert.equal(outputs.sg, sg.id);
    });

    it("writes flow logs to a KMS-encrypted log group with retention, through a role only flow logs of this account can assume", () => {
        const key = one(resources, "aws:kms/key:Key", "net-flow-logs-key");
        assert.equal(key.inputs.enableKeyRotation, true);
        const logsStmt = policyDoc(key).Statement.find((s: any) => s.Sid === "CloudWatchLogsForFlowLogGroups");
        assert.deepEqual(logsStmt.Principal, { Service: "logs.us-east-1.amazonaws.com" });
        assert.equal(logsStmt.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"], "arn:aws:logs:us-east-1:123456789012:log-group:/vpc-flow-logs/net-*");
        const group = one(resources, "aws:cloudwatch/logGroup:LogGroup", "net-flow-logs");
        assert.equal(group.inputs.kmsKeyId, key.outputs.arn);
        assert.equal(group.inputs.retentionInDays, 90);
        assert.equal(group.inputs.namePrefix, "/vpc-flow-logs/net-");
        const role = one(resources, "aws:iam/role:Role", "net-flow-logs-role");
        const trust = policyDoc(role, "assumeRolePolicy").Statement[0];
        assert.deepEqual(trust.Principal, { Service: "vpc-flow-logs.amazonaws.com" });
        assert.equal(trust.Condition.StringEquals["aws:SourceAccount"], "123456789012");
        const write = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "net-flow-logs-policy")).Statement.find((s: any) => s.Sid === "WriteFlowLogGroup");
        assert.deepEqual(write.Resource, [group.outputs.arn, `${group.outputs.arn}:*`]);
        const flow = one(resources, "aws:ec2/flowLog:FlowLog", "net-flow-log").inputs;
        assert.deepEqual([flow.trafficType, flow.logDestinationType, flow.logDestination, flow.iamRoleArn, flow.vpcId], ["ALL", "cloud-watch-logs", group.outputs.arn, role.outputs.arn, outputs.vpcId]);
    });
});

describe("Network (dev layout and existing VPC)", () => {
    it("uses a single NAT gateway when asked", async () => {
        const { resources } = await recordResources(() => {
            new Network("dev", { natGateways: "Single", interfaceEndpoints: ["ecr.api"], flowLogRetentionDays: 14 });
        });
        assert.deepEqual(one(resources, "awsx:ec2:Vpc", "dev-vpc").inputs.natGateways, { strategy: "Single" });
        assert.equal(one(resources, "awsx:ec2:Vpc", "dev-vpc").inputs.numberOfAvailabilityZones, 2);
        assert.deepEqual(ofType(resources, "aws:ec2/vpcEndpoint:VpcEndpoint").map((r) => r.name).sort(), ["dev-ecr-api", "dev-s3"]);
        assert.equal(one(resources, "aws:cloudwatch/logGroup:LogGroup", "dev-flow-logs").inputs.retentionInDays, 14);
    });

    it("uses an existing VPC as given: no VPC, no endpoints, no flow logs unless asked", async () => {
        const ids = { vpcId: "vpc-0123456789abcdef0", privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"], publicSubnetIds: ["subnet-0123456789abcdef2"] };
        const { resources, outputs } = await recordResources(() => {
            const net = new Network("ext", { existingVpc: ids });
            return { vpcId: net.vpcId, priv: net.privateSubnetIds, pub: net.publicSubnetIds };
        });
        assert.deepEqual(inventory(resources), ["mlops-platform:index:Network ext"]);
        assert.deepEqual(outputs, { vpcId: ids.vpcId, priv: ids.privateSubnetIds, pub: ids.publicSubnetIds });
    });

    it("adds endpoints and flow logs to an existing VPC when asked, using the VPC's CIDR", async () => {
        const { resources } = await recordResources(() => {
            new Network("ext", {
                existingVpc: { vpcId: "vpc-0123456789abcdef0", privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"] },
                interfaceEndpoints: ["sts"],
                s3GatewayEndpoint: true,
                flowLogs: true,
            });
        });
        assert.equal(ofType(resources, "awsx:ec2:Vpc").length, 0);
        assert.equal(one(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "ext-endpoints-https").inputs.cidrIpv4, "10.20.0.0/16");
        assert.equal(one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint", "ext-s3").inputs.vpcId, "vpc-0123456789abcdef0");
        // An existing VPC's default security group is left to its owner (others may rely on it).
        assert.equal(ofType(resources, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").length, 0);
        assert.equal(one(resources, "aws:ec2/flowLog:FlowLog", "ext-flow-log").inputs.vpcId, "vpc-0123456789abcdef0");
    });
});

describe("validateNetworkArgs", () => {
    it("applies defaults", () => {
        const s = validateNetworkArgs({});
        assert.deepEqual([s.cidrBlock, s.availabilityZones, s.natGateways, s.s3GatewayEndpoint, s.flowLogs], ["10.0.0.0/16", 2, "OnePerAz", true, true]);
        assert.deepEqual(s.interfaceEndpoints, ["ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager"]);
        const e = validateNetworkArgs({ existingVpc: { vpcId: "vpc-01234567", privateSubnetIds: ["subnet-01234567", "subnet-89abcdef"] } });
        assert.deepEqual([e.s3GatewayEndpoint, e.flowLogs, e.interfaceEndpoints], [false, false, []]);
    });
    it("rejects a malformed CIDR", () => assertInvalid(() => validateNetworkArgs({ cidrBlock: "10.0.0.1/16" }), "cidrBlock", /host bits zero/));
    it("rejects a VPC CIDR larger than /16", () => assertInvalid(() => validateNetworkArgs({ cidrBlock: "10.0.0.0/8" }), "cidrBlock"));
    it("rejects one AZ", () => assertInvalid(() => validateNetworkArgs({ availabilityZones: 1 }), "availabilityZones", /from 2/));
    it("rejects an unknown NAT strategy", () => assertInvalid(() => validateNetworkArgs({ natGateways: "None" as any }), "natGateways", /OnePerAz/));
    it("rejects subnets that do not fit the AZ blocks", () =>
        assertInvalid(() => validateNetworkArgs({ cidrBlock: "10.0.0.0/20", availabilityZones: 3 }), "privateSubnetCidrMask", /do not fit/));
    it("rejects an unknown interface endpoint", () => assertInvalid(() => validateNetworkArgs({ interfaceEndpoints: ["ec2" as any] }), "interfaceEndpoints[0]"));
    it("rejects a duplicate interface endpoint", () => assertInvalid(() => validateNetworkArgs({ interfaceEndpoints: ["sts", "sts"] }), "interfaceEndpoints[1]", /twice/));
    it("rejects a retention CloudWatch does not accept", () => assertInvalid(() => validateNetworkArgs({ flowLogRetentionDays: 10 }), "flowLogRetentionDays"));
    it("rejects a malformed existing VPC id", () =>
        assertInvalid(() => validateNetworkArgs({ existingVpc: { vpcId: "vpc-xyz", privateSubnetIds: ["subnet-01234567", "subnet-89abcdef"] } }), "existingVpc.vpcId"));
    it("rejects an existing VPC with one private subnet", () =>
        assertInvalid(() => validateNetworkArgs({ existingVpc: { vpcId: "vpc-01234567", privateSubnetIds: ["subnet-01234567"] } }), "existingVpc.privateSubnetIds", /two/));
    it("rejects a malformed subnet id", () =>
        assertInvalid(() => validateNetworkArgs({ existingVpc: { vpcId: "vpc-01234567", privateSubnetIds: ["subnet-01234567", "sn-1"] } }), "existingVpc.privateSubnetIds[1]"));
    it("rejects new-VPC settings together with an existing VPC", () =>
        assertInvalid(
            () => validateNetworkArgs({ natGateways: "Single", existingVpc: { vpcId: "vpc-01234567", privateSubnetIds: ["subnet-01234567", "subnet-89abcdef"] } }),
            "natGateways",
            /new VPC/,
        ));
});
