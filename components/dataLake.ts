import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PolicyDocument, PolicyStatement, policyJson } from "./iam";
import { customerManagedKey } from "./kms";
import { Problems, checkInt } from "./validation";

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
                        noncurrentVersionExpiration: { noncurrentDays: 1 },
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

        // The log bucket accepts deliveries from the S3 logging service for our buckets only.
        new aws.s3.BucketPolicy(
            `${name}-logs-policy`,
            {
                bucket: logs.bucket.id,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        tlsOnly(logs.bucket.arn),
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

    private createBucket(
        name: string,
        role: DataBucketRole | "logs",
        s: DataLakeSettings,
        stateful: pulumi.CustomResourceOptions,
        child: pulumi.CustomResourceOptions,
        sse: "aws:kms" | "AES256",
    ): BucketParts {
        const bucket = new aws.s3.Bucket(
            `${name}-${role}`,
            { forceDestroy: s.forceDestroy, tags: { ...s.tags, [DATA_CLASS_TAG]: role } },
            stateful,
        );
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
                            sse === "aws:kms" ? { sseAlgorithm: "aws:kms", kmsMasterKeyId: this.key.arn } : { sseAlgorithm: "AES256" },
                        bucketKeyEnabled: sse === "aws:kms",
                    },
                ],
            },
            child,
        );
        new aws.s3.BucketVersioning(
            `${name}-${role}-versioning`,
            { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
            stateful,
        );
        return { bucket, publicAccessBlock: pab };
    }
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
