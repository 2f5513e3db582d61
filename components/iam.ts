import * as pulumi from "@pulumi/pulumi";

/** An IAM policy statement as typed data, so the offline plan and the policies see real JSON. */
export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: pulumi.Input<"*" | Record<string, pulumi.Input<string | pulumi.Input<string>[]>>>;
    Action: pulumi.Input<string> | pulumi.Input<string>[];
    Resource?: pulumi.Input<string> | pulumi.Input<string>[];
    NotResource?: pulumi.Input<string> | pulumi.Input<string>[];
    Condition?: Record<string, Record<string, pulumi.Input<string | boolean | pulumi.Input<string>[]>>>;
}

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: PolicyStatement[];
}

/** Serialises a policy document with Outputs inside into JSON. */
export function policyJson(doc: PolicyDocument): pulumi.Output<string> {
    return pulumi.jsonStringify(doc);
}

/** Trust policy for an AWS service principal, e.g. `eks.amazonaws.com`. */
export function serviceTrust(service: string, extraActions: string[] = []): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Service: service },
                Action: ["sts:AssumeRole", ...extraActions],
            },
        ],
    };
}

/**
 * Tag on the CI roles (CiAccess), naming which one (`preview`, `deploy`, `image-push`). Key policies
 * deny cryptographic use and key deletion to principals carrying it, and the deploy role cannot
 * change the CI roles, so it cannot remove the tag from itself.
 */
export const CI_ROLE_TAG = "mlops.platform/ci-role";
