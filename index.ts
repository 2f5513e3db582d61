// The mlops-platform program: read and validate the stack configuration once, build the
// platform, export what operators and pipelines need.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { MlPlatform } from "./components/mlPlatform";
import { loadPlatformConfig } from "./config/load";
import { assertCompiledProgramCurrent } from "./config/source-freshness";

/** The folder holding Pulumi.yaml (this file runs from the project root or from dist/). */
function projectRoot(): string {
    let dir = __dirname;
    while (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
        const parent = path.dirname(dir);
        if (parent === dir) {
            return process.cwd();
        }
        dir = parent;
    }
    return dir;
}

assertCompiledProgramCurrent(projectRoot(), __dirname);
const config = loadPlatformConfig();
const platform = new MlPlatform("mlops", { config, projectRoot: projectRoot() });

export const environment = config.environment;
export const rawBucket = platform.dataLake.rawBucket;
export const processedBucket = platform.dataLake.processedBucket;
export const artifactsBucket = platform.dataLake.artifactsBucket;
export const dataKmsKeyArn = platform.dataLake.kmsKeyArn;
export const dvcRemoteUrl = platform.dataLake.dvcRemoteUrl;
export const repositoryUrls = platform.registry.repositoryUrls;
export const imageRefs = platform.registry.imageRefs;
export const vpcId = platform.network.vpcId;
export const clusterName = platform.cluster.clusterName;
export const kubeconfig = pulumi.secret(platform.cluster.kubeconfig);
export const gpuPools = Object.fromEntries(Object.entries(platform.gpuPools).map(([k, p]) => [k, p.nodeGroupName]));
export const ciRoleArns = platform.ci
    ? { preview: platform.ci.previewRoleArn, deploy: platform.ci.deployRoleArn, imagePush: platform.ci.imagePushRoleArn, dataValidation: platform.ci.dataValidationRoleArn }
    : undefined;
export const trackingUri = platform.tracking.trackingUri;
export const trackingDbEndpoint = platform.tracking.dbEndpoint;
export const trainingJobName = platform.training?.jobName;
export const servingUrls = platform.serving?.serviceUrls;
export const servingActiveSlot = platform.serving?.activeSlot;
export const servingCanaryWeight = platform.serving?.effectiveCanaryWeight;
/** In-cluster Prometheus URL (the deploy pipelines port-forward to it for `mlops release analyze`). */
export const prometheusUrl = platform.monitoring?.prometheusUrl;
// Data loop (issue 15): the operator sets the CI token on this connection out of band (README "Pipeline trigger").
export const pipelineTrigger = platform.trigger
    ? { connectionName: platform.trigger.connectionName, ruleArn: platform.trigger.ruleArn, deadLetterQueueUrl: platform.trigger.deadLetterQueueUrl, alarmName: platform.trigger.alarmName }
    : undefined;
export const ingestionCronJob = platform.ingestion?.cronJobName;
