import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ContainerRegistry, contextDigest, portableBuildPath, validateContainerRegistryArgs } from "../../components/containerRegistry";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory, one, ofType, policyDoc } from "../helpers/resources";

function tempContext(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlops-ctx-"));
    for (const [f, body] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), body);
    }
    return dir;
}

describe("ContainerRegistry", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;
    let context: string;

    before(async () => {
        context = tempContext({ Dockerfile: "FROM python:3.11-slim\n", "train.py": "print('hi')\n" });
        const rec = await recordResources(() => {
            const reg = new ContainerRegistry("reg", {
                namePrefix: "mlops-dev",
                repositories: ["trainer", "server"],
                pullPrincipalArns: ["arn:aws:iam::123456789012:role/node"],
                images: [{ repository: "trainer", context }],
            });
            return { urls: reg.repositoryUrls, refs: reg.imageRefs, arns: reg.repositoryArns };
        });
        resources = rec.resources;
        outputs = rec.outputs;
    });

    it("declares exactly the expected children", () => {
        assert.deepEqual(
            inventory(resources),
            [
                "mlops-platform:index:ContainerRegistry reg",
                "aws:kms/key:Key reg-key",
                "aws:ecr/repository:Repository reg-trainer",
                "aws:ecr/repository:Repository reg-server",
                "aws:ecr/lifecyclePolicy:LifecyclePolicy reg-trainer-lifecycle",
                "aws:ecr/lifecyclePolicy:LifecyclePolicy reg-server-lifecycle",
                "aws:ecr/repositoryPolicy:RepositoryPolicy reg-trainer-policy",
                "aws:ecr/repositoryPolicy:RepositoryPolicy reg-server-policy",
                "docker:index/image:Image reg-trainer-image",
            ].sort(),
        );
    });

    it("creates immutable, scanned, KMS-encrypted repositories named under the prefix", () => {
        const key = one(resources, "aws:kms/key:Key", "reg-key");
        assert.equal(key.inputs.enableKeyRotation, true);
        for (const name of ["trainer", "server"]) {
            const repo = one(resources, "aws:ecr/repository:Repository", `reg-${name}`);
            assert.equal(repo.inputs.name, `mlops-dev/${name}`);
            assert.equal(repo.inputs.imageTagMutability, "IMMUTABLE");
            assert.equal(repo.inputs.imageScanningConfiguration.scanOnPush, true);
            assert.deepEqual(repo.inputs.encryptionConfigurations, [{ encryptionType: "KMS", kmsKey: key.outputs.arn }]);
            assert.equal(repo.inputs.forceDelete, false);
        }
        assert.deepEqual(outputs.urls, {
            trainer: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev/trainer",
            server: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev/server",
        });
        assert.equal(outputs.arns.server, "arn:aws:ecr:us-east-1:123456789012:repository/mlops-dev/server");
    });

    it("expires untagged images and keeps the last N tagged", () => {
        const policy = JSON.parse(one(resources, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "reg-trainer-lifecycle").inputs.policy);
        assert.deepEqual(policy.rules[0].selection, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 7 });
        assert.deepEqual(policy.rules[1].selection, { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: 50 });
    });

    it("lets only the given roles pull", () => {
        const doc = policyDoc(one(resources, "aws:ecr/repositoryPolicy:RepositoryPolicy", "reg-server-policy"));
        assert.equal(doc.Statement.length, 1);
        assert.deepEqual(doc.Statement[0].Principal, { AWS: ["arn:aws:iam::123456789012:role/node"] });
        assert.deepEqual(doc.Statement[0].Action, ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]);
    });

    it("builds the image with a content-hash tag, ECR credentials as a secret, and outputs a digest-pinned reference", () => {
        const image = one(resources, "docker:index/image:Image", "reg-trainer-image");
        const tag = `src-${contextDigest(context).slice(0, 12)}`;
        assert.equal(image.inputs.imageName, `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev/trainer:${tag}`);
        assert.equal(image.inputs.build.platform, "linux/amd64");
        // The provider gets the context relative to the working directory (the project folder under
        // `pulumi up`), never an absolute path, and no dockerfile when it is the context's Dockerfile.
        assert.equal(image.inputs.build.context, path.relative(process.cwd(), context).split(path.sep).join("/"));
        assert.ok(!path.isAbsolute(image.inputs.build.context));
        assert.equal(image.inputs.build.dockerfile, undefined);
        assert.ok(image.secretInputs.includes("registry"), "registry credentials are secret");
        assert.equal(image.inputs.registry.password, "[secret]");
        assert.match(outputs.refs.trainer, /^123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/mlops-dev\/trainer@sha256:[0-9a-f]{64}$/);
    });

    it("uses a given KMS key instead of creating one, and no repository policy without pullers", async () => {
        const { resources: rs } = await recordResources(() => {
            new ContainerRegistry("r2", { namePrefix: "p", repositories: ["server"], kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/abc", forceDelete: true });
        });
        assert.equal(ofType(rs, "aws:kms/key:Key").length, 0);
        assert.equal(ofType(rs, "aws:ecr/repositoryPolicy:RepositoryPolicy").length, 0);
        const repo = one(rs, "aws:ecr/repository:Repository", "r2-server");
        assert.equal(repo.inputs.encryptionConfigurations[0].kmsKey, "arn:aws:kms:us-east-1:123456789012:key/abc");
        assert.equal(repo.inputs.forceDelete, true);
    });

    it("protects repositories and the key when asked", async () => {
        const { resources: rs } = await recordResources(() => {
            new ContainerRegistry("r3", { namePrefix: "p", repositories: ["server"], protect: true });
        });
        for (const r of [one(rs, "aws:ecr/repository:Repository", "r3-server"), one(rs, "aws:kms/key:Key", "r3-key")]) {
            assert.equal(r.protect, true);
            assert.equal(r.retainOnDelete, true);
        }
    });
});

