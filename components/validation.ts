import * as pulumi from "@pulumi/pulumi";

/** One problem with one input property. */
export interface PropertyProblem {
    /** Dotted path of the property, e.g. `repositories[1].name` or `mlops-platform:gpuMaxSize`. */
    propertyPath: string;
    /** What is wrong and what is allowed. */
    reason: string;
}

/**
 * Collects every problem in a set of inputs and throws them together as one
 * `pulumi.InputPropertiesError`, so a user fixes all of them in one round.
 * @internal
 */
export class Problems {
    private readonly problems: PropertyProblem[] = [];

    constructor(private readonly subject: string) {}

    add(propertyPath: string, reason: string): void {
        this.problems.push({ propertyPath, reason });
    }

    /** Adds a problem when `ok` is false; returns `ok`. */
    check(ok: boolean, propertyPath: string, reason: string): boolean {
        if (!ok) {
            this.add(propertyPath, reason);
        }
        return ok;
    }

    get list(): readonly PropertyProblem[] {
        return this.problems;
    }

    throwIfAny(): void {
        if (this.problems.length === 0) {
            return;
        }
        const lines = this.problems.map((p) => `  - ${p.propertyPath}: ${p.reason}`).join("\n");
        throw new pulumi.InputPropertiesError({
            message: `Invalid ${this.subject}:\n${lines}`,
            errors: this.problems.map((p) => ({ propertyPath: p.propertyPath, reason: p.reason })),
        });
    }
}

/** @internal */
export function describe(value: unknown): string {
    return value === undefined ? "undefined" : JSON.stringify(value);
}

/** @internal Checks an integer in [min, max]; returns whether it was valid. */
export function checkInt(
    problems: Problems,
    path: string,
    value: unknown,
    min: number,
    max: number = Number.MAX_SAFE_INTEGER,
): value is number {
    return problems.check(
        typeof value === "number" && Number.isInteger(value) && value >= min && value <= max,
        path,
        `must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}, got ${describe(value)}`,
    );
}

/** @internal Checks membership in a closed set; returns whether it was valid. */
export function checkOneOf<T extends string>(
    problems: Problems,
    path: string,
    value: unknown,
    allowed: readonly T[],
): value is T {
    return problems.check(
        typeof value === "string" && (allowed as readonly string[]).includes(value),
        path,
        `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${describe(value)}`,
    );
}

/** Kubernetes/DNS-1123 label: lowercase alphanumerics and '-', 1..63, starting and ending alphanumeric. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** @internal */
export function checkDnsLabel(problems: Problems, path: string, value: unknown): value is string {
    return problems.check(
        typeof value === "string" && DNS_LABEL.test(value),
        path,
        `must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit), got ${describe(value)}`,
    );
}
