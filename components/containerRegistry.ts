import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { policyJson } from "./iam";
import { customerManagedKey } from "./kms";
import { Problems, checkDnsLabel, checkInt, describe } from "./validation";
import { providerOutput } from "./provider-outputs";

/** An image to build from a folder and push to one of the registry's repositories. */
export interface ImageBuildSpec {
    /** Repository (one of `repositories`) the image is pushed to. */
    repository: string;
    /**
     * Build context folder (absolute, or relative to the working directory). It reaches the docker
     * provider relative to the working directory, which the engine sets for the program and the
     * provider plugins alike (the folder of Pulumi.yaml's `main`), so the same commit declares the
     * same Image from any checkout path or machine.
     */
    context: string;
    /** Dockerfile relative to the context. Default `Dockerfile`. */
    dockerfile?: string;
    /** Target platform. Default `linux/amd64` (EKS GPU nodes). */
    platform?: string;
    /**
     * Immutable tag. Default: `src-<sha256 of the context's files, 12 hex>`, so a changed context
     * pushes a new tag (repositories are IMMUTABLE). `latest` is refused.
     */
    tag?: string;
    /** Docker build arguments. */
    buildArgs?: Record<string, string>;
}

export interface ContainerRegistryArgs {
    /** Repository names are `<namePrefix>/<repository>`; lowercase, e.g. `mlops-platform-dev`. */
    namePrefix: string;
    /** Repositories to create (DNS labels, unique), e.g. `["trainer", "server"]`. */
    repositories: string[];
    /** KMS key for image encryption. Default: a new customer-managed key with rotation. */
    kmsKeyArn?: pulumi.Input<string>;
    /** Untagged images expire after this many days. Default 7. */
    untaggedExpiryDays?: number;
    /** Keep this many tagged images per repository. Default 50. */
    keepTaggedCount?: number;
    /** Role ARNs allowed to pull (repository policy). Default none: only IAM policies of this account grant access. */
    pullPrincipalArns?: pulumi.Input<string>[];
    /** Delete repositories that still hold images on destroy. Default false. */
    forceDelete?: boolean;
    /** `protect` + `retainOnDelete` on repositories and the key. Default false. */
    protect?: boolean;
    /** Images to build and push with @pulumi/docker. Default none. */
    images?: ImageBuildSpec[];
    tags?: Record<string, string>;
}

/** Validates ContainerRegistry args; throws InputPropertiesError naming each bad property. */
export function validateContainerRegistryArgs(args: ContainerRegistryArgs): void {
    const p = new Problems("ContainerRegistry arguments");
    p.check(
        typeof args.namePrefix === "string" && /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(args.namePrefix),
        "namePrefix",
        `must be lowercase letters, digits and single '.', '_' or '-' separators, got ${describe(args.namePrefix)}`,
    );
    if (p.check(Array.isArray(args.repositories) && args.repositories.length > 0, "repositories", "must list at least one repository")) {
        args.repositories.forEach((r, i) => checkDnsLabel(p, `repositories[${i}]`, r));
        p.check(new Set(args.repositories).size === args.repositories.length, "repositories", `must not repeat a name, got ${describe(args.repositories)}`);
    }
    if (args.untaggedExpiryDays !== undefined) {
        checkInt(p, "untaggedExpiryDays", args.untaggedExpiryDays, 1, 3650);
    }
    if (args.keepTaggedCount !== undefined) {
        checkInt(p, "keepTaggedCount", args.keepTaggedCount, 1, 10000);
    }
    p.check(!(args.protect && args.forceDelete), "forceDelete", "must be false when protect is true");
    (args.images ?? []).forEach((img, i) => {
        p.check(
            (args.repositories ?? []).includes(img.repository),
            `images[${i}].repository`,
            `must be one of the repositories (${(args.repositories ?? []).join(", ")}), got ${describe(img.repository)}`,
        );
        p.check(
            typeof img.context === "string" && fs.existsSync(path.join(path.resolve(img.context), img.dockerfile ?? "Dockerfile")),
            `images[${i}].context`,
            `must be a folder holding ${img.dockerfile ?? "Dockerfile"}, got ${describe(img.context)}`,
        );
        if (img.tag !== undefined) {
            p.check(
                /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(img.tag) && img.tag !== "latest",
                `images[${i}].tag`,
                `must be a Docker tag other than "latest" (images are pinned and tags immutable), got ${describe(img.tag)}`,
            );
        }
    });
    p.throwIfAny();
}

/**
 * A build path as the docker provider receives it: relative to the working directory (which the
 * engine sets to the folder of Pulumi.yaml's `main` for the program and the providers), with `/`
 * separators, so that state and plans do not depend on where the repository is checked out.
 * @internal
 */
export function portableBuildPath(p: string, cwd: string = process.cwd()): string {
    const rel = path.relative(cwd, path.resolve(cwd, p)).split(path.sep).join("/");
    return rel === "" ? "." : rel;
}

/** Content hash of a build context: every file's relative path and bytes, in sorted order. */
export function contextDigest(context: string): string {
    const root = path.resolve(context);
    const hash = crypto.createHash("sha256");
    const walk = (dir: string): string[] =>
        fs
            .readdirSync(dir, { withFileTypes: true })
            .filter((e) => !["node_modules", ".git", "__pycache__"].includes(e.name))
            .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    for (const file of walk(root).sort()) {
        hash.update(path.relative(root, file).split(path.sep).join("/"));
        hash.update("\0");
        hash.update(fs.readFileSync(file));
        hash.update("\0");
    }
    return hash.digest("hex");
}

