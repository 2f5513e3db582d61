import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { loadStackGate } from "../../cli/gate";
import { renderPackConfig, renderPulumiYaml, renderReadme, undeclaredOptionalKeys } from "../../cli/gen-config";
import { parseServingConfig } from "../../components/servingConfig";
import { CONFIG_KEYS, parsePlatformConfig } from "../../config/schema";
import { assertInvalid } from "../helpers/resources";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const ctx = { project: "mlops-platform", stack: "dev" };

describe("stack configuration schema", () => {
    it("Pulumi.yaml declares every key that has a default, with type, description and default, generated from the schema", () => {
        const text = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
        assert.equal(renderPulumiYaml(text), text, "Pulumi.yaml is stale: run npm run gen:config");
        const declared = YAML.parse(text).config;
        assert.deepEqual(Object.keys(declared).sort(), CONFIG_KEYS.filter((k) => k.default !== undefined).map((k) => k.key).sort());
        // The CLI makes a declaration without `default` required; optional keys are left undeclared.
        for (const [key, decl] of Object.entries<any>(declared)) {
            assert.ok(decl.default !== undefined || decl.value !== undefined, `${key} is declared without a default, so the CLI would require it in every stack`);
        }
        assert.deepEqual(undeclaredOptionalKeys().sort(), CONFIG_KEYS.filter((k) => k.default === undefined).map((k) => k.key).sort());
        assert.ok(text.includes(undeclaredOptionalKeys().join(", ")), "Pulumi.yaml names the optional keys it leaves undeclared");
        for (const spec of CONFIG_KEYS.filter((k) => k.type !== "object" && k.items !== "object")) {
            assert.equal(declared[spec.key].type, spec.type, spec.key);
            assert.ok(declared[spec.key].description, `${spec.key} has a description`);
            assert.deepEqual(declared[spec.key].default, spec.default, `${spec.key} default`);
        }
    });

    it("the README configuration reference is generated and current", () => {
        const text = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        assert.equal(renderReadme(text), text, "README.md config reference is stale: run npm run gen:config");
        for (const spec of CONFIG_KEYS) {
            assert.ok(text.includes(`\`mlops-platform:${spec.key}\``), `README documents ${spec.key}`);
        }
    });

    it("the per-pack policy configs (for `pulumi --policy-pack-config`) are generated from policies/config/<stack>.json and current", () => {
        for (const stack of ["dev", "prod"]) {
            const combined = fs.readFileSync(path.join(ROOT, "policies", "config", `${stack}.json`), "utf8");
            const all = Object.keys(JSON.parse(combined));
            const seen: string[] = [];
            for (const pack of ["security", "gating"] as const) {
                const file = path.join(ROOT, "policies", "config", `${pack}.${stack}.json`);
                assert.equal(fs.readFileSync(file, "utf8"), renderPackConfig(combined, pack, stack), `${file} is stale: run npm run gen:config`);
                seen.push(...Object.keys(JSON.parse(fs.readFileSync(file, "utf8"))));
            }
            assert.deepEqual(seen.sort(), all.sort(), "every configured policy lands in exactly one pack file");
        }
        assert.throws(() => renderPackConfig('{"no-such-policy": "mandatory"}', "security", "x.json"), /no-such-policy/);
    });

    it("mlops gate reads the gate the program uses: serving.thresholds and significance of the stack file", () => {
        for (const stack of ["dev", "prod"]) {
            const serving = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config["mlops-platform:serving"];
            assert.deepEqual(loadStackGate(ROOT, stack).config, parseServingConfig(serving).gate, stack);
        }
    });

    it("stack files only set keys the schema knows", () => {
        for (const stack of ["dev", "prod"]) {
            const cfg = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config;
            for (const key of Object.keys(cfg).filter((k) => k.startsWith("mlops-platform:"))) {
                assert.ok(CONFIG_KEYS.some((s) => `mlops-platform:${s.key}` === key), `${stack}: ${key} is declared`);
            }
        }
    });

    it("defaults parse into a complete PlatformConfig", () => {
        const c = parsePlatformConfig({ githubRepository: "example-org/mlops-platform" }, ctx);
        assert.equal(c.environment, "dev");
        assert.deepEqual(c.registry.repositories, ["trainer", "mlflow", "server"]);
        assert.equal(c.registry.buildImages, true, "images are built from source and pinned by digest by default");
        assert.equal(c.dataLake.rawTransitionIaDays, 30);
    });

    it("rejects an unknown environment, naming key, value and allowed values", () =>
        assertInvalid(() => parsePlatformConfig({ environment: "qa" }, ctx), "mlops-platform:environment", /"dev", "staging", "prod", got "qa"/));
    it("rejects a non-integer", () => assertInvalid(() => parsePlatformConfig({ multipartAbortDays: "soon" }, ctx), "mlops-platform:multipartAbortDays", /integer/));
    it("rejects an out-of-range integer", () => assertInvalid(() => parsePlatformConfig({ rawTransitionIaDays: "7" }, ctx), "mlops-platform:rawTransitionIaDays", /from 30/));
    it("rejects a non-boolean", () => assertInvalid(() => parsePlatformConfig({ forceDestroy: "yes" }, ctx), "mlops-platform:forceDestroy", /true or false/));
    it("rejects a bad repository name", () => assertInvalid(() => parsePlatformConfig({ repositories: '["ok","Bad Name"]' }, ctx), "mlops-platform:repositories[1]"));
    it("rejects a list given as a scalar", () => assertInvalid(() => parsePlatformConfig({ repositories: "trainer" }, ctx), "mlops-platform:repositories", /list/));
    it("rejects unknown keys (typos)", () => assertInvalid(() => parsePlatformConfig({ forceDestory: "true" }, ctx), "mlops-platform:forceDestory", /not a known key/));
    it("rejects protection with forceDestroy", () =>
        assertInvalid(() => parsePlatformConfig({ protectStatefulResources: "true", forceDestroy: "true" }, ctx), "mlops-platform:forceDestroy"));
    it("validates the training block, naming each property", () => {
        const t = { modelName: "m", experimentName: "e", dataPrefix: "p/", dataVersion: "1" };
        assert.equal(parsePlatformConfig({ githubRepository: "o/r", training: JSON.stringify({ ...t, gitSha: "0123abc" }) }, ctx).training!.gitSha, "0123abc");
        assertInvalid(() => parsePlatformConfig({ training: JSON.stringify({ ...t, gitSha: "HEAD" }) }, ctx), "mlops-platform:training.gitSha", /commit SHA/);
        assertInvalid(() => parsePlatformConfig({ training: JSON.stringify({ ...t, hyperparameters: { "max-depth": 3 } }) }, ctx), "mlops-platform:training.hyperparameters.max-depth", /snake_case/);
        assertInvalid(() => parsePlatformConfig({ training: JSON.stringify({ ...t, gpus: 40 }) }, ctx), "mlops-platform:training.gpus");
        assertInvalid(() => parsePlatformConfig({ training: JSON.stringify({ ...t, epochs: 3 }) }, ctx), "mlops-platform:training.epochs", /not a known property/);
    });
    it("validates the data loop blocks (pipelineTrigger, ingestion, training.dataBucket), naming each config key", () => {
        const trig = parsePlatformConfig({ githubRepository: "o/r", pipelineTrigger: JSON.stringify({ target: { kind: "github" }, prefix: "credit-risk/" }) }, ctx).pipelineTrigger!;
        assert.deepEqual(trig.target, { kind: "github", repository: "o/r" }, "the GitHub target defaults to githubRepository");
        assertInvalid(() => parsePlatformConfig({ pipelineTrigger: JSON.stringify({ target: { kind: "github", repository: "bad" } }) }, ctx), "mlops-platform:pipelineTrigger.target.repository");
        assertInvalid(() => parsePlatformConfig({ pipelineTrigger: JSON.stringify({ target: { kind: "gitlab", projectId: 7 }, retry: { maximumRetryAttempts: 500 } }) }, ctx), "mlops-platform:pipelineTrigger.retry.maximumRetryAttempts");
        assertInvalid(() => parsePlatformConfig({ pipelineTrigger: JSON.stringify({ target: { kind: "gitlab", projectId: 7 }, suffix: "*.json" }) }, ctx), "mlops-platform:pipelineTrigger.suffix");
        assertInvalid(() => parsePlatformConfig({ pipelineTrigger: JSON.stringify({ target: { kind: "gitlab", projectId: 7 }, token: "glpat-x" }) }, ctx), "mlops-platform:pipelineTrigger.token", /not a known property/);
        assertInvalid(() => parsePlatformConfig({ pipelineTrigger: JSON.stringify({ target: { kind: "gitlab", projectId: 7 }, alarmActions: ["x"] }) }, ctx), "mlops-platform:pipelineTrigger.alarmActions");
        const ing = { dataset: "credit-risk", schedule: "30 1 * * *", source: { uri: "s3://exports/credit/{date}/" } };
        assert.deepEqual(parsePlatformConfig({ githubRepository: "o/r", ingestion: JSON.stringify(ing) }, ctx).ingestion, ing);
        assertInvalid(() => parsePlatformConfig({ ingestion: JSON.stringify({ ...ing, source: { uri: "ftp://x/" } }) }, ctx), "mlops-platform:ingestion.source.uri");
        assertInvalid(() => parsePlatformConfig({ ingestion: JSON.stringify({ ...ing, schedule: "nightly" }) }, ctx), "mlops-platform:ingestion.schedule");
        assertInvalid(() => parsePlatformConfig({ ingestion: JSON.stringify({ ...ing, dataset: "Credit Risk" }) }, ctx), "mlops-platform:ingestion.dataset");
        const t = { modelName: "m", experimentName: "e", dataPrefix: "p/", dataVersion: "1" };
        assert.equal(parsePlatformConfig({ githubRepository: "o/r", training: JSON.stringify(t) }, ctx).training!.dataBucket, "processed");
        assertInvalid(() => parsePlatformConfig({ training: JSON.stringify({ ...t, dataBucket: "artifacts" }) }, ctx), "mlops-platform:training.dataBucket");
    });
    it("validates GPU pools, naming pool and property", () => {
        assertInvalid(
            () => parsePlatformConfig({ gpuPools: JSON.stringify([{ name: "t", instanceTypes: ["m6i.large"], capacityType: "SPOT", minSize: 0, maxSize: 1 }]) }, ctx),
            "mlops-platform:gpuPools[0].instanceTypes[0]",
            /GPU instance type/,
        );
        assertInvalid(
            () => parsePlatformConfig({ gpuPools: JSON.stringify([{ name: "t", instanceTypes: ["g5.xlarge"], capacityType: "SPOT", minSize: 3, maxSize: 1 }]) }, ctx),
            "mlops-platform:gpuPools[0].minSize",
        );
    });
    it("refuses alert receivers without a Secret reference (no credentials in config)", () =>
        assertInvalid(() => parsePlatformConfig({ alertReceivers: JSON.stringify([{ name: "platform", type: "slack", url: "https://hooks..." }]) }, ctx), "mlops-platform:alertReceivers[0].secret"));
    it("names serving errors as mlops-platform:serving.<path>", () =>
        assertInvalid(() => parsePlatformConfig({ serving: JSON.stringify({ strategy: "rolling" }) }, ctx), "mlops-platform:serving.strategy"));
    it("rejects Glacier before IA", () =>
        assertInvalid(() => parsePlatformConfig({ rawTransitionIaDays: "60", rawTransitionGlacierDays: "45" }, ctx), "mlops-platform:rawTransitionGlacierDays"));
});
