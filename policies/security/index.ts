import { PolicyPack } from "@pulumi/policy";

import { securityPolicies } from "./policies";

new PolicyPack("mlops-security", { enforcementLevel: "mandatory", policies: securityPolicies });
