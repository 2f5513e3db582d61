// Pod Security Standards (restricted profile, plus the baseline controls it includes) as one
// policy per control, catalog rows 60-69. https://kubernetes.io/docs/concepts/security/pod-security-standards/
import { ResourceValidationPolicy } from "@pulumi/policy";
import { ExemptableConfig, workloadPolicy } from "./k8s-policy-factory";
import { containersOf, ContainerRef } from "./k8s-resources";

const PSS_TAGS = ["kubernetes", "security", "pod-security-standards"];

/** Row 60: runAsNonRoot true for every container (pod-level setting inherited). */
export const runAsNonRoot: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-run-as-non-root",
    description: "Containers must run with securityContext.runAsNonRoot: true (PSS restricted).",
    severity: "high",
    tags: PSS_TAGS,
    remediationSteps: "Set spec.securityContext.runAsNonRoot: true on the pod (or on each container).",
    defaults: {},
    check: ({ pod }, report) => {
        for (const c of containersOf(pod)) {
            const v = c.container.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot;
            if (v !== true) {
                report(`container '${c.name}' does not set runAsNonRoot: true (effective value: ${v ?? "unset"})`);
            }
        }
    },
});

/** Row 61: runAsUser never 0; optionally at least a configured minimum. */
export const runAsUserNonZero: ResourceValidationPolicy = workloadPolicy<ExemptableConfig & { minimumUserId?: number }>({
    name: "k8s-run-as-user-nonzero",
    description: "runAsUser must not be 0 at pod or container level; optionally it must be set and >= minimumUserId.",
    severity: "high",
    tags: PSS_TAGS,
    remediationSteps: "Remove runAsUser: 0; set a high non-root UID (e.g. 10001) in the pod securityContext.",
    configProperties: {
        minimumUserId: {
            type: "integer",
            minimum: 1,
            description: "When set, every container's effective runAsUser must be set and >= this value (e.g. 10000).",
        },
    },
    defaults: {},
    check: ({ pod, config }, report) => {
        const podUser = pod.spec.securityContext?.runAsUser;
        if (podUser === 0) {
            report(`${pod.path}.securityContext.runAsUser is 0 (root)`);
        }
        for (const c of containersOf(pod)) {
            const own = c.container.securityContext?.runAsUser;
            if (own === 0) {
                report(`container '${c.name}' sets runAsUser: 0 (root)`);
                continue;
            }
            const eff = own ?? podUser;
            if (config.minimumUserId !== undefined && !(typeof eff === "number" && eff >= config.minimumUserId)) {
                report(`container '${c.name}' runs as user ${eff ?? "unset (image default)"}; must be >= ${config.minimumUserId}`);
            }
        }
    },
});

/** Row 62: allowPrivilegeEscalation explicitly false. */
export const noPrivilegeEscalation: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-no-privilege-escalation",
    description: "Every container must set securityContext.allowPrivilegeEscalation: false explicitly (PSS restricted).",
    severity: "high",
    tags: PSS_TAGS,
    remediationSteps: "Set allowPrivilegeEscalation: false in each container's securityContext.",
    defaults: {},
    check: ({ pod }, report) => {
        for (const c of containersOf(pod)) {
            if (c.container.securityContext?.allowPrivilegeEscalation !== false) {
                report(`container '${c.name}' does not set allowPrivilegeEscalation: false`);
            }
        }
    },
});

/** Row 63: drop ALL, add only from an allowlist (default NET_BIND_SERVICE). */
export const dropAllCapabilities: ResourceValidationPolicy = workloadPolicy<ExemptableConfig & { allowedAddCapabilities: string[] }>({
    name: "k8s-drop-all-capabilities",
    description: "Containers must drop ALL capabilities and add none beyond the allowlist (PSS restricted: NET_BIND_SERVICE).",
    severity: "high",
    tags: PSS_TAGS,
    remediationSteps: 'Set securityContext.capabilities: { drop: ["ALL"] } and add back only NET_BIND_SERVICE if needed.',
    configProperties: {
        allowedAddCapabilities: {
            type: "array",
            items: { type: "string" },
            default: ["NET_BIND_SERVICE"],
            description: "Capabilities a container may add.",
        },
    },
    defaults: { allowedAddCapabilities: ["NET_BIND_SERVICE"] },
    check: ({ pod, config }, report) => {
        for (const c of containersOf(pod)) {
            const caps = c.container.securityContext?.capabilities;
            const drop: unknown[] = Array.isArray(caps?.drop) ? [...caps.drop] : [];
            if (!drop.includes("ALL")) {
                report(`container '${c.name}' does not drop ALL capabilities`);
            }
            const add: unknown[] = Array.isArray(caps?.add) ? [...caps.add] : [];
            const extra = add.filter((a) => !config.allowedAddCapabilities.includes(String(a)));
            if (extra.length) {
                report(`container '${c.name}' adds capabilities ${extra.join(", ")} (allowed: ${config.allowedAddCapabilities.join(", ") || "none"})`);
            }
        }
    },
});

