import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DeployDataScope, deployServicePolicy } from "./deployPermissions";
import { CI_ROLE_TAG, PolicyDocument, PolicyStatement, policyJson } from "./iam";
import { Problems, checkInt, describe } from "./validation";

/**
 * Tag of a CI-assumed role that reads data (the data-validation stage). Unlike {@link CI_ROLE_TAG}
 * roles it may decrypt (via S3) and it carries the permissions boundary.
 */
export const DATA_READER_TAG = "mlops.platform/ci-data-reader";

/** GitHub Actions' OIDC issuer (host form, as IAM condition keys use it). */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
/** Audience the official `aws-actions/configure-aws-credentials` action requests. */
export const GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com";

/** Which workflow runs of the repository may assume a role (GitHub's `sub` claim). */
export interface CiTrust {
    /** Branches (`refs/heads/<b>`); globs such as `release/*` are allowed, a bare wildcard is not. */
    branches?: string[];
    /** Tags (`refs/tags/<t>`), globs allowed as for branches. */
    tags?: string[];
    /** GitHub environments (jobs declaring `environment:`; approvals and branch rules live there). */
    environments?: string[];
    /** Runs triggered by `pull_request` (including from forks of a public repository). */
    pullRequests?: boolean;
}

/**
 * GitLab CI/CD pipelines of one project, through GitLab's OIDC ID tokens (`id_tokens` with
 * `aud: sts.amazonaws.com`, as .gitlab-ci.yml requests them). GitLab's `sub` claim is
 * `project_path:<project>:ref_type:<branch|tag>:ref:<ref>` and names no environment, so deploying
 * is trusted by branch: protect the deploy branches (and the prod environment's approvals) in GitLab.
 */
export interface GitlabCiArgs {
    /** Project path `group[/subgroup]/project` whose pipelines may assume the roles. */
    project: string;
    /** The GitLab instance (issuer of the ID tokens), https only. Default `https://gitlab.com`. */
    url?: string;
    /** Use this existing OIDC provider for the instance instead of creating it. */
    existingOidcProviderArn?: string;
    /**
     * Branches whose pipelines may deploy, push images and read data for validation. Default `[main]`.
     * `[]`: GitLab may only preview (e.g. prod, whose security pack trusts only GitHub environments:
     * a GitLab token cannot prove an environment approval to AWS).
     */
    deployBranches?: string[];
    /**
     * Branches whose pipelines may assume the read-only preview role (merge request pipelines run for
     * their source branch). Default `["*"]`: every branch of the project (the role reads no data or secret).
     */
    previewBranches?: string[];
}

export interface CiAccessArgs {
    /** GitHub repository `owner/name` whose workflows may assume the roles. At least one of `repository` and `gitlab`. */
    repository?: string;
    /** GitLab project whose pipelines may assume the roles too. Default none. */
    gitlab?: GitlabCiArgs;
    /** Use this existing GitHub OIDC provider (an account has at most one per URL) instead of creating it. */
    existingOidcProviderArn?: string;
    /** Who may assume the read-only preview role. Default pull requests and `main`. */
    preview?: CiTrust;
    /** Who may assume the deploy role. Default `main` only; prod stacks should name a protected environment. */
    deploy?: CiTrust;
    /** Who may assume the image-push role. Default `main` only. */
    imagePush?: CiTrust;
    /** ECR repositories the image-push role may push to (ContainerRegistry.repositoryArns). */
    imageRepositoryArns: pulumi.Input<pulumi.Input<string>[]>;
    /** Name prefix of the IAM roles and policies the stack creates (`<project>-<stack>-`); the deploy role may manage only those. */
    managedNamePrefix: string;
    /** ARN of the permissions boundary every role the deploy role creates must carry (see platformIam.ts). */
    permissionsBoundaryArn: pulumi.Input<string>;
    /** Data the deploy role must never read: the data lake's buckets (objects denied) and key (use denied). */
    data: { bucketArns: pulumi.Input<pulumi.Input<string>[]>; kmsKeyArns: pulumi.Input<pulumi.Input<string>[]>; forceDestroy?: boolean };
    /**
     * A role for the train pipelines' data-validation stage: reads the batch it validates (the
     * policy, e.g. DataLake.accessPolicy read on the dataset's raw prefix) and nothing else. Not a
     * CI role in the key policy's sense (it must decrypt what it reads, via S3 only), so it carries
     * the platform's permissions boundary; its name is under `<prefix>ci-`, which the deploy role may
     * not change. Default: no such role.
     */
    dataValidation?: { trust: CiTrust; readPolicy: pulumi.Input<string> };
    /** Extra managed policies of the deploy role (never AdministratorAccess, IAMFullAccess or PowerUserAccess). Default none. */
    deployManagedPolicyArns?: string[];
    /** Maximum session of every role, seconds (900-43200). Default 3600. */
    maxSessionDurationSeconds?: number;
    /** Tags for every resource. */
    tags?: Record<string, string>;
}

