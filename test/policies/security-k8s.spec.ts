// Kubernetes rules of the security pack, run the way the engine runs them: the compiled pack is
// spawned and driven over the Analyzer gRPC protocol by offline-plan/policy-runner.
import * as assert from "node:assert/strict";
import { PolicyPackConfig, PolicyPackSession, PolicyRunResult, PolicyViolation, startPolicyPack } from "../../offline-plan/policy-runner";
import { RecordedResource } from "../../offline-plan/types";
import {
    compliantK8sStack,
    container,
    cronJob,
    deployment,
    IMAGE,
    job,
    mutate,
    namespace,
    networkPolicy,
    NS,
    pdb,
    podSpec,
    res,
    service,
    UNKNOWN_STRING,
} from "./k8s-fixtures";
import { KUBE_PROMETHEUS_STACK_REQUIRED_VALUES } from "../../policies/security/rules/k8s-network";

const RESOURCE_POLICIES = [
    "k8s-run-as-non-root",
    "k8s-run-as-user-nonzero",
    "k8s-no-privilege-escalation",
    "k8s-drop-all-capabilities",
    "k8s-seccomp-runtime-default",
    "k8s-no-privileged",
    "k8s-no-host-namespaces",
    "k8s-restricted-volumes",
    "k8s-no-host-ports",
    "k8s-readonly-rootfs",
    "k8s-no-unsafe-pod-options",
    "k8s-resources-set",
    "k8s-gpu-requests-valid",
    "k8s-image-pinned-registry",
    "k8s-no-secret-env-literals",
    "k8s-no-automount-sa-token",
    "k8s-no-default-namespace",
    "k8s-no-bare-pods",
    "k8s-serving-probes",
    "k8s-training-job-bounded",
    "k8s-gpu-job-queued",
    "k8s-namespace-pss-restricted",
    "k8s-service-type",
    "k8s-no-cluster-admin-binding",
    "k8s-no-wildcard-rbac",
    "k8s-no-helm-v3-release",
];
const STACK_POLICIES = [
    "k8s-serving-min-replicas",
    "k8s-serving-pdb",
    "k8s-pdb-unhealthy-eviction",
    "k8s-network-policy-coverage",
    "k8s-namespace-default-deny",
    "eks-network-policy-enforced",
    "gateway-load-balancer-restricted",
    "gateway-https",
    "gateway-route-auth",
    "kube-prometheus-stack-hardening",
];
const K8S_POLICIES = [...RESOURCE_POLICIES, ...STACK_POLICIES];

function k8sViolations(r: PolicyRunResult): PolicyViolation[] {
    return r.violations.filter((v) => K8S_POLICIES.includes(v.policyName));
}

function describeViolations(vs: PolicyViolation[]): string {
    return vs.map((v) => `${v.policyName} [${v.enforcementLevel}]: ${v.message.split("\n").pop()}`).join("\n") || "(none)";
}

const serving = (fn: (pod: any, inputs: any) => void) => (rs: RecordedResource[]) =>
    mutate(rs, "churn-server", (i) => fn(i.spec.template.spec, i));
const servingContainer = (fn: (c: any) => void) => serving((pod) => fn(pod.containers[0]));

const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const ENVOY_PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy";
const PROD_GATEWAY: PolicyPackConfig = { "gateway-https": { requireTls: true }, "gateway-route-auth": { requireAuth: true, forbidHeaderMatches: true } };

function vpcCni(configurationValues: string | undefined): RecordedResource {
    return res("aws:eks/addon:Addon", "vpc-cni", { clusterName: "mlops", addonName: "vpc-cni", ...(configurationValues !== undefined ? { configurationValues } : {}) });
}

/** kube-prometheus-stack values with every key the hardening policy requires set as it requires. */
function hardenedKpsValues(): Record<string, any> {
    const values: Record<string, any> = {};
    for (const r of KUBE_PROMETHEUS_STACK_REQUIRED_VALUES) {
        const keys = r.path.split(".");
        let cur = values;
        for (const k of keys.slice(0, -1)) cur = cur[k] ??= {};
        cur[keys[keys.length - 1]] = r.want;
    }
    return values;
}

