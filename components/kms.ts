import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CI_ROLE_TAG, PolicyDocument, PolicyStatement, policyJson } from "./iam";

/**
 * Key administration: manage the key's configuration, policy and life cycle, but never use it.
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators
 */
export const KMS_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
] as const;

/** Cryptographic use of a key (what key users get, and administrators do not). */
export const KMS_CRYPTO_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"] as const;

/** What the CI roles may never do with a platform key, whatever their IAM policies say. */
export const KMS_CI_DENIED_ACTIONS = [...KMS_CRYPTO_ACTIONS, "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"] as const;

export interface CustomerManagedKeyArgs {
    /** What the key encrypts (shown in the KMS console). */
    description: pulumi.Input<string>;
    /** Statements beyond administration and use, e.g. a service principal that encrypts logs. */
    extraStatements?: PolicyStatement[];
    /**
     * AWS services through which the CI roles may still use the key (e.g. `secretsmanager` when RDS
     * creates its managed master-password secret with it on behalf of the deploying role). Default none.
     */
    ciCryptoViaServices?: string[];
    tags?: Record<string, string>;
}

/**
 * The key policy of every platform key. Administration and use are separate statements, both
 * delegated to the account's IAM (so least-privilege IAM policies decide who administers and who
 * uses a key, and the key-policy lockout check holds); the CI roles (tagged {@link CI_ROLE_TAG})
 * are denied cryptographic use, key deletion, disabling and key-policy changes outright, so a
 * compromised pipeline cannot decrypt data or destroy a key even if its IAM policy were widened.
 */
export function keyPolicy(
    account: { partition: pulumi.Input<string>; accountId: pulumi.Input<string>; region: pulumi.Input<string> },
    extraStatements: PolicyStatement[] = [],
    ciCryptoViaServices: string[] = [],
): PolicyDocument {
    const root = pulumi.interpolate`arn:${account.partition}:iam::${account.accountId}:root`;
    const ciTagged = { Null: { [`aws:PrincipalTag/${CI_ROLE_TAG}`]: "false" } };
    const via = ciCryptoViaServices.map((svc) => pulumi.interpolate`${svc}.${account.region}.amazonaws.com`);
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "KeyAdministratorsThroughIam", Effect: "Allow", Principal: { AWS: root }, Action: [...KMS_ADMIN_ACTIONS], Resource: "*" },
            {
                Sid: "KeyUsersThroughIam",
                Effect: "Allow",
                Principal: { AWS: root },
                Action: [...KMS_CRYPTO_ACTIONS, "kms:DescribeKey"],
                Resource: "*",
            },
            {
                // Grants let AWS services (EBS, RDS, EKS) use the key for a resource a key user created.
                Sid: "KeyUserGrantsForAwsResources",
                Effect: "Allow",
                Principal: { AWS: root },
                Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                Resource: "*",
                Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
            },
            {
                Sid: "CiRolesNeverUseTheKey",
                Effect: "Deny",
                Principal: { AWS: "*" },
                Action: [...KMS_CRYPTO_ACTIONS],
                Resource: "*",
                Condition: via.length > 0 ? { ...ciTagged, StringNotEquals: { "kms:ViaService": via } } : ciTagged,
            },
            {
                Sid: "CiRolesNeverDeleteOrRepolicyTheKey",
                Effect: "Deny",
                Principal: { AWS: "*" },
                Action: ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"],
                Resource: "*",
                Condition: ciTagged,
            },
            ...extraStatements,
        ],
    };
}

/**
 * A customer-managed KMS key as the platform uses them everywhere: rotation on, a 30-day deletion
 * window, and {@link keyPolicy} plus `extraStatements`.
 * @internal
 */
export function customerManagedKey(name: string, args: CustomerManagedKeyArgs, opts: pulumi.CustomResourceOptions): aws.kms.Key {
    const invokeOpts = { parent: opts.parent };
    const identity = aws.getCallerIdentityOutput({}, invokeOpts);
    const partition = aws.getPartitionOutput({}, invokeOpts);
    const region = aws.getRegionOutput({}, invokeOpts);
    return new aws.kms.Key(
        name,
        {
            description: args.description,
            enableKeyRotation: true,
            deletionWindowInDays: 30,
            policy: policyJson(
                keyPolicy({ partition: partition.partition, accountId: identity.accountId, region: region.region }, args.extraStatements, args.ciCryptoViaServices),
            ),
            tags: args.tags,
        },
        opts,
    );
}
