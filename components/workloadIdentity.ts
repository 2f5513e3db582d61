import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PolicyDocument } from "./iam";
import { DNS_LABEL, Problems, checkDnsLabel, describe } from "./validation";

/** How pods obtain AWS credentials. */
export type WorkloadIdentityMode = "podIdentity" | "irsa";

/** Tag on workload-identity roles naming the one ServiceAccount they serve (read by policies). */
export const SERVICE_ACCOUNT_TAG = "mlops.platform/service-account";

export interface WorkloadIdentityArgs {
    /** EKS cluster name (Pod Identity associations are per cluster). */
    clusterName: pulumi.Input<string>;
    /** Namespace of the ServiceAccount. */
    namespace: pulumi.Input<string>;
    /** ServiceAccount name (a DNS label); also names the role. */
    serviceAccountName: string;
    /** Inline IAM policies by name (JSON documents). At least one; use DataLake.accessPolicy for S3. */
    policies: Record<string, pulumi.Input<string>>;
    /** `podIdentity` (default; needs the eks-pod-identity-agent addon) or `irsa` (needs the OIDC provider below). */
    mode?: WorkloadIdentityMode;
    /** IRSA: ARN of the cluster's IAM OIDC provider. */
    oidcProviderArn?: pulumi.Input<string>;
    /** IRSA: the cluster's OIDC issuer URL (`https://oidc.eks.<region>.amazonaws.com/id/<id>`). */
    oidcIssuerUrl?: pulumi.Input<string>;
    /** Kubernetes provider of the cluster. Required: every k8s resource names its provider. */
    provider: k8s.Provider;
    /** Extra ServiceAccount labels. */
    labels?: Record<string, string>;
    tags?: Record<string, string>;
}

/** Validates WorkloadIdentity args; throws InputPropertiesError naming each bad property. */
export function validateWorkloadIdentityArgs(args: WorkloadIdentityArgs): void {
    const p = new Problems("WorkloadIdentity arguments");
    checkDnsLabel(p, "serviceAccountName", args.serviceAccountName);
    const mode = args.mode ?? "podIdentity";
    p.check(mode === "podIdentity" || mode === "irsa", "mode", `must be "podIdentity" or "irsa", got ${describe(args.mode)}`);
    const names = Object.keys(args.policies ?? {});
    p.check(names.length > 0, "policies", "must hold at least one policy document (a role without permissions is a mistake)");
    names.forEach((n) => p.check(/^[A-Za-z0-9+=,.@_-]{1,128}$/.test(n), `policies.${n}`, "policy names may use letters, digits and +=,.@_- (1-128 characters)"));
    if (mode === "irsa") {
        p.check(args.oidcProviderArn !== undefined, "oidcProviderArn", "is required when mode is \"irsa\"");
        p.check(args.oidcIssuerUrl !== undefined, "oidcIssuerUrl", "is required when mode is \"irsa\"");
    }
    p.check(args.provider !== undefined, "provider", "is required (the cluster's Kubernetes provider)");
    if (typeof args.namespace === "string") {
        p.check(DNS_LABEL.test(args.namespace), "namespace", `must be a DNS-1123 label, got ${describe(args.namespace)}`);
    }
    p.throwIfAny();
}

