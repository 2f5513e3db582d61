// EKS control plane and managed node group access rules (policy catalog rows 21-27).

import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";

import { bool, configSchema, isSet, list, read, settings, str, UNKNOWN } from "./aws-values";

const OPEN_CIDRS = ["0.0.0.0/0", "::/0"];

const privateEndpointSchema = configSchema({
    requirePublicAccessDisabled: {
        type: "boolean",
        default: true,
        description: "Also require vpcConfig.endpointPublicAccess = false (private-only API endpoint). Turn off for dev stacks reached from CI over the internet.",
    },
});

export const eksPrivateEndpoint: ResourceValidationPolicy = {
    name: "eks-private-endpoint",
    description: "EKS API endpoint is reachable privately and, where configured, not publicly (CKV_AWS_39, AVD-AWS-0040).",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: privateEndpointSchema,
    validateResource: validateResourceOfType(aws.eks.Cluster, (cluster, args, report) => {
        const c = settings(args, privateEndpointSchema);
        const priv = bool(read(cluster, "vpcConfig", "endpointPrivateAccess"));
        if (priv !== true && priv !== UNKNOWN) {
            report(`vpcConfig.endpointPrivateAccess is ${priv === undefined ? "not set (defaults to false)" : priv}; set it to true.`);
        }
        const pub = bool(read(cluster, "vpcConfig", "endpointPublicAccess"));
        if (c.requirePublicAccessDisabled && pub !== false && pub !== UNKNOWN) {
            report(`vpcConfig.endpointPublicAccess is ${pub === undefined ? "not set (defaults to true)" : pub}; set it to false.`);
        }
    }),
};

export const eksPublicCidrs: ResourceValidationPolicy = {
    name: "eks-public-cidrs",
    description: "A public EKS API endpoint is limited to listed CIDRs, never 0.0.0.0/0 or ::/0 (CKV_AWS_38, AVD-AWS-0041).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.eks.Cluster, (cluster, _a, report) => {
        const pub = bool(read(cluster, "vpcConfig", "endpointPublicAccess"));
        if (pub === false || pub === UNKNOWN) return;
        const cidrs = list(read(cluster, "vpcConfig", "publicAccessCidrs"));
        if (cidrs === UNKNOWN) return;
        if (cidrs.length === 0) {
            report("vpcConfig.publicAccessCidrs is not set while the endpoint is public (defaults to 0.0.0.0/0).");
            return;
        }
        const open = cidrs.filter((c) => typeof c === "string" && OPEN_CIDRS.includes(c));
        if (open.length > 0) report(`vpcConfig.publicAccessCidrs contains ${open.join(", ")}.`);
    }),
};

export const eksSecretsEncryption: ResourceValidationPolicy = {
    name: "eks-secrets-encryption",
    description: "EKS envelope-encrypts Kubernetes secrets with a KMS key (CKV_AWS_58, AVD-AWS-0039).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.eks.Cluster, (cluster, _a, report) => {
        const ec = read(cluster, "encryptionConfig");
        if (ec === UNKNOWN) return;
        if (!ec) {
            report("encryptionConfig is not set; encrypt resources [\"secrets\"] with provider.keyArn.");
            return;
        }
        const resources = list(read(ec, "resources"));
        if (resources !== UNKNOWN && !resources.includes("secrets") && !resources.includes(UNKNOWN)) {
            report("encryptionConfig.resources does not include \"secrets\".");
        }
        if (!isSet(read(ec, "provider"), "keyArn")) report("encryptionConfig.provider.keyArn is not set.");
    }),
};

const loggingSchema = configSchema({
    requiredLogTypes: {
        type: "array",
        items: { type: "string", enum: ["api", "audit", "authenticator", "controllerManager", "scheduler"] },
        default: ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        description: "Control plane log types that must be enabled.",
    },
});

export const eksControlPlaneLogging: ResourceValidationPolicy = {
    name: "eks-control-plane-logging",
    description: "EKS control plane logs the configured types (default all five) to CloudWatch (CKV_AWS_37, AVD-AWS-0038).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: loggingSchema,
    validateResource: validateResourceOfType(aws.eks.Cluster, (cluster, args, report) => {
        const c = settings(args, loggingSchema);
        const enabled = list(read(cluster, "enabledClusterLogTypes"));
        if (enabled === UNKNOWN || enabled.includes(UNKNOWN)) return;
        const missing = c.requiredLogTypes.filter((t) => !enabled.includes(t));
        if (missing.length > 0) report(`enabledClusterLogTypes is missing ${missing.join(", ")}.`);
    }),
};

