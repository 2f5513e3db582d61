// `mlops plan --compare <base plan.json>`: what changed between two offline plans, as text or as
// Markdown for a pull-request comment (short summary first, details folded).
import { replacingPaths } from "../offline-plan/replacements";
import { Plan, PlanResource } from "./plan";

export interface PropertyChange {
    path: string;
    before: unknown;
    after: unknown;
    /** A readable rendering of before/after (route rules), shown instead of JSON. */
    display?: { before: string; after: string };
}

export interface ResourceChange {
    urn: string;
    type: string;
    name: string;
    changes: PropertyChange[];
    /** A changed property forces the provider to replace the resource (offline-plan/replacements.ts). */
    replacement: boolean;
    /** The changed paths that force the replacement. */
    replacing: string[];
}

export interface PolicyVerdict {
    pack: string;
    policyName: string;
    enforcementLevel: string;
    message: string;
    urn?: string;
}

export interface ReleaseView {
    model: string;
    version: string;
    track: string;
    metrics: Record<string, number>;
    baselineVersion?: string;
    baselineMetrics: Record<string, number>;
    gate?: string;
    /** Share of traffic (percent) the track receives, when known. */
    weight?: number;
}

export interface ReleaseChange {
    model: string;
    track: string;
    before?: ReleaseView;
    after?: ReleaseView;
    headline: string;
}

export interface PlanDiff {
    stack: string;
    added: PlanResource[];
    removed: PlanResource[];
    changed: ResourceChange[];
    policiesAdded: PolicyVerdict[];
    policiesResolved: PolicyVerdict[];
    releases: ReleaseChange[];
}

const ANNOTATION_PREFIX = "mlops.platform/";

/** Property-level differences between two JSON values, as dotted paths. */
export function diffValues(before: unknown, after: unknown, path = ""): PropertyChange[] {
    if (JSON.stringify(before) === JSON.stringify(after)) {
        return [];
    }
    const isObj = (v: unknown) => v !== null && typeof v === "object";
    if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
        return before.flatMap((b, i) => diffValues(b, after[i], `${path}[${i}]`));
    }
    if (isObj(before) && isObj(after) && !Array.isArray(before) && !Array.isArray(after)) {
        const keys = [...new Set([...Object.keys(before as object), ...Object.keys(after as object)])].sort();
        return keys.flatMap((k) =>
            diffValues((before as any)[k], (after as any)[k], path ? `${path}.${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}` : k),
        );
    }
    return [{ path: path || "(value)", before, after }];
}

const HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";

/** One HTTPRoute rule, readably: `header x-model-track=canary → credit-risk-canary`, `/ → a 90 %, b 10 % (mirror b)`. */
export function describeRouteRule(rule: any): string {
    const matches: any[] = rule?.matches ?? [];
    const match =
        matches
            .map((m) => {
                const parts: string[] = [];
                if (m?.path?.value && !(m.path.value === "/" && (m.headers?.length || m.queryParams?.length))) parts.push(m.path.value);
                for (const h of m?.headers ?? []) parts.push(`header ${h.name}=${h.value}`);
                for (const q of m?.queryParams ?? []) parts.push(`query ${q.name}=${q.value}`);
                return parts.join(" ");
            })
            .join(" | ") || "(all)";
    const refs: any[] = rule?.backendRefs ?? [];
    const total = refs.reduce((a, r) => a + (r.weight ?? 1), 0);
    const backends = refs.map((r) => (refs.length > 1 ? `${r.name} ${total > 0 ? Math.round(((r.weight ?? 1) * 1000) / total) / 10 : 0} %` : r.name)).join(", ");
    const mirrors = (rule?.filters ?? []).filter((f: any) => f?.type === "RequestMirror").map((f: any) => f.requestMirror?.backendRef?.name);
    return `${match} → ${backends || "(no backend)"}${mirrors.length ? ` (mirror ${mirrors.join(", ")})` : ""}`;
}

function describeRoute(rules: unknown): string {
    return Array.isArray(rules) ? rules.map((r, i) => `[${i}] ${describeRouteRule(r)}`).join("; ") : "(unset)";
}

