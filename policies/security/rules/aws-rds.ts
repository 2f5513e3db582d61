// RDS rules (policy catalog rows 36-48): the MLflow tracking server's PostgreSQL backend.

import * as aws from "@pulumi/aws";
import { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";

import { validateStackWith } from "./aws-stack";
import { bool, configSchema, isSet, list, num, read, settings, str, UNKNOWN } from "./aws-values";

type Validate = (props: any, args: ResourceValidationArgs, report: ReportViolation) => void;

/** Instance and Cluster share most storage/backup/deletion arguments. */
const instanceAndCluster = (fn: Validate) => [
    validateResourceOfType(aws.rds.Instance, fn as any),
    validateResourceOfType(aws.rds.Cluster, fn as any),
];

/**
 * Instances whose storage, backups and snapshots are governed elsewhere: Aurora members (by their
 * cluster) and read replicas (by their source).
 */
function governedElsewhere(props: any, args: ResourceValidationArgs): boolean {
    return isAuroraInstance(props, args) || (args.isType(aws.rds.Instance) && isSet(props, "replicateSourceDb"));
}

/** An aws.rds.Instance that is a member of an Aurora cluster. */
function isAuroraInstance(props: any, args: ResourceValidationArgs): boolean {
    const engine = str(read(props, "engine"));
    return args.isType(aws.rds.Instance) && typeof engine === "string" && engine.startsWith("aurora");
}

export const rdsStorageEncrypted: ResourceValidationPolicy = {
    name: "rds-storage-encrypted",
    description: "RDS instances and clusters encrypt storage (CKV_AWS_16/96, AVD-AWS-0080/0079).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateResource: instanceAndCluster((db, args, report) => {
        if (governedElsewhere(db, args)) return;
        const v = bool(read(db, "storageEncrypted"));
        if (v !== true && v !== UNKNOWN) report(`storageEncrypted is ${v === undefined ? "not set" : v}; set it to true.`);
    }),
};

export const rdsCmk: ResourceValidationPolicy = {
    name: "rds-cmk",
    description: "RDS storage is encrypted with a customer-managed KMS key (kmsKeyId) (CKV_AWS_327).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: instanceAndCluster((db, args, report) => {
        if (governedElsewhere(db, args)) return;
        if (!isSet(db, "kmsKeyId")) report("kmsKeyId is not set; the AWS-managed aws/rds key would be used.");
    }),
};

export const rdsNotPublic: ResourceValidationPolicy = {
    name: "rds-not-public",
    description: "RDS instances are not publicly accessible (CKV_AWS_17, AVD-AWS-0180).",
    severity: "critical",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.rds.Instance, (db, _a, report) => {
        if (bool(read(db, "publiclyAccessible")) === true) report("publiclyAccessible is true.");
    }),
};

const backupSchema = configSchema({
    minRetentionDays: {
        type: "integer",
        minimum: 1,
        maximum: 35,
        default: 7,
        description: "Smallest backupRetentionPeriod (days) accepted.",
    },
});

export const rdsBackupRetention: ResourceValidationPolicy = {
    name: "rds-backup-retention",
    description: "RDS automated backups are kept at least the configured number of days (CKV_AWS_133, AVD-AWS-0077).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: backupSchema,
    validateResource: instanceAndCluster((db, args, report) => {
        if (governedElsewhere(db, args)) return;
        const c = settings(args, backupSchema);
        const v = num(read(db, "backupRetentionPeriod"));
        if (v === UNKNOWN) return;
        if (v === undefined) report(`backupRetentionPeriod is not set; set it to >= ${c.minRetentionDays} days.`);
        else if (v < c.minRetentionDays) report(`backupRetentionPeriod is ${v}; must be >= ${c.minRetentionDays} days.`);
    }),
};

const deletionSchema = configSchema({
    requireDeletionProtection: {
        type: "boolean",
        default: true,
        description: "Require deletionProtection = true (turn off for throwaway stacks).",
    },
});

export const rdsDeletionProtection: ResourceValidationPolicy = {
    name: "rds-deletion-protection",
    description: "RDS databases that must survive a mistaken destroy set deletionProtection (CKV_AWS_293/139, AVD-AWS-0177).",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: deletionSchema,
    validateResource: instanceAndCluster((db, args, report) => {
        if (!settings(args, deletionSchema).requireDeletionProtection) return;
        if (isAuroraInstance(db, args)) return;
        const v = bool(read(db, "deletionProtection"));
        if (v !== true && v !== UNKNOWN) report(`deletionProtection is ${v === undefined ? "not set" : v}; set it to true.`);
    }),
};