/** Defaults applied by {@link validateCiAccessArgs}. */
export interface CiAccessSettings {
    repository?: string;
    gitlab?: Required<Omit<GitlabCiArgs, "existingOidcProviderArn">> & { existingOidcProviderArn?: string };
    existingOidcProviderArn?: string;
    preview: CiTrust;
    deploy: CiTrust;
    imagePush: CiTrust;
    dataValidation?: { trust: CiTrust; readPolicy: pulumi.Input<string> };
    managedNamePrefix: string;
    deployManagedPolicyArns: string[];
    maxSessionDurationSeconds: number;
    tags: Record<string, string>;
}

const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
const OIDC_PROVIDER_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;
const MANAGED_POLICY_ARN = /^arn:aws(-[a-z]+)*:iam::(aws|\d{12}):policy\/[\w+=,.@/-]+$/;
const NAME_PREFIX = /^[A-Za-z0-9+=,.@_-]{3,30}$/;
/** A GitLab project path `group[/subgroup]/project` (no wildcards). */
export const GITLAB_PROJECT = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;
/** A GitLab instance URL: https, host and optional port, no path (the ID tokens' issuer). */
export const GITLAB_URL = /^https:\/\/[a-z0-9.-]+(:\d+)?$/;
/** An IAM OIDC provider ARN. */
export const OIDC_PROVIDER_ANY_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:oidc-provider\/[a-z0-9.:-]+$/;
/** A branch name or glob usable in a `sub` pattern (a ':' would forge the claim's format). */
export const CI_BRANCH = /^[^\s:]+$/;
/** A bare wildcard: it would trust every branch. */
export const BARE_WILDCARD = /^[*?/]+$/;

function checkTrust(p: Problems, path: string, t: CiTrust): void {
    const lists: (keyof CiTrust)[] = ["branches", "tags", "environments"];
    let subjects = t.pullRequests === true ? 1 : 0;
    for (const key of lists) {
        const values = (t[key] ?? []) as unknown[];
        if (!p.check(Array.isArray(values), `${path}.${key}`, "must be a list")) {
            continue;
        }
        values.forEach((v, i) => {
            subjects++;
            const at = `${path}.${key}[${i}]`;
            if (!p.check(typeof v === "string" && CI_BRANCH.test(v), at, `must be a non-empty name without spaces or ':', got ${describe(v)}`)) {
                return;
            }
            p.check(
                !BARE_WILDCARD.test(v as string),
                at,
                `must not be a bare wildcard (${describe(v)} would trust every ${key === "environments" ? "environment" : "ref"}); name it, or use a prefix such as release/*`,
            );
        });
    }
    p.check(subjects > 0, path, "must trust at least one branch, tag, environment or pullRequests");
}

