// Both stacks through both policy packs, run the way the engine runs them (the packs' own gRPC
// servers), with each stack's per-pack configuration; then deliberately broken copies of what
// the components declared, each caught by the policy named for it.
import * as assert from "node:assert/strict";
import * as path from "path";
import { PackName, PolicyPackSession, PolicyViolation, loadPolicyConfig, startPolicyPack } from "../../offline-plan/policy-runner";
import { monitoringPolicyExemptions, validateMonitoringArgs } from "../../components/monitoring";
import { ProgramRun, runProgram } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";

const ROOT = path.resolve(__dirname, "..", "..", "..");

type Mutation = (props: any) => void;

/** A copy of the resources with one resource's inputs and outputs changed by `fn`. */
function broken(resources: RecordedResource[], type: string, name: string, fn: Mutation): RecordedResource[] {
    let found = false;
    const out = resources.map((r) => {
        if (r.type !== type || r.name !== name) {
            return r;
        }
        found = true;
        const copy: RecordedResource = JSON.parse(JSON.stringify(r));
        fn(copy.inputs);
        fn(copy.outputs);
        return copy;
    });
    assert.ok(found, `no ${type} named ${name} in the stack`);
    return out;
}

const names = (vs: PolicyViolation[]) => vs.map((v) => `${v.policyName}:${v.enforcementLevel}`);

