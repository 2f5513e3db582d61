// The mock provider plugins, driven over gRPC the way the Pulumi engine drives them: the plugin
// executables (engine/providers/bin/pulumi-resource-*) are spawned, their port read from stdout,
// and Configure/Check/Diff/Create/Invoke/Construct called with @pulumi/pulumi/proto's clients.
// Construct needs an engine; a minimal ResourceMonitor here forwards the children it registers to
// the aws plugin (Check + Create), as the engine would.
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_MOCK_ENV, MockEnvironment, ProviderMocks, remoteComponentOutputs, buildContextDigest } from "../../offline-plan/mocks";
import { REPLACE_RULES, ReplaceRule } from "../../offline-plan/replacements";
import { MOCK_PROVIDER_VERSIONS } from "../../engine/providers/provider";
import { installMockProviders, installedPluginPath, wrapperScript } from "../../engine/providers/install";
import { execFileSync } from "child_process";

const root = path.resolve(__dirname, "..", "..", "..");
const providerServer = require.resolve("@pulumi/pulumi/provider/server");
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [path.dirname(providerServer)] }));
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const resrpc = require("@pulumi/pulumi/proto/resource_grpc_pb");
const resproto = require("@pulumi/pulumi/proto/resource_pb");
const enginerpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const engineproto = require("@pulumi/pulumi/proto/engine_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
const emptyproto = require("google-protobuf/google/protobuf/empty_pb");

const ENV: MockEnvironment = { ...DEFAULT_MOCK_ENV, region: "eu-west-1" };
const STACK_URN = "urn:pulumi:dev::mlops-platform::pulumi:pulumi:Stack::mlops-platform-dev";
const urnOf = (type: string, name: string) => `urn:pulumi:dev::mlops-platform::${type}::${name}`;

interface Plugin {
    proc: ChildProcess;
    client: any;
    stderr: string[];
}

function rpc<T = any>(client: any, method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) => client[method](req, (err: any, resp: T) => (err ? reject(err) : resolve(resp))));
}

async function startPlugin(name: string, engineAddress?: string): Promise<Plugin> {
    const proc = spawn(path.join(root, "engine", "providers", "bin", `pulumi-resource-${name}`), engineAddress ? [engineAddress] : [], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    proc.stderr!.on("data", (d) => stderr.push(String(d)));
    const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`plugin ${name} printed no port within 20 s; stderr: ${stderr.join("")}`)), 20_000);
        proc.stdout!.on("data", (d) => {
            out += String(d);
            const m = /^(\d+)\s*$/m.exec(out);
            if (m) {
                clearTimeout(timer);
                resolve(Number(m[1]));
            }
        });
        proc.on("exit", (code) => reject(new Error(`plugin ${name} exited with ${code}: ${stderr.join("")}`)));
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return { proc, client, stderr };
}

function struct(v: Record<string, unknown>): any {
    return structproto.Struct.fromJavaScript(JSON.parse(JSON.stringify(v)));
}

async function configure(p: Plugin, variables: Record<string, string>, args: Record<string, unknown> = {}): Promise<void> {
    const req = new provproto.ConfigureRequest();
    for (const [k, v] of Object.entries(variables)) {
        req.getVariablesMap().set(k, v);
    }
    req.setArgs(struct(args));
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    await rpc(p.client, "configure", req);
}

async function check(p: Plugin, type: string, name: string, inputs: Record<string, unknown>): Promise<Record<string, any>> {
    const req = new provproto.CheckRequest();
    req.setUrn(urnOf(type, name));
    req.setOlds(struct({}));
    req.setNews(struct(inputs));
    const resp = await rpc(p.client, "check", req);
    assert.equal(resp.getFailuresList().length, 0);
    return resp.getInputs().toJavaScript();
}

async function create(p: Plugin, type: string, name: string, inputs: Record<string, unknown>): Promise<{ id: string; outputs: Record<string, any> }> {
    const req = new provproto.CreateRequest();
    req.setUrn(urnOf(type, name));
    req.setProperties(struct(inputs));
    const resp = await rpc(p.client, "create", req);
    return { id: resp.getId(), outputs: resp.getProperties().toJavaScript() };
}

interface DiffAnswer {
    changes: number;
    replaces: string[];
    deleteBeforeReplace: boolean;
    detailed: Record<string, number>;
}

