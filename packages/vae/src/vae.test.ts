import { readFileSync } from 'node:fs';
import { GroupNorm, type Module } from '@opensora-ts/kernels';
import { describe, expect, it } from 'vitest';
import { fixture } from '../test/parity-helpers.js';
import { parseVaeConfig } from './config.js';
import { createVae, vaeShapes } from './vae.js';

interface KeysManifest {
  num_keys: number;
  total_elements: number;
  keys: { key: string; shape: number[] }[];
}

describe('OpenSoraVAE_V1_3 preset', () => {
  it('has exactly the released state-dict keys, order and shapes (259,163,811 elements)', () => {
    const manifest = JSON.parse(readFileSync(fixture('vae-v1.3-keys.json'), 'utf8')) as KeysManifest;
    const vae = vaeShapes('OpenSoraVAE_V1_3');
    const shapes = [...vae.stateDictShapes()];
    expect(shapes.map(([k]) => k)).toEqual(manifest.keys.map((k) => k.key));
    expect(shapes.map(([, s]) => s)).toEqual(manifest.keys.map((k) => k.shape));
    expect(shapes.length).toBe(manifest.num_keys);
    expect(vae.parameterCount({ includeBuffers: true })).toBe(259_163_811);
    expect(vae.parameterCount()).toBe(manifest.total_elements);
    expect(vae.encoder.parameterCount()).toBe(100_046_496);
    expect(vae.decoder.parameterCount()).toBe(159_117_315);
    expect(vae.compression).toEqual([4, 8, 8]);
  });

  it('tiny preset has the same key pattern at ch 32', () => {
    const vae = vaeShapes('tiny');
    const keys = [...vae.stateDictShapes().keys()];
    expect(keys.length).toBe(188);
    expect(vae.stateDictShapes().get('decoder.up.3.upsample.conv3d.conv1.conv.weight')).toEqual([64, 64, 3, 3, 3]);
    expect(vae.stateDictShapes().get('encoder.down.0.downsample.conv.weight')).toEqual([32, 32, 3, 3]);
  });
});

describe('parseVaeConfig', () => {
  it('accepts the reference builder keys and fills the released architecture', () => {
    const c = parseVaeConfig({ type: 'OpenSoraVAE_V1_3', z_channels: 16, micro_frame_size: 17, temporal_overlap: true, normalization: 'video', force_huggingface: true });
    expect(c.encoder.ch_mult).toEqual([1, 2, 4, 4]);
    expect(c.decoder.temporal_up_layers).toEqual([2, 3]);
    expect(c.micro_frame_size).toBe(17);
  });

  it('names the bad key', () => {
    expect(() => parseVaeConfig({ micro_frame_sise: 17 }, 'vae.json')).toThrow(/vae\.json: invalid VAE config.*micro_frame_sise/);
    expect(() => parseVaeConfig({ normalization: 'image' })).toThrow(/normalization/);
    expect(() => parseVaeConfig({ encoder: { ch: 48, ch_mult: [1], num_res_blocks: 1 } })).toThrow(/multiple of encoder\.norm_groups = 32/);
  });

  it('norm_groups sizes every GroupNorm of a narrow model', () => {
    const narrow = { ch: 16, ch_mult: [1, 2], num_res_blocks: 1, norm_groups: 8 };
    const vae = createVae({ encoder: { ...narrow, down_sampling_layer: [] }, decoder: { ...narrow, temporal_up_layers: [1] } });
    const groups: number[] = [];
    const walk = (m: Module): void => {
      if (m instanceof GroupNorm) groups.push(m.groups);
      for (const [, c] of m.namedChildren()) walk(c);
    };
    walk(vae);
    expect(groups.length).toBeGreaterThan(8);
    expect(new Set(groups)).toEqual(new Set([8]));
    expect(() => parseVaeConfig({ decoder: { ch: 16, ch_mult: [1], num_res_blocks: 1 } })).toThrow(/decoder\.norm_groups = 32/);
    vae.dispose();
  });
});
