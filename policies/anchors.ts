// Public anchors of every policy in both packs: the scanner / benchmark rules each one mirrors, taken
// from the policy catalog (/work/shared/docs/policy-catalog.md; legend there). Used by the README
// policy table (cli/gen-policy-docs.ts). A policy with no public counterpart says `custom (reason)`.
//
// Legend: AG = awsguard (Pulumi's AWS pack), CR = Pulumi compliance-ready policies (the catalog gives
// some only as "CR …-<suffix>" or just "CR"; kept as written), CKV = Checkov, AVD/KSV = Trivy,
// PSS = Kubernetes Pod Security Standards (catalog numbering), KS = kube-score, PO = Polaris,
// EX = pulumi/examples, PSA = Pod Security Admission.

export const POLICY_ANCHORS: Readonly<Record<string, string>> = {
    // --- security pack: S3 (catalog rows 1-14) ---
    "s3-sse-configured": "CKV_AWS_19, AVD-AWS-0088, CR aws-s3-bucket-enable-server-side-encryption",
    "s3-sse-kms": "CKV_AWS_145, CR …-configure-server-side-encryption-kms",
    "s3-sse-cmk": "AVD-AWS-0132, CR …-customer-managed-key",
    "s3-bucket-key": "CR …-bucket-key",
    // catalog row 5 (S+R) is implemented as two policies
    "s3-versioning-enabled": "CKV_AWS_21, AVD-AWS-0090",
    "s3-versioning-present": "CKV_AWS_21, AVD-AWS-0090",
    "s3-public-access-block-present": "CKV2_AWS_6, AVD-AWS-0094",
    "s3-public-access-block-all": "CKV_AWS_53–56, AVD-AWS-0086/0087/0091/0093",
    "s3-no-public-acl": "CKV_AWS_20/57, CKV2_AWS_43, AVD-AWS-0092, CR disallow-public-read, EX aws-typescript",
    "s3-acls-disabled": "CKV2_AWS_65",
    "s3-tls-only": "CKV_AWS_379 logic",
    "s3-policy-no-public-principal": "CKV_AWS_70",
    "s3-access-logging": "AG s3-bucket-logging-enabled, CKV_AWS_18, AVD-AWS-0089",
    "s3-lifecycle-abort-mpu": "CKV2_AWS_61, CKV_AWS_300, EX aws-ts-finops requireBucketLifecycleRules",
    "s3-no-force-destroy": "custom (data-loss guard)",
    "s3-replication": "CKV_AWS_144 (issue 12 #9)",
    "s3-log-versions-retained": "custom (audit logs stay recoverable; issue 12 #9)",

    // --- ECR (rows 15-20) ---
    "ecr-scan-on-push": "CKV_AWS_163, AVD-AWS-0030, CR enable-image-scan",
    "ecr-immutable-tags": "CKV_AWS_51, AVD-AWS-0031, CR disallow-mutable-image",
    "ecr-kms": "CKV_AWS_136, AVD-AWS-0033, CR disallow-unencrypted-repository / configure-customer-managed-key",
    "ecr-repo-policy-not-public": "CKV_AWS_32, AVD-AWS-0032",
    "ecr-lifecycle-policy": "custom (cost)",
    "ecr-no-force-delete": "custom (data-loss guard)",

    // --- EKS (rows 21-27) ---
    "eks-private-endpoint": "CKV_AWS_39, AVD-AWS-0040, CR disallow-api-endpoint-public-access",
    "eks-public-cidrs": "CKV_AWS_38, AVD-AWS-0041",
    "eks-secrets-encryption": "CKV_AWS_58, AVD-AWS-0039, CR enable-cluster-encryption-config",
    "eks-control-plane-logging": "CKV_AWS_37, AVD-AWS-0038",
    "eks-version-allowlist": "CKV_AWS_339",
    "eks-access-entries": "custom (EKS best practice; unverified anchor)",
    // not in the catalog
    "eks-deletion-protection": "custom (data-loss guard: EKS deletionProtection; not in catalog)",
    "eks-nodegroup-no-open-ssh": "CKV_AWS_100",

    // --- nodes / EBS / GPU pools (rows 28-35) ---
    "nodes-imdsv2": "CKV_AWS_79, AVD-AWS-0028",
    "nodes-imds-hop-limit": "CKV_AWS_341",
    "nodes-ebs-encrypted": "CR aws-ec2-launchtemplate-disallow-unencrypted-block-device, AVD-AWS-0131, CKV_AWS_8",
    "nodes-no-public-ip": "CKV_AWS_88, CR aws-ec2-launchtemplate-disallow-public-ip",
    "nodes-no-secrets-in-userdata": "CKV_AWS_46, AVD-AWS-0129",
    "ebs-default-encryption": "CKV_AWS_106",
    "ebs-cmk": "CKV_AWS_189 (volumes), AVD-AWS-0027 (issue 12 #15)",
    "gpu-nodegroup-taint": "custom (ML)",
    // catalog row 35 is implemented as two policies: size bounds, and the instance-type allowlist
    "gpu-nodegroup-bounds": "custom (ML cost: GPU budget)",
    "gpu-instance-types-allowed": "custom; EX requireInstanceType",

    // --- RDS (rows 36-48) ---
    "rds-storage-encrypted": "AG rds-storage-encrypted, CKV_AWS_16/96, AVD-AWS-0080/0079, CR disallow-unencrypted-storage",
    "rds-cmk": "CR configure-customer-managed-key, CKV_AWS_327",
    "rds-not-public": "AG rds-instance-public-access, CKV_AWS_17, AVD-AWS-0180, CR disallow-public-access",
    "rds-backup-retention": "AG rds-instance-backup-enabled, CKV_AWS_133, AVD-AWS-0077",
    "rds-deletion-protection": "CKV_AWS_293/139, AVD-AWS-0177/0343",
    "rds-final-snapshot": "custom (data-loss guard)",
    "rds-iam-auth": "CKV_AWS_161/162, AVD-AWS-0176",
    "rds-multi-az": "AG rds-instance-multi-az-enabled, CKV_AWS_157",
    "rds-auto-minor-upgrade": "CKV_AWS_226",
    "rds-logs-exported": "CKV_AWS_129",
    // the catalog row also lists CKV_AWS_353 / AVD-AWS-0133 (Performance Insights *enabled*), which this
    // policy deliberately does not require; only the encryption half applies
    "rds-perf-insights-kms": "CKV_AWS_354, AVD-AWS-0078, CR",
    "rds-force-ssl": "CKV2_AWS_69",
    "rds-managed-password": "custom (no master password in program or state)",
    "rds-enhanced-monitoring": "CKV_AWS_118 (issue 12 #12)",
    "rds-audit-logging": "CIS AWS RDS PostgreSQL logging, CKV2_AWS_30 (issue 12 #12)",

    // --- KMS / Secrets Manager (rows 49-52) ---
    "kms-rotation": "AG cmk-backing-key-rotation-enabled, CKV_AWS_7, AVD-AWS-0065, CR enable-key-rotation",
    "kms-no-lockout-bypass": "CR disallow-bypass-policy-lockout-safety-check",
    "kms-policy-no-wildcard-principal": "CKV_AWS_33",
    "secrets-cmk": "CKV_AWS_149, CR",
    // --- security pack: pipeline trigger (issue 15) ---
    "eventbridge-connection-no-plaintext-token": "custom (CI token never in program or state; issue 15)",
    "eventbridge-connection-cmk": "custom (the token's secret on a customer-managed key; issue 15)",
    "eventbridge-target-dlq": "custom (failed deliveries kept for replay; issue 15)",
    "eventbridge-target-retry-bounded": "custom (bounded retries; issue 15)",
    "sqs-cmk": "CKV_AWS_27",
    "secrets-no-literal-value": "custom (no secret value in state; issue 15)",
    "kms-key-policy-separation": "custom (key administrators vs key users; CI never decrypts or deletes keys; issue 12 #7)",

    // --- IAM / security groups (rows 53-59) ---
    "iam-no-wildcard-action": "CKV_AWS_63/49, AVD-AWS-0057",
    "iam-no-admin-star": "CKV_AWS_62/1",
    "iam-no-admin-managed": "CKV_AWS_274/275, CKV2_AWS_56",
    "iam-trust-restricted": "CKV_AWS_60/61, CKV_AWS_358/393",
    "iam-no-user-policies": "CKV_AWS_40, AVD-AWS-0143, CR onlyPermissionsViaGroups",
    "iam-role-policy-conflicts": "AG iam-role-no-policy-management-conflicts",
    "iam-role-creation-bounded": "custom (delegated role creation needs iam:PermissionsBoundary; issue 12 #3)",
    "iam-role-boundary-and-prefix": "custom (one name prefix and boundary per stack; issue 12 #3)",
    "iam-pod-identity-trust-conditions": "custom (EKS Pod Identity trust with aws:SourceAccount/aws:SourceArn; issue 12 #15)",
    "iam-role-tags": "custom (ownership tags on roles; issue 12 #15)",
    "iam-ci-trust-environments": "CKV_AWS_358 logic (GitHub OIDC pinned to protected environments; issue 12 #15)",
    // catalog row 59 is implemented as two policies
    "sg-no-public-ingress": "CR disallow-public-internet-ingress, CKV_AWS_24/25/260/277, AVD-AWS-0107",
    "sg-rule-conflicts": "AG security-group-no-rule-management-conflicts",
    // issue 12 (security review)
    "vpc-default-sg-restricted": "CIS AWS 5.4, CKV2_AWS_12, AVD-AWS-0178 (analog)",
    "vpc-s3-endpoint-policy": "custom (data perimeter: aws:ResourceAccount on the S3 gateway endpoint)",

    // --- Kubernetes (rows 60-78; row 77 "misc hardening" is split into several policies) ---
    "k8s-run-as-non-root": "PSS restricted 15, CKV_K8S_23, AVD KSV-0012, PO runAsRootAllowed",
    "k8s-run-as-user-nonzero": "PSS 16, KSV-0105/0020, KS user-group-id, CKV_K8S_40",
    "k8s-no-privilege-escalation": "PSS 14, CKV_K8S_20, KSV-0001, PO privilegeEscalationAllowed",
    "k8s-drop-all-capabilities": "PSS 18, KSV-0003/0106, CKV_K8S_37/39, PO dangerousCapabilities",
    "k8s-seccomp-runtime-default": "PSS 17, CKV_K8S_31, KSV-0030/0104, KS container-seccomp-profile",
    "k8s-no-privileged": "PSS 3, CKV_K8S_16, KSV-0017, PO runAsPrivileged",
    "k8s-no-host-namespaces": "PSS 2, CKV_K8S_17/18/19, KSV-0008/9/10, PO host*Set",
    "k8s-restricted-volumes": "PSS 5+13, KSV-0023/0028/0121, CKV_K8S_27",
    "k8s-no-host-ports": "PSS 6, CKV_K8S_26, KSV-0024, PO hostPortSet",
    "k8s-readonly-rootfs": "CR enable-read-only-root-filesystem, CKV_K8S_22, KSV-0014, PO notReadOnlyRootFilesystem",
    // no catalog row: the remaining PSS baseline controls listed in the catalog's PSS section
    "k8s-no-unsafe-pod-options": "PSS baseline: hostProcess, procMount, SELinux, AppArmor, sysctls, host in probes/hooks (catalog PSS section; no row)",
    "k8s-resources-set": "CKV_K8S_10–13, KSV-0011/15/16/18, PO *Missing, KS container-resources",
    "k8s-gpu-requests-valid": "custom (K8s GPU scheduling semantics)",
    // catalog id: k8s-image-pinned-ecr
    "k8s-image-pinned-registry": "CKV_K8S_14/43, KSV-0013/0035/0125, PO tagNotSpecified, KS container-image-tag",
    "k8s-no-secret-env-literals": "CKV_K8S_35, PO sensitiveContainerEnvVar",
    "k8s-no-automount-sa-token": "CKV_K8S_38, KSV-0036",
    "k8s-no-default-namespace": "CKV_K8S_21, KSV-0110",
    "k8s-no-bare-pods": "CR disallow-pod, EX pods-are-prohibited",
    "k8s-serving-probes": "CKV_K8S_8/9, PO readiness/livenessProbeMissing, KS pod-probes",
    "k8s-training-job-bounded": "KS cronjob-has-deadline (analog), custom",
    "k8s-gpu-job-queued": "custom (Kueue queue-name label and suspend, kueue.sigs.k8s.io/docs/tasks/run/jobs)",
    "k8s-namespace-pss-restricted": "PSA labels (PSS doc)",
    "k8s-service-type": "CR disallow-load-balancer, KS service-type, EX no-public-services",
    // catalog row 77 lists "no cluster-admin/wildcard RBAC (CKV_K8S_49, KSV-0044..46, PO clusterrolebindingClusterAdmin)"
    // for both; split here by what each anchor checks
    "k8s-no-cluster-admin-binding": "PO clusterrolebindingClusterAdmin",
    "k8s-no-wildcard-rbac": "CKV_K8S_49, KSV-0044..46",
    "k8s-no-helm-v3-release": "custom (policies cannot see what helm.sh/v3 Release installs)",
    // catalog row 74 is implemented as two policies
    "k8s-serving-min-replicas": "CR configure-minimum-replica-count",
    "k8s-serving-pdb": "CR disallow-zero-voluntary-disruption, KS deployment-has-poddisruptionbudget, PO missingPodDisruptionBudget",
    "k8s-network-policy-coverage": "KS pod-networkpolicy, PO missingNetworkPolicy",
    // issue 12 (security review)
    "k8s-namespace-default-deny": "KS pod-networkpolicy (default deny), custom (egress)",
    "k8s-pdb-unhealthy-eviction": "custom (Kubernetes unhealthyPodEvictionPolicy: AlwaysAllow for drains)",
    "eks-network-policy-enforced": "custom (consistency: NetworkPolicies need the VPC CNI's enableNetworkPolicy)",
    "gateway-load-balancer-restricted": "CR disallow-load-balancer (analog), CKV_AWS_24 logic for loadBalancerSourceRanges",
    "gateway-https": "CKV_AWS_2/103 (analog: load balancer listeners use TLS)",
    "gateway-route-auth": "custom (model API client authentication; no header-selected backends)",
    "kube-prometheus-stack-hardening": "PSS restricted (Grafana pods), custom (prometheus-operator admission webhook)",

    // --- gating pack (catalog rows 79-80 and "Gate semantics") ---
    "model-gate-thresholds": "MLflow MetricThreshold / validate_evaluation_results, TFMA GenericChange/ValueThreshold",
    "model-significance": "custom (one-sided two-proportion z-test; goes beyond MLflow MetricThreshold)",
    "model-approval-required": "SageMaker ModelApprovalStatus, MLflow aliases/tags (validation_status=approved)",
    "model-ref-immutable": "MLflow aliases (RFC #10336): immutable models:/<name>/<version>, never latest/stage",
    "canary-weight-limit": "Argo Rollouts analysis / Flagger (gated canary steps)",
    "blue-green-switch-gated": "Argo Rollouts analysis (gated blue-green switch)",
    "gpu-workloads-schedulable": "custom (K8s GPU scheduling semantics across pods and node groups)",
    "services-select-workloads": "custom (cross-resource consistency: Service selectors, HTTPRoute backendRefs)",
    "workload-identity-trust": "custom (IRSA `:sub`/`:aud` and EKS Pod Identity; extends iam-trust-restricted)",
};
