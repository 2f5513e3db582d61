// IAM rules (policy catalog rows 53-58).

import * as aws from "@pulumi/aws";
import {
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
    validateResourceOfType,
} from "@pulumi/policy";

import { actionMatches, describe, hasWildcardPrincipal, isServiceWildcard, parsePolicyDocument, Statement } from "./aws-iam-documents";
import { validateStackWith } from "./aws-stack";
import { configSchema, globMatch, list, read, settings, str, strings, UNKNOWN, where } from "./aws-values";

type Validate = (props: any, args: ResourceValidationArgs, report: ReportViolation) => void;

/** Every permission document a resource carries, with the property path naming it. */
function documents(props: any, args: ResourceValidationArgs): { path: string; doc: any }[] {
    if (args.isType(aws.iam.Role)) {
        const inline = list(read(props, "inlinePolicies"));
        if (inline === UNKNOWN) return [];
        return inline.map((p, i) => ({ path: where("inlinePolicies", i, "policy"), doc: read(p, "policy") }));
    }
    return [{ path: "policy", doc: read(props, "policy") }];
}

const permissionClasses = [aws.iam.Policy, aws.iam.RolePolicy, aws.iam.UserPolicy, aws.iam.GroupPolicy, aws.iam.Role];

function forEachAllow(fn: (s: Statement, label: string, report: ReportViolation, args: ResourceValidationArgs) => void) {
    const validate: Validate = (props, args, report) => {
        for (const { path, doc } of documents(props, args)) {
            const parsed = parsePolicyDocument(doc);
            if (parsed === UNKNOWN || parsed === undefined) continue;
            if ("error" in parsed) {
                report(`${path}: ${parsed.error}`);
                continue;
            }
            parsed.statements.forEach((s, i) => {
                if (s.effect === "Allow") fn(s, `${path} ${describe(s, i)}`, report, args);
            });
        }
    };
    return permissionClasses.map((c) => validateResourceOfType(c as any, validate as any));
}

const wildcardSchema = configSchema({
    allowedServiceWildcards: {
        type: "array",
        items: { type: "string" },
        default: [] as string[],
        description: "Service prefixes whose `<service>:*` is accepted (e.g. \"logs\").",
    },
    exemptResources: {
        type: "array",
        items: { type: "string" },
        default: [] as string[],
        description: "Logical names (globs) of IAM resources exempt from this rule.",
    },
});

export const iamNoWildcardAction: ResourceValidationPolicy = {
    name: "iam-no-wildcard-action",
    description: "IAM permissions do not Allow Action \"*\" or \"<service>:*\" (or NotAction) (CKV_AWS_63/49, AVD-AWS-0057).",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: wildcardSchema,
    validateResource: forEachAllow((s, label, report, args) => {
        const c = settings(args, wildcardSchema);
        if (c.exemptResources.some((p) => globMatch(args.name, p))) return;
        const bad = s.actions.filter(
            (a) => isServiceWildcard(a) && !(a !== "*" && c.allowedServiceWildcards.includes(a.split(":")[0].toLowerCase())),
        );
        if (bad.length > 0) report(`${label} Action allows ${bad.map((a) => `"${a}"`).join(", ")}; list the actions needed.`);
        if (s.notActions.length > 0) report(`${label} uses NotAction with Allow, which grants every other action.`);
    }),
};

export const iamNoAdminStar: ResourceValidationPolicy = {
    name: "iam-no-admin-star",
    description: "IAM permissions never grant full admin (Allow Action \"*\" on Resource \"*\") (CKV_AWS_62/1).",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: forEachAllow((s, label, report) => {
        if (s.actions.includes("*") && (s.resources.includes("*") || s.notResources.length > 0)) {
            report(`${label} Action "*" with Resource "*" is full administrator access.`);
        }
    }),
};

const managedSchema = configSchema({
    forbiddenPolicies: {
        type: "array",
        items: { type: "string" },
        default: ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"],
        description: "AWS managed policy names that must not be attached.",
    },
});

function forbiddenArn(arn: any, names: string[]): string | undefined {
    if (typeof arn !== "string") return undefined;
    const m = /^arn:aws[a-z-]*:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn);
    return m && names.includes(m[1]) ? m[1] : undefined;
}