/** Validates CiAccess args and applies defaults; throws InputPropertiesError naming each bad property. */
export function validateCiAccessArgs(args: CiAccessArgs): CiAccessSettings {
    const s: CiAccessSettings = {
        repository: args.repository,
        ...(args.gitlab
            ? {
                  gitlab: {
                      project: args.gitlab.project,
                      url: args.gitlab.url ?? "https://gitlab.com",
                      deployBranches: args.gitlab.deployBranches ?? ["main"],
                      previewBranches: args.gitlab.previewBranches ?? ["*"],
                      ...(args.gitlab.existingOidcProviderArn ? { existingOidcProviderArn: args.gitlab.existingOidcProviderArn } : {}),
                  },
              }
            : {}),
        existingOidcProviderArn: args.existingOidcProviderArn,
        preview: args.preview ?? { pullRequests: true, branches: ["main"] },
        deploy: args.deploy ?? { branches: ["main"] },
        imagePush: args.imagePush ?? { branches: ["main"] },
        ...(args.dataValidation ? { dataValidation: args.dataValidation } : {}),
        managedNamePrefix: args.managedNamePrefix,
        deployManagedPolicyArns: args.deployManagedPolicyArns ?? [],
        maxSessionDurationSeconds: args.maxSessionDurationSeconds ?? 3600,
        tags: args.tags ?? {},
    };
    const p = new Problems("CiAccess arguments");
    p.check(s.repository !== undefined || s.gitlab !== undefined, "repository", "or gitlab.project is required: whose pipelines may assume the roles");
    if (s.repository !== undefined) {
        p.check(
            typeof s.repository === "string" && REPOSITORY.test(s.repository),
            "repository",
            `must be a GitHub repository "owner/name" without wildcards, got ${describe(s.repository)}`,
        );
    }
    if (s.gitlab) {
        const g = s.gitlab;
        p.check(
            typeof g.project === "string" && GITLAB_PROJECT.test(g.project),
            "gitlab.project",
            `must be a GitLab project path "group[/subgroup]/project" without wildcards, got ${describe(g.project)}`,
        );
        p.check(typeof g.url === "string" && GITLAB_URL.test(g.url), "gitlab.url", `must be the instance's https URL without a path (e.g. https://gitlab.com), got ${describe(g.url)}`);
        if (g.existingOidcProviderArn !== undefined) {
            p.check(OIDC_PROVIDER_ANY_ARN.test(g.existingOidcProviderArn), "gitlab.existingOidcProviderArn", `must be an IAM OIDC provider ARN, got ${describe(g.existingOidcProviderArn)}`);
        }
        for (const key of ["deployBranches", "previewBranches"] as const) {
            const list = g[key] as unknown;
            if (!p.check(Array.isArray(list) && (list.length > 0 || key === "deployBranches"), `gitlab.${key}`, `must list at least one branch, got ${describe(list)}`)) continue;
            (list as unknown[]).forEach((b, i) =>
                p.check(typeof b === "string" && CI_BRANCH.test(b), `gitlab.${key}[${i}]`, `must be a branch name or glob without spaces or ':', got ${describe(b)}`),
            );
            // Deploying from every branch would let any developer's branch assume the deploy role.
            if (key === "deployBranches") (list as string[]).forEach((b, i) => p.check(!BARE_WILDCARD.test(b), `gitlab.deployBranches[${i}]`, `must not be a bare wildcard (${describe(b)}); name the protected branches`));
        }
    }
    if (s.existingOidcProviderArn !== undefined) {
        p.check(
            OIDC_PROVIDER_ARN.test(String(s.existingOidcProviderArn)),
            "existingOidcProviderArn",
            `must be the ARN of the token.actions.githubusercontent.com OIDC provider, got ${describe(s.existingOidcProviderArn)}`,
        );
    }
    checkTrust(p, "preview", s.preview);
    checkTrust(p, "deploy", s.deploy);
    checkTrust(p, "imagePush", s.imagePush);
    if (s.dataValidation) {
        checkTrust(p, "dataValidation.trust", s.dataValidation.trust ?? {});
        p.check(s.dataValidation.readPolicy !== undefined && s.dataValidation.readPolicy !== "", "dataValidation.readPolicy", "is required (the IAM policy JSON of what the stage may read)");
    }
    if (Array.isArray(args.imageRepositoryArns)) {
        p.check(args.imageRepositoryArns.length > 0, "imageRepositoryArns", "must list at least one ECR repository ARN");
        args.imageRepositoryArns.forEach((a, i) => {
            if (typeof a === "string") {
                p.check(
                    /^arn:aws(-[a-z]+)*:ecr:[a-z0-9-]+:\d{12}:repository\/[a-z0-9._/-]+$/.test(a),
                    `imageRepositoryArns[${i}]`,
                    `must be one ECR repository ARN (no wildcards), got ${describe(a)}`,
                );
            }
        });
    } else {
        p.check(args.imageRepositoryArns !== undefined, "imageRepositoryArns", "is required");
    }
    p.check(
        typeof s.managedNamePrefix === "string" && NAME_PREFIX.test(s.managedNamePrefix),
        "managedNamePrefix",
        `must be 3-30 characters of letters, digits and +=,.@_- (the name prefix of the stack's IAM resources), got ${describe(s.managedNamePrefix)}`,
    );
    s.deployManagedPolicyArns.forEach((a, i) =>
        p.check(MANAGED_POLICY_ARN.test(a), `deployManagedPolicyArns[${i}]`, `must be an IAM policy ARN, got ${describe(a)}`),
    );
    s.deployManagedPolicyArns.forEach((a, i) =>
        p.check(
            !/:policy\/(AdministratorAccess|IAMFullAccess|PowerUserAccess)$/.test(a),
            `deployManagedPolicyArns[${i}]`,
            "must not be AdministratorAccess, IAMFullAccess or PowerUserAccess; the deploy role's rights come from the scoped policies derived from the program's resource types",
        ),
    );
    checkInt(p, "maxSessionDurationSeconds", s.maxSessionDurationSeconds, 900, 43200);
    p.throwIfAny();
    return s;
}

