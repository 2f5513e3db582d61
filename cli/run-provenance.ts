// Who logged the candidate's metrics (issue 12 #8): `mlops gate` trusts a candidate's metrics only
// when its run was logged by the training identity.
//
// What this can and cannot prove. MLflow stores a run's `user_id` (and the client's `mlflow.user`
// tag) as the client sends them; the server does not stamp the authenticated user on the run
// (mlflow/server/handlers.py `_create_run` of the pinned MLflow). The guarantee therefore rests on
// the permissions basic auth enforces: with `default_permission = NO_PERMISSIONS`, only the
// training user (EDIT) and administrators can create runs or log metrics in the training
// experiment. The gate checks both halves it can see: the run lives in the training experiment,
// and it names the training user (the TrainingJob sets LOGNAME from the credential Secret, so the
// MLflow client records that name). A run logged anywhere else, or by another user that a
// widened grant let into the experiment, is refused.
import type { MlflowRun } from "./mlflow-client";

const PROJECT = "mlops-platform";

/** What the stack says about the training identity (from Pulumi.<stack>.yaml). */
export interface TrainingIdentity {
    /** Basic auth is on (`trackingAuthAdminSecret` set): without it anyone could have logged the run. */
    authEnabled: boolean;
    /** `trackingTrainingUser` (default `mlops-training`). */
    trainingUser: string;
    /** `training.experimentName`, when the stack trains. */
    experimentName?: string;
}

/** Default of `trackingTrainingUser` (config/schema.ts). */
export const DEFAULT_TRAINING_USER = "mlops-training";

/** Reads the training identity from a stack file's config values (keys with or without the project prefix). */
export function trainingIdentityOf(config: Record<string, unknown>): TrainingIdentity {
    const get = (key: string): unknown => config[`${PROJECT}:${key}`] ?? config[key];
    const admin = get("trackingAuthAdminSecret");
    const user = get("trackingTrainingUser");
    const training = get("training") as { experimentName?: unknown } | undefined;
    return {
        authEnabled: typeof admin === "string" && admin !== "",
        trainingUser: typeof user === "string" && user !== "" ? user : DEFAULT_TRAINING_USER,
        experimentName: typeof training?.experimentName === "string" ? training.experimentName : undefined,
    };
}

export interface ProvenanceResult {
    /** Reasons to refuse the candidate; empty when its provenance holds (or cannot be judged). */
    problems: string[];
    /** Notes to print (e.g. why nothing was checked). */
    notes: string[];
}

/**
 * Checks that `run` was logged by the training identity: its `user_id` and `mlflow.user` tag name
 * the training user, and it belongs to the training experiment (`trainingExperimentId`, resolved
 * from `identity.experimentName` by the caller). With basic auth off, nothing identifies a client,
 * so the check is skipped with a note saying so.
 */
export function checkRunProvenance(run: MlflowRun, identity: TrainingIdentity, trainingExperimentId?: string): ProvenanceResult {
    if (!identity.authEnabled) {
        return {
            problems: [],
            notes: [
                `provenance not checked: MLflow basic auth is off in this stack (${PROJECT}:trackingAuthAdminSecret), ` +
                    `so any client that reaches the server could have logged run ${run.info.run_id}`,
            ],
        };
    }
    const problems: string[] = [];
    const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
    const who = [run.info.user_id, tags["mlflow.user"]].filter((x): x is string => typeof x === "string" && x !== "");
    if (who.length === 0) {
        problems.push(`run ${run.info.run_id} names no user (user_id and the mlflow.user tag are empty); expected ${identity.trainingUser} (${PROJECT}:trackingTrainingUser)`);
    }
    for (const name of new Set(who)) {
        if (name !== identity.trainingUser) {
            problems.push(
                `run ${run.info.run_id} was logged by ${JSON.stringify(name)}, not by the training identity ${JSON.stringify(identity.trainingUser)} ` +
                    `(${PROJECT}:trackingTrainingUser): its metrics are not trusted`,
            );
        }
    }
    const notes: string[] = [];
    if (identity.experimentName === undefined) {
        // e.g. prod, which promotes models trained elsewhere: only the user can be checked.
        notes.push(`the run's experiment is not checked: the stack declares no ${PROJECT}:training.experimentName`);
    } else if (trainingExperimentId === undefined) {
        problems.push(`the training experiment ${JSON.stringify(identity.experimentName)} does not exist on the tracking server (or this credential cannot read it)`);
    } else if (run.info.experiment_id !== trainingExperimentId) {
        problems.push(
            `run ${run.info.run_id} belongs to experiment ${run.info.experiment_id}, not to the training experiment ` +
                `${JSON.stringify(identity.experimentName)} (${trainingExperimentId}), the only one the training identity alone may write`,
        );
    }
    return { problems, notes };
}