/** An Envoy Gateway install as the Gateway and ServingStack components declare it, with the knobs the policies judge. */
function envoyGateway(o: { scheme?: string; ranges?: string[]; acm?: boolean; auth?: boolean; header?: boolean; listener?: Record<string, unknown> }): RecordedResource[] {
    const annotations: Record<string, string> = { "service.beta.kubernetes.io/aws-load-balancer-scheme": o.scheme ?? "internal" };
    if (o.acm !== false && !o.listener) {
        annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
        annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] = "443";
    }
    const listener = o.listener ?? (o.acm === false ? { name: "http", port: 80, protocol: "HTTP" } : { name: "https", port: 443, protocol: "HTTP" });
    const gw = "envoy-gateway-system";
    return [
        res(ENVOY_PROXY, "proxy", { metadata: { name: "mlops", namespace: gw }, spec: { provider: { type: "Kubernetes", kubernetes: { envoyService: { type: "LoadBalancer", annotations, ...(o.ranges ? { loadBalancerSourceRanges: o.ranges } : {}) } } } } }),
        res("kubernetes:gateway.networking.k8s.io/v1:GatewayClass", "class", { metadata: { name: "mlops" }, spec: { controllerName: "gateway.envoyproxy.io/gatewayclass-controller", parametersRef: { group: "gateway.envoyproxy.io", kind: "EnvoyProxy", name: "mlops", namespace: gw } } }),
        res("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gateway", { metadata: { name: "mlops", namespace: gw }, spec: { gatewayClassName: "mlops", listeners: [listener] } }),
        res("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "route", {
            metadata: { name: "churn", namespace: NS },
            spec: {
                parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "mlops", namespace: gw }],
                rules: [
                    ...(o.header ? [{ matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [{ type: "Exact", name: "x-model-track", value: "canary" }] }], backendRefs: [{ name: "churn-canary", port: 80 }] }] : []),
                    { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "churn", port: 80 }] },
                ],
            },
        }),
        ...(o.auth === false
            ? []
            : [res("kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy", "auth", { metadata: { name: "churn-api-keys", namespace: NS },
                spec: { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "churn" }], apiKeyAuth: { credentialRefs: [{ name: "keys" }], extractFrom: [{ headers: ["x-api-key"] }] } } })]),
    ];
}

interface Case {
    policy: string;
    title: string;
    build: (base: RecordedResource[]) => RecordedResource[];
    config?: PolicyPackConfig;
    /** Each must match some message of `policy`. */
    expect: RegExp[];
}