/** GitLab `sub` claim values for pipelines of these branches. */
export function gitlabSubjects(project: string, branches: string[]): string[] {
    return branches.map((b) => `project_path:${project}:ref_type:branch:ref:${b}`);
}

/** Host form of a GitLab URL, as IAM names the provider's condition keys (`gitlab.com:sub`). */
export function gitlabHost(url: string): string {
    return url.replace(/^https:\/\//, "");
}

/** One trust statement per CI system: its OIDC provider, our audience and exactly these subjects. */
export function ciTrustStatement(sid: string, providerArn: pulumi.Input<string>, host: string, subjects: string[]): PolicyStatement {
    // StringLike treats * and ? as wildcards; git refs cannot contain them, so exact subjects stay exact.
    const like = subjects.some((s) => /[*?]/.test(s));
    return {
        Sid: sid,
        Effect: "Allow",
        Principal: { Federated: providerArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: like
            ? { StringEquals: { [`${host}:aud`]: GITHUB_OIDC_AUDIENCE }, StringLike: { [`${host}:sub`]: subjects } }
            : { StringEquals: { [`${host}:aud`]: GITHUB_OIDC_AUDIENCE, [`${host}:sub`]: subjects } },
    };
}

/** GitHub `sub` claim values a trust admits. */
export function githubSubjects(repository: string, t: CiTrust): string[] {
    const repo = `repo:${repository}`;
    return [
        ...(t.branches ?? []).map((b) => `${repo}:ref:refs/heads/${b}`),
        ...(t.tags ?? []).map((tag) => `${repo}:ref:refs/tags/${tag}`),
        ...(t.environments ?? []).map((e) => `${repo}:environment:${e}`),
        ...(t.pullRequests ? [`${repo}:pull_request`] : []),
    ];
}

/** Push to exactly these ECR repositories (and log in to ECR, which has no resource scope). */
export function imagePushPolicy(repositoryArns: pulumi.Input<pulumi.Input<string>[]>): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
            {
                Sid: "PushToPlatformRepositories",
                Effect: "Allow",
                Action: [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:DescribeImages",
                    "ecr:DescribeRepositories",
                ],
                Resource: repositoryArns as pulumi.Input<string>[],
            },
        ],
    };
}

/**
 * Read-only access for `pulumi preview` of this platform: describe/list/get-configuration of the
 * services it uses, with no data reads (no s3:GetObject, no image layers) and secrets explicitly denied.
 */
