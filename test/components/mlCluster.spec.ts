import * as pulumi from "@pulumi/pulumi";
import { DaemonSet, Deployment } from "kubernetes-models/apps/v1";
import { ServiceAccount } from "kubernetes-models/v1";
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { StorageClass } from "kubernetes-models/storage.k8s.io/v1";
import * as assert from "node:assert/strict";
import { clusterAutoscalerPolicy } from "../../components/clusterAutoscaler";
import { GpuNodeGroup } from "../../components/gpuNodeGroup";
import { CONTROL_PLANE_LOG_TYPES, MlCluster, MlClusterArgs, validateMlClusterArgs } from "../../components/mlCluster";
import { CLUSTER_AUTOSCALER_IMAGES, SUPPORTED_KUBERNETES_VERSIONS } from "../../components/versions";
import { recordResources } from "../../offline-plan/run";
import { vpcCniEnforcementProblem } from "../../policies/security/rules/k8s-network";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, childrenOf, one, ofType, policyDoc } from "../helpers/resources";

const SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"];
const ADMIN = "arn:aws:iam::123456789012:role/PlatformAdmin";
const CI_DEPLOY = "arn:aws:iam::123456789012:role/mlops-ci-deploy-1234567";
const BASE: MlClusterArgs = { privateSubnetIds: SUBNETS, adminRoleArns: [ADMIN] };

/** The provider reference (`urn::id`) of a provider resource. */
function providerRef(p: RecordedResource): string {
    return `${p.urn}::${p.id}`;
}

