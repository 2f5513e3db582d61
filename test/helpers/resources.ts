// Lookups over recorded resources for specs.
import * as assert from "node:assert/strict";
import { PolicyPackConfig } from "../../offline-plan/policy-runner";
import { RecordedResource } from "../../offline-plan/types";

/** The one resource of a type and logical name; fails listing what exists otherwise. */
export function one(resources: RecordedResource[], type: string, name: string): RecordedResource {
    const found = resources.filter((r) => r.type === type && r.name === name);
    assert.equal(
        found.length,
        1,
        `expected one ${type} named ${name}; have: ${resources.filter((r) => r.type === type).map((r) => r.name).join(", ") || "(none of that type)"}`,
    );
    return found[0];
}

export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
    return resources.filter((r) => r.type === type);
}

/** `type name` pairs, sorted, for exact-children assertions. */
export function inventory(resources: RecordedResource[]): string[] {
    return resources.map((r) => `${r.type} ${r.name}`).sort();
}

/** Children (direct) of a resource. */
export function childrenOf(resources: RecordedResource[], parent: RecordedResource): RecordedResource[] {
    return resources.filter((r) => r.parent === parent.urn);
}

/** Parses a JSON policy input. */
export function policyDoc(r: RecordedResource, prop = "policy"): any {
    const v = r.inputs[prop];
    return typeof v === "string" ? JSON.parse(v) : v;
}

/** Asserts `fn` throws an InputPropertiesError whose message and errors name `property`. */
export function assertInvalid(fn: () => unknown, property: string, reason?: RegExp): void {
    assert.throws(fn, (e: any) => {
        assert.match(String(e.message), new RegExp(property.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), `message should name ${property}: ${e.message}`);
        assert.ok(Array.isArray(e.errors ?? e.errors), "InputPropertiesError carries errors[]");
        assert.ok(
            (e.errors as Array<{ propertyPath: string; reason: string }>).some((x) => x.propertyPath === property && (!reason || reason.test(x.reason))),
            `errors should include ${property}${reason ? ` matching ${reason}` : ""}: ${JSON.stringify(e.errors)}`,
        );
        return true;
    });
}

/**
 * A recorded resource as the offline plan would produce it for the stack root (for policy specs that
 * build stacks by hand); `deps` become propertyDependencies and dependencies.
 */
export function recordedResource(
    type: string,
    name: string,
    inputs: Record<string, any>,
    extra: Partial<RecordedResource> & { deps?: Record<string, RecordedResource[]> } = {},
): RecordedResource {
    const { deps, ...rest } = extra;
    const propertyDependencies: Record<string, string[]> = {};
    for (const [k, rs] of Object.entries(deps ?? {})) propertyDependencies[k] = rs.map((r) => r.urn);
    return {
        type,
        name,
        urn: `urn:pulumi:test::mlops-platform::${type}::${name}`,
        parent: "",
        custom: true,
        provider: "",
        protect: false,
        retainOnDelete: false,
        deleteBeforeReplace: false,
        dependencies: Object.values(propertyDependencies).flat(),
        propertyDependencies,
        additionalSecretOutputs: [],
        ignoreChanges: [],
        inputs,
        secretInputs: [],
        outputs: {},
        ...rest,
    };
}

/**
 * Security pack configuration for a spec that checks one component alone: the namespace's
 * default-deny NetworkPolicies belong to whoever owns the namespace (MlPlatform creates them with
 * NamespaceIsolation; test/program checks the whole stack), so `k8s-namespace-default-deny` is
 * exempted for the namespaces named here, and only for them.
 */
export function oneComponentPackConfig(namespaces: string[], extra: PolicyPackConfig = {}): PolicyPackConfig {
    return {
        ...extra,
        "k8s-namespace-default-deny": {
            exemptNamespaces: namespaces.map((namespace) => ({ namespace, reason: "one component under test; MlPlatform adds the namespace's default-deny" })),
        },
    };
}