describe("policy packs on the whole program", function () {
    const runs: Record<string, ProgramRun> = {};
    const sessions: Partial<Record<PackName, PolicyPackSession>> = {};

    async function check(stack: string, resources: RecordedResource[]): Promise<PolicyViolation[]> {
        const all: PolicyViolation[] = [];
        for (const pack of ["security", "gating"] as PackName[]) {
            const result = await sessions[pack]!.run(resources, loadPolicyConfig(ROOT, stack, pack));
            all.push(...result.violations);
        }
        return all;
    }

    before(async () => {
        for (const stack of ["dev", "prod"]) {
            runs[stack] = await runProgram({ root: ROOT, stack });
        }
        sessions.security = await startPolicyPack("security", { root: ROOT });
        sessions.gating = await startPolicyPack("gating", { root: ROOT });
    });

    after(async () => {
        await sessions.security?.close();
        await sessions.gating?.close();
    });

    it("both stacks' security config exempts, by name, exactly the host-access agents and upstream images Monitoring deploys", () => {
        const settings = validateMonitoringArgs({
            provider: {} as any,
            storageClassName: "gp3",
            alertmanager: { receivers: [{ name: "platform", type: "slack", secret: { name: "s", key: "k" } }], defaultReceiver: "platform" },
            grafana: { adminSecret: { name: "grafana-admin" } },
            dcgmExporter: {},
        });
        for (const stack of ["dev", "prod"]) {
            const cfg = loadPolicyConfig(ROOT, stack, "security") as Record<string, any>;
            for (const [policy, wanted] of Object.entries(monitoringPolicyExemptions(settings))) {
                for (const e of wanted) {
                    assert.ok(
                        (cfg[policy]?.exemptions ?? []).some((x: any) => x.namespace === e.namespace && x.name === e.name && x.reason),
                        `${stack}: ${policy} lacks the exemption ${e.namespace}/${e.name}`,
                    );
                }
            }
        }
    });

    it("dev has no mandatory violation", async () => {
        const vs = await check("dev", runs.dev.resources);
        assert.deepEqual(vs.filter((v) => v.enforcementLevel === "mandatory").map((v) => `${v.policyName}: ${v.message}`), []);
    });

    it("prod has no violation at all, mandatory or advisory", async () => {
        const vs = await check("prod", runs.prod.resources);
        assert.deepEqual(vs.map((v) => `${v.policyName}: ${v.message}`), []);
    });

    const cases: Array<{ policy: string; stack: string; type: string; name: string; fn: Mutation; also?: { type: string; name: string; fn: Mutation } }> = [
        { policy: "s3-versioning-enabled", stack: "prod", type: "aws:s3/bucketVersioning:BucketVersioning", name: "mlops-data-raw-versioning", fn: (p) => (p.versioningConfiguration.status = "Suspended") },
        { policy: "s3-public-access-block-all", stack: "prod", type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", name: "mlops-data-artifacts-public-access", fn: (p) => (p.restrictPublicBuckets = false) },
        { policy: "s3-sse-kms", stack: "prod", type: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", name: "mlops-data-processed-encryption", fn: (p) => (p.rules[0].applyServerSideEncryptionByDefault = { sseAlgorithm: "AES256" }) },
        { policy: "s3-no-force-destroy", stack: "prod", type: "aws:s3/bucket:Bucket", name: "mlops-data-artifacts", fn: (p) => (p.forceDestroy = true) },
        { policy: "ecr-immutable-tags", stack: "prod", type: "aws:ecr/repository:Repository", name: "mlops-registry-trainer", fn: (p) => (p.imageTagMutability = "MUTABLE") },
        { policy: "ecr-scan-on-push", stack: "dev", type: "aws:ecr/repository:Repository", name: "mlops-registry-server", fn: (p) => (p.imageScanningConfiguration.scanOnPush = false) },
        { policy: "kms-rotation", stack: "prod", type: "aws:kms/key:Key", name: "mlops-data-key", fn: (p) => (p.enableKeyRotation = false) },
        {
            policy: "eks-public-cidrs",
            stack: "dev",
            type: "aws:eks/cluster:Cluster",
            name: "mlops-cluster-cluster",
            fn: (p) => Object.assign(p.vpcConfig, { endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"] }),
        },
        { policy: "eks-private-endpoint", stack: "prod", type: "aws:eks/cluster:Cluster", name: "mlops-cluster-cluster", fn: (p) => Object.assign(p.vpcConfig, { endpointPublicAccess: true, publicAccessCidrs: ["10.0.0.0/8"] }) },
        { policy: "eks-control-plane-logging", stack: "prod", type: "aws:eks/cluster:Cluster", name: "mlops-cluster-cluster", fn: (p) => (p.enabledClusterLogTypes = ["api"]) },
        { policy: "nodes-imdsv2", stack: "dev", type: "aws:ec2/launchTemplate:LaunchTemplate", name: "mlops-gpu-training-lt", fn: (p) => (p.metadataOptions.httpTokens = "optional") },
        { policy: "nodes-ebs-encrypted", stack: "prod", type: "aws:ec2/launchTemplate:LaunchTemplate", name: "mlops-cluster-system-lt", fn: (p) => (p.blockDeviceMappings[0].ebs.encrypted = "false") },
        { policy: "gpu-nodegroup-taint", stack: "prod", type: "aws:eks/nodeGroup:NodeGroup", name: "mlops-gpu-serving-nodes", fn: (p) => (p.taints = []) },
        { policy: "rds-storage-encrypted", stack: "prod", type: "aws:rds/instance:Instance", name: "mlops-tracking-db", fn: (p) => (p.storageEncrypted = false) },
        { policy: "rds-multi-az", stack: "prod", type: "aws:rds/instance:Instance", name: "mlops-tracking-db", fn: (p) => (p.multiAz = false) },
        { policy: "rds-not-public", stack: "dev", type: "aws:rds/instance:Instance", name: "mlops-tracking-db", fn: (p) => (p.publiclyAccessible = true) },
        {
            policy: "k8s-run-as-non-root",
            stack: "prod",
            type: "kubernetes:apps/v1:Deployment",
            name: "mlops-tracking-server",
            fn: (p) => {
                p.spec.template.spec.securityContext.runAsNonRoot = false;
                for (const c of p.spec.template.spec.containers) c.securityContext.runAsNonRoot = false;
            },
        },
        { policy: "k8s-image-pinned-registry", stack: "prod", type: "kubernetes:apps/v1:Deployment", name: "mlops-serving-canary", fn: (p) => (p.spec.template.spec.containers[0].image = "docker.io/library/python:latest") },
        {
            policy: "canary-weight-limit",
            stack: "prod",
            type: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
            name: "mlops-serving-route",
            fn: (p) => {
                const weighted = p.spec.rules.find((r: any) => r.backendRefs.length > 1);
                weighted.backendRefs.find((b: any) => b.name.endsWith("-canary")).weight = 60;
                weighted.backendRefs.find((b: any) => b.name.endsWith("-stable")).weight = 40;
            },
            // Above the prod limit is allowed only for a release that passed the gate: this one has no gate record.
            also: {
                type: "kubernetes:apps/v1:Deployment",
                name: "mlops-serving-canary",
                fn: (p) => {
                    p.metadata.annotations["mlops.platform/gate"] = "none";
                    p.spec.template.metadata.annotations["mlops.platform/gate"] = "none";
                },
            },
        },
        {
            policy: "model-gate-thresholds",
            stack: "prod",
            type: "kubernetes:apps/v1:Deployment",
            name: "mlops-serving-canary",
            fn: (p) => {
                p.metadata.annotations["mlops.platform/metric.f1"] = "0.815"; // +0.6 %, below the 2 % bar
            },
        },
        {
            policy: "model-approval-required",
            stack: "prod",
            type: "kubernetes:apps/v1:Deployment",
            name: "mlops-serving-canary",
            fn: (p) => {
                delete p.metadata.annotations["mlops.platform/approved-by"];
                delete p.spec.template.metadata.annotations["mlops.platform/approved-by"];
            },
        },
        { policy: "model-ref-immutable", stack: "dev", type: "kubernetes:apps/v1:Deployment", name: "mlops-serving-stable", fn: (p) => (p.metadata.annotations["mlops.platform/model-uri"] = "models:/credit-risk/latest") },
        // issue 12: what each finding's policy catches in a copy of the real stack
        { policy: "eks-network-policy-enforced", stack: "dev", type: "aws:eks/addon:Addon", name: "mlops-cluster-vpc-cni", fn: (p) => delete p.configurationValues },
        { policy: "k8s-namespace-default-deny", stack: "dev", type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", name: "mlops-serving-isolation-default-deny", fn: (p) => (p.spec.policyTypes = ["Ingress"]) },
        { policy: "k8s-pdb-unhealthy-eviction", stack: "prod", type: "kubernetes:policy/v1:PodDisruptionBudget", name: "mlops-tracking-pdb", fn: (p) => delete p.spec.unhealthyPodEvictionPolicy },
        { policy: "vpc-default-sg-restricted", stack: "prod", type: "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", name: "mlops-network-default-sg", fn: (p) => (p.ingress = [{ protocol: "-1", fromPort: 0, toPort: 0, self: true }]) },
        { policy: "vpc-s3-endpoint-policy", stack: "dev", type: "aws:ec2/vpcEndpoint:VpcEndpoint", name: "mlops-network-s3", fn: (p) => delete p.policy },
        {
            policy: "gateway-load-balancer-restricted",
            stack: "dev",
            type: "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
            name: "mlops-gateway-proxy-config",
            fn: (p) => (p.spec.provider.kubernetes.envoyService.annotations = { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing" }),
        },
        {
            policy: "gateway-https",
            stack: "prod",
            type: "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
            name: "mlops-gateway-proxy-config",
            fn: (p) => delete p.spec.provider.kubernetes.envoyService.annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"],
        },
        { policy: "gateway-route-auth", stack: "prod", type: "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy", name: "mlops-serving-auth", fn: (p) => delete p.spec.apiKeyAuth },
        {
            policy: "gateway-route-auth",
            stack: "prod",
            type: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
            name: "mlops-serving-route",
            fn: (p) => p.spec.rules.unshift({ matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [{ type: "Exact", name: "x-model-track", value: "canary" }] }], backendRefs: [{ group: "", kind: "Service", name: "credit-risk-canary", port: 80, weight: 1 }] }),
        },
        { policy: "kube-prometheus-stack-hardening", stack: "prod", type: "kubernetes:helm.sh/v4:Chart", name: "mlops-monitoring-stack", fn: (p) => (p.values.grafana.initChownData.enabled = true) },
        // Issue 12: each finding's old shape, caught by the policy added for it.
        {
            policy: "iam-role-creation-bounded",
            stack: "prod",
            type: "aws:iam/rolePolicy:RolePolicy",
            name: "mlops-ci-deploy-iam",
            fn: (p) => {
                const doc = JSON.parse(p.policy);
                for (const st of doc.Statement) delete st.Condition?.StringEquals?.["iam:PermissionsBoundary"];
                p.policy = JSON.stringify(doc);
            },
        },
        { policy: "iam-no-admin-managed", stack: "prod", type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment", name: "mlops-ci-deploy-services-1", fn: (p) => (p.policyArn = "arn:aws:iam::aws:policy/PowerUserAccess") },
        { policy: "iam-role-boundary-and-prefix", stack: "dev", type: "aws:iam/role:Role", name: "mlops-cluster-node-role", fn: (p) => delete p.permissionsBoundary },
        { policy: "iam-role-boundary-and-prefix", stack: "prod", type: "aws:iam/role:Role", name: "mlops-tracking-identity-role", fn: (p) => delete p.namePrefix },
        {
            policy: "iam-pod-identity-trust-conditions",
            stack: "dev",
            type: "aws:iam/role:Role",
            name: "mlops-train-identity-role",
            fn: (p) => {
                const doc = JSON.parse(p.assumeRolePolicy);
                delete doc.Statement[0].Condition;
                p.assumeRolePolicy = JSON.stringify(doc);
            },
        },
        // The trainer role lacked the environment/owner tags (issue 12 #15).
        { policy: "iam-role-tags", stack: "dev", type: "aws:iam/role:Role", name: "mlops-train-identity-role", fn: (p) => delete p.tags.owner },
        {
            policy: "iam-ci-trust-environments",
            stack: "prod",
            type: "aws:iam/role:Role",
            name: "mlops-ci-image-push",
            fn: (p) => {
                const doc = JSON.parse(p.assumeRolePolicy);
                doc.Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] = ["repo:example-org/mlops-platform:ref:refs/heads/main"];
                p.assumeRolePolicy = JSON.stringify(doc);
            },
        },
        {
            policy: "kms-key-policy-separation",
            stack: "prod",
            type: "aws:kms/key:Key",
            name: "mlops-data-key",
            fn: (p) => (p.policy = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "kms:*", Resource: "*" }] })),
        },
        { policy: "ebs-cmk", stack: "prod", type: "aws:ec2/launchTemplate:LaunchTemplate", name: "mlops-gpu-training-lt", fn: (p) => delete p.blockDeviceMappings[0].ebs.kmsKeyId },
        { policy: "ebs-cmk", stack: "dev", type: "kubernetes:storage.k8s.io/v1:StorageClass", name: "mlops-cluster-gp3", fn: (p) => delete p.parameters.kmsKeyId },
        { policy: "rds-enhanced-monitoring", stack: "prod", type: "aws:rds/instance:Instance", name: "mlops-tracking-db", fn: (p) => (p.monitoringInterval = 0) },
        {
            policy: "rds-audit-logging",
            stack: "prod",
            type: "aws:rds/parameterGroup:ParameterGroup",
            name: "mlops-tracking-db-params",
            fn: (p) => (p.parameters = p.parameters.filter((x: any) => x.name !== "log_statement")),
        },
        { policy: "s3-replication", stack: "prod", type: "aws:s3/bucketReplicationConfig:BucketReplicationConfig", name: "mlops-data-raw-replication", fn: (p) => (p.rules[0].deleteMarkerReplication.status = "Enabled") },
        { policy: "s3-replication", stack: "prod", type: "aws:s3/bucketReplicationConfig:BucketReplicationConfig", name: "mlops-data-logs-replication", fn: (p) => (p.rules[0].status = "Disabled") },
        // The old log lifecycle: overwritten or deleted access logs gone after one day.
        { policy: "s3-log-versions-retained", stack: "prod", type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", name: "mlops-data-logs-lifecycle", fn: (p) => (p.rules[0].noncurrentVersionExpiration.noncurrentDays = 1) },
        {
            policy: "iam-no-admin-star",
            stack: "dev",
            type: "aws:iam/rolePolicy:RolePolicy",
            name: "mlops-tracking-identity-artifacts",
            fn: (p) => (p.policy = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] })),
        },
    ];

    for (const c of cases) {
        it(`${c.policy} catches a broken ${c.name} (${c.stack})`, async () => {
            let resources = broken(runs[c.stack].resources, c.type, c.name, c.fn);
            if (c.also) {
                resources = broken(resources, c.also.type, c.also.name, c.also.fn);
            }
            const vs = await check(c.stack, resources);
            assert.ok(
                vs.some((v) => v.policyName === c.policy && v.enforcementLevel === "mandatory"),
                `expected a mandatory ${c.policy} violation, got: ${names(vs).join(", ") || "none"}`,
            );
        });
    }
});
