import * as assert from "node:assert/strict";
import { CiAccess, CiAccessArgs, githubSubjects, validateCiAccessArgs } from "../../components/ciAccess";
import { parsePlatformConfig } from "../../config/schema";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory, one, ofType, policyDoc } from "../helpers/resources";

const REPOS = ["arn:aws:ecr:us-east-1:123456789012:repository/mlops-dev/trainer", "arn:aws:ecr:us-east-1:123456789012:repository/mlops-dev/server"];
const BOUNDARY = "arn:aws:iam::123456789012:policy/mlops-dev-permissions-boundary";
const DATA_BUCKETS = ["arn:aws:s3:::mlops-dev-raw", "arn:aws:s3:::mlops-dev-processed"];
const DATA_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const BASE: CiAccessArgs = {
    repository: "acme/ml-platform",
    imageRepositoryArns: REPOS,
    managedNamePrefix: "mlops-dev-",
    permissionsBoundaryArn: BOUNDARY,
    data: { bucketArns: DATA_BUCKETS, kmsKeyArns: [DATA_KEY] },
};
const SUB = "token.actions.githubusercontent.com:sub";
const AUD = "token.actions.githubusercontent.com:aud";

function trust(resources: RecordedResource[], name: string): any {
    const doc = policyDoc(one(resources, "aws:iam/role:Role", name), "assumeRolePolicy");
    assert.equal(doc.Statement.length, 1);
    return doc.Statement[0];
}

