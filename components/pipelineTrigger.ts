// PipelineTrigger: new data in the raw bucket starts the training pipeline. An EventBridge rule on
// the bucket's "Object Created" events (DataLake turns EventBridge notifications on) sends each
// matching event through an API destination to GitHub's repository_dispatch (or GitLab's pipeline
// API), with bounded retries and an encrypted dead-letter queue whose messages raise an alarm.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyJson } from "./iam";
import { customerManagedKey } from "./kms";
import { Problems, checkInt, describe } from "./validation";


/**
 * Tag a KMS key needs before EventBridge encrypts a connection's secret with it (the
 * AmazonEventBridgeApiDestinationsServiceRolePolicy admits only keys tagged so).
 */
export const EVENTBRIDGE_CONNECTION_KEY_TAG = "EventBridgeApiDestinations";

/**
 * The value the connection is created with. EventBridge requires an API key value at creation and
 * stores it in its own Secrets Manager secret; the provider offers no reference to an existing
 * secret, and reading the token into the program would put it in the state. So the connection is
 * created with this placeholder, Pulumi ignores later changes of the value, and the operator sets
 * the real token out of band (README "Pipeline trigger": `aws events update-connection`), from the
 * operator's own Secrets Manager secret. The security pack refuses any other literal value.
 */
export const TRIGGER_TOKEN_PLACEHOLDER = "set-out-of-band-see-README-pipeline-trigger";

/** Marker object the ingestion job writes last; matching only it collapses a batch into one event. */
export const DEFAULT_MARKER_SUFFIX = "_manifest.json";

/** repository_dispatch event type train.yml listens to. */
export const NEW_DATA_EVENT_TYPE = "new-data";

export type TriggerTarget =
    | {
          kind: "github";
          /** `owner/name` of the repository whose train workflow runs. */
          repository: string;
          /** repository_dispatch event type. Default `new-data` (what .github/workflows/train.yml accepts). */
          eventType?: string;
          /** API base URL. Default `https://api.github.com` (GitHub Enterprise: `https://<host>/api/v3`). */
          apiUrl?: string;
      }
    | {
          kind: "gitlab";
          /** Numeric project id (Settings → General). */
          projectId: number;
          /** Branch the pipeline runs on. Default `main`. */
          ref?: string;
          /** API base URL. Default `https://gitlab.com/api/v4`. */
          apiUrl?: string;
      };

export interface PipelineTriggerArgs {
    /** Name of the raw-data bucket (DataLake.rawBucket; EventBridge notifications must be on). */
    bucketName: pulumi.Input<string>;
    /** Only keys below this prefix trigger, e.g. `credit-risk/`. Default: the whole bucket. */
    prefix?: string;
    /**
     * Only keys ending with this suffix trigger. Default `_manifest.json`, the marker the ingestion
     * job writes after every part of a batch: a batch of many objects then starts one run. Set `""`
     * to trigger on every object (then the workflow's concurrency group is what collapses runs).
     */
    suffix?: string;
    /** Where the pipeline runs. */
    target: TriggerTarget;
    /** Name of the connection, API destination and rule (letters, digits, '.', '-', '_'; <= 48). Default: the component name. */
    namePrefix?: string;
    /** Maximum deliveries per second to the CI API (1..300). Default 1. */
    invocationRateLimitPerSecond?: number;
    /** Retries of a failed delivery (0..185) and the age after which an event is given up (60..86400 s). Defaults 8 and 3600. */
    retry?: { maximumRetryAttempts?: number; maximumEventAgeSeconds?: number };
    /** Days failed deliveries stay in the dead-letter queue for replay (1..14). Default 14. */
    dlqRetentionDays?: number;
    /** SNS topic ARNs notified when the dead-letter queue holds a message. Default none (the alarm still shows). */
    alarmActions?: pulumi.Input<string>[];
    /**
     * KMS key of the dead-letter queue and of the connection's token secret. Its policy must let
     * events.amazonaws.com use it for the queue, and it must be tagged `EventBridgeApiDestinations:
     * true` (EventBridge's service-linked role decrypts the token only with keys so tagged). Default:
     * a key of its own, so configured.
     */
    kmsKeyArn?: pulumi.Input<string>;
    tags?: Record<string, string>;
}

