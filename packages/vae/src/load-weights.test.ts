// loadVaeWeights over weights as published: the model's state dict saved as BF16 safetensors and
// as torch.save files (a PixArt-style {'state_dict': sd} .pth, and pytorch_model.bin shards), all
// loading the same values; `only` loads one half.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf, writeSafetensors, type WritableTensor } from '@opensora-ts/kernels';
import { writeTorchSave } from '../../kernels/src/testing/torch-save.js';
import { loadVaeWeights, VaeWeightsMismatchError } from './load-weights.js';
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

describe('weights of another config', () => {
  it('say in one line which config they are: a JSON beside them (the demo model.json), or a preset', () => {
    const d = join(dir, 'other');
    mkdirSync(d);
    const file = join(d, 'vae.safetensors');
    writeSafetensors(file, state); // SMALL's weights
    writeFileSync(join(d, 'model.json'), JSON.stringify({ status: 'trained', vae: { ...SMALL, micro_frame_size: 17 }, stdit: {} }));
    const tiny = createVae('tiny');
    let err: unknown;
    try {
      loadVaeWeights(tiny, file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VaeWeightsMismatchError);
    const msg = (err as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toContain(`these weights are config '${join(d, 'model.json')}', not VAE preset 'tiny' that this VAE was built with`);
    expect(msg).toContain(`createVae("${join(d, 'model.json')}")`);
    expect((err as VaeWeightsMismatchError).report.mismatched.length).toBeGreaterThan(0); // the full list is still there
    tiny.dispose();

    // The suggested config loads them.
    const right = createVae(join(d, 'model.json'));
    expect(loadVaeWeights(right, file).loaded).toBe(state.size);
    right.dispose();

    // Weights of a preset, loaded into another config: the preset is named.
    const tinyWeights = join(dir, 'tiny.safetensors');
    const t = createVae('tiny');
    writeSafetensors(tinyWeights, new Map([...t.stateDict()].map(([k, v]) => [k, { shape: [...v.shape], data: v.dataSync() as Float32Array }])));
    t.dispose();
    const small = createVae(SMALL);
    expect(() => loadVaeWeights(small, tinyWeights)).toThrow(/^[^\n]*tiny\.safetensors: these weights are config 'tiny' \(a preset\), not VAE config that this VAE was built with \(.*\); build the VAE from theirs: createVae\("tiny"\), or on the command line --config tiny\.$/);
    small.dispose();
  });

  it('that fit no known config say so in one line with what they look like', () => {
    const lone = join(dir, 'lone');
    mkdirSync(lone);
    const file = join(lone, 'w.safetensors');
    writeSafetensors(file, state);
    const tiny = createVae('tiny');
    expect(() => loadVaeWeights(tiny, file)).toThrow(
      /^[^\n]*w\.safetensors: these weights do not fit VAE preset 'tiny' \(\d+ missing, \d+ unexpected, \d+ misshaped keys; first: .*\) nor any preset \(OpenSoraVAE_V1_3, tiny\): they have encoder ch 16, 3 levels, z_channels 16; build the VAE/,
    );
    tiny.dispose();
  });
});

describe('createVae config specs', () => {
  it('takes a manifest with a vae key (as a path or an object) and a Hugging Face style config.json', () => {
    const m = join(dir, 'manifest.json');
    writeFileSync(m, JSON.stringify({ vae: SMALL, text_encoder: { type: 'demo' } }));
    const a = createVae(m);
    expect(a.config.encoder.ch).toBe(16);
    expect(a.configSource).toBe(m);
    a.dispose();
    const b = createVae({ vae: SMALL });
    expect(b.config.encoder.ch_mult).toEqual([1, 1, 1]);
    b.dispose();
    const hf = join(dir, 'config.json');
    writeFileSync(hf, JSON.stringify({ architectures: ['OpenSoraVAE_V1_3'], model_type: 'OpenSoraVAE_V1_3', torch_dtype: 'bfloat16', ...SMALL }));
    const c = createVae(hf);
    expect(c.config.decoder.temporal_up_layers).toEqual([1, 2]);
    c.dispose();
    expect(() => createVae(join(dir, 'nope.json'))).toThrow(/nope\.json': neither a preset \(OpenSoraVAE_V1_3, tiny\) nor an existing JSON file\.$/);
  });
});
