// Shapes shared by the offline plan engine, the policy runner and the `mlops` CLI.

/** One resource the program registered, as the engine would see it at preview. */
export interface RecordedResource {
    /** Pulumi type token, e.g. `aws:s3/bucket:Bucket`. */
    type: string;
    /** Logical name passed to the constructor. */
    name: string;
    /** Full URN as the engine computes it (parent type chain included). */
    urn: string;
    /** URN of the parent resource ("" for the stack root's direct children). */
    parent: string;
    /** True for custom (provider-backed) resources, false for components. */
    custom: boolean;
    /** Provider reference `urn::id` for custom resources ("" = default provider). */
    provider: string;
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    /** URNs this resource depends on (explicit `dependsOn` and implicit input dependencies). */
    dependencies: string[];
    /** For each input property, the URNs it depends on. */
    propertyDependencies: Record<string, string[]>;
    additionalSecretOutputs: string[];
    ignoreChanges: string[];
    /** Inputs as declared (secret values are replaced by SECRET_PLACEHOLDER). */
    inputs: Record<string, any>;
    /** Input property paths (top-level keys) whose value was secret. */
    secretInputs: string[];
    /** Outputs the mock layer computed for it. */
    outputs: Record<string, any>;
    /** Resource id the mock layer assigned (custom resources). */
    id?: string;
}

/** What a secret looks like wherever the offline plan shows it. */
export const SECRET_PLACEHOLDER = "[secret]";
