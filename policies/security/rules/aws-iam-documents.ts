// Parsing IAM-style JSON policy documents (IAM, S3 bucket, ECR repository and KMS key policies).
// Components pass typed objects through `pulumi.jsonStringify`, so a document normally arrives as a
// JSON string; object documents (`inputs.iam.PolicyDocument`) are accepted too.

import { UNKNOWN, Unknown } from "./aws-values";

export interface Statement {
    sid?: string;
    effect: "Allow" | "Deny" | string;
    actions: string[];
    notActions: string[];
    resources: string[];
    notResources: string[];
    /** Principal normalised to `{ AWS: [...], Service: [...], Federated: [...] }`; "*" becomes `{ AWS: ["*"] }`. */
    principals?: Record<string, string[]>;
    notPrincipals?: Record<string, string[]>;
    /** Condition normalised to operator -> key -> values (keys as written). */
    condition: Record<string, Record<string, string[]>>;
}

export type ParsedDocument = { statements: Statement[] } | { error: string };

const arr = (v: any): string[] =>
    v === undefined || v === null ? [] : (Array.isArray(v) ? v : [v]).map((e) => String(e));

function principals(v: any): Record<string, string[]> | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return { AWS: [v] };
    if (Array.isArray(v)) return { AWS: arr(v) };
    const out: Record<string, string[]> = {};
    for (const [k, e] of Object.entries(v)) out[k] = arr(e);
    return out;
}

function plain(v: any): any | Unknown {
    try {
        return JSON.parse(JSON.stringify(v));
    } catch {
        return UNKNOWN;
    }
}

/**
 * Parses a policy document property. Returns UNKNOWN while the document depends on unknown values,
 * undefined when absent, `{ error }` when it is not valid JSON.
 */
export function parsePolicyDocument(v: any): ParsedDocument | Unknown | undefined {
    if (v === UNKNOWN) return UNKNOWN;
    if (v === undefined || v === null || v === "") return undefined;
    let doc: any;
    if (typeof v === "string") {
        if (/04da6b54-80e4-46f7-96ec-b56ff0331ba9/.test(v)) return UNKNOWN;
        try {
            doc = JSON.parse(v);
        } catch (e) {
            return { error: `policy document is not valid JSON: ${(e as Error).message}` };
        }
    } else {
        doc = plain(v);
        if (doc === UNKNOWN) return UNKNOWN;
    }
    if (!doc || typeof doc !== "object") return { error: "policy document is not a JSON object" };
    const raw = doc.Statement ?? doc.statement ?? doc.statements;
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    const statements: Statement[] = list.map((s: any) => {
        const cond: Record<string, Record<string, string[]>> = {};
        for (const [op, kv] of Object.entries((s?.Condition ?? {}) as Record<string, any>)) {
            cond[op] = {};
            for (const [k, vals] of Object.entries(kv ?? {})) cond[op][k] = arr(vals);
        }
        return {
            sid: s?.Sid,
            effect: String(s?.Effect ?? s?.effect ?? "Allow"),
            actions: arr(s?.Action ?? s?.actions),
            notActions: arr(s?.NotAction ?? s?.notActions),
            resources: arr(s?.Resource ?? s?.resources),
            notResources: arr(s?.NotResource ?? s?.notResources),
            principals: principals(s?.Principal ?? s?.principals),
            notPrincipals: principals(s?.NotPrincipal),
            condition: cond,
        };
    });
    return { statements };
}

/** True when a statement grants to everyone: `Principal: "*"` or `{ AWS: "*" }`. */
export function hasWildcardPrincipal(s: Statement): boolean {
    if (s.notPrincipals) return true; // Allow + NotPrincipal grants to everyone else
    return !!s.principals && Object.values(s.principals).some((vals) => vals.includes("*"));
}

/** Condition keys (lower-cased) used anywhere in a statement. */
export function conditionKeys(s: Statement): string[] {
    return Object.values(s.condition).flatMap((kv) => Object.keys(kv).map((k) => k.toLowerCase()));
}

/** Condition keys that pin a public principal to an account, org, VPC endpoint or source resource. */
const RESTRICTING_KEYS = [
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourceorgid",
    "aws:resourceorgid",
    "aws:principalorgpaths",
];

/** True when an Allow statement's condition narrows who can use it. */
export function hasRestrictingCondition(s: Statement): boolean {
    return conditionKeys(s).some((k) => RESTRICTING_KEYS.includes(k));
}

/** `*`, `s3:*`, `iam:Create*`... : does `action` cover every action of a service (or all services)? */
export function isServiceWildcard(action: string): boolean {
    return action === "*" || /^[a-z0-9-]+:\*$/i.test(action);
}

/** Does this action pattern match `target` (e.g. `s3:*` matches `s3:GetObject`)? */
export function actionMatches(pattern: string, target: string): boolean {
    const re = new RegExp("^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$", "i");
    return re.test(target);
}

/** Short description of a statement for messages. */
export function describe(s: Statement, i: number): string {
    return s.sid ? `Statement[${i}] (Sid "${s.sid}")` : `Statement[${i}]`;
}
