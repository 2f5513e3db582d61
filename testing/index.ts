// `mlops-platform/testing`: the provider-shaped mocks for unit tests of programs that use the
// components. A plain `pulumi.runtime.setMocks` returns only the inputs, so components that read
// provider outputs (an EKS cluster's OIDC issuer, a launch template's id, ECR URLs) see `undefined`;
// these mocks compute those outputs the way the AWS, Kubernetes and Docker providers do. Under a
// plain mock such a component fails with MissingProviderOutputError (components/provider-outputs.ts),
// whose message points here.
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_MOCK_ENV, MockEnvironment, ProviderMocks } from "../offline-plan/mocks";

export { DEFAULT_MOCK_ENV, MockEnvironment, ProviderMocks };

/**
 * Installs the provider-shaped mocks for `project`/`stack` (call before importing the program or
 * constructing components). Returns the mocks (their `calls` list the invokes answered).
 */
export function setProviderMocks(opts: { project?: string; stack?: string; env?: Partial<MockEnvironment> } = {}): ProviderMocks {
    const mocks = new ProviderMocks({ ...DEFAULT_MOCK_ENV, ...opts.env });
    pulumi.runtime.setMocks(mocks, opts.project ?? "project", opts.stack ?? "test", false);
    return mocks;
}

/** The value of an Output in a mocked program (undefined while unknown). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}
