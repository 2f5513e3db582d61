import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { PlatformConfig } from "../config/schema";
import { ContainerRegistry } from "./containerRegistry";
import { DataLake } from "./dataLake";

export interface MlPlatformArgs {
    /** The validated stack configuration (see config/schema.ts). */
    config: PlatformConfig;
    /** Folder relative paths in the config (image contexts) are resolved against. */
    projectRoot: string;
}

/**
 * MlPlatform: everything an ML team needs for CI/CD of models in one environment, composed
 * from one typed configuration object.
 */
export class MlPlatform extends pulumi.ComponentResource {
    public readonly dataLake: DataLake;
    public readonly registry: ContainerRegistry;

    constructor(name: string, args: MlPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:MlPlatform", name, {}, opts);
        const c = args.config;
        const tags = { owner: c.owner, environment: c.environment, "pulumi:project": c.project, "pulumi:stack": c.stack };

        this.dataLake = new DataLake(
            `${name}-data`,
            {
                protect: c.protectStatefulResources,
                forceDestroy: c.forceDestroy,
                ...c.dataLake,
                tags,
            },
            { parent: this },
        );

        this.registry = new ContainerRegistry(
            `${name}-registry`,
            {
                namePrefix: `${c.project}-${c.stack}`.toLowerCase(),
                repositories: c.registry.repositories,
                untaggedExpiryDays: c.registry.imageUntaggedExpiryDays,
                keepTaggedCount: c.registry.imageKeepTaggedCount,
                forceDelete: c.forceDestroy,
                protect: c.protectStatefulResources,
                images:
                    c.registry.buildImages && c.registry.repositories.includes("trainer")
                        ? [{ repository: "trainer", context: path.resolve(args.projectRoot, c.registry.trainerImageContext) }]
                        : [],
                tags,
            },
            { parent: this },
        );

        this.registerOutputs({});
    }
}
