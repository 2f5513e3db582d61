// Workload hygiene beyond PSS: resources, GPUs, images, env secrets, tokens, namespaces, probes,
// bounded Jobs. Catalog rows 70-73, 77 (workload parts) and 78.
import { ResourceValidationPolicy } from "@pulumi/policy";
import { ExemptableConfig, k8sResourcePolicy, workloadPolicy } from "./k8s-policy-factory";
import { ROLE_LABEL } from "../../../release-contract/annotations";
import { containersOf, globMatch, K8S, lit, quantityToNumber, UNKNOWN, WORKLOAD_TYPES } from "./k8s-resources";


/** Row 70: requests and memory limit on app containers. */
export const resourcesSet: ResourceValidationPolicy = workloadPolicy<ExemptableConfig & { requireCpuLimit: boolean }>({
    name: "k8s-resources-set",
    description: "Containers must set cpu and memory requests and a memory limit (cpu limit optional by config).",
    severity: "medium",
    tags: ["kubernetes", "reliability"],
    remediationSteps: "Set resources.requests.{cpu,memory} and resources.limits.memory on every container.",
    configProperties: {
        requireCpuLimit: { type: "boolean", default: false, description: "Also require resources.limits.cpu." },
    },
    defaults: { requireCpuLimit: false },
    check: ({ pod, config }, report) => {
        for (const c of containersOf(pod, ["initContainers", "containers"])) {
            const r = c.container.resources ?? {};
            const missing: string[] = [];
            if (r.requests?.cpu === undefined) missing.push("requests.cpu");
            if (r.requests?.memory === undefined) missing.push("requests.memory");
            if (r.limits?.memory === undefined) missing.push("limits.memory");
            if (config.requireCpuLimit && r.limits?.cpu === undefined) missing.push("limits.cpu");
            if (missing.length) {
                report(`container '${c.name}' lacks resources.${missing.join(", resources.")}`);
            }
        }
    },
});

export interface GpuConfig extends ExemptableConfig {
    gpuResourceName: string;
    gpuTaintKey: string;
}

/** True when a toleration list tolerates a NoSchedule taint with this key (any value). */
export function toleratesTaintKey(tolerations: unknown, key: string, effect = "NoSchedule"): boolean {
    if (!Array.isArray(tolerations)) return false;
    return tolerations.some((t: any) => {
        const keyOk = t?.key === key || ((t?.key === undefined || t?.key === "") && t?.operator === "Exists");
        const effectOk = t?.effect === undefined || t?.effect === "" || t?.effect === effect;
        return keyOk && effectOk;
    });
}

/** Row 71: GPU resources in limits (requests equal if set), whole numbers; GPU pods tolerate the taint; others don't. */
export const gpuRequestsValid: ResourceValidationPolicy = workloadPolicy<GpuConfig>({
    name: "k8s-gpu-requests-valid",
    description:
        "Containers using GPUs set the GPU resource in limits as a positive whole number (requests, if set, equal limits); " +
        "GPU pods tolerate the GPU taint; pods that request no GPU do not tolerate it (except DaemonSets).",
    severity: "high",
    tags: ["kubernetes", "gpu", "scheduling"],
    remediationSteps:
        'Put e.g. "nvidia.com/gpu": 1 under resources.limits and add the toleration { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }.',
    configProperties: {
        gpuResourceName: { type: "string", default: "nvidia.com/gpu", description: "Extended resource name of GPUs." },
        gpuTaintKey: { type: "string", default: "nvidia.com/gpu", description: "Taint key on GPU nodes." },
    },
    defaults: { gpuResourceName: "nvidia.com/gpu", gpuTaintKey: "nvidia.com/gpu" },
    check: ({ type, pod, config }, report) => {
        const g = config.gpuResourceName;
        let usesGpu = false;
        for (const c of containersOf(pod)) {
            const lim = c.container.resources?.limits?.[g];
            const req = c.container.resources?.requests?.[g];
            if (lim === undefined && req === undefined) continue;
            usesGpu = true;
            if (lim === undefined) {
                report(`container '${c.name}' requests ${g} without a limit; extended resources must be set in limits`);
                continue;
            }
            const n = quantityToNumber(lim);
            if (!Number.isInteger(n) || n < 1) {
                report(`container '${c.name}' limits ${g} to '${lim}'; must be a positive whole number`);
            }
            if (req !== undefined && quantityToNumber(req) !== n) {
                report(`container '${c.name}' requests ${req} ${g} but limits ${lim}; they must be equal`);
            }
        }
        const tolerates = toleratesTaintKey(pod.spec.tolerations, config.gpuTaintKey);
        if (usesGpu && !tolerates) {
            report(`uses ${g} but does not tolerate the '${config.gpuTaintKey}' NoSchedule taint`);
        }
        if (!usesGpu && tolerates && type !== K8S.daemonSet) {
            report(`tolerates the '${config.gpuTaintKey}' taint without requesting ${g}; it would occupy GPU nodes`);
        }
    },
});

