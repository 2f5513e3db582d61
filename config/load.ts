import * as pulumi from "@pulumi/pulumi";
import { PROJECT, PlatformConfig, parsePlatformConfig } from "./schema";

/**
 * Reads this project's stack configuration once (the only place that touches `pulumi.Config`
 * besides providers) and validates it.
 */
export function loadPlatformConfig(): PlatformConfig {
    const raw: Record<string, string> = {};
    const prefix = `${PROJECT}:`;
    for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (key.startsWith(prefix)) {
            raw[key.slice(prefix.length)] = value;
        }
    }
    const awsRegion = pulumi.runtime.allConfig()["aws:region"];
    return parsePlatformConfig(raw, { project: pulumi.getProject(), stack: pulumi.getStack(), ...(awsRegion !== undefined ? { awsRegion } : {}) });
}
