/**
 * Every GitHub Actions job that assumes an AWS role can assume it on a real account: the `sub`
 * claim GitHub puts in the job's OIDC token (its environment when the job declares one, else the
 * ref or pull_request of its trigger) is one the role's rendered trust policy admits, in each stack
 * the job can target. A job in `environment: dev` against a role that trusts `ref:refs/heads/main`
 * is refused by STS, whatever our plan says.
 * https://docs.github.com/en/actions/reference/security/oidc#example-subject-claims
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { CI_ROLE_TAG } from "../../components/iam";
import { DATA_READER_TAG, GITHUB_OIDC_HOST } from "../../components/ciAccess";
import { runProgram } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const STACKS = ["dev", "prod"];
/** Repository variable → the CiAccess role it holds (`ciRoleArns` stack output). */
const ROLE_OF_VARIABLE: Record<string, string> = {
    AWS_PREVIEW_ROLE_ARN: "preview",
    AWS_DEPLOY_ROLE_ARN: "deploy",
    AWS_DATA_VALIDATION_ROLE_ARN: "data-validation",
};

interface Assumption {
    where: string;
    role: string;
    subjects: string[];
    stacks: string[];
}

/** The `sub` claims of a job's token (repository placeholder `R`). */
function subjectsOf(on: any, job: any): string[] {
    const env = typeof job.environment === "string" ? job.environment : job.environment?.name;
    if (env) return [`repo:R:environment:${env}`];
    const triggers = typeof on === "string" ? { [on]: {} } : Array.isArray(on) ? Object.fromEntries(on.map((t: string) => [t, {}])) : on;
    const subs: string[] = [];
    for (const [event, cfg] of Object.entries<any>(triggers)) {
        if (event === "pull_request" || event === "pull_request_target") subs.push("repo:R:pull_request");
        else if (event === "push") {
            for (const b of cfg?.branches ?? ["main"]) subs.push(`repo:R:ref:refs/heads/${b}`);
            for (const t of cfg?.tags ?? []) subs.push(`repo:R:ref:refs/tags/${t}`);
        } else if (["schedule", "workflow_dispatch", "repository_dispatch", "workflow_run"].includes(event)) {
            subs.push("repo:R:ref:refs/heads/main"); // these run on the default branch
        }
    }
    return [...new Set(subs)];
}

function assumptions(): Assumption[] {
    const out: Assumption[] = [];
    for (const f of fs.readdirSync(WORKFLOWS).filter((x) => /\.ya?ml$/.test(x))) {
        const wf = YAML.parse(fs.readFileSync(path.join(WORKFLOWS, f), "utf8"));
        for (const [name, job] of Object.entries<any>(wf.jobs)) {
            for (const step of job.steps ?? []) {
                if (!/^aws-actions\/configure-aws-credentials@/.test(step.uses ?? "")) continue;
                const v = /^\$\{\{\s*vars\.([A-Z0-9_]+)\s*\}\}$/.exec(String(step.with?.["role-to-assume"] ?? ""));
                assert.ok(v, `${f}:${name}: role-to-assume must be a repository variable, got ${step.with?.["role-to-assume"]}`);
                const role = ROLE_OF_VARIABLE[v[1]];
                assert.ok(role, `${f}:${name}: ${v[1]} is not a ciRoleArns output (${Object.keys(ROLE_OF_VARIABLE).join(", ")})`);
                const subjects = subjectsOf(wf.on ?? wf[true as any], job);
                const env = typeof job.environment === "string" ? job.environment : job.environment?.name;
                out.push({ where: `${f}:${name}`, role, subjects, stacks: env && STACKS.includes(env) ? [env] : STACKS });
            }
        }
    }
    return out;
}

