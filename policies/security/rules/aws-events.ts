// EventBridge, SQS and Secrets Manager rules for the pipeline trigger (issue 15): no CI token in the
// program or its state, failed deliveries kept in an encrypted dead-letter queue, retries bounded.

import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";

import { isSet, num, read, str, UNKNOWN } from "./aws-values";

/**
 * The only literal a connection's API key may hold: components/pipelineTrigger.ts creates the
 * connection with it and the operator sets the real token out of band (Pulumi ignores the value).
 */
export const TOKEN_PLACEHOLDER = "set-out-of-band-see-README-pipeline-trigger";

/** Literal credential values a connection may carry, by property path. */
function literalCredentials(conn: any): string[] {
    const found: string[] = [];
    const apiKey = read(conn, "authParameters", "apiKey", "value");
    // A Pulumi secret is still stored (encrypted) in the state: only the placeholder is acceptable.
    if (apiKey !== undefined && apiKey !== UNKNOWN && apiKey !== TOKEN_PLACEHOLDER) found.push("authParameters.apiKey.value");
    const password = read(conn, "authParameters", "basic", "password");
    if (password !== undefined && password !== UNKNOWN) found.push("authParameters.basic.password");
    const clientSecret = read(conn, "authParameters", "oauth", "clientParameters", "clientSecret");
    if (clientSecret !== undefined && clientSecret !== UNKNOWN) found.push("authParameters.oauth.clientParameters.clientSecret");
    for (const where of ["authParameters", "authParameters.oauth"]) {
        const base = where === "authParameters" ? read(conn, "authParameters", "invocationHttpParameters") : read(conn, "authParameters", "oauth", "oauthHttpParameters");
        for (const kind of ["bodies", "headers", "queryStrings"]) {
            const list = read(base, kind);
            if (!Array.isArray(list)) continue;
            list.forEach((p: any, i: number) => {
                const secret = read(p, "isValueSecret");
                const value = read(p, "value");
                if (secret === true && value !== undefined && value !== UNKNOWN) {
                    found.push(`${where}.${where === "authParameters" ? "invocationHttpParameters" : "oauthHttpParameters"}.${kind}[${i}].value`);
                }
            });
        }
    }
    return found;
}

export const eventConnectionNoPlaintextToken: ResourceValidationPolicy = {
    name: "eventbridge-connection-no-plaintext-token",
    description:
        "EventBridge connections carry no credential in the program or its state: the API key value is the out-of-band placeholder (the operator sets the token with `aws events update-connection`), no literal basic password, OAuth client secret or secret invocation parameter.",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.cloudwatch.EventConnection, (conn, _a, report) => {
        for (const path of literalCredentials(conn)) {
            report(`${path} holds a credential that would be stored in the Pulumi state; create the connection with "${TOKEN_PLACEHOLDER}", ignore changes to it and set the token out of band.`);
        }
    }),
};

export const eventTargetDeadLetterQueue: ResourceValidationPolicy = {
    name: "eventbridge-target-dlq",
    description: "EventBridge targets have a dead-letter queue (deadLetterConfig.arn), so an event that could not be delivered is kept for replay instead of dropped.",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.cloudwatch.EventTarget, (target, _a, report) => {
        const dlq = read(target, "deadLetterConfig", "arn");
        if (dlq === undefined || dlq === null || dlq === "") report("deadLetterConfig.arn is not set; failed deliveries would be dropped after the retries.");
    }),
};

export const eventTargetRetryBounded: ResourceValidationPolicy = {
    name: "eventbridge-target-retry-bounded",
    description:
        "EventBridge targets set a retry policy bounded by configuration (default at most 24 attempts and 1 day): the service default (185 attempts over 24 h) hides a broken delivery for a day.",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            maxRetryAttempts: { type: "integer", minimum: 0, maximum: 185, default: 24 },
            maxEventAgeSeconds: { type: "integer", minimum: 60, maximum: 86400, default: 86400 },
        },
    },
    validateResource: validateResourceOfType(aws.cloudwatch.EventTarget, (target, args, report) => {
        const cfg = args.getConfig<{ maxRetryAttempts?: number; maxEventAgeSeconds?: number }>();
        const maxAttempts = cfg.maxRetryAttempts ?? 24;
        const maxAge = cfg.maxEventAgeSeconds ?? 86400;
        if (!isSet(target, "retryPolicy")) return report("retryPolicy is not set (EventBridge default: 185 attempts over 24 hours).");
        const attempts = num(read(target, "retryPolicy", "maximumRetryAttempts"));
        const age = num(read(target, "retryPolicy", "maximumEventAgeInSeconds"));
        if (attempts === undefined) report(`retryPolicy.maximumRetryAttempts is not set; set it to at most ${maxAttempts}.`);
        else if (attempts !== UNKNOWN && attempts > maxAttempts) report(`retryPolicy.maximumRetryAttempts is ${attempts}; at most ${maxAttempts} allowed.`);
        if (age === undefined) report(`retryPolicy.maximumEventAgeInSeconds is not set; set it to at most ${maxAge}.`);
        else if (age !== UNKNOWN && age > maxAge) report(`retryPolicy.maximumEventAgeInSeconds is ${age}; at most ${maxAge} allowed.`);
    }),
};

export const sqsCmk: ResourceValidationPolicy = {
    name: "sqs-cmk",
    description: "SQS queues (e.g. dead-letter queues holding event payloads) are encrypted with a customer-managed KMS key (kmsMasterKeyId) (CKV_AWS_27).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.sqs.Queue, (queue, _a, report) => {
        const key = str(read(queue, "kmsMasterKeyId"));
        if (key === undefined) report("kmsMasterKeyId is not set; use a customer-managed key.");
        else if (key === "alias/aws/sqs") report("kmsMasterKeyId is alias/aws/sqs (AWS-managed); use a customer-managed key.");
    }),
};

export const secretNoLiteralValue: ResourceValidationPolicy = {
    name: "secrets-no-literal-value",
    description:
        "The program writes no secret value into Secrets Manager (aws.secretsmanager.SecretVersion with secretString/secretBinary): the value would be stored in the Pulumi state; operators or the owning service set secret values.",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.secretsmanager.SecretVersion, (version, _a, report) => {
        for (const key of ["secretString", "secretBinary"]) {
            if (isSet(version, key)) report(`${key} is set; the secret value would be stored in the Pulumi state.`);
        }
    }),
};

export const eventConnectionCmk: ResourceValidationPolicy = {
    name: "eventbridge-connection-cmk",
    description:
        "EventBridge connections encrypt their credential secret with a customer-managed KMS key (kmsKeyIdentifier), tagged EventBridgeApiDestinations=true so EventBridge can use it; by default an AWS-owned key no key policy of ours governs.",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.cloudwatch.EventConnection, (conn, _a, report) => {
        if (str(read(conn, "kmsKeyIdentifier")) === undefined) {
            report("kmsKeyIdentifier is not set: the token's secret would be encrypted with an AWS-owned key; set a customer-managed key tagged EventBridgeApiDestinations=true.");
        }
    }),
};

export const eventPolicies = [eventConnectionNoPlaintextToken, eventConnectionCmk, eventTargetDeadLetterQueue, eventTargetRetryBounded, sqsCmk, secretNoLiteralValue];
