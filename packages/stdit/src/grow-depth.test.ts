import { describe, expect, it } from 'vitest';
import { tf, type HostTensor } from '@opensora-ts/kernels';
import { growSTDiT3Depth, stdit3Depth } from './grow-depth.js';
import { STDiT3 } from './stdit3.js';

const cfg = { in_channels: 4, hidden_size: 48, num_heads: 2, caption_channels: 8, model_max_length: 4, kernel_size: [2, 2, -1] as [number, number, number], use_spatial_rope: true, temporal_pos_embed: true };

function hostState(model: STDiT3): Map<string, HostTensor> {
  const state = model.stateDict();
  const out = new Map<string, HostTensor>();
  for (const [k, t] of state) out.set(k, { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(t.dataSync()), stored: 'F32' });
  tf.dispose([...state.values()]);
  return out;
}

describe('growSTDiT3Depth', () => {
  it('deepens a model without changing its output, and the new blocks train from the identity', () => {
    // Random weights everywhere (no zero-initialised projections), so every old block changes its input.
    const small = new STDiT3({ ...cfg, depth: 2 }, { seed: 3, referenceInit: false }).eval();
    const state = hostState(small);
    const grown = growSTDiT3Depth(state, 5);
    expect(stdit3Depth(grown)).toBe(5);
    const deep = new STDiT3({ ...cfg, depth: 5 }, { seed: 9, referenceInit: false }).eval();
    const report = deep.loadStateDict(grown);
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    // Old block 1 lands at floor(1 * 5 / 2) = 2; 1 and 3-4 are zero-output copies.
    expect(grown.get('spatial_blocks.2.attn.qkv.weight')).toBe(state.get('spatial_blocks.1.attn.qkv.weight'));
    expect(grown.get('temporal_blocks.4.mlp.fc1.weight')!.data).toEqual(state.get('temporal_blocks.1.mlp.fc1.weight')!.data);
    expect(Math.max(...grown.get('temporal_blocks.3.mlp.fc2.weight')!.data)).toBe(0);
    expect(Math.max(...grown.get('spatial_blocks.1.attn.proj.weight')!.data.map(Math.abs))).toBe(0);
    tf.tidy(() => {
      const args = { x: tf.randomNormal([1, 4, 3, 4, 4], 0, 1, 'float32', 7), timestep: tf.tensor1d([700]), y: tf.randomNormal([1, 1, 4, 8], 0, 1, 'float32', 8), fps: 8, height: 32, width: 32 };
      const a = small.forward(args);
      const b = deep.forward(args);
      expect(tf.max(tf.abs(a)).dataSync()[0]).toBeGreaterThan(0.1);
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-5);
    });
    small.dispose();
    deep.dispose();
  });

  it('refuses to shrink, and names a state dict that is not an STDiT3', () => {
    const model = new STDiT3({ ...cfg, depth: 2 }, { seed: 3 });
    const state = hostState(model);
    model.dispose();
    expect(() => growSTDiT3Depth(state, 1)).toThrow(/depth must be an integer >= the checkpoint's 2, got 1/);
    expect(() => growSTDiT3Depth(new Map([['encoder.conv.weight', state.get('x_embedder.proj.bias')!]]), 4)).toThrow(/no 'spatial_blocks.N.\*' keys/);
  });
});