export function previewPolicy(): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ReadPlatformConfiguration",
                Effect: "Allow",
                Action: [
                    "sts:GetCallerIdentity",
                    "ec2:Describe*",
                    "ec2:GetLaunchTemplateData",
                    "eks:Describe*",
                    "eks:List*",
                    "autoscaling:Describe*",
                    "elasticloadbalancing:Describe*",
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:GetOpenIDConnectProvider",
                    "iam:GetInstanceProfile",
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListRoleTags",
                    "iam:ListOpenIDConnectProviders",
                    "kms:DescribeKey",
                    "kms:GetKeyPolicy",
                    "kms:GetKeyRotationStatus",
                    "kms:ListAliases",
                    "kms:ListResourceTags",
                    "logs:DescribeLogGroups",
                    "logs:ListTagsForResource",
                    "s3:ListAllMyBuckets",
                    "s3:GetBucket*",
                    "s3:GetEncryptionConfiguration",
                    "s3:GetLifecycleConfiguration",
                    "s3:GetAccelerateConfiguration",
                    "s3:GetReplicationConfiguration",
                    "ecr:DescribeRepositories",
                    "ecr:DescribeImages",
                    "ecr:GetLifecyclePolicy",
                    "ecr:GetRepositoryPolicy",
                    "ecr:ListTagsForResource",
                    "rds:Describe*",
                    "rds:ListTagsForResource",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetResourcePolicy",
                    "events:Describe*",
                    "events:List*",
                ],
                Resource: "*",
            },
            {
                Sid: "NeverReadSecrets",
                Effect: "Deny",
                Action: ["secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "kms:Decrypt"],
                Resource: "*",
            },
        ],
    };
}

/**
 * AWS managed policies the platform attaches to its roles (EKS control plane, nodes, CNI, EBS CSI,
 * RDS Enhanced Monitoring). The deploy role may attach these and no other (so never AdministratorAccess).
 */
export const ATTACHABLE_MANAGED_POLICIES = [
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy",
    "service-role/AmazonEBSCSIDriverPolicy",
    "service-role/AmazonRDSEnhancedMonitoringRole",
] as const;

/** Services the platform's roles are passed to (iam:PassedToService). */
export const PASSED_TO_SERVICES = ["eks.amazonaws.com", "ec2.amazonaws.com", "pods.eks.amazonaws.com", "vpc-flow-logs.amazonaws.com", "monitoring.rds.amazonaws.com", "s3.amazonaws.com", "events.amazonaws.com"] as const;