describe("CiAccess", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;

    before(async () => {
        const rec = await recordResources(() => {
            const ci = new CiAccess("ci", {
                ...BASE,
                deploy: { environments: ["dev"] },
                imagePush: { branches: ["main", "release/*"] },
                tags: { team: "ml" },
            });
            return { provider: ci.oidcProviderArn, preview: ci.previewRoleArn, deploy: ci.deployRoleArn, push: ci.imagePushRoleArn };
        });
        resources = rec.resources;
        outputs = rec.outputs;
    });

    it("declares exactly the expected children", () => {
        assert.deepEqual(
            inventory(resources),
            [
                "mlops-platform:index:CiAccess ci",
                "aws:iam/openIdConnectProvider:OpenIdConnectProvider ci-github",
                "aws:iam/role:Role ci-preview",
                "aws:iam/rolePolicy:RolePolicy ci-preview-read",
                "aws:iam/role:Role ci-deploy",
                "aws:iam/rolePolicy:RolePolicy ci-deploy-iam",
                "aws:iam/policy:Policy ci-deploy-services-1",
                "aws:iam/policy:Policy ci-deploy-services-2",
                "aws:iam/policy:Policy ci-deploy-services-3",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment ci-deploy-services-1",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment ci-deploy-services-2",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment ci-deploy-services-3",
                "aws:iam/role:Role ci-image-push",
                "aws:iam/rolePolicy:RolePolicy ci-image-push-ecr",
            ].sort(),
        );
    });

    it("creates the GitHub Actions OIDC provider for the STS audience", () => {
        const p = one(resources, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "ci-github");
        assert.equal(p.inputs.url, "https://token.actions.githubusercontent.com");
        assert.deepEqual(p.inputs.clientIdLists, ["sts.amazonaws.com"]);
        assert.equal(outputs.provider, p.outputs.arn);
    });

    it("lets each role be assumed only by the repository's configured refs/environments, for our audience", () => {
        const provider = one(resources, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "ci-github").outputs.arn;
        const preview = trust(resources, "ci-preview");
        assert.deepEqual(preview.Principal, { Federated: provider });
        assert.equal(preview.Action, "sts:AssumeRoleWithWebIdentity");
        assert.deepEqual(preview.Condition, {
            StringEquals: { [AUD]: "sts.amazonaws.com", [SUB]: ["repo:acme/ml-platform:ref:refs/heads/main", "repo:acme/ml-platform:pull_request"] },
        });
        assert.deepEqual(trust(resources, "ci-deploy").Condition, {
            StringEquals: { [AUD]: "sts.amazonaws.com", [SUB]: ["repo:acme/ml-platform:environment:dev"] },
        });
        // A glob needs StringLike; the audience stays an exact match.
        assert.deepEqual(trust(resources, "ci-image-push").Condition, {
            StringEquals: { [AUD]: "sts.amazonaws.com" },
            StringLike: { [SUB]: ["repo:acme/ml-platform:ref:refs/heads/main", "repo:acme/ml-platform:ref:refs/heads/release/*"] },
        });
        for (const r of ofType(resources, "aws:iam/role:Role")) {
            assert.equal(r.inputs.maxSessionDuration, 3600);
            assert.equal(r.inputs.tags.team, "ml");
        }
    });

    it("gives the preview role configuration reads only, and denies secret reads outright", () => {
        const doc = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "ci-preview-read"));
        const allowed: string[] = doc.Statement.filter((s: any) => s.Effect === "Allow").flatMap((s: any) => [].concat(s.Action));
        for (const a of allowed) {
            assert.match(a, /^[a-z0-9-]+:(Describe|List|Get)/, `${a} is a read`);
            assert.ok(!/:\*$/.test(a), `${a} is not a service wildcard`);
        }
        for (const forbidden of ["s3:GetObject", "secretsmanager:GetSecretValue", "ssm:GetParameter", "kms:Decrypt", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]) {
            assert.ok(!allowed.includes(forbidden), `${forbidden} not allowed`);
        }
        const deny = doc.Statement.find((s: any) => s.Effect === "Deny");
        assert.ok(deny.Action.includes("secretsmanager:GetSecretValue") && deny.Action.includes("ssm:GetParameter"));
    });

    it("names every CI role under the stack prefix and `ci-`, tagged as a CI role", () => {
        for (const key of ["preview", "deploy", "image-push"]) {
            const r = one(resources, "aws:iam/role:Role", `ci-${key}`);
            assert.equal(r.inputs.namePrefix, `mlops-dev-ci-${key}-`);
            assert.ok(r.inputs.namePrefix.length <= 38, "namePrefix leaves room for the provider's 26-character suffix");
            assert.equal(r.inputs.tags["mlops.platform/ci-role"], key);
        }
    });

    it("gives the deploy role no AWS managed policy, IAM rights only under the prefix and with the boundary", () => {
        const attached = ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((a) => a.inputs.policyArn);
        assert.ok(!attached.some((a: string) => a.startsWith("arn:aws:iam::aws:policy/")), `no AWS managed policy: ${attached}`);
        const doc = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "ci-deploy-iam"));
        const create = doc.Statement.find((s: any) => s.Sid === "CreateAndChangeRolesOnlyWithTheBoundary");
        assert.equal(create.Resource, "arn:aws:iam::123456789012:role/mlops-dev-*");
        assert.deepEqual(create.Condition, { StringEquals: { "iam:PermissionsBoundary": BOUNDARY } });
        assert.equal(doc.Statement.find((s: any) => s.Sid === "NeverChangeTheCiRoles").Resource, "arn:aws:iam::123456789012:role/mlops-dev-ci-*");
        for (const s of doc.Statement) {
            assert.ok(![].concat(s.Action).some((a: string) => a === "*" || a === "iam:*"), `${s.Sid} has no wildcard action`);
        }
    });

    it("puts the deploy role's service actions in managed policies under the size limit, each carrying the data denials", () => {
        for (const i of [1, 2, 3]) {
            const p = one(resources, "aws:iam/policy:Policy", `ci-deploy-services-${i}`);
            assert.ok(p.inputs.policy.length <= 6144, `part ${i} is ${p.inputs.policy.length} characters`);
            const doc = JSON.parse(p.inputs.policy);
            const deny = doc.Statement.find((s: any) => s.Sid === "NeverReadDataObjects");
            assert.deepEqual(deny.Resource, DATA_BUCKETS.map((b) => `${b}/*`));
            assert.ok(doc.Statement.some((s: any) => s.Sid === "NeverUseTheDataKey" && s.Resource.includes(DATA_KEY)));
        }
    });

    it("lets the image-push role push only to the given repositories", () => {
        const doc = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "ci-image-push-ecr"));
        assert.deepEqual(doc.Statement.find((s: any) => s.Sid === "EcrLogin"), { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" });
        const push = doc.Statement.find((s: any) => s.Sid === "PushToPlatformRepositories");
        assert.deepEqual(push.Resource, REPOS);
        assert.ok(push.Action.includes("ecr:PutImage"));
        assert.ok(!push.Action.some((a: string) => a.startsWith("ecr:Delete") || a === "ecr:*"));
    });

    it("reuses an existing GitHub OIDC provider", async () => {
        const existing = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
        const { resources } = await recordResources(() => {
            new CiAccess("ci2", { ...BASE, existingOidcProviderArn: existing });
        });
        assert.equal(ofType(resources, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").length, 0);
        assert.deepEqual(trust(resources, "ci2-deploy").Principal, { Federated: existing });
    });
});

