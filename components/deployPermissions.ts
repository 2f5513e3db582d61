// What the CI deploy role may do outside IAM, derived from the resource types the program declares:
// one row per Pulumi type (create, read, update, delete, tag through the AWS provider), one per
// invoke. test/components/iam-simulation.spec.ts fails when the program declares a type or calls an
// invoke that has no row here, and proves with the IAM simulator that each row's actions are allowed.
import { PolicyDocument, PolicyStatement } from "./iam";

/** AWS actions one Pulumi resource type needs from the deploying principal. */
export interface TypePermissions {
    /** Actions `pulumi up` / `pulumi destroy` call for this type. */
    actions: string[];
    /**
     * Actions the provider would call that the deploy role is deliberately denied; such changes
     * need an administrator run (README "Bootstrap and administrator-only changes").
     */
    adminOnly?: string[];
}

const EC2_TAGS = ["ec2:CreateTags", "ec2:DeleteTags"];
const KMS_FOR_SERVICE = ["kms:DescribeKey", "kms:CreateGrant"];
const RDS_TAGS = ["rds:AddTagsToResource", "rds:RemoveTagsFromResource", "rds:ListTagsForResource"];
const EKS_TAGS = ["eks:TagResource", "eks:UntagResource", "eks:ListTagsForResource"];

/**
 * Non-IAM actions per resource type (IAM types are governed by {@link deployIamPolicy} in ciAccess.ts).
 * Kubernetes objects go through the cluster's API with the deploy role's EKS access entry, not IAM.
 */
