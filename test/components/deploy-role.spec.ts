// The CI deploy role of the real program (both stacks), proven with the IAM policy simulator: it can
// do every action `pulumi up` needs for the resource types and invokes the program declares, and it
// cannot make itself (or anything) an administrator, escape the permissions boundary, or read data.
// The boundary itself is proven to hold against a role that tries to widen its own rights.
import * as assert from "node:assert/strict";
import * as path from "path";
import { ATTACHABLE_MANAGED_POLICIES } from "../../components/ciAccess";
import { DEPLOY_ACTIONS_BY_INVOKE, DEPLOY_ACTIONS_BY_TYPE, NO_AWS_ACTIONS } from "../../components/deployPermissions";
import { ProgramRun, runProgram } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { ACCOUNT, REGION, decide } from "../helpers/iam-sim";
import { ofType, one, policyDoc } from "../helpers/resources";

const ROOT = path.resolve(__dirname, "..", "..", "..");

/** Inline and customer-managed policies of a role in a program run (AWS managed ones are not expected on CI roles). */
function rolePolicies(resources: RecordedResource[], role: RecordedResource): { name: string; policy: object }[] {
    const inline = ofType(resources, "aws:iam/rolePolicy:RolePolicy")
        .filter((p) => p.inputs.role === role.outputs.name)
        .map((p) => ({ name: p.name, policy: policyDoc(p) }));
    const managed = ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        .filter((a) => a.inputs.role === role.outputs.name)
        .map((a) => {
            const policy = ofType(resources, "aws:iam/policy:Policy").find((p) => p.outputs.arn === a.inputs.policyArn);
            assert.ok(policy, `${role.name} has ${a.inputs.policyArn} attached, which is not one of the stack's policies`);
            return { name: policy.name, policy: policyDoc(policy) };
        });
    return [...inline, ...managed];
}

