import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PolicyDocument, PolicyStatement, policyJson } from "./iam";
import { customerManagedKey } from "./kms";
import { Problems, checkInt, describe } from "./validation";

/** The data buckets a DataLake owns, by role. */
export const DATA_BUCKET_ROLES = ["raw", "processed", "artifacts"] as const;
export type DataBucketRole = (typeof DATA_BUCKET_ROLES)[number];

/** Tag that tells policies which kind of data a bucket holds. */
export const DATA_CLASS_TAG = "mlops.platform/data-class";

export interface DataLakeArgs {
    /** Keep buckets and the key on `pulumi destroy` (`protect` + `retainOnDelete`). Default false. */
    protect?: boolean;
    /** Allow destroying non-empty buckets. Default false; must be false when `protect` is true. */
    forceDestroy?: boolean;
    /** Days before raw objects move to STANDARD_IA. Default 30 (S3 minimum 30). */
    rawTransitionIaDays?: number;
    /** Days before raw objects move to GLACIER_IR. Default 180; must exceed rawTransitionIaDays. */
    rawTransitionGlacierDays?: number;
    /** Days noncurrent object versions are kept. Default 30. */
    noncurrentVersionExpirationDays?: number;
    /** Days access logs are kept. Default 90. */
    accessLogRetentionDays?: number;
    /** Days before incomplete multipart uploads are aborted. Default 7. */
    multipartAbortDays?: number;
    /**
     * Cross-region replication (S3 CRR) of every data bucket and of the access logs into replica
     * buckets in another region, encrypted with a key of that region. Delete markers are not
     * replicated, so deleting data in the primary region leaves the replica intact. Default off.
     */
    replication?: {
        /** Replica region, e.g. `us-west-2`; must differ from the stack's region. */
        region: string;
        /** Storage class of data replicas. Default `STANDARD_IA`. */
        storageClass?: "STANDARD" | "STANDARD_IA" | "INTELLIGENT_TIERING" | "GLACIER_IR";
        /**
         * Object Lock mode of the replicated access logs (retained `accessLogRetentionDays`):
         * `COMPLIANCE` (nobody, root included, can delete them early) or `GOVERNANCE`. Default `COMPLIANCE`.
         */
        accessLogLockMode?: "COMPLIANCE" | "GOVERNANCE";
    };
    /** Tags for every resource. */
    tags?: Record<string, string>;
}

/** Defaults applied by {@link validateDataLakeArgs}. */
export interface DataLakeSettings {
    protect: boolean;
    forceDestroy: boolean;
    rawTransitionIaDays: number;
    rawTransitionGlacierDays: number;
    noncurrentVersionExpirationDays: number;
    accessLogRetentionDays: number;
    multipartAbortDays: number;
    replication?: { region: string; storageClass: string; accessLogLockMode: "COMPLIANCE" | "GOVERNANCE" };
    tags: Record<string, string>;
}

/** Validates DataLake args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateDataLakeArgs(args: DataLakeArgs): DataLakeSettings {
    const s: DataLakeSettings = {
        protect: args.protect ?? false,
        forceDestroy: args.forceDestroy ?? false,
        rawTransitionIaDays: args.rawTransitionIaDays ?? 30,
        rawTransitionGlacierDays: args.rawTransitionGlacierDays ?? 180,
        noncurrentVersionExpirationDays: args.noncurrentVersionExpirationDays ?? 30,
        accessLogRetentionDays: args.accessLogRetentionDays ?? 90,
        multipartAbortDays: args.multipartAbortDays ?? 7,
        ...(args.replication
            ? {
                  replication: {
                      region: args.replication.region,
                      storageClass: args.replication.storageClass ?? "STANDARD_IA",
                      accessLogLockMode: args.replication.accessLogLockMode ?? "COMPLIANCE",
                  },
              }
            : {}),
        tags: args.tags ?? {},
    };
    const p = new Problems("DataLake arguments");
    checkInt(p, "rawTransitionIaDays", s.rawTransitionIaDays, 30, 3650);
    checkInt(p, "rawTransitionGlacierDays", s.rawTransitionGlacierDays, 31, 3650);
    checkInt(p, "noncurrentVersionExpirationDays", s.noncurrentVersionExpirationDays, 1, 3650);
    checkInt(p, "accessLogRetentionDays", s.accessLogRetentionDays, 1, 3650);
    checkInt(p, "multipartAbortDays", s.multipartAbortDays, 1, 365);
    p.check(
        s.rawTransitionGlacierDays > s.rawTransitionIaDays,
        "rawTransitionGlacierDays",
        `must be greater than rawTransitionIaDays (${s.rawTransitionIaDays}), got ${s.rawTransitionGlacierDays}`,
    );
    p.check(!(s.protect && s.forceDestroy), "forceDestroy", "must be false when protect is true");
    if (s.replication) {
        p.check(
            typeof s.replication.region === "string" && /^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(s.replication.region),
            "replication.region",
            `must be an AWS region such as "us-west-2", got ${describe(s.replication.region)}`,
        );
        p.check(
            ["STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR"].includes(s.replication.storageClass),
            "replication.storageClass",
            `must be STANDARD, STANDARD_IA, INTELLIGENT_TIERING or GLACIER_IR, got ${describe(s.replication.storageClass)}`,
        );
        p.check(
            s.replication.accessLogLockMode === "COMPLIANCE" || s.replication.accessLogLockMode === "GOVERNANCE",
            "replication.accessLogLockMode",
            `must be COMPLIANCE or GOVERNANCE, got ${describe(s.replication.accessLogLockMode)}`,
        );
    }
    p.throwIfAny();
    return s;
}

/** One grant for {@link DataLake.accessPolicy}. */
export interface DataLakeGrant {
    bucket: DataBucketRole;
    /** Key prefix the grant is limited to, e.g. `models/credit-risk/`. Default: the whole bucket. */
    prefix?: string;
    access: "read" | "write" | "readwrite";
}

