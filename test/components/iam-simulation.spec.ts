// Least privilege, proven by evaluating the IAM documents the components render with an IAM
// policy simulator (@cloud-copilot/iam-simulate) rather than by reading them.
import * as pulumi from "@pulumi/pulumi";
import * as assert from "node:assert/strict";
import { CiAccess } from "../../components/ciAccess";
import { ContainerRegistry } from "../../components/containerRegistry";
import { DataLake } from "../../components/dataLake";
import { MlCluster } from "../../components/mlCluster";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { ACCOUNT, REGION, decide } from "../helpers/iam-sim";
import { one, ofType, policyDoc } from "../helpers/resources";


/**
 * AWS managed policies the node role may carry, as published in the AWS Managed Policy Reference
 * (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/). An attachment not listed
 * here fails the spec, so adding e.g. AmazonS3ReadOnlyAccess to nodes cannot go unnoticed.
 */
const MANAGED_POLICIES: Record<string, object> = {
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy": {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "WorkerNodePermissions",
                Effect: "Allow",
                Action: [
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVolumes",
                    "ec2:DescribeVolumesModifications",
                    "ec2:DescribeVpcs",
                    "eks:DescribeCluster",
                    "eks-auth:AssumeRoleForPodIdentity",
                ],
                Resource: "*",
            },
        ],
    },
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly": {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Action: ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage"],
                Resource: "*",
            },
        ],
    },
};

/** Every permission policy of a role: inline RolePolicies plus known managed attachments (unless inlineOnly). */
function policiesOf(resources: RecordedResource[], roleName: string, inlineOnly = false): { name: string; policy: object }[] {
    const role = one(resources, "aws:iam/role:Role", roleName);
    const inline = ofType(resources, "aws:iam/rolePolicy:RolePolicy")
        .filter((p) => p.inputs.role === role.outputs.name)
        .map((p) => ({ name: p.name, policy: policyDoc(p) }));
    const managed = ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        .filter((a) => !inlineOnly && a.inputs.role === role.outputs.name)
        .map((a) => {
            const doc = MANAGED_POLICIES[a.inputs.policyArn];
            assert.ok(doc, `${roleName} has ${a.inputs.policyArn} attached, which this spec does not know; add its document or remove it`);
            return { name: a.inputs.policyArn, policy: doc };
        });
    return [...inline, ...managed];
}

