// Runs the Pulumi program in-process under Pulumi's mock runtime, with the configuration the CLI
// would give it for a stack, and records every resource it registers.
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { MockEnvironment, DEFAULT_MOCK_ENV, ProviderMocks } from "./mocks";
import { loadStackConfig, StackConfig } from "./stack-config";
import { RecordedResource, SECRET_PLACEHOLDER } from "./types";

const settings = require("@pulumi/pulumi/runtime/settings");

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface RunOptions {
    /** Project root (holds Pulumi.yaml and the stack files). */
    root: string;
    stack: string;
    /** Compiled program to run. Default `<root>/dist/index.js`. */
    program?: string;
    /** Config values (`namespace:key` → string) that override the stack file's, e.g. for tests. */
    configOverrides?: Record<string, string | undefined>;
    /** Account/region/partition the mock providers pretend to be in. Region defaults to `aws:region`. */
    mockEnvironment?: Partial<MockEnvironment>;
}

export interface ProgramRun {
    project: string;
    stack: string;
    config: StackConfig;
    resources: RecordedResource[];
    /** Stack outputs (secret ones replaced by the placeholder). */
    outputs: Record<string, unknown>;
    /** Invoke tokens the program called. */
    invokes: string[];
}

/** Decodes a registered resource's property object: secrets → placeholder, references → URNs. */
function decode(value: any, secretPaths: Set<string>, topKey: string | undefined): any {
    if (Array.isArray(value)) {
        return value.map((v) => decode(v, secretPaths, topKey));
    }
    if (value !== null && typeof value === "object") {
        const sig = value[SIG_KEY];
        if (sig === SECRET_SIG) {
            if (topKey) {
                secretPaths.add(topKey);
            }
            return SECRET_PLACEHOLDER;
        }
        if (sig === RESOURCE_SIG) {
            return value.urn;
        }
        if (sig === OUTPUT_SIG) {
            if (value.secret && topKey) {
                secretPaths.add(topKey);
                return SECRET_PLACEHOLDER;
            }
            return "value" in value ? decode(value.value, secretPaths, topKey) : UNKNOWN_VALUE;
        }
        if (sig === ASSET_SIG || sig === ARCHIVE_SIG) {
            return { asset: value.path ?? value.uri ?? "(inline)" };
        }
        const out: Record<string, any> = {};
        for (const [k, v] of Object.entries(value)) {
            out[k] = decode(v, secretPaths, topKey ?? k);
        }
        return out;
    }
    return value;
}

let running = false;

/** Runs the program for one stack and returns what it declared. One run at a time per process. */
export async function runProgram(opts: RunOptions): Promise<ProgramRun> {
    if (running) {
        throw new Error("runProgram: another program run is in progress in this process");
    }
    running = true;
    try {
        return await runOnce(opts);
    } finally {
        running = false;
    }
}

async function runOnce(opts: RunOptions): Promise<ProgramRun> {
    const root = path.resolve(opts.root);
    const program = path.resolve(opts.program ?? path.join(root, "dist", "index.js"));
    const stackConfig = loadStackConfig(root, opts.stack);
    const config = { ...stackConfig.config };
    for (const [k, v] of Object.entries(opts.configOverrides ?? {})) {
        if (v === undefined) {
            delete config[k];
        } else {
            config[k] = v;
        }
    }
    const env: MockEnvironment = {
        ...DEFAULT_MOCK_ENV,
        region: config["aws:region"] ?? DEFAULT_MOCK_ENV.region,
        ...opts.mockEnvironment,
    };
    // Pulumi's Node.js runtime runs the program in the project folder (cmd/run chdirs to --pwd);
    // relative paths in the program (image build contexts) resolve the same way here.
    const cwd = process.cwd();
    process.chdir(root);
    const recorded = await record(
        { project: stackConfig.project, stack: stackConfig.stack, config, secretKeys: stackConfig.secretKeys, env },
        async () => {
            // Re-evaluate the program and the project's own modules on every run.
            const distRoot = path.dirname(program);
            const keep = ["offline-plan", "cli", "test", "policies", "node_modules"].map((d) => path.join(distRoot, d) + path.sep);
            for (const id of Object.keys(require.cache)) {
                if (id.startsWith(distRoot + path.sep) && !keep.some((k) => id.startsWith(k))) {
                    delete require.cache[id];
                }
            }
            const exported: Record<string, unknown> = require(program);
            return exported;
        },
    ).finally(() => process.chdir(cwd));
    return {
        project: stackConfig.project,
        stack: stackConfig.stack,
        config: { ...stackConfig, config },
        resources: recorded.resources,
        outputs: recorded.outputs,
        invokes: recorded.invokes,
    };
}

export interface RecordContext {
    project: string;
    stack: string;
    /** `namespace:key` → value. */
    config: Record<string, string>;
    secretKeys: string[];
    env: MockEnvironment;
    /** Give up waiting for registrations after this long. Default 60 000 ms. */
    timeoutMs?: number;
}