const SECCOMP_ALLOWED = ["RuntimeDefault", "Localhost"];

/** Row 64: seccomp RuntimeDefault/Localhost, at pod level or on every container. */
export const seccompRuntimeDefault: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-seccomp-runtime-default",
    description: "seccompProfile.type must be RuntimeDefault or Localhost for every container (pod-level inherited); Unconfined is forbidden.",
    severity: "medium",
    tags: PSS_TAGS,
    remediationSteps: "Set spec.securityContext.seccompProfile: { type: RuntimeDefault } on the pod.",
    defaults: {},
    check: ({ pod }, report) => {
        const podType = pod.spec.securityContext?.seccompProfile?.type;
        if (podType !== undefined && !SECCOMP_ALLOWED.includes(podType)) {
            report(`${pod.path}.securityContext.seccompProfile.type is '${podType}'`);
        }
        for (const c of containersOf(pod)) {
            const own = c.container.securityContext?.seccompProfile?.type;
            const eff = own ?? podType;
            if (!SECCOMP_ALLOWED.includes(eff)) {
                report(`container '${c.name}' seccomp profile is ${eff ?? "unset"}; must be RuntimeDefault or Localhost`);
            }
        }
    },
});

/** Row 65: privileged never true. */
export const noPrivileged: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-no-privileged",
    description: "Containers must not run privileged (PSS baseline).",
    severity: "critical",
    tags: PSS_TAGS,
    remediationSteps: "Remove securityContext.privileged: true; exempt a node agent by configuration if it truly needs it.",
    defaults: {},
    check: ({ pod }, report) => {
        for (const c of containersOf(pod)) {
            if (c.container.securityContext?.privileged === true) {
                report(`container '${c.name}' is privileged`);
            }
        }
    },
});

/** Row 66: hostNetwork/hostPID/hostIPC. */
export const noHostNamespaces: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-no-host-namespaces",
    description: "Pods must not share the host network, PID or IPC namespace (PSS baseline).",
    severity: "critical",
    tags: PSS_TAGS,
    remediationSteps: "Remove hostNetwork/hostPID/hostIPC from the pod spec.",
    defaults: {},
    check: ({ pod }, report) => {
        for (const f of ["hostNetwork", "hostPID", "hostIPC"]) {
            if (pod.spec[f] === true) {
                report(`${pod.path}.${f} is true`);
            }
        }
    },
});

const RESTRICTED_VOLUME_TYPES = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/** Row 67: volume types limited to the restricted set (no hostPath). */
export const restrictedVolumes: ResourceValidationPolicy = workloadPolicy<ExemptableConfig & { allowedVolumeTypes: string[] }>({
    name: "k8s-restricted-volumes",
    description: "Volumes may only be configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret (no hostPath).",
    severity: "high",
    tags: PSS_TAGS,
    remediationSteps: "Replace hostPath and other node-bound volume sources with emptyDir, a PVC or a CSI volume.",
    configProperties: {
        allowedVolumeTypes: {
            type: "array",
            items: { type: "string" },
            default: RESTRICTED_VOLUME_TYPES,
            description: "Volume source fields a pod may use.",
        },
    },
    defaults: { allowedVolumeTypes: RESTRICTED_VOLUME_TYPES },
    check: ({ pod, config }, report) => {
        const vols = pod.spec.volumes;
        if (!Array.isArray(vols)) return;
        vols.forEach((v: any, i: number) => {
            const sources = Object.keys(v ?? {}).filter((k) => k !== "name");
            for (const s of sources) {
                if (!config.allowedVolumeTypes.includes(s)) {
                    report(`volume '${v.name ?? i}' uses ${s} (allowed: ${config.allowedVolumeTypes.join(", ")})`);
                }
            }
        });
    },
});

/** Row 68: no hostPort. */
export const noHostPorts: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-no-host-ports",
    description: "Container ports must not bind a hostPort (PSS baseline).",
    severity: "medium",
    tags: PSS_TAGS,
    remediationSteps: "Remove ports[].hostPort; expose the pod through a Service.",
    defaults: {},
    check: ({ pod }, report) => {
        for (const c of containersOf(pod)) {
            const ports = c.container.ports;
            if (!Array.isArray(ports)) continue;
            for (const p of ports) {
                if (p?.hostPort !== undefined && p.hostPort !== 0) {
                    report(`container '${c.name}' binds hostPort ${p.hostPort}`);
                }
            }
        }
    },
});

