// S3 rules (policy catalog rows 1-14). In @pulumi/aws v7 `aws.s3.Bucket` is the former BucketV2 and
// encryption, versioning, logging, lifecycle, ACLs, ownership and policies are separate resources
// that name the bucket in their `bucket` input. Stack rules link them to their bucket through
// `propertyDependencies.bucket` (or an equal literal bucket name) and also accept the deprecated
// inline blocks on the bucket and the deprecated `...V2` resource types.

import * as aws from "@pulumi/aws";
import {
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    validateResourceOfType,
} from "@pulumi/policy";

import { describe, hasRestrictingCondition, hasWildcardPrincipal, parsePolicyDocument } from "./aws-iam-documents";
import { validateStackWith } from "./aws-stack";
import { bool, configSchema, globMatch, isSet, list, num, read, settings, str, UNKNOWN, where } from "./aws-values";

const KMS_ALGORITHMS = ["aws:kms", "aws:kms:dsse"];
const PUBLIC_CANNED_ACLS = ["public-read", "public-read-write", "authenticated-read"];
const PUBLIC_GRANTEE_URIS = [
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

type Validate = (props: any, args: ResourceValidationArgs, report: ReportViolation) => void;

/** Runs `fn` for the v7 resource class and its deprecated `...V2` twin. */
function ofTypes(classes: any[], fn: Validate) {
    return classes.map((c) => validateResourceOfType(c, fn as any));
}

const isBucket = (r: PolicyResource) => r.isType(aws.s3.Bucket) || r.isType(aws.s3.BucketV2);

/** Logical or physical bucket name matched against config globs. */
function bucketExempt(b: PolicyResource, patterns: string[]): boolean {
    const physical = str(read(b.props, "bucket"));
    return patterns.some((p) => globMatch(b.name, p) || (typeof physical === "string" && globMatch(physical, p)));
}

/** Does side resource `s` configure bucket `b` (via `propertyDependencies[prop]` or equal literal name)? */
function targets(s: PolicyResource, b: PolicyResource, prop = "bucket"): boolean {
    if ((s.propertyDependencies?.[prop] ?? []).some((d) => d.urn === b.urn)) return true;
    const name = str(read(s.props, prop));
    const bName = str(read(b.props, "bucket"));
    const bId = str(read(b.props, "id"));
    return typeof name === "string" && (name === bName || name === bId);
}

const exemptBucketsSchema = configSchema({
    exemptBuckets: {
        type: "array",
        items: { type: "string" },
        default: [] as string[],
        description: "Bucket logical or physical names (globs with *) this rule does not apply to.",
    },
});

/** Stack rule over every bucket; `check` returns a message when the bucket fails. */
function perBucket(
    args: StackValidationArgs,
    report: ReportViolation,
    exempt: string[],
    check: (b: PolicyResource, all: PolicyResource[]) => string | undefined,
) {
    for (const b of args.resources.filter(isBucket)) {
        if (bucketExempt(b, exempt)) continue;
        const msg = check(b, args.resources);
        if (msg) report(`bucket "${b.name}": ${msg}`, b.urn);
    }
}

/** SSE rules wherever they live: the SSE resource's `rules[]` or the bucket's inline `rule`. */
function sseRules(props: any, inline: boolean): { path: string; rule: any }[] {
    if (inline) {
        const rule = read(props, "serverSideEncryptionConfiguration", "rule");
        return rule && rule !== UNKNOWN ? [{ path: "serverSideEncryptionConfiguration.rule", rule }] : [];
    }
    const rules = list(read(props, "rules"));
    if (rules === UNKNOWN) return [];
    return rules.map((rule, i) => ({ path: where("rules", i), rule })).filter((r) => r.rule && r.rule !== UNKNOWN);
}

const sseClasses = [aws.s3.BucketServerSideEncryptionConfiguration, aws.s3.BucketServerSideEncryptionConfigurationV2];

function validateSse(check: (rule: any, path: string, report: ReportViolation) => void): ResourceValidationPolicy["validateResource"] {
    return [
        ...ofTypes(sseClasses, (props, _a, report) => {
            for (const { rule, path } of sseRules(props, false)) check(rule, path, report);
        }),
        ...ofTypes([aws.s3.Bucket, aws.s3.BucketV2], (props, _a, report) => {
            for (const { rule, path } of sseRules(props, true)) check(rule, path, report);
        }),
    ];
}

export const s3SseConfigured: StackValidationPolicy = {
    name: "s3-sse-configured",
    description: "Every S3 bucket has default server-side encryption configured (CKV_AWS_19, AVD-AWS-0088).",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: exemptBucketsSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_buckets, args, report) => {
        const c = settings(args, exemptBucketsSchema);
        perBucket(args, report, c.exemptBuckets, (b, all) => {
            // Inline config counts only as a known value: in preview outputs it is an unknown computed value.
            const inline = read(b.props, "serverSideEncryptionConfiguration", "rule");
            if (inline && inline !== UNKNOWN) return undefined;
            const found = all.some((s) => sseClasses.some((k) => s.isType(k)) && targets(s, b));
            return found
                ? undefined
                : "no aws.s3.BucketServerSideEncryptionConfiguration references this bucket in its `bucket` property";
        });
    }),
};

