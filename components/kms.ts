import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PolicyStatement, policyJson } from "./iam";

export interface CustomerManagedKeyArgs {
    /** What the key encrypts (shown in the KMS console). */
    description: pulumi.Input<string>;
    /** Statements beyond account administration, e.g. a service principal that encrypts logs. */
    extraStatements?: PolicyStatement[];
    tags?: Record<string, string>;
}

/**
 * A customer-managed KMS key as the platform uses them everywhere: rotation on, a 30-day deletion
 * window, and a key policy that delegates administration to the account's IAM (so access is
 * granted by least-privilege IAM policies, never by a wildcard principal), plus `extraStatements`.
 * @internal
 */
export function customerManagedKey(name: string, args: CustomerManagedKeyArgs, opts: pulumi.CustomResourceOptions): aws.kms.Key {
    const invokeOpts = { parent: opts.parent };
    const identity = aws.getCallerIdentityOutput({}, invokeOpts);
    const partition = aws.getPartitionOutput({}, invokeOpts);
    return new aws.kms.Key(
        name,
        {
            description: args.description,
            enableKeyRotation: true,
            deletionWindowInDays: 30,
            policy: policyJson({
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "AccountAdministration",
                        Effect: "Allow",
                        Principal: { AWS: pulumi.interpolate`arn:${partition.partition}:iam::${identity.accountId}:root` },
                        Action: "kms:*",
                        Resource: "*",
                    },
                    ...(args.extraStatements ?? []),
                ],
            }),
            tags: args.tags,
        },
        opts,
    );
}
