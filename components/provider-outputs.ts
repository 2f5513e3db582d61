// Outputs that only a provider computes (an ASG name of an EKS node group, the RDS-managed master
// secret, an image's registry digest, an S3 endpoint's prefix-list CIDRs). On a real deployment the
// provider always sets them; an ordinary `pulumi.runtime.setMocks` mock echoes only the inputs, so
// a component reading them would fail deep in an apply with a TypeError or a puzzling message.
// Every such read goes through `providerOutput`, which fails with one clear ResourceError naming
// the component, the resource type, the missing output and the likely cause.
import * as pulumi from "@pulumi/pulumi";

/** Where a provider-computed output is read: by which component, from which resource. */
export interface ProviderOutputSite {
    /** The reading component and its logical name, e.g. `GpuNodeGroup train`. */
    component: string;
    /** Pulumi type token of the resource (or invoke) that computes it, e.g. `aws:eks/nodeGroup:NodeGroup`. */
    resourceType: string;
    /** The output's path on that resource, e.g. `resources[0].autoscalingGroups[0].name`. */
    output: string;
    /** The component resource the error is reported against (shown by the engine without a stack trace). */
    resource: pulumi.Resource;
}

/** The message of a missing provider output (exported for tests and docs). */
export function missingProviderOutputMessage(site: Omit<ProviderOutputSite, "resource">): string {
    return (
        `${site.component}: ${site.resourceType} returned no \`${site.output}\`. The provider sets it on every real ` +
        `deployment, so this is most likely a unit test whose ordinary pulumi.runtime.setMocks mock returns only ` +
        `the inputs; use the provider-shaped mocks of mlops-platform/testing (setProviderMocks).`
    );
}

/** Thrown (inside an apply) when a provider-computed output is missing. */
export class MissingProviderOutputError extends pulumi.ResourceError {
    constructor(public readonly site: ProviderOutputSite) {
        // hideStack: the engine prints the message against the component, not a stack trace.
        super(missingProviderOutputMessage(site), site.resource, true);
        this.name = "MissingProviderOutputError";
    }
}

/** `value` when present (non-empty for strings and arrays), else throws MissingProviderOutputError. */
export function providerOutput<T>(value: T | undefined | null, site: ProviderOutputSite): T {
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && value.some((v) => v === undefined || v === null))) {
        throw new MissingProviderOutputError(site);
    }
    return value;
}