/** Splits an image reference into registry host, repository path, tag and digest. */
export function parseImageRef(image: string): { host: string; path: string; tag?: string; digest?: string } {
    let rest = image;
    let digest: string | undefined;
    const at = rest.indexOf("@");
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
    }
    let tag: string | undefined;
    const lastSlash = rest.lastIndexOf("/");
    const colon = rest.lastIndexOf(":");
    if (colon > lastSlash) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
    }
    const slash = rest.indexOf("/");
    const first = slash >= 0 ? rest.slice(0, slash) : "";
    if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
        return { host: first, path: rest.slice(slash + 1), tag, digest };
    }
    return { host: "docker.io", path: slash >= 0 ? rest : `library/${rest}`, tag, digest };
}

/** `*.dkr.ecr.*.amazonaws.com/*`: the host part never matches across `/`. */
export function imageMatchesRegistry(image: string, pattern: string): boolean {
    const ref = parseImageRef(image);
    const slash = pattern.indexOf("/");
    const hostPat = slash >= 0 ? pattern.slice(0, slash) : pattern;
    const pathPat = slash >= 0 ? pattern.slice(slash + 1) : "*";
    return !ref.host.includes("/") && globMatch(hostPat, ref.host) && globMatch(pathPat, ref.path);
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Row 72: image from an allowed registry, pinned by digest (or at least a non-latest tag). */
export const imagePinnedRegistry: ResourceValidationPolicy = workloadPolicy<ExemptableConfig & { allowedRegistries: string[]; requireDigest: boolean }>({
    name: "k8s-image-pinned-registry",
    description:
        "Container images must come from an allowed registry (default: our ECR) and be pinned by @sha256 digest " +
        "(or, with requireDigest false, an explicit tag other than latest).",
    severity: "high",
    tags: ["kubernetes", "supply-chain"],
    remediationSteps: "Reference images as <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest> (ContainerRegistry outputs the digest).",
    configProperties: {
        allowedRegistries: {
            type: "array",
            items: { type: "string" },
            default: ["*.dkr.ecr.*.amazonaws.com/*"],
            description: "Glob patterns `<host>/<path>`; `*` in the host never spans `/`.",
        },
        requireDigest: { type: "boolean", default: true, description: "Require @sha256:<digest> pinning." },
    },
    defaults: { allowedRegistries: ["*.dkr.ecr.*.amazonaws.com/*"], requireDigest: true },
    check: ({ pod, config }, report) => {
        for (const c of containersOf(pod)) {
            const image = lit(() => c.container.image);
            if (image === UNKNOWN) {
                // Computed from another resource (an image built in this stack): judged at `pulumi up`.
                continue;
            }
            if (typeof image !== "string" || !image) {
                report(`container '${c.name}' has no image`);
                continue;
            }
            if (!config.allowedRegistries.some((p) => imageMatchesRegistry(image, p))) {
                report(`container '${c.name}' image '${image}' is not from an allowed registry (${config.allowedRegistries.join(", ")})`);
            }
            const ref = parseImageRef(image);
            if (ref.digest !== undefined && !DIGEST_RE.test(ref.digest)) {
                report(`container '${c.name}' image '${image}' has a malformed digest`);
            } else if (config.requireDigest && ref.digest === undefined) {
                report(`container '${c.name}' image '${image}' is not pinned by @sha256 digest`);
            } else if (ref.digest === undefined && (ref.tag === undefined || ref.tag === "latest")) {
                report(`container '${c.name}' image '${image}' uses ${ref.tag ? "the 'latest' tag" : "no tag (implicit latest)"}`);
            }
        }
    },
});

const SECRET_NAME_RE = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;
const SECRET_VALUE_RES: [string, RegExp][] = [
    ["an AWS access key id", /\b(AKIA|ASIA)[0-9A-Z]{16}\b/],
    ["a private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
    ["a GitHub token", /\bgh[pousr]_[A-Za-z0-9]{36,}\b/],
    ["a Slack token", /\bxox[abposr]-[A-Za-z0-9-]{10,}/],
];

/** Row 77 (CKV_K8S_35): secrets come from secretKeyRef, never literal env values. */
export const noSecretEnvLiterals: ResourceValidationPolicy = workloadPolicy<ExemptableConfig & { allowedNames: string[] }>({
    name: "k8s-no-secret-env-literals",
    description:
        "Environment variables whose name suggests a secret (PASSWORD, TOKEN, SECRET, API_KEY, ...) must use valueFrom.secretKeyRef, " +
        "and no literal value may look like a credential.",
    severity: "high",
    tags: ["kubernetes", "security", "secrets"],
    remediationSteps: "Store the value in a Kubernetes Secret (or fetch it via workload identity) and reference it with valueFrom.secretKeyRef.",
    configProperties: {
        allowedNames: {
            type: "array",
            items: { type: "string" },
            default: ["*_FILE", "*_PATH", "*_NAME", "*_ARN", "*_ID", "*_URI"],
            description: "Name globs that are references to secrets rather than secrets (e.g. AWS_WEB_IDENTITY_TOKEN_FILE).",
        },
    },
    defaults: { allowedNames: ["*_FILE", "*_PATH", "*_NAME", "*_ARN", "*_ID", "*_URI"] },
    check: ({ pod, config }, report) => {
        for (const c of containersOf(pod)) {
            const env = c.container.env;
            if (!Array.isArray(env)) continue;
            for (const e of env) {
                const name = String(e?.name ?? "");
                if (!e || !("value" in e)) continue;
                // A computed value (unknown at preview) is still a literal in the pod spec once applied.
                const value = lit(() => e.value);
                if (value !== UNKNOWN && (value === undefined || value === null || value === "")) continue;
                if (SECRET_NAME_RE.test(name) && !config.allowedNames.some((p) => globMatch(p, name))) {
                    report(`container '${c.name}' env ${name} has a literal value; use valueFrom.secretKeyRef`);
                    continue;
                }
                if (typeof value === "string") {
                    for (const [what, re] of SECRET_VALUE_RES) {
                        if (re.test(value)) report(`container '${c.name}' env ${name} looks like ${what}`);
                    }
                }
            }
        }
    },
});

/** Row 77 (CKV_K8S_38): no API token mounted unless the pod talks to the API server (exempt it). */
export const noAutomountToken: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-no-automount-sa-token",
    description:
        "Pods must set automountServiceAccountToken: false (IRSA and EKS Pod Identity inject their own tokens); " +
        "exempt pods that call the Kubernetes API by configuration.",
    severity: "medium",
    tags: ["kubernetes", "security"],
    remediationSteps: "Set spec.automountServiceAccountToken: false in the pod template.",
    defaults: {},
    check: ({ pod }, report) => {
        if (pod.spec.automountServiceAccountToken !== false) {
            report(`${pod.path}.automountServiceAccountToken is not false`);
        }
    },
});