/**
 * ContainerRegistry: ECR repositories for the trainer and model-server images, immutable tags,
 * scan on push, KMS encryption and lifecycle rules; optionally builds and pushes images and
 * exposes them pinned by digest (`repo@sha256:…`).
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/security-best-practices.html
 */
export class ContainerRegistry extends pulumi.ComponentResource {
    /** Repository URL by repository name (`<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<name>`). */
    public readonly repositoryUrls: pulumi.Output<Record<string, string>>;
    /** Repository ARN by repository name. */
    public readonly repositoryArns: pulumi.Output<Record<string, string>>;
    /** Digest-pinned reference (`<url>@sha256:…`) by repository name, for built images. */
    public readonly imageRefs: pulumi.Output<Record<string, string>>;
    /** KMS key ARN encrypting the images. */
    public readonly kmsKeyArn: pulumi.Output<string>;

    private readonly repos: Record<string, aws.ecr.Repository> = {};

    constructor(name: string, args: ContainerRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:ContainerRegistry", name, {}, opts);
        validateContainerRegistryArgs(args);
        const protect = args.protect ?? false;
        const stateful: pulumi.CustomResourceOptions = { parent: this, protect, retainOnDelete: protect };
        const tags = args.tags ?? {};

        let kmsKeyArn: pulumi.Output<string>;
        if (args.kmsKeyArn) {
            kmsKeyArn = pulumi.output(args.kmsKeyArn);
        } else {
            const key = customerManagedKey(
                `${name}-key`,
                { description: `${name}: encrypts container images`, tags: { ...tags, Name: `${name}-key` } },
                stateful,
            );
            kmsKeyArn = key.arn;
        }
        this.kmsKeyArn = kmsKeyArn;

        const untaggedDays = args.untaggedExpiryDays ?? 7;
        const keepTagged = args.keepTaggedCount ?? 50;
        for (const repoName of args.repositories) {
            const repo = new aws.ecr.Repository(
                `${name}-${repoName}`,
                {
                    name: `${args.namePrefix}/${repoName}`,
                    imageTagMutability: "IMMUTABLE",
                    imageScanningConfiguration: { scanOnPush: true },
                    encryptionConfigurations: [{ encryptionType: "KMS", kmsKey: kmsKeyArn }],
                    forceDelete: args.forceDelete ?? false,
                    tags: { ...tags, Name: `${args.namePrefix}/${repoName}` },
                },
                stateful,
            );
            this.repos[repoName] = repo;
            new aws.ecr.LifecyclePolicy(
                `${name}-${repoName}-lifecycle`,
                {
                    repository: repo.name,
                    policy: JSON.stringify({
                        rules: [
                            {
                                rulePriority: 1,
                                description: `Expire untagged images after ${untaggedDays} days`,
                                selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: untaggedDays },
                                action: { type: "expire" },
                            },
                            {
                                rulePriority: 2,
                                description: `Keep the last ${keepTagged} tagged images`,
                                selection: { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: keepTagged },
                                action: { type: "expire" },
                            },
                        ],
                    }),
                },
                { parent: this },
            );
            if (args.pullPrincipalArns && args.pullPrincipalArns.length > 0) {
                new aws.ecr.RepositoryPolicy(
                    `${name}-${repoName}-policy`,
                    {
                        repository: repo.name,
                        policy: policyJson({
                            Version: "2012-10-17",
                            Statement: [
                                {
                                    Sid: "AllowPullByPlatformRoles",
                                    Effect: "Allow",
                                    Principal: { AWS: args.pullPrincipalArns },
                                    Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                                },
                            ],
                        }),
                    },
                    { parent: this },
                );
            }
        }

        const refs: Record<string, pulumi.Output<string>> = {};
        for (const img of args.images ?? []) {
            const repo = this.repos[img.repository];
            const tag = img.tag ?? `src-${contextDigest(img.context).slice(0, 12)}`;
            const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent: this });
            const image = new docker.Image(
                `${name}-${img.repository}-image`,
                {
                    imageName: pulumi.interpolate`${repo.repositoryUrl}:${tag}`,
                    build: {
                        context: portableBuildPath(img.context),
                        // pulumi-docker v4: an explicit dockerfile is relative to the working directory,
                        // not to the context; unset means <context>/Dockerfile.
                        dockerfile: img.dockerfile ? portableBuildPath(path.join(path.resolve(img.context), img.dockerfile)) : undefined,
                        platform: img.platform ?? "linux/amd64",
                        args: img.buildArgs,
                    },
                    registry: {
                        server: auth.proxyEndpoint,
                        username: auth.userName,
                        password: pulumi.secret(auth.password),
                    },
                },
                { parent: this },
            );
            refs[img.repository] = image.repoDigest.apply((d) =>
                providerOutput(d, { component: `ContainerRegistry ${name}`, resourceType: "docker:index/image:Image", output: "repoDigest", resource: this }),
            );
        }

        this.repositoryUrls = pulumi.all(mapValues(this.repos, (r) => r.repositoryUrl));
        this.repositoryArns = pulumi.all(mapValues(this.repos, (r) => r.arn));
        this.imageRefs = pulumi.all(refs);
        this.registerOutputs({ repositoryUrls: this.repositoryUrls, repositoryArns: this.repositoryArns, imageRefs: this.imageRefs });
    }

    /** The repository resource of a name (for IAM scoping by other components). */
    public repository(name: string): aws.ecr.Repository {
        const repo = this.repos[name];
        if (!repo) {
            throw new Error(`ContainerRegistry has no repository "${name}"; it has ${Object.keys(this.repos).join(", ")}`);
        }
        return repo;
    }
}

function mapValues<T, U>(obj: Record<string, T>, f: (v: T) => U): Record<string, U> {
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, f(v)]));
}