/** Trust policy of a role for exactly one ServiceAccount. */
export function workloadTrustPolicy(
    mode: WorkloadIdentityMode,
    namespace: pulumi.Input<string>,
    serviceAccountName: string,
    oidc?: { providerArn: pulumi.Input<string>; issuerUrl: pulumi.Input<string> },
    cluster?: { accountId: pulumi.Input<string>; clusterArn: pulumi.Input<string> },
): pulumi.Output<PolicyDocument> {
    if (mode === "podIdentity") {
        if (!cluster) {
            throw new Error("workloadTrustPolicy: Pod Identity needs the account and cluster ARN (trust conditions)");
        }
        // Pod Identity assumes the role only for the ServiceAccount named by the association, and
        // the conditions keep other accounts' and clusters' associations out
        // (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html).
        return pulumi.all([cluster.accountId, cluster.clusterArn]).apply(
            ([accountId, clusterArn]): PolicyDocument => ({
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "EksPodIdentity",
                        Effect: "Allow",
                        Principal: { Service: "pods.eks.amazonaws.com" },
                        Action: ["sts:AssumeRole", "sts:TagSession"],
                        Condition: { StringEquals: { "aws:SourceAccount": accountId }, ArnEquals: { "aws:SourceArn": clusterArn } },
                    },
                ],
            }),
        );
    }
    if (!oidc) {
        throw new Error("workloadTrustPolicy: IRSA needs the OIDC provider ARN and issuer URL");
    }
    // IRSA: condition keys name the issuer, so the document is built once the issuer is known.
    return pulumi.all([oidc.providerArn, oidc.issuerUrl, namespace]).apply(([providerArn, issuerUrl, ns]): PolicyDocument => {
        const issuer = issuerUrl.replace(/^https:\/\//, "");
        return {
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "Irsa",
                    Effect: "Allow",
                    Principal: { Federated: providerArn },
                    Action: "sts:AssumeRoleWithWebIdentity",
                    Condition: {
                        StringEquals: {
                            [`${issuer}:sub`]: `system:serviceaccount:${ns}:${serviceAccountName}`,
                            [`${issuer}:aud`]: "sts.amazonaws.com",
                        },
                    },
                },
            ],
        };
    });
}

/**
 * WorkloadIdentity: a Kubernetes ServiceAccount and an IAM role that only that ServiceAccount can
 * assume (EKS Pod Identity, or IRSA), with the given least-privilege policies attached inline.
 */
export class WorkloadIdentity extends pulumi.ComponentResource {
    public readonly serviceAccount: k8s.core.v1.ServiceAccount;
    public readonly serviceAccountName: pulumi.Output<string>;
    public readonly role: aws.iam.Role;
    public readonly roleArn: pulumi.Output<string>;

    constructor(name: string, args: WorkloadIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops-platform:index:WorkloadIdentity", name, {}, opts);
        validateWorkloadIdentityArgs(args);
        const mode = args.mode ?? "podIdentity";
        const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const region = aws.getRegionOutput({}, { parent: this }).region;
        const trust = workloadTrustPolicy(
            mode,
            args.namespace,
            args.serviceAccountName,
            mode === "irsa" ? { providerArn: args.oidcProviderArn!, issuerUrl: args.oidcIssuerUrl! } : undefined,
            { accountId: account, clusterArn: pulumi.interpolate`arn:${partition}:eks:${region}:${account}:cluster/${args.clusterName}` },
        );
        this.role = new aws.iam.Role(
            `${name}-role`,
            {
                description: pulumi.interpolate`Workload identity of ServiceAccount ${args.namespace}/${args.serviceAccountName}`,
                assumeRolePolicy: pulumi.jsonStringify(trust),
                maxSessionDuration: 3600,
                tags: pulumi.output(args.namespace).apply((ns) => ({ ...(args.tags ?? {}), [SERVICE_ACCOUNT_TAG]: `${ns}/${args.serviceAccountName}` })),
            },
            { parent: this },
        );
        for (const [policyName, document] of Object.entries(args.policies)) {
            new aws.iam.RolePolicy(`${name}-${policyName}`, { role: this.role.name, name: policyName, policy: document }, { parent: this });
        }
        this.serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-sa`,
            {
                metadata: {
                    name: args.serviceAccountName,
                    namespace: args.namespace,
                    labels: args.labels,
                    annotations: mode === "irsa" ? { "eks.amazonaws.com/role-arn": this.role.arn } : undefined,
                },
                // Tokens are mounted per pod by the pods that need them.
                automountServiceAccountToken: false,
            },
            { parent: this, provider: args.provider },
        );
        if (mode === "podIdentity") {
            new aws.eks.PodIdentityAssociation(
                `${name}-association`,
                { clusterName: args.clusterName, namespace: args.namespace, serviceAccount: args.serviceAccountName, roleArn: this.role.arn, tags: args.tags },
                { parent: this, dependsOn: [this.serviceAccount] },
            );
        }
        this.serviceAccountName = this.serviceAccount.metadata.name;
        this.roleArn = this.role.arn;
        this.registerOutputs({ serviceAccountName: this.serviceAccountName, roleArn: this.roleArn });
    }
}
