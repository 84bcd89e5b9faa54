// Per-sample training draws (sample_seeds): caption dropout and drop path of a sample come from its
// own seed, so the rows of a batch equal the same samples run as two smaller batches (what
// data-parallel ranks do), and differ from a run without the seeds.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '@opensora-ts/kernels';
import { STDiT3 } from './stdit3.js';

beforeAll(async () => {
  await initRuntime({ announce: false });
});

const cfg = { depth: 2, hidden_size: 48, num_heads: 2, caption_channels: 8, model_max_length: 4, class_dropout_prob: 0.5, drop_path: 0.5 };

describe('STDiT3 sample_seeds', () => {
  it('a sample draws the same dropout in a batch of 4 as in a batch of 2', () => {
    const model = new STDiT3(cfg, { referenceInit: false, seed: 3 });
    model.train();
    const B = 4;
    const x = tf.randomNormal([B, 16, 2, 4, 4], 0, 1, 'float32', 1);
    const y = tf.randomNormal([B, 1, 4, 8], 0, 1, 'float32', 2);
    const seeds = [11, 22, 33, 44];
    const run = (from: number, n: number, sampleSeeds: number[] | null) =>
      tf.tidy(() => {
        const out = model.forward({
          x: tf.slice(x, [from, 0, 0, 0, 0], [n, -1, -1, -1, -1]),
          timestep: [100, 300, 500, 700].slice(from, from + n),
          y: tf.slice(y, [from, 0, 0, 0], [n, -1, -1, -1]),
          fps: 24,
          height: 32,
          width: 32,
          sample_seeds: sampleSeeds,
        });
        return Array.from(out.dataSync());
      });
    const whole = run(0, 4, seeds);
    const tail = run(2, 2, seeds.slice(2));
    const half = whole.length / 2;
    // Equal up to float summation order (batched matmuls may block differently for 2 and 4 rows).
    const ref = whole.slice(half);
    const maxDiff = Math.max(...tail.map((v, i) => Math.abs(v - ref[i]!)));
    expect(maxDiff).toBeLessThan(1e-5);
    // With p = 0.5 over 4 samples and 2 blocks, other seeds make other draws.
    const other = run(0, 4, [5, 6, 7, 8]);
    expect(Math.max(...other.map((v, i) => Math.abs(v - whole[i]!)))).toBeGreaterThan(1e-2);
    expect(() => run(0, 4, [1, 2])).toThrow(/sample_seeds: 2 seeds for a batch of 4/);
    tf.dispose([x, y]);
    model.dispose();
  });
});