/** Row 69: read-only root filesystem (scratch goes to emptyDir). */
export const readOnlyRootFs: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-readonly-rootfs",
    description: "Containers must set readOnlyRootFilesystem: true; writable scratch space comes from emptyDir volumes.",
    severity: "medium",
    tags: ["kubernetes", "security"],
    remediationSteps: "Set readOnlyRootFilesystem: true and mount an emptyDir at the paths the process writes (/tmp, caches, /dev/shm).",
    defaults: {},
    check: ({ pod }, report) => {
        for (const c of containersOf(pod, ["initContainers", "containers"])) {
            if (c.container.securityContext?.readOnlyRootFilesystem !== true) {
                report(`container '${c.name}' does not set readOnlyRootFilesystem: true`);
            }
        }
    },
});

const SAFE_SYSCTLS = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SELINUX_TYPES = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

function probeHosts(c: ContainerRef): string[] {
    const found: string[] = [];
    const handlers: [string, any][] = [
        ["livenessProbe", c.container.livenessProbe],
        ["readinessProbe", c.container.readinessProbe],
        ["startupProbe", c.container.startupProbe],
        ["lifecycle.postStart", c.container.lifecycle?.postStart],
        ["lifecycle.preStop", c.container.lifecycle?.preStop],
    ];
    for (const [where, h] of handlers) {
        for (const kind of ["httpGet", "tcpSocket"]) {
            const host = h?.[kind]?.host;
            if (host !== undefined && host !== "") {
                found.push(`${where}.${kind}.host=${host}`);
            }
        }
    }
    return found;
}

function checkSecurityOptions(where: string, sc: any, report: (m: string) => void): void {
    if (!sc) return;
    if (sc.windowsOptions?.hostProcess === true) report(`${where} sets windowsOptions.hostProcess: true`);
    if (sc.procMount !== undefined && sc.procMount !== "Default") report(`${where} sets procMount: ${sc.procMount}`);
    const se = sc.seLinuxOptions;
    if (se) {
        if (se.type !== undefined && !SELINUX_TYPES.includes(se.type)) report(`${where} sets seLinuxOptions.type: ${se.type}`);
        if (se.user) report(`${where} sets seLinuxOptions.user`);
        if (se.role) report(`${where} sets seLinuxOptions.role`);
    }
    if (sc.appArmorProfile?.type === "Unconfined") report(`${where} sets appArmorProfile.type: Unconfined`);
}

/** PSS baseline controls not covered above: hostProcess, procMount, SELinux, AppArmor, sysctls, probe hosts. */
export const noUnsafePodOptions: ResourceValidationPolicy = workloadPolicy<ExemptableConfig>({
    name: "k8s-no-unsafe-pod-options",
    description:
        "Pods must not use hostProcess, a non-default procMount, custom SELinux user/role/type, AppArmor Unconfined, " +
        "unsafe sysctls, or probe/lifecycle handlers aimed at another host (PSS baseline).",
    severity: "high",
    tags: PSS_TAGS,
    remediationSteps: "Remove the listed securityContext options; use only the PSS safe sysctls.",
    defaults: {},
    check: (ctx, report) => {
        const { pod } = ctx;
        checkSecurityOptions(pod.path + ".securityContext", pod.spec.securityContext, report);
        const sysctls = pod.spec.securityContext?.sysctls;
        if (Array.isArray(sysctls)) {
            for (const s of sysctls) {
                if (!SAFE_SYSCTLS.includes(s?.name)) report(`sysctl '${s?.name}' is not in the PSS safe set`);
            }
        }
        const podAnn = ctx.pod.podAnnotations;
        for (const [k, v] of Object.entries(podAnn)) {
            if (k.startsWith("container.apparmor.security.beta.kubernetes.io/") && v === "unconfined") {
                report(`annotation ${k}=unconfined`);
            }
        }
        for (const c of containersOf(pod)) {
            checkSecurityOptions(`container '${c.name}'`, c.container.securityContext, report);
            for (const h of probeHosts(c)) report(`container '${c.name}' ${h}`);
        }
    },
});

export const podSecurityPolicies: ResourceValidationPolicy[] = [
    runAsNonRoot,
    runAsUserNonZero,
    noPrivilegeEscalation,
    dropAllCapabilities,
    seccompRuntimeDefault,
    noPrivileged,
    noHostNamespaces,
    restrictedVolumes,
    noHostPorts,
    readOnlyRootFs,
    noUnsafePodOptions,
];
