// Every policy of the model-gating pack (index.ts only constructs the PolicyPack from this list).
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { consistencyPolicies } from "./consistency-rules";
import { releasePolicies } from "./release-rules";
import { rolloutPolicies } from "./rollout-rules";

export const gatingPolicies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
    ...releasePolicies,
    ...rolloutPolicies,
    ...consistencyPolicies,
];
