/**
 * The command lines and environments the TrackingServer and TrainingJob components render, read
 * from the resources a program registered under the mock runtime (offline-plan/run.ts), so contract
 * specs start MLflow and the trainer with exactly what a cluster would run.
 *
 * Environment values from `valueFrom` (secretKeyRef, fieldRef) cannot be known offline: they are
 * returned as `$(NAME)` placeholders for the spec to fill in (with loopback credentials, ...).
 */
import { UNKNOWN_VALUE } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";

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

/** A container of one of the TrackingServer's Jobs (`bootstrap-db`, `provision-users`), found by container name. */
export function renderedTrackingJob(resources: RecordedResource[], container: string): RenderedCommand {
    const jobs = resources.filter(
        (r) =>
            r.type === "kubernetes:batch/v1:Job" &&
            r.inputs.metadata?.labels?.[ROLE_LABEL] === "tracking" &&
            (podSpecOf(r)?.containers ?? []).some((c: any) => c.name === container),
    );
    if (jobs.length !== 1) {
        throw new Error(`expected one Job labelled ${ROLE_LABEL}=tracking with a ${container} container, found ${jobs.length}`);
    }
    return renderedContainer(jobs[0], container);
}

/** The trainer container of the Job (or CronJob) a TrainingJob renders. */
export function renderedTrainingJob(resources: RecordedResource[]): RenderedCommand {
    return renderedContainer(workload(resources, ["kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"], "training"), "trainer");
}

/** Names of env entries that are still `valueFrom` placeholders (`NAME: "$(NAME)"`). */
export function valueFromPlaceholders(env: Record<string, string>): string[] {
    return Object.entries(env)
        .filter(([k, v]) => v === `$(${k})`)
        .map(([k]) => k);
}

/** Where the TrackingServer's Service answers inside the cluster. */
export interface RenderedService {
    name: string;
    namespace: string;
    /** The `http` port. */
    port: number;
    /** `http://<name>.<namespace>.svc.cluster.local:<port>`. */
    url: string;
}

/** The Service a TrackingServer renders. */
export function renderedTrackingService(resources: RecordedResource[]): RenderedService {
    const svc = workload(resources, ["kubernetes:core/v1:Service"], "tracking");
    const name = String(known(svc.inputs.metadata?.name, `${svc.name}: metadata.name`));
    const namespace = String(known(svc.inputs.metadata?.namespace, `${svc.name}: metadata.namespace`));
    const ports: any[] = known(svc.inputs.spec?.ports, `${svc.name}: spec.ports`);
    const http = ports.find((p) => p.name === "http") ?? (ports.length === 1 ? ports[0] : undefined);
    if (!http) {
        throw new Error(`${svc.name}: no port named http (have ${ports.map((p) => p.name).join(", ")})`);
    }
    const port = Number(http.port);
    return { name, namespace, port, url: `http://${name}.${namespace}.svc.cluster.local:${port}` };
}

/** `metadata` name and namespace of the Job (or CronJob) a TrainingJob renders. */
export function renderedTrainingJobMetadata(resources: RecordedResource[]): { name: string; namespace: string } {
    const job = workload(resources, ["kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"], "training");
    return {
        name: String(known(job.inputs.metadata?.name, `${job.name}: metadata.name`)),
        namespace: String(known(job.inputs.metadata?.namespace, `${job.name}: metadata.namespace`)),
    };
}

/** Physical name of the S3 bucket tagged `mlops.platform/data-class=<dataClass>`. */
export function bucketOfDataClass(resources: RecordedResource[], dataClass: string): string {
    const found = resources.filter(
        (r) => /^aws:s3\/bucket(V2)?:Bucket(V2)?$/.test(r.type) && r.inputs.tags?.["mlops.platform/data-class"] === dataClass,
    );
    if (found.length !== 1) {
        throw new Error(`expected one S3 bucket tagged mlops.platform/data-class=${dataClass}, found ${found.length}`);
    }
    return String(known(found[0].outputs.bucket ?? found[0].inputs.bucket, `${found[0].name}: bucket`));
}