async function diff(p: Plugin, type: string, name: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffAnswer> {
    const oldChecked = await check(p, type, name, olds);
    const newChecked = await check(p, type, name, news);
    const created = await create(p, type, name, oldChecked);
    const req = new provproto.DiffRequest();
    req.setUrn(urnOf(type, name));
    req.setId(created.id);
    req.setOlds(struct(created.outputs));
    req.setOldInputs(struct(oldChecked));
    req.setNews(struct(newChecked));
    const resp = await rpc(p.client, "diff", req);
    const detailed: Record<string, number> = {};
    resp.getDetaileddiffMap().forEach((v: any, k: string) => (detailed[k] = v.getKind()));
    return { changes: resp.getChanges(), replaces: resp.getReplacesList(), deleteBeforeReplace: resp.getDeletebeforereplace(), detailed };
}

async function invoke(p: Plugin, token: string, args: Record<string, unknown>): Promise<Record<string, any>> {
    const req = new provproto.InvokeRequest();
    req.setTok(token);
    req.setArgs(struct(args));
    const resp = await rpc(p.client, "invoke", req);
    return resp.getReturn().toJavaScript();
}

/** What the offline plan's mock runtime answers for the same resource (JSON-normalised like a Struct). */
function mockRuntimeState(type: string, name: string, inputs: Record<string, unknown>): { id: string | undefined; state: Record<string, any> } {
    const r = new ProviderMocks(ENV, root).newResource({ type, name, inputs, custom: true } as any);
    return JSON.parse(JSON.stringify(r));
}

/** Sets a dotted path (`a.b.c`) in a fresh object. */
function at(property: string, value: unknown): Record<string, unknown> {
    const out: Record<string, any> = {};
    let cur = out;
    const parts = property.split(".");
    parts.forEach((p, i) => {
        cur[p] = i === parts.length - 1 ? value : {};
        cur = cur[p];
    });
    return out;
}

function merge(a: Record<string, any>, b: Record<string, any>): Record<string, any> {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) {
        out[k] = v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object" ? merge(out[k], v) : v;
    }
    return out;
}

function pluginOf(type: string): string {
    return type.split(":")[0];
}

