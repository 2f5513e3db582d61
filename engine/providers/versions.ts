// The mock provider plugins and the exact versions the SDKs in package.json request (each
// `@pulumi/<name>` package.json's `pulumi.version`; a spec checks they agree). Kept free of imports
// so installing the plugins does not load the Pulumi SDK.
export const MOCK_PROVIDER_VERSIONS = {
    aws: "7.48.0",
    awsx: "3.9.0",
    docker: "4.11.2",
    "docker-build": "0.0.14",
    kubernetes: "4.34.2",
} as const;

export type MockProviderName = keyof typeof MOCK_PROVIDER_VERSIONS;

export function isMockProviderName(name: string): name is MockProviderName {
    return Object.prototype.hasOwnProperty.call(MOCK_PROVIDER_VERSIONS, name);
}