interface BucketParts {
    bucket: aws.s3.Bucket;
    publicAccessBlock: aws.s3.BucketPublicAccessBlock;
    versioning: aws.s3.BucketVersioning;
}

/**
 * DataLake: the S3 buckets an ML team keeps raw, processed and model-artifact data in, encrypted
 * with a customer-managed KMS key, versioned, private, TLS-only, access-logged, with lifecycle
 * tiering and EventBridge notifications ("new data arrived" triggers).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html
 */
export class DataLake extends pulumi.ComponentResource {
    /** Bucket names by role. */
    public readonly rawBucket: pulumi.Output<string>;
    public readonly processedBucket: pulumi.Output<string>;
    public readonly artifactsBucket: pulumi.Output<string>;
    public readonly logsBucket: pulumi.Output<string>;
    /** ARNs of the cross-region replicas (data and access logs); empty without replication. */
    public readonly replicaBucketArns: pulumi.Output<string[]>;
    /** Bucket ARNs by role. */
    public readonly rawBucketArn: pulumi.Output<string>;
    public readonly processedBucketArn: pulumi.Output<string>;
    public readonly artifactsBucketArn: pulumi.Output<string>;
    /** ARN of the customer-managed key that encrypts every data bucket. */
    public readonly kmsKeyArn: pulumi.Output<string>;
    /** IAM policy (JSON): read raw and processed data. */
    public readonly readRawProcessedPolicy: pulumi.Output<string>;
    /** IAM policy (JSON): write processed data. */
    public readonly writeProcessedPolicy: pulumi.Output<string>;
    /** IAM policy (JSON): read and write model artifacts. */
    public readonly readWriteArtifactsPolicy: pulumi.Output<string>;
    /** DVC remote for dataset versions: `s3://<raw bucket>/dvc`. */
    public readonly dvcRemoteUrl: pulumi.Output<string>;

    private readonly buckets: Record<DataBucketRole, aws.s3.Bucket>;
    private readonly key: aws.kms.Key;
    private readonly region: pulumi.Output<string>;

