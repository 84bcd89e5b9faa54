export { demoModelPaths, checkDemoModelFiles } from './paths.js';
export type { DemoModelPaths } from './paths.js';
export { demoManifestSchema, readDemoManifest } from './manifest.js';
export type { DemoManifest, DemoManifestInput } from './manifest.js';
export { loadDemoModel, demoTextEncoder, checkDemoTextEncoder } from './load.js';
export { textEncoderFingerprint, sameFingerprint, FINGERPRINT_PROMPT } from './fingerprint.js';
export type { DemoModel } from './load.js';
export { writeDemoModel } from './write.js';
export type { StateDictSource, WriteDemoModelOptions } from './write.js';