/**
 * Buckets that receive server access logs. AWS does not deliver access logs to a bucket whose default
 * encryption is SSE-KMS, so these must use SSE-S3.
 */
function logTargetBuckets(all: PolicyResource[]): Set<string> {
    const loggings = all.filter((r) => r.isType(aws.s3.BucketLogging) || r.isType(aws.s3.BucketLoggingV2));
    const buckets = all.filter(isBucket);
    const out = new Set<string>();
    for (const b of buckets) {
        const name = str(read(b.props, "bucket"));
        const viaResource = loggings.some((l) => targets(l, b, "targetBucket") && !targets(l, b, "bucket"));
        const viaInline = buckets.some((o) => {
            const t = str(read(o.props, "logging", "targetBucket"));
            return o !== b && typeof t === "string" && t === name;
        });
        if (viaResource || viaInline) out.add(b.urn);
    }
    return out;
}

export const s3SseKms: StackValidationPolicy = {
    name: "s3-sse-kms",
    description: "S3 default encryption uses SSE-KMS (aws:kms or aws:kms:dsse); access-log target buckets, which AWS requires to use SSE-S3, are exempt (CKV_AWS_145).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateStack: validateStackWith([...sseClasses, aws.s3.Bucket, aws.s3.BucketV2], (subjects, args, report) => {
        const buckets = args.resources.filter(isBucket);
        const sseResources = args.resources.filter((r) => sseClasses.some((k) => r.isType(k)));
        const logTargets = logTargetBuckets(args.resources);
        for (const r of subjects) {
            let rules: { path: string; rule: any }[];
            if (isBucket(r)) {
                // Inline config is only the bucket's own when no separate SSE resource manages it
                // (after a deployment the provider reads the effective encryption back into it).
                if (logTargets.has(r.urn) || sseResources.some((x) => targets(x, r))) continue;
                rules = sseRules(r.props, true);
            } else {
                const bucket = buckets.find((b) => targets(r, b));
                if (bucket && logTargets.has(bucket.urn)) continue;
                rules = sseRules(r.props, false);
            }
            for (const { rule, path } of rules) {
                const alg = str(read(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"));
                if (alg === UNKNOWN) continue;
                if (alg === undefined) {
                    report(`"${r.name}": ${path}.applyServerSideEncryptionByDefault.sseAlgorithm is not set; use "aws:kms".`, r.urn);
                } else if (!KMS_ALGORITHMS.includes(alg)) {
                    report(`"${r.name}": ${path}.applyServerSideEncryptionByDefault.sseAlgorithm is "${alg}"; use one of ${KMS_ALGORITHMS.join(", ")}.`, r.urn);
                }
            }
        }
    }),
};