describe("validateCiAccessArgs", () => {
    const v = (extra: Partial<CiAccessArgs>) => () => validateCiAccessArgs({ ...BASE, ...extra });

    it("applies defaults", () => {
        const s = validateCiAccessArgs(BASE);
        assert.deepEqual(githubSubjects(s.repository!, s.preview), ["repo:acme/ml-platform:ref:refs/heads/main", "repo:acme/ml-platform:pull_request"]);
        assert.deepEqual(githubSubjects(s.repository!, s.deploy), ["repo:acme/ml-platform:ref:refs/heads/main"]);
        assert.deepEqual(s.deployManagedPolicyArns, []);
    });
    it("rejects a repository that is not owner/name", () => assertInvalid(v({ repository: "ml-platform" }), "repository", /owner\/name/));
    it("rejects a wildcard repository", () => assertInvalid(v({ repository: "acme/*" }), "repository"));
    it("rejects a wildcard-only branch", () => assertInvalid(v({ deploy: { branches: ["*"] } }), "deploy.branches[0]", /bare wildcard/));
    it("rejects a wildcard-only environment", () => assertInvalid(v({ deploy: { environments: ["**"] } }), "deploy.environments[0]"));
    it("rejects a subject with a colon (it would forge the sub format)", () => assertInvalid(v({ imagePush: { tags: ["v1:x"] } }), "imagePush.tags[0]"));
    it("rejects a role nobody may assume", () => assertInvalid(v({ preview: {} }), "preview", /at least one/));
    it("rejects another provider's ARN", () =>
        assertInvalid(v({ existingOidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/gitlab.com" }), "existingOidcProviderArn"));
    it("rejects no repositories to push to", () => assertInvalid(v({ imageRepositoryArns: [] }), "imageRepositoryArns", /at least one/));
    it("rejects a wildcard repository ARN", () =>
        assertInvalid(v({ imageRepositoryArns: ["arn:aws:ecr:us-east-1:123456789012:repository/*"] }), "imageRepositoryArns[0]", /no wildcards/));
    it("rejects AdministratorAccess for the deploy role", () =>
        assertInvalid(v({ deployManagedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"] }), "deployManagedPolicyArns[0]"));
    it("rejects PowerUserAccess for the deploy role (it reads every object, key and secret)", () =>
        assertInvalid(v({ deployManagedPolicyArns: ["arn:aws:iam::aws:policy/PowerUserAccess"] }), "deployManagedPolicyArns[0]", /PowerUserAccess/));
    it("rejects a name prefix that leaves no room in IAM's 64-character role names", () =>
        assertInvalid(v({ managedNamePrefix: "a-very-long-project-name-and-stack-" }), "managedNamePrefix"));
    it("rejects a missing name prefix", () => assertInvalid(v({ managedNamePrefix: "" }), "managedNamePrefix"));
    it("rejects a session longer than 12 hours", () => assertInvalid(v({ maxSessionDurationSeconds: 86400 }), "maxSessionDurationSeconds"));
});

describe("CiAccess with GitLab pipelines", () => {
    const GITLAB = { project: "acme/platform/ml", url: "https://gitlab.example.com" };
    let resources: RecordedResource[];

    before(async () => {
        const rec = await recordResources(() => {
            const ci = new CiAccess("ci", { ...BASE, gitlab: GITLAB });
            return { gitlab: ci.gitlabOidcProviderArn };
        });
        resources = rec.resources;
    });

    const statements = (name: string) => policyDoc(one(resources, "aws:iam/role:Role", name), "assumeRolePolicy").Statement as any[];

    it("creates the instance's OIDC provider for the STS audience .gitlab-ci.yml requests", () => {
        const p = one(resources, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "ci-gitlab").inputs;
        assert.equal(p.url, "https://gitlab.example.com");
        assert.deepEqual(p.clientIdLists, ["sts.amazonaws.com"]);
    });

    it("adds a GitLab statement to each role: deploy, image push and data reads from main only, preview from any branch of the project", () => {
        for (const role of ["ci-deploy", "ci-image-push"]) {
            const st = statements(role);
            assert.deepEqual(st.map((s) => s.Sid), ["GitHubActions", "GitLabCi"], role);
            assert.deepEqual(st[1].Condition, {
                StringEquals: { "gitlab.example.com:aud": "sts.amazonaws.com", "gitlab.example.com:sub": ["project_path:acme/platform/ml:ref_type:branch:ref:main"] },
            });
        }
        const preview = statements("ci-preview")[1];
        assert.deepEqual(preview.Condition.StringLike, { "gitlab.example.com:sub": ["project_path:acme/platform/ml:ref_type:branch:ref:*"] });
        assert.equal(preview.Condition.StringEquals["gitlab.example.com:aud"], "sts.amazonaws.com");
    });

    it("works for a GitLab-only project: no GitHub provider, only the GitLab statement", async () => {
        const { repository: _r, ...noGithub } = BASE;
        const rec = await recordResources(() => {
            new CiAccess("ci", { ...noGithub, gitlab: { project: "acme/ml", deployBranches: ["main", "release/*"] } });
            return {};
        });
        assert.deepEqual(ofType(rec.resources, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").map((r) => r.inputs.url), ["https://gitlab.com"]);
        const st = policyDoc(one(rec.resources, "aws:iam/role:Role", "ci-deploy"), "assumeRolePolicy").Statement;
        assert.deepEqual(st.map((s: any) => s.Sid), ["GitLabCi"]);
        assert.deepEqual(st[0].Condition.StringLike["gitlab.com:sub"], ["project_path:acme/ml:ref_type:branch:ref:main", "project_path:acme/ml:ref_type:branch:ref:release/*"]);
    });

    const v = (extra: Partial<CiAccessArgs>) => () => validateCiAccessArgs({ ...BASE, ...extra });
    it("requires a GitHub repository or a GitLab project", () => assertInvalid(v({ repository: undefined }), "repository", /gitlab.project/));
    it("rejects a GitLab project that is not group/project", () => assertInvalid(v({ gitlab: { project: "ml" } }), "gitlab.project", /group/));
    it("rejects a GitLab URL with a path or over http", () => {
        assertInvalid(v({ gitlab: { project: "a/b", url: "http://gitlab.example.com" } }), "gitlab.url");
        assertInvalid(v({ gitlab: { project: "a/b", url: "https://gitlab.example.com/x" } }), "gitlab.url");
    });
    it("rejects deploying from every branch", () => assertInvalid(v({ gitlab: { project: "a/b", deployBranches: ["*"] } }), "gitlab.deployBranches[0]", /bare wildcard/));
    it("rejects a branch with ':' (it would forge the sub format)", () => assertInvalid(v({ gitlab: { project: "a/b", previewBranches: ["x:y"] } }), "gitlab.previewBranches[0]"));

    it("stack config gitlabCi: errors name the config key; a GitLab-only stack gets its CI roles", () => {
        const ctx = { project: "mlops-platform", stack: "dev" };
        assertInvalid(() => parsePlatformConfig({ gitlabCi: JSON.stringify({ project: "ml" }) }, ctx), "mlops-platform:gitlabCi.project", /group/);
        assertInvalid(() => parsePlatformConfig({ gitlabCi: JSON.stringify({ project: "a/b", deployBranches: ["**"] }) }, ctx), "mlops-platform:gitlabCi.deployBranches[0]", /bare wildcard/);
        assertInvalid(() => parsePlatformConfig({ gitlabCi: JSON.stringify({ project: "a/b", branch: "main" }) }, ctx), "mlops-platform:gitlabCi.branch");
        const c = parsePlatformConfig({ gitlabCi: JSON.stringify({ project: "a/b" }) }, ctx);
        assert.deepEqual(c.ci?.gitlab, { project: "a/b" });
        assert.equal(c.ci?.repository, undefined);
    });
});