export const DEPLOY_ACTIONS_BY_TYPE: Readonly<Record<string, TypePermissions>> = {
    "aws:autoscaling/tag:Tag": { actions: ["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags", "autoscaling:DescribeTags", "autoscaling:DescribeAutoScalingGroups"] },
    "aws:cloudwatch/logGroup:LogGroup": {
        actions: [
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:DescribeLogGroups",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:ListTagsForResource",
            "logs:ListTagsLogGroup",
        ],
    },
    "aws:ebs/encryptionByDefault:EncryptionByDefault": { actions: ["ec2:EnableEbsEncryptionByDefault", "ec2:DisableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault"] },
    "aws:ec2/flowLog:FlowLog": { actions: ["ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:DescribeFlowLogs", "logs:CreateLogDelivery", "logs:DeleteLogDelivery", ...EC2_TAGS] },
    "aws:ec2/launchTemplate:LaunchTemplate": {
        actions: [
            "ec2:CreateLaunchTemplate",
            "ec2:CreateLaunchTemplateVersion",
            "ec2:ModifyLaunchTemplate",
            "ec2:DeleteLaunchTemplate",
            "ec2:DeleteLaunchTemplateVersions",
            "ec2:DescribeLaunchTemplates",
            "ec2:DescribeLaunchTemplateVersions",
            ...EC2_TAGS,
        ],
    },
    "aws:ec2/securityGroup:SecurityGroup": {
        actions: [
            "ec2:CreateSecurityGroup",
            "ec2:DeleteSecurityGroup",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSecurityGroupRules",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:DescribeNetworkInterfaces",
            ...EC2_TAGS,
        ],
    },
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": {
        actions: ["ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", ...EC2_TAGS],
    },
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {
        actions: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules", "ec2:ModifySecurityGroupRules", ...EC2_TAGS],
    },
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {
        actions: ["ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules", "ec2:ModifySecurityGroupRules", ...EC2_TAGS],
    },
    "aws:ec2/vpcEndpoint:VpcEndpoint": {
        actions: [
            "ec2:CreateVpcEndpoint",
            "ec2:ModifyVpcEndpoint",
            "ec2:DeleteVpcEndpoints",
            "ec2:DescribeVpcEndpoints",
            "ec2:DescribeVpcEndpointServices",
            "ec2:DescribePrefixLists",
            // Interface endpoints with private DNS associate the VPC with an AWS-managed hosted zone.
            "route53:AssociateVPCWithHostedZone",
            ...EC2_TAGS,
        ],
    },
    // awsx's VPC is a component; these are its children (VPC, subnets, routes, gateways, EIPs).
    "awsx:ec2:Vpc": {
        actions: [
            "ec2:CreateVpc",
            "ec2:DeleteVpc",
            "ec2:DescribeVpcs",
            "ec2:DescribeVpcAttribute",
            "ec2:ModifyVpcAttribute",
            "ec2:CreateSubnet",
            "ec2:DeleteSubnet",
            "ec2:DescribeSubnets",
            "ec2:ModifySubnetAttribute",
            "ec2:CreateRouteTable",
            "ec2:DeleteRouteTable",
            "ec2:DescribeRouteTables",
            "ec2:AssociateRouteTable",
            "ec2:DisassociateRouteTable",
            "ec2:CreateRoute",
            "ec2:DeleteRoute",
            "ec2:ReplaceRoute",
            "ec2:CreateInternetGateway",
            "ec2:DeleteInternetGateway",
            "ec2:AttachInternetGateway",
            "ec2:DetachInternetGateway",
            "ec2:DescribeInternetGateways",
            "ec2:CreateNatGateway",
            "ec2:DeleteNatGateway",
            "ec2:DescribeNatGateways",
            "ec2:AllocateAddress",
            "ec2:ReleaseAddress",
            "ec2:DisassociateAddress",
            "ec2:DescribeAddresses",
            "ec2:DescribeAddressesAttribute",
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeNetworkAcls",
            "ec2:DescribeNetworkInterfaces",
            ...EC2_TAGS,
        ],
    },
    "aws:ecr/repository:Repository": {
        actions: [
            "ecr:CreateRepository",
            "ecr:DeleteRepository",
            "ecr:DescribeRepositories",
            "ecr:PutImageScanningConfiguration",
            "ecr:PutImageTagMutability",
            "ecr:TagResource",
            "ecr:UntagResource",
            "ecr:ListTagsForResource",
            // Repositories encrypted with a customer-managed key.
            ...KMS_FOR_SERVICE,
            "kms:RetireGrant",
        ],
    },
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": { actions: ["ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy"] },
    "aws:ecr/repositoryPolicy:RepositoryPolicy": { actions: ["ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"] },
    "docker:index/image:Image": {
        actions: [
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:DescribeImages",
        ],
    },
    "aws:eks/cluster:Cluster": {
        actions: [
            "eks:CreateCluster",
            "eks:DeleteCluster",
            "eks:DescribeCluster",
            "eks:UpdateClusterConfig",
            "eks:UpdateClusterVersion",
            "eks:DescribeUpdate",
            "eks:AssociateEncryptionConfig",
            ...EKS_TAGS,
            "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeVpcs",
            // Envelope encryption of secrets with the cluster's key.
            ...KMS_FOR_SERVICE,
        ],
    },
    "aws:eks/nodeGroup:NodeGroup": {
        actions: [
            "eks:CreateNodegroup",
            "eks:DeleteNodegroup",
            "eks:DescribeNodegroup",
            "eks:UpdateNodegroupConfig",
            "eks:UpdateNodegroupVersion",
            "eks:DescribeUpdate",
            ...EKS_TAGS,
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:DescribeSubnets",
        ],
    },
    "aws:eks/addon:Addon": {
        actions: ["eks:CreateAddon", "eks:DeleteAddon", "eks:DescribeAddon", "eks:UpdateAddon", "eks:DescribeAddonVersions", "eks:DescribeAddonConfiguration", "eks:DescribeUpdate", ...EKS_TAGS],
    },
    "aws:eks/accessEntry:AccessEntry": { actions: ["eks:CreateAccessEntry", "eks:DeleteAccessEntry", "eks:DescribeAccessEntry", "eks:UpdateAccessEntry", "eks:ListAccessEntries", ...EKS_TAGS] },
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": { actions: ["eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy", "eks:ListAssociatedAccessPolicies"] },
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": {
        actions: [
            "eks:CreatePodIdentityAssociation",
            "eks:DeletePodIdentityAssociation",
            "eks:DescribePodIdentityAssociation",
            "eks:UpdatePodIdentityAssociation",
            "eks:ListPodIdentityAssociations",
            ...EKS_TAGS,
        ],
    },
    "aws:kms/key:Key": {
        actions: [
            "kms:CreateKey",
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:EnableKeyRotation",
            "kms:UpdateKeyDescription",
            "kms:ListResourceTags",
            "kms:TagResource",
            "kms:UntagResource",
        ],
        // Key policies and deletion stay with key administrators (components/kms.ts).
        adminOnly: ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"],
    },
    "aws:kms/alias:Alias": { actions: ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias", "kms:ListAliases"] },
    "aws:rds/instance:Instance": {
        actions: [
            "rds:CreateDBInstance",
            "rds:DeleteDBInstance",
            "rds:DescribeDBInstances",
            "rds:ModifyDBInstance",
            "rds:RebootDBInstance",
            ...RDS_TAGS,
            // Storage and Performance Insights encryption with the database key.
            ...KMS_FOR_SERVICE,
            // The RDS-managed master-password secret is created and encrypted with the caller's rights
            // (RDS user guide, "Permissions required for Secrets Manager integration"); the database
            // key allows CI crypto only through Secrets Manager (kms.ts ciCryptoViaServices), and
            // reading the secret stays denied (NeverReadSecrets).
            "secretsmanager:CreateSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:RotateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:DescribeSecret",
            "kms:GenerateDataKey",
            "kms:Decrypt",
        ],
    },
    "aws:rds/parameterGroup:ParameterGroup": {
        actions: [
            "rds:CreateDBParameterGroup",
            "rds:DeleteDBParameterGroup",
            "rds:DescribeDBParameterGroups",
            "rds:DescribeDBParameters",
            "rds:ModifyDBParameterGroup",
            "rds:ResetDBParameterGroup",
            ...RDS_TAGS,
        ],
    },
    "aws:rds/subnetGroup:SubnetGroup": { actions: ["rds:CreateDBSubnetGroup", "rds:DeleteDBSubnetGroup", "rds:DescribeDBSubnetGroups", "rds:ModifyDBSubnetGroup", ...RDS_TAGS] },
    "aws:s3/bucket:Bucket": {
        actions: [
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:ListBucket",
            "s3:GetBucketLocation",
            "s3:GetBucketTagging",
            "s3:PutBucketTagging",
            "s3:GetBucketAcl",
            "s3:GetBucketCORS",
            "s3:GetBucketWebsite",
            "s3:GetBucketVersioning",
            "s3:GetAccelerateConfiguration",
            "s3:GetBucketRequestPayment",
            "s3:GetBucketLogging",
            "s3:GetLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:GetEncryptionConfiguration",
            "s3:GetBucketObjectLockConfiguration",
            "s3:GetBucketPolicy",
            // Buckets created with Object Lock (the replicated access logs).
            "s3:PutBucketObjectLockConfiguration",
            "s3:PutBucketVersioning",
        ],
    },
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": { actions: ["s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration"] },
    "aws:s3/bucketLogging:BucketLogging": { actions: ["s3:PutBucketLogging", "s3:GetBucketLogging"] },
    "aws:s3/bucketNotification:BucketNotification": { actions: ["s3:PutBucketNotification", "s3:GetBucketNotification"] },
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": { actions: ["s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"] },
    "aws:s3/bucketPolicy:BucketPolicy": { actions: ["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"] },
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": { actions: ["s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"] },
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": { actions: ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"] },
    "aws:s3/bucketVersioning:BucketVersioning": { actions: ["s3:PutBucketVersioning", "s3:GetBucketVersioning"] },
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": { actions: ["s3:PutReplicationConfiguration", "s3:GetReplicationConfiguration"] },
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": { actions: ["s3:PutBucketObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"] },
    // PipelineTrigger. Creating a connection makes EventBridge create its credentials secret as the caller.
    "aws:sqs/queue:Queue": {
        actions: ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl", "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags"],
    },
    "aws:sqs/queuePolicy:QueuePolicy": { actions: ["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"] },
    "aws:cloudwatch/eventConnection:EventConnection": {
        actions: [
            "events:CreateConnection",
            "events:DescribeConnection",
            "events:UpdateConnection",
            "events:DeleteConnection",
            "secretsmanager:CreateSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:PutSecretValue",
            // The secret is encrypted with the trigger's key as the caller; the key allows CI crypto
            // only through Secrets Manager (kms.ts ciCryptoViaServices), reading it stays denied.
            "kms:DescribeKey",
            "kms:GenerateDataKey",
            "kms:Decrypt",
        ],
    },
    "aws:cloudwatch/eventApiDestination:EventApiDestination": {
        actions: ["events:CreateApiDestination", "events:DescribeApiDestination", "events:UpdateApiDestination", "events:DeleteApiDestination"],
    },
    "aws:cloudwatch/eventRule:EventRule": {
        actions: ["events:PutRule", "events:DescribeRule", "events:DeleteRule", "events:EnableRule", "events:DisableRule", "events:TagResource", "events:UntagResource", "events:ListTagsForResource", "events:ListTargetsByRule"],
    },
    "aws:cloudwatch/eventTarget:EventTarget": { actions: ["events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule"] },
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        actions: ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"],
    },
    // Declared without a value (TrackingServer's database role credentials; the bootstrap Job writes
    // the only version): the deployer manages the secret, never its content.
    "aws:secretsmanager/secret:Secret": {
        actions: [
            "secretsmanager:CreateSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:GetResourcePolicy",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
            ...KMS_FOR_SERVICE,
        ],
    },
    "aws:secretsmanager/secretRotation:SecretRotation": { actions: ["secretsmanager:RotateSecret", "secretsmanager:CancelRotateSecret", "secretsmanager:DescribeSecret"] },
};