export const s3SseCmk: ResourceValidationPolicy = {
    name: "s3-sse-cmk",
    description: "S3 SSE-KMS uses a customer-managed KMS key (kmsMasterKeyId set) (AVD-AWS-0132).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: validateSse((rule, path, report) => {
        const byDefault = read(rule, "applyServerSideEncryptionByDefault");
        if (!byDefault || byDefault === UNKNOWN) return;
        const alg = str(read(byDefault, "sseAlgorithm"));
        if (typeof alg === "string" && !KMS_ALGORITHMS.includes(alg)) return; // s3-sse-kms reports it
        if (!isSet(byDefault, "kmsMasterKeyId")) {
            report(`${path}.applyServerSideEncryptionByDefault.kmsMasterKeyId is not set; the AWS-managed aws/s3 key would be used.`);
        }
    }),
};

export const s3BucketKey: ResourceValidationPolicy = {
    name: "s3-bucket-key",
    description: "S3 SSE-KMS enables S3 Bucket Keys (bucketKeyEnabled) to cut KMS requests and cost.",
    severity: "low",
    enforcementLevel: "advisory",
    validateResource: validateSse((rule, path, report) => {
        const alg = str(read(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"));
        if (alg === UNKNOWN || (typeof alg === "string" && !KMS_ALGORITHMS.includes(alg))) return;
        const v = bool(read(rule, "bucketKeyEnabled"));
        if (v === UNKNOWN) return;
        if (v !== true) report(`${path}.bucketKeyEnabled is ${v === undefined ? "not set" : v}; set it to true.`);
    }),
};

export const s3VersioningEnabled: ResourceValidationPolicy = {
    name: "s3-versioning-enabled",
    description: "S3 bucket versioning resources enable versioning (CKV_AWS_21, AVD-AWS-0090).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: [
        ...ofTypes([aws.s3.BucketVersioning, aws.s3.BucketVersioningV2], (props, _a, report) => {
            const status = str(read(props, "versioningConfiguration", "status"));
            if (status === UNKNOWN) return;
            if (status !== "Enabled") {
                report(`versioningConfiguration.status is ${status === undefined ? "not set" : `"${status}"`}; set it to "Enabled".`);
            }
        }),
        ...ofTypes([aws.s3.Bucket, aws.s3.BucketV2], (props, _a, report) => {
            const v = read(props, "versioning");
            if (v === undefined || v === UNKNOWN) return;
            if (bool(read(v, "enabled")) === false) report(`versioning.enabled is false; enable versioning.`);
        }),
    ],
};

export const s3VersioningPresent: StackValidationPolicy = {
    name: "s3-versioning-present",
    description: "Every S3 bucket has versioning enabled by an aws.s3.BucketVersioning resource (CKV_AWS_21).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: exemptBucketsSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_buckets, args, report) => {
        const c = settings(args, exemptBucketsSchema);
        perBucket(args, report, c.exemptBuckets, (b, all) => {
            if (bool(read(b.props, "versioning", "enabled")) === true) return undefined;
            const found = all.some(
                (s) => (s.isType(aws.s3.BucketVersioning) || s.isType(aws.s3.BucketVersioningV2)) && targets(s, b),
            );
            return found ? undefined : "no aws.s3.BucketVersioning references this bucket in its `bucket` property";
        });
    }),
};

export const s3PublicAccessBlockPresent: StackValidationPolicy = {
    name: "s3-public-access-block-present",
    description: "Every S3 bucket has an aws.s3.BucketPublicAccessBlock (CKV2_AWS_6, AVD-AWS-0094).",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: exemptBucketsSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_buckets, args, report) => {
        const c = settings(args, exemptBucketsSchema);
        perBucket(args, report, c.exemptBuckets, (b, all) =>
            all.some((s) => s.isType(aws.s3.BucketPublicAccessBlock) && targets(s, b))
                ? undefined
                : "no aws.s3.BucketPublicAccessBlock references this bucket in its `bucket` property",
        );
    }),
};

