// Offline policy runner: serves a policy pack in a child process and drives it over the Analyzer
// gRPC protocol the same way the Pulumi engine does during `pulumi preview --policy-pack`:
// GetAnalyzerInfo -> Configure (engine-reconciled config) -> Analyze per resource -> AnalyzeStack.
//
// Engine behaviour mirrored here (pulumi/pulumi, pkg/resource/analyzer/config.go and
// sdk/go/common/resource/plugin/analyzer_plugin.go):
// - the config sent to Configure is reconciled: every policy starts with its own enforcement level and
//   the `default` of each configSchema property, then `all` (enforcement level only) is applied to every
//   policy, then per-policy entries override level and merge properties; the result is validated
//   against each policy's schema before the pack sees it;
// - Analyze receives a resource's inputs; AnalyzeStack receives every resource with parent,
//   dependencies, propertyDependencies, options and provider;
// - secret values travel as `{ <sigKey>: <secretSig>, value }` inside the Struct.
// One deliberate difference: AnalyzeStack gets `{ ...inputs, ...outputs }` rather than outputs alone,
// because mock outputs may omit the inputs a real provider would echo back.

import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import * as analyzerrpc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzerproto from "@pulumi/pulumi/proto/analyzer_pb";

import { RecordedResource } from "./types";

/** Policy packs this repository ships, by folder under `policies/`. */
export type PackName = "security" | "gating";

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";
export type Severity = "low" | "medium" | "high" | "critical";

/**
 * Per-stack policy configuration, in the format of `pulumi preview --policy-pack-config <file>`:
 * `{ "all": "advisory", "<policy>": "mandatory" | { "enforcementLevel"?: ..., ...properties } }`.
 */
export type PolicyPackConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, any>)>;

/** JSON-schema fragment a policy declares for one config property. */
export interface PolicyConfigPropertySchema {
    type?: string | string[];
    enum?: any[];
    default?: any;
    minimum?: number;
    maximum?: number;
    items?: PolicyConfigPropertySchema;
    description?: string;
    [key: string]: any;
}

/** Policy metadata as the pack reports it through GetAnalyzerInfo. */
export interface PolicyMeta {
    name: string;
    description: string;
    enforcementLevel: EnforcementLevel;
    severity?: Severity;
    policyType: "resource" | "stack" | "unknown";
    displayName?: string;
    configSchema?: { properties: Record<string, PolicyConfigPropertySchema>; required: string[] };
}

export interface PolicyViolation {
    policyName: string;
    /** Name of the policy pack that reported it (e.g. `mlops-security`). */
    pack: string;
    enforcementLevel: EnforcementLevel;
    message: string;
    /** Resource the violation is about (the analyzed resource for per-resource policies). */
    urn?: string;
    severity?: Severity;
    description?: string;
    /** "resource" for Analyze diagnostics, "stack" for AnalyzeStack ones. */
    phase: "resource" | "stack";
}

export interface PolicyNotApplicable {
    policyName: string;
    reason: string;
    urn?: string;
}

export interface PolicyRunResult {
    pack: string;
    version: string;
    policies: PolicyMeta[];
    violations: PolicyViolation[];
    notApplicable?: PolicyNotApplicable[];
}

export interface RunOptions {
    /** Stack tags passed through ConfigureStack (policies see them as `args.stackTags`). */
    stackTags?: Record<string, string>;
    /** Collect not-applicable reports (off by default: there is one per policy per resource). */
    collectNotApplicable?: boolean;
}

export interface StartOptions {
    /** Repository root (holds `dist/` and `policies/`). Defaults to the root this file was built in. */
    root?: string;
    /** How long to wait for the pack to print its port. */
    startTimeoutMs?: number;
}