/** Actions per invoke (data source) the program calls. */
export const DEPLOY_ACTIONS_BY_INVOKE: Readonly<Record<string, TypePermissions>> = {
    "aws:index/getCallerIdentity:getCallerIdentity": { actions: ["sts:GetCallerIdentity"] },
    "aws:index/getPartition:getPartition": { actions: [] },
    "aws:index/getRegion:getRegion": { actions: [] },
    "aws:ec2/getRouteTables:getRouteTables": { actions: ["ec2:DescribeRouteTables"] },
    "aws:ec2/getVpc:getVpc": { actions: ["ec2:DescribeVpcs", "ec2:DescribeVpcAttribute"] },
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": { actions: ["ecr:GetAuthorizationToken"] },
    "aws:eks/getAddonVersion:getAddonVersion": { actions: ["eks:DescribeAddonVersions"] },
};

/** Prefixes of types that need no AWS IAM action from the deployer (components, providers, Kubernetes objects). */
export const NO_AWS_ACTIONS = [/^mlops-platform:/, /^pulumi:/, /^kubernetes:/];

/** Every non-IAM action of the table, sorted and de-duplicated. */
export function deployServiceActions(): string[] {
    const all = [...Object.values(DEPLOY_ACTIONS_BY_TYPE), ...Object.values(DEPLOY_ACTIONS_BY_INVOKE)].flatMap((p) => p.actions);
    return [...new Set(all)].filter((a) => !a.startsWith("iam:")).sort();
}