export const iamNoAdminManaged: ResourceValidationPolicy = {
    name: "iam-no-admin-managed",
    description: "No role, user or group gets the AdministratorAccess / IAMFullAccess / PowerUserAccess managed policies (CKV_AWS_274/275, CKV2_AWS_56; PowerUserAccess reads every object, key and secret).",
    severity: "critical",
    enforcementLevel: "mandatory",
    configSchema: managedSchema,
    validateResource: [
        ...[aws.iam.RolePolicyAttachment, aws.iam.UserPolicyAttachment, aws.iam.GroupPolicyAttachment, aws.iam.PolicyAttachment].map((cls) =>
            validateResourceOfType(cls as any, ((props: any, args: ResourceValidationArgs, report: ReportViolation) => {
                const hit = forbiddenArn(read(props, "policyArn"), settings(args, managedSchema).forbiddenPolicies);
                if (hit) report(`policyArn attaches the AWS managed policy ${hit}.`);
            }) as any),
        ),
        validateResourceOfType(aws.iam.Role, (role, args, report) => {
            const names = settings(args, managedSchema).forbiddenPolicies;
            strings(read(role, "managedPolicyArns")).forEach((arn, i) => {
                const hit = forbiddenArn(arn, names);
                if (hit) report(`${where("managedPolicyArns", i)} attaches the AWS managed policy ${hit}.`);
            });
        }),
    ],
};

/** Condition values for keys ending in `suffix` (e.g. ":sub"), whatever the operator. */
function conditionValues(s: Statement, suffix: string): string[] {
    return Object.values(s.condition).flatMap((kv) =>
        Object.entries(kv)
            .filter(([k]) => k.toLowerCase().endsWith(suffix))
            .flatMap(([, v]) => v),
    );
}

export const iamTrustRestricted: ResourceValidationPolicy = {
    name: "iam-trust-restricted",
    description: "Role trust policies name their principals: no Principal \"*\"; web-identity (IRSA, GitHub OIDC) trusts pin the token subject (`:sub`) (CKV_AWS_60/61, CKV_AWS_358).",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.iam.Role, (role, _a, report) => {
        const parsed = parsePolicyDocument(read(role, "assumeRolePolicy"));
        if (parsed === UNKNOWN || parsed === undefined) return;
        if ("error" in parsed) return report(`assumeRolePolicy: ${parsed.error}`);
        parsed.statements.forEach((s, i) => {
            if (s.effect !== "Allow") return;
            const label = `assumeRolePolicy ${describe(s, i)}`;
            if (hasWildcardPrincipal(s)) {
                report(`${label} trusts Principal "*".`);
                return;
            }
            const federated = s.principals?.Federated ?? [];
            const webIdentity = s.actions.some((a) => /^sts:AssumeRoleWithWebIdentity$/i.test(a)) || federated.length > 0;
            if (!webIdentity || federated.length === 0) return;
            const subs = conditionValues(s, ":sub");
            if (subs.length === 0) {
                report(`${label} trusts web identities from ${federated.join(", ")} without a Condition on the token's :sub.`);
                return;
            }
            const isGithub = federated.some((f) => f.includes("token.actions.githubusercontent.com"));
            const tooBroad = subs.filter((v) => v === "*" || (isGithub && /^repo:\*|^repo:[^/]+\/\*$|^\*/.test(v)));
            if (tooBroad.length > 0) {
                report(`${label} Condition :sub ${tooBroad.map((v) => `"${v}"`).join(", ")} matches any ${isGithub ? "repository" : "subject"}; pin the repository and ref/environment.`);
            }
        });
    }),
};

export const iamNoUserPolicies: ResourceValidationPolicy = {
    name: "iam-no-user-policies",
    description: "Permissions are never attached to IAM users directly; use roles (or groups) (CKV_AWS_40, AVD-AWS-0143).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(aws.iam.UserPolicy, (_p, _a, report) => report("aws.iam.UserPolicy attaches an inline policy to user (property `user`).")),
        validateResourceOfType(aws.iam.UserPolicyAttachment, (_p, _a, report) =>
            report("aws.iam.UserPolicyAttachment attaches policyArn to user (property `user`)."),
        ),
        validateResourceOfType(aws.iam.PolicyAttachment, (p, _a, report) => {
            const users = list(read(p, "users"));
            if (users !== UNKNOWN && users.length > 0) report("users is set: policyArn is attached to IAM users.");
        }),
    ],
};

/** Does `att` (a role policy/attachment) target `role`, via propertyDependencies or the literal role name? */
function targetsRole(att: PolicyResource, role: PolicyResource, prop: string): boolean {
    if ((att.propertyDependencies?.[prop] ?? []).some((d) => d.urn === role.urn)) return true;
    const roleName = str(read(role.props, "name"));
    if (typeof roleName !== "string") return false;
    const v = read(att.props, prop);
    if (Array.isArray(v)) return strings(v).includes(roleName);
    return v === roleName;
}

