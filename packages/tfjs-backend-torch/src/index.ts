export { registerTorchBackend, syncTorchFallbacks, torchBackendInfo } from './register.js';
export type { RegisterTorchOptions, TorchBackendInfo, TorchPrecision } from './register.js';
export { TorchBackend, TORCH_BACKEND_NAME } from './backend.js';
export type { TorchMemoryInfo } from './backend.js';
export { torchAddonStatus } from './addon.js';
