// The frame-index embedding (temporal_pos_embed): its table, and what it is for. Without it STDiT3 knows
// time only through relative RoPE: with per-pixel temporal windows it cannot tell identical frames apart at
// all (its output is the same in every frame), and with wider windows only weakly, through RoPE's
// asymmetry at the clip's ends.
import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { positionEmbedding1D } from './position-embedding.js';
import { STDiT3 } from './stdit3.js';

const cfg = { in_channels: 4, depth: 1, hidden_size: 48, num_heads: 2, caption_channels: 8, model_max_length: 4, kernel_size: [2, 2, -1] as [number, number, number], use_spatial_rope: true };

describe('positionEmbedding1D', () => {
  it('is [sin(i f), cos(i f)] with f_j = 1/10000^(2j/dim)', () => {
    const e = positionEmbedding1D(8, 3);
    expect(Array.from(e.subarray(0, 8))).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    const f1 = 1 / 10000 ** (2 / 8);
    expect(e[2 * 8 + 0]).toBeCloseTo(Math.sin(2), 6);
    expect(e[2 * 8 + 1]).toBeCloseTo(Math.sin(2 * f1), 6);
    expect(e[2 * 8 + 4]).toBeCloseTo(Math.cos(2), 6);
    expect(() => positionEmbedding1D(7, 2)).toThrow(/even/);
  });
});

describe('STDiT3 temporal_pos_embed', () => {
  it('adds no weights, and lets the model tell identical frames apart', () => {
    const perPixel = { ...cfg, kernel_size: [1, 1, -1] as [number, number, number] };
    const plain = new STDiT3(perPixel, { seed: 5, referenceInit: false }).eval();
    const timed = new STDiT3({ ...perPixel, temporal_pos_embed: true }, { seed: 5, referenceInit: false }).eval();
    expect([...timed.stateDictShapes()]).toEqual([...plain.stateDictShapes()]);
    tf.tidy(() => {
      // Three identical latent frames at pure noise level.
      const frame = tf.randomNormal([1, 4, 1, 4, 4], 0, 1, 'float32', 7);
      const x = tf.concat([frame, frame, frame], 2);
      const args = { x, timestep: tf.tensor1d([1000]), y: tf.randomNormal([1, 1, 4, 8], 0, 1, 'float32', 8), fps: 8, height: 32, width: 32 };
      const frameSpread = (out: tf.Tensor) => {
        const [f0, , f2] = tf.split(out, 3, 2);
        return tf.max(tf.abs(tf.sub(f0!, f2!))).dataSync()[0]!;
      };
      expect(frameSpread(plain.forward(args))).toBeLessThan(1e-5);
      expect(frameSpread(timed.forward(args))).toBeGreaterThan(1e-3);
    });
    plain.dispose();
    timed.dispose();
  });
});