const CASES: Case[] = [
    { policy: "k8s-run-as-non-root", title: "pod and container leave runAsNonRoot unset/false",
      build: serving((pod) => { pod.securityContext.runAsNonRoot = false; delete pod.containers[0].securityContext.runAsNonRoot; }),
      expect: [/container 'app' does not set runAsNonRoot: true \(effective value: false\)/] },
    { policy: "k8s-run-as-user-nonzero", title: "container runs as uid 0",
      build: servingContainer((c) => { c.securityContext.runAsUser = 0; }), expect: [/container 'app' sets runAsUser: 0/] },
    { policy: "k8s-run-as-user-nonzero", title: "uid below configured minimum",
      build: (b) => b, config: { "k8s-run-as-user-nonzero": { minimumUserId: 20000 } }, expect: [/runs as user 10001; must be >= 20000/] },
    { policy: "k8s-no-privilege-escalation", title: "CronJob container omits allowPrivilegeEscalation",
      build: (rs) => mutate(rs, "retrain-churn", (i) => { delete i.spec.jobTemplate.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation; }),
      expect: [/CronJob ml-serving\/retrain-churn: container 'trainer' does not set allowPrivilegeEscalation: false/] },
    { policy: "k8s-drop-all-capabilities", title: "no drop ALL, adds SYS_ADMIN",
      build: servingContainer((c) => { c.securityContext.capabilities = { drop: ["NET_RAW"], add: ["SYS_ADMIN", "NET_BIND_SERVICE"] }; }),
      expect: [/does not drop ALL/, /adds capabilities SYS_ADMIN \(allowed: NET_BIND_SERVICE\)/] },
    { policy: "k8s-seccomp-runtime-default", title: "no seccomp profile anywhere; Unconfined on pod",
      build: serving((pod) => { pod.securityContext.seccompProfile = { type: "Unconfined" }; delete pod.containers[0].securityContext.seccompProfile; }),
      expect: [/seccompProfile.type is 'Unconfined'/, /container 'app' seccomp profile is Unconfined/] },
    { policy: "k8s-no-privileged", title: "privileged container", build: servingContainer((c) => { c.securityContext.privileged = true; }), expect: [/container 'app' is privileged/] },
    { policy: "k8s-no-host-namespaces", title: "Job on host network",
      build: (rs) => mutate(rs, "train-churn-20250101", (i) => { i.spec.template.spec.hostNetwork = true; i.spec.template.spec.hostPID = true; }),
      expect: [/Job ml-serving\/train-churn-20250101: spec.template.spec.hostNetwork is true/, /hostPID is true/] },
    { policy: "k8s-restricted-volumes", title: "hostPath volume",
      build: serving((pod) => { pod.volumes.push({ name: "host", hostPath: { path: "/var/run" } }); }), expect: [/volume 'host' uses hostPath/] },
    { policy: "k8s-no-host-ports", title: "hostPort", build: servingContainer((c) => { c.ports[0].hostPort = 8080; }), expect: [/binds hostPort 8080/] },
    { policy: "k8s-readonly-rootfs", title: "writable root filesystem",
      build: servingContainer((c) => { c.securityContext.readOnlyRootFilesystem = false; }), expect: [/container 'app' does not set readOnlyRootFilesystem: true/] },
    { policy: "k8s-no-unsafe-pod-options", title: "unsafe sysctl, procMount, AppArmor, probe host",
      build: serving((pod) => {
          pod.securityContext.sysctls = [{ name: "kernel.msgmax", value: "65536" }, { name: "net.ipv4.tcp_syncookies", value: "1" }];
          pod.containers[0].securityContext.procMount = "Unmasked";
          pod.containers[0].securityContext.appArmorProfile = { type: "Unconfined" };
          pod.containers[0].livenessProbe.httpGet.host = "10.0.0.1";
      }),
      expect: [/sysctl 'kernel.msgmax' is not in the PSS safe set/, /procMount: Unmasked/, /appArmorProfile.type: Unconfined/, /livenessProbe.httpGet.host=10.0.0.1/] },
    { policy: "k8s-resources-set", title: "no requests or memory limit",
      build: servingContainer((c) => { c.resources = { limits: { cpu: "1" } }; }),
      expect: [/container 'app' lacks resources.requests.cpu, resources.requests.memory, resources.limits.memory/] },
    { policy: "k8s-resources-set", title: "cpu limit required by config",
      build: (b) => b, config: { "k8s-resources-set": { requireCpuLimit: true } }, expect: [/lacks resources.limits.cpu/] },
    { policy: "k8s-gpu-job-queued", title: "GPU Job without the queue label; queued GPU CronJob not suspended",
      build: (rs) => mutate(mutate(rs, "train-churn-20250101", (i) => { delete i.metadata.labels["kueue.x-k8s.io/queue-name"]; delete i.spec.suspend; }),
          "retrain-churn", (i) => { delete i.spec.jobTemplate.spec.suspend; }),
      expect: [/Job ml-serving\/train-churn-20250101: requests nvidia.com\/gpu but has no metadata.labels\['kueue.x-k8s.io\/queue-name'\]: it bypasses the training queue/,
          /CronJob ml-serving\/retrain-churn: is queued \(training\) but spec.jobTemplate.spec.suspend is not true/] },
    { policy: "k8s-gpu-requests-valid", title: "GPU only in requests, no toleration",
      build: (rs) => mutate(rs, "train-churn-20250101", (i) => {
          const c = i.spec.template.spec.containers[0];
          delete c.resources.limits["nvidia.com/gpu"];
          c.resources.requests["nvidia.com/gpu"] = 1;
          i.spec.template.spec.tolerations = [];
      }),
      expect: [/requests nvidia.com\/gpu without a limit/, /does not tolerate the 'nvidia.com\/gpu' NoSchedule taint/] },
    { policy: "k8s-gpu-requests-valid", title: "fractional GPU and mismatched request; CPU pod tolerating the GPU taint",
      build: (rs) => serving((pod) => { pod.tolerations = [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]; })(
          mutate(rs, "retrain-churn", (i) => {
              const c = i.spec.jobTemplate.spec.template.spec.containers[0];
              c.resources.limits["nvidia.com/gpu"] = "500m";
              c.resources.requests["nvidia.com/gpu"] = 2;
          })),
      expect: [/limits nvidia.com\/gpu to '500m'; must be a positive whole number/, /requests 2 nvidia.com\/gpu but limits 500m/, /Deployment ml-serving\/churn-server: tolerates the 'nvidia.com\/gpu' taint without requesting/] },
    { policy: "k8s-image-pinned-registry", title: "Docker Hub latest; ECR by tag",
      build: serving((pod) => {
          pod.containers[0].image = "nginx:latest";
          pod.containers.push(container("sidecar", { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/proxy:1.2.3" }));
      }),
      expect: [/image 'nginx:latest' is not from an allowed registry/, /image 'nginx:latest' is not pinned by @sha256 digest/, /container 'sidecar' image '.*proxy:1.2.3' is not pinned by @sha256 digest/] },
    { policy: "k8s-image-pinned-registry", title: "registry host cannot be smuggled through the path",
      build: servingContainer((c) => { c.image = `evil.example.com/x.dkr.ecr.eu-west-1.amazonaws.com/m@sha256:${"b".repeat(64)}`; }),
      expect: [/is not from an allowed registry/] },
    { policy: "k8s-image-pinned-registry", title: "tags allowed by config, but never latest",
      build: servingContainer((c) => { c.image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/model-server"; }),
      config: { "k8s-image-pinned-registry": { requireDigest: false } }, expect: [/uses no tag \(implicit latest\)/] },
    { policy: "k8s-no-secret-env-literals", title: "password literal and an AWS key in a harmless name",
      build: servingContainer((c) => {
          c.env = [
              { name: "DB_PASSWORD", value: "hunter2" },
              { name: "EXTRA", value: "AKIAABCDEFGHIJKLMNOP" },
              { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: "/var/run/secrets/token" },
              { name: "API_TOKEN", valueFrom: { secretKeyRef: { name: "api", key: "token" } } },
          ];
      }),
      expect: [/env DB_PASSWORD has a literal value/, /env EXTRA looks like an AWS access key id/] },
    { policy: "k8s-no-automount-sa-token", title: "token automounted",
      build: serving((pod) => { delete pod.automountServiceAccountToken; }), expect: [/automountServiceAccountToken is not false/] },
    { policy: "k8s-no-default-namespace", title: "default namespace and unset namespace",
      build: (rs) => [...rs, service("legacy", { app: "churn" }, {}, "default"),
          res("kubernetes:core/v1:ConfigMap", "loose", { metadata: { name: "loose" }, data: { a: "b" } })],
      expect: [/Service default\/legacy: is in the 'default' namespace/, /ConfigMap loose: does not set metadata.namespace/] },
    { policy: "k8s-no-bare-pods", title: "a Pod declared directly",
      build: (rs) => [...rs, res("kubernetes:core/v1:Pod", "debug", { metadata: { name: "debug", namespace: NS, labels: { app: "churn", "mlops.platform/role": "serving" } }, spec: podSpec() })],
      expect: [/Pod ml-serving\/debug: is a bare Pod/] },
    { policy: "k8s-serving-probes", title: "serving container without readiness probe",
      build: servingContainer((c) => { delete c.readinessProbe; }), expect: [/serving container 'app' lacks readinessProbe/] },
    { policy: "k8s-training-job-bounded", title: "unbounded Job and overlapping CronJob",
      build: (rs) => mutate(mutate(rs, "train-churn-20250101", (i) => {
          delete i.spec.activeDeadlineSeconds; delete i.spec.backoffLimit; delete i.spec.ttlSecondsAfterFinished;
      }), "retrain-churn", (i) => { i.spec.concurrencyPolicy = "Allow"; delete i.spec.startingDeadlineSeconds; }),
      expect: [/spec.activeDeadlineSeconds is not set/, /spec.backoffLimit is unset \(defaults to 6\); must be <= 3/, /ttlSecondsAfterFinished is not set/,
          /CronJob ml-serving\/retrain-churn: spec.concurrencyPolicy is Allow/, /startingDeadlineSeconds is not set/] },
    { policy: "k8s-namespace-pss-restricted", title: "namespace at baseline",
      build: (rs) => [...rs, namespace("scratch", { "pod-security.kubernetes.io/enforce": "baseline" }), namespace("kube-system", {})],
      expect: [/Namespace scratch: label pod-security.kubernetes.io\/enforce is 'baseline'; must be 'restricted'/] },
    { policy: "k8s-service-type", title: "LoadBalancer Service", build: (rs) => mutate(rs, "churn", (i) => { i.spec.type = "LoadBalancer"; }),
      expect: [/Service ml-serving\/churn: spec.type is LoadBalancer; allowed: ClusterIP/] },
    { policy: "k8s-no-cluster-admin-binding", title: "cluster-admin for a ServiceAccount, role for all authenticated users",
      build: (rs) => [...rs,
          res("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "ci-admin", {
              metadata: { name: "ci-admin" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
              subjects: [{ kind: "ServiceAccount", name: "ci", namespace: NS }] }),
          res("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "everyone", {
              metadata: { name: "everyone", namespace: NS }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
              subjects: [{ kind: "Group", name: "system:authenticated" }] })],
      expect: [/ClusterRoleBinding ci-admin: binds the 'cluster-admin' role/, /binds group 'system:authenticated'/] },
    { policy: "k8s-no-wildcard-rbac", title: "wildcard ClusterRole",
      build: (rs) => [...rs, res("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "god", {
          metadata: { name: "god" }, rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }, { apiGroups: [""], resources: ["users"], verbs: ["impersonate"] }] })],
      expect: [/ClusterRole god: rules\[0\] grants all verbs/, /rules\[0\] covers all resources/, /rules\[1\] grants impersonate/] },
    { policy: "k8s-no-helm-v3-release", title: "helm v3 Release",
      build: (rs) => [...rs, res("kubernetes:helm.sh/v3:Release", "prometheus", { chart: "kube-prometheus-stack", namespace: "monitoring" })],
      expect: [/is a Helm v3 Release/] },
    { policy: "k8s-serving-min-replicas", title: "single serving replica",
      build: (rs) => mutate(rs, "churn-server", (i) => { i.spec.replicas = 1; }), expect: [/Deployment ml-serving\/churn-server: spec.replicas is 1; serving needs at least 2/] },
    { policy: "k8s-serving-min-replicas", title: "HPA minReplicas below minimum",
      build: (rs) => [...rs, res("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "churn", {
          metadata: { name: "churn", namespace: NS }, spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "churn-server" }, minReplicas: 1, maxReplicas: 5 } })],
      expect: [/HPA minReplicas is 1/] },
    { policy: "k8s-serving-pdb", title: "no PDB selects the serving pods",
      build: (rs) => rs.filter((r) => r.name !== "churn" || r.type !== "kubernetes:policy/v1:PodDisruptionBudget"),
      expect: [/Deployment ml-serving\/churn-server: no PodDisruptionBudget selects its pods/] },
    { policy: "k8s-serving-pdb", title: "zero-disruption PDB",
      build: (rs) => [...rs.filter((r) => r.type !== "kubernetes:policy/v1:PodDisruptionBudget"), pdb("churn-strict", { app: "churn" }, { minAvailable: 2 })],
      expect: [/PodDisruptionBudget ml-serving\/churn-strict: allows no voluntary disruption \(minAvailable=2, maxUnavailable=unset, replicas=2\)/] },
    { policy: "k8s-network-policy-coverage", title: "no NetworkPolicy at all",
      build: (rs) => rs.filter((r) => r.type !== "kubernetes:networking.k8s.io/v1:NetworkPolicy"),
      expect: [/Deployment ml-serving\/churn-server: no NetworkPolicy selects its pods/, /Job ml-serving\/train-churn-20250101: no NetworkPolicy/] },
    // issue 12
    { policy: "k8s-pdb-unhealthy-eviction", title: "a PDB left at the default IfHealthyBudget",
      build: (rs) => mutate(rs, "churn", (i) => { if (i.spec.selector) delete i.spec.unhealthyPodEvictionPolicy; }),
      expect: [/PodDisruptionBudget ml-serving\/churn: unhealthyPodEvictionPolicy is unset \(IfHealthyBudget\)/] },
    { policy: "k8s-serving-pdb", title: "a two-replica tracking server without a PDB",
      build: (rs) => [...rs, deployment("mlflow", { replicas: 2, labels: { app: "mlflow", "mlops.platform/role": "tracking" } })],
      expect: [/Deployment ml-serving\/mlflow: no PodDisruptionBudget selects its pods/] },
    { policy: "k8s-pdb-unhealthy-eviction", title: "a PDB without planned state (first preview through an unknown cluster's provider) is unknown, not unset",
      build: (rs) => rs.map((r) => (r.type === "kubernetes:policy/v1:PodDisruptionBudget" ? { ...r, inputs: {} } : r)), expect: [] },
    { policy: "k8s-namespace-default-deny", title: "workloads and NetworkPolicies without planned state are judged at up, not reported",
      build: (rs) => mutate(rs, "default-deny", (i) => { i.spec.policyTypes = ["Ingress"]; }).map((r) => (r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" ? { ...r, inputs: {} } : r)),
      expect: [] },
    { policy: "k8s-namespace-default-deny", title: "only an ingress default-deny: egress is open",
      build: (rs) => mutate(rs, "default-deny", (i) => { i.spec.policyTypes = ["Ingress"]; }),
      expect: [/namespace ml-serving runs workloads .* but has no default-deny egress NetworkPolicy/] },
    { policy: "k8s-namespace-default-deny", title: "the default-deny policy allows egress after all",
      build: (rs) => mutate(rs, "default-deny", (i) => { i.spec.egress = [{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] }]; }),
      expect: [/has no default-deny egress NetworkPolicy/] },
    { policy: "eks-network-policy-enforced", title: "NetworkPolicies on a vpc-cni addon left at its default (not enforcing)",
      build: (rs) => [...rs, vpcCni(undefined)], expect: [/vpc-cni addon vpc-cni: configurationValues.enableNetworkPolicy is unset \(default false\)/] },
    { policy: "eks-network-policy-enforced", title: "enforcement on but the node agent disabled",
      build: (rs) => [...rs, vpcCni('{"enableNetworkPolicy":"true","nodeAgent":{"enabled":"false"}}')], expect: [/nodeAgent.enabled is false/] },
    { policy: "eks-network-policy-enforced", title: "NetworkPolicies and no managed CNI when one is required",
      build: (rs) => rs, config: { "eks-network-policy-enforced": { requireManagedCni: true } }, expect: [/manages no vpc-cni addon/] },
    { policy: "gateway-load-balancer-restricted", title: "an internet-facing proxy load balancer without source CIDRs",
      build: (rs) => [...rs, ...envoyGateway({ scheme: "internet-facing" })], expect: [/EnvoyProxy envoy-gateway-system\/mlops \(GatewayClass mlops\): internet-facing load balancer without loadBalancerSourceRanges/] },
    { policy: "gateway-load-balancer-restricted", title: "source CIDRs that include 0.0.0.0/0",
      build: (rs) => [...rs, ...envoyGateway({ scheme: "internet-facing", ranges: ["10.0.0.0/8", "0.0.0.0/0"] })], expect: [/open to 0.0.0.0\/0/] },
    { policy: "gateway-load-balancer-restricted", title: "a GatewayClass without an EnvoyProxy (Envoy Gateway's default public load balancer)",
      build: (rs) => [...rs, ...envoyGateway({}).filter((r) => r.type !== ENVOY_PROXY)], expect: [/GatewayClass mlops: no EnvoyProxy parametersRef/] },
    { policy: "gateway-load-balancer-restricted", title: "a plain LoadBalancer Service with no annotations",
      build: (rs) => [...rs, service("public", { app: "x" }, { type: "LoadBalancer" })], expect: [/Service ml-serving\/public: internet-facing load balancer/] },
    { policy: "gateway-https", title: "prod: an HTTP-only listener with no TLS in front",
      build: (rs) => [...rs, ...envoyGateway({ acm: false })], config: PROD_GATEWAY, expect: [/listener http is plain HTTP on port 80 with no TLS in front of it/] },
    { policy: "gateway-route-auth", title: "prod: a model route no SecurityPolicy authenticates",
      build: (rs) => [...rs, ...envoyGateway({ auth: false })], config: PROD_GATEWAY, expect: [/HTTPRoute ml-serving\/churn: no SecurityPolicy authenticates its clients/] },
    { policy: "gateway-route-auth", title: "prod: SecurityPolicy and route without planned state (first preview) are judged at up",
      build: (rs) => [...rs, ...envoyGateway({})].map((r) => (/SecurityPolicy|HTTPRoute/.test(r.type) ? { ...r, inputs: {} } : r)), config: PROD_GATEWAY, expect: [] },
    { policy: "gateway-route-auth", title: "prod: a route rule selecting the canary by request header",
      build: (rs) => [...rs, ...envoyGateway({ header: true })], config: PROD_GATEWAY, expect: [/routes by request header x-model-track=canary to churn-canary/] },
    { policy: "kube-prometheus-stack-hardening", title: "Grafana's root chown init container and the admission webhook off (chart defaults before the fix)",
      build: (rs) => [...rs, res("kubernetes:helm.sh/v4:Chart", "kps", { chart: "kube-prometheus-stack", namespace: "monitoring",
          values: { ...hardenedKpsValues(), prometheusOperator: { admissionWebhooks: { enabled: false }, tls: { enabled: false } }, grafana: { ...hardenedKpsValues().grafana, initChownData: { enabled: true } } } }, { custom: false })],
      expect: [/prometheusOperator.admissionWebhooks.enabled is false, must be true/, /grafana.initChownData.enabled is true, must be false/] },
    { policy: "k8s-network-policy-coverage", title: "default-deny required by config but only allow rules exist",
      build: (rs) => rs.filter((r) => r.name !== "default-deny").concat(networkPolicy("all", {}, { ingress: [{}] })),
      config: { "k8s-network-policy-coverage": { requireDefaultDeny: true } }, expect: [/has no default-deny ingress NetworkPolicy/] },
];