/** Service-linked roles AWS creates on first use of a service the platform uses. */
export const SERVICE_LINKED_ROLE_SERVICES = ["eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "autoscaling.amazonaws.com", "rds.amazonaws.com", "elasticloadbalancing.amazonaws.com"] as const;

/** Where the deploy role's IAM rights apply: the stack's name prefix and its permissions boundary. */
export interface DeployIamScope {
    partition: string;
    accountId: string;
    /** Name prefix of every IAM role the stack creates, e.g. `mlops-platform-prod-`. */
    prefix: string;
    /** ARN of the permissions boundary every role the deploy role creates must carry. */
    boundaryArn: string;
}

/**
 * IAM rights of the deploy role. It creates and changes roles only under the stack's prefix and
 * only when they carry the platform's permissions boundary (`iam:PermissionsBoundary`), attaches
 * only the AWS managed policies the platform uses, and cannot touch the CI roles (`<prefix>ci-*`,
 * its own included), the boundary policy, users or access keys.
 */
export function deployIamPolicy(scope: DeployIamScope): PolicyDocument {
    const iam = (resource: string) => `arn:${scope.partition}:iam::${scope.accountId}:${resource}`;
    const roles = iam(`role/${scope.prefix}*`);
    const ciRoles = iam(`role/${scope.prefix}ci-*`);
    const withBoundary = { StringEquals: { "iam:PermissionsBoundary": scope.boundaryArn } };
    const statements: PolicyStatement[] = [
        {
            Sid: "CreateAndChangeRolesOnlyWithTheBoundary",
            Effect: "Allow",
            Action: ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"],
            Resource: roles,
            Condition: withBoundary,
        },
        {
            Sid: "AttachOnlyThePlatformsManagedPolicies",
            Effect: "Allow",
            Action: ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            Resource: roles,
            Condition: {
                ...withBoundary,
                ArnEquals: { "iam:PolicyARN": ATTACHABLE_MANAGED_POLICIES.map((p) => `arn:${scope.partition}:iam::aws:policy/${p}`) },
            },
        },
        {
            Sid: "ManageStackRoles",
            Effect: "Allow",
            Action: [
                "iam:GetRole",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRoleTags",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ],
            Resource: roles,
        },
        {
            Sid: "PassStackRolesToPlatformServices",
            Effect: "Allow",
            Action: "iam:PassRole",
            Resource: roles,
            Condition: { StringEquals: { "iam:PassedToService": [...PASSED_TO_SERVICES] } },
        },
        {
            Sid: "ReadPolicies",
            Effect: "Allow",
            Action: ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListEntitiesForPolicy"],
            Resource: [iam(`policy/${scope.prefix}*`), `arn:${scope.partition}:iam::aws:policy/*`],
        },
        {
            Sid: "ServiceLinkedRoles",
            Effect: "Allow",
            Action: "iam:CreateServiceLinkedRole",
            Resource: iam("role/aws-service-role/*"),
            Condition: { StringEquals: { "iam:AWSServiceName": [...SERVICE_LINKED_ROLE_SERVICES] } },
        },
        {
            Sid: "ManageClusterOidcProviders",
            Effect: "Allow",
            Action: [
                "iam:CreateOpenIDConnectProvider",
                "iam:DeleteOpenIDConnectProvider",
                "iam:GetOpenIDConnectProvider",
                "iam:TagOpenIDConnectProvider",
                "iam:UntagOpenIDConnectProvider",
                "iam:UpdateOpenIDConnectProviderThumbprint",
                "iam:AddClientIDToOpenIDConnectProvider",
                "iam:RemoveClientIDFromOpenIDConnectProvider",
            ],
            Resource: iam("oidc-provider/oidc.eks.*"),
        },
        { Sid: "ReadGitHubOidcProvider", Effect: "Allow", Action: "iam:GetOpenIDConnectProvider", Resource: iam(`oidc-provider/${GITHUB_OIDC_HOST}`) },
        { Sid: "ListIam", Effect: "Allow", Action: ["iam:ListRoles", "iam:ListPolicies", "iam:ListOpenIDConnectProviders"], Resource: "*" },
        {
            // The CI roles (its own included) are changed only by an administrator run.
            Sid: "NeverChangeTheCiRoles",
            Effect: "Deny",
            Action: [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:DeleteRolePermissionsBoundary",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PassRole",
            ],
            Resource: ciRoles,
        },
        {
            Sid: "NeverChangeTheBoundaryOrCiPolicies",
            Effect: "Deny",
            Action: ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
            Resource: [scope.boundaryArn, iam(`policy/${scope.prefix}ci-*`)],
        },
        { Sid: "NeverRemoveBoundaries", Effect: "Deny", Action: "iam:DeleteRolePermissionsBoundary", Resource: "*" },
    ];
    return { Version: "2012-10-17", Statement: statements };
}

/** Managed policies the deploy role's service actions are split into (6,144 characters each at most). */
export const DEPLOY_SERVICE_POLICY_COUNT = 3;
const MANAGED_POLICY_MAX_CHARS = 6144;

/**
 * Splits a document's statements over {@link DEPLOY_SERVICE_POLICY_COUNT} documents under the
 * managed-policy size limit; the Deny statements go into every part, so no part grants what they deny.
 */
export function splitPolicy(doc: PolicyDocument): PolicyDocument[] {
    const denies = doc.Statement.filter((st) => st.Effect === "Deny");
    const parts: PolicyStatement[][] = Array.from({ length: DEPLOY_SERVICE_POLICY_COUNT }, () => [...denies]);
    const size = (sts: PolicyStatement[]) => JSON.stringify({ Version: "2012-10-17", Statement: sts }).length;
    for (const st of doc.Statement.filter((x) => x.Effect === "Allow")) {
        const part = parts.find((p) => size([...p, st]) <= MANAGED_POLICY_MAX_CHARS);
        if (!part) {
            throw new Error(`the deploy role's service actions need more than ${DEPLOY_SERVICE_POLICY_COUNT} managed policies; raise DEPLOY_SERVICE_POLICY_COUNT`);
        }
        part.push(st);
    }
    return parts.map((Statement) => ({ Version: "2012-10-17", Statement }));
}

/**
 * CiAccess: GitHub Actions federation for the platform's pipelines — the GitHub OIDC provider and
 * three roles that only workflows of the configured repository (and refs/environments) can
 * assume: `preview` (read-only, no secrets), `deploy` (`pulumi up`), `image-push` (push to the
 * platform's ECR repositories only), and optionally `data-validation` (reads the batch the train
 * pipeline validates, and nothing else).
 * https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services
 */
export class CiAccess extends pulumi.ComponentResource {
    /** The GitHub OIDC provider (undefined without `repository`). */
    public readonly oidcProviderArn: pulumi.Output<string | undefined>;
    /** The GitLab instance's OIDC provider, with `gitlab`. */
    public readonly gitlabOidcProviderArn?: pulumi.Output<string>;
    public readonly previewRoleArn: pulumi.Output<string>;
    public readonly deployRoleArn: pulumi.Output<string>;
    public readonly imagePushRoleArn: pulumi.Output<string>;
    /** The data-validation stage's role, when `dataValidation` is set. */
    public readonly dataValidationRoleArn: pulumi.Output<string | undefined>;

    constructor(name: string, args: CiAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:CiAccess", name, {}, opts);
        const s = validateCiAccessArgs(args);
        const child: pulumi.CustomResourceOptions = { parent: this };
        const identity = aws.getCallerIdentityOutput({}, { parent: this });
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;

        const providerArn: pulumi.Output<string> | undefined =
            s.repository === undefined
                ? undefined
                : s.existingOidcProviderArn
                  ? pulumi.output(s.existingOidcProviderArn)
                  : new aws.iam.OpenIdConnectProvider(
                        `${name}-github`,
                        { url: `https://${GITHUB_OIDC_HOST}`, clientIdLists: [GITHUB_OIDC_AUDIENCE], tags: s.tags },
                        child,
                    ).arn;
        const gitlab = s.gitlab;
        const gitlabProviderArn: pulumi.Output<string> | undefined = !gitlab
            ? undefined
            : gitlab.existingOidcProviderArn
              ? pulumi.output(gitlab.existingOidcProviderArn)
              : new aws.iam.OpenIdConnectProvider(`${name}-gitlab`, { url: gitlab.url, clientIdLists: [GITHUB_OIDC_AUDIENCE], tags: s.tags }, child).arn;
        const who = [s.repository ? `GitHub Actions, ${s.repository}` : undefined, gitlab ? `GitLab CI, ${gitlab.project}` : undefined].filter(Boolean).join("; ");

        /** GitHub trust from `trust`, GitLab trust from the deploy (or preview) branches. */
        const role = (key: string, description: string, trust: CiTrust, tags: Record<string, string> = { [CI_ROLE_TAG]: key }): aws.iam.Role =>
            new aws.iam.Role(
                `${name}-${key}`,
                {
                    // `<prefix>ci-*`: the deploy role's own policy denies it any change to these roles.
                    namePrefix: `${s.managedNamePrefix}ci-${key}-`,
                    description: `${description} (${who})`,
                    assumeRolePolicy: policyJson({
                        Version: "2012-10-17",
                        Statement: [
                            ...(providerArn ? [ciTrustStatement("GitHubActions", providerArn, GITHUB_OIDC_HOST, githubSubjects(s.repository!, trust))] : []),
                            ...(gitlab && gitlabProviderArn && (key === "preview" ? gitlab.previewBranches : gitlab.deployBranches).length > 0
                                ? [ciTrustStatement("GitLabCi", gitlabProviderArn, gitlabHost(gitlab.url), gitlabSubjects(gitlab.project, key === "preview" ? gitlab.previewBranches : gitlab.deployBranches))]
                                : []),
                        ],
                    }),
                    maxSessionDuration: s.maxSessionDurationSeconds,
                    tags: { ...s.tags, ...tags },
                },
                child,
            );

        const preview = role("preview", "Read-only preview of the platform", s.preview);
        new aws.iam.RolePolicy(`${name}-preview-read`, { role: preview.name, policy: policyJson(previewPolicy()) }, child);

        const deploy = role("deploy", "Deploys the platform", s.deploy);
        s.deployManagedPolicyArns.forEach((policyArn) => {
            const policyName = policyArn.split("/").pop()!;
            new aws.iam.RolePolicyAttachment(`${name}-deploy-${policyName}`, { role: deploy.name, policyArn }, child);
        });
        new aws.iam.RolePolicy(
            `${name}-deploy-iam`,
            {
                role: deploy.name,
                policy: pulumi
                    .all([partition, identity.accountId, args.permissionsBoundaryArn])
                    .apply(([part, account, boundaryArn]) =>
                        JSON.stringify(deployIamPolicy({ partition: part, accountId: account, prefix: s.managedNamePrefix, boundaryArn })),
                    ),
            },
            child,
        );
        // Everything but IAM, from the resource types the program declares. Managed policies,
        // because the table exceeds the 10,240 characters a role's inline policies may total.
        const servicePolicies = pulumi
            .all([pulumi.output(args.data.bucketArns), pulumi.output(args.data.kmsKeyArns), partition, identity.accountId])
            .apply(([bucketArns, kmsKeyArns, part, accountId]) =>
                splitPolicy(
                    deployServicePolicy({ dataBucketArns: bucketArns, dataKeyArns: kmsKeyArns, forceDestroy: args.data.forceDestroy ?? false, partition: part, accountId } as DeployDataScope & {
                        partition: string;
                        accountId: string;
                    }),
                ),
            );
        for (let i = 0; i < DEPLOY_SERVICE_POLICY_COUNT; i++) {
            const policy = new aws.iam.Policy(
                `${name}-deploy-services-${i + 1}`,
                {
                    namePrefix: `${s.managedNamePrefix}ci-deploy-${i + 1}-`,
                    description: `Deploy role: AWS actions of the program's resource types (part ${i + 1})`,
                    policy: servicePolicies.apply((docs) => JSON.stringify(docs[i])),
                    tags: s.tags,
                },
                child,
            );
            new aws.iam.RolePolicyAttachment(`${name}-deploy-services-${i + 1}`, { role: deploy.name, policyArn: policy.arn }, child);
        }

        const push = role("image-push", "Pushes images to the platform's ECR repositories", s.imagePush);
        new aws.iam.RolePolicy(`${name}-image-push-ecr`, { role: push.name, policy: policyJson(imagePushPolicy(args.imageRepositoryArns)) }, child);

        let validation: aws.iam.Role | undefined;
        if (s.dataValidation) {
            validation = role("data-validation", "Reads the data batch the train pipeline validates", s.dataValidation.trust, { [DATA_READER_TAG]: "data-validation" });
            new aws.iam.RolePolicy(`${name}-data-validation-read`, { role: validation.name, policy: s.dataValidation.readPolicy }, child);
        }

        this.oidcProviderArn = providerArn ?? pulumi.output(undefined);
        this.gitlabOidcProviderArn = gitlabProviderArn;
        this.previewRoleArn = preview.arn;
        this.deployRoleArn = deploy.arn;
        this.imagePushRoleArn = push.arn;
        this.dataValidationRoleArn = validation ? validation.arn : pulumi.output(undefined);
        this.registerOutputs({
            dataValidationRoleArn: this.dataValidationRoleArn,
            oidcProviderArn: this.oidcProviderArn,
            previewRoleArn: this.previewRoleArn,
            deployRoleArn: this.deployRoleArn,
            imagePushRoleArn: this.imagePushRoleArn,
        });
    }
}