const snapshotSchema = configSchema({
    requireFinalSnapshot: {
        type: "boolean",
        default: true,
        description: "Require a final snapshot on delete (skipFinalSnapshot not true, finalSnapshotIdentifier set).",
    },
});

export const rdsFinalSnapshot: ResourceValidationPolicy = {
    name: "rds-final-snapshot",
    description: "Deleting an RDS database takes a final snapshot (skipFinalSnapshot is not true and finalSnapshotIdentifier is set).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: snapshotSchema,
    validateResource: instanceAndCluster((db, args, report) => {
        if (governedElsewhere(db, args)) return;
        if (!settings(args, snapshotSchema).requireFinalSnapshot) return;
        const skip = bool(read(db, "skipFinalSnapshot"));
        if (skip === UNKNOWN) return;
        if (skip === true) report("skipFinalSnapshot is true.");
        else if (!isSet(db, "finalSnapshotIdentifier")) report("finalSnapshotIdentifier is not set (required when skipFinalSnapshot is false).");
    }),
};

export const rdsIamAuth: ResourceValidationPolicy = {
    name: "rds-iam-auth",
    description: "RDS databases enable IAM database authentication (CKV_AWS_161/162, AVD-AWS-0176).",
    severity: "low",
    enforcementLevel: "advisory",
    validateResource: instanceAndCluster((db, args, report) => {
        if (governedElsewhere(db, args)) return;
        const v = bool(read(db, "iamDatabaseAuthenticationEnabled"));
        if (v !== true && v !== UNKNOWN) report(`iamDatabaseAuthenticationEnabled is ${v === undefined ? "not set" : v}; set it to true.`);
    }),
};

const multiAzSchema = configSchema({
    requireMultiAz: { type: "boolean", default: true, description: "Require multiAz = true (turn off for single-AZ dev stacks)." },
});

export const rdsMultiAz: ResourceValidationPolicy = {
    name: "rds-multi-az",
    description: "RDS instances run Multi-AZ where the stack needs availability (CKV_AWS_157).",
    severity: "medium",
    enforcementLevel: "mandatory",
    configSchema: multiAzSchema,
    validateResource: validateResourceOfType(aws.rds.Instance, (db, args, report) => {
        if (!settings(args, multiAzSchema).requireMultiAz || governedElsewhere(db, args)) return;
        const v = bool(read(db, "multiAz"));
        if (v !== true && v !== UNKNOWN) report(`multiAz is ${v === undefined ? "not set" : v}; set it to true.`);
    }),
};

export const rdsAutoMinorUpgrade: ResourceValidationPolicy = {
    name: "rds-auto-minor-upgrade",
    description: "RDS instances take minor engine upgrades automatically (security patches) (CKV_AWS_226).",
    severity: "low",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.rds.Instance, (db, _a, report) => {
        if (bool(read(db, "autoMinorVersionUpgrade")) === false) report("autoMinorVersionUpgrade is false.");
    }),
};

const logsSchema = configSchema({
    requiredLogTypes: {
        type: "array",
        items: { type: "string" },
        default: ["postgresql"],
        description: "enabledCloudwatchLogsExports entries required for the engines below.",
    },
    engines: {
        type: "array",
        items: { type: "string" },
        default: ["postgres", "aurora-postgresql"],
        description: "Engines the required log types apply to; other engines must export at least one log.",
    },
});

export const rdsLogsExported: ResourceValidationPolicy = {
    name: "rds-logs-exported",
    description: "RDS databases export engine logs to CloudWatch (enabledCloudwatchLogsExports) (CKV_AWS_129).",
    severity: "low",
    enforcementLevel: "advisory",
    configSchema: logsSchema,
    validateResource: instanceAndCluster((db, args, report) => {
        if (isAuroraInstance(db, args)) return;
        const c = settings(args, logsSchema);
        const engine = str(read(db, "engine"));
        if (engine === UNKNOWN) return;
        const exported = list(read(db, "enabledCloudwatchLogsExports"));
        if (exported === UNKNOWN || exported.includes(UNKNOWN)) return;
        if (typeof engine === "string" && c.engines.includes(engine)) {
            const missing = c.requiredLogTypes.filter((t) => !exported.includes(t));
            if (missing.length > 0) report(`enabledCloudwatchLogsExports is missing ${missing.join(", ")}.`);
        } else if (exported.length === 0) {
            report("enabledCloudwatchLogsExports is empty.");
        }
    }),
};

