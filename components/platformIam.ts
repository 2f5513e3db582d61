// The IAM frame every role of a platform stack lives in: one name prefix (`<project>-<stack>-`), and
// one permissions boundary that caps what any of those roles can ever do. The CI deploy role may
// create and change only roles that carry both (components/ciAccess.ts deployIamPolicy), so a
// pipeline cannot mint itself an administrator.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CI_ROLE_TAG, PolicyDocument } from "./iam";
import { KMS_CRYPTO_ACTIONS } from "./kms";

/** IAM allows role names of 64 characters; the AWS provider appends 26 to a `namePrefix`. */
export const MAX_ROLE_NAME_PREFIX = 38;
/** The longest stack prefix that leaves room for a readable role slug. */
export const MAX_STACK_IAM_PREFIX = 30;

/** `<project>-<stack>-`, lower case: the name prefix of every IAM role and policy of the stack. */
export function stackIamPrefix(project: string, stack: string): string {
    const prefix = `${project}-${stack}-`.toLowerCase();
    if (!/^[a-z0-9+=,.@_-]+$/.test(prefix) || prefix.length > MAX_STACK_IAM_PREFIX) {
        throw new pulumi.InputPropertiesError({
            message: `project and stack name "${project}-${stack}" cannot prefix IAM role names`,
            errors: [
                {
                    propertyPath: "stack",
                    reason: `"<project>-<stack>-" must be at most ${MAX_STACK_IAM_PREFIX} characters of letters, digits and +=,.@_- so role names fit IAM's 64, got "${prefix}" (${prefix.length})`,
                },
            ],
        });
    }
    return prefix;
}

/**
 * `namePrefix` of a role: the stack prefix plus a slug of its logical name (platform name,
 * `-role` and `-identity` dropped), cut to {@link MAX_ROLE_NAME_PREFIX}.
 */
export function roleNamePrefix(stackPrefix: string, platformName: string, logicalName: string): string {
    let slug = logicalName.startsWith(`${platformName}-`) ? logicalName.slice(platformName.length + 1) : logicalName;
    slug = slug.replace(/-role$/, "").replace(/-identity\b/g, "");
    const room = MAX_ROLE_NAME_PREFIX - stackPrefix.length - 1;
    slug = slug.slice(0, room).replace(/-+$/, "");
    return `${stackPrefix}${slug}-`;
}

/** Logical name of the boundary policy (its IAM name is `<prefix>permissions-boundary`). */
export const BOUNDARY_POLICY_SUFFIX = "permissions-boundary";

/**
 * The permissions boundary of every platform role: a ceiling of the services the platform's
 * workloads and AWS services use, and explicit denials of every way out of it (IAM users and
 * keys, new roles or policies, removing or changing a boundary, key administration).
 */
export function platformBoundaryPolicy(boundaryArn: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "PlatformServicesCeiling",
                Effect: "Allow",
                Action: [
                    // EKS control plane, nodes, CNI, EBS CSI and the cluster autoscaler.
                    "ec2:*",
                    "autoscaling:*",
                    "elasticloadbalancing:*",
                    "eks:Describe*",
                    "eks:List*",
                    "eks-auth:AssumeRoleForPodIdentity",
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchImportUpstreamImage",
                    // Workloads' data and artifacts, replication.
                    "s3:*",
                    ...KMS_CRYPTO_ACTIONS,
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                    "kms:ListGrants",
                    "kms:RevokeGrant",
                    // Flow logs, RDS Enhanced Monitoring.
                    "logs:*",
                    "cloudwatch:PutMetricData",
                ],
                Resource: "*",
            },
            {
                Sid: "ElbServiceLinkedRoleForTheControlPlane",
                Effect: "Allow",
                Action: "iam:CreateServiceLinkedRole",
                Resource: "*",
                Condition: { StringEquals: { "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } },
            },
            {
                Sid: "NoIamEscalation",
                Effect: "Deny",
                Action: [
                    "iam:CreateUser",
                    "iam:CreateAccessKey",
                    "iam:CreateLoginProfile",
                    "iam:UpdateLoginProfile",
                    "iam:AttachUserPolicy",
                    "iam:PutUserPolicy",
                    "iam:AddUserToGroup",
                    "iam:CreateRole",
                    "iam:PutRolePolicy",
                    "iam:AttachRolePolicy",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:PassRole",
                    "iam:CreatePolicy",
                    "iam:CreatePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                    "iam:DeleteRolePermissionsBoundary",
                    "iam:PutRolePermissionsBoundary",
                    "sts:AssumeRole",
                ],
                Resource: "*",
            },
            {
                Sid: "BoundaryIsImmutableFromInside",
                Effect: "Deny",
                Action: ["iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"],
                Resource: boundaryArn,
            },
            { Sid: "NoKeyAdministration", Effect: "Deny", Action: ["kms:CreateKey", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"], Resource: "*" },
        ],
    };
}

export interface PlatformIamArgs {
    /** Stack prefix from {@link stackIamPrefix}. */
    prefix: string;
    tags?: Record<string, string>;
}

/**
 * The boundary policy (named `<prefix>permissions-boundary`, so its ARN is known before it exists).
 * Created by the administrator's bootstrap run; the deploy role cannot change or delete it.
 */
export function platformBoundary(name: string, args: PlatformIamArgs, opts: pulumi.CustomResourceOptions): aws.iam.Policy {
    const identity = aws.getCallerIdentityOutput({}, { parent: opts.parent });
    const partition = aws.getPartitionOutput({}, { parent: opts.parent });
    const policyName = `${args.prefix}${BOUNDARY_POLICY_SUFFIX}`;
    const arn = pulumi.interpolate`arn:${partition.partition}:iam::${identity.accountId}:policy/${policyName}`;
    return new aws.iam.Policy(
        name,
        {
            name: policyName,
            description: "Permissions boundary of every IAM role of this platform stack",
            policy: arn.apply((a) => JSON.stringify(platformBoundaryPolicy(a))),
            tags: args.tags,
        },
        opts,
    );
}

/**
 * A transformation for the platform component: every `aws.iam.Role` below it without an explicit
 * name gets a `namePrefix` under the stack prefix, and every role but the CI roles (tagged
 * {@link CI_ROLE_TAG}, which the boundary would cripple) gets the permissions boundary.
 */
export function platformIamTransformation(stackPrefix: string, platformName: string, boundaryArn: () => pulumi.Input<string>): pulumi.ResourceTransformation {
    return (args) => {
        if (args.type !== "aws:iam/role:Role") {
            return undefined;
        }
        const props = { ...args.props };
        if (props.name === undefined && props.namePrefix === undefined) {
            props.namePrefix = roleNamePrefix(stackPrefix, platformName, args.name);
        }
        const tags = props.tags;
        const isCiRole = tags !== undefined && !pulumi.Output.isInstance(tags) && typeof tags === "object" && CI_ROLE_TAG in tags;
        if (!isCiRole && props.permissionsBoundary === undefined) {
            props.permissionsBoundary = boundaryArn();
        }
        return { props, opts: args.opts };
    };
}
