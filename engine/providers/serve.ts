// Serves a MockProvider with @pulumi/pulumi/provider's `main` (gRPC server on 127.0.0.1:0, port on
// stdout, like every plugin). Two RPCs need more than the `Provider` interface passes through, so the
// ResourceProviderService implementation `main` registers is extended before it is added:
// - Configure: the interface never sees the provider configuration; we need `aws:region` (ARNs,
//   endpoints) and kubernetes' `enableConfigMapMutable`/`enableSecretMutable` (replace rules).
// - Diff: the interface gets the old OUTPUTS only; real providers diff against the old INPUTS (the
//   engine sends them as `old_inputs`) and report a detailed diff with property paths.
import * as path from "path";
import { MockProvider, MockProviderName, isMockProviderName, MOCK_PROVIDER_VERSIONS } from "./provider";

const providerServer = require.resolve("@pulumi/pulumi/provider/server");
// The @grpc/grpc-js instance @pulumi/pulumi's server uses (patching another copy would do nothing).
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [path.dirname(providerServer)] }));
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
const providerMain: (p: MockProvider, args: string[]) => Promise<void> = require("@pulumi/pulumi/provider").main;

const KIND = {
    add: [provproto.PropertyDiff.Kind.ADD, provproto.PropertyDiff.Kind.ADD_REPLACE],
    delete: [provproto.PropertyDiff.Kind.DELETE, provproto.PropertyDiff.Kind.DELETE_REPLACE],
    update: [provproto.PropertyDiff.Kind.UPDATE, provproto.PropertyDiff.Kind.UPDATE_REPLACE],
} as const;

function extend(impl: any, mock: MockProvider): any {
    const configure = impl.configure.bind(impl);
    impl.configure = (call: any, callback: any) => {
        try {
            const variables: Record<string, string> = {};
            for (const [k, v] of call.request.getVariablesMap().entries()) {
                variables[k] = v;
            }
            const args = call.request.getArgs()?.toJavaScript() ?? {};
            mock.configure(variables, args);
        } catch (e) {
            callback(e, undefined);
            return;
        }
        // Like the real aws and kubernetes providers, support preview: the engine then calls Create
        // during `pulumi preview` and takes its answer as the resource's planned outputs. Without it
        // every new resource has no outputs at preview, and stack policies (AnalyzeStack reads
        // outputs) would judge empty objects.
        configure(call, (err: any, resp: any) => {
            if (resp) {
                resp.setSupportspreview(true);
            }
            callback(err, resp);
        });
    };
    const create = impl.create.bind(impl);
    impl.create = (call: any, callback: any) => {
        const req = call.request;
        if (!req.getPreview()) {
            create(call, callback);
            return;
        }
        try {
            const resp = new provproto.CreateResponse();
            resp.setId("");
            resp.setProperties(structproto.Struct.fromJavaScript(mock.previewOutputs(req.getUrn(), req.getProperties().toJavaScript())));
            callback(undefined, resp);
        } catch (e) {
            callback(e, undefined);
        }
    };
    // CheckConfig/DiffConfig: accept any configuration, and say whether it changed, so the engine
    // neither fails on UNIMPLEMENTED nor replaces providers needlessly.
    impl.checkConfig = (call: any, callback: any) => {
        const resp = new provproto.CheckResponse();
        resp.setInputs(call.request.getNews());
        callback(undefined, resp);
    };
    impl.diffConfig = (call: any, callback: any) => {
        const req = call.request;
        const olds = req.hasOldInputs() ? req.getOldInputs().toJavaScript() : req.getOlds().toJavaScript();
        const news = req.getNews().toJavaScript();
        const changed = JSON.stringify(sortKeys(olds)) !== JSON.stringify(sortKeys(news));
        const resp = new provproto.DiffResponse();
        resp.setChanges(changed ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
        callback(undefined, resp);
    };
    impl.diff = (call: any, callback: any) => {
        try {
            const req = call.request;
            const olds = req.hasOldInputs() ? req.getOldInputs().toJavaScript() : req.getOlds().toJavaScript();
            const d = mock.diffDetailed(req.getUrn(), olds, req.getNews().toJavaScript());
            const resp = new provproto.DiffResponse();
            resp.setChanges(d.changes ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
            resp.setReplacesList(d.replaces);
            resp.setDiffsList(d.diffs);
            resp.setDeletebeforereplace(d.deleteBeforeReplace);
            resp.setHasdetaileddiff(true);
            const detailed = resp.getDetaileddiffMap();
            for (const c of d.detailed) {
                const pd = new provproto.PropertyDiff();
                pd.setKind(KIND[c.kind][c.replace ? 1 : 0]);
                pd.setInputdiff(true);
                detailed.set(c.path, pd);
            }
            callback(undefined, resp);
        } catch (e) {
            callback(e, undefined);
        }
    };
    return impl;
}

function sortKeys(v: any): any {
    if (Array.isArray(v)) {
        return v.map(sortKeys);
    }
    if (v !== null && typeof v === "object") {
        return Object.fromEntries(
            Object.keys(v)
                .sort()
                .map((k) => [k, sortKeys(v[k])]),
        );
    }
    return v;
}

/** Starts the plugin for `pkg` (argv after the package name are the engine's plugin arguments). */
export async function serveMockProvider(pkg: string, args: string[]): Promise<void> {
    if (!isMockProviderName(pkg)) {
        throw new Error(`mock provider: unknown package '${pkg}'; one of ${Object.keys(MOCK_PROVIDER_VERSIONS).join(", ")}`);
    }
    const mock = new MockProvider(pkg as MockProviderName);
    const addService = grpc.Server.prototype.addService;
    grpc.Server.prototype.addService = function (service: unknown, impl: unknown) {
        grpc.Server.prototype.addService = addService;
        return addService.call(this, service, extend(impl, mock));
    };
    await providerMain(mock, args);
}