export interface Recorded {
    resources: RecordedResource[];
    outputs: Record<string, unknown>;
    invokes: string[];
}

/**
 * Sets up the mock runtime, runs `body` (which declares resources and may return stack outputs),
 * waits until every registration settled, and returns what was registered.
 */
export async function record(ctx: RecordContext, body: () => Record<string, unknown> | void | Promise<Record<string, unknown> | void>): Promise<Recorded> {
    const mocks = new ProviderMocks(ctx.env);
    // preview=true: the plan stands for `pulumi preview`.
    await pulumi.runtime.setMocks(mocks, ctx.project, ctx.stack, true);
    pulumi.runtime.setAllConfig(ctx.config, ctx.secretKeys);

    const records: RecordedResource[] = [];
    const monitor = settings.getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, resp?: any) => void) => {
        register(req, (err: any, resp: any) => {
            if (!err && resp) {
                records.push(toRecord(req, resp));
            }
            callback(err, resp);
        });
    };

    const failures: unknown[] = [];
    const onRejection = (reason: unknown) => failures.push(reason);
    process.on("unhandledRejection", onRejection);
    // A failed input (an apply that threw, an unknown invoke) can leave a registration pending for
    // ever; surface the failure instead of hanging, and never wait longer than the deadline.
    const deadline = Date.now() + (ctx.timeoutMs ?? 60_000);
    const settle = async <T>(p: Promise<T>): Promise<T> => {
        let timer: NodeJS.Timeout | undefined;
        const poll = new Promise<never>((_, reject) => {
            const tick = () => {
                if (failures.length > 0) {
                    reject(failures[0]);
                } else if (Date.now() > deadline) {
                    reject(new Error(`the program did not finish registering resources within ${ctx.timeoutMs ?? 60_000} ms (${records.length} registered)`));
                } else {
                    timer = setTimeout(tick, 25);
                }
            };
            tick();
        });
        try {
            return await Promise.race([p, poll]);
        } finally {
            clearTimeout(timer);
        }
    };
    try {
        const exported = (await settle(Promise.resolve(body()))) ?? {};
        const outputs: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(exported)) {
            // pulumi.output() lifts Outputs nested in plain objects and arrays, as the engine does
            // when it serializes stack exports (a plain object of Outputs is a valid export).
            const o = pulumi.output(value) as any;
            const v = await settle(o.promise());
            outputs[key] = (await settle(o.isSecret)) ? SECRET_PLACEHOLDER : v;
        }
        // Wait until every registration (including late ones from applies) has settled.
        let count = -1;
        while (count !== records.length) {
            count = records.length;
            await settle(settings.waitForRPCs());
            await new Promise((r) => setImmediate(r));
        }
        if (failures.length > 0) {
            throw failures[0];
        }
        records.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
        return { resources: records, outputs, invokes: [...new Set(mocks.calls)].sort() };
    } finally {
        process.off("unhandledRejection", onRejection);
    }
}

function toRecord(req: any, resp: any): RecordedResource {
    const secretInputs = new Set<string>();
    const inputs = decode(req.getObject()?.toJavaScript() ?? {}, secretInputs, undefined);
    const outputs = decode(resp.getObject()?.toJavaScript() ?? {}, new Set<string>(), undefined);
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((deps: any, key: string) => {
        propertyDependencies[key] = deps.getUrnsList();
    });
    return {
        type: req.getType(),
        name: req.getName(),
        urn: resp.getUrn(),
        parent: req.getParent(),
        custom: req.getCustom(),
        provider: req.getProvider(),
        protect: req.getProtect() === true,
        retainOnDelete: req.getRetainondelete() === true,
        deleteBeforeReplace: req.getDeletebeforereplace(),
        dependencies: req.getDependenciesList(),
        propertyDependencies,
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        ignoreChanges: req.getIgnorechangesList(),
        inputs,
        secretInputs: [...secretInputs].sort(),
        outputs,
        id: req.getCustom() ? resp.getId() : undefined,
    };
}

/** Declares resources with `body` under the mock runtime (no stack file needed); for component specs. */
export async function recordResources(
    body: () => Record<string, unknown> | void | Promise<Record<string, unknown> | void>,
    opts: { project?: string; stack?: string; config?: Record<string, string>; env?: Partial<MockEnvironment> } = {},
): Promise<Recorded> {
    if (running) {
        throw new Error("recordResources: another run is in progress in this process");
    }
    running = true;
    try {
        return await record(
            { project: opts.project ?? "mlops-platform", stack: opts.stack ?? "test", config: opts.config ?? {}, secretKeys: [], env: { ...DEFAULT_MOCK_ENV, ...opts.env } },
            body,
        );
    } finally {
        running = false;
    }
}