export interface DeployDataScope {
    /** ARNs of the data buckets (DataLake) whose objects the deploy role must never read. */
    dataBucketArns: string[];
    /** KMS keys of data (DataLake key) the deploy role must never use. */
    dataKeyArns: string[];
    /** Whether stacks destroy non-empty buckets (`forceDestroy`): then the deploy role may delete objects. */
    forceDestroy: boolean;
}

/**
 * The deploy role's permissions outside IAM: the table's actions on `*` (the types' ARNs are
 * mostly unknown before creation), and explicit denials of data reads that no Allow can undo.
 */
export function deployServicePolicy(scope: DeployDataScope & { partition?: string; accountId?: string }): PolicyDocument {
    const actions = deployServiceActions();
    const byService = new Map<string, string[]>();
    for (const a of actions) {
        const svc = a.split(":")[0];
        byService.set(svc, [...(byService.get(svc) ?? []), a]);
    }
    const statements: PolicyStatement[] = [...byService.entries()].map(([svc, acts]) => ({
        Sid: `Deploy${svc.replace(/[^A-Za-z0-9]/g, "").replace(/^./, (c) => c.toUpperCase())}`,
        Effect: "Allow",
        Action: acts,
        Resource: "*",
    }));
    if (scope.forceDestroy) {
        statements.push({
            Sid: "EmptyBucketsOnDestroy",
            Effect: "Allow",
            Action: ["s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteObjectVersion"],
            Resource: scope.dataBucketArns.map((b) => `${b}/*`).concat(scope.dataBucketArns),
        });
    }
    const objects = scope.dataBucketArns.map((b) => `${b}/*`);
    if (objects.length > 0) {
        statements.push({ Sid: "NeverReadDataObjects", Effect: "Deny", Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:RestoreObject"], Resource: objects });
    }
    if (scope.dataKeyArns.length > 0) {
        statements.push({
            Sid: "NeverUseTheDataKey",
            Effect: "Deny",
            Action: ["kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant"],
            Resource: scope.dataKeyArns,
        });
    }
    statements.push({ Sid: "NeverReadParameters", Effect: "Deny", Action: ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"], Resource: "*" });
    // No deploy reads a secret's value (issue 12 #4: the tracking server's database credentials
    // are obtained in-cluster), so none may: not even one RDS created with this role's rights.
    statements.push({ Sid: "NeverReadSecrets", Effect: "Deny", Action: ["secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"], Resource: "*" });
    return { Version: "2012-10-17", Statement: statements };
}
