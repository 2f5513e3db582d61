// The stack configuration schema: one table that drives Pulumi.yaml's declarations (checked by a
// test), the program's parsing and validation, and the README's configuration reference.
import { Problems, describe } from "../components/validation";

export const PROJECT = "mlops-platform";

export type ConfigType = "string" | "integer" | "boolean" | "array" | "object";

export interface ConfigKeySpec {
    key: string;
    type: ConfigType;
    description: string;
    /** Default applied when a stack does not set the key (Pulumi.yaml `default`). */
    default?: unknown;
    /** Closed set of allowed values (strings). */
    allowed?: readonly string[];
    min?: number;
    max?: number;
    /** Topic heading for the generated reference. */
    group: string;
}

/**
 * Every project config key. Object-typed keys are declared in Pulumi.yaml without a `type`
 * (the CLI rejects `type: object` on older versions, pulumi/pulumi#11321), and validated here.
 */
export const CONFIG_KEYS: readonly ConfigKeySpec[] = [
    {
        key: "environment",
        type: "string",
        group: "General",
        allowed: ["dev", "staging", "prod"],
        default: "dev",
        description: "Environment class of the stack; drives secure-by-default switches and policy config.",
    },
    {
        key: "owner",
        type: "string",
        group: "General",
        default: "ml-platform",
        description: "Team that owns the stack; applied as the `owner` tag on every AWS resource.",
    },
    {
        key: "protectStatefulResources",
        type: "boolean",
        group: "Data protection",
        default: false,
        description:
            "Set `protect` and `retainOnDelete` on stateful resources (buckets, KMS keys, databases) so `pulumi destroy` cannot remove them.",
    },
    {
        key: "forceDestroy",
        type: "boolean",
        group: "Data protection",
        default: false,
        description:
            "Allow deleting non-empty buckets and ECR repositories with images on destroy (dev only; contradicts protectStatefulResources).",
    },
    {
        key: "rawTransitionIaDays",
        type: "integer",
        group: "Data lake",
        default: 30,
        min: 30,
        max: 3650,
        description: "Days after which raw objects move to STANDARD_IA (S3 requires at least 30).",
    },
    {
        key: "rawTransitionGlacierDays",
        type: "integer",
        group: "Data lake",
        default: 180,
        min: 31,
        max: 3650,
        description: "Days after which raw objects move to GLACIER_IR; must be later than rawTransitionIaDays.",
    },
    {
        key: "noncurrentVersionExpirationDays",
        type: "integer",
        group: "Data lake",
        default: 30,
        min: 1,
        max: 3650,
        description: "Days a noncurrent (overwritten or deleted) object version is kept before it expires.",
    },
    {
        key: "accessLogRetentionDays",
        type: "integer",
        group: "Data lake",
        default: 90,
        min: 1,
        max: 3650,
        description: "Days S3 server access logs are kept in the log bucket.",
    },
    {
        key: "multipartAbortDays",
        type: "integer",
        group: "Data lake",
        default: 7,
        min: 1,
        max: 365,
        description: "Days after which incomplete multipart uploads are aborted in every bucket.",
    },
    {
        key: "repositories",
        type: "array",
        group: "Container registry",
        default: ["trainer", "server"],
        description: "ECR repositories to create (DNS labels), e.g. the trainer and model-server images.",
    },
    {
        key: "imageUntaggedExpiryDays",
        type: "integer",
        group: "Container registry",
        default: 7,
        min: 1,
        max: 3650,
        description: "Days after which untagged images expire.",
    },
    {
        key: "imageKeepTaggedCount",
        type: "integer",
        group: "Container registry",
        default: 50,
        min: 1,
        max: 10000,
        description: "Number of tagged images kept per repository; older ones expire.",
    },
    {
        key: "buildImages",
        type: "boolean",
        group: "Container registry",
        default: false,
        description:
            "Build and push the trainer image from trainerImageContext with @pulumi/docker (needs a Docker engine where `pulumi up` runs).",
    },
    {
        key: "trainerImageContext",
        type: "string",
        group: "Container registry",
        default: "examples/credit-risk",
        description: "Docker build context of the trainer image, relative to the project root.",
    },
];

/** The validated, typed stack configuration the program passes to MlPlatform. */
export interface PlatformConfig {
    project: string;
    stack: string;
    environment: "dev" | "staging" | "prod";
    owner: string;
    protectStatefulResources: boolean;
    forceDestroy: boolean;
    dataLake: {
        rawTransitionIaDays: number;
        rawTransitionGlacierDays: number;
        noncurrentVersionExpirationDays: number;
        accessLogRetentionDays: number;
        multipartAbortDays: number;
    };
    registry: {
        repositories: string[];
        imageUntaggedExpiryDays: number;
        imageKeepTaggedCount: number;
        buildImages: boolean;
        trainerImageContext: string;
    };
}

