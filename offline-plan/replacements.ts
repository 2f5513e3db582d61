// Which input changes make a provider REPLACE a resource instead of updating it in place. One table,
// read by the offline plan's diff (`mlops plan --compare`) and by the engine tier's mock provider
// plugins (their `diff` answers `replaces` from it), so both say "replace" for the same change.
// Each rule names the provider source it was read from.

/** One property whose change forces replacement. */
export interface ReplaceRule {
    /** Pulumi type token, e.g. `kubernetes:batch/v1:Job`. */
    type: string;
    /** Dotted input path; a change at or below it forces replacement, e.g. `spec.template`. */
    property: string;
    /** Where the provider decides it (file/schema and what it says). */
    source: string;
}

export const REPLACE_RULES: readonly ReplaceRule[] = [
    {
        type: "kubernetes:batch/v1:Job",
        property: "spec.template",
        source: "Kubernetes API: a Job's pod template is immutable; pulumi-kubernetes replaces on a change it cannot patch",
    },
    {
        type: "kubernetes:apps/v1:Deployment",
        property: "spec.selector",
        source: "Kubernetes API: apps/v1 Deployment spec.selector is immutable",
    },
    {
        type: "aws:eks/nodeGroup:NodeGroup",
        property: "instanceTypes",
        source: "pulumi-aws schema: aws:eks/nodeGroup instanceTypes is ForceNew (terraform-provider-aws eks node_group)",
    },
];

/** True when `path` is `rulePath` or lies below it. */
function covers(rulePath: string, path: string): boolean {
    return path === rulePath || path.startsWith(`${rulePath}.`) || path.startsWith(`${rulePath}[`);
}

/**
 * The changed input paths (dotted, as the plan diff reports them) of a resource of `type` that force
 * its replacement, sorted.
 */
export function replacingPaths(type: string, changedPaths: readonly string[]): string[] {
    const rules = REPLACE_RULES.filter((r) => r.type === type);
    return changedPaths.filter((p) => rules.some((r) => covers(r.property, p))).sort();
}
