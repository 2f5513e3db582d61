// Every policy of the `mlops-security` pack. `index.ts` only constructs the PolicyPack from this list,
// so tests and tools can import the policies without starting a gRPC server.

import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

import { ecrPolicies } from "./rules/aws-ecr";
import { eksPolicies } from "./rules/aws-eks";
import { eventPolicies } from "./rules/aws-events";
import { iamPolicies } from "./rules/aws-iam";
import { kmsPolicies } from "./rules/aws-kms";
import { nodePolicies } from "./rules/aws-nodes";
import { rdsPolicies } from "./rules/aws-rds";
import { s3Policies } from "./rules/aws-s3";
import { sgPolicies } from "./rules/aws-sg";
import { vpcPolicies } from "./rules/aws-vpc";
import { k8sPolicies } from "./rules/k8s";

/** AWS rules, in policy-catalog order (rows 1-59). */
export const awsPolicies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
    ...s3Policies,
    ...ecrPolicies,
    ...eksPolicies,
    ...nodePolicies,
    ...rdsPolicies,
    ...kmsPolicies,
    ...iamPolicies,
    ...sgPolicies,
    ...vpcPolicies,
    ...eventPolicies,
];

export const securityPolicies: (ResourceValidationPolicy | StackValidationPolicy)[] = [...awsPolicies, ...k8sPolicies];
