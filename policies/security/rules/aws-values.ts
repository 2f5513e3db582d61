// Reading resource properties and policy config defensively.
//
// Policies get the engine's view of a resource: during preview any value computed from another
// resource's output is *unknown*, and @pulumi/policy's proxy throws when such a value is read (which the
// server turns into an advisory "can't run during preview" diagnostic). The rules here only judge
// literal values: a read that hits an unknown yields UNKNOWN and the rule stays silent about it.
// Values may also arrive stringly typed ("true", "7"), e.g. launch template EBS `encrypted`.

import { PolicyConfigJSONSchema } from "@pulumi/policy/schema";

export const UNKNOWN: unique symbol = Symbol("unknown");
export type Unknown = typeof UNKNOWN;

function isUnknownValueError(e: unknown): boolean {
    return (
        e instanceof Error &&
        (e.constructor?.name === "UnknownValueError" || (Array.isArray((e as any).props) && "unknownTypeSentinel" in e))
    );
}

/** `obj[path[0]][path[1]]...`; undefined when any step is missing, UNKNOWN when a step is unknown. */
export function read(obj: any, ...path: (string | number)[]): any {
    let cur = obj;
    for (const key of path) {
        if (cur === undefined || cur === null || cur === UNKNOWN || typeof cur !== "object") {
            return cur === UNKNOWN ? UNKNOWN : undefined;
        }
        try {
            cur = cur[key];
        } catch (e) {
            if (isUnknownValueError(e)) return UNKNOWN;
            throw e;
        }
    }
    return cur;
}

/** True when the property exists with a non-null value, known or not (never throws). */
export function isSet(obj: any, key: string): boolean {
    if (!obj || typeof obj !== "object" || !(key in obj)) return false;
    const v = read(obj, key);
    return v === UNKNOWN || (v !== undefined && v !== null && v !== "");
}

/** Boolean from true/false, "true"/"false" (any case), 1/0; undefined otherwise. */
export function bool(v: any): boolean | undefined | Unknown {
    if (v === UNKNOWN) return UNKNOWN;
    if (typeof v === "boolean") return v;
    if (typeof v === "string") {
        const s = v.trim().toLowerCase();
        if (s === "true") return true;
        if (s === "false") return false;
    }
    if (typeof v === "number") return v !== 0;
    return undefined;
}

/** Number from a number or numeric string; undefined otherwise. */
export function num(v: any): number | undefined | Unknown {
    if (v === UNKNOWN) return UNKNOWN;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
    return undefined;
}

/** String value; undefined for anything else. */
export function str(v: any): string | undefined | Unknown {
    if (v === UNKNOWN) return UNKNOWN;
    return typeof v === "string" ? v : undefined;
}

/** Elements of an array property (each may be UNKNOWN); [] when absent, UNKNOWN when the list is unknown. */
export function list(v: any): any[] | Unknown {
    if (v === UNKNOWN) return UNKNOWN;
    if (!Array.isArray(v)) return [];
    const out: any[] = [];
    let len: number;
    try {
        len = v.length;
    } catch (e) {
        if (isUnknownValueError(e)) return UNKNOWN;
        throw e;
    }
    for (let i = 0; i < len; i++) out.push(read(v, i));
    return out;
}

/** Known string elements of a list (unknown elements dropped). */
export function strings(v: any): string[] {
    const l = list(v);
    return l === UNKNOWN ? [] : l.filter((e): e is string => typeof e === "string");
}

/** Object entries of a map property with UNKNOWN for unknown values. */
export function entries(v: any): [string, any][] {
    if (!v || v === UNKNOWN || typeof v !== "object") return [];
    return Object.keys(v).map((k) => [k, read(v, k)] as [string, any]);
}

/** Glob match with `*` wildcards (e.g. `g5.*`), case-insensitive. */
export function globMatch(value: string, pattern: string): boolean {
    const re = new RegExp(
        "^" + pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$",
        "i",
    );
    return re.test(value);
}

/** Schema of one config property with a default that is also used when the engine sent none. */
export type ConfigProperty<T> = PolicyConfigJSONSchema & { default: T; description: string };
export type ConfigProperties<T> = { [K in keyof T]: ConfigProperty<T[K]> };

/** Declares a policy's config schema from properties that all carry defaults. */
export function configSchema<T>(properties: ConfigProperties<T>): { properties: ConfigProperties<T> } {
    return { properties };
}

/**
 * The policy's config with schema defaults filled in (the engine already fills them; this also covers
 * runners that do not) and booleans/numbers coerced from strings.
 */
export function settings<T>(args: { getConfig<C extends object>(): C }, schema: { properties: ConfigProperties<T> }): T {
    const given: Record<string, any> = (args.getConfig<Record<string, any>>() ?? {}) as Record<string, any>;
    const out: Record<string, any> = {};
    for (const [k, s] of Object.entries(schema.properties) as [string, ConfigProperty<any>][]) {
        let v = given[k] === undefined ? s.default : given[k];
        if (s.type === "boolean") v = bool(v) ?? s.default;
        if (s.type === "number" || s.type === "integer") v = num(v) ?? s.default;
        out[k] = v;
    }
    return out as T;
}

/** Human path for messages, e.g. `rules[0].applyServerSideEncryptionByDefault.sseAlgorithm`. */
export function where(...parts: (string | number)[]): string {
    return parts.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}
