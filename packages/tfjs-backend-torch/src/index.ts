export { registerTorchBackend, syncTorchFallbacks, torchBackendInfo } from './register.js';
export type { RegisterTorchOptions, TorchBackendInfo, TorchPrecision } from './register.js';
export { TorchBackend, TORCH_BACKEND_NAME } from './backend.js';
export type { TorchMemoryInfo } from './backend.js';
export { torchAddonStatus } from './addon.js';
export { connectC10d, c10dFeatures } from './process-group.js';
export type { ConnectC10dOptions, C10dProcessGroup, C10dReduceOp } from './process-group.js';