/** Variants that must stay clean: edge cases next to each rule's boundary. */
const PASS_CASES: { title: string; build: (base: RecordedResource[]) => RecordedResource[]; config?: PolicyPackConfig }[] = [
    { title: "CPU-only Job outside the queue (only GPU Jobs must queue)",
      build: (rs) => mutate(rs, "train-churn-20250101", (i) => {
          delete i.metadata.labels["kueue.x-k8s.io/queue-name"]; delete i.spec.suspend;
          const c = i.spec.template.spec.containers[0]; delete c.resources.limits["nvidia.com/gpu"]; delete c.resources.requests?.["nvidia.com/gpu"];
          delete i.spec.template.spec.tolerations; delete i.spec.template.spec.nodeSelector;
      }) },
    { title: "helm.sh/v4 Chart instead of a v3 Release", build: (rs) => [...rs, res("kubernetes:helm.sh/v4:Chart", "prometheus", { chart: "kube-prometheus-stack", namespace: "monitoring", values: hardenedKpsValues() }, { custom: false })] },
    // issue 12: what each new policy accepts
    { title: "vpc-cni enforcing NetworkPolicies", build: (rs) => [...rs, vpcCni('{"enableNetworkPolicy":"true"}')] },
    { title: "no NetworkPolicies at all: the CNI setting does not matter", build: (rs) => [...rs.filter((r) => r.type !== NETPOL), vpcCni(undefined)],
      config: { "k8s-network-policy-coverage": "disabled", "k8s-namespace-default-deny": "disabled" } },
    { title: "an internal Envoy Gateway with TLS at the load balancer and an API-key SecurityPolicy on its route", build: (rs) => [...rs, ...envoyGateway({})],
      config: PROD_GATEWAY },
    { title: "an internet-facing Envoy Gateway limited to source CIDRs, HTTPS listener", build: (rs) => [...rs, ...envoyGateway({ scheme: "internet-facing", ranges: ["203.0.113.0/24"], listener: { name: "https", port: 443, protocol: "HTTPS" } })],
      config: PROD_GATEWAY },
    { title: "dev: an HTTP route without auth, selecting the canary by header, where TLS and auth are not required", build: (rs) => [...rs, ...envoyGateway({ acm: false, auth: false, header: true })] },
    { title: "a PDB with AlwaysAllow", build: (rs) => rs },
    { title: "a one-replica tracking server without a PDB (a budget protects nothing with one pod)",
      build: (rs) => [...rs, deployment("mlflow", { replicas: 1, labels: { app: "mlflow", "mlops.platform/role": "tracking" } })] },
    { title: "kube-system without a PSA label (default exemption)", build: (rs) => [...rs, namespace("kube-system", {})] },
    { title: "NET_BIND_SERVICE added back after drop ALL", build: servingContainer((c) => { c.securityContext.capabilities.add = ["NET_BIND_SERVICE"]; }) },
    { title: "seccomp set per container only; runAsNonRoot at pod level only",
      build: serving((pod) => { delete pod.securityContext.seccompProfile; delete pod.containers[0].securityContext.runAsNonRoot; }) },
    { title: "replicas unset but an HPA keeps 3", build: (rs) => [...mutate(rs, "churn-server", (i) => { delete i.spec.replicas; }),
        res("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "churn", { metadata: { name: "churn", namespace: NS },
            spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "churn-server" }, minReplicas: 3, maxReplicas: 6 } })] },
    { title: "a one-replica canary (track excluded from the replica minimum)",
      build: (rs) => [...rs, deployment("churn-canary", { replicas: 1, labels: { app: "churn", "mlops.platform/role": "serving" }, annotations: { "mlops.platform/track": "canary" } })] },
    { title: "PDB minAvailable 1 of 2 replicas", build: (rs) => mutate(rs, "churn", (i) => { if (i.spec.selector?.matchLabels) { delete i.spec.maxUnavailable; i.spec.minAvailable = 1; } }) },
    { title: "LoadBalancer allowed for an exempted ingress controller",
      // Internal (an internet-facing one without source CIDRs is what gateway-load-balancer-restricted refuses).
      build: (rs) => [...rs, mutate([service("ingress-nginx-controller", { app: "ingress" }, { type: "LoadBalancer" }, "ingress-nginx")], "ingress-nginx-controller", (i) => {
          i.metadata.annotations = { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal" };
      })[0]],
      config: { "k8s-service-type": { exemptions: [{ namespace: "ingress-nginx", name: "ingress-nginx-controller" }] } } },
    { title: "secret env from secretKeyRef and a *_FILE reference",
      build: servingContainer((c) => { c.env = [{ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } }, { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: "/var/run/token" }]; }) },
    { title: "a DaemonSet (node agent) may tolerate the GPU taint without requesting GPUs",
      build: (rs) => [...rs, res("kubernetes:apps/v1:DaemonSet", "dcgm-exporter", { metadata: { name: "dcgm-exporter", namespace: NS },
          spec: { template: { metadata: { labels: { app: "dcgm" } }, spec: podSpec({ tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] }) } } })] },
];