describe("least privilege, by IAM simulation", () => {
    let resources: RecordedResource[];
    let repoArns: Record<string, string>;
    let dataBuckets: string[];
    const arnOf = (name: string) => one(resources, "aws:iam/role:Role", name).outputs.arn;

    before(async () => {
        const rec = await recordResources(() => {
            const lake = new DataLake("lake");
            const registry = new ContainerRegistry("reg", { namePrefix: "mlops-dev", repositories: ["trainer", "server"] });
            new CiAccess("ci", {
                repository: "acme/ml-platform",
                imageRepositoryArns: registry.repositoryArns.apply((arns) => Object.values(arns)),
                managedNamePrefix: "mlops-dev-",
                permissionsBoundaryArn: `arn:aws:iam::${ACCOUNT}:policy/mlops-dev-permissions-boundary`,
                data: { bucketArns: pulumi.all([lake.rawBucketArn, lake.processedBucketArn, lake.artifactsBucketArn]), kmsKeyArns: [lake.kmsKeyArn] },
            });
            new MlCluster("mlc", { privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"], adminRoleArns: [`arn:aws:iam::${ACCOUNT}:role/Admin`] });
            return { repos: registry.repositoryArns, buckets: pulumi.all([lake.rawBucketArn, lake.processedBucketArn, lake.artifactsBucketArn]) };
        });
        resources = rec.resources;
        repoArns = rec.outputs.repos as Record<string, string>;
        dataBuckets = rec.outputs.buckets as string[];
    });

    describe("image-push role", () => {
        const push = (action: string, resource: string) =>
            decide({ principal: arnOf("ci-image-push"), action, resource, identityPolicies: policiesOf(resources, "ci-image-push") });

        it("can push to each of our repositories", async () => {
            assert.equal(Object.keys(repoArns).length, 2);
            for (const repo of Object.values(repoArns)) {
                for (const action of ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchCheckLayerAvailability"]) {
                    assert.equal(await push(action, repo), "Allowed", `${action} on ${repo}`);
                }
            }
        });

        it("can log in to ECR", async () => {
            assert.equal(await push("ecr:GetAuthorizationToken", "*"), "Allowed");
        });

        it("cannot push to another repository, in this account or another", async () => {
            assert.equal(await push("ecr:PutImage", `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/someone-else/app`), "ImplicitlyDenied");
            assert.equal(await push("ecr:PutImage", `arn:aws:ecr:${REGION}:210987654321:repository/mlops-dev/trainer`), "ImplicitlyDenied");
        });

        it("cannot delete images or repositories, even ours", async () => {
            assert.equal(await push("ecr:BatchDeleteImage", repoArns.trainer), "ImplicitlyDenied");
            assert.equal(await push("ecr:DeleteRepository", repoArns.trainer), "ImplicitlyDenied");
        });
    });

    describe("cluster autoscaler role", () => {
        const asg = (name: string) => `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:${"0".repeat(8)}-1111-2222-3333-444444444444:autoScalingGroupName/${name}`;
        const scale = (action: string, tags: Record<string, string>) =>
            decide({
                principal: arnOf("mlc-autoscaler-identity-role"),
                action,
                resource: asg("eks-train-abc"),
                context: Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:ResourceTag/${k}`, v])),
                identityPolicies: policiesOf(resources, "mlc-autoscaler-identity-role"),
            });

        it("can scale and terminate in ASGs tagged as owned by this cluster", async () => {
            const owned = { "k8s.io/cluster-autoscaler/mlc": "owned", "k8s.io/cluster-autoscaler/enabled": "true" };
            assert.equal(await scale("autoscaling:SetDesiredCapacity", owned), "Allowed");
            assert.equal(await scale("autoscaling:TerminateInstanceInAutoScalingGroup", owned), "Allowed");
        });

        it("cannot scale ASGs without the owned tag, or owned by another cluster", async () => {
            assert.equal(await scale("autoscaling:SetDesiredCapacity", {}), "ImplicitlyDenied");
            assert.equal(await scale("autoscaling:SetDesiredCapacity", { "k8s.io/cluster-autoscaler/enabled": "true" }), "ImplicitlyDenied");
            assert.equal(await scale("autoscaling:SetDesiredCapacity", { "k8s.io/cluster-autoscaler/other": "owned" }), "ImplicitlyDenied");
            assert.equal(await scale("autoscaling:TerminateInstanceInAutoScalingGroup", { "k8s.io/cluster-autoscaler/mlc": "shared" }), "ImplicitlyDenied");
        });

        it("cannot change group bounds or launch configuration at all", async () => {
            const owned = { "k8s.io/cluster-autoscaler/mlc": "owned" };
            assert.equal(await scale("autoscaling:UpdateAutoScalingGroup", owned), "ImplicitlyDenied");
            assert.equal(await scale("autoscaling:DeleteAutoScalingGroup", owned), "ImplicitlyDenied");
        });

        it("can discover groups, and read node groups of its own cluster only", async () => {
            const policies = policiesOf(resources, "mlc-autoscaler-identity-role");
            const principal = arnOf("mlc-autoscaler-identity-role");
            assert.equal(await decide({ principal, action: "autoscaling:DescribeAutoScalingGroups", resource: "*", identityPolicies: policies }), "Allowed");
            const ng = (cluster: string) => `arn:aws:eks:${REGION}:${ACCOUNT}:nodegroup/${cluster}/train-abc/11111111-2222-3333-4444-555555555555`;
            assert.equal(await decide({ principal, action: "eks:DescribeNodegroup", resource: ng("mlc"), identityPolicies: policies }), "Allowed");
            assert.equal(await decide({ principal, action: "eks:DescribeNodegroup", resource: ng("other"), identityPolicies: policies }), "ImplicitlyDenied");
        });
    });

    describe("node role", () => {
        const node = (action: string, resource: string, resourcePolicy?: object) =>
            decide({ principal: arnOf("mlc-node-role"), action, resource, identityPolicies: policiesOf(resources, "mlc-node-role"), resourcePolicy });

        it("cannot read or write objects in any data bucket", async () => {
            assert.equal(dataBuckets.length, 3);
            for (const bucketArn of dataBuckets) {
                const bucketName = bucketArn.split(":::")[1];
                const policy = ofType(resources, "aws:s3/bucketPolicy:BucketPolicy").find((p) => p.inputs.bucket === bucketName);
                const resourcePolicy = policy ? policyDoc(policy) : undefined;
                assert.notEqual(await node("s3:GetObject", `${bucketArn}/datasets/train.parquet`, resourcePolicy), "Allowed", `GetObject in ${bucketName}`);
                assert.notEqual(await node("s3:PutObject", `${bucketArn}/models/m.pt`, resourcePolicy), "Allowed", `PutObject in ${bucketName}`);
                assert.notEqual(await node("s3:ListBucket", bucketArn, resourcePolicy), "Allowed", `ListBucket on ${bucketName}`);
            }
        });

        it("still has what nodes need: join the cluster, pull images, serve Pod Identity", async () => {
            assert.equal(await node("eks:DescribeCluster", `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/mlc`), "Allowed");
            assert.equal(await node("ecr:BatchGetImage", repoArns.trainer), "Allowed");
            assert.equal(await node("eks-auth:AssumeRoleForPodIdentity", `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/mlc`), "Allowed");
        });

        it("cannot push images or manage ENIs (the CNI has its own role)", async () => {
            assert.equal(await node("ecr:PutImage", repoArns.trainer), "ImplicitlyDenied");
            assert.equal(await node("ec2:AssignPrivateIpAddresses", `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-0123456789abcdef0`), "ImplicitlyDenied");
        });
    });

    describe("preview role", () => {
        const preview = (action: string, resource: string) =>
            decide({ principal: arnOf("ci-preview"), action, resource, identityPolicies: policiesOf(resources, "ci-preview") });

        it("reads configuration but no secrets and no data", async () => {
            assert.equal(await preview("eks:DescribeCluster", `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/mlc`), "Allowed");
            assert.equal(await preview("s3:GetBucketPolicy", dataBuckets[0]), "Allowed");
            assert.equal(await preview("secretsmanager:GetSecretValue", `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:mlflow-db-AbCdEf`), "ExplicitlyDenied");
            assert.equal(await preview("s3:GetObject", `${dataBuckets[0]}/datasets/train.parquet`), "ImplicitlyDenied");
            assert.equal(await preview("ecr:PutImage", repoArns.trainer), "ImplicitlyDenied");
            assert.equal(await preview("eks:UpdateClusterConfig", `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/mlc`), "ImplicitlyDenied");
        });
    });

    // The deploy role is proven on the whole program in deploy-role.spec.ts.
});
