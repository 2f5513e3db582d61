// Public API of the mlops-platform library.
export { DataLake, DataLakeArgs, DataLakeGrant, DataLakeSettings, DATA_BUCKET_ROLES, DATA_CLASS_TAG, validateDataLakeArgs } from "./dataLake";
export { ContainerRegistry, ContainerRegistryArgs, ImageBuildSpec, validateContainerRegistryArgs, contextDigest } from "./containerRegistry";
export { MlPlatform, MlPlatformArgs } from "./mlPlatform";
export { PolicyDocument, PolicyStatement, policyJson } from "./iam";
export { PlatformConfig, CONFIG_KEYS, parsePlatformConfig } from "../config/schema";
export { WorkloadIdentity, WorkloadIdentityArgs, WorkloadIdentityMode, SERVICE_ACCOUNT_TAG, validateWorkloadIdentityArgs, workloadTrustPolicy } from "./workloadIdentity";
export { GpuScheduling, Toleration, GPU_RESOURCE } from "./scheduling";
export * from "./k8s-security";
