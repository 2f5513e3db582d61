import * as pulumi from "@pulumi/pulumi";
import { HyperparameterValue, TrainingJob, TrainingJobArgs } from "./trainingJob";
import { Problems, checkDnsLabel, checkInt, describe } from "./validation";
import { WorkloadIdentity } from "./workloadIdentity";
import { ROLE_LABEL } from "../release-contract/annotations";

/** A searched hyperparameter: a list of values, or a numeric range (random search only). */
export type SweepParameter = HyperparameterValue[] | { min: number; max: number; scale?: "linear" | "log"; integer?: boolean };

export interface SweepSpec {
    /** Sweep id (DNS label, ≤ 20 chars): names the Jobs and tags the MLflow runs. */
    id: string;
    /** "grid": the cartesian product of the value lists (in name order); "random": seeded draws. */
    method: "grid" | "random";
    /** The searched hyperparameters (snake_case names). */
    space: Record<string, SweepParameter>;
    /** Number of trials. Default: the grid's size (grid); required for random. At most 50. */
    trials?: number;
    /** Trials running at once (later trials wait for earlier ones). Default 2. The queue's quota may admit fewer. */
    parallelism?: number;
    /** Seed of random search. Default 1. */
    seed?: number;
    /** Metric that picks the winner and its direction: the gate's (serving thresholds). */
    metric: string;
    direction: "maximize" | "minimize";
}

export interface TrainingSweepArgs {
    /**
     * The run each trial is: TrainingJob arguments without runId/schedule/sweep/identity; the
     * trials' hyperparameters are these merged with the trial's values. Must carry a queue.
     */
    job: Omit<TrainingJobArgs, "runId" | "schedule" | "sweep" | "identity" | "jobNamePrefix">;
    /** Prefix of the Jobs' names. Default: the component name. */
    jobNamePrefix?: string;
    sweep: SweepSpec;
    /** Command of the start/finalize Jobs (the sweep.py in the trainer image). Default ["python", "/app/sweep.py"]. */
    sweepCommand?: string[];
}

/** Deterministic PRNG (mulberry32): the same seed always gives the same trials. @internal */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** Size of the grid (product of the list lengths). */
export function gridSize(space: Record<string, SweepParameter>): number {
    return Object.values(space).reduce((n, v) => n * (Array.isArray(v) ? v.length : Infinity), 1);
}

/** Validates a sweep and applies defaults; throws InputPropertiesError naming each bad property (prefix `sweep.`). */
export function validateSweepSpec(spec: SweepSpec, path = "sweep"): Required<SweepSpec> {
    const p = new Problems("Sweep");
    const grid = spec?.method === "grid";
    const s: Required<SweepSpec> = {
        id: spec?.id,
        method: spec?.method,
        space: spec?.space ?? {},
        trials: spec?.trials ?? (grid ? gridSize(spec?.space ?? {}) : (undefined as unknown as number)),
        parallelism: spec?.parallelism ?? 2,
        seed: spec?.seed ?? 1,
        metric: spec?.metric,
        direction: spec?.direction,
    };
    if (checkDnsLabel(p, `${path}.id`, s.id)) {
        p.check(s.id.length <= 20, `${path}.id`, `must be at most 20 characters (it names every trial's Job), got ${s.id.length}`);
    }
    p.check(s.method === "grid" || s.method === "random", `${path}.method`, `must be "grid" or "random", got ${describe(s.method)}`);
    const names = Object.keys(s.space);
    p.check(names.length > 0, `${path}.space`, "must name at least one hyperparameter to search");
    for (const [k, v] of Object.entries(s.space)) {
        p.check(/^[a-z][a-z0-9_]*$/.test(k), `${path}.space.${k}`, "names must be snake_case");
        if (Array.isArray(v)) {
            p.check(v.length > 0 && v.every((x) => ["string", "number", "boolean"].includes(typeof x)), `${path}.space.${k}`, `must list strings, numbers or booleans, got ${describe(v)}`);
        } else if (v && typeof v === "object") {
            p.check(grid === false, `${path}.space.${k}`, "a range ({ min, max }) needs method random (a grid needs a list of values)");
            p.check(typeof v.min === "number" && typeof v.max === "number" && v.min < v.max, `${path}.space.${k}`, `must have numeric min < max, got ${describe(v)}`);
            if (v.scale === "log") p.check(v.min > 0, `${path}.space.${k}.min`, "must be > 0 with scale log");
        } else {
            p.check(false, `${path}.space.${k}`, `must be a list of values or { min, max, scale?, integer? }, got ${describe(v)}`);
        }
    }
    if (checkInt(p, `${path}.trials`, s.trials, 1, 50) && grid) {
        const size = gridSize(s.space);
        p.check(s.trials <= size, `${path}.trials`, `must not exceed the grid's size (${size}), got ${s.trials}`);
    }
    if (checkInt(p, `${path}.parallelism`, s.parallelism, 1, 50) && Number.isInteger(s.trials)) {
        p.check(s.parallelism <= s.trials, `${path}.parallelism`, `must not exceed trials (${s.trials}), got ${s.parallelism}`);
    }
    checkInt(p, `${path}.seed`, s.seed, 0, 2 ** 31 - 1);
    p.check(typeof s.metric === "string" && s.metric.length > 0, `${path}.metric`, `must name the metric that picks the winner, got ${describe(s.metric)}`);
    p.check(s.direction === "maximize" || s.direction === "minimize", `${path}.direction`, `must be "maximize" or "minimize", got ${describe(s.direction)}`);
    p.throwIfAny();
    return s;
}

