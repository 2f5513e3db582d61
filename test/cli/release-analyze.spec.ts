import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import {
    AnalysisConfig,
    checkAnalysisConfig,
    decideCanary,
    DEFAULT_ANALYSIS,
    nextStep,
    trackQueries,
} from "../../release-contract/analysis";
import { actionFor, analysisSubject, analyzeCommand, parseInstantValue, prometheusClient, PromQuery } from "../../cli/release-analyze";
import { parseServingConfig } from "../../components/servingConfig";
import { main } from "../../cli/mlops";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const cfg = (over: Partial<AnalysisConfig> = {}): AnalysisConfig => ({ ...DEFAULT_ANALYSIS, ...over });
const healthy = { requests: 1000, errors: 2, p95: 0.05, p99: 0.08 };

describe("serving.analysis: canary analysis thresholds", () => {
    it("defaults when absent: 10m window, 100 requests, 1% errors, +0.5% over stable, p95 x1.25, p99 x1.5, steps 10-25-50-100", () => {
        const { config, problems } = checkAnalysisConfig(undefined);
        assert.deepEqual(problems, []);
        assert.equal(config!.window, "10m");
        assert.equal(config!.minRequests, 100);
        assert.deepEqual(config!.steps, [10, 25, 50, 100]);
        assert.equal(config!.metrics.requestsCounter, "rest_server_requests_total");
    });

    it("each bad key is named with its full config path and what is allowed", () => {
        const bad = {
            window: "ten minutes",
            minRequests: 0,
            maxErrorRate: 1.5,
            maxP99LatencyRatio: 0.5,
            steps: [10, 5, 100],
            quality: { metric: "bad name", maxDegradation: -1 },
            colour: "red",
        };
        assert.throws(
            () => parseServingConfig({ ...parseableServing(), analysis: bad }),
            (e: any) => {
                const m = e.message as string;
                for (const [key, allowed] of [
                    ["analysis.window", "Prometheus duration from 1m to 24h"],
                    ["analysis.minRequests", "integer of at least 1"],
                    ["analysis.maxErrorRate", "fraction in [0, 1]"],
                    ["analysis.maxP99LatencyRatio", "ratio of at least 1"],
                    ["analysis.steps", "strictly increasing"],
                    ["analysis.quality.metric", "Prometheus metric name"],
                    ["analysis.quality.maxDegradation", "number >= 0"],
                    ["analysis.colour", "unknown property"],
                ]) {
                    assert.match(m, new RegExp(`mlops-platform:serving\\.${key.replace(/\./g, "\\.")}[^\\n]*${allowed.replace(/[[\]()]/g, "\\$&")}`), `${key} in ${m}`);
                }
                return true;
            },
        );
    });

    it("steps must end at 100 (the last step is full exposure before promotion)", () => {
        assert.match(checkAnalysisConfig({ steps: [10, 50] }).problems[0].reason, /ending at 100/);
        assert.deepEqual(checkAnalysisConfig({ steps: [5, 100] }).config!.steps, [5, 100]);
    });

    it("a request selector must be label matchers (it is spliced into PromQL)", () => {
        assert.equal(checkAnalysisConfig({ metrics: { requestSelector: 'path="/invocations"' } }).problems.length, 0);
        assert.match(checkAnalysisConfig({ metrics: { requestSelector: 'path="/x"} or vector(1) #' } }).problems[0].path, /metrics\.requestSelector/);
    });

    it("errorStatus is a status-code regex (spliced into a matcher)", () => {
        assert.equal(checkAnalysisConfig({ metrics: { errorStatus: "5.." } }).config!.metrics.errorStatus, "5..");
        assert.match(checkAnalysisConfig({ metrics: { errorStatus: '5.."}' } }).problems[0].reason, /regex over status codes/);
    });

    it("absolute p99 ceiling may not be below the p95 one", () => {
        assert.match(checkAnalysisConfig({ maxP95LatencySeconds: 0.5, maxP99LatencySeconds: 0.2 }).problems[0].path, /maxP99LatencySeconds/);
    });
});

