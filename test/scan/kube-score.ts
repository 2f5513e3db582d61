// kube-score over the rendered manifests (`mlops plan --out <dir>` writes <dir>/manifests/*.yaml),
// judged against the committed allow-list (test/scan/allowlist.json): every finding must be
// explained there by check, object and reason; a new finding, or an entry nothing matches any
// more, fails. Run by test/scan/run.sh (CI); the matching is unit-tested in kube-score.spec.ts.
//
//   node dist/test/scan/kube-score.js <kube-score binary> <allowlist.json> <manifest dir>...
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** kube-score arguments: its default checks, for the cluster's Kubernetes minor, object annotations
 * cannot switch a check off (only the allow-list can). */
export const KUBE_SCORE_ARGS = ["score", "--output-format", "json", "--kubernetes-version", "v1.34", "--disable-ignore-checks-annotations"];

/** One thing kube-score reports: a check below full grade on an object, with its summary. */
export interface Finding {
    check: string;
    /** `<Kind> <namespace>/<name>` (`<Kind> <name>` for cluster-scoped objects). */
    object: string;
    /** 1 critical, 5 warning (kube-score grades). */
    grade: number;
    summary: string;
}

export interface AllowEntry {
    check: string;
    /** `<Kind> <namespace>/<name>`; `*` in a segment matches anything. */
    object: string;
    /** Only findings whose summary contains this text (e.g. one of several things a check reports). */
    summary?: string;
    reason: string;
}

/** Findings of kube-score's JSON (v2) output: every check not skipped and below grade 10, one per comment. */
export function parseKubeScore(json: string): Finding[] {
    const objects: any[] = JSON.parse(json) ?? [];
    const out: Finding[] = [];
    for (const o of objects) {
        const ns = o.object_meta?.namespace;
        const object = `${o.type_meta?.kind} ${ns ? `${ns}/` : ""}${o.object_meta?.name}`;
        for (const c of o.checks ?? []) {
            if (c.skipped || c.grade >= 10) continue;
            const comments: any[] = c.comments?.length ? c.comments : [{ summary: c.check?.name ?? "" }];
            for (const m of comments) {
                out.push({ check: c.check.id, object, grade: c.grade, summary: [m.path ? `(${m.path})` : "", m.summary].filter(Boolean).join(" ") });
            }
        }
    }
    return dedupe(out);
}

function dedupe(list: Finding[]): Finding[] {
    const seen = new Set<string>();
    return list.filter((f) => {
        const k = `${f.check}|${f.object}|${f.summary}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
    });
}

function glob(pattern: string, value: string): boolean {
    const re = new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    return re.test(value);
}

export function allows(e: AllowEntry, f: Finding): boolean {
    return e.check === f.check && glob(e.object, f.object) && (e.summary === undefined || f.summary.includes(e.summary));
}

/** Validates the allow-list file: every entry names a check, an object and a reason. */
export function readAllowList(text: string): AllowEntry[] {
    const list = JSON.parse(text);
    if (!Array.isArray(list)) throw new Error("allow-list: must be a JSON array of { check, object, reason, summary? }");
    list.forEach((e: any, i: number) => {
        for (const k of ["check", "object", "reason"]) {
            if (typeof e?.[k] !== "string" || e[k].trim() === "") throw new Error(`allow-list[${i}].${k}: must be a non-empty string`);
        }
        if (e.summary !== undefined && typeof e.summary !== "string") throw new Error(`allow-list[${i}].summary: must be a string`);
    });
    return list;
}

/** Findings no entry explains, and entries that explain nothing (stale: remove them). */
export function judge(findings: Finding[], allowList: AllowEntry[]): { unexplained: Finding[]; stale: AllowEntry[] } {
    return {
        unexplained: findings.filter((f) => !allowList.some((e) => allows(e, f))),
        stale: allowList.filter((e) => !findings.some((f) => allows(e, f))),
    };
}

/** Runs kube-score on every manifest of a directory (recursively: `<dir>/manifests/*.yaml` or the dir itself). */
export function scan(bin: string, dir: string): Finding[] {
    const manifests = path.join(dir, "manifests");
    const base = fs.existsSync(manifests) ? manifests : dir;
    const files = fs.readdirSync(base).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(base, f)).sort();
    if (files.length === 0) throw new Error(`${base}: no manifests to scan`);
    const r = spawnSync(bin, [...KUBE_SCORE_ARGS, ...files], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    // kube-score exits 1 when it has findings; anything else (or no JSON) is a failure to run.
    if (r.error || (r.status !== 0 && r.status !== 1) || !r.stdout.trim().startsWith("[")) {
        throw new Error(`kube-score failed (exit ${r.status}): ${r.error?.message ?? r.stderr.slice(0, 2000)}`);
    }
    return parseKubeScore(r.stdout);
}

function main(argv: string[]): number {
    const [bin, allowFile, ...dirs] = argv;
    if (!bin || !allowFile || dirs.length === 0) {
        console.error("usage: kube-score.js <kube-score binary> <allowlist.json> <plan dir>...");
        return 2;
    }
    const allowList = readAllowList(fs.readFileSync(allowFile, "utf8"));
    const all: Finding[] = [];
    for (const d of dirs) {
        const found = scan(bin, d);
        console.log(`kube-score: ${d}: ${found.length} finding(s)`);
        all.push(...found);
    }
    const { unexplained, stale } = judge(dedupe(all), allowList);
    const explained = dedupe(all).length - unexplained.length;
    console.log(`kube-score: ${explained} finding(s) explained by ${path.basename(allowFile)} (${allowList.length} entries)`);
    for (const f of unexplained) console.log(`  NEW  [${f.grade === 1 ? "CRITICAL" : "WARNING"}] ${f.check} ${f.object}: ${f.summary}`);
    for (const e of stale) console.log(`  STALE allow-list entry (matches nothing): ${e.check} ${e.object}${e.summary ? ` "${e.summary}"` : ""}`);
    if (unexplained.length || stale.length) {
        console.log("kube-score: fix the manifests, or add an entry { check, object, reason } to the allow-list (and remove stale ones)");
        return 1;
    }
    return 0;
}

if (require.main === module) {
    process.exitCode = main(process.argv.slice(2));
}
