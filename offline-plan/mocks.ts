// The mock provider layer: computes resource outputs and invoke results the way the AWS,
// Kubernetes and Docker providers would, deterministically (same inputs → same outputs), so the
// offline plan shows real-looking ARNs, URLs and endpoints. Unknown invokes fail loudly.
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";

export interface MockEnvironment {
    accountId: string;
    region: string;
    partition: string;
}

export const DEFAULT_MOCK_ENV: MockEnvironment = { accountId: "123456789012", region: "us-east-1", partition: "aws" };

function hex(seed: string, n: number): string {
    return crypto.createHash("sha256").update(seed).digest("hex").slice(0, n);
}

function uuid(seed: string): string {
    const h = hex(seed, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Pulumi auto-naming: `<logical name>-<7 hex>`. */
function autoname(name: string, type: string): string {
    return `${name}-${hex(`${type}::${name}`, 7)}`;
}

/** Terraform's `namePrefix` naming: the prefix plus a 26-digit unique id (a timestamp and a counter). */
function prefixedName(prefix: string, seed: string): string {
    return `${prefix}${BigInt(`0x${hex(seed, 20)}`).toString().padStart(26, "0").slice(-26)}`;
}

type Outputs = Record<string, any>;
type OutputFn = (name: string, inputs: Outputs, env: MockEnvironment) => { id?: string; outputs: Outputs };

const arn = (env: MockEnvironment, service: string, resource: string, regional = true, account = true) =>
    `arn:${env.partition}:${service}:${regional ? env.region : ""}:${account ? env.accountId : ""}:${resource}`;

/** Output computation per type token. Types not listed get the generic behaviour below. */
const OUTPUTS: Record<string, OutputFn> = {
    "aws:s3/bucket:Bucket": (name, i, env) => {
        const bucket = i.bucket ?? (i.bucketPrefix ? `${i.bucketPrefix}${hex(name, 12)}` : autoname(name, "s3"));
        return {
            id: bucket,
            outputs: {
                bucket,
                arn: `arn:${env.partition}:s3:::${bucket}`,
                bucketDomainName: `${bucket}.s3.amazonaws.com`,
                bucketRegionalDomainName: `${bucket}.s3.${env.region}.amazonaws.com`,
                region: env.region,
                hostedZoneId: "Z3AQBSTGFYJSTF",
            },
        };
    },
    "aws:kms/key:Key": (name, _i, env) => {
        const keyId = uuid(`kms:${name}`);
        return { id: keyId, outputs: { keyId, arn: arn(env, "kms", `key/${keyId}`) } };
    },
    "aws:kms/alias:Alias": (_name, i, env) => ({
        id: i.name,
        outputs: { arn: arn(env, "kms", i.name), targetKeyArn: arn(env, "kms", `key/${i.targetKeyId}`) },
    }),
    "aws:ecr/repository:Repository": (name, i, env) => {
        const repoName = i.name ?? autoname(name, "ecr");
        return {
            id: repoName,
            outputs: {
                name: repoName,
                arn: arn(env, "ecr", `repository/${repoName}`),
                registryId: env.accountId,
                repositoryUrl: `${env.accountId}.dkr.ecr.${env.region}.amazonaws.com/${repoName}`,
            },
        };
    },
    "aws:iam/role:Role": (name, i, env) => {
        const roleName = i.name ?? (i.namePrefix ? prefixedName(i.namePrefix, `role::${name}`) : autoname(name, "role"));
        const p = i.path ?? "/";
        return {
            id: roleName,
            outputs: { name: roleName, arn: `arn:${env.partition}:iam::${env.accountId}:role${p}${roleName}`, uniqueId: `AROA${hex(name, 17).toUpperCase()}` },
        };
    },
    "aws:iam/policy:Policy": (name, i, env) => {
        const policyName = i.name ?? (i.namePrefix ? prefixedName(i.namePrefix, `policy::${name}`) : autoname(name, "policy"));
        const policyArn = `arn:${env.partition}:iam::${env.accountId}:policy${i.path ?? "/"}${policyName}`;
        return { id: policyArn, outputs: { name: policyName, arn: policyArn, policyId: `ANPA${hex(name, 17).toUpperCase()}` } };
    },
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (_name, i, env) => {
        const host = String(i.url ?? "").replace(/^https:\/\//, "");
        const a = `arn:${env.partition}:iam::${env.accountId}:oidc-provider/${host}`;
        return { id: a, outputs: { arn: a } };
    },
    "aws:iam/instanceProfile:InstanceProfile": (name, i, env) => {
        const n = i.name ?? autoname(name, "ip");
        return { id: n, outputs: { name: n, arn: `arn:${env.partition}:iam::${env.accountId}:instance-profile/${n}` } };
    },
    "aws:eks/cluster:Cluster": (name, i, env) => {
        const clusterName = i.name ?? autoname(name, "eks");
        const oidcId = hex(`oidc:${clusterName}`, 32).toUpperCase();
        return {
            id: clusterName,
            outputs: {
                name: clusterName,
                arn: arn(env, "eks", `cluster/${clusterName}`),
                endpoint: `https://${hex(`ep:${clusterName}`, 32).toUpperCase()}.gr7.${env.region}.eks.amazonaws.com`,
                certificateAuthority: { data: Buffer.from(`mock-ca-for-${clusterName}`).toString("base64") },
                identities: [{ oidcs: [{ issuer: `https://oidc.eks.${env.region}.amazonaws.com/id/${oidcId}` }] }],
                status: "ACTIVE",
                platformVersion: "eks.1",
                vpcConfig: { ...(i.vpcConfig ?? {}), clusterSecurityGroupId: `sg-${hex(`csg:${clusterName}`, 17)}`, vpcId: i.vpcConfig?.vpcId },
            },
        };
    },
    "aws:eks/nodeGroup:NodeGroup": (name, i, env) => {
        const ngName = i.nodeGroupName ?? autoname(name, "ng");
        return {
            id: `${i.clusterName}:${ngName}`,
            outputs: {
                nodeGroupName: ngName,
                arn: arn(env, "eks", `nodegroup/${i.clusterName}/${ngName}/${uuid(ngName)}`),
                status: "ACTIVE",
                resources: [{ autoscalingGroups: [{ name: `eks-${ngName}-${uuid(`asg:${ngName}`)}` }], remoteAccessSecurityGroupId: "" }],
            },
        };
    },
    "aws:eks/addon:Addon": (_name, i, env) => ({
        id: `${i.clusterName}:${i.addonName}`,
        outputs: { arn: arn(env, "eks", `addon/${i.clusterName}/${i.addonName}/${uuid(i.addonName)}`) },
    }),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": (name, _i, env) => {
        const id = `a-${hex(name, 17)}`;
        return { id, outputs: { associationId: id, associationArn: arn(env, "eks", `podidentityassociation/${id}`) } };
    },
    "aws:ec2/launchTemplate:LaunchTemplate": (name, i, env) => {
        const id = `lt-${hex(name, 17)}`;
        return { id, outputs: { name: i.name ?? autoname(name, "lt"), arn: arn(env, "ec2", `launch-template/${id}`), latestVersion: 1, defaultVersion: 1 } };
    },
    "aws:ec2/securityGroup:SecurityGroup": (name, i, env) => {
        const id = `sg-${hex(name, 17)}`;
        return { id, outputs: { name: i.name ?? autoname(name, "sg"), arn: arn(env, "ec2", `security-group/${id}`), ownerId: env.accountId } };
    },
    "aws:rds/instance:Instance": (name, i, env) => {
        const identifier = i.identifier ?? autoname(name, "db");
        const address = `${identifier}.c${hex(`rds:${env.accountId}`, 11)}.${env.region}.rds.amazonaws.com`;
        const port = i.port ?? 5432;
        return {
            id: identifier,
            outputs: {
                identifier,
                address,
                port,
                endpoint: `${address}:${port}`,
                arn: arn(env, "rds", `db:${identifier}`),
                resourceId: `db-${hex(identifier, 26).toUpperCase()}`,
                masterUserSecrets: i.manageMasterUserPassword
                    ? [
                          {
                              secretArn: arn(env, "secretsmanager", `secret:rds!db-${uuid(identifier)}-${hex(identifier, 6)}`),
                              kmsKeyId: i.masterUserSecretKmsKeyId ?? "",
                              secretStatus: "active",
                          },
                      ]
                    : [],
            },
        };
    },
    "aws:rds/subnetGroup:SubnetGroup": (name, i, env) => {
        const n = i.name ?? autoname(name, "dbsubnet");
        return { id: n, outputs: { name: n, arn: arn(env, "rds", `subgrp:${n}`) } };
    },
    "aws:rds/parameterGroup:ParameterGroup": (name, i, env) => {
        const n = i.name ?? autoname(name, "pg");
        return { id: n, outputs: { name: n, arn: arn(env, "rds", `pg:${n}`) } };
    },
    "aws:secretsmanager/secret:Secret": (name, i, env) => {
        const n = i.name ?? autoname(name, "secret");
        const a = arn(env, "secretsmanager", `secret:${n}-${hex(n, 6)}`);
        return { id: a, outputs: { name: n, arn: a } };
    },
    "aws:cloudwatch/logGroup:LogGroup": (name, i, env) => {
        const n = i.name ?? autoname(name, "lg");
        return { id: n, outputs: { name: n, arn: arn(env, "logs", `log-group:${n}`) } };
    },
    "awsx:ec2:Vpc": (name, i, env) => {
        const azs: number = i.numberOfAvailabilityZones ?? 2;
        const vpcId = `vpc-${hex(name, 17)}`;
        const ids = (kind: string) => Array.from({ length: azs }, (_, k) => `subnet-${hex(`${name}:${kind}:${k}`, 17)}`);
        return {
            id: vpcId,
            outputs: {
                vpcId,
                privateSubnetIds: ids("private"),
                publicSubnetIds: ids("public"),
                isolatedSubnetIds: [],
                vpc: { id: vpcId, arn: arn(env, "ec2", `vpc/${vpcId}`), cidrBlock: i.cidrBlock ?? "10.0.0.0/16" },
                natGateways: [],
                subnets: [],
                routeTables: [],
            },
        };
    },
    "aws:ec2/vpcEndpoint:VpcEndpoint": (name, i, env) => {
        const id = `vpce-${hex(name, 17)}`;
        return { id, outputs: { arn: arn(env, "ec2", `vpc-endpoint/${id}`), state: "available", prefixListId: i.vpcEndpointType === "Gateway" ? `pl-${hex(name, 8)}` : undefined } };
    },
    "aws:eks/accessEntry:AccessEntry": (_name, i, env) => ({
        id: `${i.clusterName}:${i.principalArn}`,
        outputs: { accessEntryArn: arn(env, "eks", `access-entry/${i.clusterName}/role/${uuid(String(i.principalArn))}`), type: i.type ?? "STANDARD" },
    }),
    "docker:index/image:Image": (name, i) => {
        const repo = String(i.imageName ?? name).replace(/:[^:/]+$/, "");
        const digest = `sha256:${crypto.createHash("sha256").update(JSON.stringify(i.build ?? {}) + String(i.imageName)).digest("hex")}`;
        return { id: `${repo}@${digest}`, outputs: { repoDigest: `${repo}@${digest}`, imageName: i.imageName, baseImageName: i.imageName } };
    },
};

/** Generic AWS ARN from the type token, e.g. `aws:sqs/queue:Queue` → `arn:aws:sqs:<region>:<account>:queue/<name>`. */
function genericAws(type: string, name: string, inputs: Outputs, env: MockEnvironment) {
    const [, mod, kind] = /^aws:([^/]+)\/([^:]+):/.exec(type) ?? [];
    const n = inputs.name ?? autoname(name, type);
    return { id: String(n), outputs: { arn: arn(env, mod ?? "aws", `${kind ?? "resource"}/${n}`) } };
}

/** Kubernetes objects: the API server fills defaults the program does not set. */
function kubernetes(type: string, name: string, inputs: Outputs) {
    const metadata = { ...(inputs.metadata ?? {}) };
    if (!metadata.name) {
        metadata.name = autoname(name, type);
    }
    const namespaced = !/(:core\/v1:Namespace|ClusterRole|ClusterRoleBinding|StorageClass|CustomResourceDefinition|GatewayClass|PriorityClass)$/.test(type);
    if (namespaced && !metadata.namespace) {
        metadata.namespace = "default";
    }
    metadata.uid = uuid(`${type}:${metadata.namespace ?? ""}:${metadata.name}`);
    const outputs: Outputs = { ...inputs, metadata };
    if (type === "kubernetes:core/v1:Service") {
        outputs.spec = { ...(inputs.spec ?? {}), clusterIP: `172.20.${parseInt(hex(metadata.name, 2), 16)}.${parseInt(hex(metadata.uid, 2), 16) % 250 + 2}` };
    }
    return { id: metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name, outputs };
}

/** An error the SDK reports with its message (it reads gRPC-style `details`). */
function mockError(message: string): Error {
    return Object.assign(new Error(message), { details: message });
}

/** The Mocks implementation handed to `pulumi.runtime.setMocks`. */
export class ProviderMocks implements pulumi.runtime.Mocks {
    /** Invoke tokens answered so far (for tests that want to see them). */
    public readonly calls: string[] = [];

    constructor(private readonly env: MockEnvironment = DEFAULT_MOCK_ENV) {}

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        const { type, name, inputs } = args;
        if (type.startsWith("pulumi:providers:")) {
            return { id: `${name}-provider-id`, state: inputs };
        }
        let computed: { id?: string; outputs: Outputs };
        const fn = OUTPUTS[type];
        if (fn) {
            computed = fn(name, inputs, this.env);
        } else if (type.startsWith("kubernetes:")) {
            computed = kubernetes(type, name, inputs);
        } else if (type.startsWith("aws:")) {
            computed = genericAws(type, name, inputs, this.env);
        } else {
            computed = { id: `${name}-${hex(type, 8)}`, outputs: {} };
        }
        const tagsAll = inputs.tags ? { tagsAll: inputs.tags } : {};
        return { id: computed.id ?? `${name}-id`, state: { ...inputs, ...tagsAll, ...computed.outputs } };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        this.calls.push(args.token);
        const env = this.env;
        switch (args.token) {
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId: env.accountId, arn: `arn:${env.partition}:iam::${env.accountId}:user/mock`, userId: "AIDAMOCK", id: env.accountId };
            case "aws:index/getRegion:getRegion":
                return { name: env.region, region: env.region, id: env.region, description: env.region, endpoint: `ec2.${env.region}.amazonaws.com` };
            case "aws:index/getPartition:getPartition":
                return { partition: env.partition, dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: env.partition };
            case "aws:index/getAvailabilityZones:getAvailabilityZones": {
                const names = ["a", "b", "c"].map((s) => `${env.region}${s}`);
                return { names, zoneIds: names.map((_, k) => `use1-az${k + 1}`), id: env.region };
            }
            case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
                return {
                    proxyEndpoint: `https://${env.accountId}.dkr.ecr.${env.region}.amazonaws.com`,
                    userName: "AWS",
                    password: "mock-ecr-password",
                    authorizationToken: Buffer.from("AWS:mock-ecr-password").toString("base64"),
                    expiresAt: "2099-01-01T00:00:00Z",
                    id: env.region,
                };
            case "aws:ec2/getRouteTables:getRouteTables": {
                // One route table per subnet named in an association filter (awsx gives each private subnet its own).
                const filters: { name: string; values: string[] }[] = args.inputs.filters ?? [];
                const subnets = filters.find((f) => f.name === "association.subnet-id")?.values ?? [];
                const ids = subnets.map((subnet) => `rtb-${hex(`rtb:${subnet}`, 17)}`);
                return { ids, id: String(args.inputs.vpcId ?? env.region) };
            }
            case "aws:ec2/getVpc:getVpc": {
                const id = String(args.inputs.id);
                return { id, cidrBlock: "10.20.0.0/16", arn: arn(env, "ec2", `vpc/${id}`), ownerId: env.accountId, state: "available", enableDnsHostnames: true, enableDnsSupport: true };
            }
            case "aws:eks/getAddonVersion:getAddonVersion": {
                // EKS's default version of an addon for a Kubernetes minor, in EKS's format.
                const minor = Number(String(args.inputs.kubernetesVersion).split(".")[1] ?? 0);
                const version = `v1.${minor - 14}.${parseInt(hex(String(args.inputs.addonName), 2), 16) % 10}-eksbuild.1`;
                return { addonName: args.inputs.addonName, kubernetesVersion: args.inputs.kubernetesVersion, version, id: String(args.inputs.addonName) };
            }
            case "aws:secretsmanager/getSecretVersion:getSecretVersion":
                return {
                    arn: args.inputs.secretId,
                    secretString: JSON.stringify({ username: "mlflow", password: "mock-password-from-secrets-manager" }),
                    versionId: uuid(String(args.inputs.secretId)),
                    id: String(args.inputs.secretId),
                };
            default:
                throw mockError(`mock provider: no answer for invoke '${args.token}' (inputs ${JSON.stringify(args.inputs)}); add it to offline-plan/mocks.ts`);
        }
    }
}
