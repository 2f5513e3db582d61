import * as pulumi from "@pulumi/pulumi";
import { Problems, describe } from "./validation";

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

/**
 * Throws InputPropertiesError (naming `path` and the statement) when an IAM policy document allows an
 * action outside `allowed` or uses NotAction; returns the document unchanged otherwise. Components
 * use it on policies they are handed (read-only or write-only data access).
 */
export function assertPolicyActionsWithin(subject: string, path: string, json: string, allowed: readonly string[], kind: string): string {
    const p = new Problems(subject);
    let doc: any;
    try {
        doc = JSON.parse(json);
    } catch {
        p.add(path, "is not a JSON IAM policy document");
        p.throwIfAny();
    }
    const statements: any[] = Array.isArray(doc?.Statement) ? doc.Statement : doc?.Statement ? [doc.Statement] : [];
    p.check(statements.length > 0, path, "has no statements");
    statements.forEach((st, i) => {
        if (st?.Effect !== "Allow") return;
        p.check(st.NotAction === undefined, `${path}.Statement[${i}]`, "uses NotAction, which grants everything not listed");
        const actions: unknown[] = Array.isArray(st.Action) ? st.Action : [st.Action];
        for (const a of actions) {
            p.check(typeof a === "string" && allowed.includes(a as string), `${path}.Statement[${i}]`, `grants ${describe(a)}; only ${kind} actions are allowed (${allowed.join(", ")})`);
        }
    });
    p.throwIfAny();
    return json;
}
