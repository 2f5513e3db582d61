/**
 * The Analyzer proxy that sits between the engine and a Node.js policy pack, as upstream's `sdk.PolicyProxy`
 * (pulumi/pulumi v3.248.0, sdk/policy_proxy.go) does for `pulumi-language-nodejs`:
 *
 * 1. the host serves this proxy and writes *its* port as the first stdout line of the RunPlugin stream, so the
 *    engine dials the proxy, not the pack;
 * 2. the proxy answers `Handshake` itself and remembers the `ConfigureStack` request (organization, project, stack,
 *    dry-run, config) — the policy SDK learns these from environment variables, which must be set before its process
 *    starts, so the pack is launched only after this call (or after any other call, with no configuration, which is
 *    what `pulumi policy publish`-style callers get);
 * 3. once the pack prints its own port, the proxy dials it, forwards the remembered `ConfigureStack` (an
 *    UNIMPLEMENTED answer from older packs is ignored), and forwards every other Analyzer call unchanged.
 */
import * as grpc from "@grpc/grpc-js";
import { Readable } from "stream";

const analyzerGrpc: any = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const analyzerPb: any = require("@pulumi/pulumi/proto/analyzer_pb");

/** Pulumi's gRPC message size limit (rpcutil.maxRPCMessageSize, 400 MiB); grpc-js defaults to 4 MiB. */
export const grpcMessageLimits = {
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
};

/** What the engine told the pack about the stack; null when the pack is started without it. */
export type StackConfiguration = {
    organization: string;
    project: string;
    stack: string;
    dryRun: boolean;
    config: Map<string, string>;
} | null;

interface Deferred<T> {
    promise: Promise<T>;
    resolve(v: T): void;
    reject(e: unknown): void;
    settled: boolean;
}

function deferred<T>(): Deferred<T> {
    const d: Partial<Deferred<T>> = { settled: false };
    d.promise = new Promise<T>((res, rej) => {
        d.resolve = (v) => {
            if (!d.settled) {
                d.settled = true;
                res(v);
            }
        };
        d.reject = (e) => {
            if (!d.settled) {
                d.settled = true;
                rej(e);
            }
        };
    });
    // A rejection nobody awaits yet must not crash the host.
    d.promise.catch(() => undefined);
    return d as Deferred<T>;
}

export class PolicyProxy {
    private readonly server = new grpc.Server(grpcMessageLimits);
    private readonly configuration = deferred<any | null>();
    private readonly client = deferred<any>();
    private analyzerClient: any;
    port = 0;

    /** Starts the proxy's gRPC server on an ephemeral 127.0.0.1 port. */
    static async start(): Promise<PolicyProxy> {
        const proxy = new PolicyProxy();
        proxy.server.addService(analyzerGrpc.AnalyzerService, proxy.handlers());
        proxy.port = await new Promise<number>((resolve, reject) =>
            proxy.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
                err ? reject(err) : resolve(port),
            ),
        );
        return proxy;
    }

    /** Writes the proxy's port (the line the engine reads) and waits for the stack configuration. */
    async awaitConfiguration(writeStdout: (b: Buffer) => void): Promise<StackConfiguration> {
        writeStdout(Buffer.from(`${this.port}\n`));
        const req = await this.configuration.promise;
        if (!req) {
            return null;
        }
        const config = new Map<string, string>();
        req.getConfigMap().forEach((v: string, k: string) => config.set(k, v));
        return {
            organization: req.getOrganization(),
            project: req.getProject(),
            stack: req.getStack(),
            dryRun: req.getDryRun(),
            config,
        };
    }

    /**
     * Reads the pack's port from the first line of its stdout, hands every later stdout byte to `forwardStdout`,
     * connects to the pack and replays ConfigureStack. Resolves once connected; rejects (and fails every waiting call)
     * when the pack exits or prints something else first.
     */
    async attach(packStdout: Readable, forwardStdout: (b: Buffer) => void): Promise<void> {
        try {
            const port = await readPortLine(packStdout, forwardStdout);
            this.analyzerClient = new analyzerGrpc.AnalyzerClient(
                `127.0.0.1:${port}`,
                grpc.credentials.createInsecure(),
                grpcMessageLimits,
            );
            const cfg = this.configuration.settled ? await this.configuration.promise : null;
            if (cfg) {
                await new Promise<void>((resolve, reject) =>
                    this.analyzerClient.configureStack(cfg, (err: grpc.ServiceError | null) => {
                        if (err && err.code !== grpc.status.UNIMPLEMENTED) {
                            reject(new Error(`policy pack configuration failed: ${err.details || err.message}`));
                        } else {
                            resolve();
                        }
                    }),
                );
            }
            this.client.resolve(this.analyzerClient);
        } catch (err) {
            this.client.reject(err);
            throw err;
        }
    }

    /** Fails every pending and future forwarded call with `reason` (used when the pack exits). */
    fail(reason: Error): void {
        this.configuration.resolve(null);
        this.client.reject(reason);
    }

    shutdown(): void {
        this.fail(new Error("policy pack stopped"));
        this.analyzerClient?.close();
        this.server.forceShutdown();
    }

    private handlers(): grpc.UntypedServiceImplementation {
        const forward = (method: string) => (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
            // Any call other than ConfigureStack/Handshake starts the pack without configuration.
            this.configuration.resolve(null);
            this.client.promise.then(
                (client) => client[method](call.request, (err: grpc.ServiceError | null, res: any) => callback(err, res)),
                (err: Error) =>
                    callback({ code: grpc.status.UNAVAILABLE, details: `policy pack not started: ${err.message}` }, null),
            );
        };
        return {
            handshake: (_call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) =>
                callback(null, new analyzerPb.AnalyzerHandshakeResponse()),
            configureStack: (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
                this.configuration.resolve(call.request);
                callback(null, new analyzerPb.AnalyzerStackConfigureResponse());
            },
            analyze: forward("analyze"),
            analyzeStack: forward("analyzeStack"),
            remediate: forward("remediate"),
            getAnalyzerInfo: forward("getAnalyzerInfo"),
            getPluginInfo: forward("getPluginInfo"),
            configure: forward("configure"),
            cancel: forward("cancel"),
        };
    }
}

/** Reads `<port>\n` from the start of a stream; the rest of the stream goes to `rest`. */
function readPortLine(stream: Readable, rest: (b: Buffer) => void): Promise<number> {
    return new Promise((resolve, reject) => {
        let head = Buffer.alloc(0);
        let done = false;
        const onData = (chunk: Buffer) => {
            if (done) {
                rest(chunk);
                return;
            }
            head = Buffer.concat([head, chunk]);
            const nl = head.indexOf(0x0a);
            if (nl < 0) {
                return;
            }
            done = true;
            const line = head.subarray(0, nl).toString().trim();
            const after = head.subarray(nl + 1);
            if (after.length > 0) {
                rest(after);
            }
            const port = Number(line);
            if (!/^\d+$/.test(line) || port <= 0 || port > 65535) {
                reject(new Error(`could not read policy pack port: got ${JSON.stringify(line)}`));
            } else {
                resolve(port);
            }
        };
        stream.on("data", onData);
        stream.on("end", () => {
            if (!done) {
                done = true;
                reject(new Error("could not read policy pack port: the policy pack exited before printing it"));
            }
        });
    });
}
