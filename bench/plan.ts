// Times `mlops plan` for each stack (median of several runs, each a fresh process as a user runs
// it) against the import floor: node loading the Pulumi SDKs the program uses and nothing else.
// Prints figures; asserts nothing. Usage: npm run bench [-- --runs 7]
import { spawnSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const RSS = path.join(__dirname, "rss-report.js");

interface Sample {
    ms: number;
    rssKb: number;
}

function runOnce(args: string[]): Sample {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ["-r", RSS, ...args], { cwd: ROOT, encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) {
        throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    }
    const m = /BENCH_MAX_RSS_KB=(\d+)/.exec(r.stderr);
    return { ms, rssKb: m ? Number(m[1]) : NaN };
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function measure(label: string, args: string[], runs: number): { label: string; ms: number; min: number; max: number; rssMb: number } {
    runOnce(args); // warm the file-system cache
    const samples = Array.from({ length: runs }, () => runOnce(args));
    const ms = samples.map((s) => s.ms);
    return { label, ms: median(ms), min: Math.min(...ms), max: Math.max(...ms), rssMb: median(samples.map((s) => s.rssKb)) / 1024 };
}

function main(): void {
    const i = process.argv.indexOf("--runs");
    const runs = i > 0 ? Number(process.argv[i + 1]) : 5;
    const floor = ["-e", "require('@pulumi/pulumi'); require('@pulumi/aws'); require('@pulumi/kubernetes'); require('@pulumi/awsx'); require('@pulumi/docker');"];
    const cli = path.join(ROOT, "dist", "cli", "mlops.js");
    const rows = [
        measure("import floor (SDKs only)", floor, runs),
        measure("plan dev (no policy packs)", [cli, "plan", "--stack", "dev", "--no-policies"], runs),
        measure("mlops plan --stack dev", [cli, "plan", "--stack", "dev"], runs),
        measure("plan prod (no policy packs)", [cli, "plan", "--stack", "prod", "--no-policies"], runs),
        measure("mlops plan --stack prod", [cli, "plan", "--stack", "prod"], runs),
    ];
    console.log("(peak RSS is the CLI process; the policy packs run in two child processes of their own)");
    console.log(`median of ${runs} runs, ${process.version}, ${require("os").cpus().length} cores`);
    console.log(`${"what".padEnd(28)} ${"median ms".padStart(10)} ${"min".padStart(8)} ${"max".padStart(8)} ${"peak RSS MB".padStart(12)} ${"over floor".padStart(11)}`);
    for (const r of rows) {
        const over = r === rows[0] ? "" : `+${(r.ms - rows[0].ms).toFixed(0)} ms`;
        console.log(
            `${r.label.padEnd(28)} ${r.ms.toFixed(0).padStart(10)} ${r.min.toFixed(0).padStart(8)} ${r.max.toFixed(0).padStart(8)} ${r.rssMb.toFixed(1).padStart(12)} ${over.padStart(11)}`,
        );
    }
}

main();
