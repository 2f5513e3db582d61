// Worker node rules: launch templates, EBS default encryption, GPU node groups (catalog rows 28-35).

import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";

import { validateStackWith } from "./aws-stack";
import { bool, configSchema, globMatch, isSet, list, num, read, settings, str, strings, UNKNOWN, where } from "./aws-values";

export const nodesImdsv2: ResourceValidationPolicy = {
    name: "nodes-imdsv2",
    description: "Launch templates require IMDSv2 session tokens (metadataOptions.httpTokens = required) (CKV_AWS_79, AVD-AWS-0028).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ec2.LaunchTemplate, (lt, _a, report) => {
        const v = str(read(lt, "metadataOptions", "httpTokens"));
        if (v === UNKNOWN) return;
        if (v !== "required") report(`metadataOptions.httpTokens is ${v === undefined ? "not set" : `"${v}"`}; set it to "required".`);
    }),
};

const hopSchema = configSchema({
    maxHopLimit: {
        type: "integer",
        minimum: 1,
        maximum: 64,
        default: 1,
        description: "Largest metadataOptions.httpPutResponseHopLimit allowed; 1 keeps pods (one hop away) from the node's instance role.",
    },
});

export const nodesImdsHopLimit: ResourceValidationPolicy = {
    name: "nodes-imds-hop-limit",
    description: "Launch templates cap the IMDS response hop limit so pods cannot use the node role (CKV_AWS_341).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: hopSchema,
    validateResource: validateResourceOfType(aws.ec2.LaunchTemplate, (lt, args, report) => {
        const c = settings(args, hopSchema);
        const endpoint = str(read(lt, "metadataOptions", "httpEndpoint"));
        if (endpoint === "disabled") return;
        const v = num(read(lt, "metadataOptions", "httpPutResponseHopLimit"));
        if (v === UNKNOWN) return;
        if (v === undefined) {
            report(`metadataOptions.httpPutResponseHopLimit is not set (the AMI decides, often 2); set it to <= ${c.maxHopLimit}.`);
        } else if (v > c.maxHopLimit) {
            report(`metadataOptions.httpPutResponseHopLimit is ${v}; must be <= ${c.maxHopLimit}.`);
        }
    }),
};

export const nodesEbsEncrypted: ResourceValidationPolicy = {
    name: "nodes-ebs-encrypted",
    description: "Every EBS volume a launch template defines is encrypted (blockDeviceMappings[].ebs.encrypted) (CKV_AWS_8, AVD-AWS-0131).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ec2.LaunchTemplate, (lt, _a, report) => {
        const mappings = list(read(lt, "blockDeviceMappings"));
        if (mappings === UNKNOWN) return;
        mappings.forEach((m, i) => {
            const ebs = read(m, "ebs");
            if (!ebs || ebs === UNKNOWN) return;
            // The provider types `encrypted` as a string ("true"/"false").
            const v = bool(read(ebs, "encrypted"));
            if (v === UNKNOWN) return;
            if (v !== true) {
                report(`${where("blockDeviceMappings", i, "ebs", "encrypted")} is ${v === undefined ? "not set" : `"${read(ebs, "encrypted")}"`}; set it to "true".`);
            }
        });
    }),
};

export const ebsCmk: ResourceValidationPolicy = {
    name: "ebs-cmk",
    description:
        "EBS volumes use a customer-managed KMS key: launch templates set blockDeviceMappings[].ebs.kmsKeyId, EBS CSI StorageClasses set parameters.kmsKeyId (CKV_AWS_189 for volumes).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(aws.ec2.LaunchTemplate, (lt, _a, report) => {
            const mappings = list(read(lt, "blockDeviceMappings"));
            if (mappings === UNKNOWN) return;
            mappings.forEach((m, i) => {
                const ebs = read(m, "ebs");
                if (!ebs || ebs === UNKNOWN) return;
                if (!isSet(ebs, "kmsKeyId")) report(`${where("blockDeviceMappings", i, "ebs", "kmsKeyId")} is not set; the AWS-managed aws/ebs key would be used.`);
            });
        }),
        (args, report) => {
            if (args.type !== "kubernetes:storage.k8s.io/v1:StorageClass" || str(read(args.props, "provisioner")) !== "ebs.csi.aws.com") return;
            if (!isSet(read(args.props, "parameters") ?? {}, "kmsKeyId")) {
                report(`StorageClass parameters.kmsKeyId is not set; the EBS CSI driver would use the AWS-managed aws/ebs key.`);
            }
        },
    ],
};