/** A running policy pack; reuse it across many runs, then `close()` it. */
export interface PolicyPackSession {
    readonly packDir: PackName;
    /** PolicyPack name reported by the pack (e.g. `mlops-security`). */
    readonly name: string;
    readonly version: string;
    readonly policies: PolicyMeta[];
    /** Configure the pack with `config`, then analyze every resource and the whole stack. */
    run(resources: RecordedResource[], config?: PolicyPackConfig, options?: RunOptions): Promise<PolicyRunResult>;
    /** The config exactly as it is sent to the pack for `config` (engine reconciliation applied). */
    reconcileConfig(config?: PolicyPackConfig): Record<string, { enforcementLevel: EnforcementLevel; properties: Record<string, any> }>;
    close(): Promise<void>;
}

// Wire markers from @pulumi/pulumi/runtime/rpc (specialSigKey / specialSecretSig).
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const MAX_MESSAGE = 400 * 1024 * 1024;
const LEVELS: EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

/** Repository root: this file compiles to `<root>/dist/offline-plan/policy-runner.js`. */
export function defaultRoot(): string {
    const up = path.resolve(__dirname, "..");
    return path.basename(up) === "dist" ? path.resolve(up, "..") : up;
}

/** Reads `policies/config/<stack>.json` (a `--policy-pack-config` file); `{}` when absent. */
export function loadPolicyConfig(root: string, stack: string, pack?: PackName): PolicyPackConfig {
    // With a pack: the per-pack file `pulumi --policy-pack-config` is given (generated from <stack>.json).
    const file = path.join(root, "policies", "config", pack ? `${pack}.${stack}.json` : `${stack}.json`);
    if (!fs.existsSync(file)) {
        return {};
    }
    const text = fs.readFileSync(file, "utf8");
    if (text.trim() === "") {
        return {};
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (e) {
        throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new Error(`${file}: must be a JSON object keyed by policy name`);
    }
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        if (typeof v === "string") {
            if (!LEVELS.includes(v as EnforcementLevel)) {
                throw new Error(`${file}: "${k}": "${v}" is not a valid enforcement level (${LEVELS.join(", ")})`);
            }
        } else if (!v || typeof v !== "object" || Array.isArray(v)) {
            throw new Error(`${file}: "${k}": must be an enforcement level string or an object`);
        }
    }
    return parsed as PolicyPackConfig;
}

/** Starts `pack`, runs it once over `resources` with `config`, and shuts it down. */
export async function runPolicyPack(
    pack: PackName,
    resources: RecordedResource[],
    config?: PolicyPackConfig,
    options?: StartOptions & RunOptions,
): Promise<PolicyRunResult> {
    const session = await startPolicyPack(pack, options);
    try {
        return await session.run(resources, config, options);
    } finally {
        await session.close();
    }
}

