// The model-gating pack, run the way the engine runs it (compiled pack spawned, driven over gRPC by
// offline-plan/policy-runner): release gates on serving Deployments, rollout limits from HTTPRoute
// weights / replica ratios / Service selectors, and cross-resource consistency.
import * as assert from "node:assert/strict";
import { PolicyPackConfig, PolicyPackSession, PolicyRunResult, PolicyViolation, startPolicyPack } from "../../offline-plan/policy-runner";
import { RecordedResource } from "../../offline-plan/types";
import { releaseAnnotations } from "../../release-contract/annotations";
import {
    clone,
    DIGEST,
    gpuNodeGroup,
    httpRoute,
    job,
    mutate,
    NS,
    RELEASE,
    res,
    service,
    serviceAccount,
    servingDeployment,
    UNKNOWN_STRING,
} from "./k8s-fixtures";

const POLICIES: Record<string, "resource" | "stack"> = {
    "model-gate-thresholds": "resource",
    "model-significance": "resource",
    "model-approval-required": "resource",
    "model-ref-immutable": "resource",
    "canary-weight-limit": "stack",
    "blue-green-switch-gated": "stack",
    "gpu-workloads-schedulable": "stack",
    "services-select-workloads": "stack",
    "workload-identity-trust": "stack",
};

const STABLE = {
    ...RELEASE,
    version: "7",
    modelUri: "models:/churn/7",
    metrics: { f1: 0.8, accuracy: 0.9 },
    baseline: { version: "6", metrics: { f1: 0.78, accuracy: 0.88 } },
    evaluation: undefined,
};

const ROLE = "aws:iam/role:Role";
const PIA = "aws:eks/podIdentityAssociation:PodIdentityAssociation";

function podIdentityRole(name: string, sa: string): RecordedResource {
    return res(ROLE, name, {
        assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }],
        }),
        tags: { "mlops.platform/service-account": `${NS}/${sa}` },
    });
}

function association(name: string, role: RecordedResource, sa: string, ns = NS): RecordedResource {
    return res(PIA, name, { clusterName: "ml", namespace: ns, serviceAccount: sa, roleArn: `arn:aws:iam::123456789012:role/${role.name}-x` }, {
        propertyDependencies: { roleArn: [role.urn] },
        dependencies: [role.urn],
    });
}

const ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABC123";
function irsaRole(name: string, conditions: Record<string, Record<string, unknown>>): RecordedResource {
    return res(ROLE, name, {
        assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{
                Effect: "Allow",
                Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${ISSUER}` },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: conditions,
            }],
        }),
    });
}
const irsaOk = (sa: string) => ({ StringEquals: { [`${ISSUER}:sub`]: `system:serviceaccount:${NS}:${sa}`, [`${ISSUER}:aud`]: "sts.amazonaws.com" } });

/** Stable + gated canary behind a 90/10 HTTPRoute, a GPU training Job on a matching pool, workload identities. */
function gatedStack(): RecordedResource[] {
    const trainerRole = podIdentityRole("trainer-role", "trainer");
    return [
        servingDeployment("churn-stable", "stable", "pass", STABLE),
        servingDeployment("churn-canary", "canary", "pass", RELEASE, { replicas: 1 }),
        service("churn-stable", { app: "churn", "mlops.platform/track": "stable" }),
        service("churn-canary", { app: "churn", "mlops.platform/track": "canary" }),
        httpRoute("churn", [[{ name: "churn-stable", weight: 90 }, { name: "churn-canary", weight: 10 }]]),
        job("train-churn-20250101"),
        gpuNodeGroup(),
        serviceAccount("trainer"),
        serviceAccount("server"),
        trainerRole,
        association("trainer-pia", trainerRole, "trainer"),
        irsaRole("server-role", irsaOk("server")),
    ];
}

function violationsOf(r: PolicyRunResult, policy: string): PolicyViolation[] {
    return r.violations.filter((v) => v.policyName === policy);
}

function show(r: PolicyRunResult): string {
    return r.violations.map((v) => `${v.policyName} [${v.enforcementLevel}]: ${v.message.split("\n").pop()}`).join("\n") || "(none)";
}

/** Replaces the release annotations of a serving Deployment. */
const withRelease = (name: string, track: Parameters<typeof releaseAnnotations>[1], gate: "pass" | "fail" | "none", rel: any) => (rs: RecordedResource[]) =>
    mutate(rs, name, (i) => { i.metadata.annotations = releaseAnnotations(rel, track, gate); });
const annotate = (name: string, patch: Record<string, string | undefined>) => (rs: RecordedResource[]) =>
    mutate(rs, name, (i) => {
        if (!i.metadata.annotations) return; // the Service of the same name
        for (const [k, v] of Object.entries(patch)) {
            if (v === undefined) delete i.metadata.annotations[k];
            else i.metadata.annotations[k] = v;
        }
    });

interface Case {
    policy: string;
    title: string;
    build: (base: RecordedResource[]) => RecordedResource[];
    config?: PolicyPackConfig;
    /** Regexes each violation message set must include; [] = must pass (no violation of `policy`). */
    expect: RegExp[];
}

const CASES: Case[] = [
    // model-gate-thresholds
    { policy: "model-gate-thresholds", title: "canary f1 +1.25% < +2%",
      build: withRelease("churn-canary", "canary", "pass", { ...RELEASE, metrics: { f1: 0.81 } }),
      expect: [/Deployment ml-serving\/churn-canary: release churn v8 \(canary\): fails the gate \(annotated gate=pass contradicts the thresholds\): f1: candidate 0.81 vs baseline 0.8 is \+1.25% better; needs >= 2%/] },
    { policy: "model-gate-thresholds", title: "exactly +2% passes", build: withRelease("churn-canary", "canary", "pass", { ...RELEASE, metrics: { f1: 0.816 } }), expect: [] },
    { policy: "model-gate-thresholds", title: "metrics pass but the release is marked gate=fail",
      build: withRelease("churn-canary", "canary", "fail", RELEASE), expect: [/is annotated mlops.platform\/gate=fail/] },
    { policy: "model-gate-thresholds", title: "the stack's thresholds recorded on the release, all failures in one message",
      build: annotate("churn-canary", { "mlops.platform/gate-thresholds": JSON.stringify({ f1: { minRelativeChange: 0.1, greaterIsBetter: true }, accuracy: { threshold: 0.95, greaterIsBetter: true } }) }),
      expect: [/churn-canary: release churn v8 \(canary\): fails the gate.*f1: candidate 0.85 vs baseline 0.8 is \+6.25% better; needs >= 10%/,
          /churn-canary: release churn v8 \(canary\): fails the gate.*accuracy: candidate 0.91 must be >= 0.95 \(threshold\)/] },
    { policy: "model-gate-thresholds", title: "invalid recorded thresholds are reported, naming the property",
      build: annotate("churn-canary", { "mlops.platform/gate-thresholds": JSON.stringify({ f1: { minRelativeChange: 2, greaterIsBetter: true } }) }),
      expect: [/recorded thresholds are invalid: .*mlops.platform\/gate-thresholds.f1.minRelativeChange: must be a number in \[0, 1\]/] },
    { policy: "model-gate-thresholds", title: "the pack configuration holds no thresholds (the stack's serving block is the one source)",
      build: (b) => b, config: { "model-gate-thresholds": { thresholds: { f1: { minRelativeChange: 0.5, greaterIsBetter: true } } } as any }, expect: [] },
    { policy: "model-gate-thresholds", title: "first release without baseline fails by default",
      build: withRelease("churn-canary", "canary", "none", { ...RELEASE, baseline: undefined }), expect: [/f1: baseline value is missing/] },
    { policy: "model-gate-thresholds", title: "a first release (stable track, no baseline) is judged on value thresholds only",
      build: withRelease("churn-stable", "stable", "pass", { ...RELEASE, baseline: undefined }), expect: [] },
    { policy: "model-gate-thresholds", title: "a first release still meets value thresholds",
      build: (b) => annotate("churn-stable", { "mlops.platform/gate-thresholds": JSON.stringify({ f1: { threshold: 0.99, minRelativeChange: 0.02, greaterIsBetter: true } }) })(withRelease("churn-stable", "stable", "pass", { ...RELEASE, baseline: undefined })(b)),
      expect: [/churn-stable: release churn v8 \(stable\): fails the gate .*f1: candidate 0.85 must be >= 0.99 \(threshold\)$/] },
    { policy: "model-gate-thresholds", title: "first release allowed by allowMissingBaseline",
      build: withRelease("churn-canary", "canary", "none", { ...RELEASE, baseline: undefined }), config: { "model-gate-thresholds": { allowMissingBaseline: true } }, expect: [] },
    { policy: "model-gate-thresholds", title: "malformed annotations",
      build: annotate("churn-canary", { "mlops.platform/metric.f1": "high", "mlops.platform/track": "beta" }),
      expect: [/malformed release annotations: mlops.platform\/metric.f1='high' is not a number; mlops.platform\/track='beta'/, /f1: candidate value is missing/] },
    { policy: "model-gate-thresholds", title: "an annotation computed at preview fails closed",
      build: annotate("churn-canary", { "mlops.platform/metric.f1": UNKNOWN_STRING }),
      expect: [/annotations mlops.platform\/metric.f1 are not literal values; gates read only literals/] },

    // model-significance
    { policy: "model-significance", title: "+2.5% on 500 samples is within noise",
      build: withRelease("churn-canary", "canary", "pass", { ...RELEASE, metrics: { f1: 0.82 }, evaluation: { samples: 500 }, baseline: { ...RELEASE.baseline!, samples: 500 } }),
      expect: [/improvement is not significant at alpha 0.05: f1: 0.82 \(n=500\) vs 0.8 \(n=500\), z=0.806, one-sided p=0.210 > alpha 0.05/] },
    { policy: "model-significance", title: "missing samples when required",
      build: (b) => b, config: { "model-significance": { requireSamples: true } },
      expect: [/churn-stable: release churn v7 \(stable\): significance cannot be tested: candidate and baseline evaluation sample counts are missing \(required\)/] },
    { policy: "model-significance", title: "stricter alpha still passes a large improvement", build: (b) => b, config: { "model-significance": { alpha: 0.001 } }, expect: [] },

    // model-approval-required
    { policy: "model-approval-required", title: "approval required in prod, none recorded",
      build: withRelease("churn-canary", "canary", "pass", { ...RELEASE, approvedBy: undefined }), config: { "model-approval-required": { requireApproval: true } },
      expect: [/churn-canary: release churn v8 \(canary\): has no mlops.platform\/approved-by annotation; approval is required/] },
    { policy: "model-approval-required", title: "approver outside the list",
      build: withRelease("churn-canary", "canary", "pass", { ...RELEASE, approvedBy: "mallory@evil.test" }),
      config: { "model-approval-required": { requireApproval: true, approvers: ["*@example.com"] } }, expect: [/approved by 'mallory@evil.test', who is not in the approvers list/] },
    { policy: "model-approval-required", title: "approved releases pass with approval required",
      build: (b) => b, config: { "model-approval-required": { requireApproval: true, approvers: ["*@example.com"] } }, expect: [] },

    // model-ref-immutable
    ...[
        ["models:/churn/latest", /resolves 'latest'/],
        ["models:/churn/Production", /names the stage 'Production'/],
        ["models:/churn@champion", /names the alias '@champion'/],
        ["s3://models/churn/", /neither models:\/<name>\/<version> nor pinned by @sha256 digest/],
        ["models:/churn/9", /does not match the annotated model 'churn' version '8'/],
    ].map(([uri, re]): Case => ({
        policy: "model-ref-immutable", title: `rejects ${uri}`,
        build: annotate("churn-canary", { "mlops.platform/model-uri": uri as string }), expect: [re as RegExp],
    })),
    { policy: "model-ref-immutable", title: "accepts a digest-pinned artifact",
      build: annotate("churn-canary", { "mlops.platform/model-uri": `oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/models/churn@${DIGEST}` }), expect: [] },

    // canary-weight-limit
    { policy: "canary-weight-limit", title: "ungated canary at 50%",
      build: (rs) => withRelease("churn-canary", "canary", "none", RELEASE)(mutate(rs, "churn", (i) => { if (i.kind === "HTTPRoute") { i.spec.rules[0].backendRefs[0].weight = 50; i.spec.rules[0].backendRefs[1].weight = 50; } })),
      expect: [/Deployment ml-serving\/churn-canary: canary release churn v8 \(mlops.platform\/gate=none\) receives 50% of traffic via HTTPRoute ml-serving\/churn rules\[0\]; at most 10% before the gate passes/] },
    { policy: "canary-weight-limit", title: "ungated canary at 50% allowed in dev (canaryMaxWeight 50)",
      build: (rs) => withRelease("churn-canary", "canary", "none", RELEASE)(mutate(rs, "churn", (i) => { if (i.kind === "HTTPRoute") { i.spec.rules[0].backendRefs[0].weight = 1; i.spec.rules[0].backendRefs[1].weight = 1; } })),
      config: { "canary-weight-limit": { canaryMaxWeight: 50 } }, expect: [] },
    { policy: "canary-weight-limit", title: "gated canary may take all traffic",
      build: (rs) => mutate(rs, "churn", (i) => { if (i.kind === "HTTPRoute") { i.spec.rules[0].backendRefs[0].weight = 0; i.spec.rules[0].backendRefs[1].weight = 100; } }), expect: [] },
    { policy: "canary-weight-limit", title: "replica-ratio fallback: one Service over 6 stable and 2 ungated canary pods",
      build: (rs) => {
          const noRouting = rs.filter((r) => !r.type.includes("HTTPRoute") && r.type !== "kubernetes:core/v1:Service");
          const scaled = mutate(mutate(noRouting, "churn-canary", (i) => { i.spec.replicas = 2; }), "churn-stable", (i) => { i.spec.replicas = 6; });
          return withRelease("churn-canary", "canary", "none", RELEASE)(scaled).concat(service("churn", { app: "churn" }));
      },
      expect: [/churn-canary: canary release churn v8 \(mlops.platform\/gate=none\) receives 25% of traffic via Service ml-serving\/churn \(replica ratio\)/] },
    { policy: "canary-weight-limit", title: "route weights that are not literal fail closed",
      build: (rs) => mutate(rs, "churn", (i) => { if (i.kind === "HTTPRoute") i.spec.rules = UNKNOWN_STRING; }),
      expect: [/HTTPRoute ml-serving\/churn: rules\/backendRefs\/weights are not literal values/] },

    // blue-green-switch-gated
    { policy: "blue-green-switch-gated", title: "active Service switched to an ungated green slot",
      build: (rs) => [...rs,
          servingDeployment("churn-blue", "blue", "pass", STABLE),
          servingDeployment("churn-green", "green", "none", RELEASE),
          service("churn-live", { app: "churn", "mlops.platform/track": "green" })],
      expect: [/Service ml-serving\/churn-live sends traffic to slot 'green' \(Deployment ml-serving\/churn-green\) whose release churn v8 is mlops.platform\/gate=none; switch only to a gated slot/] },
    { policy: "blue-green-switch-gated", title: "preview Service may point at the idle ungated slot",
      build: (rs) => [...rs,
          servingDeployment("churn-blue", "blue", "pass", STABLE),
          servingDeployment("churn-green", "green", "none", RELEASE),
          service("churn-live", { app: "churn", "mlops.platform/track": "blue" }),
          service("churn-preview", { app: "churn", "mlops.platform/track": "green" })],
      expect: [] },
    { policy: "blue-green-switch-gated", title: "a preview Service that an HTTPRoute sends weight to is active",
      build: (rs) => [...rs,
          servingDeployment("churn-green", "green", "none", RELEASE),
          service("churn-preview", { app: "churn", "mlops.platform/track": "green" }),
          httpRoute("churn-bg", [[{ name: "churn-preview", weight: 1 }]])],
      expect: [/Service ml-serving\/churn-preview sends traffic to slot 'green'/] },

    // gpu-workloads-schedulable
    { policy: "gpu-workloads-schedulable", title: "no GPU node group",
      build: (rs) => rs.filter((r) => r.type !== "aws:eks/nodeGroup:NodeGroup"), expect: [/Job ml-serving\/train-churn-20250101: requests nvidia.com\/gpu but no aws:eks\/nodeGroup:NodeGroup exists/] },
    { policy: "gpu-workloads-schedulable", title: "selector does not match the pool's labels",
      build: (rs) => mutate(rs, "gpu", (i) => { i.labels = { "mlops.platform/pool": "gpu-a100" }; }), expect: [/no GPU node group matches: selection mlops.platform\/pool=gpu/] },
    { policy: "gpu-workloads-schedulable", title: "pool has a taint the pod does not tolerate",
      build: (rs) => mutate(rs, "gpu", (i) => { i.taints.push({ key: "dedicated", value: "research", effect: "NO_EXECUTE" }); }), expect: [/no GPU node group matches/] },
    { policy: "gpu-workloads-schedulable", title: "pod selects no nodes and lacks the toleration",
      build: (rs) => mutate(rs, "train-churn-20250101", (i) => { delete i.spec.template.spec.nodeSelector; i.spec.template.spec.tolerations = []; }),
      expect: [/does not tolerate the 'nvidia.com\/gpu' NoSchedule taint/, /selects no nodes/] },
    { policy: "gpu-workloads-schedulable", title: "pool capped at zero nodes",
      build: (rs) => mutate(rs, "gpu", (i) => { i.scalingConfig.maxSize = 0; }), expect: [/maxSize=0/] },
    { policy: "gpu-workloads-schedulable", title: "required node affinity on instance type and capacity type matches",
      build: (rs) => mutate(rs, "train-churn-20250101", (i) => {
          delete i.spec.template.spec.nodeSelector;
          i.spec.template.spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [
              { key: "node.kubernetes.io/instance-type", operator: "In", values: ["g5.xlarge", "g5.2xlarge"] },
              { key: "eks.amazonaws.com/capacityType", operator: "In", values: ["SPOT"] }] }] } } };
      }), expect: [] },

    // services-select-workloads
    { policy: "services-select-workloads", title: "selector typo",
      build: (rs) => mutate(rs, "churn-canary", (i) => { if (i.spec.selector && !i.spec.template) i.spec.selector = { app: "chrun" }; }),
      expect: [/Service ml-serving\/churn-canary: selector app=chrun matches no workload's pod labels/] },
    { policy: "services-select-workloads", title: "backendRef to a missing Service and a wrong port",
      build: (rs) => mutate(rs, "churn", (i) => { if (i.kind === "HTTPRoute") { i.spec.rules[0].backendRefs[1].name = "churn-canery"; i.spec.rules[0].backendRefs[0].port = 8080; } }),
      expect: [/HTTPRoute ml-serving\/churn rules\[0\].backendRefs\[1\]: Service 'churn-canery' does not exist in this stack/, /rules\[0\].backendRefs\[0\]: Service 'churn-stable' has no port 8080 \(ports: 80\)/] },

    // workload-identity-trust
    { policy: "workload-identity-trust", title: "IRSA wildcard subject",
      build: (rs) => [...rs, irsaRole("wild-role", { StringLike: { [`${ISSUER}:sub`]: `system:serviceaccount:${NS}:*` }, StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com" } })],
      expect: [/Role wild-role: ':sub' 'system:serviceaccount:ml-serving:\*' is a wildcard/] },
    { policy: "workload-identity-trust", title: "IRSA without sub or aud",
      build: (rs) => [...rs, irsaRole("open-role", {})],
      expect: [/Role open-role: web-identity trust without a ':sub' condition/, /does not pin ':aud'/] },
    { policy: "workload-identity-trust", title: "IRSA trusting a ServiceAccount the stack does not create",
      build: (rs) => [...rs, irsaRole("ghost-role", irsaOk("ghost"))], expect: [/trusts ServiceAccount ml-serving\/ghost, which this stack does not create/] },
    { policy: "workload-identity-trust", title: "IRSA trusting two ServiceAccounts",
      build: (rs) => [...rs, irsaRole("shared-role", { StringEquals: { [`${ISSUER}:sub`]: [`system:serviceaccount:${NS}:server`, `system:serviceaccount:${NS}:trainer`], [`${ISSUER}:aud`]: "sts.amazonaws.com" } })],
      expect: [/Role shared-role: is assumable by 2 ServiceAccounts \(ml-serving\/server, ml-serving\/trainer\)/] },
    { policy: "workload-identity-trust", title: "Pod Identity role without association",
      build: (rs) => [...rs, podIdentityRole("orphan-role", "server")], expect: [/Role orphan-role: trusts pods.eks.amazonaws.com but no .*PodIdentityAssociation.* names it/] },
    { policy: "workload-identity-trust", title: "Pod Identity role associated with two ServiceAccounts, one missing",
      build: (rs) => {
          const role = rs.find((r) => r.name === "trainer-role")!;
          return [...rs, association("trainer-pia-2", role, "batch")];
      },
      expect: [/PodIdentityAssociation trainer-pia-2 names ServiceAccount ml-serving\/batch, which this stack does not create/, /is assumable by 2 ServiceAccounts/] },
    { policy: "workload-identity-trust", title: "tag names a different ServiceAccount than the trust",
      build: (rs) => mutate(rs, "trainer-role", (i) => { i.tags["mlops.platform/service-account"] = `${NS}/server`; }),
      expect: [/is tagged for ServiceAccount ml-serving\/server but trusts ml-serving\/trainer/] },
    { policy: "workload-identity-trust", title: "an addon's association whose roleArn is unknown at preview (role created in this stack) is not an advisory downgrade",
      build: (rs) => [
          ...rs,
          podIdentityRole("csi-role", "ebs-csi-controller-sa"),
          res("aws:eks/addon:Addon", "csi", { clusterName: "ml", addonName: "aws-ebs-csi-driver", podIdentityAssociations: [{ roleArn: UNKNOWN_STRING, serviceAccount: "ebs-csi-controller-sa" }] }),
      ],
      expect: [/Role csi-role: trusts pods.eks.amazonaws.com but no/] },
    { policy: "workload-identity-trust", title: "an addon's association naming the role by dependency counts even with an unknown roleArn",
      build: (rs) => {
          const role = podIdentityRole("csi-role", "ebs-csi-controller-sa");
          role.inputs.tags["mlops.platform/service-account"] = "kube-system/ebs-csi-controller-sa";
          return [...rs, role, res("aws:eks/addon:Addon", "csi", { clusterName: "ml", addonName: "aws-ebs-csi-driver", podIdentityAssociations: [{ roleArn: UNKNOWN_STRING, serviceAccount: "ebs-csi-controller-sa" }] }, {
              propertyDependencies: { podIdentityAssociations: [role.urn] },
              dependencies: [role.urn],
          })];
      },
      expect: [] },
    { policy: "workload-identity-trust", title: "ServiceAccounts without planned state (first preview through a provider of an unknown cluster) are unknown, not missing",
      build: (rs) => {
          const role = rs.find((r) => r.name === "trainer-role")!;
          const unplanned = rs.filter((r) => r.type === "kubernetes:core/v1:ServiceAccount").map((r) => ({ ...r, inputs: {} }));
          return [...rs.filter((r) => r.type !== "kubernetes:core/v1:ServiceAccount"), ...unplanned, association("trainer-pia-2", role, "trainer", "ml-batch")];
      },
      expect: [/is assumable by 2 ServiceAccounts/] },
    { policy: "workload-identity-trust", title: "a trust policy unknown at preview is left for the update (no advisory downgrade)",
      build: (rs) => mutate(rs, "server-role", (i) => { i.assumeRolePolicy = UNKNOWN_STRING; }), expect: [] },
];

describe("gating pack (via the gRPC policy runner)", function () {
    this.timeout(120_000);
    let session: PolicyPackSession;
    before(async () => {
        session = await startPolicyPack("gating");
    });
    after(async () => {
        await session?.close();
    });

    it("is the mlops-gating pack, version 0.1.0, with every policy's metadata", () => {
        assert.equal(session.name, "mlops-gating");
        assert.equal(session.version, "0.1.0");
        assert.deepEqual(session.policies.map((p) => p.name).sort(), Object.keys(POLICIES).sort());
        for (const p of session.policies) {
            assert.match(p.name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
            assert.equal(p.policyType, POLICIES[p.name], `${p.name} type`);
            assert.ok(p.description.length > 30, `${p.name} description`);
            assert.ok(p.severity, `${p.name} severity`);
            assert.equal(p.enforcementLevel, "mandatory", `${p.name} default level`);
        }
        const schema = (n: string) => session.policies.find((p) => p.name === n)!.configSchema!.properties;
        assert.equal(schema("model-gate-thresholds").thresholds, undefined, "thresholds come from the stack's serving block, not the pack config");
        assert.equal(schema("canary-weight-limit").canaryMaxWeight.default, 10);
        assert.equal(schema("model-approval-required").requireApproval.default, false);
        assert.equal(schema("model-significance").alpha.default, 0.05);
    });

    it("passes a gated stable + canary rollout with a schedulable GPU Job and one-SA workload roles", async () => {
        const r = await session.run(gatedStack());
        assert.deepEqual(r.violations, [], show(r));
    });

    for (const c of CASES) {
        it(`${c.policy}: ${c.expect.length ? "fails" : "passes"} — ${c.title}`, async () => {
            const r = await session.run(c.build(clone(gatedStack())), c.config);
            const mine = violationsOf(r, c.policy);
            if (c.expect.length === 0) {
                assert.deepEqual(mine, [], show(r));
                return;
            }
            for (const re of c.expect) {
                assert.ok(mine.some((v) => re.test(v.message)), `expected ${c.policy} to report ${re}; got:\n${show(r)}`);
            }
            assert.ok(mine.every((v) => v.enforcementLevel === "mandatory"), show(r));
        });
    }

    it("has a failing and a passing case for every policy", () => {
        for (const name of Object.keys(POLICIES)) {
            assert.ok(CASES.some((c) => c.policy === name && c.expect.length > 0), `${name} failing case`);
        }
        // the gated stack above is the passing case of every policy; some also have targeted ones
    });

    it("uses the per-stack configs: prod requires approval and caps ungated canaries at 10%, dev at 50%", async () => {
        const fs = await import("node:fs");
        const path = await import("node:path");
        const load = (stack: string) => JSON.parse(fs.readFileSync(path.join(__dirname, "../../../policies/config", `${stack}.json`), "utf8"));
        const prod = load("prod");
        const dev = load("dev");
        assert.equal(prod["model-approval-required"].requireApproval, true);
        assert.equal(prod["canary-weight-limit"].canaryMaxWeight, 10);
        assert.equal(dev["canary-weight-limit"].canaryMaxWeight, 50);
        const ungated30 = withRelease("churn-canary", "canary", "none", RELEASE)(
            mutate(gatedStack(), "churn", (i) => { if (i.kind === "HTTPRoute") { i.spec.rules[0].backendRefs[0].weight = 70; i.spec.rules[0].backendRefs[1].weight = 30; } }));
        assert.equal(violationsOf(await session.run(ungated30, dev), "canary-weight-limit").length, 0);
        assert.equal(violationsOf(await session.run(ungated30, prod), "canary-weight-limit").length, 1);
    });
});

// ---------------------------------------------------------------------------------------------
// Against what ServingStack really renders (under mocks): the contract seen from both sides.
// ---------------------------------------------------------------------------------------------

function servingRelease(version: number, f1: number, baselineF1: number) {
    return {
        model: "churn",
        version: String(version),
        modelUri: `models:/churn/${version}`,
        metrics: { f1, accuracy: 0.91 },
        baseline: { version: String(version - 1), metrics: { f1: baselineF1, accuracy: 0.9 }, samples: 20000 },
        evaluation: { samples: 20000 },
        approvedBy: "lead@example.com",
    };
}

async function renderServing(args: Record<string, any>): Promise<RecordedResource[]> {
    const k8s = await import("@pulumi/kubernetes");
    const { ServingStack } = await import("../../components/servingStack");
    const { recordResources } = await import("../../offline-plan/run");
    const rec = await recordResources(() => {
        const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
        new ServingStack("churn", {
            namespace: "ml-serving",
            runtime: { kind: "mlflow", image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/server@${DIGEST}`, trackingUri: "http://mlflow.mlflow.svc:5000" },
            identity: { clusterName: "mlops-dev", artifactReadPolicy: '{"Version":"2012-10-17","Statement":[]}' },
            ...args,
            provider,
        } as any);
    });
    return rec.resources.filter((r) => !r.type.startsWith("pulumi:providers:"));
}

