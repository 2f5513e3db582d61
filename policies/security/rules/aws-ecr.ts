// ECR rules (policy catalog rows 15-20).

import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";

import { describe, hasRestrictingCondition, hasWildcardPrincipal, parsePolicyDocument } from "./aws-iam-documents";
import { validateStackWith } from "./aws-stack";
import { bool, configSchema, isSet, list, read, settings, str, UNKNOWN, where } from "./aws-values";

export const ecrScanOnPush: ResourceValidationPolicy = {
    name: "ecr-scan-on-push",
    description: "ECR repositories scan images on push (CKV_AWS_163, AVD-AWS-0030).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ecr.Repository, (repo, _a, report) => {
        const v = bool(read(repo, "imageScanningConfiguration", "scanOnPush"));
        if (v === UNKNOWN) return;
        if (v !== true) report(`imageScanningConfiguration.scanOnPush is ${v === undefined ? "not set" : v}; set it to true.`);
    }),
};

const immutableSchema = configSchema({
    allowedMutability: {
        type: "array",
        items: { type: "string", enum: ["IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE", "MUTABLE_WITH_EXCLUSION"] },
        default: ["IMMUTABLE"],
        description: "imageTagMutability values accepted.",
    },
});

export const ecrImmutableTags: ResourceValidationPolicy = {
    name: "ecr-immutable-tags",
    description: "ECR repositories have immutable image tags, so a deployed tag always names the same image (CKV_AWS_51, AVD-AWS-0031).",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: immutableSchema,
    validateResource: validateResourceOfType(aws.ecr.Repository, (repo, args, report) => {
        const c = settings(args, immutableSchema);
        const v = str(read(repo, "imageTagMutability"));
        if (v === UNKNOWN) return;
        const actual = v ?? "MUTABLE"; // the AWS default
        if (!c.allowedMutability.includes(actual)) {
            report(`imageTagMutability is ${v === undefined ? "not set (defaults to MUTABLE)" : `"${v}"`}; use ${c.allowedMutability.join(" or ")}.`);
        }
    }),
};

const ecrKmsSchema = configSchema({
    requireCustomerManagedKey: {
        type: "boolean",
        default: true,
        description: "Also require encryptionConfigurations[].kmsKey (a customer-managed key).",
    },
});

export const ecrKms: ResourceValidationPolicy = {
    name: "ecr-kms",
    description: "ECR repositories encrypt images with KMS, by default with a customer-managed key (CKV_AWS_136, AVD-AWS-0033).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: ecrKmsSchema,
    validateResource: validateResourceOfType(aws.ecr.Repository, (repo, args, report) => {
        const c = settings(args, ecrKmsSchema);
        const configs = list(read(repo, "encryptionConfigurations"));
        if (configs === UNKNOWN) return;
        if (configs.length === 0) {
            report("encryptionConfigurations is not set (defaults to AES256); set encryptionType \"KMS\".");
            return;
        }
        configs.forEach((cfg, i) => {
            if (cfg === UNKNOWN) return;
            const t = str(read(cfg, "encryptionType"));
            if (t === UNKNOWN) return;
            if (t !== "KMS" && t !== "KMS_DSSE") {
                report(`${where("encryptionConfigurations", i, "encryptionType")} is ${t === undefined ? "not set" : `"${t}"`}; use "KMS".`);
            } else if (c.requireCustomerManagedKey && !isSet(cfg, "kmsKey")) {
                report(`${where("encryptionConfigurations", i, "kmsKey")} is not set; use a customer-managed KMS key.`);
            }
        });
    }),
};

export const ecrRepoPolicyNotPublic: ResourceValidationPolicy = {
    name: "ecr-repo-policy-not-public",
    description: "ECR repository policies do not Allow Principal \"*\" without a restricting condition (CKV_AWS_32, AVD-AWS-0032).",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ecr.RepositoryPolicy, (rp, _a, report) => {
        const parsed = parsePolicyDocument(read(rp, "policy"));
        if (parsed === UNKNOWN || parsed === undefined) return;
        if ("error" in parsed) return report(`policy: ${parsed.error}`);
        parsed.statements.forEach((s, i) => {
            if (s.effect === "Allow" && hasWildcardPrincipal(s) && !hasRestrictingCondition(s)) {
                report(`policy ${describe(s, i)} allows Principal "*".`);
            }
        });
    }),
};

export const ecrLifecyclePolicy: StackValidationPolicy = {
    name: "ecr-lifecycle-policy",
    description: "Every ECR repository has an aws.ecr.LifecyclePolicy that expires old images (storage cost).",
    severity: "low",
    enforcementLevel: "advisory",
    validateStack: validateStackWith([aws.ecr.Repository], (repos, args, report) => {
        const policies = args.resources.filter((r) => r.isType(aws.ecr.LifecyclePolicy));
        for (const repo of repos) {
            const name = str(read(repo.props, "name"));
            const found = policies.some(
                (p) =>
                    (p.propertyDependencies?.repository ?? []).some((d) => d.urn === repo.urn) ||
                    (typeof name === "string" && str(read(p.props, "repository")) === name),
            );
            if (!found) report(`repository "${repo.name}": no aws.ecr.LifecyclePolicy references it in its \`repository\` property.`, repo.urn);
        }
    }),
};

export const ecrNoForceDelete: ResourceValidationPolicy = {
    name: "ecr-no-force-delete",
    description: "ECR repositories do not set forceDelete (deleting the stack would delete every image). Disable per stack for throwaway environments.",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ecr.Repository, (repo, _a, report) => {
        if (bool(read(repo, "forceDelete")) === true) report("forceDelete is true.");
    }),
};

export const ecrPolicies = [ecrScanOnPush, ecrImmutableTags, ecrKms, ecrRepoPolicyNotPublic, ecrLifecyclePolicy, ecrNoForceDelete];