/** The trials' hyperparameter values, in trial order (pure and deterministic). */
export function sweepTrials(spec: Required<SweepSpec>): Record<string, HyperparameterValue>[] {
    const names = Object.keys(spec.space).sort();
    if (spec.method === "grid") {
        let combos: Record<string, HyperparameterValue>[] = [{}];
        for (const n of names) {
            combos = combos.flatMap((c) => (spec.space[n] as HyperparameterValue[]).map((v) => ({ ...c, [n]: v })));
        }
        return combos.slice(0, spec.trials);
    }
    const rand = prng(spec.seed);
    const trials: Record<string, HyperparameterValue>[] = [];
    for (let i = 0; i < spec.trials; i++) {
        const t: Record<string, HyperparameterValue> = {};
        for (const n of names) {
            const v = spec.space[n];
            if (Array.isArray(v)) {
                t[n] = v[Math.floor(rand() * v.length)];
            } else {
                const u = rand();
                let x = v.scale === "log" ? Math.exp(Math.log(v.min) + u * (Math.log(v.max) - Math.log(v.min))) : v.min + u * (v.max - v.min);
                x = v.integer ? Math.round(x) : Number(x.toPrecision(6));
                t[n] = x;
            }
        }
        trials.push(t);
    }
    return trials;
}

/**
 * TrainingSweep: a hyperparameter sweep as Kubernetes Jobs through the training queue.
 *
 * - `<prefix>-start-<id>` runs `sweep.py start`: creates the MLflow parent run (tagged with the sweep id).
 * - `<prefix>-t<i>-<id>`, one TrainingJob per trial (the trainer with the trial's hyperparameters,
 *   MLOPS_SWEEP_ID/TRIAL, MLOPS_REGISTER=false): a child run of the parent, model logged, not registered.
 *   At most `parallelism` are submitted at once: trial i waits for trial i - parallelism to
 *   complete (Pulumi waits for each Job); the queue's quota may admit fewer. A failed trial fails
 *   `pulumi up`; the next up re-creates only the failed Job.
 * - `<prefix>-finalize-<id>` runs `sweep.py finalize`: registers the best trial's model by the
 *   gate's metric and direction and points the model alias (e.g. "candidate") at it, so
 *   `mlops gate --candidate models:/<model>@candidate` gates the winner unchanged.
 *
 * All Jobs share one ServiceAccount and IAM role.
 */
export class TrainingSweep extends pulumi.ComponentResource {
    /** Hyperparameters of each trial, in order. */
    public readonly trials: Record<string, HyperparameterValue>[];
    /** The finalize Job's name (its completion means the winner is registered). */
    public readonly finalizeJobName: pulumi.Output<string>;