const NAMESPACED_TYPES: string[] = [
    ...WORKLOAD_TYPES,
    K8S.service,
    K8S.serviceAccount,
    K8S.configMap,
    K8S.secret,
    K8S.networkPolicy,
    K8S.podDisruptionBudget,
    K8S.hpa,
    K8S.role,
    K8S.roleBinding,
    K8S.httpRoute,
];

/** Row 77 (CKV_K8S_21): no objects in the default namespace. */
export const noDefaultNamespace: ResourceValidationPolicy = k8sResourcePolicy<ExemptableConfig & { requireExplicitNamespace: boolean }>({
    name: "k8s-no-default-namespace",
    description: "Namespaced objects must not live in the 'default' namespace; by default metadata.namespace must be set explicitly.",
    severity: "medium",
    tags: ["kubernetes", "security"],
    remediationSteps: "Create a dedicated Namespace and set metadata.namespace.",
    types: NAMESPACED_TYPES,
    configProperties: {
        requireExplicitNamespace: {
            type: "boolean",
            default: true,
            description: "Treat an unset metadata.namespace (provider default, often 'default') as a violation.",
        },
    },
    defaults: { requireExplicitNamespace: true },
    check: ({ meta, config }, report) => {
        if (meta.namespace === "default") {
            report("is in the 'default' namespace");
        } else if (meta.namespace === undefined && !meta.namespaceUnknown && config.requireExplicitNamespace) {
            report("does not set metadata.namespace (it would land in the provider's default namespace)");
        }
    },
});

