// AWS half of the security pack, run the way the engine runs it: the compiled pack is served over
// gRPC (one server for this file) and every case is analyzed per resource and as a stack.
import * as assert from "node:assert/strict";

import { PolicyPackConfig, PolicyPackSession, PolicyRunResult, startPolicyPack } from "../../offline-plan/policy-runner";
import { RecordedResource, SECRET_PLACEHOLDER } from "../../offline-plan/types";
import { awsPolicies } from "../../policies/security/policies";
import { recordedResource } from "../helpers/resources";


const res = recordedResource;

const T = {
    bucket: "aws:s3/bucket:Bucket",
    sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    pab: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    acl: "aws:s3/bucketAcl:BucketAcl",
    ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    logging: "aws:s3/bucketLogging:BucketLogging",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    repo: "aws:ecr/repository:Repository",
    repoPolicy: "aws:ecr/repositoryPolicy:RepositoryPolicy",
    ecrLifecycle: "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    cluster: "aws:eks/cluster:Cluster",
    nodeGroup: "aws:eks/nodeGroup:NodeGroup",
    lt: "aws:ec2/launchTemplate:LaunchTemplate",
    ebsDefault: "aws:ebs/encryptionByDefault:EncryptionByDefault",
    db: "aws:rds/instance:Instance",
    dbCluster: "aws:rds/cluster:Cluster",
    paramGroup: "aws:rds/parameterGroup:ParameterGroup",
    key: "aws:kms/key:Key",
    secret: "aws:secretsmanager/secret:Secret",
    iamPolicy: "aws:iam/policy:Policy",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    userPolicy: "aws:iam/userPolicy:UserPolicy",
    role: "aws:iam/role:Role",
    rpa: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    sgRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
    ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    vpc: "aws:ec2/vpc:Vpc",
    defaultSg: "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    endpoint: "aws:ec2/vpcEndpoint:VpcEndpoint",
    connection: "aws:cloudwatch/eventConnection:EventConnection",
    eventTarget: "aws:cloudwatch/eventTarget:EventTarget",
    queue: "aws:sqs/queue:Queue",
    secretVersion: "aws:secretsmanager/secretVersion:SecretVersion",
};

const doc = (...Statement: any[]) => JSON.stringify({ Version: "2012-10-17", Statement });
const KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1111";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

// ---- fixtures: one compliant data bucket with every side resource ------------------------------------