export const s3PublicAccessBlockAll: ResourceValidationPolicy = {
    name: "s3-public-access-block-all",
    description: "S3 public access blocks turn on all four settings (CKV_AWS_53-56, AVD-AWS-0086/0087/0091/0093).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.s3.BucketPublicAccessBlock, (props, _a, report) => {
        const off: string[] = [];
        for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
            const v = bool(read(props, k));
            if (v !== true && v !== UNKNOWN) off.push(k);
        }
        if (off.length > 0) report(`${off.join(", ")} must be true.`);
    }),
};

function publicGrants(grants: any, pathPrefix: string, granteeAt: (g: any) => any): string[] {
    const l = list(grants);
    if (l === UNKNOWN) return [];
    const bad: string[] = [];
    l.forEach((g, i) => {
        const uri = str(read(granteeAt(g), "uri"));
        if (typeof uri === "string" && PUBLIC_GRANTEE_URIS.includes(uri)) bad.push(`${pathPrefix}[${i}] grants to ${uri.split("/").pop()}`);
    });
    return bad;
}

export const s3NoPublicAcl: ResourceValidationPolicy = {
    name: "s3-no-public-acl",
    description: "S3 buckets use no public canned ACL and no AllUsers/AuthenticatedUsers grants (CKV_AWS_20/57, AVD-AWS-0092).",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: [
        ...ofTypes([aws.s3.BucketAcl, aws.s3.BucketAclV2], (props, _a, report) => {
            const acl = str(read(props, "acl"));
            if (typeof acl === "string" && PUBLIC_CANNED_ACLS.includes(acl)) report(`acl is "${acl}".`);
            for (const m of publicGrants(read(props, "accessControlPolicy", "grants"), "accessControlPolicy.grants", (g) => read(g, "grantee"))) {
                report(`${m}.`);
            }
        }),
        ...ofTypes([aws.s3.Bucket, aws.s3.BucketV2], (props, _a, report) => {
            const acl = str(read(props, "acl"));
            if (typeof acl === "string" && PUBLIC_CANNED_ACLS.includes(acl)) report(`acl is "${acl}".`);
            for (const m of publicGrants(read(props, "grants"), "grants", (g) => g)) report(`${m}.`);
        }),
    ],
};

export const s3AclsDisabled: StackValidationPolicy = {
    name: "s3-acls-disabled",
    description: "Every S3 bucket disables ACLs with BucketOwnershipControls rule.objectOwnership = BucketOwnerEnforced (CKV2_AWS_65).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: exemptBucketsSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_buckets, args, report) => {
        const c = settings(args, exemptBucketsSchema);
        perBucket(args, report, c.exemptBuckets, (b, all) => {
            const controls = all.filter((s) => s.isType(aws.s3.BucketOwnershipControls) && targets(s, b));
            if (controls.length === 0) {
                return "no aws.s3.BucketOwnershipControls references this bucket; add one with rule.objectOwnership = BucketOwnerEnforced";
            }
            for (const s of controls) {
                const v = str(read(s.props, "rule", "objectOwnership"));
                if (v === UNKNOWN || v === "BucketOwnerEnforced") return undefined;
                return `BucketOwnershipControls "${s.name}" rule.objectOwnership is ${v === undefined ? "not set" : `"${v}"`}; use "BucketOwnerEnforced"`;
            }
            return undefined;
        });
    }),
};

