// One way to ask the IAM policy simulator (@cloud-copilot/iam-simulate) a question, for the specs
// that prove least privilege by evaluating the documents the components render.
import { runSimulation, Simulation } from "@cloud-copilot/iam-simulate";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

export interface Ask {
    principal: string;
    action: string;
    /** A resource ARN, or "*" for actions without a resource type (or to ask about any resource). */
    resource: string;
    context?: Record<string, string | string[]>;
    identityPolicies: { name: string; policy: object }[];
    resourcePolicy?: object;
    /** The principal's permissions boundary, if any. */
    boundary?: object;
}

export async function decide(ask: Ask): Promise<Decision> {
    const simulation: Simulation = {
        request: {
            principal: ask.principal,
            action: ask.action,
            // The resource's own account (cross-account cases), else ours.
            resource: { resource: ask.resource, accountId: /^arn:[^:]+:[^:]+:[^:]*:(\d{12}):/.exec(ask.resource)?.[1] ?? ACCOUNT },
            contextVariables: ask.context ?? {},
        },
        identityPolicies: ask.identityPolicies,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: ask.resourcePolicy,
        ...(ask.boundary ? { permissionBoundaryPolicies: [{ name: "boundary", policy: ask.boundary }] } : {}),
    };
    const result = await runSimulation(simulation, {});
    if (result.resultType === "error") {
        throw new Error(`simulation of ${ask.action} on ${ask.resource} is invalid: ${JSON.stringify(result.errors)}`);
    }
    return result.overallResult as Decision;
}
