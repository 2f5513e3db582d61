// KMS key and Secrets Manager rules (policy catalog rows 49-52).

import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";

import { actionMatches, conditionKeys, describe, hasRestrictingCondition, hasWildcardPrincipal, parsePolicyDocument, Statement } from "./aws-iam-documents";
import { bool, isSet, read, str, UNKNOWN } from "./aws-values";

/** Asymmetric and HMAC keys cannot rotate automatically. */
function isSymmetric(key: any): boolean {
    const spec = str(read(key, "customerMasterKeySpec"));
    const usage = str(read(key, "keyUsage"));
    return (spec === undefined || spec === "SYMMETRIC_DEFAULT") && (usage === undefined || usage === "ENCRYPT_DECRYPT");
}

export const kmsRotation: ResourceValidationPolicy = {
    name: "kms-rotation",
    description: "Symmetric customer-managed KMS keys rotate automatically (enableKeyRotation) (CKV_AWS_7, AVD-AWS-0065).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.kms.Key, (key, _a, report) => {
        if (!isSymmetric(key)) return;
        const v = bool(read(key, "enableKeyRotation"));
        if (v !== true && v !== UNKNOWN) report(`enableKeyRotation is ${v === undefined ? "not set" : v}; set it to true.`);
    }),
};

export const kmsNoLockoutBypass: ResourceValidationPolicy = {
    name: "kms-no-lockout-bypass",
    description: "KMS keys keep the key policy lockout safety check (bypassPolicyLockoutSafetyCheck not true).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.kms.Key, (key, _a, report) => {
        if (bool(read(key, "bypassPolicyLockoutSafetyCheck")) === true) report("bypassPolicyLockoutSafetyCheck is true.");
    }),
};

/**
 * Parses a key's policy and visits its statements. A policy not yet known (preview) or absent is
 * skipped; one that does not parse is reported. Returns the statements visited, if any.
 */
function forEachKeyPolicyStatement(
    key: Record<string, unknown>,
    report: (message: string) => void,
    visit: (s: Statement, index: number) => void,
): Statement[] | undefined {
    const parsed = parsePolicyDocument(read(key, "policy"));
    if (parsed === UNKNOWN || parsed === undefined) return undefined;
    if ("error" in parsed) {
        report(`policy: ${parsed.error}`);
        return undefined;
    }
    parsed.statements.forEach(visit);
    return parsed.statements;
}

const KMS_RESTRICTING = ["kms:calleraccount", "kms:viaservice"];

export const kmsPolicyNoWildcardPrincipal: ResourceValidationPolicy = {
    name: "kms-policy-no-wildcard-principal",
    description: "KMS key policies do not Allow Principal \"*\" without a condition pinning account, organization or service (CKV_AWS_33).",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.kms.Key, (key, _a, report) => {
        forEachKeyPolicyStatement(key, report, (s, i) => {
            if (s.effect !== "Allow" || !hasWildcardPrincipal(s)) return;
            if (hasRestrictingCondition(s) || conditionKeys(s).some((k) => KMS_RESTRICTING.includes(k))) return;
            report(`policy ${describe(s, i)} allows Principal "*".`);
        });
    }),
};

export const secretsCmk: ResourceValidationPolicy = {
    name: "secrets-cmk",
    description: "Secrets Manager secrets are encrypted with a customer-managed KMS key (kmsKeyId) (CKV_AWS_149).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.secretsmanager.Secret, (secret, _a, report) => {
        if (!isSet(secret, "kmsKeyId")) report("kmsKeyId is not set; the AWS-managed aws/secretsmanager key would be used.");
    }),
};

/** Tag the platform puts on its CI roles (components/iam.ts CI_ROLE_TAG). */
const CI_ROLE_TAG_CONDITION = "aws:principaltag/mlops.platform/ci-role";
const CRYPTO = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"];
const LIFECYCLE = ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"];
const covers = (s: Statement, targets: string[]) => targets.filter((t) => s.actions.some((a) => actionMatches(a, t)));

export const kmsKeyPolicySeparation: ResourceValidationPolicy = {
    name: "kms-key-policy-separation",
    description:
        "KMS key policies separate key administration from key use (no Allow grants kms:* or both key-policy/deletion and encrypt/decrypt rights), and deny the CI roles (aws:PrincipalTag/mlops.platform/ci-role) decryption and key deletion.",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.kms.Key, (key, _a, report) => {
        const statements = forEachKeyPolicyStatement(key, report, (s, i) => {
            if (s.effect !== "Allow") return;
            const crypto = covers(s, CRYPTO);
            const admin = covers(s, LIFECYCLE);
            if (crypto.length > 0 && admin.length > 0) {
                report(`policy ${describe(s, i)} grants key administration (${admin.join(", ")}) and key use (${crypto.join(", ")}) together; give administrators and users separate statements.`);
            }
        });
        if (statements === undefined) return;
        const ciDenied = (target: string) =>
            statements.some((s) => s.effect === "Deny" && conditionKeys(s).includes(CI_ROLE_TAG_CONDITION) && covers(s, [target]).length > 0);
        const missing = ["kms:Decrypt", "kms:ScheduleKeyDeletion"].filter((t) => !ciDenied(t));
        if (missing.length > 0) {
            report(`policy has no Deny of ${missing.join(", ")} for the CI roles (Condition on aws:PrincipalTag/mlops.platform/ci-role).`);
        }
    }),
};

export const kmsPolicies = [kmsRotation, kmsNoLockoutBypass, kmsPolicyNoWildcardPrincipal, secretsCmk, kmsKeyPolicySeparation];