export interface PipelineTriggerSettings {
    prefix: string;
    suffix: string;
    namePrefix: string;
    target: Required<Extract<TriggerTarget, { kind: "github" }>> | Required<Extract<TriggerTarget, { kind: "gitlab" }>>;
    invocationRateLimitPerSecond: number;
    maximumRetryAttempts: number;
    maximumEventAgeSeconds: number;
    dlqRetentionDays: number;
    tags: Record<string, string>;
}

const NAME = /^[.\-_A-Za-z0-9]{1,48}$/;
const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** Validates PipelineTrigger args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validatePipelineTriggerArgs(name: string, args: PipelineTriggerArgs): PipelineTriggerSettings {
    const p = new Problems("PipelineTrigger arguments");
    const t = args.target;
    const s: PipelineTriggerSettings = {
        prefix: args.prefix ?? "",
        suffix: args.suffix ?? DEFAULT_MARKER_SUFFIX,
        namePrefix: args.namePrefix ?? name,
        target:
            t?.kind === "gitlab"
                ? { kind: "gitlab", projectId: t.projectId, ref: t.ref ?? "main", apiUrl: (t.apiUrl ?? "https://gitlab.com/api/v4").replace(/\/$/, "") }
                : { kind: "github", repository: (t as any)?.repository, eventType: (t as any)?.eventType ?? NEW_DATA_EVENT_TYPE, apiUrl: ((t as any)?.apiUrl ?? "https://api.github.com").replace(/\/$/, "") },
        invocationRateLimitPerSecond: args.invocationRateLimitPerSecond ?? 1,
        maximumRetryAttempts: args.retry?.maximumRetryAttempts ?? 8,
        maximumEventAgeSeconds: args.retry?.maximumEventAgeSeconds ?? 3600,
        dlqRetentionDays: args.dlqRetentionDays ?? 14,
        tags: args.tags ?? {},
    };
    p.check(args.bucketName !== undefined && args.bucketName !== "", "bucketName", "is required (DataLake.rawBucket)");
    // '*' and '\' would be wildcard syntax in the event pattern; S3 keys of a data lake do not need them.
    for (const [key, v] of [["prefix", s.prefix], ["suffix", s.suffix]] as const) {
        p.check(typeof v === "string" && !/[*\\]/.test(v) && v.length <= 512, key, `must be a string of at most 512 characters without '*' or '\\', got ${describe(v)}`);
    }
    p.check(typeof s.namePrefix === "string" && NAME.test(s.namePrefix), "namePrefix", `must be 1-48 letters, digits, '.', '-' or '_', got ${describe(s.namePrefix)}`);
    if (t?.kind === "github") {
        p.check(typeof t.repository === "string" && REPO.test(t.repository), "target.repository", `must be "owner/name", got ${describe(t.repository)}`);
        p.check(/^[A-Za-z0-9_.-]{1,100}$/.test((s.target as any).eventType), "target.eventType", `must be 1-100 letters, digits, '.', '-' or '_', got ${describe((s.target as any).eventType)}`);
    } else if (t?.kind === "gitlab") {
        checkInt(p, "target.projectId", t.projectId, 1);
        p.check(typeof (s.target as any).ref === "string" && /^[^\s~^:?*[\\]+$/.test((s.target as any).ref), "target.ref", `must be a branch name, got ${describe(t.ref)}`);
    } else {
        p.add("target.kind", `must be "github" or "gitlab", got ${describe((t as any)?.kind)}`);
    }
    p.check(/^https:\/\/[^\s/]+(\/[^\s]*)?$/.test(s.target.apiUrl), "target.apiUrl", `must be an https:// URL, got ${describe(s.target.apiUrl)}`);
    checkInt(p, "invocationRateLimitPerSecond", s.invocationRateLimitPerSecond, 1, 300);
    checkInt(p, "retry.maximumRetryAttempts", s.maximumRetryAttempts, 0, 185);
    checkInt(p, "retry.maximumEventAgeSeconds", s.maximumEventAgeSeconds, 60, 86400);
    checkInt(p, "dlqRetentionDays", s.dlqRetentionDays, 1, 14);
    p.throwIfAny();
    return s;
}

/** The rule's event pattern: S3 "Object Created" events of one bucket, filtered by key prefix/suffix. */
export function triggerEventPattern(bucketName: string, s: Pick<PipelineTriggerSettings, "prefix" | "suffix">): Record<string, unknown> {
    const key =
        s.prefix && s.suffix
            ? [{ wildcard: `${s.prefix}*${s.suffix}` }]
            : s.prefix
              ? [{ prefix: s.prefix }]
              : s.suffix
                ? [{ suffix: s.suffix }]
                : undefined;
    return {
        source: ["aws.s3"],
        "detail-type": ["Object Created"],
        detail: { bucket: { name: [bucketName] }, object: key ? { key } : undefined },
    };
}

/** Input paths of the transformer: event fields the request body uses. */
export const TRIGGER_INPUT_PATHS: Record<string, string> = {
    bucket: "$.detail.bucket.name",
    key: "$.detail.object.key",
    versionId: "$.detail.object.version-id",
    eventTime: "$.time",
    eventId: "$.id",
};

/**
 * The input template: the request body the CI API receives. GitHub: a repository_dispatch body
 * (`event_type`, `client_payload` with at most 10 top-level keys); GitLab: a "create pipeline"
 * body whose variables carry the same fields. train.yml / .gitlab-ci.yml derive the batch prefix
 * (the marker's folder) and the data version (the folder's name, e.g. its date) from `marker_key`.
 */
export function triggerInputTemplate(s: Pick<PipelineTriggerSettings, "target">): string {
    if (s.target.kind === "gitlab") {
        const v = (key: string, value: string) => `{"key":"${key}","value":"${value}"}`;
        return `{"ref":"${s.target.ref}","variables":[${[
            v("MLOPS_TRIGGER", "new-data"),
            v("MLOPS_DATA_BUCKET", "<bucket>"),
            v("MLOPS_MARKER_KEY", "<key>"),
            v("MLOPS_MARKER_VERSION_ID", "<versionId>"),
            v("MLOPS_EVENT_TIME", "<eventTime>"),
            v("MLOPS_EVENT_ID", "<eventId>"),
        ].join(",")}]}`;
    }
    return `{"event_type":"${s.target.eventType}","client_payload":{"bucket":"<bucket>","marker_key":"<key>","marker_version_id":"<versionId>","event_time":"<eventTime>","event_id":"<eventId>"}}`;
}

/** The API endpoint the destination POSTs to. */
export function triggerEndpoint(s: Pick<PipelineTriggerSettings, "target">): string {
    return s.target.kind === "gitlab"
        ? `${s.target.apiUrl}/projects/${s.target.projectId}/pipeline`
        : `${s.target.apiUrl}/repos/${s.target.repository}/dispatches`;
}

/** Header the connection sends the token in (its value is the out-of-band secret). */
export function triggerAuthHeader(s: Pick<PipelineTriggerSettings, "target">): string {
    return s.target.kind === "gitlab" ? "PRIVATE-TOKEN" : "Authorization";
}

/**
 * PipelineTrigger: an EventBridge rule on the raw bucket's Object Created events (matching only
 * the batch marker by default), an API destination to GitHub repository_dispatch or GitLab's
 * pipeline API authorized by a connection whose token the operator sets out of band (never in
 * config or state), an IAM role EventBridge invokes it with, a bounded retry policy, and a
 * KMS-encrypted SQS dead-letter queue with an alarm, so a failed delivery is visible and replayable.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html
 */
export class PipelineTrigger extends pulumi.ComponentResource {
    public readonly ruleArn: pulumi.Output<string>;
    public readonly ruleName: pulumi.Output<string>;
    /** Name of the connection whose API key the operator sets (`aws events update-connection --name ...`). */
    public readonly connectionName: pulumi.Output<string>;
    /** ARN of the Secrets Manager secret EventBridge keeps the token in (created by EventBridge). */
    public readonly connectionSecretArn: pulumi.Output<string>;
    public readonly apiDestinationArn: pulumi.Output<string>;
    public readonly deadLetterQueueUrl: pulumi.Output<string>;
    public readonly deadLetterQueueArn: pulumi.Output<string>;
    public readonly alarmName: pulumi.Output<string>;
    public readonly settings: PipelineTriggerSettings;

    constructor(name: string, args: PipelineTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:PipelineTrigger", name, {}, opts);
        const s = validatePipelineTriggerArgs(name, args);
        this.settings = s;
        const child = { parent: this };
        const tags = s.tags;
        const invokeOpts = { parent: this };
        const account = aws.getCallerIdentityOutput({}, invokeOpts).accountId;

        const ruleName = s.namePrefix;
        const partition = aws.getPartitionOutput({}, invokeOpts).partition;
        const region = aws.getRegionOutput({}, invokeOpts).region;
        // The rule ARN is known before the rule exists; the key and queue policies name it.
        const ruleArn = pulumi.interpolate`arn:${partition}:events:${region}:${account}:rule/${ruleName}`;
        const fromThisRule = { ArnEquals: { "aws:SourceArn": ruleArn } };

        const keyArn =
            args.kmsKeyArn ??
            customerManagedKey(
                `${name}-key`,
                {
                    description: pulumi.interpolate`Dead-letter queue of the pipeline trigger ${ruleName}`,
                    extraStatements: [
                        {
                            // EventBridge writes failed deliveries into the encrypted queue.
                            Sid: "EventBridgeDeadLetters",
                            Effect: "Allow",
                            Principal: { Service: "events.amazonaws.com" },
                            Action: ["kms:GenerateDataKey", "kms:Decrypt"],
                            Resource: "*",
                            Condition: fromThisRule,
                        },
                    ],
                    // EventBridge creates the connection's token secret in Secrets Manager with this key
                    // (as the deploying role, through Secrets Manager only) and its service-linked role
                    // decrypts it per delivery; that role's policy admits only keys with this tag.
                    ciCryptoViaServices: ["secretsmanager"],
                    tags: { ...tags, [EVENTBRIDGE_CONNECTION_KEY_TAG]: "true" },
                },
                child,
            ).arn;

        const dlq = new aws.sqs.Queue(
            `${name}-dlq`,
            {
                kmsMasterKeyId: keyArn,
                kmsDataKeyReusePeriodSeconds: 300,
                messageRetentionSeconds: s.dlqRetentionDays * 86400,
                tags,
            },
            child,
        );
        new aws.sqs.QueuePolicy(
            `${name}-dlq-policy`,
            {
                queueUrl: dlq.url,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        { Sid: "EventBridgeDeadLetters", Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sqs:SendMessage", Resource: dlq.arn, Condition: fromThisRule },
                        { Sid: "TlsOnly", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: dlq.arn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
                    ],
                }),
            },
            child,
        );

        const connection = new aws.cloudwatch.EventConnection(
            `${name}-connection`,
            {
                name: s.namePrefix,
                description: pulumi.interpolate`Token for ${triggerEndpoint(s)} (set out of band; see README "Pipeline trigger")`,
                authorizationType: "API_KEY",
                authParameters: { apiKey: { key: triggerAuthHeader(s), value: TRIGGER_TOKEN_PLACEHOLDER } },
                // The token's secret on the platform's key, not an AWS-owned one.
                kmsKeyIdentifier: keyArn,
            },
            // The operator's token replaces the placeholder out of band; Pulumi must not put it back.
            { ...child, ignoreChanges: ["authParameters.apiKey.value"] },
        );
        const destination = new aws.cloudwatch.EventApiDestination(
            `${name}-destination`,
            {
                name: s.namePrefix,
                description: `Starts the training pipeline (${s.target.kind})`,
                connectionArn: connection.arn,
                invocationEndpoint: triggerEndpoint(s),
                httpMethod: "POST",
                invocationRateLimitPerSecond: s.invocationRateLimitPerSecond,
            },
            child,
        );

        const role = new aws.iam.Role(
            `${name}-role`,
            {
                description: "EventBridge invokes the pipeline trigger's API destination",
                assumeRolePolicy: policyJson({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { Service: "events.amazonaws.com" },
                            Action: "sts:AssumeRole",
                            Condition: { StringEquals: { "aws:SourceAccount": account }, ArnEquals: { "aws:SourceArn": ruleArn } },
                        },
                    ],
                }),
                tags,
            },
            child,
        );
        new aws.iam.RolePolicy(
            `${name}-invoke`,
            {
                role: role.id,
                policy: policyJson({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Action: "events:InvokeApiDestination", Resource: pulumi.interpolate`${destination.arn}/*` }],
                }),
            },
            child,
        );

        const rule = new aws.cloudwatch.EventRule(
            `${name}-rule`,
            {
                name: ruleName,
                description: `New data in the raw bucket (${s.prefix || "any prefix"}, ${s.suffix || "any suffix"}) starts the training pipeline`,
                eventPattern: pulumi.output(args.bucketName).apply((b) => JSON.stringify(triggerEventPattern(b, s))),
                tags,
            },
            child,
        );
        new aws.cloudwatch.EventTarget(
            `${name}-target`,
            {
                rule: rule.name,
                arn: destination.arn,
                roleArn: role.arn,
                inputTransformer: { inputPaths: TRIGGER_INPUT_PATHS, inputTemplate: triggerInputTemplate(s) },
                httpTarget: {
                    headerParameters:
                        s.target.kind === "github"
                            ? { Accept: "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28" }
                            : { "Content-Type": "application/json" },
                },
                retryPolicy: { maximumRetryAttempts: s.maximumRetryAttempts, maximumEventAgeInSeconds: s.maximumEventAgeSeconds },
                deadLetterConfig: { arn: dlq.arn },
            },
            child,
        );

        const alarm = new aws.cloudwatch.MetricAlarm(
            `${name}-dlq-alarm`,
            {
                alarmDescription: pulumi.interpolate`A new-data event could not be delivered to the CI (${triggerEndpoint(s)}); replay it from the dead-letter queue (README "Pipeline trigger").`,
                namespace: "AWS/SQS",
                metricName: "ApproximateNumberOfMessagesVisible",
                dimensions: { QueueName: dlq.name },
                statistic: "Maximum",
                period: 300,
                evaluationPeriods: 1,
                threshold: 0,
                comparisonOperator: "GreaterThanThreshold",
                treatMissingData: "notBreaching",
                alarmActions: args.alarmActions ?? [],
                tags,
            },
            child,
        );

        this.ruleArn = rule.arn;
        this.ruleName = rule.name;
        this.connectionName = connection.name;
        this.connectionSecretArn = connection.secretArn;
        this.apiDestinationArn = destination.arn;
        this.deadLetterQueueUrl = dlq.url;
        this.deadLetterQueueArn = dlq.arn;
        this.alarmName = alarm.name;
        this.registerOutputs({
            ruleArn: this.ruleArn,
            connectionName: this.connectionName,
            apiDestinationArn: this.apiDestinationArn,
            deadLetterQueueUrl: this.deadLetterQueueUrl,
            alarmName: this.alarmName,
        });
    }
}