export const rdsPerfInsightsKms: ResourceValidationPolicy = {
    name: "rds-perf-insights-kms",
    description: "When Performance Insights is on, its data is encrypted with a customer-managed key (performanceInsightsKmsKeyId) (CKV_AWS_354, AVD-AWS-0078).",
    severity: "medium",
    enforcementLevel: "mandatory",
    validateResource: instanceAndCluster((db, _a, report) => {
        if (bool(read(db, "performanceInsightsEnabled")) !== true) return;
        if (!isSet(db, "performanceInsightsKmsKeyId")) {
            report("performanceInsightsEnabled is true but performanceInsightsKmsKeyId is not set.");
        }
    }),
};

/** `rds.force_ssl` in a parameter group: "1", "0" or undefined when the group does not set it. */
function forceSslParam(pg: PolicyResource): string | undefined | typeof UNKNOWN {
    const params = list(read(pg.props, "parameters"));
    if (params === UNKNOWN) return UNKNOWN;
    const p = params.find((e) => str(read(e, "name")) === "rds.force_ssl");
    if (!p) return undefined;
    const v = read(p, "value");
    return v === UNKNOWN ? UNKNOWN : String(v);
}

/** The stack's parameter groups an instance uses: by dependency on the group, or by its name. */
function linkedParameterGroups(db: PolicyResource, groups: PolicyResource[]): PolicyResource[] {
    const groupName = read(db.props, "parameterGroupName");
    return groups.filter(
        (g) =>
            (db.propertyDependencies?.parameterGroupName ?? []).some((d) => d.urn === g.urn) ||
            (typeof groupName === "string" && str(read(g.props, "name")) === groupName),
    );
}

/** PostgreSQL 15+ default parameter groups already set rds.force_ssl = 1. */
function majorVersion(v: string | undefined): number | undefined {
    const m = /^(\d+)/.exec(v ?? "");
    return m ? Number(m[1]) : undefined;
}

export const rdsForceSsl: StackValidationPolicy = {
    name: "rds-force-ssl",
    description: "PostgreSQL instances require TLS: their parameter group sets rds.force_ssl = 1 (default only from PostgreSQL 15) (CKV2_AWS_69).",
    severity: "high",
    enforcementLevel: "mandatory",
    validateStack: validateStackWith([aws.rds.Instance], (dbs, args, report) => {
        const groups = args.resources.filter((r) => r.isType(aws.rds.ParameterGroup));
        for (const db of dbs) {
            if (str(read(db.props, "engine")) !== "postgres") continue;
            const groupName = read(db.props, "parameterGroupName");
            const linked = linkedParameterGroups(db, groups);
            const family = linked.length > 0 ? str(read(linked[0].props, "family")) : undefined;
            const engineMajor = majorVersion(typeof family === "string" ? family.replace(/^postgres/, "") : (str(read(db.props, "engineVersion")) as string | undefined));
            const defaultOn = engineMajor !== undefined && engineMajor >= 15;
            if (groupName === undefined || groupName === null) {
                if (!defaultOn) {
                    report(`instance "${db.name}": parameterGroupName is not set and engineVersion ${engineMajor ?? "(unset)"} does not force SSL by default; use a parameter group with rds.force_ssl = 1.`, db.urn);
                }
                continue;
            }
            if (linked.length === 0) continue; // a group managed outside this stack: cannot judge
            const v = forceSslParam(linked[0]);
            if (v === UNKNOWN) continue;
            if (v === "0" || (v === undefined && !defaultOn)) {
                report(`instance "${db.name}": parameter group "${linked[0].name}" parameters has rds.force_ssl = ${v ?? "unset"}; set it to 1.`, db.urn);
            }
        }
    }),
};

const passwordSchema = configSchema({
    allowPassword: {
        type: "boolean",
        default: false,
        description: "Accept a master password passed in (password / masterPassword) instead of manageMasterUserPassword.",
    },
});