/** Property changes of a resource; HTTPRoute rule changes become one readable entry. */
function resourceChanges(b: PlanResource, r: PlanResource): PropertyChange[] {
    const changes = diffValues(b.inputs, r.inputs);
    if (r.type !== HTTP_ROUTE || !changes.some((c) => c.path.startsWith("spec.rules"))) return changes;
    const rulesBefore = (b.inputs as any).spec?.rules;
    const rulesAfter = (r.inputs as any).spec?.rules;
    return [
        ...changes.filter((c) => !c.path.startsWith("spec.rules")),
        { path: "spec.rules", before: rulesBefore, after: rulesAfter, display: { before: describeRoute(rulesBefore), after: describeRoute(rulesAfter) } },
    ];
}

/** Releases recorded as annotations on serving Deployments, with route weights where declared. */
export function releasesOf(plan: Plan): ReleaseView[] {
    const byService = new Map<string, number>();
    for (const r of plan.resources.filter((x) => x.type === "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")) {
        const rules: any[] = (r.inputs as any).spec?.rules ?? [];
        // The weighted rule is the one with several backends (header-match rules have one).
        const weighted = rules.find((rule) => (rule.backendRefs ?? []).length > 1) ?? rules[0];
        const refs: any[] = weighted?.backendRefs ?? [];
        const total = refs.reduce((a, b) => a + (b.weight ?? 1), 0);
        for (const ref of refs) {
            byService.set(ref.name, total > 0 ? Math.round(((ref.weight ?? 1) * 1000) / total) / 10 : 0);
        }
    }
    const out: ReleaseView[] = [];
    for (const r of plan.resources.filter((x) => x.type === "kubernetes:apps/v1:Deployment")) {
        const meta: any = (r.inputs as any).metadata ?? {};
        const a: Record<string, string> = meta.annotations ?? {};
        const model = a[`${ANNOTATION_PREFIX}model`];
        if (!model) {
            continue;
        }
        const metrics: Record<string, number> = {};
        const baselineMetrics: Record<string, number> = {};
        for (const [k, v] of Object.entries(a)) {
            if (k.startsWith(`${ANNOTATION_PREFIX}metric.`)) {
                metrics[k.slice(`${ANNOTATION_PREFIX}metric.`.length)] = Number(v);
            } else if (k.startsWith(`${ANNOTATION_PREFIX}baseline-metric.`)) {
                baselineMetrics[k.slice(`${ANNOTATION_PREFIX}baseline-metric.`.length)] = Number(v);
            }
        }
        const track = a[`${ANNOTATION_PREFIX}track`] ?? "stable";
        const svc = [...byService.keys()].find((s) => s === meta.name || s.endsWith(`-${track}`));
        out.push({
            model,
            version: a[`${ANNOTATION_PREFIX}version`] ?? "?",
            track,
            metrics,
            baselineVersion: a[`${ANNOTATION_PREFIX}baseline-version`],
            baselineMetrics,
            gate: a[`${ANNOTATION_PREFIX}gate`],
            weight: svc !== undefined ? byService.get(svc) : undefined,
        });
    }
    return out.sort((x, y) => `${x.model}/${x.track}`.localeCompare(`${y.model}/${y.track}`));
}

function fmtMetric(name: string, from: number | undefined, to: number | undefined): string {
    if (to === undefined) {
        return `${name} ${from?.toFixed(3) ?? "?"} → (none)`;
    }
    if (from === undefined || !Number.isFinite(from)) {
        return `${name} ${to.toFixed(3)}`;
    }
    const rel = from !== 0 ? ` (${to >= from ? "+" : ""}${(((to - from) / Math.abs(from)) * 100).toFixed(1)} %)` : "";
    return `${name} ${from.toFixed(3)} → ${to.toFixed(3)}${rel}`;
}

