// Stack-policy helper. `validateStackResourcesOfType` hands its callback only the resources of the
// one class, but the rules here relate a resource to others (a bucket to its encryption config, a
// role to its attachments), so they need every resource of the stack.

import { PolicyResource, ReportViolation, StackValidation, StackValidationArgs } from "@pulumi/policy";

type ResourceClass = { new (...rest: any[]): any };

/**
 * Runs `validate` with all stack resources when the stack holds at least one resource of `classes`;
 * reports the policy as not applicable otherwise.
 */
export function validateStackWith(
    classes: ResourceClass[],
    validate: (subjects: PolicyResource[], args: StackValidationArgs, report: ReportViolation) => void,
): StackValidation {
    return (args, report) => {
        const subjects = args.resources.filter((r) => classes.some((c) => r.isType(c)));
        if (subjects.length === 0) {
            args.notApplicable(`no resources of type ${classes.map((c) => (c as any).__pulumiType ?? c.name).join(", ")}`);
        }
        validate(subjects, args, report);
    };
}