const versionSchema = configSchema({
    allowedVersions: {
        type: "array",
        items: { type: "string" },
        default: ["1.32", "1.33", "1.34", "1.35"],
        description: "Kubernetes minor versions (\"1.33\") the platform supports on EKS standard support.",
    },
});

export const eksVersionAllowlist: ResourceValidationPolicy = {
    name: "eks-version-allowlist",
    description: "EKS clusters pin a Kubernetes version from the supported list (CKV_AWS_339).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: versionSchema,
    validateResource: validateResourceOfType(aws.eks.Cluster, (cluster, args, report) => {
        const c = settings(args, versionSchema);
        const v = str(read(cluster, "version"));
        if (v === UNKNOWN) return;
        if (v === undefined) {
            report(`version is not set (EKS picks its current default); pin one of ${c.allowedVersions.join(", ")}.`);
        } else if (!c.allowedVersions.includes(v)) {
            report(`version is "${v}"; allowed: ${c.allowedVersions.join(", ")}.`);
        }
    }),
};

const accessSchema = configSchema({
    allowedAuthenticationModes: {
        type: "array",
        items: { type: "string", enum: ["API", "API_AND_CONFIG_MAP", "CONFIG_MAP"] },
        default: ["API", "API_AND_CONFIG_MAP"],
        description: "accessConfig.authenticationMode values accepted.",
    },
});

export const eksAccessEntries: ResourceValidationPolicy = {
    name: "eks-access-entries",
    description: "EKS clusters grant access through access entries (authenticationMode API or API_AND_CONFIG_MAP), not only the aws-auth ConfigMap.",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: accessSchema,
    validateResource: validateResourceOfType(aws.eks.Cluster, (cluster, args, report) => {
        const c = settings(args, accessSchema);
        const mode = str(read(cluster, "accessConfig", "authenticationMode"));
        if (mode === UNKNOWN) return;
        if (mode === undefined || !c.allowedAuthenticationModes.includes(mode)) {
            report(`accessConfig.authenticationMode is ${mode === undefined ? "not set" : `"${mode}"`}; use ${c.allowedAuthenticationModes.join(" or ")}.`);
        }
    }),
};

const deletionSchema = configSchema({
    requireDeletionProtection: {
        type: "boolean",
        default: true,
        description: "Require deletionProtection = true (turn off for throwaway stacks).",
    },
});

export const eksDeletionProtection: ResourceValidationPolicy = {
    name: "eks-deletion-protection",
    description: "EKS clusters that must survive a mistaken destroy set deletionProtection.",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: deletionSchema,
    validateResource: validateResourceOfType(aws.eks.Cluster, (cluster, args, report) => {
        if (!settings(args, deletionSchema).requireDeletionProtection) return;
        const v = bool(read(cluster, "deletionProtection"));
        if (v !== true && v !== UNKNOWN) report(`deletionProtection is ${v === undefined ? "not set" : v}; set it to true.`);
    }),
};

export const eksNodegroupNoOpenSsh: ResourceValidationPolicy = {
    name: "eks-nodegroup-no-open-ssh",
    description: "EKS managed node groups allow no SSH, or SSH only from listed security groups (CKV_AWS_100).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.eks.NodeGroup, (ng, _a, report) => {
        const ra = read(ng, "remoteAccess");
        if (!ra || ra === UNKNOWN) return;
        const sgs = list(read(ra, "sourceSecurityGroupIds"));
        if (sgs === UNKNOWN) return;
        if (sgs.length === 0) {
            report("remoteAccess is set without remoteAccess.sourceSecurityGroupIds, which opens SSH (port 22) to 0.0.0.0/0.");
        }
    }),
};

export const eksPolicies = [
    eksPrivateEndpoint,
    eksPublicCidrs,
    eksSecretsEncryption,
    eksControlPlaneLogging,
    eksVersionAllowlist,
    eksAccessEntries,
    eksDeletionProtection,
    eksNodegroupNoOpenSsh,
];
