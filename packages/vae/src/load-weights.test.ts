// loadVaeWeights over weights as published: the model's state dict saved as BF16 safetensors and
// as torch.save files (a PixArt-style {'state_dict': sd} .pth, and pytorch_model.bin shards), all
// loading the same values; `only` loads one half.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf, writeSafetensors, type WritableTensor } from '@opensora-ts/kernels';
import { writeTorchSave } from '../../kernels/src/testing/torch-save.js';
import { loadVaeWeights } from './load-weights.js';
import { createVae } from './vae.js';

const SMALL = {
  encoder: { ch: 16, ch_mult: [1, 1, 1], num_res_blocks: 1, down_sampling_layer: [0, 1], norm_groups: 8 },
  decoder: { ch: 16, ch_mult: [1, 1, 1], num_res_blocks: 1, temporal_up_layers: [1, 2], norm_groups: 8 },
  normalization: null,
};
const dir = mkdtempSync(join(tmpdir(), 'vae-load-'));
/** A seeded VAE's state dict, every value a multiple of 1/256 so that BF16 holds it exactly. */
const state = new Map<string, WritableTensor>();

beforeAll(async () => {
  await initRuntime({ announce: false });
  const vae = createVae('tiny', SMALL);
  for (const [k, t] of vae.stateDict()) {
    state.set(k, { shape: [...t.shape], data: Float32Array.from(t.dataSync(), (v) => Math.round(Math.max(-0.49, Math.min(0.49, v)) * 256) / 256) });
    t.dispose();
  }
  vae.dispose();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function loaded(path: string, only?: 'encoder' | 'decoder'): Map<string, number[]> {
  const vae = createVae('tiny', SMALL);
  loadVaeWeights(vae, path, { only });
  const out = new Map<string, number[]>();
  for (const [k, t] of vae.stateDict()) {
    out.set(k, Array.from(t.dataSync()));
    t.dispose();
  }
  vae.dispose();
  return out;
}

describe('loadVaeWeights', () => {
  it('loads BF16 safetensors, a {state_dict} .pth and pytorch_model.bin shards to the same values', () => {
    const bf16 = join(dir, 'model.safetensors');
    writeSafetensors(bf16, new Map([...state].map(([k, t]) => [k, { ...t, dtype: 'BF16' as const }])));
    const pth = join(dir, 'vae.pth');
    writeTorchSave(pth, { state_dict: Object.fromEntries([...state].map(([k, t]) => [k, { ...t, dtype: 'F16' as const }])) });
    const shards = join(dir, 'shards');
    mkdirSync(shards);
    const keys = [...state.keys()];
    const weightMap: Record<string, string> = {};
    [keys.filter((k) => k.startsWith('encoder.')), keys.filter((k) => !k.startsWith('encoder.'))].forEach((ks, i) => {
      const name = `pytorch_model-0000${i + 1}-of-00002.bin`;
      writeTorchSave(join(shards, name), Object.fromEntries(ks.map((k) => [k, { ...state.get(k)!, dtype: 'BF16' as const }])));
      for (const k of ks) weightMap[k] = name;
    });
    writeFileSync(join(shards, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: weightMap }));
    const want = new Map([...state].map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
    for (const path of [bf16, pth, shards]) {
      const got = loaded(path);
      for (const [k, w] of want) expect(got.get(k), `${path}: ${k}`).toEqual(w);
    }
    const before = tf.memory().numTensors;
    const enc = loaded(join(shards, 'pytorch_model-00001-of-00002.bin'), 'encoder');
    expect(tf.memory().numTensors).toBe(before);
    for (const [k, w] of want) if (k.startsWith('encoder.')) expect(enc.get(k), k).toEqual(w);
  });
});
