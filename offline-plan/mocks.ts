// The one implementation of provider-shaped behaviour, shared by the offline plan (Pulumi's mock
// runtime, `mlops plan`) and the engine tier's mock provider plugins (engine/providers/, driven by
// the real Pulumi CLI): input defaults the providers add in Check (auto-names), resource outputs
// (ARNs, URLs, endpoints, image digests), invoke answers, and the outputs of the remote components
// (awsx Vpc, Helm v4 Chart). Everything is deterministic: same inputs → same outputs, so a second
// plan of an unchanged program shows no change. Unknown invokes fail, naming the token.
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export interface MockEnvironment {
    accountId: string;
    region: string;
    partition: string;
}

export const DEFAULT_MOCK_ENV: MockEnvironment = { accountId: "123456789012", region: "us-east-1", partition: "aws" };

type Outputs = Record<string, any>;

function hex(seed: string, n: number): string {
    return crypto.createHash("sha256").update(seed).digest("hex").slice(0, n);
}

function uuid(seed: string): string {
    const h = hex(seed, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Pulumi auto-naming: `<logical name>-<7 hex>` (the providers use 7 random hex; ours are derived). */
function autoname(name: string, seed: string): string {
    return `${name}-${hex(`${seed}::${name}`, 7)}`;
}

// ---------------------------------------------------------------------------------------------
// Secrets: inputs reach us with secret values wrapped the way Pulumi's RPC layer wraps them, both
// from the mock runtime (rpc.deserializeProperties) and from the engine (Struct with the secret
// signature). Outputs are computed from the plain values, and every top-level property whose input
// was secret stays secret in the state.

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** The value the engine sends for an input that is not known yet (preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isSecretValue(v: unknown): v is { value: unknown } {
    return v !== null && typeof v === "object" && (v as any)[SIG_KEY] === SECRET_SIG;
}

export function makeSecretValue(value: unknown): Outputs {
    return isSecretValue(value) ? (value as Outputs) : { [SIG_KEY]: SECRET_SIG, value };
}

/** The value with every secret wrapper removed (deeply). */
export function unwrapSecrets(v: any): any {
    if (isSecretValue(v)) {
        return unwrapSecrets(v.value);
    }
    if (Array.isArray(v)) {
        return v.map(unwrapSecrets);
    }
    if (v !== null && typeof v === "object") {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

function containsSecret(v: any): boolean {
    if (isSecretValue(v)) {
        return true;
    }
    if (Array.isArray(v)) {
        return v.some(containsSecret);
    }
    if (v !== null && typeof v === "object") {
        return Object.values(v).some(containsSecret);
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Check: the defaults the real providers add to the inputs before Diff/Create.

/** Properties the providers auto-name when the program leaves them unset (seed keeps names stable). */
const AUTONAMED: Record<string, { property: string; seed: string }> = {
    "aws:s3/bucket:Bucket": { property: "bucket", seed: "s3" },
    "aws:ecr/repository:Repository": { property: "name", seed: "ecr" },
    "aws:iam/role:Role": { property: "name", seed: "role" },
    "aws:iam/policy:Policy": { property: "name", seed: "policy" },
    "aws:iam/instanceProfile:InstanceProfile": { property: "name", seed: "ip" },
    "aws:iam/rolePolicy:RolePolicy": { property: "name", seed: "aws:iam/rolePolicy:RolePolicy" },
    "aws:eks/cluster:Cluster": { property: "name", seed: "eks" },
    "aws:eks/nodeGroup:NodeGroup": { property: "nodeGroupName", seed: "ng" },
    "aws:ec2/launchTemplate:LaunchTemplate": { property: "name", seed: "lt" },
    "aws:ec2/securityGroup:SecurityGroup": { property: "name", seed: "sg" },
    "aws:rds/instance:Instance": { property: "identifier", seed: "db" },
    "aws:rds/subnetGroup:SubnetGroup": { property: "name", seed: "dbsubnet" },
    "aws:rds/parameterGroup:ParameterGroup": { property: "name", seed: "pg" },
    "aws:secretsmanager/secret:Secret": { property: "name", seed: "secret" },
    "aws:cloudwatch/logGroup:LogGroup": { property: "name", seed: "lg" },
};

/** Prefix properties that stand in for the auto-name (the provider then names at create time). */
const NAME_PREFIX: Record<string, string> = {
    "aws:s3/bucket:Bucket": "bucketPrefix",
    "aws:iam/role:Role": "namePrefix",
    "aws:iam/policy:Policy": "namePrefix",
    "aws:eks/nodeGroup:NodeGroup": "nodeGroupNamePrefix",
    "aws:ec2/launchTemplate:LaunchTemplate": "namePrefix",
    "aws:ec2/securityGroup:SecurityGroup": "namePrefix",
    "aws:rds/instance:Instance": "identifierPrefix",
    "aws:secretsmanager/secret:Secret": "namePrefix",
    "aws:cloudwatch/logGroup:LogGroup": "namePrefix",
};

/** The annotation pulumi-kubernetes' Check adds to an object whose `metadata.name` it generated. */
export const K8S_AUTONAMED_ANNOTATION = "pulumi.com/autonamed";

/** Kubernetes kinds that are not namespaced (the API server puts namespaced ones in `default`). */
const CLUSTER_SCOPED = /(:core\/v1:Namespace|:ClusterRole|:ClusterRoleBinding|:StorageClass|:CustomResourceDefinition|:GatewayClass|:PriorityClass|kueue\.x-k8s\.io\/v1beta2:(ClusterQueue|ResourceFlavor|WorkloadPriorityClass|Cohort|Topology|AdmissionCheck))$/;

export interface CheckOptions {
    /** Folder relative build contexts are resolved against (the program's working directory). */
    cwd?: string;
}

/**
 * The inputs the real provider's Check returns for these program inputs:
 * - AWS (terraform bridge): auto-named name properties filled in, and `__defaults` listing the
 *   properties it filled (the bridge's record of which names it generated; Diff reads it).
 * - Kubernetes: `metadata.name` generated when unset, marked with the `pulumi.com/autonamed`
 *   annotation (pulumi-kubernetes' Check does both).
 * - Docker (v4 Image): `build.contextDigest`, the hash of the build context's content (the v4
 *   provider's Check adds it so a changed context shows as a diff).
 */
export function checkInputs(type: string, name: string, inputs: Outputs, opts: CheckOptions = {}): Outputs {
    const out: Outputs = { ...inputs };
    const auto = AUTONAMED[type];
    if (auto) {
        const defaults: string[] = [];
        const prefix = NAME_PREFIX[type];
        if (out[auto.property] === undefined && !(prefix && out[prefix] !== undefined)) {
            out[auto.property] = autoname(name, auto.seed);
            defaults.push(auto.property);
        }
        out.__defaults = defaults;
    } else if (type.startsWith("kubernetes:") && !type.startsWith("kubernetes:helm.sh/")) {
        const metadata = { ...(unwrapSecrets(out.metadata) ?? {}) };
        if (metadata.name === undefined) {
            metadata.name = autoname(name, type);
            metadata.annotations = { ...(metadata.annotations ?? {}), [K8S_AUTONAMED_ANNOTATION]: "true" };
            out.metadata = metadata;
        }
    } else if (type === "docker:index/image:Image" && out.build && !isSecretValue(out.build)) {
        const build = out.build;
        if (typeof build.context === "string" && build.context !== UNKNOWN) {
            out.build = { ...build, contextDigest: buildContextDigest(build.context, build.dockerfile, opts.cwd ?? process.cwd()) };
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Docker build contexts.

/**
 * SHA-256 over the build context's files, each named by its path RELATIVE to the context, plus the
 * Dockerfile's path relative to the context — never the context's absolute location, so two
 * checkouts of the same commit give the same digest (the docker v4 provider hashes the context the
 * same way: relative paths and file contents). `.git`, `node_modules` and `__pycache__` are left out.
 */
export function buildContextDigest(context: string, dockerfile: string | undefined, cwd: string = process.cwd()): string {
    const root = path.resolve(cwd, context);
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
        throw new Error(`docker build context '${context}' is not a folder (resolved against ${cwd})`);
    }
    const hash = crypto.createHash("sha256");
    const df = dockerfile ? path.relative(root, path.resolve(root, dockerfile)) : "Dockerfile";
    hash.update(`dockerfile:${df.split(path.sep).join("/")}\0`);
    const walk = (dir: string): string[] =>
        fs
            .readdirSync(dir, { withFileTypes: true })
            .filter((e) => ![".git", "node_modules", "__pycache__"].includes(e.name))
            .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    for (const file of walk(root).sort()) {
        hash.update(path.relative(root, file).split(path.sep).join("/"));
        hash.update("\0");
        hash.update(crypto.createHash("sha256").update(fs.readFileSync(file)).digest());
        hash.update("\0");
    }
    return hash.digest("hex");
}

/**
 * The image digest the registry would report: a function of the context's content digest, the
 * Dockerfile (relative to the context), build args, platform and target — not of any path.
 */
export function imageDigest(build: Outputs, cwd: string = process.cwd()): string {
    const contextDigest = build.contextDigest ?? (typeof build.context === "string" ? buildContextDigest(build.context, build.dockerfile, cwd) : "");
    const root = typeof build.context === "string" ? path.resolve(cwd, build.context) : cwd;
    const dockerfile = build.dockerfile ? path.relative(root, path.resolve(root, build.dockerfile)).split(path.sep).join("/") : "Dockerfile";
    const args = Object.entries(build.args ?? {}).sort(([a], [b]) => a.localeCompare(b));
    return `sha256:${crypto
        .createHash("sha256")
        .update(JSON.stringify({ contextDigest, dockerfile, args, platform: build.platform ?? null, target: build.target ?? null }))
        .digest("hex")}`;
}

// ---------------------------------------------------------------------------------------------
// Resource outputs.

type OutputFn = (name: string, inputs: Outputs, env: MockEnvironment, cwd: string) => { id?: string; outputs: Outputs };

const arn = (env: MockEnvironment, service: string, resource: string, regional = true, account = true) =>
    `arn:${env.partition}:${service}:${regional ? env.region : ""}:${account ? env.accountId : ""}:${resource}`;

/** EC2-style ids (`vpc-…`, `subnet-…`) derived from the logical name. */
const ec2Id = (prefix: string, name: string) => `${prefix}-${hex(`${prefix}:${name}`, 17)}`;

const named = (type: string, i: Outputs, name: string): string => {
    const auto = AUTONAMED[type];
    const prefix = NAME_PREFIX[type];
    if (auto && i[auto.property] !== undefined) {
        return String(i[auto.property]);
    }
    if (prefix && i[prefix] !== undefined) {
        return `${i[prefix]}${hex(`${type}::${name}`, 26)}`;
    }
    return autoname(name, auto?.seed ?? type);
};

/** Output computation per type token. Types not listed get the generic behaviour below. */
const OUTPUTS: Record<string, OutputFn> = {
    "aws:s3/bucket:Bucket": (name, i, env) => {
        const bucket = named("aws:s3/bucket:Bucket", i, name);
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
        const repoName = named("aws:ecr/repository:Repository", i, name);
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
        const roleName = named("aws:iam/role:Role", i, name);
        const p = i.path ?? "/";
        return {
            id: roleName,
            outputs: { name: roleName, arn: `arn:${env.partition}:iam::${env.accountId}:role${p}${roleName}`, uniqueId: `AROA${hex(name, 17).toUpperCase()}` },
        };
    },
    "aws:iam/policy:Policy": (name, i, env) => {
        const policyName = named("aws:iam/policy:Policy", i, name);
        const policyArn = `arn:${env.partition}:iam::${env.accountId}:policy${i.path ?? "/"}${policyName}`;
        return { id: policyArn, outputs: { name: policyName, arn: policyArn, policyId: `ANPA${hex(name, 17).toUpperCase()}` } };
    },
    "aws:iam/rolePolicy:RolePolicy": (name, i) => {
        const policyName = named("aws:iam/rolePolicy:RolePolicy", i, name);
        return { id: `${i.role}:${policyName}`, outputs: { name: policyName } };
    },
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (_name, i, env) => {
        const host = String(i.url ?? "").replace(/^https:\/\//, "");
        const a = `arn:${env.partition}:iam::${env.accountId}:oidc-provider/${host}`;
        return { id: a, outputs: { arn: a } };
    },
    "aws:iam/instanceProfile:InstanceProfile": (name, i, env) => {
        const n = named("aws:iam/instanceProfile:InstanceProfile", i, name);
        return { id: n, outputs: { name: n, arn: `arn:${env.partition}:iam::${env.accountId}:instance-profile/${n}` } };
    },
    "aws:eks/cluster:Cluster": (name, i, env) => {
        const clusterName = named("aws:eks/cluster:Cluster", i, name);
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
                clusterId: uuid(`eks-id:${clusterName}`),
                vpcConfig: { ...(i.vpcConfig ?? {}), clusterSecurityGroupId: `sg-${hex(`csg:${clusterName}`, 17)}`, vpcId: i.vpcConfig?.vpcId ?? ec2Id("vpc", `eks:${clusterName}`) },
            },
        };
    },
    "aws:eks/nodeGroup:NodeGroup": (name, i, env) => {
        const ngName = named("aws:eks/nodeGroup:NodeGroup", i, name);
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
        return { id, outputs: { name: named("aws:ec2/launchTemplate:LaunchTemplate", i, name), arn: arn(env, "ec2", `launch-template/${id}`), latestVersion: 1, defaultVersion: 1 } };
    },
    "aws:ec2/securityGroup:SecurityGroup": (name, i, env) => {
        const id = `sg-${hex(name, 17)}`;
        return { id, outputs: { name: named("aws:ec2/securityGroup:SecurityGroup", i, name), arn: arn(env, "ec2", `security-group/${id}`), ownerId: env.accountId } };
    },
    "aws:ec2/vpc:Vpc": (name, i, env) => {
        const id = ec2Id("vpc", name);
        return {
            id,
            outputs: {
                arn: arn(env, "ec2", `vpc/${id}`),
                cidrBlock: i.cidrBlock,
                ownerId: env.accountId,
                mainRouteTableId: ec2Id("rtb", `main:${name}`),
                defaultSecurityGroupId: ec2Id("sg", `default:${name}`),
                defaultNetworkAclId: ec2Id("acl", `default:${name}`),
            },
        };
    },
    "aws:ec2/subnet:Subnet": (name, _i, env) => {
        const id = ec2Id("subnet", name);
        return { id, outputs: { arn: arn(env, "ec2", `subnet/${id}`), ownerId: env.accountId } };
    },
    "aws:ec2/internetGateway:InternetGateway": (name, _i, env) => {
        const id = ec2Id("igw", name);
        return { id, outputs: { arn: arn(env, "ec2", `internet-gateway/${id}`), ownerId: env.accountId } };
    },
    "aws:ec2/eip:Eip": (name) => {
        const id = ec2Id("eipalloc", name);
        const h = hex(`eip:${name}`, 4);
        return { id, outputs: { allocationId: id, publicIp: `3.${parseInt(h.slice(0, 2), 16)}.${parseInt(h.slice(2, 4), 16)}.10` } };
    },
    "aws:ec2/natGateway:NatGateway": (name) => ({ id: ec2Id("nat", name), outputs: { connectivityType: "public" } }),
    "aws:ec2/routeTable:RouteTable": (name, _i, env) => {
        const id = ec2Id("rtb", name);
        return { id, outputs: { arn: arn(env, "ec2", `route-table/${id}`), ownerId: env.accountId } };
    },
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (name) => ({ id: ec2Id("rtbassoc", name), outputs: {} }),
    "aws:ec2/route:Route": (_name, i) => ({ id: `r-${i.routeTableId}${hex(String(i.destinationCidrBlock), 10)}`, outputs: {} }),
    "aws:rds/instance:Instance": (name, i, env) => {
        const identifier = named("aws:rds/instance:Instance", i, name);
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
        const n = named("aws:rds/subnetGroup:SubnetGroup", i, name);
        return { id: n, outputs: { name: n, arn: arn(env, "rds", `subgrp:${n}`) } };
    },
    "aws:rds/parameterGroup:ParameterGroup": (name, i, env) => {
        const n = named("aws:rds/parameterGroup:ParameterGroup", i, name);
        return { id: n, outputs: { name: n, arn: arn(env, "rds", `pg:${n}`) } };
    },
    "aws:secretsmanager/secret:Secret": (name, i, env) => {
        const n = named("aws:secretsmanager/secret:Secret", i, name);
        const a = arn(env, "secretsmanager", `secret:${n}-${hex(n, 6)}`);
        return { id: a, outputs: { name: n, arn: a } };
    },
    "aws:cloudwatch/logGroup:LogGroup": (name, i, env) => {
        const n = named("aws:cloudwatch/logGroup:LogGroup", i, name);
        return { id: n, outputs: { name: n, arn: arn(env, "logs", `log-group:${n}`) } };
    },
    // PipelineTrigger: SQS dead-letter queue, EventBridge connection / API destination / rule / target, alarm.
    "aws:sqs/queue:Queue": (name, i, env) => {
        const n = String(i.name ?? autoname(name, "aws:sqs/queue:Queue"));
        const url = `https://sqs.${env.region}.amazonaws.com/${env.accountId}/${n}`;
        return { id: url, outputs: { name: n, url, arn: arn(env, "sqs", n) } };
    },
    "aws:sqs/queuePolicy:QueuePolicy": (_name, i) => ({ id: String(i.queueUrl), outputs: {} }),
    "aws:cloudwatch/eventConnection:EventConnection": (name, i, env) => {
        const n = String(i.name ?? name);
        return {
            id: n,
            outputs: {
                arn: arn(env, "events", `connection/${n}/${uuid(`conn:${n}`)}`),
                // EventBridge keeps the connection's credentials in a secret it creates and owns.
                secretArn: arn(env, "secretsmanager", `secret:events!connection/${n}/${uuid(`conn-secret:${n}`)}-${hex(n, 6)}`),
            },
        };
    },
    "aws:cloudwatch/eventApiDestination:EventApiDestination": (name, i, env) => {
        const n = String(i.name ?? name);
        return { id: n, outputs: { arn: arn(env, "events", `api-destination/${n}/${uuid(`dest:${n}`)}`) } };
    },
    "aws:cloudwatch/eventRule:EventRule": (name, i, env) => {
        const n = String(i.name ?? autoname(name, "aws:cloudwatch/eventRule:EventRule"));
        const bus = String(i.eventBusName ?? "default");
        return { id: bus === "default" ? n : `${bus}/${n}`, outputs: { name: n, eventBusName: bus, arn: arn(env, "events", bus === "default" ? `rule/${n}` : `rule/${bus}/${n}`) } };
    },
    "aws:cloudwatch/eventTarget:EventTarget": (name, i) => {
        const targetId = String(i.targetId ?? autoname(name, "aws:cloudwatch/eventTarget:EventTarget"));
        return { id: `${i.eventBusName ?? "default"}-${i.rule}-${targetId}`, outputs: { targetId, eventBusName: i.eventBusName ?? "default" } };
    },
    "aws:cloudwatch/metricAlarm:MetricAlarm": (name, i, env) => {
        const n = String(i.name ?? autoname(name, "aws:cloudwatch/metricAlarm:MetricAlarm"));
        return { id: n, outputs: { name: n, arn: arn(env, "cloudwatch", `alarm:${n}`) } };
    },
    "aws:ec2/vpcEndpoint:VpcEndpoint": (name, i, env) => {
        const id = `vpce-${hex(name, 17)}`;
        const gateway = i.vpcEndpointType === "Gateway";
        return {
            id,
            outputs: {
                arn: arn(env, "ec2", `vpc-endpoint/${id}`),
                state: "available",
                prefixListId: gateway ? `pl-${hex(name, 8)}` : undefined,
                // A gateway endpoint exposes the service's address ranges (its prefix list's CIDRs);
                // two deterministic documentation-range blocks stand in for them.
                cidrBlocks: gateway ? ["198.51.100.0/24", "203.0.113.0/24"] : [],
            },
        };
    },
    "aws:eks/accessEntry:AccessEntry": (_name, i, env) => ({
        id: `${i.clusterName}:${i.principalArn}`,
        outputs: { accessEntryArn: arn(env, "eks", `access-entry/${i.clusterName}/role/${uuid(String(i.principalArn))}`), type: i.type ?? "STANDARD" },
    }),
    "docker:index/image:Image": (name, i, _env, cwd) => {
        const repo = String(i.imageName ?? name).replace(/:[^:/]+$/, "");
        const digest = imageDigest(i.build ?? {}, cwd);
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
    const namespaced = !CLUSTER_SCOPED.test(type);
    if (namespaced && !metadata.namespace) {
        metadata.namespace = "default";
    }
    metadata.uid = uuid(`${type}:${metadata.namespace ?? ""}:${metadata.name}`);
    const outputs: Outputs = { ...inputs, metadata };
    if (type === "kubernetes:core/v1:Service") {
        outputs.spec = { ...(inputs.spec ?? {}), clusterIP: `172.20.${parseInt(hex(metadata.name, 2), 16)}.${(parseInt(hex(metadata.uid, 2), 16) % 250) + 2}` };
    }
    return { id: metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name, outputs };
}

export interface ResourceState {
    id: string;
    /** Inputs (secret ones still wrapped) overlaid with the provider-computed outputs. */
    state: Outputs;
}

/**
 * What the provider's Create returns for a resource of `type` named `name` with these (checked)
 * inputs: its id and output state. The one place resource outputs are computed — the mock runtime
 * (`ProviderMocks.newResource`) and the provider plugins' `create`/`update` both call it.
 */
export function resourceState(type: string, name: string, checkedInputs: Outputs, env: MockEnvironment, cwd: string = process.cwd()): ResourceState {
    const raw: Outputs = { ...checkedInputs };
    delete raw.__defaults;
    const plain = unwrapSecrets(raw);
    let computed: { id?: string; outputs: Outputs };
    const fn = OUTPUTS[type];
    if (fn) {
        computed = fn(name, plain, env, cwd);
    } else if (type.startsWith("kubernetes:")) {
        computed = kubernetes(type, name, plain);
    } else if (type.startsWith("aws:")) {
        computed = genericAws(type, name, plain, env);
    } else {
        computed = { id: `${name}-${hex(type, 8)}`, outputs: {} };
    }
    const tagsAll = plain.tags ? { tagsAll: plain.tags } : {};
    const state: Outputs = { ...raw, ...tagsAll };
    for (const [k, v] of Object.entries(computed.outputs)) {
        if (v !== undefined) {
            // A secret input stays secret when the provider echoes (or derives) it.
            state[k] = containsSecret(raw[k]) ? makeSecretValue(v) : v;
        }
    }
    return { id: computed.id ?? `${name}-id`, state };
}

// ---------------------------------------------------------------------------------------------
// Remote components (multi-language components served by a provider's Construct).

/** Reference to another child's id inside a child's inputs. */
export interface ChildRef {
    childRef: string;
}

export interface ComponentChild {
    /** Key other children and the outputs use to refer to this child. */
    key: string;
    type: string;
    name: string;
    inputs: Outputs;
}

export interface ComponentLayout {
    children: ComponentChild[];
    /** Component outputs; ChildRef values stand for the child's id (or the child itself, see `resources`). */
    outputs: Outputs;
    /** Output properties that are resource references in the real component (the child, not its id). */
    resourceOutputs: string[];
}

function ipToInt(ip: string): number {
    return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToIp(n: number): string {
    return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/**
 * The children awsx's `ec2.Vpc` creates for these inputs and the outputs it returns, with the same
 * naming scheme (`<name>`, `<name>-private-1`, `<name>-public-1`, `<name>-1` for NAT/EIP): VPC,
 * subnets per AZ in `subnetSpecs` order, a route table and association per subnet, an internet
 * gateway with public routes, NAT gateways per `natGateways.strategy` (default OnePerAz) with
 * their EIPs and private routes. CIDRs: each AZ gets an equal power-of-two share of the VPC block
 * and its subnets are laid out in order inside it.
 */
export function awsxVpcLayout(name: string, inputs: Outputs, env: MockEnvironment): ComponentLayout {
    const i = unwrapSecrets(inputs);
    const azCount: number = i.numberOfAvailabilityZones ?? (i.availabilityZoneNames?.length || 3);
    const azs: string[] = i.availabilityZoneNames ?? ["a", "b", "c", "d", "e", "f"].slice(0, azCount).map((s) => `${env.region}${s}`);
    const cidr: string = i.cidrBlock ?? "10.0.0.0/16";
    const [base, bits] = cidr.split("/");
    const vpcPrefix = Number(bits);
    const azPrefix = vpcPrefix + Math.ceil(Math.log2(Math.max(azCount, 1)));
    const specs: { type: string; cidrMask?: number; tags?: Outputs; name?: string }[] = i.subnetSpecs ?? [{ type: "Private" }, { type: "Public" }];
    const tags: Outputs = i.tags ?? {};
    const children: ComponentChild[] = [];
    const ref = (key: string): ChildRef => ({ childRef: key });
    children.push({
        key: "vpc",
        type: "aws:ec2/vpc:Vpc",
        name,
        inputs: { cidrBlock: cidr, enableDnsHostnames: i.enableDnsHostnames ?? true, enableDnsSupport: i.enableDnsSupport ?? true, instanceTenancy: i.instanceTenancy ?? "default", tags },
    });
    const subnetKeys: Record<string, string[]> = {};
    azs.forEach((az, k) => {
        let next = ipToInt(base) + k * 2 ** (32 - azPrefix);
        for (const spec of specs) {
            const mask = spec.cidrMask ?? azPrefix + 1;
            const size = 2 ** (32 - mask);
            next = Math.ceil(next / size) * size;
            const kind = spec.type.toLowerCase();
            const subnetName = `${name}-${spec.name ?? kind}-${k + 1}`;
            const key = `subnet:${subnetName}`;
            (subnetKeys[spec.type] ??= []).push(key);
            children.push({
                key,
                type: "aws:ec2/subnet:Subnet",
                name: subnetName,
                inputs: {
                    vpcId: ref("vpc"),
                    availabilityZone: az,
                    cidrBlock: `${intToIp(next)}/${mask}`,
                    mapPublicIpOnLaunch: spec.type === "Public",
                    assignIpv6AddressOnCreation: false,
                    tags: { ...(spec.tags ?? {}), Name: subnetName },
                },
            });
            children.push({ key: `rtb:${subnetName}`, type: "aws:ec2/routeTable:RouteTable", name: subnetName, inputs: { vpcId: ref("vpc"), tags: { ...(spec.tags ?? {}), Name: subnetName } } });
            children.push({
                key: `rtbassoc:${subnetName}`,
                type: "aws:ec2/routeTableAssociation:RouteTableAssociation",
                name: subnetName,
                inputs: { routeTableId: ref(`rtb:${subnetName}`), subnetId: ref(key) },
            });
            next += size;
        }
    });
    const publics = subnetKeys.Public ?? [];
    if (publics.length > 0) {
        children.push({ key: "igw", type: "aws:ec2/internetGateway:InternetGateway", name, inputs: { vpcId: ref("vpc"), tags } });
        for (const key of publics) {
            const subnetName = key.slice("subnet:".length);
            children.push({
                key: `route:${subnetName}-ig`,
                type: "aws:ec2/route:Route",
                name: `${subnetName}-ig`,
                inputs: { routeTableId: ref(`rtb:${subnetName}`), destinationCidrBlock: "0.0.0.0/0", gatewayId: ref("igw") },
            });
        }
    }
    const strategy: string = i.natGateways?.strategy ?? "OnePerAz";
    const natCount = publics.length === 0 || strategy === "None" ? 0 : strategy === "Single" ? 1 : publics.length;
    const nats: string[] = [];
    for (let j = 1; j <= natCount; j++) {
        children.push({ key: `eip:${j}`, type: "aws:ec2/eip:Eip", name: `${name}-${j}`, inputs: { domain: "vpc", tags } });
        children.push({
            key: `nat:${j}`,
            type: "aws:ec2/natGateway:NatGateway",
            name: `${name}-${j}`,
            inputs: { subnetId: ref(publics[j - 1]), allocationId: ref(`eip:${j}`), tags },
        });
        nats.push(`nat:${j}`);
    }
    if (nats.length > 0) {
        (subnetKeys.Private ?? []).forEach((key, k) => {
            const subnetName = key.slice("subnet:".length);
            const nat = nats[Math.min(k, nats.length - 1)];
            children.push({
                key: `route:${subnetName}-nat`,
                type: "aws:ec2/route:Route",
                name: `${subnetName}-nat-${nats.indexOf(nat) + 1}`,
                inputs: { routeTableId: ref(`rtb:${subnetName}`), destinationCidrBlock: "0.0.0.0/0", natGatewayId: ref(nat) },
            });
        });
    }
    const refs = (keys: string[] | undefined) => (keys ?? []).map(ref);
    return {
        children,
        outputs: {
            vpcId: ref("vpc"),
            privateSubnetIds: refs(subnetKeys.Private),
            publicSubnetIds: refs(subnetKeys.Public),
            isolatedSubnetIds: refs(subnetKeys.Isolated),
            vpc: ref("vpc"),
            subnets: refs(Object.values(subnetKeys).flat()),
            routeTables: refs(children.filter((c) => c.type === "aws:ec2/routeTable:RouteTable").map((c) => c.key)),
            natGateways: refs(nats),
            eips: refs(children.filter((c) => c.type === "aws:ec2/eip:Eip").map((c) => c.key)),
            internetGateway: publics.length > 0 ? ref("igw") : undefined,
        },
        resourceOutputs: ["vpc", "subnets", "routeTables", "natGateways", "eips", "internetGateway"],
    };
}

/**
 * Helm v4 Chart: the real component renders the chart (which needs the chart repository — not
 * available offline) and registers every object as a child; `resources` lists them. Offline we
 * register the component alone and answer `resources: []`; nothing in this program reads it.
 */
export function helmChartLayout(): ComponentLayout {
    return { children: [], outputs: { resources: [] }, resourceOutputs: [] };
}

/** Remote component types and their layouts. */
export const REMOTE_COMPONENTS: Record<string, (name: string, inputs: Outputs, env: MockEnvironment) => ComponentLayout> = {
    "awsx:ec2:Vpc": awsxVpcLayout,
    "kubernetes:helm.sh/v4:Chart": () => helmChartLayout(),
};

/** Resolves a layout's ChildRefs to child ids computed by `resourceState` (the mock runtime's view). */
export function componentOutputsFromIds(layout: ComponentLayout, idOf: (child: ComponentChild) => string): Outputs {
    const byKey = new Map(layout.children.map((c) => [c.key, c]));
    const resolve = (v: any): any => {
        if (v && typeof v === "object" && "childRef" in v) {
            return idOf(byKey.get(v.childRef)!);
        }
        return Array.isArray(v) ? v.map(resolve) : v;
    };
    return Object.fromEntries(Object.entries(layout.outputs).filter(([, v]) => v !== undefined).map(([k, v]) => [k, resolve(v)]));
}

/** Replaces ChildRefs in a child's inputs with `lookup(key)` (ids or Outputs of registered children). */
export function resolveChildRefs<T>(value: any, lookup: (key: string) => T): any {
    if (value && typeof value === "object" && !Array.isArray(value) && "childRef" in value) {
        return lookup(value.childRef);
    }
    if (Array.isArray(value)) {
        return value.map((v) => resolveChildRefs(v, lookup));
    }
    if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveChildRefs(v, lookup)]));
    }
    return value;
}

/**
 * The outputs of a remote component computed without an engine: its children's ids come from the
 * same `resourceState` the aws provider plugin's Create uses, so they equal what Construct returns
 * after `pulumi up`.
 */
export function remoteComponentOutputs(type: string, name: string, inputs: Outputs, env: MockEnvironment): Outputs {
    const layout = REMOTE_COMPONENTS[type](name, inputs, env);
    const ids = new Map<string, string>();
    for (const child of layout.children) {
        const childInputs = resolveChildRefs(child.inputs, (key) => ids.get(key));
        ids.set(child.key, resourceState(child.type, child.name, checkInputs(child.type, child.name, childInputs), env).id);
    }
    return componentOutputsFromIds(layout, (c) => ids.get(c.key)!);
}

// ---------------------------------------------------------------------------------------------
// Invokes.

/** An error the SDK reports with its message (it reads gRPC-style `details`). */
function mockError(message: string): Error {
    return Object.assign(new Error(message), { details: message });
}

/** Invoke tokens answered (the only ones; anything else fails naming the token). */
export const INVOKE_TOKENS = [
    "aws:index/getCallerIdentity:getCallerIdentity",
    "aws:index/getRegion:getRegion",
    "aws:index/getPartition:getPartition",
    "aws:index/getAvailabilityZones:getAvailabilityZones",
    "aws:ecr/getAuthorizationToken:getAuthorizationToken",
    "aws:ec2/getRouteTables:getRouteTables",
    "aws:ec2/getVpc:getVpc",
    "aws:eks/getAddonVersion:getAddonVersion",
    "aws:secretsmanager/getSecretVersion:getSecretVersion",
] as const;

/** What the provider answers for invoke `token` with these arguments. Throws on an unknown token. */
export function answerInvoke(token: string, rawInputs: Outputs, env: MockEnvironment): Outputs {
    const inputs = unwrapSecrets(rawInputs ?? {});
    switch (token) {
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
            // The route table associated with each subnet named in an association filter: awsx gives
            // each subnet its own, named like the subnet (see awsxVpcLayout).
            const filters: { name: string; values: string[] }[] = inputs.filters ?? [];
            const subnets = filters.find((f) => f.name === "association.subnet-id")?.values ?? [];
            const ids = subnets.map((subnet) => `rtb-${hex(`rtb:${subnet}`, 17)}`);
            return { ids, id: String(inputs.vpcId ?? env.region) };
        }
        case "aws:ec2/getVpc:getVpc": {
            const id = String(inputs.id);
            return { id, cidrBlock: "10.20.0.0/16", arn: arn(env, "ec2", `vpc/${id}`), ownerId: env.accountId, state: "available", enableDnsHostnames: true, enableDnsSupport: true };
        }
        case "aws:eks/getAddonVersion:getAddonVersion": {
            // EKS's default version of an addon for a Kubernetes minor, in EKS's format.
            const minor = Number(String(inputs.kubernetesVersion).split(".")[1] ?? 0);
            const version = `v1.${minor - 14}.${parseInt(hex(String(inputs.addonName), 2), 16) % 10}-eksbuild.1`;
            return { addonName: inputs.addonName, kubernetesVersion: inputs.kubernetesVersion, version, id: String(inputs.addonName) };
        }
        case "aws:secretsmanager/getSecretVersion:getSecretVersion":
            return {
                arn: inputs.secretId,
                secretString: JSON.stringify({ username: "mlflow", password: "mock-password-from-secrets-manager" }),
                versionId: uuid(String(inputs.secretId)),
                id: String(inputs.secretId),
            };
        default:
            throw mockError(`mock provider: no answer for invoke '${token}' (inputs ${JSON.stringify(inputs)}); add it to offline-plan/mocks.ts`);
    }
}

// ---------------------------------------------------------------------------------------------
// The mock runtime's view.

/** The Mocks implementation handed to `pulumi.runtime.setMocks`. */
export class ProviderMocks implements pulumi.runtime.Mocks {
    /** Invoke tokens answered so far (for tests that want to see them). */
    public readonly calls: string[] = [];

    constructor(
        private readonly env: MockEnvironment = DEFAULT_MOCK_ENV,
        private readonly cwd: string = process.cwd(),
    ) {}

    /** Region of each explicit aws provider (by provider id), as its plugin would be configured. */
    private readonly providerRegions = new Map<string, string>();

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        const { type, name, inputs } = args;
        if (type.startsWith("pulumi:providers:")) {
            const id = `${name}-provider-id`;
            if (type === "pulumi:providers:aws" && typeof inputs.region === "string") {
                this.providerRegions.set(id, inputs.region);
            }
            return { id, state: inputs };
        }
        // A resource of an explicit aws provider lives in that provider's region (replicas, for one).
        // A provider reference is `<provider urn>::<provider id>`.
        const region = args.provider ? this.providerRegions.get(args.provider.slice(args.provider.lastIndexOf("::") + 2)) : undefined;
        const env = region ? { ...this.env, region } : this.env;
        if (REMOTE_COMPONENTS[type]) {
            return { id: undefined, state: { ...inputs, ...remoteComponentOutputs(type, name, inputs, env) } };
        }
        return resourceState(type, name, checkInputs(type, name, inputs, { cwd: this.cwd }), env, this.cwd);
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        this.calls.push(args.token);
        return answerInvoke(args.token, args.inputs, this.env);
    }
}
