// The README policy table (cli/gen-policy-docs.ts): one row per policy of both packs, anchors for
// every policy, dev/prod levels as the engine would apply policies/config/<stack>.json, and the
// README section current once README.md carries the markers.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    POLICY_PACKS,
    POLICY_TABLE_BEGIN,
    POLICY_TABLE_END,
    main,
    markdownCell,
    policyDocRows,
    renderPolicyTable,
    renderReadmePolicies,
} from "../../cli/gen-policy-docs";
import { POLICY_ANCHORS } from "../../policies/anchors";
import { gatingPolicies } from "../../policies/gating/policies";
import { securityPolicies } from "../../policies/security/policies";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const ALL_POLICIES = [...securityPolicies.map((p) => ({ pack: "security", p })), ...gatingPolicies.map((p) => ({ pack: "gating", p }))];

interface TableRow {
    policy: string;
    pack: string;
    dev: string;
    prod: string;
    severity: string;
    checks: string;
    anchors: string;
}

/** The data rows of a rendered table, split on unescaped pipes. */
function parseTable(table: string): TableRow[] {
    const lines = table.split("\n").filter((l) => l.startsWith("|"));
    assert.equal(lines[0], "| policy | pack | dev | prod | severity | what it checks | anchors |");
    assert.match(lines[1], /^\|(---\|){7}$/);
    return lines.slice(2).map((l) => {
        const cells = l
            .slice(1, -1)
            .split(/(?<!\\)\|/)
            .map((c) => c.trim());
        assert.equal(cells.length, 7, `7 cells in ${l}`);
        const [policy, pack, dev, prod, severity, checks, anchors] = cells;
        return { policy: policy.replace(/^`|`$/g, ""), pack, dev, prod, severity, checks, anchors };
    });
}

function readConfig(stack: string): Record<string, any> {
    return JSON.parse(fs.readFileSync(path.join(ROOT, "policies", "config", `${stack}.json`), "utf8"));
}

/** Independent of the generator: own level (or the pack's), then `all`, then the policy's entry. */
function expectedLevel(name: string, packLevel: string, own: string | undefined, cfg: Record<string, any>): string {
    const levelOf = (v: any): string | undefined => (typeof v === "string" ? v : v && typeof v === "object" ? v.enforcementLevel : undefined);
    return levelOf(cfg[name]) ?? levelOf(cfg.all) ?? own ?? packLevel;
}

/** Check ids (Checkov, Trivy AVD) cited in a text, with `a/b` lists and `a-b` / `a–b` ranges expanded. */
function checkIds(text: string): Set<string> {
    const out = new Set<string>();
    for (const m of text.matchAll(/\b(CKV2?_(?:AWS|K8S)_|AVD-AWS-)(\d+)((?:[/–-]\d+)*)/g)) {
        const [, prefix, first, rest] = m;
        let prev = parseInt(first, 10);
        out.add(prefix + prev);
        for (const part of rest.matchAll(/([/–-])(\d+)/g)) {
            const n = parseInt(part[2], 10);
            if (part[1] === "/") {
                out.add(prefix + n);
            } else {
                for (let i = prev + 1; i <= n; i++) out.add(prefix + i);
            }
            prev = n;
        }
    }
    return out;
}