    constructor(name: string, args: TrainingSweepArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:TrainingSweep", name, {}, opts);
        const spec = validateSweepSpec(args.sweep);
        const p = new Problems("TrainingSweep arguments");
        p.check(args.job?.queue !== undefined, "job.queue", "is required: a sweep's Jobs go through the training queue");
        p.check(args.job?.model?.alias !== undefined, "job.model.alias", "is required: the winner is registered under it (e.g. candidate)");
        p.throwIfAny();
        const prefix = args.jobNamePrefix ?? name;
        const job = args.job;
        const wi = job.workloadIdentity ?? {};
        const policies: Record<string, pulumi.Input<string>> = { data: job.access.dataPolicy };
        if (job.access.artifactsPolicy !== undefined) {
            policies.artifacts = job.access.artifactsPolicy;
        }
        const identity = new WorkloadIdentity(
            `${name}-identity`,
            {
                clusterName: job.clusterName,
                namespace: job.namespace,
                serviceAccountName: `${prefix}-sweep`,
                policies,
                mode: wi.mode,
                oidcProviderArn: wi.oidcProviderArn,
                oidcIssuerUrl: wi.oidcIssuerUrl,
                provider: job.provider,
                labels: { [ROLE_LABEL]: "training", "app.kubernetes.io/part-of": "mlops-platform" },
                tags: { ...(job.tags ?? {}), [ROLE_LABEL]: "training" },
            },
            { parent: this },
        );
        const shared = { identity: { serviceAccountName: identity.serviceAccountName, roleArn: identity.roleArn }, runId: spec.id };
        const sweepEnv = {
            MLOPS_SWEEP_METRIC: spec.metric,
            MLOPS_SWEEP_DIRECTION: spec.direction,
            MLOPS_SWEEP_TRIALS: String(spec.trials),
        };
        // start/finalize: small CPU Jobs running sweep.py in the trainer image, no GPU, one pod.
        const control = (role: "start" | "finalize", dependsOn: pulumi.Resource[]) =>
            new TrainingJob(
                `${name}-${role}`,
                {
                    ...job,
                    ...shared,
                    jobNamePrefix: `${prefix}-${role}`,
                    command: [...(args.sweepCommand ?? ["python", "/app/sweep.py"]), role],
                    args: [],
                    hyperparameters: {},
                    env: { ...(job.env ?? {}), ...sweepEnv },
                    tracking: { ...job.tracking, runName: `sweep-${spec.id}` },
                    sweep: { id: spec.id },
                    resources: { cpu: "250m", memory: "512Mi", memoryLimit: "1Gi" },
                    gpu: undefined,
                    shmSize: "64Mi",
                    workers: 1,
                    launcher: "direct",
                    activeDeadlineSeconds: 600,
                    waitForCompletion: true,
                },
                { parent: this, dependsOn },
            );
        const start = control("start", []);
        this.trials = sweepTrials(spec);
        const trialJobs: TrainingJob[] = [];
        this.trials.forEach((values, i) => {
            const waitFor = i >= spec.parallelism ? [trialJobs[i - spec.parallelism]] : [];
            trialJobs.push(
                new TrainingJob(
                    `${name}-trial-${i}`,
                    {
                        ...job,
                        ...shared,
                        jobNamePrefix: `${prefix}-t${i}`,
                        hyperparameters: { ...(job.hyperparameters ?? {}), ...values },
                        sweep: { id: spec.id, trial: i },
                        // `pulumi up` waits for each trial: that is what bounds the parallelism, and
                        // a failed trial fails the up (the next up re-creates only the failed Job).
                        waitForCompletion: true,
                    },
                    { parent: this, dependsOn: [start, ...waitFor] },
                ),
            );
        });
        // Finalize starts when every trial Job has completed.
        const finalize = control("finalize", trialJobs);
        this.finalizeJobName = finalize.jobName;
        this.registerOutputs({ finalizeJobName: this.finalizeJobName });
    }
}