function sideResources(b: RecordedResource, opts: { kms?: boolean; logTo?: RecordedResource } = {}): RecordedResource[] {
    const kms = opts.kms ?? true;
    const out = [
        res(T.sse, `${b.name}-sse`, {
            bucket: b.inputs.bucket,
            rules: [{
                applyServerSideEncryptionByDefault: kms ? { sseAlgorithm: "aws:kms", kmsMasterKeyId: KEY_ARN } : { sseAlgorithm: "AES256" },
                bucketKeyEnabled: kms,
            }],
        }, { deps: { bucket: [b] } }),
        res(T.versioning, `${b.name}-versioning`, { bucket: b.inputs.bucket, versioningConfiguration: { status: "Enabled" } }, { deps: { bucket: [b] } }),
        res(T.pab, `${b.name}-pab`, {
            bucket: b.inputs.bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
        }, { deps: { bucket: [b] } }),
        res(T.ownership, `${b.name}-ownership`, { bucket: b.inputs.bucket, rule: { objectOwnership: "BucketOwnerEnforced" } }, { deps: { bucket: [b] } }),
        res(T.bucketPolicy, `${b.name}-policy`, {
            bucket: b.inputs.bucket,
            policy: doc({
                Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "s3:*",
                Resource: [`arn:aws:s3:::${b.inputs.bucket}`, `arn:aws:s3:::${b.inputs.bucket}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            }),
        }, { deps: { bucket: [b] } }),
        res(T.lifecycle, `${b.name}-lifecycle`, {
            bucket: b.inputs.bucket,
            rules: [{ id: "abort-mpu", status: "Enabled", abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } }],
        }, { deps: { bucket: [b] } }),
    ];
    if (opts.logTo) {
        out.push(res(T.logging, `${b.name}-logging`, { bucket: b.inputs.bucket, targetBucket: opts.logTo.inputs.bucket, targetPrefix: "raw/" }, {
            deps: { bucket: [b], targetBucket: [opts.logTo] },
        }));
    }
    return out;
}

const logBucket = res(T.bucket, "logs", { bucket: "mlops-logs" });
const dataBucket = res(T.bucket, "raw", { bucket: "mlops-raw" });
/** A compliant data lake: a data bucket logging to an SSE-S3 log bucket. */
const goodLake = (): RecordedResource[] => [
    logBucket, ...sideResources(logBucket, { kms: false }),
    dataBucket, ...sideResources(dataBucket, { logTo: logBucket }),
];
/** The good lake with the data bucket's side resource `suffix` replaced (or removed when `by` is undefined). */
function lakeWith(suffix: string, by?: (b: RecordedResource) => RecordedResource | RecordedResource[]): RecordedResource[] {
    return goodLake().flatMap((r) => (r.name === `raw-${suffix}` ? (by ? by(dataBucket) : []) : [r]));
}

const goodCluster = {
    roleArn: "arn:aws:iam::123456789012:role/eks",
    version: "1.33",
    vpcConfig: { subnetIds: ["subnet-1"], endpointPrivateAccess: true, endpointPublicAccess: false },
    encryptionConfig: { resources: ["secrets"], provider: { keyArn: KEY_ARN } },
    enabledClusterLogTypes: ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    accessConfig: { authenticationMode: "API" },
    deletionProtection: true,
};
const goodGpuGroup = {
    clusterName: "mlops",
    nodeRoleArn: "arn:aws:iam::123456789012:role/nodes",
    subnetIds: ["subnet-1"],
    amiType: "AL2023_x86_64_NVIDIA",
    instanceTypes: ["g5.xlarge"],
    scalingConfig: { minSize: 0, desiredSize: 0, maxSize: 2 },
    taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }],
};
const goodLaunchTemplate = {
    metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1, httpEndpoint: "enabled" },
    blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true", kmsKeyId: KEY_ARN, volumeSize: 200, volumeType: "gp3" } }],
    userData: b64("#!/bin/bash\n/etc/eks/bootstrap.sh mlops\n"),
};
const goodDb = {
    engine: "postgres",
    engineVersion: "16.4",
    instanceClass: "db.t4g.medium",
    storageEncrypted: true,
    kmsKeyId: KEY_ARN,
    publiclyAccessible: false,
    backupRetentionPeriod: 7,
    deletionProtection: true,
    skipFinalSnapshot: false,
    finalSnapshotIdentifier: "mlflow-final",
    iamDatabaseAuthenticationEnabled: true,
    multiAz: true,
    autoMinorVersionUpgrade: true,
    enabledCloudwatchLogsExports: ["postgresql", "upgrade"],
    performanceInsightsEnabled: true,
    performanceInsightsKmsKeyId: KEY_ARN,
    manageMasterUserPassword: true,
    username: "mlflow",
    monitoringInterval: 60,
    monitoringRoleArn: "arn:aws:iam::123456789012:role/mlops-dev-tracking-db-monitoring-1",
};
const goodRepo = {
    name: "mlops/trainer",
    imageTagMutability: "IMMUTABLE",
    imageScanningConfiguration: { scanOnPush: true },
    encryptionConfigurations: [{ encryptionType: "KMS", kmsKey: KEY_ARN }],
    forceDelete: false,
};
const ROOT = { AWS: "arn:aws:iam::123456789012:root" };
const CI_TAGGED = { Null: { "aws:PrincipalTag/mlops.platform/ci-role": "false" } };
/** Administration and use in separate statements, CI roles denied use and deletion (components/kms.ts). */
const separatedKeyPolicy = [
    { Sid: "Admins", Effect: "Allow", Principal: ROOT, Action: ["kms:Create*", "kms:Describe*", "kms:Put*", "kms:ScheduleKeyDeletion"], Resource: "*" },
    { Sid: "Users", Effect: "Allow", Principal: ROOT, Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"], Resource: "*" },
    { Sid: "CiNoUse", Effect: "Deny", Principal: { AWS: "*" }, Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"], Resource: "*", Condition: CI_TAGGED },
    { Sid: "CiNoDelete", Effect: "Deny", Principal: { AWS: "*" }, Action: ["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"], Resource: "*", Condition: CI_TAGGED },
];
const goodConnection = { name: "trigger", authorizationType: "API_KEY", authParameters: { apiKey: { key: "Authorization", value: "set-out-of-band-see-README-pipeline-trigger" } }, kmsKeyIdentifier: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" };
const goodTarget = {
    rule: "trigger",
    arn: "arn:aws:events:us-east-1:123456789012:api-destination/trigger/1111",
    deadLetterConfig: { arn: "arn:aws:sqs:us-east-1:123456789012:trigger-dlq" },
    retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 },
};
const goodKey = { description: "data", enableKeyRotation: true, policy: doc(...separatedKeyPolicy) };
const trust = (stmt: any) => doc({ Effect: "Allow", Action: "sts:AssumeRole", Principal: { Service: "ec2.amazonaws.com" }, ...stmt });
const oidc = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

/** One policy case: resources that must violate `policy` (message naming `prop`) and resources that must not. */
interface Case {
    policy: string;
    title: string;
    resources: RecordedResource[];
    /** Expected: a violation whose message contains `prop`; undefined = no violation of `policy`. */
    prop?: string;
    config?: PolicyPackConfig;
    level?: "advisory" | "mandatory";
    /** The finding is about the stack as a whole, so the violation names no resource. */
    stackWide?: boolean;
}
const fails = (policy: string, title: string, prop: string, resources: RecordedResource[], more: Partial<Case> = {}): Case => ({ policy, title, prop, resources, ...more });
const passes = (policy: string, title: string, resources: RecordedResource[], more: Partial<Case> = {}): Case => ({ policy, title, resources, ...more });

const withBucket = (extra: Record<string, any>) => res(T.bucket, "raw", { bucket: "mlops-raw", ...extra });

const cases: Case[] = [
    // S3
    fails("s3-sse-configured", "bucket without an SSE configuration", "BucketServerSideEncryptionConfiguration", lakeWith("sse")),
    passes("s3-sse-configured", "bucket referenced by an SSE configuration", goodLake()),
    fails("s3-sse-kms", "SSE-S3 on a data bucket", "sseAlgorithm", lakeWith("sse", (b) => res(T.sse, "raw-sse", { bucket: b.inputs.bucket, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] }, { deps: { bucket: [b] } }))),
    fails("s3-sse-kms", "inline SSE-S3 on a bucket without a separate SSE resource", "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault.sseAlgorithm", [withBucket({ serverSideEncryptionConfiguration: { rule: { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } } } })]),
    passes("s3-sse-kms", "SSE-KMS on data, SSE-S3 on the access-log target", goodLake()),
    fails("s3-sse-cmk", "aws:kms without kmsMasterKeyId", "kmsMasterKeyId", [res(T.sse, "raw-sse", { bucket: "b", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }] })]),
    passes("s3-sse-cmk", "aws:kms with a customer key", goodLake()),
    fails("s3-bucket-key", "bucketKeyEnabled false", "bucketKeyEnabled", [res(T.sse, "raw-sse", { bucket: "b", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: KEY_ARN }, bucketKeyEnabled: false }] })], { level: "advisory" }),
    passes("s3-bucket-key", "bucket key on", goodLake()),
    fails("s3-versioning-enabled", "versioning suspended", "versioningConfiguration.status", [res(T.versioning, "v", { bucket: "b", versioningConfiguration: { status: "Suspended" } })]),
    passes("s3-versioning-enabled", "versioning enabled", goodLake()),
    fails("s3-versioning-present", "bucket without BucketVersioning", "BucketVersioning", lakeWith("versioning")),
    passes("s3-versioning-present", "bucket with BucketVersioning", goodLake()),
    fails("s3-public-access-block-present", "bucket without a public access block", "BucketPublicAccessBlock", lakeWith("pab")),
    passes("s3-public-access-block-present", "bucket with a public access block", goodLake()),
    fails("s3-public-access-block-all", "blockPublicPolicy false", "blockPublicPolicy", [res(T.pab, "p", { bucket: "b", blockPublicAcls: true, blockPublicPolicy: false, ignorePublicAcls: true, restrictPublicBuckets: true })]),
    fails("s3-public-access-block-all", "restrictPublicBuckets unset", "restrictPublicBuckets", [res(T.pab, "p", { bucket: "b", blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true })]),
    passes("s3-public-access-block-all", "all four on", goodLake()),
    fails("s3-no-public-acl", "public-read BucketAcl", "acl", [res(T.acl, "acl", { bucket: "b", acl: "public-read" })]),
    fails("s3-no-public-acl", "AllUsers grant", "accessControlPolicy.grants[0]", [res(T.acl, "acl", { bucket: "b", accessControlPolicy: { owner: { id: "o" }, grants: [{ permission: "READ", grantee: { type: "Group", uri: "http://acs.amazonaws.com/groups/global/AllUsers" } }] } })]),
    passes("s3-no-public-acl", "private ACL", [res(T.acl, "acl", { bucket: "b", acl: "private" })]),
    fails("s3-acls-disabled", "ObjectWriter ownership", "objectOwnership", lakeWith("ownership", (b) => res(T.ownership, "raw-ownership", { bucket: b.inputs.bucket, rule: { objectOwnership: "ObjectWriter" } }, { deps: { bucket: [b] } }))),
    fails("s3-acls-disabled", "no ownership controls", "BucketOwnershipControls", lakeWith("ownership")),
    passes("s3-acls-disabled", "BucketOwnerEnforced", goodLake()),
    fails("s3-tls-only", "bucket policy without a TLS deny", "aws:SecureTransport", lakeWith("policy", (b) => res(T.bucketPolicy, "raw-policy", { bucket: b.inputs.bucket, policy: doc({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "s3:GetObject", Resource: "*" }) }, { deps: { bucket: [b] } }))),
    fails("s3-tls-only", "no bucket policy", "BucketPolicy", lakeWith("policy")),
    passes("s3-tls-only", "TLS deny present", goodLake()),
    fails("s3-policy-no-public-principal", "public read policy", "Principal", [res(T.bucketPolicy, "p", { bucket: "b", policy: doc({ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" }) })]),
    passes("s3-policy-no-public-principal", "public principal pinned to a VPC endpoint", [res(T.bucketPolicy, "p", { bucket: "b", policy: doc({ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*", Condition: { StringEquals: { "aws:SourceVpce": "vpce-1" } } }) })]),
    fails("s3-access-logging", "data bucket without logging", "BucketLogging", lakeWith("logging")),
    fails("s3-access-logging", "bucket logging to itself", "targetBucket", lakeWith("logging", (b) => res(T.logging, "raw-logging", { bucket: b.inputs.bucket, targetBucket: b.inputs.bucket, targetPrefix: "x/" }, { deps: { bucket: [b], targetBucket: [b] } }))),
    passes("s3-access-logging", "data bucket logs to the log bucket (which is exempt)", goodLake()),
    fails("s3-lifecycle-abort-mpu", "lifecycle without abortIncompleteMultipartUpload", "abortIncompleteMultipartUpload", lakeWith("lifecycle", (b) => res(T.lifecycle, "raw-lifecycle", { bucket: b.inputs.bucket, rules: [{ id: "expire", status: "Enabled", expiration: { days: 30 } }] }, { deps: { bucket: [b] } })), { level: "advisory" }),
    passes("s3-lifecycle-abort-mpu", "abort rule present", goodLake()),
    fails("s3-no-force-destroy", "forceDestroy", "forceDestroy", [withBucket({ forceDestroy: true })]),
    passes("s3-no-force-destroy", "forceDestroy false", [withBucket({ forceDestroy: false })]),
    passes("s3-no-force-destroy", "forceDestroy with the policy disabled (dev)", [withBucket({ forceDestroy: true })], { config: { "s3-no-force-destroy": "disabled" } }),
    // ECR
    fails("ecr-scan-on-push", "scanOnPush false", "imageScanningConfiguration.scanOnPush", [res(T.repo, "r", { ...goodRepo, imageScanningConfiguration: { scanOnPush: false } })]),
    passes("ecr-scan-on-push", "scanOnPush true", [res(T.repo, "r", goodRepo)]),
    fails("ecr-immutable-tags", "MUTABLE tags", "imageTagMutability", [res(T.repo, "r", { ...goodRepo, imageTagMutability: "MUTABLE" })]),
    passes("ecr-immutable-tags", "IMMUTABLE tags", [res(T.repo, "r", goodRepo)]),
    fails("ecr-kms", "AES256", "encryptionType", [res(T.repo, "r", { ...goodRepo, encryptionConfigurations: [{ encryptionType: "AES256" }] })]),
    fails("ecr-kms", "KMS without a customer key", "kmsKey", [res(T.repo, "r", { ...goodRepo, encryptionConfigurations: [{ encryptionType: "KMS" }] })]),
    passes("ecr-kms", "KMS with a customer key", [res(T.repo, "r", goodRepo)]),
    fails("ecr-repo-policy-not-public", "Principal *", "Principal", [res(T.repoPolicy, "rp", { repository: "r", policy: doc({ Effect: "Allow", Principal: "*", Action: "ecr:BatchGetImage" }) })]),
    passes("ecr-repo-policy-not-public", "account principal", [res(T.repoPolicy, "rp", { repository: "r", policy: doc({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "ecr:BatchGetImage" }) })]),
    fails("ecr-lifecycle-policy", "repository without lifecycle policy", "LifecyclePolicy", [res(T.repo, "r", goodRepo)], { level: "advisory" }),
    passes("ecr-lifecycle-policy", "lifecycle policy references the repository", (() => {
        const r = res(T.repo, "r", goodRepo);
        return [r, res(T.ecrLifecycle, "r-lifecycle", { repository: "repo-name-from-output", policy: "{}" }, { deps: { repository: [r] } })];
    })()),
    fails("ecr-no-force-delete", "forceDelete", "forceDelete", [res(T.repo, "r", { ...goodRepo, forceDelete: true })]),
    passes("ecr-no-force-delete", "no forceDelete", [res(T.repo, "r", goodRepo)]),
    // EKS
    fails("eks-private-endpoint", "no private endpoint", "endpointPrivateAccess", [res(T.cluster, "c", { ...goodCluster, vpcConfig: { subnetIds: ["s"], endpointPrivateAccess: false, endpointPublicAccess: false } })]),
    fails("eks-private-endpoint", "public endpoint on by default", "endpointPublicAccess", [res(T.cluster, "c", { ...goodCluster, vpcConfig: { subnetIds: ["s"], endpointPrivateAccess: true } })]),
    passes("eks-private-endpoint", "private only", [res(T.cluster, "c", goodCluster)]),
    passes("eks-private-endpoint", "public allowed by stack config", [res(T.cluster, "c", { ...goodCluster, vpcConfig: { subnetIds: ["s"], endpointPrivateAccess: true, endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"] } })], { config: { "eks-private-endpoint": { requirePublicAccessDisabled: false } } }),
    fails("eks-public-cidrs", "public endpoint open to the world", "publicAccessCidrs", [res(T.cluster, "c", { ...goodCluster, vpcConfig: { subnetIds: ["s"], endpointPrivateAccess: true, endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"] } })]),
    fails("eks-public-cidrs", "public endpoint without CIDRs", "publicAccessCidrs", [res(T.cluster, "c", { ...goodCluster, vpcConfig: { subnetIds: ["s"], endpointPrivateAccess: true } })]),
    passes("eks-public-cidrs", "public endpoint limited to an office range", [res(T.cluster, "c", { ...goodCluster, vpcConfig: { subnetIds: ["s"], endpointPrivateAccess: true, endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"] } })]),
    fails("eks-secrets-encryption", "no encryptionConfig", "encryptionConfig", [res(T.cluster, "c", { ...goodCluster, encryptionConfig: undefined })]),
    fails("eks-secrets-encryption", "no key", "encryptionConfig.provider.keyArn", [res(T.cluster, "c", { ...goodCluster, encryptionConfig: { resources: ["secrets"], provider: {} } })]),
    passes("eks-secrets-encryption", "secrets encrypted with a key", [res(T.cluster, "c", goodCluster)]),
    fails("eks-control-plane-logging", "only api logs", "enabledClusterLogTypes", [res(T.cluster, "c", { ...goodCluster, enabledClusterLogTypes: ["api"] })]),
    passes("eks-control-plane-logging", "all five log types", [res(T.cluster, "c", goodCluster)]),
    fails("eks-version-allowlist", "unsupported version", "version", [res(T.cluster, "c", { ...goodCluster, version: "1.27" })]),
    passes("eks-version-allowlist", "supported version", [res(T.cluster, "c", goodCluster)]),
    passes("eks-version-allowlist", "version allowed by config", [res(T.cluster, "c", { ...goodCluster, version: "1.27" })], { config: { "eks-version-allowlist": { allowedVersions: ["1.27"] } } }),
    fails("eks-access-entries", "aws-auth ConfigMap only", "accessConfig.authenticationMode", [res(T.cluster, "c", { ...goodCluster, accessConfig: { authenticationMode: "CONFIG_MAP" } })]),
    passes("eks-access-entries", "API mode", [res(T.cluster, "c", goodCluster)]),
    fails("eks-deletion-protection", "deletionProtection unset", "deletionProtection", [res(T.cluster, "c", { ...goodCluster, deletionProtection: undefined })]),
    passes("eks-deletion-protection", "deletionProtection on", [res(T.cluster, "c", goodCluster)]),
    fails("eks-nodegroup-no-open-ssh", "SSH key without source groups", "sourceSecurityGroupIds", [res(T.nodeGroup, "ng", { ...goodGpuGroup, remoteAccess: { ec2SshKey: "ops" } })]),
    passes("eks-nodegroup-no-open-ssh", "SSH limited to a bastion group", [res(T.nodeGroup, "ng", { ...goodGpuGroup, remoteAccess: { ec2SshKey: "ops", sourceSecurityGroupIds: ["sg-bastion"] } })]),
    // Nodes
    fails("nodes-imdsv2", "IMDSv1 allowed", "metadataOptions.httpTokens", [res(T.lt, "lt", { ...goodLaunchTemplate, metadataOptions: { httpTokens: "optional", httpPutResponseHopLimit: 1 } })]),
    passes("nodes-imdsv2", "IMDSv2 required", [res(T.lt, "lt", goodLaunchTemplate)]),
    fails("nodes-imds-hop-limit", "hop limit 2", "httpPutResponseHopLimit", [res(T.lt, "lt", { ...goodLaunchTemplate, metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 } })]),
    passes("nodes-imds-hop-limit", "hop limit 1", [res(T.lt, "lt", goodLaunchTemplate)]),
    passes("nodes-imds-hop-limit", "hop limit 2 allowed by config", [res(T.lt, "lt", { ...goodLaunchTemplate, metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 } })], { config: { "nodes-imds-hop-limit": { maxHopLimit: 2 } } }),
    fails("nodes-ebs-encrypted", "encrypted \"false\" (string, as the provider types it)", "blockDeviceMappings[0].ebs.encrypted", [res(T.lt, "lt", { ...goodLaunchTemplate, blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "false" } }] })]),
    fails("nodes-ebs-encrypted", "encrypted unset", "blockDeviceMappings[0].ebs.encrypted", [res(T.lt, "lt", { ...goodLaunchTemplate, blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: 100 } }] })]),
    passes("nodes-ebs-encrypted", "encrypted \"true\"", [res(T.lt, "lt", goodLaunchTemplate)]),
    passes("nodes-ebs-encrypted", "encrypted true (boolean)", [res(T.lt, "lt", { ...goodLaunchTemplate, blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: true } }] })]),
    fails("nodes-no-public-ip", "public IP on the primary interface", "networkInterfaces[0].associatePublicIpAddress", [res(T.lt, "lt", { ...goodLaunchTemplate, networkInterfaces: [{ associatePublicIpAddress: "true" }] })]),
    passes("nodes-no-public-ip", "no public IP", [res(T.lt, "lt", { ...goodLaunchTemplate, networkInterfaces: [{ associatePublicIpAddress: "false" }] })]),
    fails("nodes-no-secrets-in-userdata", "access key in base64 userData", "userData", [res(T.lt, "lt", { ...goodLaunchTemplate, userData: b64("#!/bin/bash\nexport AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n") })]),
    passes("nodes-no-secrets-in-userdata", "bootstrap only", [res(T.lt, "lt", goodLaunchTemplate)]),
    fails("ebs-default-encryption", "node launch template without EBS default encryption", "EncryptionByDefault", [res(T.lt, "lt", goodLaunchTemplate)], { level: "advisory", stackWide: true }),
    passes("ebs-default-encryption", "EBS default encryption on", [res(T.lt, "lt", goodLaunchTemplate), res(T.ebsDefault, "ebs", { enabled: true })]),
    fails("gpu-nodegroup-taint", "GPU pool without taint", "taints", [res(T.nodeGroup, "gpu", { ...goodGpuGroup, taints: [] })]),
    fails("gpu-nodegroup-taint", "GPU instance family (default AMI) without taint", "taints", [res(T.nodeGroup, "gpu", { ...goodGpuGroup, amiType: undefined, taints: undefined })]),
    passes("gpu-nodegroup-taint", "GPU pool tainted", [res(T.nodeGroup, "gpu", goodGpuGroup)]),
    passes("gpu-nodegroup-taint", "CPU pool needs no taint", [res(T.nodeGroup, "system", { ...goodGpuGroup, amiType: "AL2023_x86_64_STANDARD", instanceTypes: ["m6i.large"], taints: [] })]),
    fails("gpu-nodegroup-bounds", "maxSize over the budget", "scalingConfig.maxSize", [res(T.nodeGroup, "gpu", { ...goodGpuGroup, scalingConfig: { minSize: 0, desiredSize: 0, maxSize: 10 } })]),
    fails("gpu-nodegroup-bounds", "dev requires scale to zero", "scalingConfig.minSize", [res(T.nodeGroup, "gpu", { ...goodGpuGroup, scalingConfig: { minSize: 1, desiredSize: 1, maxSize: 2 } })], { config: { "gpu-nodegroup-bounds": { maxNodes: 2, requireScaleToZero: true } } }),
    passes("gpu-nodegroup-bounds", "within budget, scales to zero", [res(T.nodeGroup, "gpu", goodGpuGroup)]),
    fails("gpu-instance-types-allowed", "instance type outside the list", "instanceTypes", [res(T.nodeGroup, "gpu", { ...goodGpuGroup, instanceTypes: ["p3.8xlarge"] })]),
    passes("gpu-instance-types-allowed", "g5", [res(T.nodeGroup, "gpu", goodGpuGroup)]),
    // RDS
    fails("rds-storage-encrypted", "unencrypted instance", "storageEncrypted", [res(T.db, "db", { ...goodDb, storageEncrypted: false })]),
    fails("rds-storage-encrypted", "unencrypted Aurora cluster", "storageEncrypted", [res(T.dbCluster, "aurora", { engine: "aurora-postgresql", kmsKeyId: KEY_ARN, backupRetentionPeriod: 7 })]),
    passes("rds-storage-encrypted", "encrypted", [res(T.db, "db", goodDb)]),
    fails("rds-cmk", "AWS-managed key", "kmsKeyId", [res(T.db, "db", { ...goodDb, kmsKeyId: undefined })]),
    passes("rds-cmk", "customer key", [res(T.db, "db", goodDb)]),
    fails("rds-not-public", "publicly accessible", "publiclyAccessible", [res(T.db, "db", { ...goodDb, publiclyAccessible: true })]),
    passes("rds-not-public", "private", [res(T.db, "db", goodDb)]),
    fails("rds-backup-retention", "3 days", "backupRetentionPeriod", [res(T.db, "db", { ...goodDb, backupRetentionPeriod: 3 })]),
    passes("rds-backup-retention", "7 days", [res(T.db, "db", goodDb)]),
    passes("rds-backup-retention", "1 day allowed by dev config", [res(T.db, "db", { ...goodDb, backupRetentionPeriod: 1 })], { config: { "rds-backup-retention": { minRetentionDays: 1 } } }),
    fails("rds-deletion-protection", "no deletion protection", "deletionProtection", [res(T.db, "db", { ...goodDb, deletionProtection: false })]),
    passes("rds-deletion-protection", "deletion protection on", [res(T.db, "db", goodDb)]),
    passes("rds-deletion-protection", "not required by dev config", [res(T.db, "db", { ...goodDb, deletionProtection: false })], { config: { "rds-deletion-protection": { requireDeletionProtection: false } } }),
    fails("rds-final-snapshot", "skipFinalSnapshot", "skipFinalSnapshot", [res(T.db, "db", { ...goodDb, skipFinalSnapshot: true })]),
    fails("rds-final-snapshot", "no snapshot identifier", "finalSnapshotIdentifier", [res(T.db, "db", { ...goodDb, finalSnapshotIdentifier: undefined })]),
    passes("rds-final-snapshot", "final snapshot named", [res(T.db, "db", goodDb)]),
    fails("rds-iam-auth", "IAM auth off", "iamDatabaseAuthenticationEnabled", [res(T.db, "db", { ...goodDb, iamDatabaseAuthenticationEnabled: false })], { level: "advisory" }),
    passes("rds-iam-auth", "IAM auth on", [res(T.db, "db", goodDb)]),
    fails("rds-multi-az", "single AZ", "multiAz", [res(T.db, "db", { ...goodDb, multiAz: false })]),
    passes("rds-multi-az", "Multi-AZ", [res(T.db, "db", goodDb)]),
    passes("rds-multi-az", "single AZ allowed by dev config", [res(T.db, "db", { ...goodDb, multiAz: false })], { config: { "rds-multi-az": { requireMultiAz: false } } }),
    fails("rds-auto-minor-upgrade", "auto minor upgrades off", "autoMinorVersionUpgrade", [res(T.db, "db", { ...goodDb, autoMinorVersionUpgrade: false })]),
    passes("rds-auto-minor-upgrade", "auto minor upgrades on", [res(T.db, "db", goodDb)]),
    fails("rds-logs-exported", "no postgresql log export", "enabledCloudwatchLogsExports", [res(T.db, "db", { ...goodDb, enabledCloudwatchLogsExports: ["upgrade"] })], { level: "advisory" }),
    passes("rds-logs-exported", "postgresql log exported", [res(T.db, "db", goodDb)]),
    fails("rds-perf-insights-kms", "Performance Insights without a key", "performanceInsightsKmsKeyId", [res(T.db, "db", { ...goodDb, performanceInsightsKmsKeyId: undefined })]),
    passes("rds-perf-insights-kms", "Performance Insights with a key", [res(T.db, "db", goodDb)]),
    fails("rds-force-ssl", "PostgreSQL 14 on the default parameter group", "parameterGroupName", [res(T.db, "db", { ...goodDb, engineVersion: "14.12" })]),
    fails("rds-force-ssl", "parameter group turning force_ssl off", "rds.force_ssl", (() => {
        const pg = res(T.paramGroup, "pg", { name: "mlflow-pg16", family: "postgres16", parameters: [{ name: "rds.force_ssl", value: "0" }] });
        return [pg, res(T.db, "db", { ...goodDb, parameterGroupName: "mlflow-pg16" }, { deps: { parameterGroupName: [pg] } })];
    })()),
    passes("rds-force-ssl", "parameter group with force_ssl 1", (() => {
        const pg = res(T.paramGroup, "pg", { name: "mlflow-pg14", family: "postgres14", parameters: [{ name: "rds.force_ssl", value: "1" }] });
        return [pg, res(T.db, "db", { ...goodDb, engineVersion: "14.12", parameterGroupName: "mlflow-pg14" }, { deps: { parameterGroupName: [pg] } })];
    })()),
    passes("rds-force-ssl", "PostgreSQL 16 default group forces SSL", [res(T.db, "db", goodDb)]),
    fails("rds-managed-password", "master password passed in (as a secret)", "password", [res(T.db, "db", { ...goodDb, manageMasterUserPassword: undefined, password: SECRET_PLACEHOLDER }, { secretInputs: ["password"], additionalSecretOutputs: ["password", "passwordWo"] })]),
    passes("rds-managed-password", "RDS-managed password", [res(T.db, "db", goodDb)]),
    // KMS, Secrets Manager
    fails("kms-rotation", "rotation off", "enableKeyRotation", [res(T.key, "k", { ...goodKey, enableKeyRotation: false })]),
    passes("kms-rotation", "rotation on", [res(T.key, "k", goodKey)]),
    passes("kms-rotation", "asymmetric signing key cannot rotate", [res(T.key, "k", { customerMasterKeySpec: "RSA_2048", keyUsage: "SIGN_VERIFY" })]),
    fails("kms-no-lockout-bypass", "lockout check bypassed", "bypassPolicyLockoutSafetyCheck", [res(T.key, "k", { ...goodKey, bypassPolicyLockoutSafetyCheck: true })]),
    passes("kms-no-lockout-bypass", "lockout check kept", [res(T.key, "k", goodKey)]),
    fails("kms-policy-no-wildcard-principal", "key usable by anyone", "Principal", [res(T.key, "k", { ...goodKey, policy: doc({ Effect: "Allow", Principal: "*", Action: "kms:Decrypt", Resource: "*" }) })]),
    passes("kms-policy-no-wildcard-principal", "wildcard pinned by kms:CallerAccount", [res(T.key, "k", { ...goodKey, policy: doc({ Effect: "Allow", Principal: { AWS: "*" }, Action: "kms:Decrypt", Resource: "*", Condition: { StringEquals: { "kms:CallerAccount": "123456789012" } } }) })]),
    fails("secrets-cmk", "AWS-managed key", "kmsKeyId", [res(T.secret, "s", { name: "mlflow-db" })]),
    passes("secrets-cmk", "customer key", [res(T.secret, "s", { name: "mlflow-db", kmsKeyId: KEY_ARN })]),
    // EventBridge pipeline trigger, SQS, Secrets Manager values (issue 15)
    fails("eventbridge-connection-no-plaintext-token", "GitHub token as the API key value", "authParameters.apiKey.value", [res(T.connection, "c", { ...goodConnection, authParameters: { apiKey: { key: "Authorization", value: "Bearer ghp_0123456789abcdef" } } })]),
    fails("eventbridge-connection-no-plaintext-token", "token as a Pulumi secret (still in state)", "authParameters.apiKey.value", [res(T.connection, "c", { ...goodConnection, authParameters: { apiKey: { key: "Authorization", value: SECRET_PLACEHOLDER } } }, { secretInputs: ["authParameters"] })]),
    fails("eventbridge-connection-no-plaintext-token", "secret body parameter", "invocationHttpParameters.bodies[0].value", [res(T.connection, "c", { ...goodConnection, authParameters: { ...goodConnection.authParameters, invocationHttpParameters: { bodies: [{ key: "token", value: "glptt-abc", isValueSecret: true }] } } })]),
    passes("eventbridge-connection-no-plaintext-token", "out-of-band placeholder", [res(T.connection, "c", goodConnection)]),
    fails("eventbridge-connection-cmk", "connection secret on the AWS-owned key", "kmsKeyIdentifier", [res(T.connection, "c", { ...goodConnection, kmsKeyIdentifier: undefined })]),
    passes("eventbridge-connection-cmk", "connection secret on a customer key", [res(T.connection, "c", goodConnection)]),
    fails("eventbridge-target-dlq", "API destination target without a DLQ", "deadLetterConfig.arn", [res(T.eventTarget, "t", { ...goodTarget, deadLetterConfig: undefined })]),
    passes("eventbridge-target-dlq", "target with a DLQ", [res(T.eventTarget, "t", goodTarget)]),
    fails("eventbridge-target-retry-bounded", "no retry policy (185 attempts default)", "retryPolicy", [res(T.eventTarget, "t", { ...goodTarget, retryPolicy: undefined })]),
    fails("eventbridge-target-retry-bounded", "100 attempts", "retryPolicy.maximumRetryAttempts", [res(T.eventTarget, "t", { ...goodTarget, retryPolicy: { maximumRetryAttempts: 100, maximumEventAgeInSeconds: 3600 } })]),
    fails("eventbridge-target-retry-bounded", "8 attempts over a stricter configured bound", "retryPolicy.maximumRetryAttempts", [res(T.eventTarget, "t", goodTarget)], { config: { "eventbridge-target-retry-bounded": { maxRetryAttempts: 4 } } }),
    passes("eventbridge-target-retry-bounded", "8 attempts within an hour", [res(T.eventTarget, "t", goodTarget)]),
    fails("sqs-cmk", "queue without a key", "kmsMasterKeyId", [res(T.queue, "q", { messageRetentionSeconds: 1209600 })]),
    fails("sqs-cmk", "AWS-managed SQS key", "kmsMasterKeyId", [res(T.queue, "q", { kmsMasterKeyId: "alias/aws/sqs" })]),
    passes("sqs-cmk", "customer key", [res(T.queue, "q", { kmsMasterKeyId: KEY_ARN })]),
    fails("secrets-no-literal-value", "secret value written by the program", "secretString", [res(T.secretVersion, "v", { secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:gh", secretString: SECRET_PLACEHOLDER }, { secretInputs: ["secretString"] })]),
    passes("secrets-no-literal-value", "no secret version in the program", [res(T.queue, "q", { kmsMasterKeyId: KEY_ARN })]),
    // IAM
    fails("iam-no-wildcard-action", "s3:* on a policy", "Action", [res(T.iamPolicy, "p", { policy: doc({ Effect: "Allow", Action: "s3:*", Resource: "arn:aws:s3:::b/*" }) })]),
    fails("iam-no-wildcard-action", "inline role policy with *", "inlinePolicies[0].policy", [res(T.role, "r", { assumeRolePolicy: trust({}), inlinePolicies: [{ name: "all", policy: doc({ Effect: "Allow", Action: ["ecr:*"], Resource: "*" }) }] })]),
    passes("iam-no-wildcard-action", "listed actions", [res(T.rolePolicy, "rp", { role: "r", policy: doc({ Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: "arn:aws:s3:::b/*" }) })]),
    passes("iam-no-wildcard-action", "service wildcard allowed by config", [res(T.iamPolicy, "p", { policy: doc({ Effect: "Allow", Action: "logs:*", Resource: "*" }) })], { config: { "iam-no-wildcard-action": { allowedServiceWildcards: ["logs"] } } }),
    fails("iam-no-admin-star", "admin policy", "Resource \"*\"", [res(T.iamPolicy, "p", { policy: doc({ Effect: "Allow", Action: "*", Resource: "*" }) })]),
    passes("iam-no-admin-star", "scoped policy", [res(T.iamPolicy, "p", { policy: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }) })]),
    fails("iam-no-admin-managed", "AdministratorAccess attachment", "policyArn", [res(T.rpa, "a", { role: "r", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" })]),
    fails("iam-no-admin-managed", "IAMFullAccess in managedPolicyArns", "managedPolicyArns[0]", [res(T.role, "r", { assumeRolePolicy: trust({}), managedPolicyArns: ["arn:aws:iam::aws:policy/IAMFullAccess"] })]),
    passes("iam-no-admin-managed", "read-only ECR policy", [res(T.rpa, "a", { role: "r", policyArn: "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly" })]),
    fails("iam-trust-restricted", "anyone may assume", "Principal", [res(T.role, "r", { assumeRolePolicy: doc({ Effect: "Allow", Action: "sts:AssumeRole", Principal: { AWS: "*" } }) })]),
    fails("iam-trust-restricted", "GitHub OIDC without :sub", ":sub", [res(T.role, "r", { assumeRolePolicy: doc({ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: oidc }, Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } } }) })]),
    fails("iam-trust-restricted", "GitHub OIDC for any repository of an org", ":sub", [res(T.role, "r", { assumeRolePolicy: doc({ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: oidc }, Condition: { StringLike: { "token.actions.githubusercontent.com:sub": "repo:acme/*" } } }) })]),
    passes("iam-trust-restricted", "GitHub OIDC pinned to a repository and branch", [res(T.role, "r", { assumeRolePolicy: doc({ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: oidc }, Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": "repo:acme/mlops:ref:refs/heads/main" } } }) })]),
    passes("iam-trust-restricted", "service principal", [res(T.role, "r", { assumeRolePolicy: trust({}) })]),
    fails("iam-no-user-policies", "inline user policy", "user", [res(T.userPolicy, "up", { user: "ci", policy: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }) })]),
    passes("iam-no-user-policies", "role policy", [res(T.rolePolicy, "rp", { role: "r", policy: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }) })]),
    fails("iam-role-policy-conflicts", "inlinePolicies plus a RolePolicy", "inlinePolicies", (() => {
        const role = res(T.role, "r", { name: "trainer", assumeRolePolicy: trust({}), inlinePolicies: [{ name: "own", policy: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }) }] });
        return [role, res(T.rolePolicy, "rp", { role: "trainer", name: "extra", policy: doc({ Effect: "Allow", Action: "s3:PutObject", Resource: "*" }) }, { deps: { role: [role] } })];
    })()),
    fails("iam-role-policy-conflicts", "managedPolicyArns plus an attachment", "managedPolicyArns", (() => {
        const role = res(T.role, "r", { name: "trainer", assumeRolePolicy: trust({}), managedPolicyArns: ["arn:aws:iam::aws:policy/ReadOnlyAccess"] });
        return [role, res(T.rpa, "a", { role: "trainer", policyArn: "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" }, { deps: { role: [role] } })];
    })()),
    passes("iam-role-policy-conflicts", "role outputs only reflect its separate policies", (() => {
        const role = res(T.role, "r", { name: "trainer", assumeRolePolicy: trust({}) }, {
            outputs: { inlinePolicies: [{ name: "extra", policy: "{}" }], managedPolicyArns: ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"] },
        });
        return [
            role,
            res(T.rolePolicy, "rp", { role: "trainer", name: "extra", policy: "{}" }, { deps: { role: [role] } }),
            res(T.rpa, "a", { role: "trainer", policyArn: "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" }, { deps: { role: [role] } }),
        ];
    })()),
    // Issue 12
    fails("kms-key-policy-separation", "root kms:* (administration and use together)", "kms:PutKeyPolicy", [res(T.key, "k", { ...goodKey, policy: doc({ Effect: "Allow", Principal: ROOT, Action: "kms:*", Resource: "*" }) })]),
    fails("kms-key-policy-separation", "no denial for the CI roles", "CI roles", [res(T.key, "k", { ...goodKey, policy: doc(...separatedKeyPolicy.slice(0, 2)) })]),
    passes("kms-key-policy-separation", "administrators and users apart, CI denied", [res(T.key, "k", goodKey)]),
    fails("ebs-cmk", "launch template volume on the AWS-managed key", "kmsKeyId", [res(T.lt, "lt", { ...goodLaunchTemplate, blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true", volumeSize: 200 } }] })]),
    fails("ebs-cmk", "EBS CSI StorageClass without a key", "kmsKeyId", [res("kubernetes:storage.k8s.io/v1:StorageClass", "sc", { provisioner: "ebs.csi.aws.com", parameters: { type: "gp3", encrypted: "true" } })]),
    passes("ebs-cmk", "launch template and StorageClass with the platform key", [
        res(T.lt, "lt", goodLaunchTemplate),
        res("kubernetes:storage.k8s.io/v1:StorageClass", "sc", { provisioner: "ebs.csi.aws.com", parameters: { type: "gp3", encrypted: "true", kmsKeyId: KEY_ARN } }),
    ]),
    fails("rds-enhanced-monitoring", "monitoring off", "monitoringInterval", [res(T.db, "db", { ...goodDb, monitoringInterval: 0 })]),
    fails("rds-enhanced-monitoring", "interval without a role", "monitoringRoleArn", [res(T.db, "db", { ...goodDb, monitoringRoleArn: undefined })]),
    passes("rds-enhanced-monitoring", "60 s with a role", [res(T.db, "db", goodDb)]),
    fails("rds-audit-logging", "parameter group without statement logging", "log_statement", (() => {
        const pg = res(T.paramGroup, "pg", { name: "mlflow-pg17", family: "postgres17", parameters: [{ name: "rds.force_ssl", value: "1" }] });
        return [pg, res(T.db, "db", { ...goodDb, parameterGroupName: "mlflow-pg17" }, { deps: { parameterGroupName: [pg] } })];
    })(), { stackWide: false }),
    fails("rds-audit-logging", "default parameter group", "parameterGroupName", [res(T.db, "db", goodDb)]),
    passes("rds-audit-logging", "log_statement ddl", (() => {
        const pg = res(T.paramGroup, "pg", { name: "mlflow-pg17", family: "postgres17", parameters: [{ name: "log_statement", value: "ddl" }] });
        return [pg, res(T.db, "db", { ...goodDb, parameterGroupName: "mlflow-pg17" }, { deps: { parameterGroupName: [pg] } })];
    })()),
    passes("rds-audit-logging", "pgaudit loaded and configured", (() => {
        const pg = res(T.paramGroup, "pg", { name: "mlflow-pg17", family: "postgres17", parameters: [{ name: "shared_preload_libraries", value: "pg_stat_statements,pgaudit" }, { name: "pgaudit.log", value: "ddl,role" }] });
        return [pg, res(T.db, "db", { ...goodDb, parameterGroupName: "mlflow-pg17" }, { deps: { parameterGroupName: [pg] } })];
    })()),
    fails("iam-role-creation-bounded", "CreateRole without a boundary condition", "iam:PermissionsBoundary", [res(T.rolePolicy, "p", { role: "deploy", policy: doc({ Effect: "Allow", Action: ["iam:CreateRole", "iam:AttachRolePolicy"], Resource: "arn:aws:iam::123456789012:role/mlops-*" }) })]),
    fails("iam-role-creation-bounded", "iam:Put* (covers PutRolePolicy)", "iam:PutRolePolicy", [res(T.iamPolicy, "p", { policy: doc({ Effect: "Allow", Action: "iam:Put*", Resource: "*" }) })]),
    passes("iam-role-creation-bounded", "CreateRole only with the boundary", [res(T.rolePolicy, "p", { role: "deploy", policy: doc({ Effect: "Allow", Action: "iam:CreateRole", Resource: "arn:aws:iam::123456789012:role/mlops-*", Condition: { StringEquals: { "iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/b" } } }) })]),
    fails("iam-no-admin-managed", "PowerUserAccess attachment", "PowerUserAccess", [res(T.rpa, "a", { role: "r", policyArn: "arn:aws:iam::aws:policy/PowerUserAccess" })]),
    fails("iam-role-boundary-and-prefix", "role without a boundary", "permissionsBoundary", [res(T.role, "r", { assumeRolePolicy: trust({}), namePrefix: "mlops-dev-r-", tags: { "pulumi:project": "mlops", "pulumi:stack": "dev" } })], { config: { "iam-role-boundary-and-prefix": { requireBoundary: true } } }),
    passes("iam-role-boundary-and-prefix", "boundary not required (a component on its own)", [res(T.role, "r", { assumeRolePolicy: trust({}) })]),
    fails("iam-role-boundary-and-prefix", "auto-named role", "mlops-dev-", [res(T.role, "r", { assumeRolePolicy: trust({}), permissionsBoundary: "arn:aws:iam::123456789012:policy/b", tags: { "pulumi:project": "mlops", "pulumi:stack": "dev" } })]),
    passes("iam-role-boundary-and-prefix", "bounded role under the prefix", [res(T.role, "r", { assumeRolePolicy: trust({}), namePrefix: "mlops-dev-node-", permissionsBoundary: "arn:aws:iam::123456789012:policy/b", tags: { "pulumi:project": "mlops", "pulumi:stack": "dev" } })]),
    passes("iam-role-boundary-and-prefix", "CI role without a boundary", [res(T.role, "r", { assumeRolePolicy: trust({}), namePrefix: "mlops-dev-ci-deploy-", tags: { "mlops.platform/ci-role": "deploy", "pulumi:project": "mlops", "pulumi:stack": "dev" } })]),
    fails("iam-pod-identity-trust-conditions", "Pod Identity trust without conditions", "aws:SourceAccount", [res(T.role, "r", { assumeRolePolicy: doc({ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }) })]),
    passes("iam-pod-identity-trust-conditions", "Pod Identity trust pinned to the account and cluster", [res(T.role, "r", { assumeRolePolicy: doc({ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"], Condition: { StringEquals: { "aws:SourceAccount": "123456789012" }, ArnEquals: { "aws:SourceArn": "arn:aws:eks:us-east-1:123456789012:cluster/mlops" } } }) })]),
    fails("iam-role-tags", "role without owner", "owner", [res(T.role, "r", { assumeRolePolicy: trust({}), tags: { environment: "prod" } })], { config: { "iam-role-tags": { requiredTags: ["environment", "owner"] } } }),
    passes("iam-role-tags", "role with environment and owner", [res(T.role, "r", { assumeRolePolicy: trust({}), tags: { environment: "prod", owner: "ml-platform" } })], { config: { "iam-role-tags": { requiredTags: ["environment", "owner"] } } }),
    fails("iam-ci-trust-environments", "prod image push trusting main", "refs/heads/main", [res(T.role, "r", {
        assumeRolePolicy: doc({ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: oidc }, Condition: { StringEquals: { "token.actions.githubusercontent.com:sub": "repo:acme/ml:ref:refs/heads/main" } } }),
        tags: { "mlops.platform/ci-role": "image-push" },
    })], { config: { "iam-ci-trust-environments": { environmentOnlyCiRoles: ["deploy", "image-push"] } } }),
    passes("iam-ci-trust-environments", "prod image push trusting the prod environment", [res(T.role, "r", {
        assumeRolePolicy: doc({ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: oidc }, Condition: { StringEquals: { "token.actions.githubusercontent.com:sub": "repo:acme/ml:environment:prod" } } }),
        tags: { "mlops.platform/ci-role": "image-push" },
    })], { config: { "iam-ci-trust-environments": { environmentOnlyCiRoles: ["deploy", "image-push"] } } }),
    passes("iam-ci-trust-environments", "dev: branches allowed (not configured)", [res(T.role, "r", {
        assumeRolePolicy: doc({ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: oidc }, Condition: { StringEquals: { "token.actions.githubusercontent.com:sub": "repo:acme/ml:ref:refs/heads/main" } } }),
        tags: { "mlops.platform/ci-role": "image-push" },
    })]),
    fails("s3-replication", "prod bucket without a replica", "BucketReplicationConfig", [dataBucket], { config: { "s3-replication": { requireReplication: true } } }),
    passes("s3-replication", "not required (dev)", [dataBucket]),
    passes("s3-replication", "bucket replicated, delete markers kept back", (() => {
        const replica = res(T.bucket, "replica", { bucket: "mlops-raw-replica" });
        const cfg = res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "raw-replication", {
            bucket: "mlops-raw",
            role: "arn:aws:iam::123456789012:role/r",
            rules: [{ id: "to-us-west-2", status: "Enabled", filter: {}, deleteMarkerReplication: { status: "Disabled" }, destination: { bucket: "arn:aws:s3:::mlops-raw-replica" } }],
        }, { deps: { bucket: [dataBucket], rules: [replica] } });
        return [dataBucket, replica, cfg];
    })(), { config: { "s3-replication": { requireReplication: true } } }),
    fails("s3-log-versions-retained", "log versions expire after one day", "noncurrentDays", (() => {
        const lc = res(T.lifecycle, "logs-lc", { bucket: "mlops-logs", rules: [{ id: "x", status: "Enabled", filter: {}, noncurrentVersionExpiration: { noncurrentDays: 1 } }] }, { deps: { bucket: [logBucket] } });
        return [logBucket, dataBucket, res(T.logging, "raw-logging", { bucket: "mlops-raw", targetBucket: "mlops-logs" }, { deps: { bucket: [dataBucket], targetBucket: [logBucket] } }), lc];
    })()),
    passes("s3-log-versions-retained", "log versions kept a year", (() => {
        const lc = res(T.lifecycle, "logs-lc", { bucket: "mlops-logs", rules: [{ id: "x", status: "Enabled", filter: {}, noncurrentVersionExpiration: { noncurrentDays: 365 } }] }, { deps: { bucket: [logBucket] } });
        return [logBucket, dataBucket, res(T.logging, "raw-logging", { bucket: "mlops-raw", targetBucket: "mlops-logs" }, { deps: { bucket: [dataBucket], targetBucket: [logBucket] } }), lc];
    })()),
    // Security groups
    fails("sg-no-public-ingress", "SSH from anywhere (inline)", "ingress[0].cidrBlocks", [res(T.sg, "sg", { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }] })]),
    fails("sg-no-public-ingress", "IPv6 world on a vpc ingress rule", "cidrIpv6", [res(T.ingressRule, "in", { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 5000, toPort: 5000, cidrIpv6: "::/0" })]),
    fails("sg-no-public-ingress", "SecurityGroupRule all ports from anywhere", "cidrBlocks", [res(T.sgRule, "r", { type: "ingress", securityGroupId: "sg-1", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] })]),
    passes("sg-no-public-ingress", "VPC-internal ingress", [res(T.ingressRule, "in", { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 5000, toPort: 5000, cidrIpv4: "10.0.0.0/16" })]),
    passes("sg-no-public-ingress", "HTTPS from anywhere allowed by config", [res(T.ingressRule, "in", { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0" })], { config: { "sg-no-public-ingress": { allowedPorts: [443] } } }),
    fails("sg-rule-conflicts", "inline ingress plus a separate rule", "ingress[0]", (() => {
        const sg = res(T.sg, "sg", { ingress: [{ protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: ["10.0.0.0/16"] }] });
        return [sg, res(T.ingressRule, "in", { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 5000, toPort: 5000, cidrIpv4: "10.0.0.0/16" }, { deps: { securityGroupId: [sg] } })];
    })()),
    passes("sg-rule-conflicts", "group outputs only reflect its separate rules", (() => {
        const sg = res(T.sg, "sg", {}, { outputs: { ingress: [{ protocol: "tcp", fromPort: 5000, toPort: 5000, cidrBlocks: ["10.0.0.0/16"] }], egress: [] } });
        return [sg, res(T.ingressRule, "in", { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 5000, toPort: 5000, cidrIpv4: "10.0.0.0/16" }, { deps: { securityGroupId: [sg] } })];
    })()),
    // VPC (issue 12: CIS AWS 5.4, S3 endpoint data perimeter)
    ...(() => {
        const vpc = res(T.vpc, "vpc", { cidrBlock: "10.0.0.0/16" });
        const sg = (rules: Record<string, unknown>) => res(T.defaultSg, "default-sg", { vpcId: "vpc-1", ...rules }, { deps: { vpcId: [vpc] } });
        return [
            fails("vpc-default-sg-restricted", "a VPC whose default security group is left as AWS creates it", "default security group is not managed", [vpc]),
            fails("vpc-default-sg-restricted", "a managed default group that keeps an egress rule", "egress", [vpc, sg({ ingress: [], egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] })]),
            passes("vpc-default-sg-restricted", "the default group adopted with no rules", [vpc, sg({ ingress: [], egress: [] })]),
        ];
    })(),
    fails("vpc-s3-endpoint-policy", "an S3 gateway endpoint without a policy (AWS's default: full access)", "no policy", [res(T.endpoint, "s3", { vpcId: "vpc-1", vpcEndpointType: "Gateway", serviceName: "com.amazonaws.us-east-1.s3" })]),
    fails("vpc-s3-endpoint-policy", "a policy allowing every bucket of every account", "Statement[0]", [res(T.endpoint, "s3", { vpcId: "vpc-1", vpcEndpointType: "Gateway", serviceName: "com.amazonaws.us-east-1.s3", policy: doc({ Effect: "Allow", Principal: "*", Action: "s3:*", Resource: "*" }) })]),
    passes("vpc-s3-endpoint-policy", "own-account buckets plus the ECR layer bucket", [res(T.endpoint, "s3", {
        vpcId: "vpc-1",
        vpcEndpointType: "Gateway",
        serviceName: "com.amazonaws.us-east-1.s3",
        policy: doc(
            { Effect: "Allow", Principal: "*", Action: "s3:*", Resource: "*", Condition: { StringEquals: { "aws:ResourceAccount": "123456789012" } } },
            { Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*" },
        ),
    })]),
    passes("vpc-s3-endpoint-policy", "an interface endpoint (not S3 gateway) without a policy", [res(T.endpoint, "sts", { vpcId: "vpc-1", vpcEndpointType: "Interface", serviceName: "com.amazonaws.us-east-1.sts" })]),
];

describe("security pack: AWS rules (over gRPC)", () => {
    let pack: PolicyPackSession;

    before(async () => {
        pack = await startPolicyPack("security");
    });

    after(async () => {
        await pack?.close();
    });

    it("reports metadata for every policy: name, description, severity", () => {
        assert.equal(pack.name, "mlops-security");
        assert.equal(pack.version, "0.1.0");
        for (const p of pack.policies) {
            assert.match(p.name, /^[a-z0-9]+(-[a-z0-9]+)*$/, `kebab-case name: ${p.name}`);
            assert.ok(p.description.length > 10, `${p.name} has a description`);
            assert.ok(p.severity, `${p.name} has a severity`);
        }
        assert.ok(pack.policies.length >= 55, `pack has ${pack.policies.length} policies`);
    });

    it("serves every AWS policy of policies.ts (at least 45)", () => {
        const served = new Set(pack.policies.map((p) => p.name));
        assert.ok(awsPolicies.length >= 45, `${awsPolicies.length} AWS policies`);
        for (const p of awsPolicies) assert.ok(served.has(p.name), `${p.name} is served`);
        assert.equal(new Set(awsPolicies.map((p) => p.name)).size, awsPolicies.length, "AWS policy names are unique");
    });

    it("has a failing and a passing case for every AWS policy", () => {
        for (const p of awsPolicies) {
            assert.ok(cases.some((c) => c.policy === p.name && c.prop), `failing case for ${p.name}`);
            assert.ok(cases.some((c) => c.policy === p.name && !c.prop), `passing case for ${p.name}`);
        }
    });

    it("passes the compliant fixtures with no violation of any AWS policy", async () => {
        const fixtures = [
            ...goodLake(),
            res(T.repo, "repo", goodRepo),
            res(T.cluster, "cluster", goodCluster),
            res(T.nodeGroup, "gpu", goodGpuGroup),
            res(T.lt, "lt", goodLaunchTemplate),
            res(T.ebsDefault, "ebs", { enabled: true }),
            res(T.key, "key", goodKey),
        ];
        const pg = res(T.paramGroup, "pg", { name: "mlflow-pg17", family: "postgres17", parameters: [{ name: "rds.force_ssl", value: "1" }, { name: "log_statement", value: "ddl" }] });
        fixtures.push(pg, res(T.db, "db", { ...goodDb, parameterGroupName: "mlflow-pg17" }, { deps: { parameterGroupName: [pg] } }));
        const fixtureRepo = fixtures.find((r) => r.type === T.repo)!;
        fixtures.push(res(T.ecrLifecycle, "repo-lifecycle", { repository: goodRepo.name, policy: "{}" }, { deps: { repository: [fixtureRepo] } }));
        const result = await pack.run(fixtures);
        const aws = new Set(awsPolicies.map((p) => p.name));
        assert.deepEqual(result.violations.filter((v) => aws.has(v.policyName)), []);
    });

    for (const c of cases) {
        it(`${c.policy}: ${c.prop ? "fails" : "passes"} ${c.title}`, async () => {
            const result: PolicyRunResult = await pack.run(c.resources, c.config);
            const mine = result.violations.filter((v) => v.policyName === c.policy);
            if (!c.prop) {
                assert.deepEqual(mine, [], `expected no ${c.policy} violation`);
                return;
            }
            assert.ok(mine.length > 0, `expected a ${c.policy} violation; got: ${result.violations.map((v) => v.policyName).join(", ") || "none"}`);
            assert.ok(
                mine.some((v) => v.message.includes(c.prop!)),
                `a ${c.policy} message should name ${c.prop}: ${mine.map((v) => v.message).join(" || ")}`,
            );
            for (const v of mine) {
                assert.equal(v.pack, "mlops-security");
                assert.equal(v.enforcementLevel, c.level ?? "mandatory");
                assert.ok(v.severity, "violation carries the policy severity");
                if (c.stackWide) assert.equal(v.urn, undefined);
                else assert.ok(v.urn && c.resources.some((r) => r.urn === v.urn), `violation names one of the case's resources: ${v.urn}`);
            }
        });
    }
});
