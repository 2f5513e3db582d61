import { PolicyPack } from "@pulumi/policy";
import { gatingPolicies } from "./policies";

new PolicyPack("mlops-gating", { policies: gatingPolicies });