describe("security pack: Kubernetes rules (via the gRPC policy runner)", function () {
    this.timeout(120_000);
    let session: PolicyPackSession;

    before(async () => {
        session = await startPolicyPack("security");
    });
    after(async () => {
        await session?.close();
    });

    const run = (resources: RecordedResource[], config?: PolicyPackConfig) => session.run(resources, config);

    it("declares every Kubernetes policy with metadata (catalog rows 60-78)", () => {
        for (const name of K8S_POLICIES) {
            const p = session.policies.find((x) => x.name === name);
            assert.ok(p, `policy ${name} missing from the pack`);
            assert.match(p.name, /^[a-z0-9]+(-[a-z0-9]+)*$/, "kebab-case name");
            assert.ok(p.description.length > 20, `${name} has a description`);
            assert.ok(p.severity, `${name} has a severity`);
            assert.equal(p.enforcementLevel, "mandatory", `${name} default enforcement level`);
            assert.equal(p.policyType, STACK_POLICIES.includes(name) ? "stack" : "resource", `${name} type`);
        }
        for (const name of RESOURCE_POLICIES) {
            const p = session.policies.find((x) => x.name === name)!;
            assert.ok(p.configSchema?.properties.exemptions, `${name} can be exempted by configuration`);
        }
        assert.ok(K8S_POLICIES.length >= 18);
    });

    it("passes a compliant serving + training stack with no Kubernetes violation", async () => {
        const r = await run(compliantK8sStack());
        assert.deepEqual(k8sViolations(r), [], describeViolations(k8sViolations(r)));
    });

    for (const c of PASS_CASES) {
        it(`passes — ${c.title}`, async () => {
            const r = await run(c.build(compliantK8sStack()), c.config);
            assert.deepEqual(k8sViolations(r), [], describeViolations(k8sViolations(r)));
        });
    }

    for (const c of CASES) {
        it(`${c.policy}: fails — ${c.title}`, async () => {
            const r = await run(c.build(compliantK8sStack()), c.config);
            const mine = r.violations.filter((v) => v.policyName === c.policy);
            for (const re of c.expect) {
                assert.ok(mine.some((v) => re.test(v.message)), `expected ${c.policy} to report ${re}; got:\n${describeViolations(k8sViolations(r))}`);
            }
            assert.ok(mine.every((v) => v.enforcementLevel === "mandatory"));
        });
    }

    it("covers every Kubernetes policy with a failing case", () => {
        const covered = new Set(CASES.map((c) => c.policy));
        assert.deepEqual(K8S_POLICIES.filter((p) => !covered.has(p)), []);
    });

    describe("exemptions by configuration (the rule itself is not weakened)", () => {
        const devicePlugin = () =>
            res("kubernetes:apps/v1:DaemonSet", "nvidia-device-plugin", {
                metadata: { name: "nvidia-device-plugin-daemonset", namespace: "kube-system" },
                spec: {
                    selector: { matchLabels: { name: "nvidia-device-plugin" } },
                    template: {
                        metadata: { labels: { name: "nvidia-device-plugin" } },
                        spec: podSpec({
                            tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
                            volumes: [{ name: "device-plugin", hostPath: { path: "/var/lib/kubelet/device-plugins" } }],
                        }),
                    },
                },
            });
        const exempt = [{ namespace: "kube-system", name: "nvidia-device-plugin*", reason: "device plugin socket" }];

        it("flags the device plugin's hostPath without an exemption", async () => {
            const r = await run([devicePlugin()]);
            assert.ok(r.violations.some((v) => v.policyName === "k8s-restricted-volumes" && /hostPath/.test(v.message)));
        });

        it("skips only the matching workload when exempted, and says why", async () => {
            const other = clone(devicePlugin());
            other.name = "other-agent";
            other.urn = other.urn.replace("nvidia-device-plugin", "other-agent");
            other.inputs.metadata.name = "other-agent";
            const r = await session.run([devicePlugin(), other], { "k8s-restricted-volumes": { exemptions: exempt } }, { collectNotApplicable: true });
            const vs = r.violations.filter((v) => v.policyName === "k8s-restricted-volumes");
            assert.deepEqual(vs.map((v) => v.urn), [other.urn]);
            assert.ok(r.notApplicable?.some((n) => n.policyName === "k8s-restricted-volumes" && /exempted by configuration \(kube-system\/nvidia-device-plugin\*: device plugin socket\)/.test(n.reason)));
        });

        it("ignores an exemption lacking a namespace pattern (no accidental blanket exemption)", async () => {
            const r = await run([devicePlugin()], { "k8s-restricted-volumes": { exemptions: [{ name: "*" }] } });
            assert.ok(r.violations.some((v) => v.policyName === "k8s-restricted-volumes"));
        });
    });

    it("runs on every K8S_WL kind: the pod spec of a Pod, Deployment, Job and CronJob is found", async () => {
        const bad = (pod: any) => { pod.containers[0].securityContext.privileged = true; return pod; };
        const rs = [
            res("kubernetes:core/v1:Pod", "p", { metadata: { name: "p", namespace: NS }, spec: bad(podSpec()) }),
            deployment("d", { spec: bad(podSpec()) }),
            res("kubernetes:apps/v1:StatefulSet", "s", { metadata: { name: "s", namespace: NS }, spec: { template: { spec: bad(podSpec()) } } }),
            res("kubernetes:apps/v1:ReplicaSet", "rs", { metadata: { name: "rs", namespace: NS }, spec: { template: { spec: bad(podSpec()) } } }),
            job("j", {}, bad(podSpec())),
            cronJob("c", {}, bad(podSpec())),
        ];
        const r = await run(rs);
        const kinds = r.violations.filter((v) => v.policyName === "k8s-no-privileged").map((v) => v.message.split("\n").pop()!.split(" ")[0]).sort();
        assert.deepEqual(kinds, ["CronJob", "Deployment", "Job", "Pod", "ReplicaSet", "StatefulSet"]);
    });

    it("an image unknown at preview (built in the same stack) is not judged until `pulumi up` knows it", async () => {
        const rs = mutate(compliantK8sStack(), "churn-server", (i) => { i.spec.template.spec.containers[0].image = UNKNOWN_STRING; });
        const r = await run(rs);
        assert.deepEqual(k8sViolations(r), [], describeViolations(k8sViolations(r)));
        // The same container with a known, unpinned image is still a violation.
        const bad = mutate(compliantK8sStack(), "churn-server", (i) => { i.spec.template.spec.containers[0].image = "nginx:latest"; });
        assert.ok((await run(bad)).violations.some((v) => v.policyName === "k8s-image-pinned-registry" && v.enforcementLevel === "mandatory"));
    });

    describe("a namespace unknown at preview (created by the same stack) is unknown, not unset", () => {
        const inUnknownNs = () => mutate(compliantK8sStack(), "churn-server", (i) => { i.metadata.namespace = UNKNOWN_STRING; });

        it("k8s-no-default-namespace does not call it missing", async () => {
            const r = await run(inUnknownNs());
            assert.deepEqual(r.violations.filter((v) => v.policyName === "k8s-no-default-namespace"), []);
            const unset = mutate(compliantK8sStack(), "churn-server", (i) => { delete i.metadata.namespace; });
            assert.ok((await run(unset)).violations.some((v) => v.policyName === "k8s-no-default-namespace" && /does not set metadata.namespace/.test(v.message)));
        });

        it("an exemption by name still applies while the namespace is unknown; a known other namespace does not match", async () => {
            const tagged = (ns: string) =>
                mutate(compliantK8sStack(), "churn-server", (i) => {
                    i.metadata.namespace = ns;
                    i.spec.template.spec.containers[0].image = "quay.io/prometheus/pushgateway:v1.11.2";
                });
            const cfg = { "k8s-image-pinned-registry": { exemptions: [{ namespace: "monitoring", name: "churn-server", reason: "upstream image" }] } };
            const unknownNs = await session.run(tagged(UNKNOWN_STRING), cfg);
            assert.deepEqual(unknownNs.violations.filter((v) => v.policyName === "k8s-image-pinned-registry"), []);
            const otherNs = await session.run(tagged("ml-serving"), cfg);
            assert.ok(otherNs.violations.some((v) => v.policyName === "k8s-image-pinned-registry"));
        });
    });

    it("stack policies tolerate unknown replicas instead of going advisory", async () => {
        const rs = mutate(compliantK8sStack(), "churn-server", (i) => { i.spec.replicas = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"; });
        const r = await run(rs);
        assert.deepEqual(k8sViolations(r), [], describeViolations(k8sViolations(r)));
    });

    it("accepts an allowed registry pattern from configuration", async () => {
        const rs = mutate(compliantK8sStack(), "churn-server", (i) => {
            i.spec.template.spec.containers[0].image = `ghcr.io/acme/server@${IMAGE.split("@")[1]}`;
        });
        const before = await run(rs);
        assert.ok(before.violations.some((v) => v.policyName === "k8s-image-pinned-registry"));
        const after = await run(rs, { "k8s-image-pinned-registry": { allowedRegistries: ["*.dkr.ecr.*.amazonaws.com/*", "ghcr.io/acme/*"] } });
        assert.ok(!after.violations.some((v) => v.policyName === "k8s-image-pinned-registry"));
    });
});

function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v));
}