const liveChildren = new Set<ChildProcess>();
const TERMINATING_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** On a terminating signal: kill every pack process, then end as the signal would have. */
function onTerminatingSignal(signal: NodeJS.Signals): void {
    for (const c of liveChildren) c.kill("SIGKILL");
    liveChildren.clear();
    for (const s of TERMINATING_SIGNALS) process.removeListener(s, onTerminatingSignal);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function trackChild(child: ChildProcess): void {
    if (liveChildren.size === 0) for (const s of TERMINATING_SIGNALS) process.on(s, onTerminatingSignal);
    liveChildren.add(child);
}

function untrackChild(child: ChildProcess): void {
    liveChildren.delete(child);
    if (liveChildren.size === 0) for (const s of TERMINATING_SIGNALS) process.removeListener(s, onTerminatingSignal);
}

/** Spawns the compiled pack and connects to it; fails clearly if it is not built or dies. */
export async function startPolicyPack(pack: PackName, options: StartOptions = {}): Promise<PolicyPackSession> {
    const root = options.root ?? defaultRoot();
    const entry = path.join(root, "dist", "policies", pack, "index.js");
    const cwd = path.join(root, "policies", pack);
    if (!fs.existsSync(entry)) {
        throw new Error(`policy pack "${pack}" is not compiled: ${entry} is missing (run npx tsc first)`);
    }
    if (!fs.existsSync(path.join(cwd, "package.json"))) {
        throw new Error(`policy pack "${pack}" has no ${path.join(cwd, "package.json")} (PolicyPack reads its version there)`);
    }
    // The pack dies with this process on every path: its stdin is a pipe whose end it watches
    // (parent-watchdog, covers SIGKILL and crashes), and signals and exit kill it right away.
    const watchdog = path.join(__dirname, "parent-watchdog.js");
    const child = spawn(process.execPath, ["--require", watchdog, entry], { cwd, stdio: ["pipe", "pipe", "pipe"] });
    const killOnExit = () => {
        child.kill("SIGKILL");
        untrackChild(child);
    };
    process.once("exit", killOnExit);
    trackChild(child);
    child.once("exit", () => untrackChild(child));
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

    let port: number;
    try {
        port = await waitForPort(child, pack, exited, () => stderr, options.startTimeoutMs ?? 60_000);
    } catch (e) {
        child.kill("SIGKILL");
        process.removeListener("exit", killOnExit);
        throw e;
    }

    const client = new analyzerrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
        "grpc.max_receive_message_length": MAX_MESSAGE,
        "grpc.max_send_message_length": MAX_MESSAGE,
    });
    let info: analyzerproto.AnalyzerInfo;
    try {
        info = await call<analyzerproto.AnalyzerInfo>((cb) => client.getAnalyzerInfo(new Empty(), cb));
    } catch (e) {
        client.close();
        child.kill("SIGKILL");
        process.removeListener("exit", killOnExit);
        throw new Error(`policy pack "${pack}": GetAnalyzerInfo failed: ${(e as Error).message}\n${stderr}`);
    }
    const policies = info.getPoliciesList().map(toPolicyMeta);
    const initialConfig = readInitialConfig(info);
    const name = info.getName();
    const version = info.getVersion();

    // The pack keeps its configuration in a module global, so runs must not interleave.
    let queue: Promise<unknown> = Promise.resolve();
    let closed = false;

    const reconcile = (config?: PolicyPackConfig) => reconcilePolicyConfig(policies, initialConfig, config ?? {});

    const runOnce = async (resources: RecordedResource[], config?: PolicyPackConfig, runOptions: RunOptions = {}) => {
        if (closed) {
            throw new Error(`policy pack "${pack}" session is closed`);
        }
        if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(`policy pack "${pack}" exited (${child.exitCode ?? child.signalCode}):\n${stderr}`);
        }
        const reconciled = reconcile(config);
        const creq = new analyzerproto.ConfigureAnalyzerRequest();
        const cmap = creq.getPolicyconfigMap();
        for (const [policyName, c] of Object.entries(reconciled)) {
            const pc = new analyzerproto.PolicyConfig();
            pc.setEnforcementlevel(toProtoLevel(c.enforcementLevel));
            pc.setProperties(Struct.fromJavaScript(c.properties));
            cmap.set(policyName, pc);
        }
        await call((cb) => client.configure(creq, cb));

        const sreq = new analyzerproto.AnalyzerStackConfigureRequest();
        const first = resources[0];
        if (first) {
            const [, stack, project] = /^urn:pulumi:([^:]+)::([^:]+)::/.exec(first.urn) ?? [];
            if (stack) sreq.setStack(stack);
            if (project) sreq.setProject(project);
        }
        sreq.setDryRun(true);
        for (const [k, v] of Object.entries(runOptions.stackTags ?? {})) {
            sreq.getTagsMap().set(k, v);
        }
        await call((cb) => client.configureStack(sreq, cb));

        const byUrn = new Map(resources.map((r) => [r.urn, r]));
        const violations: PolicyViolation[] = [];
        const notApplicable: PolicyNotApplicable[] = [];
        const collect = (resp: analyzerproto.AnalyzeResponse, phase: "resource" | "stack", urn?: string) => {
            for (const d of resp.getDiagnosticsList()) {
                const v: PolicyViolation = {
                    policyName: d.getPolicyname(),
                    pack: d.getPolicypackname(),
                    enforcementLevel: fromProtoLevel(d.getEnforcementlevel()),
                    message: d.getMessage(),
                    phase,
                };
                // The engine attributes a per-resource diagnostic without URN to the analyzed resource.
                const dUrn = d.getUrn() || urn;
                if (dUrn) v.urn = dUrn;
                const sev = fromProtoSeverity(d.getSeverity());
                if (sev) v.severity = sev;
                if (d.getDescription()) v.description = d.getDescription();
                violations.push(v);
            }
            if (runOptions.collectNotApplicable) {
                for (const na of resp.getNotApplicableList()) {
                    notApplicable.push({ policyName: na.getPolicyName(), reason: na.getReason(), ...(urn ? { urn } : {}) });
                }
            }
        };

        // The engine analyzes resources as they register, concurrently; results are collected in
        // declaration order so reports are stable.
        const responses = await Promise.all(
            resources.map((r) => {
                const req = new analyzerproto.AnalyzeRequest();
                req.setType(r.type);
                req.setUrn(r.urn);
                req.setName(r.name);
                req.setProperties(toPropertiesStruct(r.inputs, secretKeys(r, r.inputs)));
                req.setOptions(toOptions(r));
                const prov = toProvider(r, byUrn);
                if (prov) req.setProvider(prov);
                return call<analyzerproto.AnalyzeResponse>((cb) => client.analyze(req, cb)).catch((e) => {
                    throw new Error(`policy pack "${pack}": Analyze(${r.urn}) failed: ${(e as Error).message}`);
                });
            }),
        );
        responses.forEach((resp, i) => collect(resp, "resource", resources[i].urn));

        const stackReq = new analyzerproto.AnalyzeStackRequest();
        for (const r of resources) {
            const ar = new analyzerproto.AnalyzerResource();
            const props = { ...(r.inputs ?? {}), ...(r.outputs ?? {}) };
            ar.setType(r.type);
            ar.setUrn(r.urn);
            ar.setName(r.name);
            ar.setProperties(toPropertiesStruct(props, secretKeys(r, props, true)));
            ar.setOptions(toOptions(r));
            const prov = toProvider(r, byUrn);
            if (prov) ar.setProvider(prov);
            if (r.parent) ar.setParent(r.parent);
            ar.setDependenciesList([...(r.dependencies ?? [])]);
            const pdeps = ar.getPropertydependenciesMap();
            for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
                const pd = new analyzerproto.AnalyzerPropertyDependencies();
                pd.setUrnsList([...urns]);
                pdeps.set(k, pd);
            }
            stackReq.addResources(ar);
        }
        const stackResp = await call<analyzerproto.AnalyzeResponse>((cb) => client.analyzeStack(stackReq, cb)).catch((e) => {
            throw new Error(`policy pack "${pack}": AnalyzeStack failed: ${(e as Error).message}`);
        });
        collect(stackResp, "stack");

        const result: PolicyRunResult = { pack: name, version, policies, violations };
        if (runOptions.collectNotApplicable) result.notApplicable = notApplicable;
        return result;
    };

    const session: PolicyPackSession = {
        packDir: pack,
        name,
        version,
        policies,
        reconcileConfig: reconcile,
        run(resources, config, runOptions) {
            const next = queue.then(() => runOnce(resources, config, runOptions));
            queue = next.catch(() => undefined);
            return next;
        },
        async close() {
            if (closed) return;
            closed = true;
            await queue.catch(() => undefined);
            client.close();
            process.removeListener("exit", killOnExit);
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGTERM");
                const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
                await exited;
                clearTimeout(timer);
            }
        },
    };
    return session;
}

