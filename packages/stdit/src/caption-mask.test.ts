// Ragged captions: each sample cross-attends only its valid tokens. Values at masked positions
// must not matter, and dropping trailing masked tokens is exact (to rounding: BLAS kernels may
// sum in a different order for other shapes).
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '@opensora-ts/kernels';
import { STDiT3 } from './stdit3.js';

const cfg = { depth: 1, hidden_size: 48, num_heads: 2, caption_channels: 8, model_max_length: 6, kernel_size: [2, 2, -1] as [number, number, number], use_spatial_rope: true };

beforeAll(async () => {
  await initRuntime({ announce: false });
});

describe('caption masking', () => {
  it('ignores masked tokens, per sample, and a shared mask row is repeated to the batch', () => {
    const model = new STDiT3(cfg, { referenceInit: false, seed: 31 });
    tf.tidy(() => {
      const x = tf.randomNormal([2, 16, 2, 4, 4], 0, 1, 'float32', 1);
      const y = tf.randomNormal([2, 1, 6, 8], 0, 1, 'float32', 2);
      const base = { x, timestep: [100, 900], fps: 24, height: 32, width: 32 };
      const a = model.forward({ ...base, y, mask: [[1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 0]] });
      // New values at every masked position (sample 0: 3..5, sample 1: 1, 4, 5).
      const noise = tf.randomNormal([2, 1, 6, 8], 0, 1, 'float32', 3);
      const keep = tf.tensor4d([1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0], [2, 1, 6, 1]);
      const y2 = tf.add(tf.mul(y, keep), tf.mul(noise, tf.sub(1, keep)));
      const b = model.forward({ ...base, y: y2, mask: [[1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 0]] });
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-5);
      // Trailing tokens masked everywhere are dropped exactly: same as passing only 4 tokens.
      const short = model.forward({ ...base, y: tf.slice(y, [0, 0, 0, 0], [2, 1, 4, 8]), mask: [[1, 1, 1, 0], [1, 0, 1, 1]] });
      expect(tf.max(tf.abs(tf.sub(a, short))).dataSync()[0]).toBeLessThan(1e-5);
      // The mask matters, per sample.
      const full = model.forward({ ...base, y });
      expect(tf.max(tf.abs(tf.sub(a, full))).dataSync()[0]).toBeGreaterThan(1e-3);
      // One mask row for a batch of 2 is repeated.
      const one = model.forward({ ...base, y, mask: [[1, 1, 1, 0, 0, 0]] });
      const two = model.forward({ ...base, y, mask: [[1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0]] });
      expect(tf.max(tf.abs(tf.sub(one, two))).dataSync()[0]).toBeLessThan(1e-5);
    });
    model.dispose();
  });

  it('rejects masks that cannot be used, naming them', () => {
    const model = new STDiT3(cfg, { referenceInit: false, seed: 32 });
    const x = tf.zeros([2, 16, 1, 4, 4]);
    const y = tf.zeros([2, 1, 6, 8]);
    const base = { x, y, timestep: 1, fps: 24, height: 32, width: 32 };
    expect(() => model.forward({ ...base, mask: [[1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]] })).toThrow(/mask: sample 1 has no valid caption token/);
    expect(() => model.forward({ ...base, mask: [[1, 1, 0, 0, 0]] })).toThrow(/mask: 5 tokens, but y has 6/);
    expect(() => model.forward({ ...base, mask: [[1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]] })).toThrow(/3 rows cannot be repeated to batch 2/);
    expect(() => model.forward({ ...base, mask_index: [0] })).toThrow(/pass cond and cond_mask/);
    expect(() => model.forward({ ...base, x: tf.zeros([2, 4, 1, 4, 4]) })).toThrow(/x: expected a latent \[B, 16, T, H, W\]/);
    tf.dispose([x, y]);
    model.dispose();
  });
});