describe("MlCluster", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;
    const T = {
        cluster: "aws:eks/cluster:Cluster",
        addon: "aws:eks/addon:Addon",
        ng: "aws:eks/nodeGroup:NodeGroup",
        lt: "aws:ec2/launchTemplate:LaunchTemplate",
        role: "aws:iam/role:Role",
    };

    before(async () => {
        const rec = await recordResources(() => {
            const c = new MlCluster("mlc", { ...BASE, ciDeployRoleArn: CI_DEPLOY, tags: { team: "ml" } });
            const reader = c.workloadIdentity("reader", {
                namespace: "ml",
                serviceAccountName: "reader",
                policies: { read: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" }] }) },
            });
            new GpuNodeGroup("train", { cluster: c, instanceTypes: ["g5.xlarge"], capacityType: "SPOT" }, { parent: c });
            return { kubeconfig: c.kubeconfig, name: c.clusterName, issuer: c.oidcIssuerUrl, nodeRole: c.nodeRoleArn, readerRole: reader.roleArn, sc: c.storageClassName };
        });
        resources = rec.resources;
        outputs = rec.outputs;
    });

    it("declares exactly the expected children", () => {
        const component = one(resources, "mlops-platform:index:MlCluster", "mlc");
        const direct = childrenOf(resources, component).map((r) => `${r.type} ${r.name}`).sort();
        assert.deepEqual(
            direct,
            [
                "aws:kms/key:Key mlc-secrets-key",
                "aws:kms/key:Key mlc-ebs-key",
                "aws:kms/key:Key mlc-logs-key",
                "aws:cloudwatch/logGroup:LogGroup mlc-control-plane-logs",
                "aws:iam/role:Role mlc-cluster-role",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment mlc-cluster-policy",
                "aws:iam/rolePolicy:RolePolicy mlc-cluster-kms",
                "aws:eks/cluster:Cluster mlc-cluster",
                "aws:eks/accessEntry:AccessEntry mlc-admin-platformadmin",
                "aws:eks/accessPolicyAssociation:AccessPolicyAssociation mlc-admin-platformadmin-policy",
                "aws:eks/accessEntry:AccessEntry mlc-ci-deploy",
                "aws:eks/accessPolicyAssociation:AccessPolicyAssociation mlc-ci-deploy-policy",
                "aws:iam/role:Role mlc-node-role",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment mlc-node-AmazonEKSWorkerNodePolicy",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment mlc-node-AmazonEC2ContainerRegistryPullOnly",
                "aws:eks/addon:Addon mlc-eks-pod-identity-agent",
                "aws:eks/addon:Addon mlc-kube-proxy",
                "aws:iam/role:Role mlc-vpc-cni-role",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment mlc-vpc-cni-policy",
                "aws:eks/addon:Addon mlc-vpc-cni",
                "aws:ebs/encryptionByDefault:EncryptionByDefault mlc-ebs-encryption",
                "aws:ec2/launchTemplate:LaunchTemplate mlc-system-lt",
                "aws:eks/nodeGroup:NodeGroup mlc-system",
                "aws:eks/addon:Addon mlc-coredns",
                "aws:iam/role:Role mlc-ebs-csi-role",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment mlc-ebs-csi-policy",
                "aws:iam/rolePolicy:RolePolicy mlc-ebs-csi-kms",
                "aws:eks/addon:Addon mlc-aws-ebs-csi-driver",
                "pulumi:providers:kubernetes mlc-k8s",
                "kubernetes:storage.k8s.io/v1:StorageClass mlc-gp3",
                "mlops-platform:index:ClusterAutoscaler mlc-autoscaler",
                // Created through the convenience method and by the test (parent: the cluster).
                "mlops-platform:index:WorkloadIdentity reader",
                "mlops-platform:index:GpuNodeGroup train",
            ].sort(),
        );
        const autoscaler = one(resources, "mlops-platform:index:ClusterAutoscaler", "mlc-autoscaler");
        assert.deepEqual(
            childrenOf(resources, autoscaler).map((r) => `${r.type} ${r.name}`).sort(),
            [
                "mlops-platform:index:WorkloadIdentity mlc-autoscaler-identity",
                "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole mlc-autoscaler-clusterrole",
                "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding mlc-autoscaler-clusterrolebinding",
                "kubernetes:rbac.authorization.k8s.io/v1:Role mlc-autoscaler-role",
                "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding mlc-autoscaler-rolebinding",
                "kubernetes:apps/v1:Deployment mlc-autoscaler-deployment",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy mlc-autoscaler-netpol",
            ].sort(),
        );
    });

    it("creates the cluster with pinned version, KMS secrets encryption, private endpoint, all logs and API access mode", () => {
        const cluster = one(resources, T.cluster, "mlc-cluster");
        const i = cluster.inputs;
        assert.equal(i.name, "mlc");
        assert.equal(i.version, "1.34");
        assert.deepEqual(i.vpcConfig.subnetIds, SUBNETS);
        assert.equal(i.vpcConfig.endpointPrivateAccess, true);
        assert.equal(i.vpcConfig.endpointPublicAccess, false);
        assert.equal(i.vpcConfig.publicAccessCidrs, undefined);
        const secretsKey = one(resources, "aws:kms/key:Key", "mlc-secrets-key");
        assert.deepEqual(i.encryptionConfig, { resources: ["secrets"], provider: { keyArn: secretsKey.outputs.arn } });
        assert.deepEqual(i.enabledClusterLogTypes, [...CONTROL_PLANE_LOG_TYPES]);
        assert.deepEqual(i.accessConfig, { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false });
        assert.equal(i.bootstrapSelfManagedAddons, false);
        assert.equal(i.deletionProtection, true);
        assert.deepEqual(i.upgradePolicy, { supportType: "STANDARD" });
        assert.equal(i.roleArn, one(resources, T.role, "mlc-cluster-role").outputs.arn);
        assert.equal(i.tags.team, "ml");
        // The log group exists first, so EKS writes into the encrypted group with retention.
        assert.ok(cluster.dependencies.includes(one(resources, "aws:cloudwatch/logGroup:LogGroup", "mlc-control-plane-logs").urn));
    });

    it("rotates its own keys; logs go to an encrypted group with retention; the cluster role may use only the secrets key", () => {
        for (const k of ["mlc-secrets-key", "mlc-logs-key"]) {
            assert.equal(one(resources, "aws:kms/key:Key", k).inputs.enableKeyRotation, true);
        }
        const logsKey = one(resources, "aws:kms/key:Key", "mlc-logs-key");
        const logs = one(resources, "aws:cloudwatch/logGroup:LogGroup", "mlc-control-plane-logs").inputs;
        assert.deepEqual([logs.name, logs.retentionInDays, logs.kmsKeyId], ["/aws/eks/mlc/cluster", 90, logsKey.outputs.arn]);
        const stmt = policyDoc(logsKey).Statement.find((s: any) => s.Sid === "CloudWatchLogsForControlPlaneLogs");
        assert.equal(stmt.Condition.ArnEquals["kms:EncryptionContext:aws:logs:arn"], "arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/mlc/cluster");
        const trust = policyDoc(one(resources, T.role, "mlc-cluster-role"), "assumeRolePolicy").Statement[0];
        assert.deepEqual(trust.Principal, { Service: "eks.amazonaws.com" });
        const kms = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "mlc-cluster-kms")).Statement[0];
        assert.equal(kms.Resource, one(resources, "aws:kms/key:Key", "mlc-secrets-key").outputs.arn);
        assert.ok(!kms.Action.includes("kms:*"));
        assert.equal(one(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "mlc-cluster-policy").inputs.policyArn, "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy");
    });

    it("grants cluster-admin through access entries to the admin roles and the CI deploy role only", () => {
        const entries = ofType(resources, "aws:eks/accessEntry:AccessEntry");
        assert.deepEqual(entries.map((e) => e.inputs.principalArn).sort(), [ADMIN, CI_DEPLOY].sort());
        for (const e of entries) {
            assert.equal(e.inputs.clusterName, "mlc");
            assert.equal(e.inputs.type, "STANDARD");
            const assoc = one(resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", `${e.name}-policy`).inputs;
            assert.equal(assoc.principalArn, e.inputs.principalArn);
            assert.equal(assoc.policyArn, "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy");
            assert.deepEqual(assoc.accessScope, { type: "cluster" });
        }
    });

    it("installs the five managed addons in dependency order, the CNI and EBS CSI with their own Pod Identity roles", () => {
        const addon = (n: string) => one(resources, T.addon, `mlc-${n}`);
        for (const n of ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver"]) {
            const a = addon(n).inputs;
            assert.equal(a.addonName, n);
            assert.equal(a.clusterName, "mlc");
            // Not pinned in args: EKS's default version for the minor (from getAddonVersion).
            assert.match(a.addonVersion, /^v\d+\.\d+\.\d+-eksbuild\.\d+$/);
        }
        const system = one(resources, T.ng, "mlc-system");
        assert.ok(addon("vpc-cni").dependencies.includes(addon("eks-pod-identity-agent").urn));
        for (const n of ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"]) {
            assert.ok(system.dependencies.includes(addon(n).urn), `nodes wait for ${n}`);
        }
        for (const n of ["coredns", "aws-ebs-csi-driver"]) {
            assert.ok(addon(n).dependencies.includes(system.urn), `${n} waits for nodes`);
        }
        const cases = [
            ["vpc-cni", "aws-node", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"],
            ["aws-ebs-csi-driver", "ebs-csi-controller-sa", "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
        ];
        for (const [n, sa, policy] of cases) {
            const key = n === "vpc-cni" ? "vpc-cni" : "ebs-csi";
            const role = one(resources, T.role, `mlc-${key}-role`);
            assert.deepEqual(addon(n).inputs.podIdentityAssociations, [{ roleArn: role.outputs.arn, serviceAccount: sa }]);
            assert.deepEqual(policyDoc(role, "assumeRolePolicy").Statement[0].Principal, { Service: "pods.eks.amazonaws.com" });
            assert.equal(one(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", `mlc-${key}-policy`).inputs.policyArn, policy);
        }
    });

    it("turns on NetworkPolicy enforcement in the VPC CNI (off by default), leaving its node agent on", () => {
        const cfg = JSON.parse(one(resources, T.addon, "mlc-vpc-cni").inputs.configurationValues);
        assert.deepEqual(cfg, { enableNetworkPolicy: "true" });
        assert.equal(vpcCniEnforcementProblem(one(resources, T.addon, "mlc-vpc-cni").inputs.configurationValues), undefined);
        // The other addons keep EKS's defaults.
        assert.equal(one(resources, T.addon, "mlc-coredns").inputs.configurationValues, undefined);
    });

    it("runs an on-demand AL2023 system node group whose size the autoscaler owns", () => {
        const ng = one(resources, T.ng, "mlc-system");
        const i = ng.inputs;
        assert.deepEqual([i.amiType, i.capacityType, i.version], ["AL2023_x86_64_STANDARD", "ON_DEMAND", "1.34"]);
        assert.deepEqual(i.instanceTypes, ["m6i.large"]);
        assert.deepEqual(i.scalingConfig, { minSize: 2, maxSize: 4, desiredSize: 2 });
        assert.deepEqual(i.labels, { "mlops.platform/pool": "system" });
        assert.deepEqual(i.subnetIds, SUBNETS);
        assert.equal(i.nodeRoleArn, one(resources, T.role, "mlc-node-role").outputs.arn);
        assert.deepEqual(ng.ignoreChanges, ["scalingConfig.desiredSize"]);
        assert.equal(i.launchTemplate.id, one(resources, T.lt, "mlc-system-lt").id);
        assert.equal(i.diskSize, undefined, "disk comes from the launch template");
        assert.equal(i.remoteAccess, undefined, "no SSH");
    });

    it("hardens every node group's launch template: IMDSv2 only, hop limit 1, encrypted gp3, no public IP, no instance profile", () => {
        const groups = ofType(resources, T.ng);
        assert.deepEqual(groups.map((g) => g.name).sort(), ["mlc-system", "train-nodes"]);
        for (const g of groups) {
            const lt = ofType(resources, T.lt).find((l) => l.id === g.inputs.launchTemplate.id);
            assert.ok(lt, `${g.name} uses one of our launch templates`);
            assert.equal(g.inputs.launchTemplate.version, "1");
            const i = lt!.inputs;
            assert.deepEqual(i.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" });
            assert.ok(i.blockDeviceMappings.length > 0);
            for (const m of i.blockDeviceMappings) {
                assert.equal(m.ebs.encrypted, "true", `${lt!.name} ${m.deviceName} encrypted`);
                assert.equal(m.ebs.volumeType, "gp3");
                assert.equal(m.ebs.deleteOnTermination, "true");
            }
            assert.equal(i.networkInterfaces, undefined, "no public IP (private subnets; no interface overrides)");
            assert.equal(i.iamInstanceProfile, undefined, "EKS sets the instance profile");
            assert.equal(i.imageId, undefined, "EKS picks the AMI for the amiType");
            assert.equal(i.userData, undefined);
        }
    });

    it("turns on EBS encryption by default in the region and never turns it off on destroy", () => {
        const e = one(resources, "aws:ebs/encryptionByDefault:EncryptionByDefault", "mlc-ebs-encryption");
        assert.equal(e.inputs.enabled, true);
        assert.equal(e.retainOnDelete, true);
    });

    it("keeps data access off the node role: only the worker and image-pull managed policies", () => {
        const nodeRole = one(resources, T.role, "mlc-node-role");
        assert.deepEqual(policyDoc(nodeRole, "assumeRolePolicy").Statement[0].Principal, { Service: "ec2.amazonaws.com" });
        const attached = ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            .filter((a) => a.inputs.role === nodeRole.outputs.name)
            .map((a) => a.inputs.policyArn)
            .sort();
        assert.deepEqual(attached, ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"]);
        assert.equal(ofType(resources, "aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === nodeRole.outputs.name).length, 0, "no inline policies");
        assert.equal(nodeRole.inputs.managedPolicyArns, undefined);
        assert.equal(nodeRole.inputs.inlinePolicies, undefined);
    });

    it("builds its own Kubernetes provider from cluster outputs, with an exec token and server-side apply, after the access entries", () => {
        const provider = one(resources, "pulumi:providers:kubernetes", "mlc-k8s");
        const cluster = one(resources, T.cluster, "mlc-cluster");
        const kc = JSON.parse(provider.inputs.kubeconfig);
        assert.equal(kc.clusters[0].cluster.server, cluster.outputs.endpoint);
        assert.equal(kc.clusters[0].cluster["certificate-authority-data"], cluster.outputs.certificateAuthority.data);
        const exec = kc.users[0].user.exec;
        assert.equal(exec.command, "aws");
        assert.deepEqual(exec.args, ["eks", "get-token", "--cluster-name", "mlc", "--region", "us-east-1", "--output", "json"]);
        assert.equal(exec.apiVersion, "client.authentication.k8s.io/v1beta1");
        assert.equal(String(provider.inputs.enableServerSideApply), "true");
        assert.equal(provider.inputs.clusterIdentifier, cluster.outputs.arn);
        for (const a of ofType(resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")) {
            assert.ok(provider.dependencies.includes(a.urn), `provider waits for ${a.name}`);
        }
        assert.deepEqual(JSON.parse(outputs.kubeconfig), kc);
    });

    it("sets the cluster's provider explicitly on every Kubernetes resource", () => {
        const ref = providerRef(one(resources, "pulumi:providers:kubernetes", "mlc-k8s"));
        const k8sResources = resources.filter((r) => r.type.startsWith("kubernetes:"));
        assert.ok(k8sResources.length >= 9);
        for (const r of k8sResources) {
            assert.equal(r.provider, ref, `${r.type} ${r.name} uses the cluster's provider`);
        }
    });

    it("renders every Kubernetes manifest valid against the Kubernetes schema", () => {
        const models: Record<string, new (data: any) => { validate(): void }> = {
            "kubernetes:apps/v1:Deployment": Deployment,
            "kubernetes:apps/v1:DaemonSet": DaemonSet,
            "kubernetes:core/v1:ServiceAccount": ServiceAccount,
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": ClusterRole,
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": ClusterRoleBinding,
            "kubernetes:rbac.authorization.k8s.io/v1:Role": Role,
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": RoleBinding,
            "kubernetes:storage.k8s.io/v1:StorageClass": StorageClass,
            "kubernetes:networking.k8s.io/v1:NetworkPolicy": NetworkPolicy,
        };
        for (const r of resources.filter((x) => x.type.startsWith("kubernetes:"))) {
            const Model = models[r.type];
            assert.ok(Model, `a schema model for ${r.type}`);
            const [, group, kind] = /^kubernetes:(.+):(\w+)$/.exec(r.type)!;
            const apiVersion = group.startsWith("core/") ? group.slice(5) : group;
            assert.doesNotThrow(() => new Model({ ...r.inputs, apiVersion, kind }).validate(), `${r.type} ${r.name}`);
        }
    });

    it("puts node volumes on the EBS key (Auto Scaling may use it) and pins addon Pod Identity trust to the cluster", () => {
        const ebsKey = one(resources, "aws:kms/key:Key", "mlc-ebs-key");
        const lt = one(resources, "aws:ec2/launchTemplate:LaunchTemplate", "mlc-system-lt").inputs;
        assert.ok(lt.blockDeviceMappings.every((m: any) => m.ebs.kmsKeyId === ebsKey.outputs.arn));
        const asg = policyDoc(ebsKey).Statement.find((s: any) => s.Sid === "AutoScalingUsesKeyForNodeVolumes");
        assert.equal(asg.Condition.ArnEquals["aws:PrincipalArn"], "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling");
        const csiKms = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "mlc-ebs-csi-kms"));
        assert.ok(csiKms.Statement.every((s: any) => s.Resource === ebsKey.outputs.arn));
        const cluster = one(resources, "aws:eks/cluster:Cluster", "mlc-cluster").outputs.arn;
        for (const role of ["mlc-vpc-cni-role", "mlc-ebs-csi-role"]) {
            const trust = policyDoc(one(resources, T.role, role), "assumeRolePolicy").Statement[0];
            assert.deepEqual(trust.Condition, { StringEquals: { "aws:SourceAccount": "123456789012" }, ArnEquals: { "aws:SourceArn": cluster } });
        }
    });

    it("makes a gp3 StorageClass encrypted with the cluster's EBS key the default", () => {
        const sc = one(resources, "kubernetes:storage.k8s.io/v1:StorageClass", "mlc-gp3").inputs;
        assert.equal(sc.metadata.name, "gp3-encrypted");
        assert.equal(sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"], "true");
        assert.equal(sc.provisioner, "ebs.csi.aws.com");
        const ebsKey = one(resources, "aws:kms/key:Key", "mlc-ebs-key").outputs.arn;
        assert.deepEqual(sc.parameters, { type: "gp3", encrypted: "true", kmsKeyId: ebsKey, fsType: "ext4" });
        assert.equal(sc.volumeBindingMode, "WaitForFirstConsumer");
        assert.equal(sc.allowVolumeExpansion, true);
        assert.equal(outputs.sc, "gp3-encrypted");
    });

    describe("cluster autoscaler", () => {
        it("runs the image of the cluster's minor with auto-discovery and scale-to-zero flags", () => {
            const d = one(resources, "kubernetes:apps/v1:Deployment", "mlc-autoscaler-deployment");
            assert.equal(d.inputs.metadata.namespace, "kube-system");
            const pod = d.inputs.spec.template.spec;
            const c = pod.containers[0];
            assert.equal(c.image, CLUSTER_AUTOSCALER_IMAGES["1.34"]);
            assert.match(c.image, /:v1\.34\.\d+$/);
            for (const flag of [
                "--cloud-provider=aws",
                "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/mlc",
                "--balance-similar-node-groups=true",
                "--skip-nodes-with-system-pods=false",
                "--skip-nodes-with-local-storage=false",
                "--expander=least-waste",
                "--balancing-ignore-label=eks.amazonaws.com/nodegroup",
            ]) {
                assert.ok(c.command.includes(flag), `has ${flag}`);
            }
            assert.deepEqual(c.env, [{ name: "AWS_REGION", value: "us-east-1" }]);
            assert.deepEqual(pod.nodeSelector, { "mlops.platform/pool": "system" });
            assert.equal(pod.priorityClassName, "system-cluster-critical");
            assert.equal(pod.serviceAccountName, "cluster-autoscaler");
            assert.equal(d.inputs.spec.template.metadata.annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"], "false");
            assert.ok(d.dependencies.includes(one(resources, T.ng, "mlc-system").urn), "waits for nodes");
        });

        it("has its own NetworkPolicy (kube-system has no default-deny): metrics in from monitoring; DNS, Pod Identity and HTTPS out", () => {
            const np = one(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "mlc-autoscaler-netpol").inputs;
            const d = one(resources, "kubernetes:apps/v1:Deployment", "mlc-autoscaler-deployment").inputs;
            assert.equal(np.metadata.namespace, "kube-system");
            assert.deepEqual(np.spec.podSelector.matchLabels, d.spec.template.metadata.labels);
            assert.deepEqual(np.spec.policyTypes, ["Ingress", "Egress"]);
            assert.deepEqual(np.spec.ingress, [
                { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ protocol: "TCP", port: 8085 }] },
            ]);
            const egress = np.spec.egress.map((e: any) => `${e.to.map((t: any) => t.ipBlock?.cidr ?? t.podSelector?.matchLabels?.["k8s-app"]).join(",")}:${e.ports.map((p: any) => `${p.protocol}/${p.port}`).join(",")}`);
            assert.deepEqual(egress, ["kube-dns:UDP/53,TCP/53", "169.254.170.23/32:TCP/80", "0.0.0.0/0:TCP/443"]);
        });

        it("runs under the restricted pod security profile", () => {
            const pod = one(resources, "kubernetes:apps/v1:Deployment", "mlc-autoscaler-deployment").inputs.spec.template.spec;
            assert.equal(pod.securityContext.runAsNonRoot, true);
            assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
            const sc = pod.containers[0].securityContext;
            assert.deepEqual([sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem, sc.runAsNonRoot, sc.privileged], [false, true, true, false]);
            assert.deepEqual(sc.capabilities, { drop: ["ALL"] });
            assert.ok(pod.containers[0].resources.requests.cpu && pod.containers[0].resources.limits.memory);
            assert.equal(pod.volumes, undefined, "no hostPath or other node volumes");
        });

        it("has least-privilege RBAC: no wildcards, writes only to named objects where upstream allows", () => {
            const cr = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "mlc-autoscaler-clusterrole").inputs;
            const role = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:Role", "mlc-autoscaler-role").inputs;
            assert.equal(role.metadata.namespace, "kube-system");
            for (const rule of [...cr.rules, ...role.rules]) {
                assert.ok(!rule.verbs.includes("*") && !rule.resources.includes("*") && !rule.apiGroups.includes("*"), JSON.stringify(rule));
                assert.ok(!rule.resources.includes("secrets"), "never reads secrets");
            }
            const leaseUpdate = cr.rules.find((r: any) => r.resources.includes("leases") && r.verbs.includes("update"));
            assert.deepEqual(leaseUpdate.resourceNames, ["cluster-autoscaler"]);
            assert.ok(cr.rules.some((r: any) => r.resources.includes("volumeattachments")), "volumeattachments (kubernetes/autoscaler#7663)");
            for (const [type, n] of [
                ["kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "mlc-autoscaler-clusterrolebinding"],
                ["kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "mlc-autoscaler-rolebinding"],
            ]) {
                assert.deepEqual(one(resources, type, n).inputs.subjects, [{ kind: "ServiceAccount", name: "cluster-autoscaler", namespace: "kube-system" }]);
            }
        });

        it("gets AWS credentials through Pod Identity for its ServiceAccount only, with the scoped policy", () => {
            const assoc = one(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "mlc-autoscaler-identity-association").inputs;
            assert.deepEqual([assoc.clusterName, assoc.namespace, assoc.serviceAccount], ["mlc", "kube-system", "cluster-autoscaler"]);
            const policy = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "mlc-autoscaler-identity-cluster-autoscaler"));
            assert.deepEqual(policy, clusterAutoscalerPolicy("mlc", "aws", "us-east-1", "123456789012"));
        });
    });

    it("offers workload identity in one call: ServiceAccount, Pod Identity association and role", () => {
        const sa = one(resources, "kubernetes:core/v1:ServiceAccount", "reader-sa").inputs;
        assert.deepEqual([sa.metadata.name, sa.metadata.namespace], ["reader", "ml"]);
        const assoc = one(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "reader-association").inputs;
        assert.deepEqual([assoc.clusterName, assoc.namespace, assoc.serviceAccount, assoc.roleArn], ["mlc", "ml", "reader", outputs.readerRole]);
        assert.ok(
            one(resources, "mlops-platform:index:WorkloadIdentity", "reader").dependencies.includes(one(resources, T.addon, "mlc-eks-pod-identity-agent").urn),
            "waits for the pod identity agent",
        );
    });
});

describe("MlCluster variants", () => {
    it("opens a public endpoint only to the configured CIDRs (dev)", async () => {
        const { resources } = await recordResources(() => {
            new MlCluster("dev", { ...BASE, endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"], deletionProtection: false, kubernetesVersion: "1.33" });
        });
        const c = one(resources, "aws:eks/cluster:Cluster", "dev-cluster").inputs;
        assert.deepEqual([c.vpcConfig.endpointPublicAccess, c.vpcConfig.endpointPrivateAccess], [true, true]);
        assert.deepEqual(c.vpcConfig.publicAccessCidrs, ["203.0.113.0/24"]);
        assert.equal(c.deletionProtection, false);
        assert.equal(c.version, "1.33");
        assert.equal(one(resources, "kubernetes:apps/v1:Deployment", "dev-autoscaler-deployment").inputs.spec.template.spec.containers[0].image, CLUSTER_AUTOSCALER_IMAGES["1.33"]);
    });

    it("pins addon versions, protects keys, and can skip the autoscaler", async () => {
        const { resources } = await recordResources(() => {
            new MlCluster("p", { ...BASE, addonVersions: { "vpc-cni": "v1.20.4-eksbuild.2" }, protect: true, autoscaler: { enabled: false } });
        });
        assert.equal(one(resources, "aws:eks/addon:Addon", "p-vpc-cni").inputs.addonVersion, "v1.20.4-eksbuild.2");
        for (const k of ["p-secrets-key", "p-logs-key"]) {
            const key = one(resources, "aws:kms/key:Key", k);
            assert.deepEqual([key.protect, key.retainOnDelete], [true, true]);
        }
        assert.equal(ofType(resources, "mlops-platform:index:ClusterAutoscaler").length, 0);
        assert.equal(ofType(resources, "kubernetes:apps/v1:Deployment").length, 0);
    });

    it("leaves the region's EBS default alone when asked", async () => {
        const { resources } = await recordResources(() => {
            new MlCluster("n", { ...BASE, ebsEncryptionByDefault: false, autoscaler: { enabled: false } });
        });
        assert.equal(ofType(resources, "aws:ebs/encryptionByDefault:EncryptionByDefault").length, 0);
    });

    it("creates the IAM OIDC provider and IRSA-trusted roles in irsa mode", async () => {
        const { resources } = await recordResources(() => {
            const c = new MlCluster("i", { ...BASE, workloadIdentityMode: "irsa", autoscaler: { enabled: false } });
            c.workloadIdentity("w", { namespace: "ml", serviceAccountName: "trainer", policies: { p: "{}" } });
        });
        const oidc = one(resources, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "i-oidc");
        assert.match(oidc.inputs.url, /^https:\/\/oidc\.eks\.us-east-1\.amazonaws\.com\/id\/[0-9A-F]{32}$/);
        assert.deepEqual(oidc.inputs.clientIdLists, ["sts.amazonaws.com"]);
        const trust = policyDoc(one(resources, "aws:iam/role:Role", "w-role"), "assumeRolePolicy").Statement[0];
        assert.equal(trust.Principal.Federated, oidc.outputs.arn);
        const issuer = oidc.inputs.url.replace("https://", "");
        assert.equal(trust.Condition.StringEquals[`${issuer}:sub`], "system:serviceaccount:ml:trainer");
        assert.equal(ofType(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation").length, 0);
    });
});

describe("validateMlClusterArgs", () => {
    const v = (extra: Partial<MlClusterArgs>) => () => validateMlClusterArgs("c", { ...BASE, ...extra });

    it("applies defaults", () => {
        const s = validateMlClusterArgs("c", BASE);
        assert.deepEqual([s.clusterName, s.kubernetesVersion, s.endpointPublicAccess, s.deletionProtection, s.logRetentionDays], ["c", "1.34", false, true, 90]);
        assert.deepEqual(s.system, { instanceTypes: ["m6i.large"], minSize: 2, maxSize: 4, desiredSize: 2, rootVolumeSizeGiB: 50 });
        assert.equal(s.autoscaler.image, CLUSTER_AUTOSCALER_IMAGES["1.34"]);
    });
    it("has an autoscaler image for every supported version", () => {
        for (const version of SUPPORTED_KUBERNETES_VERSIONS) {
            assert.match(CLUSTER_AUTOSCALER_IMAGES[version], new RegExp(`:v${version.replace(".", "\\.")}\\.\\d+$`));
        }
    });
    it("rejects an unsupported Kubernetes version", () => assertInvalid(v({ kubernetesVersion: "1.27" }), "kubernetesVersion", /1\.34/));
    it("rejects 0.0.0.0/0 for the public endpoint", () =>
        assertInvalid(v({ endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"] }), "publicAccessCidrs[0]", /whole internet/));
    it("rejects ::/0 for the public endpoint", () => assertInvalid(v({ endpointPublicAccess: true, publicAccessCidrs: ["::/0"] }), "publicAccessCidrs[0]"));
    it("rejects a public endpoint without CIDRs", () => assertInvalid(v({ endpointPublicAccess: true }), "publicAccessCidrs", /must list/));
    it("rejects CIDRs for a private endpoint", () => assertInvalid(v({ publicAccessCidrs: ["203.0.113.0/24"] }), "publicAccessCidrs", /only when/));
    it("rejects a malformed CIDR", () => assertInvalid(v({ endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.7/24"] }), "publicAccessCidrs[0]"));
    it("rejects a malformed admin ARN", () => assertInvalid(v({ adminRoleArns: ["PlatformAdmin"] }), "adminRoleArns[0]"));
    it("rejects a cluster nobody can administer", () => assertInvalid(v({ adminRoleArns: [] }), "adminRoleArns", /at least one/));
    it("accepts the CI deploy role as the only administrator", () => validateMlClusterArgs("c", { privateSubnetIds: SUBNETS, ciDeployRoleArn: pulumi.output(CI_DEPLOY) }));
    it("rejects the CI deploy role listed twice", () => assertInvalid(v({ adminRoleArns: [CI_DEPLOY], ciDeployRoleArn: CI_DEPLOY }), "ciDeployRoleArn", /once/));
    it("rejects a malformed addon version", () => assertInvalid(v({ addonVersions: { coredns: "1.11" } }), "addonVersions.coredns", /eksbuild/));
    it("rejects an unknown addon", () => assertInvalid(v({ addonVersions: { "aws-efs-csi-driver": "v1.0.0-eksbuild.1" } as any }), "addonVersions.aws-efs-csi-driver"));
    it("rejects a system group with min > max", () => assertInvalid(v({ systemNodeGroup: { minSize: 5, maxSize: 3 } }), "systemNodeGroup.minSize", /maxSize/));
    it("rejects an empty system group", () => assertInvalid(v({ systemNodeGroup: { minSize: 0 } }), "systemNodeGroup.minSize", /from 1/));
    it("rejects a bad system instance type", () => assertInvalid(v({ systemNodeGroup: { instanceTypes: ["large"] } }), "systemNodeGroup.instanceTypes[0]"));
    it("rejects a log retention CloudWatch does not accept", () => assertInvalid(v({ logRetentionDays: 45 }), "logRetentionDays"));
    it("rejects a bad cluster name", () => assertInvalid(v({ clusterName: "-bad name" }), "clusterName"));
    it("rejects an unknown expander", () => assertInvalid(v({ autoscaler: { expander: "cheapest" } }), "autoscaler.expander"));
    it("rejects a malformed duration", () => assertInvalid(v({ autoscaler: { scaleDownUnneededTime: "ten minutes" } }), "autoscaler.scaleDownUnneededTime"));
});
