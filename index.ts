// The mlops-platform program: read and validate the stack configuration once, build the
// platform, export what operators and pipelines need.
import * as fs from "fs";
import * as path from "path";
import { MlPlatform } from "./components/mlPlatform";
import { loadPlatformConfig } from "./config/load";

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
