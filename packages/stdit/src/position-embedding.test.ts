// The optional temporal position embedding (an opensora-ts extension): the 1-D sin-cos table, and
// that the flag adds exactly that table per latent frame to the blocks' input and nothing else.
import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { positionEmbedding1D } from './position-embedding.js';
import { parseSTDiT3Config } from './config.js';
import { STDiT3 } from './stdit3.js';

describe('positionEmbedding1D', () => {
  it('is [sin(i f_j), cos(i f_j)] with f_j = 10000^(-2j/dim)', () => {
    const dim = 8;
    const table = positionEmbedding1D(dim, 5);
    for (const i of [0, 1, 4]) {
      for (let j = 0; j < dim / 2; j++) {
        const f = 1 / 10000 ** ((2 * j) / dim);
        expect(table[i * dim + j]).toBeCloseTo(Math.sin(i * f), 6);
        expect(table[i * dim + dim / 2 + j]).toBeCloseTo(Math.cos(i * f), 6);
      }
    }
    expect(() => positionEmbedding1D(7, 2)).toThrow(/dim 7 must be even/);
  });
});

describe('STDiT3 temporal_pos_embed', () => {
  const cfg = { in_channels: 4, depth: 1, hidden_size: 48, num_heads: 2, caption_channels: 8, model_max_length: 4, kernel_size: [2, 2, -1] as [number, number, number], use_spatial_rope: true };

  it('is off by default, so reference configs build the reference model', () => {
    expect(parseSTDiT3Config(cfg).temporal_pos_embed).toBe(false);
  });

  it('adds the frame-index table to every token of a frame before the blocks', () => {
    const plain = new STDiT3(cfg, { seed: 3, referenceInit: false }).eval();
    const timed = new STDiT3({ ...cfg, temporal_pos_embed: true }, { seed: 3, referenceInit: false }).eval();
    // The flag adds no parameter, so the same weights load into both.
    timed.loadStateDict(plain.stateDict());
    const [b, T, S, hidden] = [2, 3, 4, 48];
    const blocksIn = (model: STDiT3, inputs: Parameters<STDiT3['forward']>[0]) => {
      let kept: number[] = [];
      tf.tidy(() => {
        model.forward(inputs, { recorder: (name, v) => void (name === 'blocks_in' && (kept = Array.from(v.dataSync()))) });
      });
      return kept;
    };
    tf.tidy(() => {
      const inputs = {
        x: tf.randomNormal([b, 4, T, 4, 4], 0, 1, 'float32', 1),
        timestep: [500, 100],
        y: tf.randomNormal([b, 1, 4, 8], 0, 1, 'float32', 2),
        fps: 24,
        height: 32,
        width: 32,
      };
      const base = blocksIn(plain, inputs);
      const withTime = blocksIn(timed, inputs);
      const table = positionEmbedding1D(hidden, T);
      expect(withTime.length).toBe(b * T * S * hidden);
      let worst = 0;
      for (let i = 0; i < withTime.length; i++) {
        const t = Math.floor(i / (S * hidden)) % T;
        worst = Math.max(worst, Math.abs(withTime[i]! - base[i]! - table[t * hidden + (i % hidden)]!));
      }
      expect(worst).toBeLessThan(1e-5);
      // Frames now differ in what the blocks see, so the outputs differ.
      const diff = tf.max(tf.abs(tf.sub(plain.forward(inputs), timed.forward(inputs)))).dataSync()[0]!;
      expect(diff).toBeGreaterThan(1e-4);
    });
  });
});