/**
 * Engine reconciliation of `--policy-pack-config` (pkg/resource/analyzer/config.go): defaults from
 * each policy's level and schema, then `initialConfig`, then `config`; `all` sets every policy's
 * level; per-policy entries override the level and merge properties. Throws like the engine when the
 * result does not match a policy's config schema.
 */
export function reconcilePolicyConfig(
    policies: PolicyMeta[],
    initialConfig: PolicyPackConfig,
    config: PolicyPackConfig,
): Record<string, { enforcementLevel: EnforcementLevel; properties: Record<string, any> }> {
    const result: Record<string, { enforcementLevel: EnforcementLevel; properties: Record<string, any> }> = {};
    for (const p of policies) {
        const props: Record<string, any> = {};
        for (const [k, s] of Object.entries(p.configSchema?.properties ?? {})) {
            if (s && Object.prototype.hasOwnProperty.call(s, "default")) props[k] = clone(s.default);
        }
        result[p.name] = { enforcementLevel: p.enforcementLevel, properties: props };
    }
    const apply = (cfg: PolicyPackConfig) => {
        const normalized = normalizeConfig(cfg);
        const all = normalized.all;
        if (all?.enforcementLevel) {
            for (const k of Object.keys(result)) result[k].enforcementLevel = all.enforcementLevel;
        }
        for (const [policyName, given] of Object.entries(normalized)) {
            const cur = result[policyName] ?? { enforcementLevel: given.enforcementLevel ?? "advisory", properties: {} };
            if (given.enforcementLevel) cur.enforcementLevel = given.enforcementLevel;
            cur.properties = { ...cur.properties, ...clone(given.properties) };
            result[policyName] = cur;
        }
    };
    apply(initialConfig);
    apply(config);

    const errors: string[] = [];
    for (const p of policies) {
        if (!p.configSchema) continue;
        const props = result[p.name]?.properties ?? {};
        for (const req of p.configSchema.required ?? []) {
            if (!(req in props)) errors.push(`${p.name}: ${req} is required`);
        }
        for (const [k, v] of Object.entries(props)) {
            const schema = p.configSchema.properties[k];
            if (schema) errors.push(...validateValue(schema, v, `${p.name}: ${k}`));
        }
    }
    if (errors.length > 0) {
        throw new Error(`policy pack configuration is invalid:\n  ${errors.join("\n  ")}`);
    }
    return result;
}

