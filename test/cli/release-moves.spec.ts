// `mlops release`: what each move does to the stack file and when it refuses, on stack texts built
// here (the cases the mutation run of issue 13 found unpinned: quoting, a missing key, 4-space
// indentation, rollback rules, strategy mix-ups, the replica-ratio note, the policy notice).
import { Command } from "commander";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planRelease, registerReleaseCommands, ReleaseAction, releaseCommand, ReleaseError } from "../../cli/release";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const FILE = "Pulumi.t.yaml";

/** A release in flow style (one line). */
const rel = (version: string, f1: number, baseline?: [string, number], extra = "") =>
    `{ model: m, version: "${version}", modelUri: "models:/m/${version}", metrics: { f1: ${f1} }` +
    (baseline ? `, baseline: { version: "${baseline[0]}", metrics: { f1: ${baseline[1]} } }` : "") +
    extra +
    " }";

function blueGreen(active: string, blue?: string, green?: string, extra = ""): string {
    return (
        `config:\n  mlops-platform:serving:\n    strategy: blueGreen\n${extra}    blueGreen:\n      active: ${active}\n      slots:\n` +
        (blue ? `        blue: ${blue}\n` : "") +
        (green ? `        green: ${green}\n` : "")
    );
}

function canary(weight: number | undefined, candidate?: string, extra = "", top = ""): string {
    return (
        `config:\n  mlops-platform:serving:\n    strategy: canary\n${top}    canary:\n` +
        (weight === undefined ? "" : `      canaryWeight: ${weight}\n`) +
        `      stable: ${rel("1", 0.8)}\n` +
        (candidate ? `      canary: ${candidate}\n` : "") +
        extra
    );
}

const GOOD = rel("2", 0.9, ["1", 0.8]);

/** The same stack file indented by 4 (the yaml library would re-indent it by 2 if the edit fell back to re-serialising). */
const wide = (text: string) => text.replace(/^( +)/gm, "$1$1");

function refused(text: string, action: ReleaseAction, message: RegExp | string): void {
    assert.throws(
        () => planRelease(text, FILE, action),
        (e: any) => {
            assert.ok(e instanceof ReleaseError, `ReleaseError, got ${e}`);
            if (typeof message === "string") assert.equal(e.message, message);
            else assert.match(e.message, message);
            return true;
        },
    );
}

