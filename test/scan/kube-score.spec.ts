// The independent scanner's judgement (test/scan/run.sh runs it in CI): kube-score findings are
// explained only by allow-list entries naming the check, the object and a reason; anything else,
// or an entry that no longer matches, fails.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AllowEntry, Finding, judge, parseKubeScore, readAllowList, scan } from "./kube-score";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const BIN = path.join(process.env.MLOPS_TOOLS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "mlops-scan"), "kube-score-v1.20.0", "kube-score");

/** kube-score JSON (v2) for one object with the given checks. */
function report(kind: string, namespace: string, name: string, checks: Array<{ id: string; grade: number; summaries?: string[]; skipped?: boolean; path?: string }>): string {
    return JSON.stringify([
        {
            object_name: name,
            type_meta: { apiVersion: "apps/v1", kind },
            object_meta: { name, namespace },
            checks: checks.map((c) => ({
                check: { id: c.id, name: c.id },
                grade: c.grade,
                skipped: c.skipped ?? false,
                comments: (c.summaries ?? []).map((summary) => ({ path: c.path ?? "", summary })),
            })),
        },
    ]);
}

describe("kube-score scan (test/scan)", () => {
    const findings: Finding[] = parseKubeScore(
        report("Deployment", "ml-serving", "server", [
            { id: "container-resources", grade: 1, path: "app", summaries: ["CPU limit is not set", "Memory limit is not set"] },
            { id: "container-image-tag", grade: 10, summaries: [] },
            { id: "pod-probes", grade: 1, skipped: true, summaries: ["skipped"] },
            { id: "deployment-replicas", grade: 5, summaries: ["Deployment few replicas"] },
        ]),
    );

    it("reads one finding per comment of each failed check; passed and skipped checks are not findings", () => {
        assert.deepEqual(findings, [
            { check: "container-resources", object: "Deployment ml-serving/server", grade: 1, summary: "(app) CPU limit is not set" },
            { check: "container-resources", object: "Deployment ml-serving/server", grade: 1, summary: "(app) Memory limit is not set" },
            { check: "deployment-replicas", object: "Deployment ml-serving/server", grade: 5, summary: "Deployment few replicas" },
        ]);
    });

    it("an entry explains only its check, on objects its pattern names, and only the summary it quotes", () => {
        const allow: AllowEntry[] = [
            { check: "container-resources", object: "*", summary: "CPU limit is not set", reason: "no CPU limits by design" },
            { check: "deployment-replicas", object: "Deployment ml-serving/*", reason: "one replica in this test" },
        ];
        const { unexplained, stale } = judge(findings, allow);
        assert.deepEqual(unexplained.map((f) => f.summary), ["(app) Memory limit is not set"], "a missing memory limit is still a finding");
        assert.deepEqual(stale, []);
        assert.deepEqual(judge(findings, [{ check: "deployment-replicas", object: "Deployment mlflow/*", reason: "x" }]).unexplained.length, 3);
    });

    it("reports entries that explain nothing any more (stale), so the list cannot rot", () => {
        const { stale } = judge(findings, [{ check: "pod-networkpolicy", object: "*", reason: "fixed long ago" }]);
        assert.deepEqual(stale.map((e) => e.check), ["pod-networkpolicy"]);
    });

    it("the committed allow-list names a check, an object and a reason for every entry", () => {
        const list = readAllowList(fs.readFileSync(path.join(ROOT, "test", "scan", "allowlist.json"), "utf8"));
        assert.ok(list.length > 0);
        for (const e of list) assert.ok(e.reason.length >= 40, `${e.check} ${e.object}: the reason says why (${e.reason})`);
        assert.throws(() => readAllowList('[{ "check": "pod-probes", "object": "*" }]'), /allow-list\[0\]\.reason: must be a non-empty string/);
    });

    it("kube-score itself flags the deliberately bad manifest (needs the pinned binary: bash test/scan/run.sh builds it)", function () {
        if (!fs.existsSync(BIN)) {
            console.warn(`    ${BIN} is not built: run \`bash test/scan/run.sh\` (.ci/run does)`);
            this.skip();
        }
        this.timeout(30_000);
        const found = scan(BIN, path.join(ROOT, "test", "scan", "bad"));
        const checks = new Set(found.map((f) => f.check));
        for (const c of ["container-security-context-privileged", "container-security-context-user-group-id", "container-image-tag", "container-resources", "pod-networkpolicy"]) {
            assert.ok(checks.has(c), `${c} reported for test/scan/bad/deployment-bad.yaml; got ${[...checks].join(", ")}`);
        }
        const { unexplained } = judge(found, readAllowList(fs.readFileSync(path.join(ROOT, "test", "scan", "allowlist.json"), "utf8")));
        assert.ok(unexplained.some((f) => f.check === "container-security-context-privileged"), "the allow-list does not hide a privileged container");
    });
});