describe("trackQueries: PromQL on MLServer's metrics", () => {
    const q = trackQueries({ namespace: "ml-serving", server: "credit-risk", track: "canary" }, cfg());
    it("selects the track by the ServiceMonitor's labels and inference paths only", () => {
        assert.equal(
            q.requests,
            'sum(increase(rest_server_requests_total{namespace="ml-serving",model_server="credit-risk",track="canary",path=~"/invocations|/v2/models/.+/infer"}[10m]))',
        );
        // MLServer answers a model's exception with 400: it counts as a failure.
        assert.match(q.errors, /status_code=~"5\.\.\|400"\}\[10m\]/);
        assert.match(q.p99, /^histogram_quantile\(0\.99, sum by \(le\) \(rate\(rest_server_request_duration_seconds_bucket\{.*track="canary".*\}\[10m\]\)\)\)$/);
        assert.equal(q.quality, undefined);
    });
    it("adds the quality gauge when configured", () => {
        const withQ = trackQueries({ namespace: "n", server: "s", track: "stable" }, cfg({ quality: { metric: "model_accuracy", maxDegradation: 0.01, higherIsBetter: true, required: false } }));
        assert.equal(withQ.quality, 'avg(avg_over_time(model_accuracy{namespace="n",model_server="s",track="stable"}[10m]))');
    });
});