export const iamRolePolicyConflicts: StackValidationPolicy = {
    name: "iam-role-policy-conflicts",
    description: "A role's policies are managed one way: not by the role's inlinePolicies/managedPolicyArns and also by separate RolePolicy/RolePolicyAttachment/PolicyAttachment resources (they fight on every update).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateStack: validateStackWith([aws.iam.Role], (roles, args, report) => {
        const rolePolicies = args.resources.filter((r) => r.isType(aws.iam.RolePolicy));
        const attachments = args.resources.filter((r) => r.isType(aws.iam.RolePolicyAttachment) || r.isType(aws.iam.PolicyAttachment));
        for (const role of roles) {
            // After a deployment the provider reads every attached policy back into these role outputs,
            // so only entries that no separate resource explains count as the role's own.
            const inline = list(read(role.props, "inlinePolicies"));
            const mine = rolePolicies.filter((p) => targetsRole(p, role, "role"));
            if (inline !== UNKNOWN && mine.length > 0) {
                const names = new Set(mine.map((p) => str(read(p.props, "name"))).filter((n): n is string => typeof n === "string"));
                const own = inline.filter((p) => {
                    const n = str(read(p, "name"));
                    return isNonEmpty(read(p, "policy")) && (typeof n !== "string" || !names.has(n));
                });
                if (own.length > 0) {
                    report(`role "${role.name}": inlinePolicies is set and aws.iam.RolePolicy ${mine.map((p) => `"${p.name}"`).join(", ")} also manage its inline policies.`, role.urn);
                }
            }
            const managed = list(read(role.props, "managedPolicyArns"));
            const attached = attachments.filter((a) => targetsRole(a, role, a.isType(aws.iam.PolicyAttachment) ? "roles" : "role"));
            if (managed !== UNKNOWN && attached.length > 0) {
                const arns = new Set(attached.map((a) => read(a.props, "policyArn")).filter((x) => typeof x === "string"));
                const own = managed.filter((arn) => typeof arn === "string" && !arns.has(arn));
                if (own.length > 0) {
                    report(`role "${role.name}": managedPolicyArns is set and ${attached.map((a) => `"${a.name}"`).join(", ")} also attach policies to it.`, role.urn);
                }
            }
        }
    }),
};

function isNonEmpty(v: any): boolean {
    return v === UNKNOWN || (typeof v === "string" && v.trim() !== "") || (!!v && typeof v === "object");
}

/** Tag the platform puts on its CI roles (components/iam.ts CI_ROLE_TAG). */
const CI_ROLE_TAG = "mlops.platform/ci-role";
const tagsOf = (role: any): Record<string, unknown> | undefined => {
    const t = read(role, "tags");
    return t && t !== UNKNOWN && typeof t === "object" ? (t as Record<string, unknown>) : undefined;
};

/** Role-changing actions that must carry an iam:PermissionsBoundary condition when delegated. */
const ROLE_WRITES = ["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"];

export const iamRoleCreationBounded: ResourceValidationPolicy = {
    name: "iam-role-creation-bounded",
    description:
        "A permission to create roles or change their policies (iam:CreateRole, PutRolePolicy, AttachRolePolicy, PutRolePermissionsBoundary) carries an iam:PermissionsBoundary condition, so whoever holds it cannot mint an unbounded administrator.",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: forEachAllow((s, label, report) => {
        const hits = ROLE_WRITES.filter((t) => s.actions.some((a) => actionMatches(a, t)));
        if (hits.length === 0) return;
        const keys = Object.values(s.condition).flatMap((kv) => Object.keys(kv).map((k) => k.toLowerCase()));
        if (!keys.includes("iam:permissionsboundary")) {
            report(`${label} allows ${hits.join(", ")} without a Condition on iam:PermissionsBoundary.`);
        }
    }),
};

const boundarySchema = configSchema({
    requireBoundary: {
        type: "boolean",
        default: false,
        description: "Roles other than the CI roles carry a permissionsBoundary (the platform's stacks set it; a component used on its own has no boundary to carry).",
    },
    requirePrefix: {
        type: "boolean",
        default: true,
        description: "Role names (name or namePrefix) start with `<pulumi:project>-<pulumi:stack>-` (from the role's tags).",
    },
});