describe("README policy table (cli/gen-policy-docs)", () => {
    it("every policy of both packs has anchors, and no anchor names a policy that does not exist", () => {
        const names = ALL_POLICIES.map(({ p }) => p.name);
        assert.equal(new Set(names).size, names.length, "policy names are unique across the packs");
        const missing = names.filter((n) => !POLICY_ANCHORS[n] || POLICY_ANCHORS[n].trim() === "");
        assert.deepEqual(missing, [], "policies without anchors in policies/anchors.ts");
        const stale = Object.keys(POLICY_ANCHORS).filter((n) => !names.includes(n));
        assert.deepEqual(stale, [], "anchors for policies no pack has");
    });

    it("anchors cite every Checkov / Trivy id the policy's own description cites", () => {
        const gaps: string[] = [];
        for (const { p } of ALL_POLICIES) {
            const cited = checkIds(p.description);
            const anchored = checkIds(POLICY_ANCHORS[p.name] ?? "");
            const lacking = [...cited].filter((id) => !anchored.has(id));
            if (lacking.length > 0) gaps.push(`${p.name}: ${lacking.join(", ")}`);
        }
        assert.deepEqual(gaps, []);
        // the expander itself
        assert.deepEqual([...checkIds("CKV_AWS_53–56, AVD-AWS-0086/0087")], ["CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "AVD-AWS-86", "AVD-AWS-87"]);
    });

    it("has one row per policy (both arrays), sorted by pack then name, with severity, description and anchors", () => {
        const rows = parseTable(renderPolicyTable());
        assert.equal(rows.length, securityPolicies.length + gatingPolicies.length);
        assert.equal(new Set(rows.map((r) => r.policy)).size, rows.length, "no policy twice");
        const sorted = [...rows].sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
        assert.deepEqual(
            rows.map((r) => `${r.pack}/${r.policy}`),
            sorted.map((r) => `${r.pack}/${r.policy}`),
        );
        for (const { pack, p } of ALL_POLICIES) {
            const row = rows.find((r) => r.policy === p.name);
            assert.ok(row, `row for ${p.name}`);
            assert.equal(row.pack, pack, p.name);
            assert.equal(row.severity, p.severity ?? "", p.name);
            assert.equal(row.checks, markdownCell(p.description), p.name);
            assert.equal(row.anchors, markdownCell(POLICY_ANCHORS[p.name]), p.name);
            assert.ok(!/\n/.test(row.checks));
        }
    });

    it("dev/prod columns are the levels the engine applies from policies/config/<stack>.json", () => {
        const dev = readConfig("dev");
        const prod = readConfig("prod");
        const rows = new Map(parseTable(renderPolicyTable()).map((r) => [r.policy, r]));
        // disabled in dev by a string entry, its own (mandatory) level in prod
        assert.equal(dev["s3-no-force-destroy"], "disabled");
        assert.equal(prod["s3-no-force-destroy"], undefined);
        assert.equal(rows.get("s3-no-force-destroy")?.dev, "disabled");
        assert.equal(rows.get("s3-no-force-destroy")?.prod, "mandatory");
        // advisory by default, raised to mandatory in prod
        assert.equal(rows.get("s3-lifecycle-abort-mpu")?.dev, "advisory");
        assert.equal(rows.get("s3-lifecycle-abort-mpu")?.prod, "mandatory");
        // object entries without enforcementLevel (properties only) keep the policy's own level
        const propsOnly = Object.keys(dev).filter((k) => k !== "all" && typeof dev[k] === "object" && dev[k].enforcementLevel === undefined);
        assert.ok(propsOnly.length > 0, "dev.json has property-only entries");
        if (dev.all === undefined) {
            for (const name of propsOnly) {
                const own = ALL_POLICIES.find(({ p }) => p.name === name)!.p.enforcementLevel;
                assert.equal(rows.get(name)?.dev, own, name);
            }
        }
        // every row agrees with an independent reading of the config files
        for (const { pack, p } of ALL_POLICIES) {
            const packLevel = POLICY_PACKS.find((x) => x.pack === pack)!.packLevel;
            const row = rows.get(p.name)!;
            assert.equal(row.dev, expectedLevel(p.name, packLevel, p.enforcementLevel, dev), `${p.name} dev`);
            assert.equal(row.prod, expectedLevel(p.name, packLevel, p.enforcementLevel, prod), `${p.name} prod`);
        }
    });

    it("an object entry's enforcementLevel overrides `all`, which overrides each policy's own level", () => {
        const rows = new Map(
            policyDocRows({
                configs: {
                    dev: {
                        all: "advisory",
                        "s3-bucket-key": { enforcementLevel: "mandatory" },
                        "rds-multi-az": { enforcementLevel: "disabled", requireMultiAz: false },
                        "canary-weight-limit": { canaryMaxWeight: 50 },
                    },
                    prod: { all: { enforcementLevel: "mandatory" }, "model-significance": "disabled" },
                },
            }).map((r) => [r.name, r]),
        );
        assert.deepEqual(rows.get("s3-bucket-key")?.levels, { dev: "mandatory", prod: "mandatory" });
        assert.deepEqual(rows.get("rds-multi-az")?.levels, { dev: "disabled", prod: "mandatory" });
        assert.deepEqual(rows.get("canary-weight-limit")?.levels, { dev: "advisory", prod: "mandatory" }, "`all` reaches the gating pack too");
        assert.deepEqual(rows.get("model-significance")?.levels, { dev: "advisory", prod: "disabled" });
        assert.deepEqual(rows.get("k8s-no-privileged")?.levels, { dev: "advisory", prod: "mandatory" });
    });

    it("rejects configs the engine would reject: unknown policies, invalid levels, values breaking a policy's schema", () => {
        const ok = readConfig("prod");
        assert.throws(() => policyDocRows({ configs: { dev: { "no-such-policy": "advisory" }, prod: ok } }), /no-such-policy/);
        assert.throws(() => policyDocRows({ configs: { dev: { "s3-bucket-key": "warn" as any }, prod: ok } }), /not a valid enforcement level/);
        assert.throws(() => policyDocRows({ configs: { dev: { "s3-bucket-key": { enforcementLevel: "strict" as any } }, prod: ok } }), /not a valid enforcement level/);
        assert.throws(() => policyDocRows({ configs: { dev: { "rds-multi-az": { requireMultiAz: "yes" } }, prod: ok } }), /rds-multi-az/);
    });

    it("the pack-level default it falls back on matches each pack's index.ts", () => {
        for (const { pack, packLevel } of POLICY_PACKS) {
            const src = fs.readFileSync(path.join(ROOT, "policies", pack, "index.ts"), "utf8");
            const m = /new PolicyPack\([^)]*?enforcementLevel:\s*"(\w+)"/s.exec(src);
            assert.equal(packLevel, m ? m[1] : "advisory", `${pack} pack-level enforcementLevel`);
        }
    });

    it("renderReadmePolicies replaces only the marked section, is idempotent, and names the markers when they are missing", () => {
        const readme = `# title\n\nintro\n\n${POLICY_TABLE_BEGIN}\nold table\n${POLICY_TABLE_END}\n\n## after\n`;
        const out = renderReadmePolicies(readme);
        assert.ok(out.startsWith(`# title\n\nintro\n\n${POLICY_TABLE_BEGIN}\n\n| policy |`));
        assert.ok(out.endsWith(`\n${POLICY_TABLE_END}\n\n## after\n`));
        assert.ok(!out.includes("old table"));
        assert.equal(renderReadmePolicies(out), out);
        assert.throws(() => renderReadmePolicies("# no markers\n"), (e: Error) => e.message.includes(POLICY_TABLE_BEGIN) && e.message.includes(POLICY_TABLE_END));
        assert.throws(() => renderReadmePolicies(`${POLICY_TABLE_END}\n${POLICY_TABLE_BEGIN}\n`), /markers/);
    });

    it("main --check fails on a stale README and passes once main has rewritten it", () => {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "policy-docs-"));
        try {
            fs.mkdirSync(path.join(tmp, "policies", "config"), { recursive: true });
            for (const stack of ["dev", "prod"]) {
                fs.copyFileSync(path.join(ROOT, "policies", "config", `${stack}.json`), path.join(tmp, "policies", "config", `${stack}.json`));
            }
            const readme = path.join(tmp, "README.md");
            fs.writeFileSync(readme, `# x\n${POLICY_TABLE_BEGIN}\nstale\n${POLICY_TABLE_END}\n`);
            const quiet = silence();
            try {
                assert.equal(main(["--check"], tmp), 1);
                assert.ok(fs.readFileSync(readme, "utf8").includes("stale"), "--check does not write");
                assert.equal(main([], tmp), 0);
                assert.equal(main(["--check"], tmp), 0);
                fs.writeFileSync(readme, "# no markers\n");
                assert.equal(main([], tmp), 1, "missing markers fail");
            } finally {
                quiet();
            }
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    it("the README policy section is current (once README.md has the markers)", function () {
        const text = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        if (!text.includes(POLICY_TABLE_BEGIN) || !text.includes(POLICY_TABLE_END)) {
            this.test!.title += " [skipped: README.md has no POLICY TABLE markers yet]";
            this.skip();
        }
        assert.equal(renderReadmePolicies(text), text, "README.md policy table is stale: run npm run gen:config");
        assert.equal(parseTable(text.slice(text.indexOf(POLICY_TABLE_BEGIN), text.indexOf(POLICY_TABLE_END))).length, ALL_POLICIES.length);
    });
});

/** Mutes console.log/error for a block; returns the restore function. */
function silence(): () => void {
    const { log, error } = console;
    console.log = () => undefined;
    console.error = () => undefined;
    return () => {
        console.log = log;
        console.error = error;
    };
}
