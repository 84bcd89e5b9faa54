// Per-sample draws: a batch's rows draw what the same samples draw as slices of the batch (the
// data-parallel split), the model gets each row's own seed, and the batch-level rng is untouched.
import { describe, expect, it } from 'vitest';
import { SeededRandom, tf } from '@opensora-ts/kernels';
import { trainingLoss } from './loss.js';
import type { ModelConditioning, ModelFn } from './model.js';
import { rowNormalTensor, sampleRandoms, sampleSeeds, streamSeed } from './sample-seeds.js';
import { TimeSampler } from './time-sampler.js';

const meta = { height: 64, width: 64, numFrames: 17 };

describe('sampleSeeds', () => {
  it('a slice of the global batch has the seeds of those rows; steps and run seeds differ', () => {
    const all = sampleSeeds(7, 3, 0, 8);
    expect(sampleSeeds(7, 3, 4, 4)).toEqual(all.slice(4));
    expect(new Set(all).size).toBe(8);
    expect(sampleSeeds(7, 4, 0, 8)).not.toEqual(all);
    expect(sampleSeeds(8, 3, 0, 8)).not.toEqual(all);
    expect(() => sampleSeeds(7, 3, -1, 2)).toThrow(/offset -1/);
  });

  it('rowNormalTensor: row i is generator i alone', () => {
    const seeds = sampleSeeds(1, 0, 0, 3);
    const t = rowNormalTensor(sampleRandoms(seeds, 'noisyRef'), [2, 3]);
    const row2 = rowNormalTensor(sampleRandoms(seeds.slice(2), 'noisyRef'), [2, 3]);
    expect(t.shape).toEqual([3, 2, 3]);
    expect(Array.from(t.dataSync()).slice(12)).toEqual(Array.from(row2.dataSync()));
    tf.dispose([t, row2]);
  });
});

describe('trainingLoss with sampleSeeds', () => {
  // A model whose output depends on its input and, like caption dropout, on a draw from each row's seed.
  const seen: number[][] = [];
  const model: ModelFn = (x: tf.Tensor, _t: tf.Tensor, c: ModelConditioning) => {
    seen.push(c.sampleSeeds ?? []);
    const draw = (c.sampleSeeds ?? []).map((s) => new SeededRandom(s).uniform());
    const b = x.shape[0]!;
    return tf.tidy(() => x.mul(0.5).add(tf.tensor(draw.length ? draw : new Array(b).fill(0), [b, 1, 1, 1, 1])));
  };

  it('per-sample losses of a batch of 4 equal those of its two halves run apart', () => {
    const x0 = tf.randomNormal([4, 4, 2, 3, 3], 0, 1, 'float32', 5);
    const y = tf.zeros([4, 1, 2, 4]);
    const timeSampler = new TimeSampler({ sampleMethod: 'logit-normal', useTimestepTransform: true });
    const seeds = sampleSeeds(42, 9, 0, 4);
    const lossOf = (from: number, n: number, rngSeed: number) => {
      const r = trainingLoss(model, tf.slice(x0, [from], [n]), {
        text: { y: tf.slice(y, [from], [n]) },
        meta,
        timeSampler,
        rng: new SeededRandom(rngSeed),
        sampleSeeds: sampleSeeds(42, 9, from, n),
      });
      const out = { loss: Array.from(r.loss.dataSync()), t: r.t };
      r.loss.dispose();
      return out;
    };
    seen.length = 0;
    const whole = lossOf(0, 4, 1);
    expect(seen[0]).toEqual(seeds.map((s) => streamSeed(s, 'model')));
    // The halves use another batch-level rng: per-sample draws must not depend on it.
    const a = lossOf(0, 2, 2);
    const b = lossOf(2, 2, 3);
    expect([...a.t, ...b.t]).toEqual(whole.t);
    const halves = [...a.loss, ...b.loss];
    halves.forEach((v, i) => expect(Math.abs(v - whole.loss[i]!) / Math.abs(whole.loss[i]!)).toBeLessThan(1e-6));
    expect(new Set(whole.t).size).toBe(4);
    expect(() => trainingLoss(model, x0, { text: { y }, meta, timeSampler, sampleSeeds: [1, 2] })).toThrow(/2 sample seeds for a batch of 4/);
    tf.dispose([x0, y]);
  });
});