for (const stack of ["dev", "prod"]) {
    describe(`CI deploy role of the ${stack} stack, by IAM simulation`, function () {
        this.timeout(120_000);
        let run: ProgramRun;
        let deployArn: string;
        let policies: { name: string; policy: object }[];
        let boundaryArn: string;
        let boundaryDoc: object;
        let prefix: string;
        let dataBuckets: string[];
        let dataKey: string;
        let dataKeyPolicy: object;

        // The role's tags are its session's principal tags (the key policies deny CI-tagged principals).
        const deploy = (action: string, resource: string, context?: Record<string, string | string[]>, resourcePolicy?: object) =>
            decide({ principal: deployArn, action, resource, context: { "aws:PrincipalTag/mlops.platform/ci-role": "deploy", ...context }, identityPolicies: policies, resourcePolicy });

        before(async () => {
            run = await runProgram({ root: ROOT, stack });
            const role = one(run.resources, "aws:iam/role:Role", "mlops-ci-deploy");
            deployArn = role.outputs.arn;
            policies = rolePolicies(run.resources, role);
            const boundary = one(run.resources, "aws:iam/policy:Policy", "mlops-permissions-boundary");
            boundaryArn = boundary.outputs.arn;
            boundaryDoc = policyDoc(boundary);
            prefix = `mlops-platform-${stack}-`;
            // The data buckets and, in prod, their cross-region replicas (all but the log buckets).
            dataBuckets = ofType(run.resources, "aws:s3/bucket:Bucket")
                .filter((b) => /-(raw|processed|artifacts|audit-logs)$/.test(b.name))
                .map((b) => b.outputs.arn);
            const key = one(run.resources, "aws:kms/key:Key", "mlops-data-key");
            dataKey = key.outputs.arn;
            dataKeyPolicy = policyDoc(key);
            assert.equal(dataBuckets.length, stack === "prod" ? 7 : 3);
        });

        it("every AWS resource type and invoke of the program has a row in the deploy-permissions table", () => {
            const types = [...new Set(run.resources.map((r) => r.type))].filter((t) => !NO_AWS_ACTIONS.some((re) => re.test(t)));
            const missing = types.filter((t) => !t.startsWith("aws:iam/") && !(t in DEPLOY_ACTIONS_BY_TYPE));
            assert.deepEqual(missing, [], "add these types to components/deployPermissions.ts");
            const missingInvokes = [...new Set(run.invokes)].filter((i) => !(i in DEPLOY_ACTIONS_BY_INVOKE));
            assert.deepEqual(missingInvokes, [], "add these invokes to components/deployPermissions.ts (or stop calling them)");
        });

        it("can do every action of every declared type and invoke", async () => {
            const types = new Set([...run.resources.map((r) => r.type), ...run.invokes]);
            const denied: string[] = [];
            for (const t of types) {
                const row = DEPLOY_ACTIONS_BY_TYPE[t] ?? DEPLOY_ACTIONS_BY_INVOKE[t];
                for (const action of row?.actions ?? []) {
                    if ((await deploy(action, "*")) !== "Allowed") denied.push(`${t}: ${action}`);
                }
            }
            assert.deepEqual(denied, []);
        });

        it("cannot do what the table reserves for administrators (key policies, key deletion), whatever IAM says", async () => {
            const everything = [{ name: "widened", policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] } }];
            for (const key of ofType(run.resources, "aws:kms/key:Key")) {
                for (const action of DEPLOY_ACTIONS_BY_TYPE["aws:kms/key:Key"].adminOnly!) {
                    assert.equal(await deploy(action, key.outputs.arn, {}, policyDoc(key)), "ExplicitlyDenied", `${action} on ${key.name}`);
                    // Even a widened identity policy cannot: the key policy denies CI-tagged principals.
                    const widened = await decide({
                        principal: deployArn,
                        action,
                        resource: key.outputs.arn,
                        context: { "aws:PrincipalTag/mlops.platform/ci-role": "deploy" },
                        identityPolicies: everything,
                        resourcePolicy: policyDoc(key),
                    });
                    assert.equal(widened, "ExplicitlyDenied", `${action} on ${key.name} with a widened policy`);
                }
            }
        });

        it("creates, changes and passes stack roles that carry the boundary", async () => {
            const role = `arn:aws:iam::${ACCOUNT}:role/${prefix}cluster-node-20251130000000000000000001`;
            const withBoundary = { "iam:PermissionsBoundary": boundaryArn };
            assert.equal(await deploy("iam:CreateRole", role, withBoundary), "Allowed");
            assert.equal(await deploy("iam:PutRolePolicy", role, withBoundary), "Allowed");
            assert.equal(await deploy("iam:TagRole", role), "Allowed");
            assert.equal(await deploy("iam:PassRole", role, { "iam:PassedToService": "eks.amazonaws.com" }), "Allowed");
            for (const p of ATTACHABLE_MANAGED_POLICIES) {
                assert.equal(await deploy("iam:AttachRolePolicy", role, { ...withBoundary, "iam:PolicyARN": `arn:aws:iam::aws:policy/${p}` }), "Allowed", p);
            }
            assert.equal(await deploy("iam:CreateServiceLinkedRole", `arn:aws:iam::${ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS`, { "iam:AWSServiceName": "eks.amazonaws.com" }), "Allowed");
        });

        it("cannot create or change a role without the boundary, or with another boundary", async () => {
            const role = `arn:aws:iam::${ACCOUNT}:role/${prefix}backdoor-20251130000000000000000001`;
            assert.equal(await deploy("iam:CreateRole", role), "ImplicitlyDenied");
            assert.equal(await deploy("iam:CreateRole", role, { "iam:PermissionsBoundary": `arn:aws:iam::${ACCOUNT}:policy/AllowAll` }), "ImplicitlyDenied");
            assert.equal(await deploy("iam:PutRolePolicy", role), "ImplicitlyDenied");
            assert.notEqual(await deploy("iam:DeleteRolePermissionsBoundary", role), "Allowed");
        });

        it("cannot attach AdministratorAccess (or any policy it does not use), even to a bounded role", async () => {
            const role = `arn:aws:iam::${ACCOUNT}:role/${prefix}cluster-node-20251130000000000000000001`;
            for (const p of ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"]) {
                const ctx = { "iam:PermissionsBoundary": boundaryArn, "iam:PolicyARN": `arn:aws:iam::aws:policy/${p}` };
                assert.equal(await deploy("iam:AttachRolePolicy", role, ctx), "ImplicitlyDenied", p);
            }
        });

        it("cannot touch roles outside the prefix, the CI roles (its own included), the boundary, users or keys", async () => {
            const ctx = { "iam:PermissionsBoundary": boundaryArn };
            assert.equal(await deploy("iam:PutRolePolicy", `arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`, ctx), "ImplicitlyDenied");
            assert.equal(await deploy("iam:PutRolePolicy", deployArn, ctx), "ExplicitlyDenied");
            assert.equal(await deploy("iam:UpdateAssumeRolePolicy", deployArn), "ExplicitlyDenied");
            assert.equal(await deploy("iam:PassRole", deployArn, { "iam:PassedToService": "ec2.amazonaws.com" }), "ExplicitlyDenied");
            assert.equal(await deploy("iam:CreatePolicyVersion", boundaryArn), "ExplicitlyDenied");
            assert.equal(await deploy("iam:DeletePolicy", boundaryArn), "ExplicitlyDenied");
            assert.equal(await deploy("iam:CreateUser", `arn:aws:iam::${ACCOUNT}:user/mlops-backdoor`), "ImplicitlyDenied");
            assert.equal(await deploy("iam:CreateAccessKey", `arn:aws:iam::${ACCOUNT}:user/admin`), "ImplicitlyDenied");
        });

        it("cannot read data objects, use the data key or read secrets", async () => {
            for (const b of dataBuckets) {
                assert.equal(await deploy("s3:GetObject", `${b}/datasets/train.parquet`), "ExplicitlyDenied", b);
                assert.equal(await deploy("s3:GetObjectVersion", `${b}/datasets/train.parquet`), "ExplicitlyDenied", b);
            }
            assert.equal(await deploy("kms:Decrypt", dataKey, {}, dataKeyPolicy), "ExplicitlyDenied");
            assert.equal(await deploy("kms:GenerateDataKey", dataKey, {}, dataKeyPolicy), "ExplicitlyDenied");
            for (const secret of ["mlflow-admin-AbCdEf", "prod/api-keys-AbCdEf", "alertmanager-receivers-AbCdEf"]) {
                assert.equal(await deploy("secretsmanager:GetSecretValue", `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${secret}`), "ExplicitlyDenied", secret);
            }
            assert.equal(await deploy("ssm:GetParameter", `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/prod/db-password`), "ExplicitlyDenied");
        });

        // Issue 12 #4: the program no longer reads any secret at deploy time (the tracking server's
        // database credentials are obtained in-cluster), so the deploy role reads none, not even
        // the RDS-managed master secret it once had to.
        it("reads no secret, not even the RDS-managed master secret, and the program calls no getSecretVersion", async () => {
            assert.ok(!run.invokes.includes("aws:secretsmanager/getSecretVersion:getSecretVersion"), "the program reads a secret at deploy time again");
            assert.equal(await deploy("secretsmanager:GetSecretValue", `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:rds!db-1234-AbCdEf`), "ExplicitlyDenied");
            assert.equal(await deploy("secretsmanager:GetSecretValue", `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:mlops-platform-prod-tracking-db-app-credentials-AbCdEf`), "ExplicitlyDenied");
            // It still manages the (value-less) secret the program declares.
            assert.equal(await deploy("secretsmanager:CreateSecret", `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:x-AbCdEf`), "Allowed");
        });

        describe("the permissions boundary", () => {
            // A bounded role whose own (hypothetical, widened) policy allows everything.
            const everything = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };
            const bounded = (action: string, resource: string, context?: Record<string, string>, resourcePolicy?: object) =>
                decide({
                    resourcePolicy,
                    principal: `arn:aws:iam::${ACCOUNT}:role/${prefix}train-20251130000000000000000001`,
                    action,
                    resource,
                    context,
                    identityPolicies: [{ name: "widened", policy: everything }],
                    boundary: boundaryDoc,
                });

            it("stops escalation: no users, access keys, roles, policies, boundary removal or key administration", async () => {
                const role = `arn:aws:iam::${ACCOUNT}:role/${prefix}train-20251130000000000000000001`;
                assert.notEqual(await bounded("iam:CreateUser", `arn:aws:iam::${ACCOUNT}:user/x`), "Allowed");
                assert.notEqual(await bounded("iam:CreateAccessKey", `arn:aws:iam::${ACCOUNT}:user/admin`), "Allowed");
                assert.notEqual(await bounded("iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/x`), "Allowed");
                assert.notEqual(await bounded("iam:AttachRolePolicy", role, { "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess" }), "Allowed");
                assert.notEqual(await bounded("iam:DeleteRolePermissionsBoundary", role), "Allowed");
                assert.notEqual(await bounded("iam:CreatePolicyVersion", boundaryArn), "Allowed");
                assert.notEqual(await bounded("iam:PassRole", role), "Allowed");
                assert.notEqual(await bounded("kms:PutKeyPolicy", dataKey), "Allowed");
                assert.notEqual(await bounded("kms:ScheduleKeyDeletion", dataKey), "Allowed");
                assert.notEqual(await bounded("organizations:LeaveOrganization", "*"), "Allowed");
            });

            it("still lets workloads do their jobs (data, images, nodes, logs)", async () => {
                assert.equal(await bounded("s3:GetObject", `${dataBuckets[0]}/datasets/train.parquet`), "Allowed");
                assert.equal(await bounded("kms:Decrypt", dataKey, {}, dataKeyPolicy), "Allowed");
                assert.equal(await bounded("ecr:BatchGetImage", `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${prefix}trainer`), "Allowed");
                assert.equal(await bounded("ec2:AssignPrivateIpAddresses", `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-0123456789abcdef0`), "Allowed");
                assert.equal(await bounded("logs:PutLogEvents", `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/vpc-flow-logs/x:log-stream:y`), "Allowed");
            });
        });

        it("every role of the stack is named under the prefix, and every non-CI role carries the boundary", () => {
            for (const r of ofType(run.resources, "aws:iam/role:Role")) {
                const name: string = r.inputs.name ?? r.inputs.namePrefix;
                assert.ok(name?.startsWith(prefix), `${r.name}: ${name}`);
                assert.ok(name.length <= 38 || r.inputs.name !== undefined, `${r.name}: namePrefix ${name} too long`);
                const isCi = r.inputs.tags?.["mlops.platform/ci-role"] !== undefined;
                assert.equal(r.inputs.permissionsBoundary, isCi ? undefined : boundaryArn, r.name);
            }
        });
    });
}