describe("gating pack against ServingStack's rendered objects", function () {
    this.timeout(180_000);
    let session: PolicyPackSession;
    before(async () => {
        session = await startPolicyPack("gating");
    });
    after(async () => {
        await session?.close();
    });
    const gateway = { parentRef: { name: "mlops", namespace: "envoy-gateway-system" } };
    const gatingIssues = (r: PolicyRunResult) =>
        r.violations.filter((v) => !["workload-identity-trust", "services-select-workloads", "gpu-workloads-schedulable"].includes(v.policyName));

    it("a gated canary at 10% behind a header route and a mirror passes every release and rollout gate", async () => {
        const rs = await renderServing({
            strategy: "canary",
            canary: { stable: servingRelease(6, 0.84, 0.8), canary: servingRelease(7, 0.9, 0.84), canaryWeight: 10, mirror: true },
            gateway,
        });
        const r = await session.run(rs, { "model-approval-required": { requireApproval: true } });
        assert.deepEqual(gatingIssues(r), [], show(r));
        assert.deepEqual(violationsOf(r, "services-select-workloads"), [], show(r));
    });

    it("a canary that fails the gate is held to canaryMaxWeight and flagged by the threshold gate", async () => {
        const rs = await renderServing({
            strategy: "canary",
            canary: { stable: servingRelease(6, 0.84, 0.8), canary: servingRelease(7, 0.85, 0.84), canaryWeight: 30 },
            gateway,
        });
        const r = await session.run(rs, { "canary-weight-limit": { canaryMaxWeight: 10 } });
        assert.ok(violationsOf(r, "canary-weight-limit").some((v) => /receives 30% of traffic via HTTPRoute/.test(v.message)), show(r));
        assert.ok(violationsOf(r, "model-gate-thresholds").some((v) => /churn v7 \(canary\): fails the gate/.test(v.message)), show(r));
        const dev = await session.run(rs, { "canary-weight-limit": { canaryMaxWeight: 50 } });
        assert.deepEqual(violationsOf(dev, "canary-weight-limit"), [], show(dev));
    });

    it("blue-green: the preview header route to an ungated idle slot is allowed; making it active is not", async () => {
        const slots = { blue: servingRelease(6, 0.84, 0.8), green: servingRelease(7, 0.85, 0.84) };
        const idle = await session.run(await renderServing({ strategy: "blueGreen", blueGreen: { slots, active: "blue" }, gateway }));
        assert.deepEqual(violationsOf(idle, "blue-green-switch-gated"), [], show(idle));
        const switched = await session.run(await renderServing({ strategy: "blueGreen", blueGreen: { slots, active: "green" }, gateway }));
        assert.ok(violationsOf(switched, "blue-green-switch-gated").some((v) => /sends traffic to slot 'green'.*gate=fail/.test(v.message)), show(switched));
    });
});