export const nodesNoPublicIp: ResourceValidationPolicy = {
    name: "nodes-no-public-ip",
    description: "Launch templates do not give nodes public IP addresses (CKV_AWS_88).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ec2.LaunchTemplate, (lt, _a, report) => {
        const nics = list(read(lt, "networkInterfaces"));
        if (nics === UNKNOWN) return;
        nics.forEach((n, i) => {
            if (bool(read(n, "associatePublicIpAddress")) === true) {
                report(`${where("networkInterfaces", i, "associatePublicIpAddress")} is true.`);
            }
        });
    }),
};

const SECRET_PATTERNS: [string, RegExp][] = [
    ["AWS access key id", /\b(AKIA|ASIA)[0-9A-Z]{16}\b/],
    ["AWS secret access key", /aws_secret_access_key\s*[=:]\s*\S+/i],
    ["private key", /-----BEGIN (RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----/],
];

function decodeUserData(v: string): string {
    const compact = v.replace(/\s+/g, "");
    if (compact.length > 0 && compact.length % 4 === 0 && /^[A-Za-z0-9+/]+=*$/.test(compact)) {
        const decoded = Buffer.from(compact, "base64").toString("utf8");
        // Keep the raw text too: short plain strings can look like base64.
        return `${decoded}\n${v}`;
    }
    return v;
}

export const nodesNoSecretsInUserdata: ResourceValidationPolicy = {
    name: "nodes-no-secrets-in-userdata",
    description: "Launch template userData (base64-decoded) contains no AWS credentials or private keys (CKV_AWS_46, AVD-AWS-0129).",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ec2.LaunchTemplate, (lt, _a, report) => {
        const ud = str(read(lt, "userData"));
        if (typeof ud !== "string") return;
        const text = decodeUserData(ud);
        for (const [what, re] of SECRET_PATTERNS) {
            if (re.test(text)) report(`userData contains what looks like an ${what}; use the instance role or Secrets Manager instead.`);
        }
    }),
};

export const ebsDefaultEncryption: StackValidationPolicy = {
    name: "ebs-default-encryption",
    description: "Stacks that launch EC2 nodes turn on EBS encryption by default in the region (aws.ebs.EncryptionByDefault) (CKV_AWS_106).",
    severity: "medium",
    enforcementLevel: "advisory",
    validateStack: validateStackWith([aws.ec2.LaunchTemplate, aws.eks.NodeGroup, aws.ec2.Instance], (_launches, args, report) => {
        const settingsRes = args.resources.filter((r) => r.isType(aws.ebs.EncryptionByDefault));
        if (settingsRes.length === 0) {
            report("no aws.ebs.EncryptionByDefault in the stack; volumes not covered by a launch template may be unencrypted.");
            return;
        }
        for (const s of settingsRes) {
            if (bool(read(s.props, "enabled")) === false) report(`EncryptionByDefault "${s.name}" has enabled = false.`, s.urn);
        }
    }),
};

// ---- GPU node groups --------------------------------------------------------------------------------

const GPU_AMI_TYPES = /^(AL2_x86_64_GPU|AL2023_(x86_64|ARM_64)_NVIDIA|BOTTLEROCKET_(x86_64|ARM_64)_NVIDIA(_FIPS)?)$/;
const GPU_INSTANCE = /^(p\d[a-z]*|g\d[a-z]*|gr\d[a-z]*)\./i;

/** Is this node group a GPU pool (GPU AMI type or a GPU instance family)? */
export function isGpuNodeGroup(ng: any): boolean {
    const ami = str(read(ng, "amiType"));
    if (typeof ami === "string" && GPU_AMI_TYPES.test(ami)) return true;
    return strings(read(ng, "instanceTypes")).some((t) => GPU_INSTANCE.test(t));
}

const taintSchema = configSchema({
    taintKey: { type: "string", default: "nvidia.com/gpu", description: "Taint key GPU nodes must carry." },
    allowedEffects: {
        type: "array",
        items: { type: "string", enum: ["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"] },
        default: ["NO_SCHEDULE", "NO_EXECUTE"],
        description: "Taint effects accepted (PREFER_NO_SCHEDULE lets other pods land on GPUs).",
    },
});