/** Row 77 (CR disallow-pod): Pods only through controllers. */
export const noBarePods: ResourceValidationPolicy = k8sResourcePolicy<ExemptableConfig>({
    name: "k8s-no-bare-pods",
    description: "Pods must be created by a controller (Deployment, StatefulSet, Job, ...), not declared directly.",
    severity: "medium",
    tags: ["kubernetes", "reliability"],
    remediationSteps: "Wrap the pod in a Deployment (long-running) or a Job (run to completion).",
    types: [K8S.pod],
    defaults: {},
    check: (_ctx, report) => report("is a bare Pod; use a Deployment or Job"),
});

/** Row 73: readiness and liveness probes on serving (and tracking) containers. */
export const servingProbes: ResourceValidationPolicy = workloadPolicy<ExemptableConfig & { roles: string[] }>({
    name: "k8s-serving-probes",
    description: `Long-running workloads labelled ${ROLE_LABEL} in the configured roles need readiness and liveness probes on every container.`,
    severity: "medium",
    tags: ["kubernetes", "reliability", "serving"],
    remediationSteps: "Add readinessProbe and livenessProbe (HTTP health endpoints of the model server).",
    types: [K8S.deployment, K8S.statefulSet],
    configProperties: {
        roles: {
            type: "array",
            items: { type: "string" },
            default: ["serving", "tracking"],
            description: `Values of the ${ROLE_LABEL} label this applies to.`,
        },
    },
    defaults: { roles: ["serving", "tracking"] },
    check: ({ meta, pod, config }, report) => {
        const role = meta.labels[ROLE_LABEL] ?? pod.podLabels[ROLE_LABEL];
        if (!role || !config.roles.includes(role)) return;
        for (const c of containersOf(pod, ["containers"])) {
            const missing = ["readinessProbe", "livenessProbe"].filter((p) => !c.container[p]);
            if (missing.length) report(`${role} container '${c.name}' lacks ${missing.join(" and ")}`);
        }
    },
});

interface JobBoundsConfig extends ExemptableConfig {
    maxBackoffLimit: number;
    maxActiveDeadlineSeconds: number;
    allowedConcurrencyPolicies: string[];
}

/** Kubernetes' default backoffLimit when unset. */
const K8S_DEFAULT_BACKOFF_LIMIT = 6;

function checkJobSpec(spec: any, path: string, config: JobBoundsConfig, report: (m: string) => void): void {
    const ads = spec?.activeDeadlineSeconds;
    if (typeof ads !== "number" || ads <= 0) {
        report(`${path}.activeDeadlineSeconds is not set; a stuck run would hold GPUs indefinitely`);
    } else if (ads > config.maxActiveDeadlineSeconds) {
        report(`${path}.activeDeadlineSeconds ${ads} exceeds ${config.maxActiveDeadlineSeconds}`);
    }
    const bl = spec?.backoffLimit ?? K8S_DEFAULT_BACKOFF_LIMIT;
    if (typeof bl !== "number" || bl > config.maxBackoffLimit) {
        report(`${path}.backoffLimit is ${spec?.backoffLimit ?? `unset (defaults to ${K8S_DEFAULT_BACKOFF_LIMIT})`}; must be <= ${config.maxBackoffLimit}`);
    }
    if (spec?.ttlSecondsAfterFinished === undefined) {
        report(`${path}.ttlSecondsAfterFinished is not set; finished Jobs would accumulate`);
    }
}