describe("decideCanary: promote, hold or roll back", () => {
    it("promotes a canary that matches stable", () => {
        const r = decideCanary(healthy, { requests: 9000, errors: 10, p95: 0.05, p99: 0.08 }, cfg());
        assert.equal(r.verdict, "promote");
        assert.ok(r.rows.every((x) => x.result === "pass"), JSON.stringify(r.rows));
    });

    it("holds below minRequests, even when the few requests all failed", () => {
        const r = decideCanary({ requests: 99, errors: 99, p95: 5, p99: 9 }, { requests: 9000, errors: 0, p95: 0.05, p99: 0.08 }, cfg());
        assert.equal(r.verdict, "hold");
        assert.match(r.reasons[0], /99 requests .* at least 100 .*analysis\.minRequests/);
    });

    it("holds with no data at all (empty query results), and when the counters answer NaN", () => {
        assert.equal(decideCanary({}, {}, cfg()).verdict, "hold");
        assert.equal(decideCanary({ requests: NaN, errors: NaN, p95: NaN, p99: NaN }, healthy, cfg()).verdict, "hold");
    });

    it("rolls back on an absolute error rate above maxErrorRate", () => {
        const r = decideCanary({ ...healthy, errors: 50 }, { requests: 9000, errors: 0, p95: 0.05, p99: 0.08 }, cfg());
        assert.equal(r.verdict, "rollback");
        assert.match(r.reasons.join("\n"), /error rate 5% is above analysis\.maxErrorRate 1%/);
    });

    it("rolls back when the canary's error rate exceeds stable's by more than maxErrorRateIncrease", () => {
        const r = decideCanary({ ...healthy, errors: 8 }, { requests: 10000, errors: 0, p95: 0.05, p99: 0.08 }, cfg({ maxErrorRate: 0.05 }));
        assert.equal(r.verdict, "rollback");
        assert.match(r.reasons.join("\n"), /exceeds the baseline's 0% by more than analysis\.maxErrorRateIncrease/);
        // The same canary next to an equally failing stable is fine.
        assert.equal(decideCanary({ ...healthy, errors: 8 }, { requests: 10000, errors: 80, p95: 0.05, p99: 0.08 }, cfg({ maxErrorRate: 0.05 })).verdict, "promote");
    });

    it("rolls back on latency above ratio x stable, but not on differences within the noise floor", () => {
        const slow = decideCanary({ ...healthy, p99: 0.3 }, { requests: 9000, errors: 0, p95: 0.05, p99: 0.08 }, cfg());
        assert.equal(slow.verdict, "rollback");
        assert.match(slow.reasons.join("\n"), /p99 latency 300ms is above 1\.5x the baseline's 80ms \(analysis\.maxP99LatencyRatio\)/);
        const tiny = decideCanary({ ...healthy, p95: 0.004, p99: 0.004 }, { requests: 9000, errors: 0, p95: 0.001, p99: 0.001 }, cfg());
        assert.equal(tiny.verdict, "promote", JSON.stringify(tiny));
    });

    it("a quantile of +Inf (every request beyond the top bucket) fails", () => {
        assert.equal(decideCanary({ ...healthy, p99: Infinity }, { requests: 9000, errors: 0, p95: 0.05, p99: 0.08 }, cfg()).verdict, "rollback");
    });

    it("rolls back on absolute latency ceilings even when stable has no traffic", () => {
        const r = decideCanary({ ...healthy, p99: 2 }, {}, cfg({ maxP99LatencySeconds: 1 }));
        assert.equal(r.verdict, "rollback");
        assert.match(r.reasons.join("\n"), /above analysis\.maxP99LatencySeconds 1000ms/);
    });

    it("holds when stable has no traffic: the relative checks are skipped, not passed", () => {
        const r = decideCanary(healthy, { requests: 0 }, cfg());
        assert.equal(r.verdict, "hold");
        assert.match(r.reasons.join("\n"), /baseline served 0 requests/);
        assert.equal(r.rows.find((x) => x.check === "p99 latency ratio")!.result, "skipped");
    });

    it("quality: missing data does not block unless required; a drop beyond maxDegradation rolls back", () => {
        const q = { metric: "model_accuracy", maxDegradation: 0.01, higherIsBetter: true, required: false };
        const stable = { requests: 9000, errors: 0, p95: 0.05, p99: 0.08 };
        assert.equal(decideCanary(healthy, stable, cfg({ quality: q })).verdict, "promote");
        assert.equal(decideCanary(healthy, stable, cfg({ quality: { ...q, required: true } })).verdict, "hold");
        assert.equal(decideCanary({ ...healthy, quality: 0.85 }, { ...stable, quality: 0.88 }, cfg({ quality: q })).verdict, "rollback");
        assert.equal(decideCanary({ ...healthy, quality: 0.875 }, { ...stable, quality: 0.88 }, cfg({ quality: q })).verdict, "promote");
        // Lower is better (e.g. log loss): a rise is the degradation.
        assert.equal(decideCanary({ ...healthy, quality: 0.5 }, { ...stable, quality: 0.4 }, cfg({ quality: { ...q, higherIsBetter: false } })).verdict, "rollback");
    });

    it("nextStep walks the plan from the current weight", () => {
        assert.equal(nextStep([10, 25, 50, 100], 0), 10);
        assert.equal(nextStep([10, 25, 50, 100], 10), 25);
        assert.equal(nextStep([10, 25, 50, 100], 30), 50);
        assert.equal(nextStep([10, 25, 50, 100], 100), undefined);
    });
});

describe("Prometheus answers", () => {
    it("reads instant vectors (empty = no data, NaN and +Inf kept)", () => {
        const vec = (v: string[]) => ({ status: "success", data: { resultType: "vector", result: v.map((x) => ({ metric: {}, value: [1, x] })) } });
        assert.equal(parseInstantValue(vec([]), "q"), undefined);
        assert.equal(parseInstantValue(vec(["12.5"]), "q"), 12.5);
        assert.ok(Number.isNaN(parseInstantValue(vec(["NaN"]), "q")));
        assert.equal(parseInstantValue(vec(["+Inf"]), "q"), Infinity);
        assert.throws(() => parseInstantValue(vec(["1", "2"]), "q"), /2 series/);
        assert.throws(() => parseInstantValue({ status: "error", errorType: "bad_data", error: "parse error" }, "q"), /bad_data: parse error/);
    });
    it("an unreachable Prometheus is a clear error", async () => {
        await assert.rejects(prometheusClient("http://127.0.0.1:1")("up"), /cannot reach Prometheus at http:\/\/127\.0\.0\.1:1/);
        assert.throws(() => prometheusClient("ftp://x"), /--prometheus-url must be an http\(s\) URL/);
    });
});

// --- the command on a stack file -------------------------------------------------------------

function parseableServing(): Record<string, unknown> {
    return YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["mlops-platform:serving"];
}

/** A temp project: Pulumi.yaml, the real stack file with its serving block edited, policy configs. */
function project(stack: "dev" | "prod", edit: (serving: any) => void): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-analyze-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
    const doc = YAML.parseDocument(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
    const serving = (doc.get("config") as YAML.YAMLMap).get("mlops-platform:serving") as YAML.YAMLMap;
    const data = serving.toJSON();
    edit(data);
    (doc.get("config") as YAML.YAMLMap).set("mlops-platform:serving", doc.createNode(data));
    fs.writeFileSync(path.join(root, `Pulumi.${stack}.yaml`), doc.toString());
    fs.cpSync(path.join(ROOT, "policies", "config"), path.join(root, "policies", "config"), { recursive: true });
    return root;
}

/** Answers each query from per-track numbers (by the track matcher in it). */
function fakeMetrics(byTrack: Record<string, { requests?: number; errors?: number; p95?: number; p99?: number }>): PromQuery & { seen: string[] } {
    const seen: string[] = [];
    const f = async (q: string) => {
        seen.push(q);
        const track = /track="([a-z]+)"/.exec(q)![1];
        const m = byTrack[track] ?? {};
        if (q.includes("0.95")) return m.p95;
        if (q.includes("0.99")) return m.p99;
        if (q.includes('status_code=~"5..|400"')) return m.errors;
        return m.requests;
    };
    return Object.assign(f, { seen });
}

const servingOfRoot = (root: string, stack = "dev") => YAML.parse(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8")).config["mlops-platform:serving"];

describe("mlops release analyze", () => {
    it("canary at 50%: a healthy canary moves to the next step with --write, and the table shows the numbers", async () => {
        const root = project("dev", () => undefined);
        const query = fakeMetrics({ canary: { requests: 500, errors: 1, p95: 0.04, p99: 0.06 }, stable: { requests: 500, errors: 0, p95: 0.04, p99: 0.05 } });
        const out = await analyzeCommand({ root, stack: "dev", query, write: true });
        assert.equal(out.verdict, "promote");
        assert.equal(out.exitCode, 0);
        assert.match(out.text, /requests\s+500\s+500\s+>= 100\s+pass/);
        assert.match(out.text, /error rate\s+0\.2%\s+0%\s+<= 1%\s+pass/);
        assert.match(out.text, /next step: canary weight 50 → 100/);
        assert.equal(servingOfRoot(root).canary.canaryWeight, 100);
        assert.equal(out.done, false);
        // At the last step the same verdict promotes.
        const again = await analyzeCommand({ root, stack: "dev", query, write: true });
        assert.match(again.text, /promote the canary to stable/);
        assert.equal(servingOfRoot(root).canary.stable.version, "4");
        assert.equal(again.done, true);
    });

    it("a failing canary is rolled back (exit 3) and the stack file says weight 0", async () => {
        const root = project("dev", () => undefined);
        const query = fakeMetrics({ canary: { requests: 500, errors: 40, p95: 0.04, p99: 0.06 }, stable: { requests: 500, errors: 0, p95: 0.04, p99: 0.05 } });
        const out = await analyzeCommand({ root, stack: "dev", query, write: true });
        assert.equal(out.verdict, "rollback");
        assert.equal(out.exitCode, 3);
        assert.equal(servingOfRoot(root).canary.canaryWeight, 0);
        assert.equal(out.done, true);
    });

    it("hold (exit 2) writes nothing", async () => {
        const root = project("dev", () => undefined);
        const before = fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8");
        const out = await analyzeCommand({ root, stack: "dev", query: fakeMetrics({ canary: { requests: 3 }, stable: { requests: 900 } }), write: true });
        assert.equal(out.exitCode, 2);
        assert.equal(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8"), before);
    });

    it("--start moves a canary at weight 0 to the first step without querying", async () => {
        const root = project("dev", (s) => {
            s.canary.canaryWeight = 0;
            s.analysis = { steps: [5, 20, 100] };
        });
        const query = fakeMetrics({});
        const out = await analyzeCommand({ root, stack: "dev", query, write: true, start: true });
        assert.equal(query.seen.length, 0);
        assert.equal(servingOfRoot(root).canary.canaryWeight, 5);
        assert.equal(out.exitCode, 0);
        // Without --start, weight 0 measures (and finds no canary traffic: hold).
        const root2 = project("dev", (s) => (s.canary.canaryWeight = 0));
        assert.equal((await analyzeCommand({ root: root2, stack: "dev", query: fakeMetrics({ stable: { requests: 900 } }), write: true })).verdict, "hold");
    });

    it("the release rules still apply: prod refuses a step above 10% for an ungated canary", async () => {
        const root = project("prod", (s) => {
            s.canary.canary.metrics = { f1: 0.80, accuracy: 0.80 }; // fails the gate (needs +2% F1)
        });
        const query = fakeMetrics({ canary: { requests: 500, errors: 0, p95: 0.04, p99: 0.05 }, stable: { requests: 5000, errors: 0, p95: 0.04, p99: 0.05 } });
        await assert.rejects(analyzeCommand({ root, stack: "prod", query, write: true }), /refused: set-weight 25 would be rejected by the gating policy pack[\s\S]*canary-weight-limit/);
    });

    it("blue-green: analyses the preview slot against the active one; promote switches, rollback leaves it idle", async () => {
        const bg = (s: any) => {
            const stable = s.canary.stable;
            const cand = s.canary.canary;
            delete s.canary;
            s.strategy = "blueGreen";
            s.blueGreen = { active: "blue", slots: { blue: stable, green: cand } };
        };
        const root = project("dev", bg);
        const cfgBg = parseServingConfig(servingOfRoot(root));
        assert.deepEqual(analysisSubject(cfgBg).candidate.track, "green");
        const bad = await analyzeCommand({ root, stack: "dev", query: fakeMetrics({ green: { requests: 200, errors: 0, p95: 1, p99: 2 }, blue: { requests: 5000, errors: 0, p95: 0.04, p99: 0.05 } }), write: true });
        assert.equal(bad.verdict, "rollback");
        assert.match(bad.decision, /do not switch/);
        assert.equal(servingOfRoot(root).blueGreen.active, "blue");
        const good = await analyzeCommand({ root, stack: "dev", query: fakeMetrics({ green: { requests: 200, errors: 0, p95: 0.04, p99: 0.05 }, blue: { requests: 5000, errors: 0, p95: 0.04, p99: 0.05 } }), write: true });
        assert.equal(good.verdict, "promote");
        assert.equal(servingOfRoot(root).blueGreen.active, "green");
    });

    it("actionFor maps verdicts to release edits", () => {
        const canary = { strategy: "canary" as const, candidate: { track: "canary", label: "" }, baseline: { track: "stable", label: "" }, weight: 25 };
        assert.deepEqual(actionFor(canary, "promote", [10, 25, 50, 100], false).action, { kind: "set-weight", weight: 50 });
        assert.deepEqual(actionFor({ ...canary, weight: 100 }, "promote", [10, 25, 50, 100], false).action, { kind: "promote" });
        assert.deepEqual(actionFor(canary, "rollback", [10, 100], false).action, { kind: "rollback" });
        assert.equal(actionFor(canary, "hold", [10, 100], false).action, undefined);
        assert.equal(actionFor({ ...canary, weight: 0 }, "promote", [10, 100], false).action, undefined);
    });

    it("the CLI queries a Prometheus HTTP API, prints the verdict table and exits with the verdict's code", async () => {
        const root = project("dev", () => undefined);
        const series: Record<string, string> = {};
        const server = http.createServer((req, res) => {
            const q = new URL(req.url!, "http://x").searchParams.get("query")!;
            const track = /track="([a-z]+)"/.exec(q)?.[1];
            const v = q.includes("histogram_quantile") ? "0.05" : q.includes("5..|400") ? (track === "canary" ? "30" : "0") : "400";
            series[q] = v;
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [Date.now() / 1000, v] }] } }));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const logs: string[] = [];
        const orig = console.log;
        console.log = (...a: unknown[]) => logs.push(a.join(" "));
        let code: number;
        try {
            code = await main(["--project-dir", root, "release", "analyze", "--stack", "dev", "--prometheus-url", url, "--window", "5m"]);
        } finally {
            console.log = orig;
            server.close();
        }
        assert.equal(code, 3, logs.join("\n"));
        assert.match(logs.join("\n"), /error rate\s+7\.5%/);
        assert.match(logs.join("\n"), /verdict: ROLLBACK/);
        assert.ok(Object.keys(series).every((q) => q.includes("[5m]")), "--window overrides the config window");
        assert.equal(servingOfRoot(root).canary.canaryWeight, 50, "no --write, no change");
    });

    it("a bad --window is named", async () => {
        const root = project("dev", () => undefined);
        await assert.rejects(analyzeCommand({ root, stack: "dev", query: fakeMetrics({}), window: "5 minutes" }), /--window must be a Prometheus duration/);
    });
});