export const gpuNodegroupTaint: ResourceValidationPolicy = {
    name: "gpu-nodegroup-taint",
    description: "GPU node groups carry the nvidia.com/gpu NoSchedule taint so only GPU workloads use them.",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: taintSchema,
    validateResource: validateResourceOfType(aws.eks.NodeGroup, (ng, args, report) => {
        if (!isGpuNodeGroup(ng)) return;
        const c = settings(args, taintSchema);
        const taints = list(read(ng, "taints"));
        if (taints === UNKNOWN) return;
        const match = taints.find((t) => str(read(t, "key")) === c.taintKey);
        if (!match) {
            report(`taints has no {key: "${c.taintKey}", effect: "NO_SCHEDULE"} entry.`);
            return;
        }
        const effect = str(read(match, "effect"));
        if (effect !== UNKNOWN && (effect === undefined || !c.allowedEffects.includes(effect))) {
            report(`taints entry "${c.taintKey}" has effect ${effect === undefined ? "unset" : `"${effect}"`}; use ${c.allowedEffects.join(" or ")}.`);
        }
    }),
};

const boundsSchema = configSchema({
    maxNodes: { type: "integer", minimum: 0, default: 4, description: "Largest scalingConfig.maxSize for a GPU node group." },
    requireScaleToZero: {
        type: "boolean",
        default: false,
        description: "Require scalingConfig.minSize = 0 (idle GPU pools cost nothing).",
    },
});

export const gpuNodegroupBounds: ResourceValidationPolicy = {
    name: "gpu-nodegroup-bounds",
    description: "GPU node group scaling is bounded: maxSize within the stack's GPU budget, 0 <= minSize <= desiredSize <= maxSize.",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: boundsSchema,
    validateResource: validateResourceOfType(aws.eks.NodeGroup, (ng, args, report) => {
        if (!isGpuNodeGroup(ng)) return;
        const c = settings(args, boundsSchema);
        const min = num(read(ng, "scalingConfig", "minSize"));
        const max = num(read(ng, "scalingConfig", "maxSize"));
        const desired = num(read(ng, "scalingConfig", "desiredSize"));
        if (typeof max === "number" && max > c.maxNodes) report(`scalingConfig.maxSize is ${max}; the GPU budget allows ${c.maxNodes}.`);
        if (typeof min === "number" && min < 0) report(`scalingConfig.minSize is ${min}; must be >= 0.`);
        if (typeof min === "number" && typeof max === "number" && min > max) report(`scalingConfig.minSize (${min}) exceeds scalingConfig.maxSize (${max}).`);
        if (typeof desired === "number" && typeof max === "number" && desired > max) report(`scalingConfig.desiredSize (${desired}) exceeds scalingConfig.maxSize (${max}).`);
        if (typeof desired === "number" && typeof min === "number" && desired < min) report(`scalingConfig.desiredSize (${desired}) is below scalingConfig.minSize (${min}).`);
        if (c.requireScaleToZero && typeof min === "number" && min !== 0) report(`scalingConfig.minSize is ${min}; this stack requires GPU pools to scale to zero.`);
    }),
};

const instanceSchema = configSchema({
    allowedInstanceTypes: {
        type: "array",
        items: { type: "string" },
        default: ["g5.*", "g6.*", "g6e.*", "p4d.*", "p5.*"],
        description: "GPU instance types (globs) the platform budgets for.",
    },
});

export const gpuInstanceTypesAllowed: ResourceValidationPolicy = {
    name: "gpu-instance-types-allowed",
    description: "GPU node groups use only allowed GPU instance types.",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: instanceSchema,
    validateResource: validateResourceOfType(aws.eks.NodeGroup, (ng, args, report) => {
        if (!isGpuNodeGroup(ng)) return;
        const c = settings(args, instanceSchema);
        const bad = strings(read(ng, "instanceTypes")).filter((t) => !c.allowedInstanceTypes.some((p) => globMatch(t, p)));
        if (bad.length > 0) report(`instanceTypes ${bad.join(", ")} not in the allowed list (${c.allowedInstanceTypes.join(", ")}).`);
    }),
};

export const nodePolicies = [
    nodesImdsv2,
    nodesImdsHopLimit,
    nodesEbsEncrypted,
    nodesNoPublicIp,
    nodesNoSecretsInUserdata,
    ebsDefaultEncryption,
    gpuNodegroupTaint,
    gpuNodegroupBounds,
    gpuInstanceTypesAllowed,
    ebsCmk,
];
