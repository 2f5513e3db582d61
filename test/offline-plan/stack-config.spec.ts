import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { listStacks, loadStackConfig, SECURE_CONFIG_PLACEHOLDER, StackConfigError } from "../../offline-plan/stack-config";

const ROOT = path.resolve(__dirname, "..", "..", "..");

function project(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-proj-"));
    for (const [f, body] of Object.entries(files)) {
        fs.writeFileSync(path.join(dir, f), body);
    }
    return dir;
}

const PROJECT_YAML = `name: demo
runtime: nodejs
config:
  size:
    type: integer
    default: 3
  name:
    type: string
    default: base
  flags:
    type: array
    items:
      type: string
    default: [a]
  aws:region: us-west-2
`;

describe("loadStackConfig", () => {
    it("refuses a stack that lacks a key Pulumi.yaml declares without a default, as the CLI does", () => {
        const yaml = `name: demo\nruntime: nodejs\nconfig:\n  vpc:\n    description: no default\n  zones:\n    description: none either\n  size:\n    type: integer\n    default: 3\n`;
        const dir = project({ "Pulumi.yaml": yaml, "Pulumi.dev.yaml": "config:\n  demo:zones: [a]\n" });
        assert.throws(() => loadStackConfig(dir, "dev"), (e: Error) => e instanceof StackConfigError && /Stack 'dev' is missing configuration value 'vpc'/.test(e.message));
        const two = project({ "Pulumi.yaml": yaml, "Pulumi.dev.yaml": "config: {}\n" });
        assert.throws(() => loadStackConfig(two, "dev"), /missing configuration values 'vpc' and 'zones'/);
    });

    it("the project's Pulumi.yaml declares only keys with a default, so every committed stack passes the CLI's check", () => {
        for (const stack of listStacks(ROOT)) {
            assert.doesNotThrow(() => loadStackConfig(ROOT, stack), stack);
        }
        // An empty stack file, as `pulumi stack init` of a new stack leaves it, is accepted too.
        const dir = project({ "Pulumi.yaml": fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"), "Pulumi.fresh.yaml": "config: {}\n" });
        assert.doesNotThrow(() => loadStackConfig(dir, "fresh"));
    });

    it("merges Pulumi.yaml defaults with the stack file, namespacing keys as the CLI does", () => {
        const dir = project({ "Pulumi.yaml": PROJECT_YAML, "Pulumi.dev.yaml": "config:\n  demo:name: dev-name\n  other:key: 1\n" });
        const c = loadStackConfig(dir, "dev");
        assert.deepEqual(c.config, {
            "demo:size": "3",
            "demo:name": "dev-name",
            "demo:flags": '["a"]',
            "aws:region": "us-west-2",
            "other:key": "1",
        });
        assert.deepEqual(c.secretKeys, []);
        assert.equal(c.project, "demo");
    });

    it("replaces secure values with a marked placeholder and records the key as secret", () => {
        const dir = project({
            "Pulumi.yaml": PROJECT_YAML,
            "Pulumi.dev.yaml": "config:\n  demo:token:\n    secure: AAABAJx1\n  demo:nested:\n    user: u\n    pass:\n      secure: AAAB\n",
        });
        const c = loadStackConfig(dir, "dev");
        assert.equal(c.config["demo:token"], SECURE_CONFIG_PLACEHOLDER);
        assert.deepEqual(JSON.parse(c.config["demo:nested"]), { user: "u", pass: SECURE_CONFIG_PLACEHOLDER });
        assert.deepEqual(c.secretKeys, ["demo:nested", "demo:token"]);
    });

    it("rejects a value of the wrong declared type, naming the key", () => {
        const dir = project({ "Pulumi.yaml": PROJECT_YAML, "Pulumi.dev.yaml": "config:\n  demo:size: big\n" });
        assert.throws(() => loadStackConfig(dir, "dev"), (e: any) => e instanceof StackConfigError && /demo:size/.test(e.message) && /integer/.test(e.message));
    });

    it("gives a clear error for a malformed stack file, with its line", () => {
        const dir = project({ "Pulumi.yaml": PROJECT_YAML, "Pulumi.dev.yaml": "config:\n  demo:name: [unclosed\n" });
        assert.throws(() => loadStackConfig(dir, "dev"), (e: any) => /Pulumi\.dev\.yaml is not valid YAML at line \d+/.test(e.message));
    });

    it("lists the stacks that exist when the stack is unknown", () => {
        assert.throws(() => loadStackConfig(ROOT, "staging"), (e: any) => /no stack named 'staging'.*stacks: dev, prod/.test(e.message));
        assert.deepEqual(listStacks(ROOT), ["dev", "prod"]);
    });
});
