// Which input changes make a provider REPLACE a resource instead of updating it in place. One table,
// read by the offline plan's diff (`mlops plan --compare`) and by the engine tier's mock provider
// plugins (their `diff` answers `replaces` from it), so both say "replace" for the same change.
// Each rule names the provider source it was read from (upstream file and what it says).

/** One property whose change forces replacement. */
export interface ReplaceRule {
    /** Pulumi type token, e.g. `kubernetes:batch/v1:Job`; `kubernetes:*` = every Kubernetes kind. */
    type: string;
    /** Dotted input path; a change at or below it forces replacement, e.g. `spec.template`. */
    property: string;
    /** Where the provider decides it (file/schema and what it says). */
    source: string;
    /** Provider configuration flag that turns the rule off when true (e.g. `enableConfigMapMutable`). */
    unlessProviderConfig?: string;
}

const K8S_FORCENEW = "pulumi-kubernetes provider/pkg/provider/diff.go, forceNew table";
const TF = (file: string, attr: string) => `terraform-provider-aws internal/service/${file}: \`${attr}\` is ForceNew (pulumi-aws bridges it as replace)`;

export const REPLACE_RULES: readonly ReplaceRule[] = [
    // Kubernetes: names of every object (metadataForceNewProperties(".metadata")).
    { type: "kubernetes:*", property: "metadata.name", source: `${K8S_FORCENEW}: .metadata.name for every kind` },
    { type: "kubernetes:*", property: "metadata.namespace", source: `${K8S_FORCENEW}: .metadata.namespace for every kind` },
    // Kubernetes: per kind.
    { type: "kubernetes:batch/v1:Job", property: "spec.template", source: `${K8S_FORCENEW}: batch/v1 Job .spec.template (the pod template of a Job is immutable)` },
    { type: "kubernetes:batch/v1:Job", property: "spec.selector", source: `${K8S_FORCENEW}: batch/v1 Job .spec.selector` },
    { type: "kubernetes:batch/v1:Job", property: "spec.completions", source: `${K8S_FORCENEW}: batch/v1 Job .spec.completions` },
    { type: "kubernetes:batch/v1:Job", property: "spec.parallelism", source: `${K8S_FORCENEW}: batch/v1 Job .spec.parallelism` },
    { type: "kubernetes:apps/v1:Deployment", property: "spec.selector", source: `${K8S_FORCENEW}: apps/v1 Deployment .spec.selector (and its matchLabels/matchExpressions)` },
    { type: "kubernetes:apps/v1:StatefulSet", property: "spec.selector", source: `${K8S_FORCENEW}: apps/v1 StatefulSet .spec.selector` },
    { type: "kubernetes:apps/v1:StatefulSet", property: "spec.serviceName", source: `${K8S_FORCENEW}: apps/v1 StatefulSet .spec.serviceName` },
    { type: "kubernetes:apps/v1:StatefulSet", property: "spec.volumeClaimTemplates", source: `${K8S_FORCENEW}: apps/v1 StatefulSet .spec.volumeClaimTemplates` },
    { type: "kubernetes:apps/v1:StatefulSet", property: "spec.podManagementPolicy", source: `${K8S_FORCENEW}: apps/v1 StatefulSet .spec.podManagementPolicy` },
    { type: "kubernetes:apps/v1:StatefulSet", property: "spec.revisionHistoryLimit", source: `${K8S_FORCENEW}: apps/v1 StatefulSet .spec.revisionHistoryLimit` },
    { type: "kubernetes:core/v1:Service", property: "spec.clusterIP", source: `${K8S_FORCENEW}: core/v1 Service .spec.clusterIP` },
    {
        type: "kubernetes:core/v1:ConfigMap",
        property: "data",
        source: `${K8S_FORCENEW}: core/v1 ConfigMap .data (ConfigMaps are replaced unless the provider sets enableConfigMapMutable)`,
        unlessProviderConfig: "enableConfigMapMutable",
    },
    {
        type: "kubernetes:core/v1:ConfigMap",
        property: "binaryData",
        source: `${K8S_FORCENEW}: core/v1 ConfigMap .binaryData (unless enableConfigMapMutable)`,
        unlessProviderConfig: "enableConfigMapMutable",
    },
    { type: "kubernetes:core/v1:Secret", property: "type", source: `${K8S_FORCENEW}: core/v1 Secret .type` },
    { type: "kubernetes:core/v1:Secret", property: "data", source: `${K8S_FORCENEW}: core/v1 Secret .data (unless enableSecretMutable)`, unlessProviderConfig: "enableSecretMutable" },
    {
        type: "kubernetes:core/v1:Secret",
        property: "stringData",
        source: `${K8S_FORCENEW}: core/v1 Secret .stringData (unless enableSecretMutable)`,
        unlessProviderConfig: "enableSecretMutable",
    },
    { type: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", property: "roleRef", source: `${K8S_FORCENEW}: rbac/v1 RoleBinding .roleRef` },
    { type: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", property: "roleRef", source: `${K8S_FORCENEW}: rbac/v1 ClusterRoleBinding .roleRef` },
    { type: "kubernetes:storage.k8s.io/v1:StorageClass", property: "parameters", source: `${K8S_FORCENEW}: storage/v1 StorageClass .parameters` },
    { type: "kubernetes:storage.k8s.io/v1:StorageClass", property: "provisioner", source: `${K8S_FORCENEW}: storage/v1 StorageClass .provisioner` },
    // EKS managed node groups.
    { type: "aws:eks/nodeGroup:NodeGroup", property: "instanceTypes", source: TF("eks/node_group.go", "instance_types") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "amiType", source: TF("eks/node_group.go", "ami_type") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "capacityType", source: TF("eks/node_group.go", "capacity_type") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "diskSize", source: TF("eks/node_group.go", "disk_size") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "subnetIds", source: TF("eks/node_group.go", "subnet_ids") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "nodeRoleArn", source: TF("eks/node_group.go", "node_role_arn") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "clusterName", source: TF("eks/node_group.go", "cluster_name") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "nodeGroupName", source: TF("eks/node_group.go", "node_group_name") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "nodeGroupNamePrefix", source: TF("eks/node_group.go", "node_group_name_prefix") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "remoteAccess", source: TF("eks/node_group.go", "remote_access") },
    // launch_template.version is NOT ForceNew: a new template version rolls the group in place.
    { type: "aws:eks/nodeGroup:NodeGroup", property: "launchTemplate.id", source: TF("eks/node_group.go", "launch_template.id") },
    { type: "aws:eks/nodeGroup:NodeGroup", property: "launchTemplate.name", source: TF("eks/node_group.go", "launch_template.name") },
    // EKS cluster: name and role are ForceNew; `version` and `vpc_config.subnet_ids` update in place.
    { type: "aws:eks/cluster:Cluster", property: "name", source: TF("eks/cluster.go", "name") },
    { type: "aws:eks/cluster:Cluster", property: "roleArn", source: TF("eks/cluster.go", "role_arn") },
    { type: "aws:eks/cluster:Cluster", property: "bootstrapSelfManagedAddons", source: TF("eks/cluster.go", "bootstrap_self_managed_addons") },
    {
        type: "aws:eks/cluster:Cluster",
        property: "accessConfig.bootstrapClusterCreatorAdminPermissions",
        source: TF("eks/cluster.go", "access_config.bootstrap_cluster_creator_admin_permissions"),
    },
    { type: "aws:eks/cluster:Cluster", property: "kubernetesNetworkConfig.ipFamily", source: TF("eks/cluster.go", "kubernetes_network_config.ip_family") },
    { type: "aws:eks/cluster:Cluster", property: "kubernetesNetworkConfig.serviceIpv4Cidr", source: TF("eks/cluster.go", "kubernetes_network_config.service_ipv4_cidr") },
    // RDS: `identifier` is NOT ForceNew in the current schema (an instance is renamed in place).
    { type: "aws:rds/instance:Instance", property: "engine", source: TF("rds/instance.go", "engine") },
    { type: "aws:rds/instance:Instance", property: "kmsKeyId", source: TF("rds/instance.go", "kms_key_id") },
    { type: "aws:rds/instance:Instance", property: "dbName", source: TF("rds/instance.go", "db_name") },
    { type: "aws:rds/instance:Instance", property: "availabilityZone", source: TF("rds/instance.go", "availability_zone") },
    { type: "aws:rds/instance:Instance", property: "characterSetName", source: TF("rds/instance.go", "character_set_name") },
    { type: "aws:rds/instance:Instance", property: "storageEncrypted", source: TF("rds/instance.go", "storage_encrypted") },
    // Names.
    // PipelineTrigger (issue 15)
    { type: "aws:cloudwatch/eventConnection:EventConnection", property: "name", source: TF("events/connection.go", "name") },
    { type: "aws:cloudwatch/eventApiDestination:EventApiDestination", property: "name", source: TF("events/api_destination.go", "name") },
    { type: "aws:cloudwatch/eventRule:EventRule", property: "name", source: TF("events/rule.go", "name") },
    { type: "aws:cloudwatch/eventRule:EventRule", property: "eventBusName", source: TF("events/rule.go", "event_bus_name") },
    { type: "aws:cloudwatch/eventTarget:EventTarget", property: "rule", source: TF("events/target.go", "rule") },
    { type: "aws:cloudwatch/eventTarget:EventTarget", property: "targetId", source: TF("events/target.go", "target_id") },
    { type: "aws:cloudwatch/eventTarget:EventTarget", property: "eventBusName", source: TF("events/target.go", "event_bus_name") },
    { type: "aws:sqs/queue:Queue", property: "name", source: TF("sqs/queue.go", "name") },
    { type: "aws:sqs/queue:Queue", property: "fifoQueue", source: TF("sqs/queue.go", "fifo_queue") },
    { type: "aws:sqs/queuePolicy:QueuePolicy", property: "queueUrl", source: TF("sqs/queue_policy.go", "queue_url") },
    { type: "aws:cloudwatch/metricAlarm:MetricAlarm", property: "name", source: TF("cloudwatch/metric_alarm.go", "alarm_name") },
    { type: "aws:s3/bucket:Bucket", property: "bucket", source: TF("s3/bucket.go", "bucket") },
    { type: "aws:s3/bucket:Bucket", property: "bucketPrefix", source: TF("s3/bucket.go", "bucket_prefix") },
    { type: "aws:ecr/repository:Repository", property: "name", source: TF("ecr/repository.go", "name") },
    { type: "aws:ecr/repository:Repository", property: "encryptionConfigurations", source: TF("ecr/repository.go", "encryption_configuration") },
    { type: "aws:iam/role:Role", property: "name", source: TF("iam/role.go", "name") },
    { type: "aws:iam/role:Role", property: "namePrefix", source: TF("iam/role.go", "name_prefix") },
    { type: "aws:iam/role:Role", property: "path", source: TF("iam/role.go", "path") },
];

/** True when `path` is `rulePath` or lies below it. */
function covers(rulePath: string, path: string): boolean {
    return path === rulePath || path.startsWith(`${rulePath}.`) || path.startsWith(`${rulePath}[`);
}

function ruleApplies(rule: ReplaceRule, type: string): boolean {
    return rule.type === type || (rule.type.endsWith(":*") && type.startsWith(rule.type.slice(0, -1)) && !type.startsWith("kubernetes:helm.sh/"));
}

/** The rules for a type (after dropping those a provider configuration flag turns off). */
export function rulesFor(type: string, providerConfig: Record<string, unknown> = {}): ReplaceRule[] {
    return REPLACE_RULES.filter((r) => ruleApplies(r, type) && !(r.unlessProviderConfig && isTrue(providerConfig[r.unlessProviderConfig])));
}

function isTrue(v: unknown): boolean {
    return v === true || v === "true";
}

/**
 * The changed input paths (dotted, as the plan diff reports them) of a resource of `type` that force
 * its replacement, sorted. A change ABOVE a rule's property (e.g. `spec` replaced wholesale when the
 * rule is `spec.template`) counts too: the property below it changed with it.
 */
export function replacingPaths(type: string, changedPaths: readonly string[], providerConfig: Record<string, unknown> = {}): string[] {
    const rules = rulesFor(type, providerConfig);
    return changedPaths.filter((p) => rules.some((r) => covers(r.property, p) || covers(p, r.property))).sort();
}

/**
 * Dotted paths at which two input objects differ (`a.b`, `list[2]`), descending into objects and
 * arrays; a value that appears, disappears or changes type is reported at its own path.
 */
export function changedPaths(olds: unknown, news: unknown, prefix = ""): string[] {
    if (isObject(olds) && isObject(news)) {
        const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].sort();
        return keys.flatMap((k) => changedPaths(olds[k], news[k], joinPath(prefix, k)));
    }
    if (Array.isArray(olds) && Array.isArray(news)) {
        if (olds.length !== news.length) {
            return [prefix];
        }
        return olds.flatMap((o, i) => changedPaths(o, news[i], `${prefix}[${i}]`));
    }
    return JSON.stringify(olds) === JSON.stringify(news) ? [] : [prefix];
}

/** `a.b`, or `a["app.kubernetes.io/name"]` for a key that is not a plain identifier (property-path syntax). */
function joinPath(prefix: string, key: string): string {
    if (/^[A-Za-z_$][\w$]*$/.test(key)) {
        return prefix ? `${prefix}.${key}` : key;
    }
    return `${prefix}[${JSON.stringify(key)}]`;
}

function isObject(v: unknown): v is Record<string, unknown> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}