/** Encodes property values the way the engine marshals them, wrapping `secretKeys` as secrets. */
export function toPropertiesStruct(props: Record<string, any> | undefined, secretKeys: Iterable<string> = []): Struct {
    const secrets = new Set(secretKeys);
    const out: Record<string, any> = {};
    for (const [k, v] of Object.entries(props ?? {})) {
        const plain = toWire(v);
        if (plain === undefined) continue;
        out[k] = secrets.has(k) ? { [SIG_KEY]: SECRET_SIG, value: plain } : plain;
    }
    return Struct.fromJavaScript(out);
}

// ---- helpers ------------------------------------------------------------------------------------

function secretKeys(r: RecordedResource, props: Record<string, any>, includeSecretOutputs = false): string[] {
    const keys = new Set(r.secretInputs ?? []);
    if (includeSecretOutputs) {
        for (const k of r.additionalSecretOutputs ?? []) keys.add(k);
    }
    return [...keys].filter((k) => k in props);
}

function toWire(v: any): any {
    if (v === undefined || typeof v === "function" || typeof v === "symbol") return undefined;
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number") return Number.isFinite(v) ? v : null;
    if (typeof v === "bigint") return Number(v);
    if (Array.isArray(v)) return v.map((e) => {
        const w = toWire(e);
        return w === undefined ? null : w;
    });
    if (v instanceof Date) return v.toISOString();
    const o: Record<string, any> = {};
    for (const [k, e] of Object.entries(v)) {
        const w = toWire(e);
        if (w !== undefined) o[k] = w;
    }
    return o;
}

function toOptions(r: RecordedResource): analyzerproto.AnalyzerResourceOptions {
    const o = new analyzerproto.AnalyzerResourceOptions();
    o.setProtect(!!r.protect);
    o.setIgnorechangesList([...(r.ignoreChanges ?? [])]);
    o.setAdditionalsecretoutputsList([...(r.additionalSecretOutputs ?? [])]);
    if (r.deleteBeforeReplace) {
        o.setDeletebeforereplace(true);
        o.setDeletebeforereplacedefined(true);
    }
    if (r.parent) o.setParent(r.parent);
    return o;
}

/**
 * Provider reference `urn::id` -> the provider resource the engine passes along. Custom resources
 * with an empty reference use the package's default provider, as the engine does.
 */
