/**
 * The command lines and environments the TrackingServer and TrainingJob components render, read
 * from the resources a program registered under the mock runtime (harness/run.ts), so contract
 * specs start MLflow and the trainer with exactly what a cluster would run.
 *
 * Environment values from `valueFrom` (secretKeyRef, fieldRef) cannot be known offline: they are
 * returned as `$(NAME)` placeholders for the spec to fill in (with loopback credentials, ...).
 */
import { UNKNOWN_VALUE } from "../../harness/run";
import { RecordedResource } from "../../harness/types";

/** The part of a container spec a contract spec executes. */
export interface RenderedCommand {
    /** `command` (replaces the image ENTRYPOINT). */
    command: string[];
    /** `args` (replaces the image CMD). */
    args: string[];
    /** Environment in declaration order; `valueFrom` entries are `$(NAME)` placeholders. */
    env: Record<string, string>;
}

const ROLE_LABEL = "mlops.platform/role";

function known<T>(value: T, what: string): T {
    if (value === undefined || value === null || JSON.stringify(value).includes(UNKNOWN_VALUE)) {
        throw new Error(`${what} is not known offline (unknown or missing in the recorded inputs)`);
    }
    return value;
}

function podSpecOf(r: RecordedResource): any {
    if (r.type === "kubernetes:batch/v1:CronJob") {
        return r.inputs.spec?.jobTemplate?.spec?.template?.spec;
    }
    return r.inputs.spec?.template?.spec;
}

function workload(resources: RecordedResource[], types: string[], role: string): RecordedResource {
    const found = resources.filter((r) => types.includes(r.type) && r.inputs.metadata?.labels?.[ROLE_LABEL] === role);
    if (found.length !== 1) {
        throw new Error(
            `expected one ${types.map((t) => t.split(":").pop()).join("/")} labelled ${ROLE_LABEL}=${role}, found ${found.length}` +
                (found.length ? `: ${found.map((r) => r.name).join(", ")}` : ""),
        );
    }
    return found[0];
}

/** Command, args and env of one container (or init container) of a recorded workload. */
export function renderedContainer(r: RecordedResource, container: string, list: "containers" | "initContainers" = "containers"): RenderedCommand {
    const pod = known(podSpecOf(r), `${r.name}: pod spec`);
    const c = (pod[list] ?? []).find((x: any) => x.name === container);
    if (!c) {
        throw new Error(`${r.name}: no ${list} entry named ${container} (have ${(pod[list] ?? []).map((x: any) => x.name).join(", ")})`);
    }
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
        env[e.name] = e.valueFrom !== undefined ? `$(${e.name})` : String(known(e.value, `${r.name}: env ${e.name}`));
    }
    return {
        command: known(c.command ?? [], `${r.name}: ${container}.command`).map(String),
        args: known(c.args ?? [], `${r.name}: ${container}.args`).map(String),
        env,
    };
}

/** The MLflow server container of the Deployment a TrackingServer renders. */
export function renderedTrackingServer(resources: RecordedResource[]): RenderedCommand {
    return renderedContainer(workload(resources, ["kubernetes:apps/v1:Deployment"], "tracking"), "mlflow");
}

/** The `mlflow db upgrade` init container of that Deployment. */
export function renderedDbMigration(resources: RecordedResource[]): RenderedCommand {
    return renderedContainer(workload(resources, ["kubernetes:apps/v1:Deployment"], "tracking"), "db-upgrade", "initContainers");
}

/** The trainer container of the Job (or CronJob) a TrainingJob renders. */
export function renderedTrainingJob(resources: RecordedResource[]): RenderedCommand {
    return renderedContainer(workload(resources, ["kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"], "training"), "trainer");
}
