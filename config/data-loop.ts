// Stack config of the data loop (issue 15): `pipelineTrigger` and `ingestion`. The component
// validators judge the values; their property paths are reported under the config key.
import { Problems, PropertyProblem, describe } from "../components/validation";
import { PipelineTriggerArgs, TriggerTarget, validatePipelineTriggerArgs } from "../components/pipelineTrigger";
import { validateIngestionJobArgs } from "../components/ingestionJob";

const PROJECT = "mlops-platform";

/** `mlops-platform:pipelineTrigger`: PipelineTrigger args without the bucket (the raw bucket). */
export interface PipelineTriggerConfig {
    /** Target; for GitHub, `repository` defaults to `ci.repository`. */
    target: TriggerTarget;
    prefix?: string;
    suffix?: string;
    retry?: { maximumRetryAttempts?: number; maximumEventAgeSeconds?: number };
    dlqRetentionDays?: number;
    invocationRateLimitPerSecond?: number;
    /** SNS topic ARNs the dead-letter alarm notifies. */
    alarmActions?: string[];
}

/** `mlops-platform:ingestion`: a scheduled copy of dated batches into the raw bucket. */
export interface IngestionConfig {
    dataset: string;
    schedule: string;
    timeZone?: string;
    source: { uri: string; suffixes?: string[] };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

function unknownKeys(problems: Problems, path: string, obj: Record<string, unknown>, allowed: string[]): void {
    for (const k of Object.keys(obj)) {
        if (!allowed.includes(k)) problems.add(`${path}.${k}`, `is not a known property; known: ${allowed.join(", ")}`);
    }
}

/** Runs a component validator and re-reports its problems under `path`. */
function under(problems: Problems, path: string, validate: () => unknown): void {
    try {
        validate();
    } catch (e: any) {
        const errors: PropertyProblem[] | undefined = e?.errors;
        if (!Array.isArray(errors)) throw e;
        for (const err of errors) problems.add(`${path}.${err.propertyPath}`, err.reason);
    }
}

export function parsePipelineTrigger(problems: Problems, value: unknown, ciRepository: string | undefined): PipelineTriggerConfig | undefined {
    const path = `${PROJECT}:pipelineTrigger`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { target: { kind: github|gitlab, ... }, prefix?, suffix?, retry?, ... }, got ${describe(value)}`);
        return undefined;
    }
    unknownKeys(problems, path, value, ["target", "prefix", "suffix", "retry", "dlqRetentionDays", "invocationRateLimitPerSecond", "alarmActions"]);
    const target = isObject(value.target) ? { ...value.target } : value.target;
    if (isObject(target) && target.kind === "github" && target.repository === undefined && ciRepository) target.repository = ciRepository;
    const config = { ...value, target } as unknown as PipelineTriggerConfig;
    if (value.alarmActions !== undefined) {
        problems.check(
            Array.isArray(value.alarmActions) && value.alarmActions.every((a) => typeof a === "string" && /^arn:aws[a-z-]*:sns:/.test(a)),
            `${path}.alarmActions`,
            `must list SNS topic ARNs, got ${describe(value.alarmActions)}`,
        );
    }
    const { alarmActions: _ignored, ...rest } = config;
    under(problems, path, () => validatePipelineTriggerArgs("pipeline-trigger", { ...(rest as PipelineTriggerArgs), bucketName: "raw" }));
    return config;
}

export function parseIngestion(problems: Problems, value: unknown): IngestionConfig | undefined {
    const path = `${PROJECT}:ingestion`;
    if (!isObject(value)) {
        problems.add(path, `must be a mapping { dataset, schedule, source: { uri, suffixes? }, timeZone? }, got ${describe(value)}`);
        return undefined;
    }
    unknownKeys(problems, path, value, ["dataset", "schedule", "timeZone", "source"]);
    const config = value as unknown as IngestionConfig;
    const https = isObject(value.source) && typeof value.source.uri === "string" && value.source.uri.startsWith("https://");
    under(problems, path, () =>
        validateIngestionJobArgs({
            provider: {} as any,
            clusterName: "cluster",
            namespace: "training",
            image: `registry/trainer@sha256:${"0".repeat(64)}`,
            destinationBucket: "raw",
            access: { ...(https ? {} : { sourcePolicy: "{}" }), destinationPolicy: "{}" },
            dataset: config.dataset,
            schedule: config.schedule,
            ...(config.timeZone !== undefined ? { timeZone: config.timeZone } : {}),
            source: config.source,
        }),
    );
    return config;
}