/** Does the document deny non-TLS access (`aws:SecureTransport` = false) or only allow TLS? */
function enforcesTls(doc: any): boolean | typeof UNKNOWN {
    const parsed = parsePolicyDocument(doc);
    if (parsed === UNKNOWN) return UNKNOWN;
    if (!parsed || "error" in parsed) return false;
    return parsed.statements.some((s) => {
        const vals = Object.entries(s.condition)
            .filter(([op]) => op.toLowerCase() === "bool")
            .flatMap(([, kv]) => Object.entries(kv).filter(([k]) => k.toLowerCase() === "aws:securetransport").flatMap(([, v]) => v));
        return s.effect === "Deny" && vals.some((v) => v.toLowerCase() === "false");
    });
}

export const s3TlsOnly: StackValidationPolicy = {
    name: "s3-tls-only",
    description: "Every S3 bucket policy denies requests without TLS (Deny when aws:SecureTransport is false) (CKV_AWS_379).",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: exemptBucketsSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_buckets, args, report) => {
        const c = settings(args, exemptBucketsSchema);
        perBucket(args, report, c.exemptBuckets, (b, all) => {
            const inline = read(b.props, "policy");
            const docs = [inline === UNKNOWN ? undefined : inline, ...all.filter((s) => s.isType(aws.s3.BucketPolicy) && targets(s, b)).map((s) => read(s.props, "policy"))]
                .filter((d) => d !== undefined && d !== null && d !== "");
            if (docs.length === 0) {
                return "no aws.s3.BucketPolicy references this bucket; add one whose policy denies when aws:SecureTransport is false";
            }
            const results = docs.map(enforcesTls);
            if (results.some((r) => r === true || r === UNKNOWN)) return undefined;
            return "bucket policy has no Deny statement with Condition Bool aws:SecureTransport = false";
        });
    }),
};

function checkPublicPolicy(doc: any, prop: string, report: ReportViolation) {
    const parsed = parsePolicyDocument(doc);
    if (parsed === UNKNOWN || parsed === undefined) return;
    if ("error" in parsed) return report(`${prop}: ${parsed.error}`);
    parsed.statements.forEach((s, i) => {
        if (s.effect === "Allow" && hasWildcardPrincipal(s) && !hasRestrictingCondition(s)) {
            report(`${prop} ${describe(s, i)} allows Principal "*" without a condition restricting the account, organization or VPC endpoint.`);
        }
    });
}

export const s3PolicyNoPublicPrincipal: ResourceValidationPolicy = {
    name: "s3-policy-no-public-principal",
    description: "S3 bucket policies do not Allow Principal \"*\" without a restricting condition (CKV_AWS_70).",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(aws.s3.BucketPolicy, (props, _a, report) => checkPublicPolicy(read(props, "policy"), "policy", report)),
        ...ofTypes([aws.s3.Bucket, aws.s3.BucketV2], (props, _a, report) => checkPublicPolicy(read(props, "policy"), "policy", report)),
    ],
};

export const s3AccessLogging: StackValidationPolicy = {
    name: "s3-access-logging",
    description: "Every S3 data bucket has server access logging to another bucket (CKV_AWS_18, AVD-AWS-0089). Log target buckets are exempt.",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: exemptBucketsSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_buckets, args, report) => {
        const c = settings(args, exemptBucketsSchema);
        const loggings = args.resources.filter((s) => s.isType(aws.s3.BucketLogging) || s.isType(aws.s3.BucketLoggingV2));
        const logTargets = logTargetBuckets(args.resources);
        perBucket(args, report, c.exemptBuckets, (b) => {
            if (logTargets.has(b.urn)) return undefined;
            const inlineTarget = str(read(b.props, "logging", "targetBucket"));
            if (typeof inlineTarget === "string" && inlineTarget !== "") {
                return inlineTarget === str(read(b.props, "bucket")) ? "logging.targetBucket is the bucket itself" : undefined;
            }
            const mine = loggings.filter((l) => targets(l, b));
            if (mine.length === 0) return "no aws.s3.BucketLogging references this bucket in its `bucket` property";
            if (mine.every((l) => targets(l, b, "targetBucket"))) return "BucketLogging targetBucket is the bucket itself; log to a separate bucket";
            return undefined;
        });
    }),
};