/** The sub patterns a rendered GitHub trust policy admits (StringEquals exact, StringLike globs). */
function admittedSubjects(role: RecordedResource): { exact: string[]; globs: RegExp[] } {
    const doc = JSON.parse(role.inputs.assumeRolePolicy);
    const exact: string[] = [];
    const globs: RegExp[] = [];
    for (const st of doc.Statement.filter((s: any) => s.Effect === "Allow")) {
        const eq = st.Condition?.StringEquals?.[`${GITHUB_OIDC_HOST}:sub`];
        const like = st.Condition?.StringLike?.[`${GITHUB_OIDC_HOST}:sub`];
        exact.push(...[eq ?? []].flat());
        for (const g of [like ?? []].flat() as string[]) {
            globs.push(new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`));
        }
    }
    return { exact, globs };
}

describe("GitHub OIDC: every workflow job can assume the role it asks for", function () {
    this.timeout(240_000);
    const roles: Record<string, Record<string, RecordedResource>> = {};
    const resources: Record<string, RecordedResource[]> = {};
    const configs: Record<string, Record<string, string>> = {};
    let repository = "";

    before(async () => {
        for (const stack of STACKS) {
            const run = await runProgram({ root: ROOT, stack });
            repository = String(run.config.config["mlops-platform:githubRepository"] ?? "");
            roles[stack] = {};
            resources[stack] = run.resources;
            configs[stack] = run.config.config;
            for (const r of run.resources.filter((x) => x.type === "aws:iam/role:Role")) {
                const key = r.inputs.tags?.[CI_ROLE_TAG] ?? r.inputs.tags?.[DATA_READER_TAG];
                if (key) roles[stack][key] = r;
            }
        }
        assert.ok(repository, "the stacks set mlops-platform:githubRepository");
    });

    it("every .gitlab-ci.yml job that assumes a role presents a GitLab token subject its role admits, in every stack it targets", () => {
        const gl = YAML.parse(fs.readFileSync(path.join(ROOT, ".gitlab-ci.yml"), "utf8"), { merge: true });
        const project = JSON.parse(String(configs.dev["mlops-platform:gitlabCi"] ?? "{}")).project;
        assert.ok(project, "the stacks set mlops-platform:gitlabCi");
        const refused: string[] = [];
        const declined: string[] = [];
        let checked = 0;
        for (const [name, job] of Object.entries<any>(gl)) {
            if (!job || typeof job !== "object" || name.startsWith(".")) continue;
            const roleVar = /^\$([A-Z0-9_]+)$/.exec(String(job.variables?.AWS_ROLE_ARN ?? ""))?.[1];
            if (!roleVar) continue;
            const role = ROLE_OF_VARIABLE[roleVar];
            assert.ok(role, `.gitlab-ci.yml:${name}: ${roleVar} is not a ciRoleArns output`);
            const rules = JSON.stringify(job.rules ?? []);
            // Merge request pipelines run for their source branch; the others for the default branch.
            const refs = [...(/merge_request_event/.test(rules) ? ["feature/new-model"] : []), ...(/CI_DEFAULT_BRANCH|schedule|trigger|web|api/.test(rules) ? ["main"] : [])];
            assert.ok(refs.length > 0, `.gitlab-ci.yml:${name}: no rule this spec understands (${rules})`);
            const env = typeof job.environment === "string" ? job.environment : job.environment?.name;
            const named = [...JSON.stringify(job).matchAll(/\$PULUMI_ORG\/(dev|prod)\b/g)].map((m) => m[1]);
            const stacks = env && STACKS.includes(env) ? [env] : named.length > 0 ? [...new Set(named)] : STACKS;
            for (const stack of stacks) {
                const r = roles[stack][role];
                if (!r) {
                    refused.push(`${name} → ${stack}: no ${role} role`);
                    continue;
                }
                const st = JSON.parse(r.inputs.assumeRolePolicy).Statement.find((s: any) => s.Sid === "GitLabCi");
                const gitlabCi = JSON.parse(String(configs[stack]["mlops-platform:gitlabCi"] ?? "{}"));
                if (!st && role !== "preview" && Array.isArray(gitlabCi.deployBranches) && gitlabCi.deployBranches.length === 0) {
                    declined.push(`${name} → ${stack} ${role}`); // the stack lets GitLab only preview
                    continue;
                }
                if (!st) {
                    refused.push(`${name} → ${stack} ${role}: the trust policy has no GitLab statement`);
                    continue;
                }
                const host = Object.keys(st.Condition.StringEquals).find((k) => k.endsWith(":aud"))!.replace(/:aud$/, "");
                assert.equal(st.Condition.StringEquals[`${host}:aud`], "sts.amazonaws.com", "the audience .gitlab-ci.yml's id_tokens request");
                const patterns = [st.Condition.StringEquals[`${host}:sub`] ?? [], st.Condition.StringLike?.[`${host}:sub`] ?? []].flat() as string[];
                for (const ref of refs) {
                    checked++;
                    const sub = `project_path:${project}:ref_type:branch:ref:${ref}`;
                    const ok = patterns.some((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(sub));
                    if (!ok) refused.push(`${name} → ${stack} ${role}: token sub ${sub} not in ${JSON.stringify(patterns)}`);
                }
            }
        }
        assert.ok(checked >= 6, `checked ${checked} job/stack/ref combinations`);
        assert.deepEqual(refused, []);
        // Declined on purpose (prod trusts only GitHub environments), and said where the job is.
        assert.deepEqual(declined, ["deploy-prod → prod deploy"]);
        const text = fs.readFileSync(path.join(ROOT, ".gitlab-ci.yml"), "utf8");
        assert.match(text.slice(0, text.indexOf("\ndeploy-prod:")), /Needs the prod stack's gitlabCi.deployBranches[^]*never an approved\n# environment/);
    });

    it("a feature branch can preview through GitLab but never deploy", () => {
        const project = JSON.parse(String(configs.dev["mlops-platform:gitlabCi"])).project;
        const sub = `project_path:${project}:ref_type:branch:ref:feature/x`;
        const st = (role: string) => JSON.parse(roles.dev[role].inputs.assumeRolePolicy).Statement.find((s: any) => s.Sid === "GitLabCi");
        const deploy = st("deploy");
        assert.equal(deploy.Condition.StringLike, undefined, "exact subjects only");
        assert.ok(!JSON.stringify(deploy.Condition).includes(sub));
        assert.deepEqual(st("preview").Condition.StringLike["gitlab.com:sub"], [`project_path:${project}:ref_type:branch:ref:*`]);
    });

    it("finds the jobs that assume roles (deploy, preview, data validation)", () => {
        const found = assumptions();
        assert.deepEqual([...new Set(found.map((a) => a.role))].sort(), ["data-validation", "deploy", "preview"]);
    });

    it("each job's token subject is admitted by its role's trust policy in every stack it targets", () => {
        const refused: string[] = [];
        for (const a of assumptions()) {
            for (const stack of a.stacks) {
                const role = roles[stack][a.role];
                if (!role) {
                    refused.push(`${a.where} → ${stack}: the stack has no ${a.role} role`);
                    continue;
                }
                const { exact, globs } = admittedSubjects(role);
                for (const sub of a.subjects.map((s) => s.replace("repo:R:", `repo:${repository}:`))) {
                    if (!exact.includes(sub) && !globs.some((g) => g.test(sub))) {
                        refused.push(`${a.where} → ${stack} ${a.role}: token sub ${sub} not in ${JSON.stringify([...exact, ...globs.map(String)])}`);
                    }
                }
            }
        }
        assert.deepEqual(refused, []);
    });

    it("the claim model: an environment job presents its environment, a pull request presents pull_request", () => {
        assert.deepEqual(subjectsOf({ push: { branches: ["main"] } }, { environment: "dev" }), ["repo:R:environment:dev"]);
        assert.deepEqual(subjectsOf({ push: { branches: ["main"] } }, { environment: { name: "prod", url: "x" } }), ["repo:R:environment:prod"]);
        assert.deepEqual(subjectsOf({ pull_request: {} }, {}), ["repo:R:pull_request"]);
        assert.deepEqual(subjectsOf({ push: { branches: ["main", "release/*"] } }, {}), ["repo:R:ref:refs/heads/main", "repo:R:ref:refs/heads/release/*"]);
    });

    it("the data-validation role reads only the raw bucket's dataset prefixes and may decrypt only via S3", () => {
        // A stack with training has one (dev); the train pipelines validate before they train.
        assert.ok(roles.dev["data-validation"], "dev has a data-validation role");
        for (const stack of STACKS.filter((s) => roles[s]["data-validation"])) {
            const role = roles[stack]["data-validation"];
            assert.ok(role.inputs.permissionsBoundary, `${stack}: the data-validation role carries the permissions boundary`);
            assert.equal(role.inputs.tags[CI_ROLE_TAG], undefined, "not tagged as a CI role (the key policy would deny it decryption)");
            const policies = resources[stack].filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && /data-validation/.test(r.name));
            assert.equal(policies.length, 1, `${stack}: one inline policy`);
            const statements = JSON.parse(policies[0].inputs.policy).Statement as any[];
            const raw = resources[stack].find((r) => r.type === "aws:s3/bucketV2:BucketV2" && /raw/.test(r.name) && !/replica|log/.test(r.name));
            for (const st of statements) {
                assert.equal(st.Effect, "Allow");
                const actions = [st.Action].flat() as string[];
                if (actions.some((a) => a.startsWith("kms:"))) {
                    assert.deepEqual(actions, ["kms:Decrypt"], "decrypt only");
                    assert.match(st.Condition.StringEquals["kms:ViaService"], /^s3\./);
                    continue;
                }
                assert.ok(actions.every((a) => ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation"].includes(a)), `read-only, got ${actions}`);
                for (const res of [st.Resource].flat() as string[]) {
                    assert.ok(res.includes(":::") && (!raw || res.includes(String(raw.outputs?.bucket ?? raw.inputs.bucket ?? ":::"))), `${res} is in the raw bucket`);
                    if (actions.includes("s3:GetObject")) assert.match(res, /\/credit-risk\/\*$/);
                }
                if (actions.includes("s3:ListBucket")) assert.deepEqual(st.Condition, { StringLike: { "s3:prefix": ["credit-risk/*"] } });
            }
        }
    });
});