/** "credit-risk v12 → v13, f1 0.910 → 0.934 (+2.6 %), gate: pass, canary 10 %". */
export function releaseHeadline(before: ReleaseView | undefined, after: ReleaseView | undefined): string {
    const r = after ?? before!;
    if (!after) {
        return `${r.model} ${r.track} v${r.version} removed`;
    }
    const weight = (v: ReleaseView | undefined) => (v?.weight !== undefined ? `${v.weight} %` : undefined);
    if (before && before.version === after.version) {
        // The same release on the same track: say what changed about it, not a version move it did not make.
        const parts = [`${after.model} v${after.version} (${after.track}, unchanged release)`];
        if (before.weight !== after.weight) parts.push(`traffic ${weight(before) ?? "?"} → ${weight(after) ?? "?"}`);
        if (before.gate !== after.gate) parts.push(`gate: ${before.gate ?? "none"} → ${after.gate ?? "none"}`);
        if (JSON.stringify(before.metrics) !== JSON.stringify(after.metrics) || JSON.stringify(before.baselineMetrics) !== JSON.stringify(after.baselineMetrics)) {
            parts.push("recorded metrics changed");
        }
        return parts.join(", ");
    }
    const fromVersion = before?.version ?? after.baselineVersion;
    const parts = [`${after.model} ${fromVersion ? `v${fromVersion} → ` : ""}v${after.version}`];
    const baseMetrics = before ? before.metrics : after.baselineMetrics;
    const primary = Object.keys(after.metrics).sort((a, b) => (a === "f1" ? -1 : b === "f1" ? 1 : a.localeCompare(b)))[0];
    if (primary) {
        parts.push(fmtMetric(primary, baseMetrics[primary], after.metrics[primary]));
    }
    if (after.gate) {
        parts.push(`gate: ${after.gate}`);
    }
    if (after.weight !== undefined) {
        const weightChange = before?.weight !== undefined && before.weight !== after.weight ? `${before.weight} % → ` : "";
        parts.push(`${after.track} ${weightChange}${after.weight} %`);
    } else {
        parts.push(after.track);
    }
    return parts.join(", ");
}

function verdictKey(v: PolicyVerdict): string {
    return `${v.pack}/${v.policyName}/${v.urn ?? ""}/${v.message}`;
}

export function diffPlans(base: Plan & { policies?: PolicyVerdict[] }, head: Plan & { policies?: PolicyVerdict[] }): PlanDiff {
    const baseBy = new Map(base.resources.map((r) => [r.urn, r]));
    const headBy = new Map(head.resources.map((r) => [r.urn, r]));
    const added = head.resources.filter((r) => !baseBy.has(r.urn));
    const removed = base.resources.filter((r) => !headBy.has(r.urn));
    const changed: ResourceChange[] = [];
    for (const r of head.resources) {
        const b = baseBy.get(r.urn);
        if (!b) {
            continue;
        }
        const changes = [
            ...resourceChanges(b, r),
            ...(b.protect !== r.protect ? [{ path: "(protect)", before: b.protect, after: r.protect }] : []),
        ];
        if (changes.length > 0) {
            // Replacement is decided by the one table the engine tier's mock providers also answer from.
            const replacing = replacingPaths(r.type, diffValues(b.inputs, r.inputs).map((c) => c.path));
            changed.push({ urn: r.urn, type: r.type, name: r.name, changes, replacement: replacing.length > 0, replacing });
        }
    }
    const baseV = new Map((base.policies ?? []).map((v) => [verdictKey(v), v]));
    const headV = new Map((head.policies ?? []).map((v) => [verdictKey(v), v]));
    const policiesAdded = [...headV.entries()].filter(([k]) => !baseV.has(k)).map(([, v]) => v);
    const policiesResolved = [...baseV.entries()].filter(([k]) => !headV.has(k)).map(([, v]) => v);

    const key = (r: ReleaseView) => `${r.model}/${r.track}`;
    const rb = new Map(releasesOf(base).map((r) => [key(r), r]));
    const rh = new Map(releasesOf(head).map((r) => [key(r), r]));
    const releases: ReleaseChange[] = [];
    for (const k of [...new Set([...rb.keys(), ...rh.keys()])].sort()) {
        const before = rb.get(k);
        const after = rh.get(k);
        if (JSON.stringify(before) === JSON.stringify(after)) {
            continue;
        }
        const r = (after ?? before)!;
        releases.push({ model: r.model, track: r.track, before, after, headline: releaseHeadline(before, after) });
    }
    return { stack: head.stack, added, removed, changed, policiesAdded, policiesResolved, releases };
}

