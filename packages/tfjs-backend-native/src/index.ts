export { registerNativeBackend, NativeBackend, NATIVE_BACKEND_NAME } from './backend.js';
export type { RegisterNativeOptions, NativeBackendInfo } from './backend.js';
export { nativeAddonStatus } from './addon.js';