export const s3LifecycleAbortMpu: StackValidationPolicy = {
    name: "s3-lifecycle-abort-mpu",
    description: "Every S3 bucket has a lifecycle configuration with an enabled rule setting abortIncompleteMultipartUpload.daysAfterInitiation (CKV2_AWS_61, CKV_AWS_300).",
    severity: "low",
    enforcementLevel: "advisory",
    configSchema: exemptBucketsSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_buckets, args, report) => {
        const c = settings(args, exemptBucketsSchema);
        perBucket(args, report, c.exemptBuckets, (b, all) => {
            const inline = list(read(b.props, "lifecycleRules"));
            if (inline !== UNKNOWN && inline.some((r) => bool(read(r, "enabled")) !== false && num(read(r, "abortIncompleteMultipartUploadDays")) !== undefined)) return undefined;
            const configs = all.filter(
                (s) => (s.isType(aws.s3.BucketLifecycleConfiguration) || s.isType(aws.s3.BucketLifecycleConfigurationV2)) && targets(s, b),
            );
            if (configs.length === 0) return "no aws.s3.BucketLifecycleConfiguration references this bucket in its `bucket` property";
            for (const s of configs) {
                const rules = list(read(s.props, "rules"));
                if (rules === UNKNOWN) return undefined;
                const ok = rules.some(
                    (r) => str(read(r, "status")) !== "Disabled" && num(read(r, "abortIncompleteMultipartUpload", "daysAfterInitiation")) !== undefined,
                );
                if (ok) return undefined;
            }
            return "no enabled lifecycle rule sets abortIncompleteMultipartUpload.daysAfterInitiation";
        });
    }),
};

const forceDestroySchema = configSchema({
    allowedBuckets: {
        type: "array",
        items: { type: "string" },
        default: [] as string[],
        description: "Bucket logical names (globs) that may set forceDestroy, e.g. access-log buckets.",
    },
});

export const s3NoForceDestroy: ResourceValidationPolicy = {
    name: "s3-no-force-destroy",
    description: "S3 buckets holding data or models do not set forceDestroy (deleting the stack would delete every object). Disable per stack where throwaway data is intended.",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: forceDestroySchema,
    validateResource: ofTypes([aws.s3.Bucket, aws.s3.BucketV2], (props, args, report) => {
        const c = settings(args, forceDestroySchema);
        if (c.allowedBuckets.some((p) => globMatch(args.name, p))) return;
        if (bool(read(props, "forceDestroy")) === true) report("forceDestroy is true.");
    }),
};

/** Exported for tests: the full S3 list, in catalog order. */
const replicationSchema = configSchema({
    requireReplication: { type: "boolean", default: false, description: "Require a cross-region (or cross-bucket) replica of every bucket that is not itself a replica or a replica's log target (prod)." },
    exemptBuckets: exemptBucketsSchema.properties.exemptBuckets,
});

/** Buckets that receive replicas (a replication configuration's destination). */
function replicaBuckets(all: PolicyResource[]): Set<string> {
    const configs = all.filter((r) => r.isType(aws.s3.BucketReplicationConfig));
    const out = new Set<string>();
    for (const b of all.filter(isBucket)) {
        const arn = str(read(b.props, "arn"));
        const isDest = configs.some((c) => {
            if ((c.propertyDependencies?.rules ?? []).some((d) => d.urn === b.urn)) return true;
            const rules = list(read(c.props, "rules"));
            return rules !== UNKNOWN && rules.some((r) => typeof arn === "string" && str(read(r, "destination", "bucket")) === arn);
        });
        if (isDest) out.add(b.urn);
    }
    return out;
}

