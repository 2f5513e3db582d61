/**
 * The PyTorch trainer's image: built from Dockerfile.torch into its own repository only for a stack
 * that trains with it, and what the training Job runs; the images carry the scripts their commands
 * name.
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { TORCH_TRAINER_DOCKERFILE, TORCH_TRAINER_REPOSITORY, parsePlatformConfig } from "../../config/schema";
import { runProgram } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid } from "../helpers/resources";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const EXAMPLE = path.join(ROOT, "examples", "credit-risk");
const images = (rs: RecordedResource[]) => rs.filter((r) => r.type === "docker:index/image:Image");
const trainingJobs = (rs: RecordedResource[]) =>
    rs.filter((r) => r.type === "kubernetes:batch/v1:Job" && r.inputs?.metadata?.namespace === "ml-training" && /train/.test(r.name) && !/ingest|bootstrap/.test(r.name));

/** The files a Dockerfile's `COPY ... /app/` lines put in the image. */
function copiedToApp(dockerfile: string): string[] {
    const text = fs.readFileSync(path.join(EXAMPLE, dockerfile), "utf8");
    return text
        .split("\n")
        .filter((l) => /^COPY\b/.test(l) && /\/app\/\s*$/.test(l))
        .flatMap((l) => l.replace(/^COPY\s+/, "").split(/\s+/).filter((t) => t && !t.startsWith("--") && t !== "/app/"));
}

describe("PyTorch trainer image (training.trainer: pytorch)", function () {
    this.timeout(240_000);
    const training = (trainer: string) =>
        JSON.stringify({ modelName: "credit-risk", experimentName: "credit-risk", dataPrefix: "credit-risk/2026-11-01/", dataVersion: "2026-11-01", trainer, cpu: "2", memory: "8Gi" });

    it("a stack training with pytorch builds Dockerfile.torch into trainer-torch, and its Job runs that image under torchrun", async () => {
        const run = await runProgram({
            root: ROOT,
            stack: "dev",
            configOverrides: {
                "mlops-platform:training": training("pytorch"),
                "mlops-platform:repositories": JSON.stringify(["trainer", "mlflow", "server", TORCH_TRAINER_REPOSITORY]),
            },
        });
        const built = images(run.resources);
        const torch = built.filter((r) => String(r.inputs.imageName).includes(`/${TORCH_TRAINER_REPOSITORY}:`));
        assert.equal(torch.length, 1, `one ${TORCH_TRAINER_REPOSITORY} image build, got ${built.map((r) => r.inputs.imageName).join(", ")}`);
        // Relative to the program's working directory (dist/, where Pulumi runs main), as every build path.
        assert.equal(path.resolve(ROOT, "dist", torch[0].inputs.build.dockerfile), path.join(EXAMPLE, TORCH_TRAINER_DOCKERFILE));
        const jobs = trainingJobs(run.resources);
        assert.equal(jobs.length, 1, `one training Job, got ${jobs.map((j) => j.name).join(", ")}`);
        const c = jobs[0].inputs.spec.template.spec.containers[0];
        assert.match(c.image, new RegExp(`/${TORCH_TRAINER_REPOSITORY}@sha256:`));
        assert.deepEqual(c.command.slice(0, 2), ["torchrun", "/app/train_torch.py"]);
    });

    it("a scikit-learn stack builds no PyTorch image, and its Job runs the trainer image", async () => {
        const run = await runProgram({ root: ROOT, stack: "dev" });
        assert.deepEqual(images(run.resources).filter((r) => String(r.inputs.imageName).includes(TORCH_TRAINER_REPOSITORY)), []);
        const c = trainingJobs(run.resources)[0].inputs.spec.template.spec.containers[0];
        assert.match(c.image, /\/trainer@sha256:/);
        assert.deepEqual(c.command.slice(0, 2), ["python", "/app/train.py"]);
    });

    it("pytorch without the trainer-torch repository is a config error naming repositories", () => {
        assertInvalid(
            () => parsePlatformConfig({ training: training("pytorch") }, { project: "mlops-platform", stack: "dev" }),
            "mlops-platform:repositories",
            /must include "trainer-torch" when training.trainer is pytorch/,
        );
    });

    it("each image carries the scripts its commands and imports need; only the PyTorch image carries torch", () => {
        const sklearn = copiedToApp("Dockerfile");
        const torch = copiedToApp(TORCH_TRAINER_DOCKERFILE);
        // train.py imports validate (and data_contract) and sweep; validation/ingestion Jobs run validate.py/ingest.py.
        for (const f of ["train.py", "sweep.py", "validate.py", "data_contract.py", "ingest.py", "drift.py"]) {
            assert.ok(sklearn.includes(f), `Dockerfile copies ${f}`);
            assert.ok(torch.includes(f), `${TORCH_TRAINER_DOCKERFILE} copies ${f}`);
        }
        assert.ok(torch.includes("train_torch.py") && !sklearn.includes("train_torch.py"));
        for (const f of [...sklearn, ...torch]) assert.ok(fs.existsSync(path.join(EXAMPLE, f)), `${f} exists`);
        const reqs = fs.readFileSync(path.join(EXAMPLE, "requirements.txt"), "utf8");
        const torchReqs = fs.readFileSync(path.join(EXAMPLE, "requirements-torch.txt"), "utf8");
        assert.doesNotMatch(reqs, /^torch==/m);
        assert.match(torchReqs, /^-r requirements\.txt$/m);
        const pin = /^torch==(\S+)$/m.exec(torchReqs)?.[1];
        const contractPin = /^TORCH_VERSION="(\S+)"$/m.exec(fs.readFileSync(path.join(ROOT, "test", "contract", "torch-venv.sh"), "utf8"))?.[1];
        assert.ok(pin && pin === contractPin, `requirements-torch.txt torch==${pin} equals torch-venv.sh ${contractPin}`);
    });
});
