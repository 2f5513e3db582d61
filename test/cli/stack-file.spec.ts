import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { keepCommittedStackFile } from "../../cli/stack-file";

const ROOT = path.resolve(__dirname, "..", "..", "..");

// What `pulumi stack init dev` (v3.248.0, passphrase provider) wrote over the committed file.
const REWRITTEN_PREFIX = "encryptionsalt: v1:4OJmFEXrrm0=:v1:0u7Ww5Zq3Nq0Xv9x:ZJx0oZ9d8k2r1Q==\nconfig:\n  aws:region: us-east-1\n  mlops-platform:forceDestroy: \"true\"\n";

describe("stack init keeps the committed stack file", () => {
    it("adds only the secrets-provider line, before config:, and keeps every other byte", () => {
        for (const stack of ["dev", "prod"]) {
            const committed = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
            const kept = keepCommittedStackFile(committed, REWRITTEN_PREFIX);
            const salt = "encryptionsalt: v1:4OJmFEXrrm0=:v1:0u7Ww5Zq3Nq0Xv9x:ZJx0oZ9d8k2r1Q==\n";
            assert.equal(kept.replace(salt, ""), committed, `${stack}: nothing but the salt line changes`);
            assert.ok(kept.indexOf(salt) < kept.indexOf("\nconfig:") + 1);
        }
    });

    it("records a cloud secrets provider's two lines", () => {
        const rewritten = "secretsprovider: awskms://alias/mlops\nencryptedkey: AQICAHh==\nconfig:\n  a: \"1\"\n";
        assert.equal(keepCommittedStackFile("# comment\nconfig:\n  a: 1\n", rewritten), "# comment\nsecretsprovider: awskms://alias/mlops\nencryptedkey: AQICAHh==\nconfig:\n  a: 1\n");
    });

    it("leaves a file that already records its provider byte-identical, and refuses a changed one", () => {
        const committed = "encryptionsalt: v1:abc\nconfig:\n  a: 1\n";
        assert.equal(keepCommittedStackFile(committed, "encryptionsalt: v1:abc\nconfig:\n  a: \"1\"\n"), committed);
        assert.throws(() => keepCommittedStackFile(committed, "encryptionsalt: v1:other\nconfig: {}\n"), /changed 'encryptionsalt'/);
    });
});