    constructor(name: string, args: DataLakeArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:DataLake", name, {}, opts);
        const s = validateDataLakeArgs(args);
        const stateful: pulumi.CustomResourceOptions = { parent: this, protect: s.protect, retainOnDelete: s.protect };
        const child: pulumi.CustomResourceOptions = { parent: this };

        const identity = aws.getCallerIdentityOutput({}, { parent: this });
        const region = aws.getRegionOutput({}, { parent: this });
        this.region = region.region;

        this.key = customerManagedKey(
            `${name}-key`,
            { description: `${name}: encrypts the data lake buckets`, tags: { ...s.tags, Name: `${name}-key` } },
            stateful,
        );
        new aws.kms.Alias(`${name}-key-alias`, { name: `alias/${name}-data`, targetKeyId: this.key.keyId }, child);

        // Server access logs cannot be delivered to an SSE-KMS bucket, so the log bucket uses SSE-S3.
        const logs = this.createBucket(name, "logs", s, stateful, child, "AES256");
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-logs-lifecycle`,
            {
                bucket: logs.bucket.id,
                rules: [
                    {
                        id: "expire-access-logs",
                        status: "Enabled",
                        filter: {},
                        expiration: { days: s.accessLogRetentionDays },
                        // An overwritten or deleted log stays recoverable for the whole retention.
                        noncurrentVersionExpiration: { noncurrentDays: s.accessLogRetentionDays },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: s.multipartAbortDays },
                    },
                ],
            },
            child,
        );

        const buckets = {} as Record<DataBucketRole, aws.s3.Bucket>;
        for (const role of DATA_BUCKET_ROLES) {
            const parts = this.createBucket(name, role, s, stateful, child, "aws:kms");
            buckets[role] = parts.bucket;
            new aws.s3.BucketPolicy(
                `${name}-${role}-policy`,
                { bucket: parts.bucket.id, policy: policyJson(dataBucketPolicy(parts.bucket.arn, this.key.arn)) },
                // A bucket policy written while the public access block is being set can be refused.
                { parent: this, dependsOn: [parts.publicAccessBlock] },
            );
            new aws.s3.BucketLogging(
                `${name}-${role}-logging`,
                { bucket: parts.bucket.id, targetBucket: logs.bucket.id, targetPrefix: `${role}/` },
                child,
            );
            const rules: aws.types.input.s3.BucketLifecycleConfigurationRule[] = [
                {
                    id: "abort-incomplete-multipart-uploads",
                    status: "Enabled",
                    filter: {},
                    abortIncompleteMultipartUpload: { daysAfterInitiation: s.multipartAbortDays },
                },
                {
                    id: "expire-noncurrent-versions",
                    status: "Enabled",
                    filter: {},
                    noncurrentVersionExpiration: { noncurrentDays: s.noncurrentVersionExpirationDays },
                },
            ];
            if (role === "raw") {
                rules.push({
                    id: "tier-raw-data",
                    status: "Enabled",
                    filter: {},
                    transitions: [
                        { days: s.rawTransitionIaDays, storageClass: "STANDARD_IA" },
                        { days: s.rawTransitionGlacierDays, storageClass: "GLACIER_IR" },
                    ],
                });
            }
            new aws.s3.BucketLifecycleConfiguration(`${name}-${role}-lifecycle`, { bucket: parts.bucket.id, rules }, child);
            new aws.s3.BucketNotification(`${name}-${role}-events`, { bucket: parts.bucket.id, eventbridge: true }, child);
        }
        this.buckets = buckets;
        this.replicaBucketArns = s.replication
            ? pulumi.all(this.replicate(name, s, { ...buckets, logs: logs.bucket }, identity.accountId))
            : pulumi.output([]);

        // The log bucket accepts deliveries from the S3 logging service for our buckets only.
        new aws.s3.BucketPolicy(
            `${name}-logs-policy`,
            {
                bucket: logs.bucket.id,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        tlsOnly(logs.bucket.arn),
                        // Protected stacks: nobody deletes audit logs; the lifecycle rule expires them.
                        ...(s.protect ? [denyObjectDeletion(logs.bucket.arn)] : []),
                        {
                            Sid: "AllowS3ServerAccessLogs",
                            Effect: "Allow",
                            Principal: { Service: "logging.s3.amazonaws.com" },
                            Action: "s3:PutObject",
                            Resource: pulumi.interpolate`${logs.bucket.arn}/*`,
                            Condition: {
                                ArnLike: { "aws:SourceArn": DATA_BUCKET_ROLES.map((r) => buckets[r].arn) },
                                StringEquals: { "aws:SourceAccount": identity.accountId },
                            },
                        },
                    ],
                }),
            },
            { parent: this, dependsOn: [logs.publicAccessBlock] },
        );

        this.rawBucket = buckets.raw.bucket;
        this.processedBucket = buckets.processed.bucket;
        this.artifactsBucket = buckets.artifacts.bucket;
        this.logsBucket = logs.bucket.bucket;
        this.rawBucketArn = buckets.raw.arn;
        this.processedBucketArn = buckets.processed.arn;
        this.artifactsBucketArn = buckets.artifacts.arn;
        this.kmsKeyArn = this.key.arn;
        this.readRawProcessedPolicy = this.accessPolicy([
            { bucket: "raw", access: "read" },
            { bucket: "processed", access: "read" },
        ]);
        this.writeProcessedPolicy = this.accessPolicy([{ bucket: "processed", access: "write" }]);
        this.readWriteArtifactsPolicy = this.accessPolicy([{ bucket: "artifacts", access: "readwrite" }]);
        this.dvcRemoteUrl = pulumi.interpolate`s3://${buckets.raw.bucket}/dvc`;

        this.registerOutputs({
            rawBucket: this.rawBucket,
            processedBucket: this.processedBucket,
            artifactsBucket: this.artifactsBucket,
            logsBucket: this.logsBucket,
            kmsKeyArn: this.kmsKeyArn,
            dvcRemoteUrl: this.dvcRemoteUrl,
        });
    }

    /** Bucket name of a role. */
    public bucketName(role: DataBucketRole): pulumi.Output<string> {
        return this.buckets[role].bucket;
    }

    /**
     * A least-privilege IAM policy document (JSON) for the given grants: object actions limited to
     * the prefix, ListBucket limited to the prefix, and the KMS actions S3 needs, only via S3.
     */
    public accessPolicy(grants: DataLakeGrant[]): pulumi.Output<string> {
        const statements: PolicyStatement[] = [];
        let needsEncrypt = false;
        grants.forEach((g, i) => {
            const bucket = this.buckets[g.bucket];
            const prefix = g.prefix ?? "";
            const sid = `${g.bucket}${i}`.replace(/[^A-Za-z0-9]/g, "");
            const objects = pulumi.interpolate`${bucket.arn}/${prefix}*`;
            statements.push({
                Sid: `List${sid}`,
                Effect: "Allow",
                Action: ["s3:ListBucket", "s3:GetBucketLocation"],
                Resource: bucket.arn,
                ...(prefix ? { Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}),
            });
            const actions: string[] = [];
            if (g.access !== "write") {
                actions.push("s3:GetObject", "s3:GetObjectVersion");
            }
            if (g.access !== "read") {
                actions.push("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts");
                needsEncrypt = true;
            }
            statements.push({ Sid: `Objects${sid}`, Effect: "Allow", Action: actions, Resource: objects });
        });
        statements.push({
            Sid: "UseDataLakeKeyViaS3",
            Effect: "Allow",
            Action: needsEncrypt ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"],
            Resource: this.key.arn,
            Condition: { StringEquals: { "kms:ViaService": pulumi.interpolate`s3.${this.region}.amazonaws.com` } },
        });
        const doc: PolicyDocument = { Version: "2012-10-17", Statement: statements };
        return policyJson(doc);
    }

    /**
     * Replica buckets in the replication region (their own key, logging and lifecycle), and one
     * replication configuration per primary bucket. Returns the replica bucket ARNs.
     */
    private replicate(
        name: string,
        s: DataLakeSettings,
        sources: Record<DataBucketRole | "logs", aws.s3.Bucket>,
        accountId: pulumi.Output<string>,
    ): pulumi.Output<string>[] {
        const r = s.replication!;
        const provider = new aws.Provider(`${name}-replica-region`, { region: r.region as aws.Region }, { parent: this });
        const stateful: pulumi.CustomResourceOptions = { parent: this, provider, protect: s.protect, retainOnDelete: s.protect };
        const child: pulumi.CustomResourceOptions = { parent: this, provider };
        const replicaKey = customerManagedKey(
            `${name}-replica-key`,
            { description: `${name}: encrypts the data lake replicas in ${r.region}`, tags: { ...s.tags, Name: `${name}-replica-key` } },
            stateful,
        );
        const partsOf = (role: string, sse: "aws:kms" | "AES256", lock?: { mode: string; days: number }) =>
            this.createBucket(name, `replica-${role}`, s, stateful, child, sse, { key: replicaKey, lock });
        // Server access logs of the replicas (same region), themselves not replicated.
        const replicaLogs = partsOf("logs", "AES256");
        const replicaOf: Record<string, BucketParts> = {};
        for (const role of [...DATA_BUCKET_ROLES, "audit-logs"] as const) {
            const parts =
                role === "audit-logs" ? partsOf(role, "aws:kms", { mode: r.accessLogLockMode, days: s.accessLogRetentionDays }) : partsOf(role, "aws:kms");
            replicaOf[role] = parts;
            new aws.s3.BucketLogging(`${name}-replica-${role}-logging`, { bucket: parts.bucket.id, targetBucket: replicaLogs.bucket.id, targetPrefix: `${role}/` }, child);
            new aws.s3.BucketPolicy(
                `${name}-replica-${role}-policy`,
                {
                    bucket: parts.bucket.id,
                    policy: policyJson({
                        Version: "2012-10-17",
                        // Protected stacks: the copy cannot be deleted by anyone (lifecycle still expires it).
                        Statement: [tlsOnly(parts.bucket.arn), ...(s.protect ? [denyObjectDeletion(parts.bucket.arn)] : [])],
                    }),
                },
                { parent: this, provider, dependsOn: [parts.publicAccessBlock] },
            );
            new aws.s3.BucketLifecycleConfiguration(
                `${name}-replica-${role}-lifecycle`,
                {
                    bucket: parts.bucket.id,
                    rules: [
                        {
                            id: "expire-replicas",
                            status: "Enabled",
                            filter: {},
                            ...(role === "audit-logs" ? { expiration: { days: s.accessLogRetentionDays } } : {}),
                            noncurrentVersionExpiration: { noncurrentDays: role === "audit-logs" ? s.accessLogRetentionDays : s.noncurrentVersionExpirationDays },
                            abortIncompleteMultipartUpload: { daysAfterInitiation: s.multipartAbortDays },
                        },
                    ],
                },
                child,
            );
        }
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-replica-logs-lifecycle`,
            {
                bucket: replicaLogs.bucket.id,
                rules: [
                    {
                        id: "expire-access-logs",
                        status: "Enabled",
                        filter: {},
                        expiration: { days: s.accessLogRetentionDays },
                        noncurrentVersionExpiration: { noncurrentDays: s.accessLogRetentionDays },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: s.multipartAbortDays },
                    },
                ],
            },
            child,
        );
        new aws.s3.BucketPolicy(
            `${name}-replica-logs-policy`,
            {
                bucket: replicaLogs.bucket.id,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        tlsOnly(replicaLogs.bucket.arn),
                        {
                            Sid: "AllowS3ServerAccessLogs",
                            Effect: "Allow",
                            Principal: { Service: "logging.s3.amazonaws.com" },
                            Action: "s3:PutObject",
                            Resource: pulumi.interpolate`${replicaLogs.bucket.arn}/*`,
                            Condition: {
                                ArnLike: { "aws:SourceArn": Object.values(replicaOf).map((p) => p.bucket.arn) },
                                StringEquals: { "aws:SourceAccount": accountId },
                            },
                        },
                    ],
                }),
            },
            { parent: this, provider, dependsOn: [replicaLogs.publicAccessBlock] },
        );

        // The role S3 replicates with: read versions of the sources, write replicas, keys via S3 only.
        const sourceArns = Object.values(sources).map((b) => b.arn);
        const targetArns = Object.values(replicaOf).map((p) => p.bucket.arn);
        const role = new aws.iam.Role(
            `${name}-replication-role`,
            {
                description: `${name}: S3 cross-region replication to ${r.region}`,
                assumeRolePolicy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        { Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sts:AssumeRole", Condition: { StringEquals: { "aws:SourceAccount": accountId } } },
                    ],
                }),
                tags: s.tags,
            },
            { parent: this },
        );
        const rolePolicy = new aws.iam.RolePolicy(
            `${name}-replication-policy`,
            {
                role: role.name,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        { Sid: "ReadSourceConfiguration", Effect: "Allow", Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"], Resource: sourceArns },
                        {
                            Sid: "ReadSourceVersions",
                            Effect: "Allow",
                            Action: ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
                            Resource: sourceArns.map((a) => pulumi.interpolate`${a}/*`),
                        },
                        {
                            Sid: "WriteReplicas",
                            Effect: "Allow",
                            Action: ["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"],
                            Resource: targetArns.map((a) => pulumi.interpolate`${a}/*`),
                        },
                        {
                            Sid: "DecryptSourcesViaS3",
                            Effect: "Allow",
                            Action: "kms:Decrypt",
                            Resource: this.key.arn,
                            Condition: { StringEquals: { "kms:ViaService": pulumi.interpolate`s3.${this.region}.amazonaws.com` } },
                        },
                        {
                            Sid: "EncryptReplicasViaS3",
                            Effect: "Allow",
                            Action: ["kms:Encrypt", "kms:GenerateDataKey"],
                            Resource: replicaKey.arn,
                            Condition: { StringEquals: { "kms:ViaService": `s3.${r.region}.amazonaws.com` } },
                        },
                    ],
                }),
            },
            { parent: this },
        );
        for (const [role2, source] of Object.entries(sources)) {
            const kms = role2 !== "logs";
            const target = replicaOf[kms ? role2 : "audit-logs"];
            new aws.s3.BucketReplicationConfig(
                `${name}-${role2}-replication`,
                {
                    bucket: source.id,
                    role: role.arn,
                    rules: [
                        {
                            id: `to-${r.region}`,
                            status: "Enabled",
                            filter: {},
                            // A delete in the primary region must not reach the copy.
                            deleteMarkerReplication: { status: "Disabled" },
                            ...(kms ? { sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } } } : {}),
                            destination: {
                                bucket: target.bucket.arn,
                                storageClass: kms ? r.storageClass : "STANDARD",
                                ...(kms ? { encryptionConfiguration: { replicaKmsKeyId: replicaKey.arn } } : {}),
                            },
                        },
                    ],
                },
                // Both sides must be versioned first.
                { parent: this, dependsOn: [rolePolicy, target.versioning] },
            );
        }
        return [...targetArns, replicaLogs.bucket.arn];
    }

    private createBucket(
        name: string,
        role: string,
        s: DataLakeSettings,
        stateful: pulumi.CustomResourceOptions,
        child: pulumi.CustomResourceOptions,
        sse: "aws:kms" | "AES256",
        extra: { key?: aws.kms.Key; lock?: { mode: string; days: number } } = {},
    ): BucketParts {
        const key = extra.key ?? this.key;
        const bucket = new aws.s3.Bucket(
            `${name}-${role}`,
            { forceDestroy: s.forceDestroy, ...(extra.lock ? { objectLockEnabled: true } : {}), tags: { ...s.tags, [DATA_CLASS_TAG]: role } },
            stateful,
        );
        if (extra.lock) {
            new aws.s3.BucketObjectLockConfiguration(
                `${name}-${role}-object-lock`,
                { bucket: bucket.id, rule: { defaultRetention: { mode: extra.lock.mode, days: extra.lock.days } } },
                stateful,
            );
        }
        new aws.s3.BucketOwnershipControls(
            `${name}-${role}-ownership`,
            { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
            child,
        );
        const pab = new aws.s3.BucketPublicAccessBlock(
            `${name}-${role}-public-access`,
            { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            child,
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-${role}-encryption`,
            {
                bucket: bucket.id,
                rules: [
                    {
                        applyServerSideEncryptionByDefault:
                            sse === "aws:kms" ? { sseAlgorithm: "aws:kms", kmsMasterKeyId: key.arn } : { sseAlgorithm: "AES256" },
                        bucketKeyEnabled: sse === "aws:kms",
                    },
                ],
            },
            child,
        );
        const versioning = new aws.s3.BucketVersioning(
            `${name}-${role}-versioning`,
            { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
            stateful,
        );
        return { bucket, publicAccessBlock: pab, versioning };
    }
}

/** Nobody deletes objects or versions (lifecycle expiration is not subject to bucket policies). */
function denyObjectDeletion(bucketArn: pulumi.Output<string>): PolicyStatement {
    return {
        Sid: "DenyDeletingObjects",
        Effect: "Deny",
        Principal: "*",
        Action: ["s3:DeleteObject", "s3:DeleteObjectVersion"],
        Resource: pulumi.interpolate`${bucketArn}/*`,
    };
}

function tlsOnly(bucketArn: pulumi.Output<string>): PolicyStatement {
    return {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, pulumi.interpolate`${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
    };
}

function dataBucketPolicy(bucketArn: pulumi.Output<string>, keyArn: pulumi.Output<string>): PolicyDocument {
    // Uploads without encryption headers get the bucket's default (SSE-KMS with the lake key), so
    // only an explicit other algorithm or key is refused. `Null: false` means "the header is
    // present": `...IfExists` would also deny uploads that send no header at all, such as the
    // multipart uploads MLflow's artifact proxy starts.
    return {
        Version: "2012-10-17",
        Statement: [
            tlsOnly(bucketArn),
            {
                Sid: "DenyNonKmsUploads",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:PutObject",
                Resource: pulumi.interpolate`${bucketArn}/*`,
                Condition: {
                    StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
                    Null: { "s3:x-amz-server-side-encryption": "false" },
                },
            },
            {
                Sid: "DenyOtherKmsKeys",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:PutObject",
                Resource: pulumi.interpolate`${bucketArn}/*`,
                Condition: {
                    StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": keyArn },
                    Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
                },
            },
        ],
    };
}
