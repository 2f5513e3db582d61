// A mock provider plugin for the real Pulumi engine: one implementation of `@pulumi/pulumi/provider`'s
// Provider, parameterised by package (aws, awsx, docker, docker-build, kubernetes). Every answer
// comes from offline-plan/mocks.ts (inputs the provider's Check adds, outputs, invokes, remote
// component layouts) and offline-plan/replacements.ts (which changes replace), the same code the
// offline plan runs under Pulumi's mock runtime — so `mlops plan` and `pulumi preview/up` agree.
import * as pulumi from "@pulumi/pulumi";
import * as provider from "@pulumi/pulumi/provider";
import {
    DEFAULT_MOCK_ENV,
    K8S_AUTONAMED_ANNOTATION,
    MockEnvironment,
    REMOTE_COMPONENTS,
    answerInvoke,
    checkInputs,
    resolveChildRefs,
    resourceState,
    unwrapSecrets,
} from "../../offline-plan/mocks";
import { changedPaths, replacingPaths } from "../../offline-plan/replacements";

/** The plugins and the exact versions the SDKs in package.json request (their package.json `pulumi` block). */
export const MOCK_PROVIDER_VERSIONS = {
    aws: "7.48.0",
    awsx: "3.9.0",
    docker: "4.11.2",
    "docker-build": "0.0.14",
    kubernetes: "4.34.2",
} as const;

export type MockProviderName = keyof typeof MOCK_PROVIDER_VERSIONS;

export function isMockProviderName(name: string): name is MockProviderName {
    return Object.prototype.hasOwnProperty.call(MOCK_PROVIDER_VERSIONS, name);
}

/** Type and logical name from a URN `urn:pulumi:<stack>::<project>::<parent$type>::<name>`. */
export function parseUrn(urn: string): { type: string; name: string } {
    const parts = urn.split("::");
    if (parts.length < 4) {
        throw new Error(`mock provider: malformed URN '${urn}'`);
    }
    const qualified = parts[2];
    return { type: qualified.split("$").pop()!, name: parts.slice(3).join("::") };
}

/** One property change as the engine's detailed diff reports it. */
export interface PropertyChange {
    path: string;
    kind: "add" | "delete" | "update";
    replace: boolean;
}

export interface DetailedDiff {
    changes: boolean;
    /** Top-level input properties whose change forces replacement. */
    replaces: string[];
    /** Top-level input properties that changed. */
    diffs: string[];
    detailed: PropertyChange[];
    deleteBeforeReplace: boolean;
}

/** Bookkeeping keys the providers keep in their checked inputs (not user inputs). */
const INTERNAL_KEYS = ["__defaults"];
/** The plugin protocol's encoding of an unknown value (sdk/go/common/resource/plugin/rpc.go UnknownStringValue). */
const PREVIEW_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function comparable(inputs: Record<string, any> | undefined): Record<string, any> {
    const plain = unwrapSecrets(inputs ?? {});
    for (const k of INTERNAL_KEYS) {
        delete plain[k];
    }
    return plain;
}