export const s3Replication: StackValidationPolicy = {
    name: "s3-replication",
    description:
        "With requireReplication (prod), every bucket holding data or logs replicates to another bucket (BucketReplicationConfig, enabled rule, delete markers not replicated); replicas and the replicas' own log bucket are exempt.",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: replicationSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_b, args, report) => {
        const c = settings(args, replicationSchema);
        if (!c.requireReplication) return;
        const configs = args.resources.filter((r) => r.isType(aws.s3.BucketReplicationConfig));
        const replicas = replicaBuckets(args.resources);
        const replicaLogTargets = new Set(
            args.resources
                .filter((l) => l.isType(aws.s3.BucketLogging) && args.resources.some((b) => replicas.has(b.urn) && targets(l, b)))
                .flatMap((l) => args.resources.filter((b) => isBucket(b) && targets(l, b, "targetBucket")).map((b) => b.urn)),
        );
        perBucket(args, report, c.exemptBuckets, (b) => {
            if (replicas.has(b.urn) || replicaLogTargets.has(b.urn)) return undefined;
            const mine = configs.filter((cfg) => targets(cfg, b));
            if (mine.length === 0) return "no aws.s3.BucketReplicationConfig replicates this bucket; its data has no copy outside the bucket and region.";
            const rules = mine.flatMap((cfg) => {
                const r = list(read(cfg.props, "rules"));
                return r === UNKNOWN ? [] : r;
            });
            if (!rules.some((r) => str(read(r, "status")) === "Enabled")) return "its replication configuration has no enabled rule.";
            if (rules.some((r) => str(read(r, "deleteMarkerReplication", "status")) === "Enabled")) {
                return "rules[].deleteMarkerReplication.status is Enabled; a delete would reach the replica.";
            }
            return undefined;
        });
    }),
};

const logRetentionSchema = configSchema({
    minNoncurrentDays: {
        type: "integer",
        default: 30,
        description: "Days an overwritten or deleted access log version must stay recoverable (lifecycle noncurrentVersionExpiration).",
    },
});

export const s3LogVersionsRetained: StackValidationPolicy = {
    name: "s3-log-versions-retained",
    description: "Access-log buckets keep noncurrent versions at least minNoncurrentDays (default 30), so a deleted audit log stays recoverable.",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: logRetentionSchema,
    validateStack: validateStackWith([aws.s3.Bucket, aws.s3.BucketV2], (_b, args, report) => {
        const min = settings(args, logRetentionSchema).minNoncurrentDays;
        const lifecycles = args.resources.filter((r) => r.isType(aws.s3.BucketLifecycleConfiguration) || r.isType(aws.s3.BucketLifecycleConfigurationV2));
        const logTargets = logTargetBuckets(args.resources);
        perBucket(args, report, [], (b) => {
            if (!logTargets.has(b.urn)) return undefined;
            for (const lc of lifecycles.filter((l) => targets(l, b))) {
                const rules = list(read(lc.props, "rules"));
                if (rules === UNKNOWN) continue;
                for (const [i, r] of rules.entries()) {
                    const days = num(read(r, "noncurrentVersionExpiration", "noncurrentDays"));
                    if (str(read(r, "status")) === "Enabled" && typeof days === "number" && days < min) {
                        return `lifecycle "${lc.name}" ${where("rules", i, "noncurrentVersionExpiration", "noncurrentDays")} is ${days}; keep noncurrent log versions at least ${min} days.`;
                    }
                }
            }
            return undefined;
        });
    }),
};

export const s3Policies = [
    s3SseConfigured,
    s3SseKms,
    s3SseCmk,
    s3BucketKey,
    s3VersioningEnabled,
    s3VersioningPresent,
    s3PublicAccessBlockPresent,
    s3PublicAccessBlockAll,
    s3NoPublicAcl,
    s3AclsDisabled,
    s3TlsOnly,
    s3PolicyNoPublicPrincipal,
    s3AccessLogging,
    s3LifecycleAbortMpu,
    s3NoForceDestroy,
    s3Replication,
    s3LogVersionsRetained,
];