export const rdsManagedPassword: ResourceValidationPolicy = {
    name: "rds-managed-password",
    description: "RDS master passwords are generated and rotated by RDS in Secrets Manager (manageMasterUserPassword), never passed through the program or state; write-only passwords are accepted.",
    severity: "high",
    enforcementLevel: "mandatory",
    configSchema: passwordSchema,
    validateResource: instanceAndCluster((db, args, report) => {
        if (settings(args, passwordSchema).allowPassword) return;
        const managed = bool(read(db, "manageMasterUserPassword"));
        if (managed === true || managed === UNKNOWN) return;
        const prop = args.isType(aws.rds.Instance) ? "password" : "masterPassword";
        if (isSet(db, prop)) {
            report(`${prop} is set; set manageMasterUserPassword: true (or pass ${prop}Wo) so the password never lands in state.`);
        }
    }),
};

const MONITORING_INTERVALS = [1, 5, 10, 15, 30, 60];

export const rdsEnhancedMonitoring: ResourceValidationPolicy = {
    name: "rds-enhanced-monitoring",
    description: "RDS instances have Enhanced Monitoring on (monitoringInterval 1-60 s with a monitoringRoleArn) (CKV_AWS_118).",
    severity: "low",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.rds.Instance, (db, args, report) => {
        if (governedElsewhere(db, args)) return;
        const interval = num(read(db, "monitoringInterval"));
        if (interval === UNKNOWN) return;
        if (interval === undefined || !MONITORING_INTERVALS.includes(interval)) {
            report(`monitoringInterval is ${interval ?? "not set"}; set one of ${MONITORING_INTERVALS.join(", ")} seconds.`);
        } else if (!isSet(db, "monitoringRoleArn")) {
            report("monitoringRoleArn is not set; Enhanced Monitoring needs a role trusted by monitoring.rds.amazonaws.com.");
        }
    }),
};

/** Does a PostgreSQL parameter group log statements (log_statement, or pgaudit loaded and configured)? */
function auditParams(pg: PolicyResource): boolean | typeof UNKNOWN {
    const params = list(read(pg.props, "parameters"));
    if (params === UNKNOWN) return UNKNOWN;
    const value = (n: string) => str(read(params.find((p) => str(read(p, "name")) === n), "value"));
    const logStatement = value("log_statement");
    if (typeof logStatement === "string" && ["ddl", "mod", "all"].includes(logStatement)) return true;
    const preload = value("shared_preload_libraries");
    const pgaudit = value("pgaudit.log");
    return typeof preload === "string" && preload.split(",").map((x) => x.trim()).includes("pgaudit") && typeof pgaudit === "string" && pgaudit !== "none";
}

export const rdsAuditLogging: StackValidationPolicy = {
    name: "rds-audit-logging",
    description: "PostgreSQL instances log statements for audit: their parameter group sets log_statement (ddl, mod or all) or loads pgaudit with pgaudit.log.",
    severity: "low",
    enforcementLevel: "mandatory",
    validateStack: validateStackWith([aws.rds.Instance], (dbs, args, report) => {
        const groups = args.resources.filter((r) => r.isType(aws.rds.ParameterGroup));
        for (const db of dbs) {
            if (str(read(db.props, "engine")) !== "postgres") continue;
            const groupName = read(db.props, "parameterGroupName");
            const linked = linkedParameterGroups(db, groups)[0];
            if (groupName === undefined || groupName === null) {
                report(`instance "${db.name}": parameterGroupName is not set; the default group logs no statements (set log_statement or pgaudit).`, db.urn);
                continue;
            }
            if (!linked) continue; // managed outside this stack
            const ok = auditParams(linked);
            if (ok === false) report(`instance "${db.name}": parameter group "${linked.name}" parameters set neither log_statement (ddl/mod/all) nor pgaudit.`, db.urn);
        }
    }),
};

export const rdsPolicies = [
    rdsStorageEncrypted,
    rdsCmk,
    rdsNotPublic,
    rdsBackupRetention,
    rdsDeletionProtection,
    rdsFinalSnapshot,
    rdsIamAuth,
    rdsMultiAz,
    rdsAutoMinorUpgrade,
    rdsLogsExported,
    rdsPerfInsightsKms,
    rdsForceSsl,
    rdsManagedPassword,
    rdsEnhancedMonitoring,
    rdsAuditLogging,
];