function topKey(path: string): string {
    const m = /^([^.[]+)/.exec(path);
    return m ? m[1] : path;
}

function getPath(obj: any, path: string): unknown {
    // Only used for existence checks on add/delete; paths are dotted or ["quoted"].
    const parts = path.match(/[^.[\]"]+|\["[^"]*"\]/g) ?? [];
    let cur = obj;
    for (const raw of parts) {
        const key = raw.startsWith('["') ? raw.slice(2, -2) : raw;
        if (cur === null || typeof cur !== "object") {
            return undefined;
        }
        cur = cur[key];
    }
    return cur;
}

/** A child resource of a constructed component, of any type (created by its package's plugin). */
class ChildResource extends pulumi.CustomResource {
    constructor(type: string, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super(type, name, props, opts);
    }
}

/** The component resource a Construct registers (type and name as the program declared them). */
class ConstructedComponent extends pulumi.ComponentResource {
    publish(outputs: pulumi.Inputs): void {
        this.registerOutputs(outputs);
    }
}

export class MockProvider implements provider.Provider {
    public readonly version: string;
    /** Account/region/partition answered; region from the provider configuration (`aws:region`). */
    public env: MockEnvironment = { ...DEFAULT_MOCK_ENV };
    /** The provider's configuration (Configure `args`), e.g. kubernetes `enableConfigMapMutable`. */
    public config: Record<string, unknown> = {};

    constructor(
        public readonly pkg: MockProviderName,
        /** Folder relative docker build contexts resolve against: the engine starts plugins in the program's folder. */
        private readonly cwd: string = process.cwd(),
    ) {
        this.version = MOCK_PROVIDER_VERSIONS[pkg];
    }

    /** Configure: remembers the provider configuration (variables `aws:region`, args `region`, ...). */
    configure(variables: Record<string, string>, args: Record<string, unknown>): void {
        this.config = { ...args };
        const region = (args.region as string | undefined) ?? variables[`${this.pkg}:region`] ?? variables["aws:region"];
        if (typeof region === "string" && region !== "") {
            this.env = { ...this.env, region };
        }
    }

    private own(type: string, what: string): void {
        if (!type.startsWith(`${this.pkg}:`)) {
            throw new Error(`mock ${this.pkg} provider: ${what} for '${type}', which belongs to another package`);
        }
    }

    async check(urn: string, _olds: any, news: any): Promise<provider.CheckResult> {
        const { type, name } = parseUrn(urn);
        this.own(type, "Check");
        return { inputs: checkInputs(type, name, news ?? {}, { cwd: this.cwd }) };
    }

    /** Diff between the old inputs (the engine sends them as `old_inputs`) and the new checked inputs. */
    diffDetailed(urn: string, oldInputs: Record<string, any>, news: Record<string, any>): DetailedDiff {
        const { type } = parseUrn(urn);
        this.own(type, "Diff");
        const olds = comparable(oldInputs);
        const next = comparable(news);
        let paths = changedPaths(olds, next);
        if (type === "docker:index/image:Image") {
            // docker v4 Diff: registry credentials change often and never trigger a rebuild.
            paths = paths.filter((p) => !/^registry\.(username|password)$/.test(p));
        }
        const replacing = new Set(replacingPaths(type, paths, this.config));
        const detailed: PropertyChange[] = paths.map((path) => ({
            path,
            kind: getPath(olds, path) === undefined ? "add" : getPath(next, path) === undefined ? "delete" : "update",
            replace: replacing.has(path),
        }));
        const replaces = [...new Set([...replacing].map(topKey))].sort();
        return {
            changes: paths.length > 0,
            replaces,
            diffs: [...new Set(paths.map(topKey))].sort(),
            detailed,
            deleteBeforeReplace: replaces.length > 0 && this.deleteBeforeReplace(type, olds, news),
        };
    }

    /**
     * When a replacement must delete first because the new object cannot coexist with the old:
     * - kubernetes (provider.go Diff): the object is not auto-named and keeps its name and namespace;
     * - aws (terraform bridge nameRequiresDeleteBeforeReplace): an auto-nameable property was set
     *   by the program rather than by the auto-namer (not listed in `__defaults`).
     */
    private deleteBeforeReplace(type: string, olds: Record<string, any>, news: Record<string, any>): boolean {
        const next = unwrapSecrets(news);
        if (type.startsWith("kubernetes:")) {
            const m = next.metadata ?? {};
            const o = olds.metadata ?? {};
            const autonamed = m.annotations?.[K8S_AUTONAMED_ANNOTATION] === "true";
            return !autonamed && m.name === o.name && (m.namespace ?? "") === (o.namespace ?? "");
        }
        if (type.startsWith("aws:") && Array.isArray(next.__defaults)) {
            const generated = new Set<string>(next.__defaults);
            const nameProps = ["name", "namePrefix", "bucket", "bucketPrefix", "identifier", "identifierPrefix", "nodeGroupName", "nodeGroupNamePrefix"];
            return nameProps.some((p) => next[p] !== undefined && !generated.has(p));
        }
        return false;
    }

    async diff(_id: string, urn: string, olds: any, news: any): Promise<provider.DiffResult> {
        const d = this.diffDetailed(urn, olds, news);
        return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
    }

    async create(urn: string, inputs: any): Promise<provider.CreateResult> {
        const { type, name } = parseUrn(urn);
        this.own(type, "Create");
        const { id, state } = resourceState(type, name, inputs, this.env, this.cwd);
        return { id, outs: state };
    }

    /**
     * Planned outputs at preview, as the real providers plan them: the checked inputs as given
     * (unknown ones stay unknown), and every output only the provider computes unknown.
     */
    previewOutputs(urn: string, inputs: Record<string, any>): Record<string, any> {
        const { type, name } = parseUrn(urn);
        this.own(type, "Create");
        let computed: Record<string, any> = {};
        try {
            computed = resourceState(type, name, inputs, this.env, this.cwd).state;
        } catch {
            // Inputs still unknown at preview: only the inputs are planned.
        }
        const out: Record<string, any> = {};
        for (const k of Object.keys(computed)) {
            out[k] = PREVIEW_UNKNOWN;
        }
        return { ...out, ...inputs };
    }

    async read(id: string, urn: string, props?: any): Promise<provider.ReadResult> {
        const { type } = parseUrn(urn);
        this.own(type, "Read");
        // Nothing drifts: the "cloud" holds exactly what was last written.
        return { id, props: props ?? {} };
    }

    async update(_id: string, urn: string, _olds: any, news: any): Promise<provider.UpdateResult> {
        const { type, name } = parseUrn(urn);
        this.own(type, "Update");
        return { outs: resourceState(type, name, news, this.env, this.cwd).state };
    }

    async delete(): Promise<void> {
        // Deleting mock state needs no work; protection is enforced by the engine before this call.
    }

    async invoke(token: string, inputs: any): Promise<provider.InvokeResult> {
        if (!token.startsWith(`${this.pkg}:`)) {
            throw new Error(`mock ${this.pkg} provider: no answer for invoke '${token}'`);
        }
        return { outputs: answerInvoke(token, inputs ?? {}, this.env) };
    }

    async call(token: string): Promise<provider.InvokeResult> {
        throw new Error(`mock ${this.pkg} provider: no answer for method call '${token}'; add it to engine/providers/provider.ts`);
    }

    /**
     * Construct for the remote components (awsx `ec2:Vpc`, kubernetes `helm.sh/v4:Chart`), the way a
     * multi-language component provider does it: register the component resource with the options
     * the engine sent, register its children under it (they are then created by the aws plugin like
     * any resource), register the component's outputs, and return its URN and state.
     */
    async construct(name: string, type: string, inputs: pulumi.Inputs, options: pulumi.ComponentResourceOptions): Promise<provider.ConstructResult> {
        this.own(type, "Construct");
        const layoutOf = REMOTE_COMPONENTS[type];
        if (!layoutOf) {
            throw new Error(`mock ${this.pkg} provider: no component '${type}'; it serves ${Object.keys(REMOTE_COMPONENTS).filter((t) => t.startsWith(`${this.pkg}:`)).join(", ") || "none"}`);
        }
        // Input values (unknown parts are undefined during a first preview; the layout has defaults).
        const plain: Record<string, any> = (await (pulumi.output(inputs) as any).promise()) ?? {};
        const region = new pulumi.Config("aws").get("region") ?? this.env.region;
        const layout = layoutOf(name, plain, { ...this.env, region });
        const component = new ConstructedComponent(type, name, {}, options);
        const children = new Map<string, ChildResource>();
        for (const child of layout.children) {
            const childInputs = resolveChildRefs(child.inputs, (key) => children.get(key)!.id);
            children.set(child.key, new ChildResource(child.type, child.name, childInputs, { parent: component }));
        }
        const state: Record<string, any> = {};
        for (const [key, value] of Object.entries(layout.outputs)) {
            if (value === undefined) {
                continue;
            }
            const asResource = layout.resourceOutputs.includes(key);
            state[key] = resolveChildRefs(value, (k) => (asResource ? children.get(k)! : children.get(k)!.id));
        }
        component.publish(state);
        return { urn: component.urn, state };
    }
}
