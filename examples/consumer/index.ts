// A platform team's own Pulumi program that uses a few mlops-platform components: a data lake for
// its models' data, a container registry for its images, and the model gate in its own tooling.
import * as pulumi from "@pulumi/pulumi";
import { ContainerRegistry, DataLake } from "mlops-platform";
import { evaluateGate } from "mlops-platform/gate";

const stack = pulumi.getStack();
const tags = { team: "fraud-ml", stack };

export const lake = new DataLake("fraud-data", { protect: stack === "prod", forceDestroy: stack !== "prod", tags });
export const registry = new ContainerRegistry("fraud-registry", {
    namePrefix: `fraud-${stack}`,
    repositories: ["trainer", "server"],
    forceDelete: stack !== "prod",
    protect: stack === "prod",
    tags,
});

export const rawBucket = lake.rawBucket;
export const dvcRemote = lake.dvcRemoteUrl;
export const repositoryUrls = registry.repositoryUrls;

/** The same gate the platform's CLI and policy pack apply, usable in the team's own scripts. */
export const gateOfLastRun = evaluateGate({ metrics: { f1: 0.84 } }, { metrics: { f1: 0.81 } }).passed;