describe("mlops release: edits and refusals", () => {
    describe("the edit keeps the stack file's own style", () => {
        it("switch keeps the quoting of the active slot (double, single, plain)", () => {
            for (const [before, after] of [['"blue"', '"green"'], ["'blue'", "'green'"], ["blue", "green"]]) {
                const text = wide(blueGreen(before, rel("1", 0.8), GOOD));
                assert.equal(planRelease(text, FILE, { kind: "switch" }).text, text.replace(`active: ${before}`, `active: ${after}`));
            }
        });

        it("set-weight adds canaryWeight at the end of the canary block when it is missing (default 0)", () => {
            const text = wide(canary(undefined, GOOD, "", "    replicas: 2\n"));
            const plan = planRelease(text, FILE, { kind: "set-weight", weight: 10 });
            assert.equal(plan.text, text + "            canaryWeight: 10\n");
            assert.deepEqual(plan.changes, [{ path: "canary.canaryWeight", before: "0", after: "10" }]);
            // The same when the file does not end in a newline, and when the block is followed by more config.
            assert.equal(planRelease(text.slice(0, -1), FILE, { kind: "set-weight", weight: 10 }).text, text + "            canaryWeight: 10\n");
            const more = text + "    aws:region: us-east-1\n";
            assert.equal(planRelease(more, FILE, { kind: "set-weight", weight: 10 }).text, text + "            canaryWeight: 10\n    aws:region: us-east-1\n");
        });

        it("set-weight on a flow-style canary block without canaryWeight still writes the weight", () => {
            const text = `config:\n  mlops-platform:serving:\n    strategy: canary # keep me\n    canary: { stable: ${rel("1", 0.8)}, canary: ${GOOD} }\n`;
            const plan = planRelease(text, FILE, { kind: "set-weight", weight: 10 });
            assert.equal(plan.config.canary!.canaryWeight, 10);
            assert.match(plan.text, /# keep me/);
            assert.equal(planRelease(plan.text, FILE, { kind: "set-weight", weight: 10 }).changes.length, 0);
        });

        it("promote on a 4-space-indented stack file changes only the moved lines (no reformatting)", () => {
            const text = [
                "config:",
                "    aws:region:   us-east-1   # spacing kept",
                "    mlops-platform:serving:",
                "        strategy: canary",
                "        canary:",
                "            canaryWeight: 30",
                "            mirror: true",
                "            stable:",
                "                model: m",
                '                version: "1"',
                "                metrics: { f1: 0.8 }",
                "            # the candidate",
                "            canary:",
                "                model: m",
                '                version: "2"',
                "                metrics: { f1: 0.9 }",
                '                baseline: { version: "1", metrics: { f1: 0.8 } }',
                "",
            ].join("\n");
            const plan = planRelease(text, FILE, { kind: "promote" });
            assert.equal(
                plan.text,
                [
                    "config:",
                    "    aws:region:   us-east-1   # spacing kept",
                    "    mlops-platform:serving:",
                    "        strategy: canary",
                    "        canary:",
                    "            canaryWeight: 0",
                    "            mirror: false",
                    "            stable:",
                    "                model: m",
                    '                version: "2"',
                    "                metrics: { f1: 0.9 }",
                    '                baseline: { version: "1", metrics: { f1: 0.8 } }',
                    "",
                ].join("\n"),
            );
            assert.deepEqual(plan.changes, [
                { path: "canary.stable", before: "m v1 (models:/m/1)", after: "m v2 (models:/m/2)" },
                { path: "canary.canary", before: "m v2 (models:/m/2)", after: "(none)" },
                { path: "canary.canaryWeight", before: "30", after: "0" },
                { path: "canary.mirror", before: "true", after: "false" },
            ]);
        });

        it("promote on flow-style releases keeps the file's formatting too (only the moved lines change)", () => {
            const text = wide(canary(20, GOOD, "", "    gateway: { mode: install }   # spacing kept\n"));
            const plan = planRelease(text, FILE, { kind: "promote" });
            assert.equal(
                plan.text,
                text.replace("canaryWeight: 20", "canaryWeight: 0").replace(`stable: ${rel("1", 0.8)}`, `stable: ${GOOD}`).replace(`            canary: ${GOOD}\n`, ""),
            );
        });

        it("promote of a candidate at weight 0 does not report a weight change", () => {
            const plan = planRelease(canary(0, GOOD), FILE, { kind: "promote" });
            assert.deepEqual(
                plan.changes.map((c) => c.path),
                ["canary.stable", "canary.canary"],
            );
        });
    });

    describe("what the stack file must look like", () => {
        it("refuses a file that is not YAML, naming the line", () => {
            refused("config:\n  mlops-platform:serving: [1,\n  x: }\n", { kind: "rollback" }, /^Pulumi\.t\.yaml is not valid YAML at line \d+: [A-Z][a-z]+ [^\n]*$/);
        });

        it("refuses an empty mlops-platform:serving even when a project-less `serving` key exists", () => {
            const text = `config:\n  mlops-platform:serving:\n  serving:\n    strategy: canary\n    canary: { stable: ${rel("1", 0.8)} }\n`;
            refused(text, { kind: "set-weight", weight: 0 }, /has no mlops-platform:serving mapping under config/);
            // The project-less key alone is read.
            const alone = `config:\n  serving:\n    strategy: canary\n    canary: { canaryWeight: 5, stable: ${rel("1", 0.8)}, canary: ${GOOD} }\n`;
            assert.equal(planRelease(alone, FILE, { kind: "set-weight", weight: 0 }).config.canary!.canaryWeight, 0);
        });

        it("refuses to edit a block written as a YAML alias (the edit would change the anchor's other users)", () => {
            const text = `x-canary: &c\n  canaryWeight: 0\n  stable: ${rel("1", 0.8)}\n  canary: ${GOOD}\nconfig:\n  mlops-platform:serving:\n    strategy: canary\n    canary: *c\n`;
            refused(text, { kind: "set-weight", weight: 10 }, "Pulumi.t.yaml: mlops-platform:serving.canary is not a mapping");
        });
    });

    describe("strategy", () => {
        // Both blocks may be present (both are validated); the strategy alone decides which one moves.
        const bgBlock = `    blueGreen:\n      active: blue\n      slots:\n        blue: ${rel("1", 0.8)}\n        green: ${GOOD}\n`;

        it("a canary stack that also carries a blueGreen block: switch is refused, rollback zeroes the weight", () => {
            const text = canary(20, GOOD, "", bgBlock);
            refused(text, { kind: "switch" }, /^switch applies to the blueGreen strategy; Pulumi\.t\.yaml uses "canary" \(use set-weight, promote or rollback\)$/);
            const plan = planRelease(text, FILE, { kind: "rollback" });
            assert.deepEqual(plan.changes, [{ path: "canary.canaryWeight", before: "20", after: "0" }]);
            assert.equal(plan.config.blueGreen!.active, "blue");
        });

        it("a blue-green stack that also carries a canary block: promote and set-weight are refused", () => {
            const cBlock = `    canary:\n      canaryWeight: 0\n      stable: ${rel("1", 0.8)}\n      canary: ${GOOD}\n`;
            const text = blueGreen("blue", rel("1", 0.8), GOOD, cBlock);
            refused(text, { kind: "promote" }, /^promote applies to the canary strategy; Pulumi\.t\.yaml uses "blueGreen" \(use switch\)$/);
            refused(text, { kind: "set-weight", weight: 10 }, /^set-weight applies to the canary strategy; Pulumi\.t\.yaml uses "blueGreen" \(use switch\)$/);
        });
    });

    describe("rollback", () => {
        it("blue-green: returns to the active release's recorded baseline in the idle slot", () => {
            const text = blueGreen("green", rel("1", 0.8), GOOD);
            const plan = planRelease(text, FILE, { kind: "rollback" });
            assert.equal(plan.config.blueGreen!.active, "blue");
            assert.deepEqual(plan.changes, [{ path: "blueGreen.active", before: "green (m v2 (models:/m/2))", after: "blue (m v1 (models:/m/1))" }]);
        });

        it("blue-green: refuses when the active release records no baseline", () => {
            refused(
                blueGreen("blue", rel("1", 0.8), GOOD),
                { kind: "rollback" },
                "nothing to roll back to: m v1 (models:/m/1) in the active slot 'blue' records no baseline, so there is no previous release",
            );
        });

        it("blue-green: refuses when the idle slot is empty, holds another version or another model", () => {
            const tail = "; a rollback only returns to the previous release (to send traffic to a new candidate, use `mlops release switch`)";
            refused(
                blueGreen("green", undefined, GOOD),
                { kind: "rollback" },
                "nothing to roll back to: the active slot 'green' serves m v2 (models:/m/2), which replaced v1, but slot 'blue' holds no release" + tail,
            );
            refused(
                blueGreen("green", rel("3", 0.8), GOOD),
                { kind: "rollback" },
                "nothing to roll back to: the active slot 'green' serves m v2 (models:/m/2), which replaced v1, but slot 'blue' holds m v3 (models:/m/3)" + tail,
            );
            const other = `{ model: other, version: "1", modelUri: "models:/other/1", metrics: { f1: 0.8 } }`;
            refused(blueGreen("green", other, GOOD), { kind: "rollback" }, /but slot 'blue' holds other v1 \(models:\/other\/1\)/);
        });

        it("blue-green: the previous release must still pass its own gate record", () => {
            // v2 (idle, blue) was itself gated against v1 and fails; v3 (active) replaced v2.
            const text = blueGreen("green", rel("2", 0.7, ["1", 0.8]), rel("3", 0.9, ["2", 0.7]));
            refused(text, { kind: "rollback" }, /^refusing to roll back to slot 'blue': m v2 \(models:\/m\/2\) has no passing gate record against its baseline v1:/);
        });

        it("canary: refuses when there is no candidate", () => {
            refused(canary(0), { kind: "rollback" }, "nothing to roll back: there is no canary release (mlops-platform:serving.canary.canary is empty)");
        });
    });

    describe("set-weight", () => {
        it("without a candidate: 0 is a no-op, anything above is refused", () => {
            assert.deepEqual(planRelease(canary(0), FILE, { kind: "set-weight", weight: 0 }).notes, ["canary.canaryWeight is already 0; nothing to change"]);
            refused(canary(0), { kind: "set-weight", weight: 1 }, "cannot send 1% to the canary: there is no canary release (mlops-platform:serving.canary.canary is empty)");
        });

        it("accepts a weight with surrounding blanks", () => {
            assert.equal(planRelease(canary(0, GOOD), FILE, { kind: "set-weight", weight: " 20 " }).config.canary!.canaryWeight, 20);
        });

        it("the replica-ratio note appears only without a Gateway and only when the ratio misses the weight", () => {
            const none = "    replicas: 2\n    gateway: { mode: none }\n";
            assert.deepEqual(planRelease(canary(10, GOOD, "", none), FILE, { kind: "set-weight", weight: 50 }).notes, [], "2 replicas split 50% exactly");
            assert.deepEqual(planRelease(canary(50, GOOD, "", none), FILE, { kind: "set-weight", weight: 10 }).notes, [
                "no Gateway: 10% is approximated by replicas (1 canary / 2 stable pods) = 33.3% of connections",
            ]);
            const gw = "    replicas: 2\n    gateway: { mode: install }\n";
            assert.deepEqual(planRelease(canary(50, GOOD, "", gw), FILE, { kind: "set-weight", weight: 10 }).notes, [], "a Gateway routes 10% exactly");
        });

        it("an unchanged weight is a no-op even when the stack already breaks a gating rule", () => {
            const ungated = canary(60, rel("2", 0.7, ["1", 0.8]));
            const policy = JSON.parse(fs.readFileSync(path.join(ROOT, "policies", "config", "gating.dev.json"), "utf8"));
            const plan = planRelease(ungated, FILE, { kind: "set-weight", weight: 60 }, policy);
            assert.deepEqual(plan.changes, []);
            assert.equal(plan.text, ungated);
        });

        it("a refusal by the gating rules names the move", () => {
            const ungated = canary(10, rel("2", 0.7, ["1", 0.8]));
            const policy = JSON.parse(fs.readFileSync(path.join(ROOT, "policies", "config", "gating.dev.json"), "utf8"));
            assert.throws(
                () => planRelease(ungated, FILE, { kind: "set-weight", weight: 60 }, policy),
                /: refused: set-weight 60 would be rejected by the gating policy pack \(mlops plan \/ pulumi preview\), so Pulumi\.t\.yaml was not changed:\n {2}- model-gate-thresholds: [^\n]+\n {2}- canary-weight-limit: [^\n]+ receives 60% of traffic/,
            );
        });
    });

    it("a refused gate names every failure, the missing baseline and what to do", () => {
        const text = canary(0, `{ model: m, version: "2", modelUri: "models:/m/2", metrics: { f1: 0.9 } }`);
        refused(
            text,
            { kind: "set-weight", weight: 100 },
            /^refusing to send 100% of traffic to the canary: m v2 \(models:\/m\/2\) has no passing gate record against its baseline \(no baseline recorded\):\n {2}- [^\n]+\nRun `mlops gate` for a release that beats the baseline, or fix the thresholds in mlops-platform:serving\.thresholds\.$/,
        );
        const two = canary(0, rel("2", 0.7, ["1", 0.8]), "", "    thresholds:\n      f1: { minRelativeChange: 0.02, greaterIsBetter: true }\n      acc: { threshold: 0.9, greaterIsBetter: true }\n").replace(
            "metrics: { f1: 0.7 }",
            "metrics: { f1: 0.7, acc: 0.5 }",
        );
        assert.throws(() => planRelease(two, FILE, { kind: "promote" }), /against its baseline v1:\n {2}- [^\n]+\n {2}- [^\n]+\nRun `mlops gate`/);
    });

    it("prod requires approvedBy on the release a switch or a blue-green rollback sends traffic to", () => {
        const prod = JSON.parse(fs.readFileSync(path.join(ROOT, "policies", "config", "gating.prod.json"), "utf8"));
        const approval = ", approvedBy: lead@example.com";
        const approvalRefusal = /refused: (switch|rollback) would be rejected by the gating policy pack[^\n]*\n {2}- model-approval-required: Deployment ml-serving\/model-(green|blue): release m v\d \((green|blue)\): has no mlops\.platform\/approved-by annotation/;
        // switch: green (the target) has no approver.
        assert.throws(() => planRelease(blueGreen("blue", rel("1", 0.8, undefined, approval), GOOD), FILE, { kind: "switch" }, prod), approvalRefusal);
        assert.equal(planRelease(blueGreen("blue", rel("1", 0.8, undefined, approval), rel("2", 0.9, ["1", 0.8], approval)), FILE, { kind: "switch" }, prod).config.blueGreen!.active, "green");
        // rollback: blue (the previous release) has no approver.
        assert.throws(() => planRelease(blueGreen("green", rel("1", 0.8), rel("2", 0.9, ["1", 0.8], approval)), FILE, { kind: "rollback" }, prod), approvalRefusal);
        assert.equal(planRelease(blueGreen("green", rel("1", 0.8, undefined, approval), rel("2", 0.9, ["1", 0.8], approval)), FILE, { kind: "rollback" }, prod).config.blueGreen!.active, "blue");
    });

    it("an unknown action is refused by name", () => {
        refused(canary(0, GOOD), { kind: "bogus" } as unknown as ReleaseAction, 'unknown release action {"kind":"bogus"}');
    });

    it("switch to an empty slot says to deploy a release there first", () => {
        refused(blueGreen("blue", rel("1", 0.8)), { kind: "switch" }, "cannot switch to slot 'green': it holds no release (mlops-platform:serving.blueGreen.slots.green is empty); deploy a release to it first");
    });

    describe("releaseCommand", () => {
        function project(stack: string, text: string): { root: string; file: string } {
            const root = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-release-moves-"));
            fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
            fs.cpSync(path.join(ROOT, "policies", "config"), path.join(root, "policies", "config"), { recursive: true });
            const file = path.join(root, `Pulumi.${stack}.yaml`);
            fs.writeFileSync(file, text);
            return { root, file };
        }

        it("a stack without its own gating config gets its environment's rules, and says so", () => {
            const text = canary(0, GOOD).replace("config:\n", "config:\n  mlops-platform:environment: prod\n");
            const { root, file } = project("qa", text);
            // prod's rules require an approver on the promoted release.
            assert.throws(() => releaseCommand({ root, stack: "qa", action: { kind: "promote" } }), /model-approval-required/);
            assert.equal(fs.readFileSync(file, "utf8"), text, "a refused edit leaves the file byte-identical");
            const approved = canary(0, rel("2", 0.9, ["1", 0.8], ", approvedBy: lead@example.com"))
                .replace("config:\n", "config:\n  mlops-platform:environment: prod\n")
                .replace('metrics: { f1: 0.8 } }', 'metrics: { f1: 0.8 }, approvedBy: lead@example.com }');
            fs.writeFileSync(file, approved);
            const { output } = releaseCommand({ root, stack: "qa", action: { kind: "set-weight", weight: 5 }, dryRun: true });
            assert.match(
                output,
                /\nnote: policies\/config\/gating\.qa\.json does not exist: the gating pack uses the prod environment's defaults \(policies\/config\/gating\.prod\.json\)\. /,
            );
        });

        it("describes every release subcommand, option and argument in --help", () => {
            const program = new Command("mlops");
            registerReleaseCommands(program, ROOT);
            const release = program.commands.find((c) => c.name() === "release")!;
            assert.ok(release.description().length > 20);
            for (const c of release.commands) {
                assert.ok(c.description().length > 20, `${c.name()} is described`);
                assert.deepEqual(c.options.map((o) => o.long).filter((l) => l !== "--to"), ["--stack", "--dry-run"], c.name());
                for (const o of c.options) assert.ok(o.description.length > 10, `${c.name()} ${o.long} is described`);
                for (const a of c.registeredArguments) assert.ok(a.description.length > 10 && a.name() === "percent", `${c.name()} <${a.name()}> is described`);
            }
            assert.deepEqual(release.commands.find((c) => c.name() === "switch")!.options.map((o) => o.long), ["--stack", "--to", "--dry-run"]);
            assert.equal(release.commands.find((c) => c.name() === "set-weight")!.registeredArguments.length, 1);
        });

        it("registers switch, promote and rollback with their options, and accepts the root as a function", async () => {
            const bg = project("dev", blueGreen("blue", rel("1", 0.8), GOOD));
            const cn = project("dev", canary(10, GOOD));
            const logs: string[] = [];
            const log = console.log;
            console.log = (m: string) => logs.push(m);
            try {
                let root = bg.root;
                const program = new Command("mlops").exitOverride();
                registerReleaseCommands(program, () => root);
                await program.parseAsync(["release", "switch", "--stack", "dev", "--to", "green", "--dry-run"], { from: "user" });
                assert.match(logs.pop()!, /blueGreen\.active {2}blue .* → green .*\n\(dry run: Pulumi\.dev\.yaml not written\)$/);
                root = cn.root;
                await program.parseAsync(["release", "rollback", "--stack", "dev", "--dry-run"], { from: "user" });
                assert.match(logs.pop()!, /canary\.canaryWeight {2}10 → 0\n\(dry run/);
                await program.parseAsync(["release", "promote", "--stack", "dev"], { from: "user" });
                assert.match(logs.pop()!, /canary\.stable .*\n.*\n.*canary\.canaryWeight {2}10 → 0\nwrote Pulumi\.dev\.yaml/);
            } finally {
                console.log = log;
            }
            assert.equal(fs.readFileSync(bg.file, "utf8"), blueGreen("blue", rel("1", 0.8), GOOD));
        });
    });
});
