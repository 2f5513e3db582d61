// Kubernetes half of the security pack (catalog rows 60-78). The pack itself is assembled in
// ../policies.ts; this module only lists the policies.
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { clusterPolicies } from "./k8s-cluster";
import { podSecurityPolicies } from "./k8s-pod-security";
import { networkStackPolicies } from "./k8s-network";
import { k8sStackPolicies } from "./k8s-stack";
import { workloadPolicies } from "./k8s-workloads";

export const k8sPolicies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
    ...podSecurityPolicies,
    ...workloadPolicies,
    ...clusterPolicies,
    ...k8sStackPolicies,
    ...networkStackPolicies,
];