/** Parses one raw config string according to its spec; records a problem and returns undefined if bad. */
function parseValue(spec: ConfigKeySpec, raw: string | undefined, problems: Problems): unknown {
    const path = `${PROJECT}:${spec.key}`;
    if (raw === undefined) {
        return spec.default;
    }
    switch (spec.type) {
        case "string": {
            if (spec.allowed && !spec.allowed.includes(raw)) {
                problems.add(path, `must be one of ${spec.allowed.map((a) => `"${a}"`).join(", ")}, got ${describe(raw)}`);
                return undefined;
            }
            return raw;
        }
        case "integer": {
            const n = Number(raw);
            const min = spec.min ?? Number.MIN_SAFE_INTEGER;
            const max = spec.max ?? Number.MAX_SAFE_INTEGER;
            if (raw.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
                problems.add(path, `must be an integer from ${min} to ${max}, got ${describe(raw)}`);
                return undefined;
            }
            return n;
        }
        case "boolean": {
            if (raw !== "true" && raw !== "false") {
                problems.add(path, `must be true or false, got ${describe(raw)}`);
                return undefined;
            }
            return raw === "true";
        }
        case "array":
        case "object": {
            let parsed: unknown;
            try {
                parsed = JSON.parse(raw);
            } catch {
                problems.add(path, `must be a YAML ${spec.type === "array" ? "list" : "mapping"}, got ${describe(raw)}`);
                return undefined;
            }
            const ok = spec.type === "array" ? Array.isArray(parsed) : typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
            if (!ok) {
                problems.add(path, `must be a YAML ${spec.type === "array" ? "list" : "mapping"}, got ${describe(parsed)}`);
                return undefined;
            }
            return parsed;
        }
    }
}

/**
 * Parses and validates raw stack config (key without namespace → string value as the Pulumi CLI
 * passes it; objects and lists as JSON). Throws one `pulumi.InputPropertiesError` listing every
 * problem, each naming the key, the bad value and what is allowed.
 */
export function parsePlatformConfig(
    raw: Record<string, string | undefined>,
    context: { project: string; stack: string },
): PlatformConfig {
    const problems = new Problems("stack configuration");
    const known = new Set(CONFIG_KEYS.map((k) => k.key));
    for (const key of Object.keys(raw)) {
        if (!known.has(key)) {
            problems.add(`${PROJECT}:${key}`, `is not a known key; known keys: ${[...known].join(", ")}`);
        }
    }
    const v: Record<string, any> = {};
    for (const spec of CONFIG_KEYS) {
        v[spec.key] = parseValue(spec, raw[spec.key], problems);
    }

    const repositories: unknown[] = Array.isArray(v.repositories) ? v.repositories : [];
    repositories.forEach((r, i) => {
        problems.check(
            typeof r === "string" && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(r),
            `${PROJECT}:repositories[${i}]`,
            `must be a lowercase DNS label (letters, digits, '-'), got ${describe(r)}`,
        );
    });
    if (new Set(repositories).size !== repositories.length) {
        problems.add(`${PROJECT}:repositories`, `must not repeat a name, got ${describe(repositories)}`);
    }
    if (v.protectStatefulResources === true && v.forceDestroy === true) {
        problems.add(
            `${PROJECT}:forceDestroy`,
            "must be false when protectStatefulResources is true (protected data cannot also be force-destroyed)",
        );
    }
    if (
        typeof v.rawTransitionIaDays === "number" &&
        typeof v.rawTransitionGlacierDays === "number" &&
        v.rawTransitionGlacierDays <= v.rawTransitionIaDays
    ) {
        problems.add(
            `${PROJECT}:rawTransitionGlacierDays`,
            `must be greater than rawTransitionIaDays (${v.rawTransitionIaDays}), got ${v.rawTransitionGlacierDays}`,
        );
    }
    problems.throwIfAny();

    return {
        project: context.project,
        stack: context.stack,
        environment: v.environment,
        owner: v.owner,
        protectStatefulResources: v.protectStatefulResources,
        forceDestroy: v.forceDestroy,
        dataLake: {
            rawTransitionIaDays: v.rawTransitionIaDays,
            rawTransitionGlacierDays: v.rawTransitionGlacierDays,
            noncurrentVersionExpirationDays: v.noncurrentVersionExpirationDays,
            accessLogRetentionDays: v.accessLogRetentionDays,
            multipartAbortDays: v.multipartAbortDays,
        },
        registry: {
            repositories: repositories as string[],
            imageUntaggedExpiryDays: v.imageUntaggedExpiryDays,
            imageKeepTaggedCount: v.imageKeepTaggedCount,
            buildImages: v.buildImages,
            trainerImageContext: v.trainerImageContext,
        },
    };
}
