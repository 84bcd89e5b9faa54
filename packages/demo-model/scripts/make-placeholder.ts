// Writes an UNTRAINED placeholder demo model (random weights, reference initialisation) from
// configs/models/demo-*.json, so the sample app runs before the trained weights exist. The
// manifest says 'untrained-placeholder'; apps/sample warns about it on every run.
// Run: node --conditions=source --import tsx packages/demo-model/scripts/make-placeholder.ts
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initRuntime } from '@opensora-ts/kernels';
import { STDiT3 } from '@opensora-ts/stdit';
import { createVae, type VaeConfigInput } from '@opensora-ts/vae';
import { writeDemoModel } from '../src/write.js';
import { textEncoderFingerprint } from '../src/fingerprint.js';
import { DemoTextEncoder } from '@opensora-ts/conditioning';

await initRuntime();
const cfg = (name: string) => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../configs/models/${name}`, import.meta.url)), 'utf8')) as Record<string, unknown>;
const vaeCfg = cfg('demo-vae.json');
const stditCfg = cfg('demo-stdit.json');
const vae = createVae(vaeCfg as VaeConfigInput);
const stdit = new STDiT3(stditCfg, { seed: 0 });
const dir = writeDemoModel(vae, stdit, {
  status: 'untrained-placeholder',
  vae: vaeCfg,
  stdit: stditCfg,
  text_encoder: { type: 'demo', seed: 1234, model_max_length: stditCfg.model_max_length as number, fingerprint: await textEncoderFingerprint(new DemoTextEncoder({ seed: 1234, maxLength: stditCfg.model_max_length as number })) },
  sampling: { height: 64, width: 64, num_frames: 17, fps: 8, num_sampling_steps: 30, cfg_scale: 7.5 },
  provenance: { note: 'random weights (reference initialisation, seed 0): NOT trained; made by packages/demo-model/scripts/make-placeholder.ts' },
});
console.log(`wrote untrained placeholder to ${dir}`);