function toProvider(r: RecordedResource, byUrn: Map<string, RecordedResource>): analyzerproto.AnalyzerProviderResource | undefined {
    let provUrn: string | undefined;
    if (r.provider) {
        const idx = r.provider.lastIndexOf("::");
        provUrn = idx > 0 && r.provider.slice(0, idx).startsWith("urn:") ? r.provider.slice(0, idx) : r.provider;
    } else if (r.custom && !r.type.startsWith("pulumi:providers:")) {
        const pkg = r.type.split(":")[0];
        const prefix = /^(urn:pulumi:[^:]+::[^:]+)::/.exec(r.urn)?.[1];
        if (!pkg || !prefix) return undefined;
        provUrn = `${prefix}::pulumi:providers:${pkg}::default`;
    }
    if (!provUrn) return undefined;
    const rec = byUrn.get(provUrn);
    const segs = provUrn.split("::");
    const typeChain = segs[2] ?? "";
    const p = new analyzerproto.AnalyzerProviderResource();
    p.setUrn(provUrn);
    p.setType(rec?.type ?? typeChain.split("$").pop() ?? "");
    p.setName(rec?.name ?? segs[segs.length - 1] ?? "");
    p.setProperties(toPropertiesStruct(rec?.inputs ?? {}, rec ? secretKeys(rec, rec.inputs ?? {}) : []));
    return p;
}

function readInitialConfig(info: analyzerproto.AnalyzerInfo): PolicyPackConfig {
    const out: PolicyPackConfig = {};
    info.getInitialconfigMap().forEach((v: analyzerproto.PolicyConfig, k: string) => {
        const props = v.getProperties()?.toJavaScript() ?? {};
        out[k] = { ...props, enforcementLevel: fromProtoLevel(v.getEnforcementlevel()) };
    });
    return out;
}

function normalizeConfig(cfg: PolicyPackConfig): Record<string, { enforcementLevel?: EnforcementLevel; properties: Record<string, any> }> {
    const out: Record<string, { enforcementLevel?: EnforcementLevel; properties: Record<string, any> }> = {};
    for (const [k, v] of Object.entries(cfg ?? {})) {
        if (typeof v === "string") {
            if (!LEVELS.includes(v)) throw new Error(`parsing enforcement level for "${k}": "${v}" is not a valid enforcement level`);
            out[k] = { enforcementLevel: v, properties: {} };
            continue;
        }
        if (!v || typeof v !== "object") {
            throw new Error(`parsing "${k}": ${JSON.stringify(v)} is not a valid value; must be a string or object`);
        }
        const { enforcementLevel, ...properties } = v;
        if (enforcementLevel !== undefined && !LEVELS.includes(enforcementLevel)) {
            throw new Error(`parsing enforcement level for "${k}": "${enforcementLevel}" is not a valid enforcement level`);
        }
        if (enforcementLevel === undefined && Object.keys(properties).length === 0) continue;
        out[k] = { enforcementLevel, properties };
    }
    return out;
}