function short(v: unknown): string {
    const s = v === undefined ? "(unset)" : JSON.stringify(v);
    return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

export function summaryLine(d: PlanDiff): string {
    const mandatory = d.policiesAdded.filter((v) => v.enforcementLevel === "mandatory").length;
    const replaced = d.changed.filter((c) => c.replacement).length;
    return (
        `**${d.stack}**: ${d.added.length} to add, ${d.changed.length} to change` +
        `${replaced ? ` (${replaced} replaced)` : ""}, ${d.removed.length} to delete; ` +
        `policy: ${d.policiesAdded.length} new violation(s)${mandatory ? ` (${mandatory} mandatory)` : ""}, ${d.policiesResolved.length} resolved`
    );
}

/** Markdown for a PR comment: headline, summary, then details folded. */
export function renderDiffMarkdown(d: PlanDiff): string {
    const lines: string[] = [];
    for (const r of d.releases) {
        lines.push(`### 🚀 ${r.headline}`);
    }
    lines.push(summaryLine(d), "");
    if (d.added.length + d.removed.length + d.changed.length === 0 && d.policiesAdded.length + d.policiesResolved.length === 0) {
        lines.push("No changes.");
        return lines.join("\n") + "\n";
    }
    const table = (title: string, rows: string[]) => {
        if (rows.length > 0) {
            lines.push(`<details><summary>${title} (${rows.length})</summary>`, "", ...rows, "", "</details>", "");
        }
    };
    table("Added", d.added.map((r) => `- \`${r.type}\` **${r.name}**`));
    table("Deleted", d.removed.map((r) => `- \`${r.type}\` **${r.name}**${r.protect ? " ⚠️ protected: the delete will fail until unprotected" : ""}`));
    table(
        "Changed",
        d.changed.map(
            (c) =>
                `- \`${c.type}\` **${c.name}**${c.replacement ? ` (**replacement**: ${c.replacing.map((p) => `\`${p}\``).join(", ")} cannot change in place)` : ""}\n` +
                c.changes
                    .map((p) =>
                        p.display
                            ? `  - \`${p.path}\`:\n    - before: ${p.display.before}\n    - after: ${p.display.after}`
                            : `  - \`${p.path}\`: \`${short(p.before)}\` → \`${short(p.after)}\`${c.replacing.includes(p.path) ? " (forces replacement)" : ""}`,
                    )
                    .join("\n"),
        ),
    );
    table("New policy violations", d.policiesAdded.map((v) => `- [${v.enforcementLevel}] \`${v.pack}/${v.policyName}\`: ${v.message}`));
    table("Resolved policy violations", d.policiesResolved.map((v) => `- \`${v.pack}/${v.policyName}\`: ${v.message}`));
    return lines.join("\n") + "\n";
}

/** Plain-text rendering for terminals. */
export function renderDiffText(d: PlanDiff): string {
    const lines = d.releases.map((r) => `release: ${r.headline}`);
    lines.push(summaryLine(d).replace(/\*\*/g, ""));
    for (const r of d.added) lines.push(`+ ${r.type} ${r.name}`);
    for (const r of d.removed) lines.push(`- ${r.type} ${r.name}`);
    for (const c of d.changed) {
        lines.push(`${c.replacement ? "+-" : "~"} ${c.type} ${c.name}${c.replacement ? ` (replace: ${c.replacing.join(", ")})` : ""}`);
        for (const p of c.changes) {
            if (p.display) lines.push(`    ${p.path}:\n      before: ${p.display.before}\n      after:  ${p.display.after}`);
            else lines.push(`    ${p.path}: ${short(p.before)} => ${short(p.after)}${c.replacing.includes(p.path) ? " (forces replacement)" : ""}`);
        }
    }
    for (const v of d.policiesAdded) lines.push(`! [${v.enforcementLevel}] ${v.pack}/${v.policyName}: ${v.message}`);
    for (const v of d.policiesResolved) lines.push(`✓ resolved ${v.pack}/${v.policyName}`);
    return lines.join("\n");
}