/** Row 78: Jobs and CronJobs bounded in time, retries and lifetime. */
export const trainingJobBounded: ResourceValidationPolicy = k8sResourcePolicy<JobBoundsConfig>({
    name: "k8s-training-job-bounded",
    description:
        "Jobs set activeDeadlineSeconds, backoffLimit <= max and ttlSecondsAfterFinished; CronJobs also set " +
        "startingDeadlineSeconds and a non-overlapping concurrencyPolicy (Forbid).",
    severity: "medium",
    tags: ["kubernetes", "cost", "training"],
    remediationSteps: "Set activeDeadlineSeconds, backoffLimit, ttlSecondsAfterFinished; for CronJobs startingDeadlineSeconds and concurrencyPolicy: Forbid.",
    types: [K8S.job, K8S.cronJob],
    configProperties: {
        maxBackoffLimit: { type: "integer", minimum: 0, default: 3, description: "Largest allowed backoffLimit." },
        maxActiveDeadlineSeconds: {
            type: "integer",
            minimum: 1,
            default: 259200,
            description: "Largest allowed activeDeadlineSeconds (default 3 days).",
        },
        allowedConcurrencyPolicies: {
            type: "array",
            items: { type: "string", enum: ["Allow", "Forbid", "Replace"] },
            default: ["Forbid"],
            description: "CronJob concurrencyPolicy values allowed.",
        },
    },
    defaults: { maxBackoffLimit: 3, maxActiveDeadlineSeconds: 259200, allowedConcurrencyPolicies: ["Forbid"] },
    check: ({ type, props, config }, report) => {
        if (type === K8S.job) {
            checkJobSpec(props.spec, "spec", config, report);
            return;
        }
        const spec = props.spec;
        if (spec?.startingDeadlineSeconds === undefined) {
            report("spec.startingDeadlineSeconds is not set; missed schedules would pile up after an outage");
        }
        const cp = spec?.concurrencyPolicy ?? "Allow";
        if (!config.allowedConcurrencyPolicies.includes(cp)) {
            report(`spec.concurrencyPolicy is ${cp}; allowed: ${config.allowedConcurrencyPolicies.join(", ")}`);
        }
        checkJobSpec(spec?.jobTemplate?.spec, "spec.jobTemplate.spec", config, report);
    },
});

/** Label that submits a Job to a Kueue LocalQueue (components/trainingQueues.ts QUEUE_NAME_LABEL). */
const KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name";

/**
 * GPU Jobs go through the training queue: labelled with a Kueue LocalQueue and created suspended,
 * so quota, priorities and all-or-nothing admission apply. A GPU Job without the label starts at
 * once, outside every quota, and a multi-worker one can hold GPUs while waiting for its peers.
 */
export const gpuJobQueued: ResourceValidationPolicy = k8sResourcePolicy<ExemptableConfig & { gpuResourceName: string }>({
    name: "k8s-gpu-job-queued",
    description:
        "Jobs (and CronJob templates) that request GPUs carry the kueue.x-k8s.io/queue-name label and are created suspended, " +
        "so Kueue's quotas, priorities and all-or-nothing admission apply.",
    severity: "high",
    tags: ["kubernetes", "gpu", "cost", "training"],
    remediationSteps: "Submit through TrainingQueues: TrainingJob queue: { name: <LocalQueue> } (mlops-platform:trainingQueues) sets the label and suspend: true.",
    types: [K8S.job, K8S.cronJob],
    configProperties: {
        gpuResourceName: { type: "string", default: "nvidia.com/gpu", description: "Extended resource name of GPUs." },
    },
    defaults: { gpuResourceName: "nvidia.com/gpu" },
    check: ({ type, props, config }, report) => {
        const job = type === K8S.job ? { meta: props.metadata, spec: props.spec, path: "" } : { meta: props.spec?.jobTemplate?.metadata, spec: props.spec?.jobTemplate?.spec, path: "spec.jobTemplate." };
        const containers = [...(job.spec?.template?.spec?.containers ?? []), ...(job.spec?.template?.spec?.initContainers ?? [])];
        const gpu = containers.some((c: any) => c?.resources?.limits?.[config.gpuResourceName] !== undefined || c?.resources?.requests?.[config.gpuResourceName] !== undefined);
        if (!gpu) return;
        const queue = job.meta?.labels?.[KUEUE_QUEUE_LABEL];
        if (queue === undefined || queue === "") {
            report(`requests ${config.gpuResourceName} but has no ${job.path}metadata.labels['${KUEUE_QUEUE_LABEL}']: it bypasses the training queue`);
        } else if (job.spec?.suspend !== true) {
            report(`is queued (${queue}) but ${job.path}spec.suspend is not true: it would start before Kueue admits it`);
        }
    },
});

export const workloadPolicies: ResourceValidationPolicy[] = [
    gpuJobQueued,
    resourcesSet,
    gpuRequestsValid,
    imagePinnedRegistry,
    noSecretEnvLiterals,
    noAutomountToken,
    noDefaultNamespace,
    noBarePods,
    servingProbes,
    trainingJobBounded,
];
