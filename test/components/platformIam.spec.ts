import * as assert from "node:assert/strict";
import { MAX_ROLE_NAME_PREFIX, platformBoundaryPolicy, roleNamePrefix, stackIamPrefix } from "../../components/platformIam";
import { assertInvalid } from "../helpers/resources";

describe("platform IAM frame", () => {
    it("prefixes roles with <project>-<stack>-, lower case", () => {
        assert.equal(stackIamPrefix("mlops-platform", "Prod"), "mlops-platform-prod-");
    });

    it("refuses a project/stack whose prefix leaves no room in IAM's 64-character role names", () =>
        assertInvalid(() => stackIamPrefix("mlops-platform-for-the-risk-team", "production"), "stack", /at most 30/));

    it("refuses characters IAM does not allow in role names", () => assertInvalid(() => stackIamPrefix("mlops platform", "dev"), "stack"));

    it("derives a readable namePrefix from the logical name, within 38 characters", () => {
        assert.equal(roleNamePrefix("mlops-platform-dev-", "mlops", "mlops-cluster-node-role"), "mlops-platform-dev-cluster-node-");
        assert.equal(roleNamePrefix("mlops-platform-dev-", "mlops", "mlops-tracking-identity-role"), "mlops-platform-dev-tracking-");
        const long = roleNamePrefix("mlops-platform-prod-", "mlops", "mlops-cluster-autoscaler-identity-role");
        assert.ok(long.length <= MAX_ROLE_NAME_PREFIX, `${long} (${long.length})`);
        assert.ok(long.startsWith("mlops-platform-prod-cluster-autoscale") && long.endsWith("-"));
    });

    it("the boundary denies removing or changing itself", () => {
        const arn = "arn:aws:iam::123456789012:policy/mlops-platform-dev-permissions-boundary";
        const doc = platformBoundaryPolicy(arn);
        const self = doc.Statement.find((s) => s.Sid === "BoundaryIsImmutableFromInside")!;
        assert.equal(self.Effect, "Deny");
        assert.equal(self.Resource, arn);
        const escalation = doc.Statement.find((s) => s.Sid === "NoIamEscalation")!;
        for (const a of ["iam:CreateUser", "iam:CreateAccessKey", "iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary", "iam:CreateRole"]) {
            assert.ok((escalation.Action as string[]).includes(a), a);
        }
    });
});
