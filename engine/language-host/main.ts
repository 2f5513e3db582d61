/**
 * Entry point of this repository's `pulumi-language-nodejs` (run through engine/bin/pulumi-language-nodejs).
 *
 * Plugin contract, as upstream v3.248.0's main.go: flags `--tracing <url>`, `--runtime nodejs`, `--version`, plus
 * the logging flags the engine may pass (`--logtostderr`, `--logflow`, `-v=<n>`, accepted and ignored); the first
 * positional argument is the engine's gRPC address. The host serves `pulumirpc.LanguageRuntime` on an ephemeral
 * 127.0.0.1 port, writes that port and a newline to stdout (the engine reads exactly that line), health-checks the
 * engine every 5 minutes and exits when it is gone, and shuts down on SIGINT/SIGTERM after interrupting the programs it
 * started.
 */
import * as grpc from "@grpc/grpc-js";
import * as fs from "fs";
import { grpcMessageLimits, NodeLanguageHost } from "./host";

const languageGrpc: any = require("@pulumi/pulumi/proto/language_grpc_pb");

export interface HostArgs {
    tracing: string;
    runtime: string;
    version: boolean;
    engineAddress: string;
}

/** Parses the command line like Go's flag package: `-x`/`--x`, `--x=v` or `--x v`, stops at the first positional. */
export function parseHostArgs(argv: string[]): HostArgs {
    const out: HostArgs = { tracing: "", runtime: "nodejs", version: false, engineAddress: "" };
    const valued = new Set(["tracing", "runtime", "v", "log_dir", "log_backtrace_at", "vmodule", "stderrthreshold"]);
    const booleans = new Set(["version", "logtostderr", "alsologtostderr", "logflow"]);
    let i = 0;
    for (; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--") {
            i++;
            break;
        }
        if (!a.startsWith("-") || a === "-") {
            break;
        }
        const body = a.replace(/^--?/, "");
        const eq = body.indexOf("=");
        const name = eq >= 0 ? body.slice(0, eq) : body;
        let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
        if (valued.has(name)) {
            if (value === undefined) {
                value = argv[++i];
                if (value === undefined) {
                    throw new Error(`flag needs an argument: -${name}`);
                }
            }
            if (name === "tracing") {
                out.tracing = value;
            } else if (name === "runtime") {
                out.runtime = value;
            }
        } else if (booleans.has(name)) {
            if (name === "version") {
                out.version = value === undefined || value === "true";
            }
        } else {
            throw new Error(`flag provided but not defined: -${name}`);
        }
    }
    out.engineAddress = argv[i] ?? "";
    return out;
}

/** The version reported to the engine: the @pulumi/pulumi version this host ships with (3.248.0 here). */
export function hostVersion(): string {
    const pkg = require.resolve("@pulumi/pulumi/package.json");
    return `v${JSON.parse(fs.readFileSync(pkg, "utf8")).version}`;
}

/** Calls grpc.health.v1.Health/Check on the engine; UNIMPLEMENTED counts as alive (as upstream's Healthcheck). */
function startHealthcheck(engineAddress: string, onDead: () => void, intervalMs = 5 * 60 * 1000): void {
    const client = new grpc.Client(engineAddress, grpc.credentials.createInsecure());
    const check = () =>
        client.makeUnaryRequest(
            "/grpc.health.v1.Health/Check",
            () => Buffer.alloc(0), // HealthCheckRequest{service: ""} encodes to zero bytes
            (b: Buffer) => b,
            Buffer.alloc(0),
            (err) => {
                if (err && err.code !== grpc.status.UNIMPLEMENTED) {
                    onDead();
                } else {
                    setTimeout(check, intervalMs).unref();
                }
            },
        );
    setTimeout(check, intervalMs).unref();
}

export async function main(argv: string[]): Promise<void> {
    let args: HostArgs;
    try {
        args = parseHostArgs(argv);
    } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        process.exit(2);
    }
    if (args.version) {
        process.stdout.write(`${hostVersion()}\n`);
        return;
    }
    if (args.runtime !== "nodejs") {
        // Upstream also accepts "bun"; this host runs Node.js only (docs/engine.md).
        process.stderr.write(`error: unsupported runtime: ${args.runtime}\n`);
        process.exit(1);
    }

    const host = new NodeLanguageHost({ engineAddress: args.engineAddress, tracing: args.tracing, version: hostVersion() });
    const server = new grpc.Server(grpcMessageLimits);
    server.addService(languageGrpc.LanguageRuntimeService, host.implementation());
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );

    let stopping = false;
    const stop = (code: number) => {
        if (stopping) {
            return;
        }
        stopping = true;
        host.cancelAll();
        server.tryShutdown(() => process.exit(code));
        // Programs get upstream's 5 s grace period; do not outlive it by much.
        setTimeout(() => process.exit(code), 6000).unref();
    };
    process.on("SIGINT", () => stop(0));
    process.on("SIGTERM", () => stop(0));
    if (args.engineAddress !== "") {
        startHealthcheck(args.engineAddress, () => stop(1));
    }

    // The engine reads this one line to learn where to connect.
    process.stdout.write(`${port}\n`);
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((err) => {
        process.stderr.write(`could not start language host RPC server: ${err?.stack ?? err}\n`);
        process.exit(1);
    });
}