/** The subset of JSON schema policy config schemas here use: type, enum, minimum/maximum, items. */
function validateValue(schema: PolicyConfigPropertySchema, v: any, where: string): string[] {
    const errors: string[] = [];
    const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
    if (types.length > 0 && !types.some((t) => matchesType(t, v))) {
        return [`${where}: invalid type. Expected: ${types.join(" or ")}, given: ${jsonType(v)}`];
    }
    if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
        errors.push(`${where}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
    }
    if (typeof v === "number") {
        if (schema.minimum !== undefined && v < schema.minimum) errors.push(`${where}: must be >= ${schema.minimum}`);
        if (schema.maximum !== undefined && v > schema.maximum) errors.push(`${where}: must be <= ${schema.maximum}`);
    }
    if (Array.isArray(v) && schema.items) {
        v.forEach((e, i) => errors.push(...validateValue(schema.items!, e, `${where}.${i}`)));
    }
    return errors;
}

function matchesType(t: string, v: any): boolean {
    switch (t) {
        case "string": return typeof v === "string";
        case "number": return typeof v === "number";
        case "integer": return typeof v === "number" && Number.isInteger(v);
        case "boolean": return typeof v === "boolean";
        case "array": return Array.isArray(v);
        case "object": return !!v && typeof v === "object" && !Array.isArray(v);
        case "null": return v === null;
        default: return true;
    }
}

function jsonType(v: any): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "array";
    if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
    return typeof v;
}

function clone<T>(v: T): T {
    return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

function toPolicyMeta(p: analyzerproto.PolicyInfo): PolicyMeta {
    const m: PolicyMeta = {
        name: p.getName(),
        description: p.getDescription(),
        enforcementLevel: fromProtoLevel(p.getEnforcementlevel()),
        policyType: p.getPolicyType() === analyzerproto.PolicyType.POLICY_TYPE_RESOURCE
            ? "resource"
            : p.getPolicyType() === analyzerproto.PolicyType.POLICY_TYPE_STACK ? "stack" : "unknown",
    };
    const sev = fromProtoSeverity(p.getSeverity());
    if (sev) m.severity = sev;
    if (p.getDisplayname()) m.displayName = p.getDisplayname();
    const schema = p.getConfigschema();
    if (schema) {
        m.configSchema = {
            properties: (schema.getProperties()?.toJavaScript() ?? {}) as Record<string, PolicyConfigPropertySchema>,
            required: schema.getRequiredList(),
        };
    }
    return m;
}

function toProtoLevel(l: EnforcementLevel): analyzerproto.EnforcementLevel {
    switch (l) {
        case "advisory": return analyzerproto.EnforcementLevel.ADVISORY;
        case "mandatory": return analyzerproto.EnforcementLevel.MANDATORY;
        case "remediate": return analyzerproto.EnforcementLevel.REMEDIATE;
        case "disabled": return analyzerproto.EnforcementLevel.DISABLED;
        default: throw new Error(`invalid enforcement level "${l}"`);
    }
}

function fromProtoLevel(l: analyzerproto.EnforcementLevel): EnforcementLevel {
    switch (l) {
        case analyzerproto.EnforcementLevel.MANDATORY: return "mandatory";
        case analyzerproto.EnforcementLevel.REMEDIATE: return "remediate";
        case analyzerproto.EnforcementLevel.DISABLED: return "disabled";
        default: return "advisory";
    }
}

function fromProtoSeverity(s: analyzerproto.PolicySeverity): Severity | undefined {
    switch (s) {
        case analyzerproto.PolicySeverity.POLICY_SEVERITY_LOW: return "low";
        case analyzerproto.PolicySeverity.POLICY_SEVERITY_MEDIUM: return "medium";
        case analyzerproto.PolicySeverity.POLICY_SEVERITY_HIGH: return "high";
        case analyzerproto.PolicySeverity.POLICY_SEVERITY_CRITICAL: return "critical";
        default: return undefined;
    }
}

function call<T>(fn: (cb: (err: grpc.ServiceError | null, resp: T) => void) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        fn((err, resp) => (err ? reject(err) : resolve(resp)));
    });
}

function waitForPort(
    child: ChildProcess,
    pack: string,
    exited: Promise<number | null>,
    stderr: () => string,
    timeoutMs: number,
): Promise<number> {
    return new Promise<number>((resolve, reject) => {
        let buf = "";
        let done = false;
        const finish = (err?: Error, port?: number) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            child.stdout!.removeListener("data", onData);
            if (err) reject(err);
            else resolve(port!);
        };
        const onData = (d: Buffer) => {
            buf += d.toString();
            for (const line of buf.split(/\r?\n/)) {
                if (/^\d+$/.test(line.trim())) return finish(undefined, Number(line.trim()));
            }
        };
        child.stdout!.on("data", onData);
        // Keep draining stdout after the port so a chatty pack cannot block on a full pipe.
        child.stdout!.resume();
        const timer = setTimeout(
            () => finish(new Error(`policy pack "${pack}" did not print its gRPC port within ${timeoutMs} ms\n${stderr()}`)),
            timeoutMs,
        );
        child.once("error", (e) => finish(new Error(`policy pack "${pack}" could not start: ${e.message}`)));
        exited.then((code) =>
            finish(new Error(`policy pack "${pack}" exited with code ${code} before serving:\n${stderr() || buf}`)),
        );
    });
}