export const iamRoleBoundaryAndPrefix: ResourceValidationPolicy = {
    name: "iam-role-boundary-and-prefix",
    description:
        "Every IAM role but the CI roles carries a permissions boundary (requireBoundary, set by the platform's stacks), and every role is named under the stack's prefix `<project>-<stack>-` (so the deploy role's name-scoped rights cover exactly the stack's roles).",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: boundarySchema,
    validateResource: validateResourceOfType(aws.iam.Role, (role, args, report) => {
        const tags = tagsOf(role);
        const isCi = tags !== undefined && CI_ROLE_TAG in tags;
        if (settings(args, boundarySchema).requireBoundary && !isCi && read(role, "permissionsBoundary") === undefined) {
            report("permissionsBoundary is not set; the stack's roles carry the platform's permissions boundary.");
        }
        if (!settings(args, boundarySchema).requirePrefix || !tags) return;
        const project = tags["pulumi:project"];
        const stack = tags["pulumi:stack"];
        if (typeof project !== "string" || typeof stack !== "string") return;
        const prefix = `${project}-${stack}-`.toLowerCase();
        const name = str(read(role, "name")) ?? str(read(role, "namePrefix"));
        if (name === UNKNOWN) return;
        if (typeof name !== "string" || !name.startsWith(prefix)) {
            report(`name/namePrefix is ${name === undefined ? "not set (auto-named from the logical name)" : `"${name}"`}; it must start with "${prefix}".`);
        }
    }),
};

export const iamPodIdentityTrustConditions: ResourceValidationPolicy = {
    name: "iam-pod-identity-trust-conditions",
    description: "Roles trusting EKS Pod Identity (pods.eks.amazonaws.com) pin the source account and cluster (aws:SourceAccount and aws:SourceArn conditions).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.iam.Role, (role, _a, report) => {
        const parsed = parsePolicyDocument(read(role, "assumeRolePolicy"));
        if (parsed === UNKNOWN || parsed === undefined || "error" in parsed) return;
        parsed.statements.forEach((s, i) => {
            if (s.effect !== "Allow" || !(s.principals?.Service ?? []).includes("pods.eks.amazonaws.com")) return;
            const keys = Object.values(s.condition).flatMap((kv) => Object.keys(kv).map((k) => k.toLowerCase()));
            const missing = ["aws:SourceAccount", "aws:SourceArn"].filter((k) => !keys.includes(k.toLowerCase()));
            if (missing.length > 0) report(`assumeRolePolicy ${describe(s, i)} trusts pods.eks.amazonaws.com without ${missing.join(" and ")} conditions.`);
        });
    }),
};

const tagSchema = configSchema({
    requiredTags: { type: "array", items: { type: "string" }, default: [] as string[], description: "Tag keys every IAM role carries (the platform's stacks: environment, owner)." },
});

export const iamRoleTags: ResourceValidationPolicy = {
    name: "iam-role-tags",
    description: "Every IAM role carries the configured ownership tags (the platform's stacks: `environment` and `owner`), so access reviews can attribute it.",
    severity: "low",
    enforcementLevel: "mandatory",
    configSchema: tagSchema,
    validateResource: validateResourceOfType(aws.iam.Role, (role, args, report) => {
        if (read(role, "tags") === UNKNOWN) return;
        const tags = tagsOf(role) ?? {};
        const missing = settings(args, tagSchema).requiredTags.filter((k) => typeof tags[k] !== "string" || tags[k] === "");
        if (missing.length > 0) report(`tags lack ${missing.join(", ")}.`);
    }),
};

const ciTrustSchema = configSchema({
    environmentOnlyCiRoles: {
        type: "array",
        items: { type: "string" },
        default: [] as string[],
        description: "CI roles (value of the mlops.platform/ci-role tag, e.g. deploy, image-push) that only protected GitHub environments may assume.",
    },
});

export const iamCiTrustEnvironments: ResourceValidationPolicy = {
    name: "iam-ci-trust-environments",
    description: "The configured CI roles (prod: deploy and image-push) trust only GitHub environments (`repo:<r>:environment:<e>`), never a branch, tag or pull request.",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: ciTrustSchema,
    validateResource: validateResourceOfType(aws.iam.Role, (role, args, report) => {
        const key = tagsOf(role)?.[CI_ROLE_TAG];
        if (typeof key !== "string" || !settings(args, ciTrustSchema).environmentOnlyCiRoles.includes(key)) return;
        const parsed = parsePolicyDocument(read(role, "assumeRolePolicy"));
        if (parsed === UNKNOWN || parsed === undefined || "error" in parsed) return;
        const subs = parsed.statements.filter((s) => s.effect === "Allow").flatMap((s) => conditionValues(s, ":sub"));
        const bad = subs.filter((v) => !/^repo:[^:]+:environment:[^:*?]+$/.test(v));
        if (bad.length > 0) report(`assumeRolePolicy trusts ${bad.map((v) => `"${v}"`).join(", ")}; the ${key} role may trust only GitHub environments.`);
    }),
};

export const iamPolicies = [
    iamNoWildcardAction,
    iamNoAdminStar,
    iamNoAdminManaged,
    iamTrustRestricted,
    iamNoUserPolicies,
    iamRolePolicyConflicts,
    iamRoleCreationBounded,
    iamRoleBoundaryAndPrefix,
    iamPodIdentityTrustConditions,
    iamRoleTags,
    iamCiTrustEnvironments,
];