describe("mock provider plugins (driven over gRPC like the engine does)", function () {
    this.timeout(60_000);
    const plugins: Record<string, Plugin> = {};

    before(async () => {
        for (const name of ["aws", "kubernetes", "docker"]) {
            plugins[name] = await startPlugin(name);
        }
        await configure(plugins.aws, { "aws:region": ENV.region }, { region: ENV.region });
        await configure(plugins.kubernetes, {}, {});
        await configure(plugins.docker, {}, {});
    });

    after(() => {
        for (const p of Object.values(plugins)) {
            p.client.close();
            p.proc.kill();
        }
    });

    it("serve exactly the versions the SDKs request", async () => {
        for (const [name, version] of Object.entries(MOCK_PROVIDER_VERSIONS)) {
            const pkg = require(path.join(root, "node_modules", "@pulumi", name, "package.json"));
            assert.equal(pkg.pulumi.version, version, `@pulumi/${name} requests ${pkg.pulumi.version}`);
        }
        const info = await rpc(plugins.aws.client, "getPluginInfo", new emptyproto.Empty());
        assert.equal(info.getVersion(), MOCK_PROVIDER_VERSIONS.aws);
    });

    describe("Create answers exactly what the offline plan's mock runtime computes (one implementation)", () => {
        const cases: [string, string, Record<string, unknown>][] = [
            ["aws:s3/bucket:Bucket", "data-raw", { tags: { team: "ml" } }],
            ["aws:ecr/repository:Repository", "repo", { name: "mlops/trainer", imageTagMutability: "IMMUTABLE" }],
            ["aws:iam/role:Role", "trainer", { assumeRolePolicy: "{}" }],
            ["aws:eks/cluster:Cluster", "ml", { name: "ml-dev", roleArn: "arn:aws:iam::1:role/x", vpcConfig: { subnetIds: ["subnet-1"] } }],
            ["aws:rds/instance:Instance", "db", { engine: "postgres", manageMasterUserPassword: true, port: 5432 }],
            ["aws:eks/nodeGroup:NodeGroup", "gpu", { clusterName: "ml-dev", instanceTypes: ["g5.xlarge"], subnetIds: ["subnet-1"] }],
            ["kubernetes:apps/v1:Deployment", "server", { metadata: { namespace: "serving" }, spec: { selector: { matchLabels: { app: "s" } } } }],
            ["kubernetes:core/v1:Service", "svc", { metadata: { name: "model", namespace: "serving" }, spec: { ports: [{ port: 80 }] } }],
        ];
        for (const [type, name, inputs] of cases) {
            it(`${type}`, async () => {
                const p = plugins[pluginOf(type)];
                const checked = await check(p, type, name, inputs);
                const created = await create(p, type, name, checked);
                const mock = mockRuntimeState(type, name, inputs);
                assert.equal(created.id, mock.id);
                assert.deepEqual(created.outputs, mock.state);
                assert.doesNotMatch(JSON.stringify(created.outputs), /undefined/);
            });
        }
    });

    it("Check adds what the real providers add: auto-names (with the bridge's __defaults) and the Kubernetes autonamed annotation", async () => {
        const bucket = await check(plugins.aws, "aws:s3/bucket:Bucket", "logs", {});
        assert.match(bucket.bucket, /^logs-[0-9a-f]{7}$/);
        assert.deepEqual(bucket.__defaults, ["bucket"]);
        const named = await check(plugins.aws, "aws:s3/bucket:Bucket", "logs", { bucket: "my-logs" });
        assert.deepEqual(named.__defaults, []);
        const cm = await check(plugins.kubernetes, "kubernetes:core/v1:ConfigMap", "cfg", { metadata: { namespace: "x" } });
        assert.match(cm.metadata.name, /^cfg-[0-9a-f]{7}$/);
        assert.equal(cm.metadata.annotations["pulumi.com/autonamed"], "true");
    });

    describe("Diff answers replace from the one table (offline-plan/replacements.ts)", () => {
        const sample = (rule: ReplaceRule) => (rule.type === "kubernetes:*" ? "kubernetes:core/v1:Namespace" : rule.type);
        for (const rule of REPLACE_RULES) {
            it(`${rule.type} ${rule.property}: a change replaces`, async () => {
                const type = sample(rule);
                const p = plugins[pluginOf(type)];
                const d = await diff(p, type, "r", at(rule.property, "one"), at(rule.property, "two"));
                assert.equal(d.changes, provproto.DiffResponse.DiffChanges.DIFF_SOME);
                assert.deepEqual(d.replaces, [rule.property.split(".")[0]]);
                assert.equal(d.detailed[rule.property], provproto.PropertyDiff.Kind.UPDATE_REPLACE);
            });
        }
        it("a change no rule covers updates in place (one per provider family)", async () => {
            for (const type of ["aws:eks/nodeGroup:NodeGroup", "kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job", "aws:eks/cluster:Cluster"]) {
                const p = plugins[pluginOf(type)];
                const base = type.startsWith("kubernetes:") ? { metadata: { name: "n", labels: { v: "1" } }, spec: { replicas: 1 } } : { tags: { v: "1" }, version: "1.33" };
                const changed = type.startsWith("kubernetes:")
                    ? merge(base, { metadata: { labels: { v: "2" } }, spec: { replicas: 2 } })
                    : merge(base, { tags: { v: "2" }, version: "1.34" });
                const d = await diff(p, type, "r", base, changed);
                assert.equal(d.changes, provproto.DiffResponse.DiffChanges.DIFF_SOME, type);
                assert.deepEqual(d.replaces, [], type);
            }
        });
        it("unchanged inputs report no changes", async () => {
            const inputs = { metadata: { name: "m", namespace: "serving" }, spec: { selector: { matchLabels: { app: "m" } }, template: {} } };
            const d = await diff(plugins.kubernetes, "kubernetes:apps/v1:Deployment", "m", inputs, inputs);
            assert.equal(d.changes, provproto.DiffResponse.DiffChanges.DIFF_NONE);
        });
        it("a named Kubernetes object is deleted before it is replaced; an auto-named one is not", async () => {
            const job = (image: string, name?: string) => ({ metadata: { namespace: "ml", ...(name ? { name } : {}) }, spec: { template: { spec: { containers: [{ image }] } } } });
            const named = await diff(plugins.kubernetes, "kubernetes:batch/v1:Job", "train", job("a:1", "train"), job("a:2", "train"));
            assert.deepEqual(named.replaces, ["spec"]);
            assert.equal(named.deleteBeforeReplace, true);
            const auto = await diff(plugins.kubernetes, "kubernetes:batch/v1:Job", "train", job("a:1"), job("a:2"));
            assert.deepEqual(auto.replaces, ["spec"]);
            assert.equal(auto.deleteBeforeReplace, false);
        });
        it("an explicitly named AWS resource is deleted before it is replaced (bridge __defaults); an auto-named one is not", async () => {
            const named = await diff(plugins.aws, "aws:eks/nodeGroup:NodeGroup", "gpu", { nodeGroupName: "gpu", instanceTypes: ["g5.xlarge"] }, { nodeGroupName: "gpu", instanceTypes: ["g6.xlarge"] });
            assert.deepEqual([named.replaces, named.deleteBeforeReplace], [["instanceTypes"], true]);
            const auto = await diff(plugins.aws, "aws:eks/nodeGroup:NodeGroup", "gpu", { instanceTypes: ["g5.xlarge"] }, { instanceTypes: ["g6.xlarge"] });
            assert.deepEqual([auto.replaces, auto.deleteBeforeReplace], [["instanceTypes"], false]);
        });
        it("ConfigMap data replaces unless the kubernetes provider sets enableConfigMapMutable", async () => {
            const mutable = await startPlugin("kubernetes");
            try {
                await configure(mutable, {}, { enableConfigMapMutable: "true" });
                const d = await diff(mutable, "kubernetes:core/v1:ConfigMap", "c", { data: { a: "1" } }, { data: { a: "2" } });
                assert.deepEqual([d.changes, d.replaces], [provproto.DiffResponse.DiffChanges.DIFF_SOME, []]);
            } finally {
                mutable.client.close();
                mutable.proc.kill();
            }
        });
        it("docker Image: registry credentials never trigger a rebuild (docker v4 Diff)", async () => {
            const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
            fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM scratch\n");
            const img = (password: string) => ({ imageName: "r:1", build: { context: ctx, platform: "linux/amd64" }, registry: { server: "s", username: "AWS", password } });
            const d = await diff(plugins.docker, "docker:index/image:Image", "i", img("p1"), img("p2"));
            assert.equal(d.changes, provproto.DiffResponse.DiffChanges.DIFF_NONE);
        });
    });

    describe("Invoke", () => {
        it("answers like the offline plan's mock runtime, with the configured region (no arn:undefined)", async () => {
            const mocks = new ProviderMocks(ENV);
            for (const token of ["aws:index/getPartition:getPartition", "aws:index/getRegion:getRegion", "aws:index/getCallerIdentity:getCallerIdentity"]) {
                const answer = await invoke(plugins.aws, token, {});
                assert.deepEqual(answer, mocks.call({ token, inputs: {} }));
                assert.doesNotMatch(JSON.stringify(answer), /undefined/);
            }
            assert.equal((await invoke(plugins.aws, "aws:index/getRegion:getRegion", {})).name, "eu-west-1");
            const addon = await invoke(plugins.aws, "aws:eks/getAddonVersion:getAddonVersion", { addonName: "vpc-cni", kubernetesVersion: "1.33" });
            assert.match(addon.version, /^v1\.\d+\.\d-eksbuild\.1$/);
        });
        it("fails on an unknown token, naming it", async () => {
            await assert.rejects(invoke(plugins.aws, "aws:ec2/getAmi:getAmi", { owners: ["amazon"] }), /aws:ec2\/getAmi:getAmi/);
            await assert.rejects(invoke(plugins.kubernetes, "kubernetes:helm:template", {}), /kubernetes:helm:template/);
        });
    });

    describe("docker image digest", () => {
        function copyOfContext(parent: string): string {
            const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), parent)), "images", "mlflow");
            fs.mkdirSync(path.join(dir, "src"), { recursive: true });
            fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM python:3.12-slim\nCOPY src /app\n");
            fs.writeFileSync(path.join(dir, "src", "main.py"), "print('hi')\n");
            return dir;
        }
        it("is the same for two copies of a context in different folders, and changes with the content", async () => {
            const a = copyOfContext("checkout-a-");
            const b = copyOfContext("other-place-");
            const image = (context: string) => ({ imageName: "1.dkr.ecr/x:1", build: { context, dockerfile: path.join(context, "Dockerfile"), platform: "linux/amd64", args: { V: "1" } } });
            const digestOf = async (context: string) => (await create(plugins.docker, "docker:index/image:Image", "img", await check(plugins.docker, "docker:index/image:Image", "img", image(context)))).outputs.repoDigest;
            const [da, db] = [await digestOf(a), await digestOf(b)];
            assert.equal(da, db);
            assert.equal(mockRuntimeState("docker:index/image:Image", "img", image(a)).state.repoDigest, da);
            assert.equal(buildContextDigest(a, "Dockerfile"), buildContextDigest(b, "Dockerfile"));
            fs.writeFileSync(path.join(b, "src", "main.py"), "print('changed')\n");
            assert.notEqual(await digestOf(b), da);
        });
        it("resolves a relative context against the program folder (the plugin's working directory)", async () => {
            const checked = await check(plugins.docker, "docker:index/image:Image", "img", { imageName: "x:1", build: { context: "images/mlflow", platform: "linux/amd64" } });
            assert.equal(checked.build.contextDigest, buildContextDigest(path.join(root, "images", "mlflow"), undefined));
        });
    });

    describe("Construct (remote components) against a minimal engine", () => {
        let monitor: any;
        let monitorPort = 0;
        const registered: { type: string; name: string; custom: boolean; parent: string; urn: string }[] = [];
        const outputsOf: Record<string, any> = {};

        before(async () => {
            monitor = new grpc.Server();
            const qualified = (parent: string, type: string) => {
                const parentType = parent.split("::")[2] ?? "";
                return parentType === "" || parentType === "pulumi:pulumi:Stack" ? type : `${parentType}$${type}`;
            };
            monitor.addService(resrpc.ResourceMonitorService, {
                supportsFeature: (call: any, cb: any) => {
                    const resp = new resproto.SupportsFeatureResponse();
                    resp.setHassupport(["secrets", "resourceReferences"].includes(call.request.getId()));
                    cb(null, resp);
                },
                registerResource: async (call: any, cb: any) => {
                    try {
                        const req = call.request;
                        const type = req.getType();
                        const name = req.getName();
                        const parent = req.getParent() || STACK_URN;
                        const urn = `urn:pulumi:dev::mlops-platform::${qualified(parent, type)}::${name}`;
                        registered.push({ type, name, custom: req.getCustom(), parent, urn });
                        const resp = new resproto.RegisterResourceResponse();
                        resp.setUrn(urn);
                        if (req.getCustom()) {
                            // As the engine: Check + Create with the package's plugin.
                            const props = req.getObject().toJavaScript();
                            const checked = await check(plugins[pluginOf(type)], type, name, props);
                            const created = await create(plugins[pluginOf(type)], type, name, checked);
                            resp.setId(created.id);
                            resp.setObject(struct(created.outputs));
                        } else {
                            resp.setObject(struct({}));
                        }
                        cb(null, resp);
                    } catch (e) {
                        cb(e);
                    }
                },
                registerResourceOutputs: (call: any, cb: any) => {
                    outputsOf[call.request.getUrn()] = call.request.getOutputs()?.toJavaScript();
                    cb(null, new emptyproto.Empty());
                },
            });
            monitor.addService(enginerpc.EngineService, {
                log: (_call: any, cb: any) => cb(null, new emptyproto.Empty()),
                getRootResource: (_call: any, cb: any) => {
                    const resp = new engineproto.GetRootResourceResponse();
                    resp.setUrn(STACK_URN);
                    cb(null, resp);
                },
                setRootResource: (_call: any, cb: any) => cb(null, new engineproto.SetRootResourceResponse()),
            });
            monitorPort = await new Promise<number>((resolve, reject) =>
                monitor.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: any, port: number) => (err ? reject(err) : resolve(port))),
            );
        });

        after(() => monitor?.forceShutdown());

        async function construct(pkg: string, type: string, name: string, inputs: Record<string, unknown>): Promise<{ urn: string; state: Record<string, any> }> {
            const p = await startPlugin(pkg, `127.0.0.1:${monitorPort}`);
            try {
                await configure(p, {});
                const req = new provproto.ConstructRequest();
                req.setProject("mlops-platform");
                req.setStack("dev");
                req.setMonitorendpoint(`127.0.0.1:${monitorPort}`);
                req.setDryrun(false);
                req.setParallel(4);
                req.setType(type);
                req.setName(name);
                req.setParent(STACK_URN);
                req.setInputs(struct(inputs));
                req.getConfigMap().set("aws:region", ENV.region);
                const resp = await rpc(p.client, "construct", req);
                return { urn: resp.getUrn(), state: resp.getState().toJavaScript() };
            } finally {
                p.client.close();
                p.proc.kill();
            }
        }

        it("awsx ec2:Vpc registers the component and its children, and returns the ids the offline plan computes", async () => {
            const inputs = {
                cidrBlock: "10.20.0.0/16",
                numberOfAvailabilityZones: 3,
                natGateways: { strategy: "Single" },
                subnetSpecs: [
                    { type: "Private", cidrMask: 19 },
                    { type: "Public", cidrMask: 22 },
                ],
                tags: { Name: "net" },
            };
            const { urn, state } = await construct("awsx", "awsx:ec2:Vpc", "net-vpc", inputs);
            assert.equal(urn, "urn:pulumi:dev::mlops-platform::awsx:ec2:Vpc::net-vpc");
            const expected = remoteComponentOutputs("awsx:ec2:Vpc", "net-vpc", inputs, ENV);
            assert.equal(state.vpcId, expected.vpcId);
            assert.match(state.vpcId, /^vpc-[0-9a-f]{17}$/);
            assert.deepEqual(state.privateSubnetIds, expected.privateSubnetIds);
            assert.deepEqual(state.publicSubnetIds, expected.publicSubnetIds);
            assert.equal(state.privateSubnetIds.length, 3);
            const children = registered.filter((r) => r.parent === urn);
            const count = (t: string) => children.filter((c) => c.type === t).length;
            assert.deepEqual(
                [count("aws:ec2/vpc:Vpc"), count("aws:ec2/subnet:Subnet"), count("aws:ec2/natGateway:NatGateway"), count("aws:ec2/internetGateway:InternetGateway")],
                [1, 6, 1, 1],
            );
            assert.ok(children.every((c) => c.urn.includes("awsx:ec2:Vpc$aws:ec2/")), "children are parented to the component");
            assert.ok(outputsOf[urn], "the component registered its outputs");
        });

        it("Helm v4 Chart registers the component and returns resources: []", async () => {
            const { urn, state } = await construct("kubernetes", "kubernetes:helm.sh/v4:Chart", "gw-controller", { chart: "oci://x/y", version: "v1", namespace: "gw" });
            assert.equal(urn, "urn:pulumi:dev::mlops-platform::kubernetes:helm.sh/v4:Chart::gw-controller");
            assert.deepEqual(state.resources, []);
        });
    });

    describe("installMockProviders", () => {
        // The CLI engine/build-cli.sh builds (PULUMI_CLI overrides); these specs skip without it.
        const cli = process.env.PULUMI_CLI ?? path.join(os.homedir(), ".cache", "mlops-platform", "engine", "pulumi-v3.248.0", "bin", "pulumi");
        it("installs every plugin at its version with `pulumi plugin install`, and a second call is a fast no-op", async function () {
            if (!fs.existsSync(cli)) {
                this.skip();
            }
            const home = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-home-"));
            const env = { ...process.env, PULUMI_HOME: home, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" };
            try {
                const first = await installMockProviders(cli, env);
                assert.equal(first.installed.length, Object.keys(MOCK_PROVIDER_VERSIONS).length);
                const listed = JSON.parse(execFileSync(cli, ["plugin", "ls", "--json"], { env, encoding: "utf8" }));
                assert.deepEqual(
                    listed.map((p: any) => `${p.name}@${p.version}`).sort(),
                    Object.entries(MOCK_PROVIDER_VERSIONS).map(([n, v]) => `${n}@${v}`).sort(),
                );
                const started = Date.now();
                const second = await installMockProviders(cli, env);
                assert.deepEqual(second.installed, []);
                assert.equal(second.alreadyInstalled.length, Object.keys(MOCK_PROVIDER_VERSIONS).length);
                assert.ok(Date.now() - started < 1000, `second install took ${Date.now() - started} ms`);
            } finally {
                fs.rmSync(home, { recursive: true, force: true });
            }
        });

        it("installs a wrapper that runs this checkout's compiled plugin with this node", () => {
            const script = wrapperScript("aws", "/x/dist/engine/providers/main.js", "/usr/bin/node");
            assert.match(script, /^#!\/bin\/sh\n/);
            assert.match(script, /exec "\/usr\/bin\/node" "\/x\/dist\/engine\/providers\/main.js" aws "\$@"/);
            assert.equal(installedPluginPath({ PULUMI_HOME: "/h" }, "aws", "7.48.0"), "/h/plugins/resource-aws-v7.48.0/pulumi-resource-aws");
        });
    });
});
