// Validation of Kubernetes workload inputs shared by the components that run pods: digest-pinned
// images and resource quantities. Plain values are checked at construction; Outputs when they resolve.
import { ResourceSpec } from "./k8s-security";
import { Problems, checkInt, describe } from "./validation";

/** Image references must be pinned by digest: `<repo>@sha256:<64 hex>`. */
export const DIGEST_PINNED_IMAGE = /^[^\s@]+@sha256:[a-f0-9]{64}$/;

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const UNITS: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** Value of a Kubernetes quantity ("1Gi" → bytes, "500m" → 0.5), or undefined when it is not one. */
export function quantityValue(q: unknown): number | undefined {
    const m = typeof q === "string" ? QUANTITY.exec(q) : null;
    return m ? Number(m[1]) * UNITS[m[2] ?? ""] : undefined;
}

/** Checks a plain image reference is digest-pinned (an Output is checked by {@link assertDigestPinned}). @internal */
export function checkImage(p: Problems, path: string, image: unknown): void {
    if (typeof image === "string") {
        p.check(DIGEST_PINNED_IMAGE.test(image), path, `must be pinned by digest (<repository>@sha256:<64 hex>), got ${describe(image)}`);
    } else {
        p.check(image !== undefined && image !== null, path, "is required (a digest-pinned image reference)");
    }
}

/** Returns a resolved image reference, or throws InputPropertiesError when it is not digest-pinned. @internal */
export function assertDigestPinned(subject: string, path: string, image: string): string {
    const p = new Problems(subject);
    checkImage(p, path, image);
    p.throwIfAny();
    return image;
}

/** Checks a {@link ResourceSpec}: cpu and memory required, every value a quantity. @internal */
export function checkResources(p: Problems, path: string, r: ResourceSpec | undefined): void {
    if (r === undefined) {
        return;
    }
    for (const key of ["cpu", "memory", "cpuLimit", "memoryLimit"] as const) {
        const v = r[key];
        if (v !== undefined || key === "cpu" || key === "memory") {
            p.check(quantityValue(v) !== undefined, `${path}.${key}`, `must be a Kubernetes quantity such as "500m" or "2Gi", got ${describe(v)}`);
        }
    }
    if (r.gpus !== undefined) {
        checkInt(p, `${path}.gpus`, r.gpus, 0, 16);
    }
}