describe("portableBuildPath", () => {
    it("makes build paths relative to the working directory with / separators", () => {
        assert.equal(portableBuildPath("/work/repo/images/mlflow", "/work/repo"), "images/mlflow");
        assert.equal(portableBuildPath("images/mlflow", "/work/repo"), "images/mlflow");
        assert.equal(portableBuildPath("/work/repo", "/work/repo"), ".");
        assert.equal(portableBuildPath("/work/shared/ctx", "/work/repo"), "../shared/ctx");
    });
});

describe("contextDigest", () => {
    it("changes when a file changes and not otherwise", () => {
        const a = tempContext({ Dockerfile: "FROM x\n", "a.py": "1" });
        const b = tempContext({ Dockerfile: "FROM x\n", "a.py": "1" });
        const c = tempContext({ Dockerfile: "FROM x\n", "a.py": "2" });
        assert.equal(contextDigest(a), contextDigest(b));
        assert.notEqual(contextDigest(a), contextDigest(c));
    });
});

describe("validateContainerRegistryArgs", () => {
    const ok = { namePrefix: "mlops-dev", repositories: ["trainer"] };
    it("accepts valid args", () => validateContainerRegistryArgs(ok));
    it("rejects an uppercase prefix", () => assertInvalid(() => validateContainerRegistryArgs({ ...ok, namePrefix: "Mlops" }), "namePrefix"));
    it("rejects an empty repository list", () => assertInvalid(() => validateContainerRegistryArgs({ ...ok, repositories: [] }), "repositories"));
    it("rejects a bad repository name", () => assertInvalid(() => validateContainerRegistryArgs({ ...ok, repositories: ["Trainer_1"] }), "repositories[0]"));
    it("rejects duplicates", () => assertInvalid(() => validateContainerRegistryArgs({ ...ok, repositories: ["a", "a"] }), "repositories", /repeat/));
    it("rejects the latest tag", () =>
        assertInvalid(() => validateContainerRegistryArgs({ ...ok, images: [{ repository: "trainer", context: tempContext({ Dockerfile: "" }), tag: "latest" }] }), "images[0].tag"));
    it("rejects an image for an unknown repository", () =>
        assertInvalid(() => validateContainerRegistryArgs({ ...ok, images: [{ repository: "other", context: tempContext({ Dockerfile: "" }) }] }), "images[0].repository"));
    it("rejects a context without a Dockerfile", () =>
        assertInvalid(() => validateContainerRegistryArgs({ ...ok, images: [{ repository: "trainer", context: os.tmpdir() + "/does-not-exist" }] }), "images[0].context"));
    it("rejects protect with forceDelete", () => assertInvalid(() => validateContainerRegistryArgs({ ...ok, protect: true, forceDelete: true }), "forceDelete"));
    it("rejects zero retention", () => assertInvalid(() => validateContainerRegistryArgs({ ...ok, keepTaggedCount: 0 }), "keepTaggedCount"));
});
