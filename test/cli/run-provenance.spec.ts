// The candidate-provenance rule of `mlops gate` (issue 12 #8), as a pure function.
import * as assert from "node:assert/strict";
import type { MlflowRun } from "../../cli/mlflow-client";
import { checkRunProvenance, trainingIdentityOf } from "../../cli/run-provenance";

function run(userId: string | undefined, experimentId = "7", mlflowUser?: string): MlflowRun {
    return {
        info: { run_id: "r1", experiment_id: experimentId, status: "FINISHED", lifecycle_stage: "active", ...(userId !== undefined ? { user_id: userId } : {}) },
        data: { tags: mlflowUser !== undefined ? [{ key: "mlflow.user", value: mlflowUser }] : [] },
    };
}

describe("run provenance (mlops gate)", () => {
    const identity = { authEnabled: true, trainingUser: "mlops-training", experimentName: "credit-risk" };

    it("reads the training identity from a stack's config, with the default user", () => {
        assert.deepEqual(
            trainingIdentityOf({ "mlops-platform:trackingAuthAdminSecret": "mlflow-admin", "mlops-platform:training": { experimentName: "credit-risk" } }),
            identity,
        );
        assert.deepEqual(trainingIdentityOf({ "mlops-platform:trackingTrainingUser": "trainer-bot" }), { authEnabled: false, trainingUser: "trainer-bot", experimentName: undefined });
    });

    it("accepts a run of the training user in the training experiment", () => {
        assert.deepEqual(checkRunProvenance(run("mlops-training", "7", "mlops-training"), identity, "7"), { problems: [], notes: [] });
    });

    it("refuses another user, in user_id or in the mlflow.user tag, naming both and the config key", () => {
        assert.deepEqual(checkRunProvenance(run("mlops-serving"), identity, "7").problems, [
            'run r1 was logged by "mlops-serving", not by the training identity "mlops-training" (mlops-platform:trackingTrainingUser): its metrics are not trusted',
        ]);
        assert.equal(checkRunProvenance(run("mlops-training", "7", "admin"), identity, "7").problems.length, 1);
        assert.match(checkRunProvenance(run(undefined), identity, "7").problems[0], /names no user .* expected mlops-training/);
    });

    it("refuses a run outside the training experiment, or when that experiment cannot be found", () => {
        assert.match(checkRunProvenance(run("mlops-training", "9"), identity, "7").problems[0], /belongs to experiment 9, not to the training experiment "credit-risk" \(7\)/);
        assert.match(checkRunProvenance(run("mlops-training"), identity, undefined).problems[0], /training experiment "credit-risk" does not exist/);
        // A stack that does not train (prod promotes models trained elsewhere): the user only, with a note.
        const r = checkRunProvenance(run("mlops-training"), { ...identity, experimentName: undefined });
        assert.deepEqual(r.problems, []);
        assert.match(r.notes[0], /experiment is not checked/);
    });

    it("checks nothing, and says so, without basic auth", () => {
        const r = checkRunProvenance(run("anyone"), { ...identity, authEnabled: false }, "7");
        assert.deepEqual(r.problems, []);
        assert.match(r.notes[0], /provenance not checked: MLflow basic auth is off/);
    });
});
