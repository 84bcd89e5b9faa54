import { describe, expect, it } from 'vitest';
import { SeededRandom, tf } from '@opensora-ts/kernels';
import { evalBucketLoss } from './eval-loss.js';
import { meanFlat, trainingLoss } from './loss.js';
import type { ModelConditioning, ModelFn } from './model.js';
import { TimeSampler } from './time-sampler.js';
import {
  ADAPT_I2V_MASK_TYPES,
  chooseMaskType,
  conditionFrameWeights,
  corruptReference,
  drawTrainingCondition,
  trainingMaskIndex,
} from './train-conditioning.js';

const meta = { height: 64, width: 64, numFrames: 17 };

describe('training conditioning', () => {
  it('mask index per type', () => {
    const rng = new SeededRandom(0);
    expect(trainingMaskIndex('i2v_head', 5, rng)).toEqual([0]);
    expect(trainingMaskIndex('i2v_tail', 5, rng)).toEqual([4]);
    expect(trainingMaskIndex('i2v_loop', 5, rng)).toEqual([0, 4]);
    expect(trainingMaskIndex('v2v_head', 5, rng)).toEqual([0, 1]);
    expect(trainingMaskIndex('v2v_tail', 5, rng)).toEqual([2, 3, 4]);
    expect(trainingMaskIndex('none', 5, rng)).toEqual([]);
    for (let k = 0; k < 50; k++) {
      const o = trainingMaskIndex('other', 6, rng);
      expect(o.length >= 1 && o.length <= 5).toBe(true);
      expect(o[0] === 0 || o[o.length - 1] === 5).toBe(true);
    }
  });
  it('weighted choices follow the weights', () => {
    const rng = new SeededRandom(1);
    const counts: Record<string, number> = {};
    for (let k = 0; k < 8000; k++) {
      const m = chooseMaskType(rng, ADAPT_I2V_MASK_TYPES);
      counts[m] = (counts[m] ?? 0) + 1;
    }
    expect(counts.i2v_head! / 8000).toBeCloseTo(5 / 16, 1);
    expect(counts.v2v_tail! / 8000).toBeCloseTo(1 / 16, 1);
    expect(() => chooseMaskType(rng, { bogus: 1 } as never)).toThrow(/unknown key 'bogus'/);
  });
  it('draws: images get no mask index, conditioned batches turn text dropout off, noisy heads get r in [0.1, 0.3)', () => {
    const rng = new SeededRandom(2);
    expect(drawTrainingCondition(rng, { maskTypes: { i2v_head: 1 }, numFrames: 1, latentT: 1 }).maskIndex).toEqual([]);
    const c = drawTrainingCondition(rng, { maskTypes: { v2v_head_noisy: 1 }, numFrames: 17, latentT: 5 });
    expect(c.maskIndex).toEqual([0, 1]);
    expect(c.textUncondProb).toBe(0);
    expect(c.noisyRatio! >= 0.1 && c.noisyRatio! < 0.3).toBe(true);
    const x = tf.ones([2]);
    const n = tf.zeros([2]);
    const out = corruptReference(x, 0.25, n);
    expect(Array.from(out.dataSync())).toEqual([0.75, 0.75]);
    [x, n, out].forEach((t) => t.dispose());
  });
  it('frame weights keep the sum at T', () => {
    expect(conditionFrameWeights(5, [0], 1)).toEqual([1, 1, 1, 1, 1]);
    const w = conditionFrameWeights(5, [0, -1], 0.5);
    expect(w[0]).toBe(0.5);
    expect(w[4]).toBe(0.5);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(5, 10);
  });
});

describe('trainingLoss', () => {
  const shape = [2, 2, 3, 2, 2];
  it('is zero for a model that predicts x0 - noise, with x_t = add_noise', () => {
    const x0 = tf.randomNormal(shape, 0, 1, 'float32', 1);
    const noise = tf.randomNormal(shape, 0, 1, 'float32', 2);
    const oracle: ModelFn = () => tf.concat([x0.sub(noise), tf.zerosLike(x0)], 1);
    const y = tf.ones([2, 1, 3, 4]);
    const r = trainingLoss(oracle, x0, { text: { y }, meta, noise, t: [250, 750], returnIntermediates: true });
    expect(Array.from(r.loss.dataSync())).toEqual([0, 0]);
    const want = tf.tidy(() => x0.mul(0.75).add(noise.mul(0.25)));
    expect(tf.max(tf.abs(r.xT!.slice([0], [1]).sub(want.slice([0], [1])))).dataSync()[0]).toBeLessThan(1e-6);
    [x0, noise, y, want, r.loss, r.xT!, r.cond!, r.condMask!, r.y!].forEach((t) => t.dispose());
  });
  it('frame mask: masked-off frames take t = 0 and leave the loss', () => {
    const x0 = tf.zeros(shape);
    const noise = tf.ones(shape);
    let seen: ModelConditioning | undefined;
    // velocity 0: per-element error (0 - (0 - 1))^2 = 1 everywhere, but frame 1 of row 0 is scaled by 4.
    const model: ModelFn = (x, _t, c) => {
      seen = c;
      return tf.tidy(() => tf.concat([tf.zerosLike(x), tf.zerosLike(x)], 1));
    };
    const frameMask = tf.tensor([[1, 0, 1], [0, 0, 1]], [2, 3], 'bool');
    const r = trainingLoss(model, x0, { text: { y: tf.ones([2, 1, 1, 1]) }, meta, noise, t: [500, 500], frameMask, returnIntermediates: true });
    expect(Array.from(r.loss.dataSync())).toEqual([1, 1]);
    const xt = r.xT!.mean([1, 3, 4]).arraySync() as number[][];
    expect(xt).toEqual([[0.5, 0, 0.5], [0, 0, 0.5]]);
    expect(seen!.xMask).toBe(frameMask);
    [x0, noise, frameMask, r.loss, r.xT!, r.cond!, r.condMask!, r.y!].forEach((t) => t.dispose());
  });
  it('drop_condition null: no frames and the null caption; deterministic from the seed', () => {
    const x0 = tf.randomNormal(shape, 0, 1, 'float32', 3);
    const y = tf.ones([2, 1, 3, 4]);
    const yNull = tf.zeros([3, 4]);
    const model: ModelFn = (x) => tf.concat([x.mul(0.5), x], 1);
    const opts = { text: { y, yNull }, meta, maskIndex: [0], dropCondition: 'null' as const, timeSampler: new TimeSampler({ sampleMethod: 'logit-normal', useTimestepTransform: true }), returnIntermediates: true };
    const a = trainingLoss(model, x0, { ...opts, rng: 5 });
    const b = trainingLoss(model, x0, { ...opts, rng: 5 });
    expect(a.t).toEqual(b.t);
    expect(Array.from(a.loss.dataSync())).toEqual(Array.from(b.loss.dataSync()));
    expect(a.condition).toBe('null');
    expect(tf.abs(a.cond!).sum().dataSync()[0]).toBe(0);
    expect(a.y!.sum().dataSync()[0]).toBe(0);
    expect(a.condMask!.mean([0, 1, 3, 4]).arraySync()).toEqual([1, 0, 0]);
    for (const r of [a, b]) [r.loss, r.xT, r.cond, r.condMask, r.y, r.yNull].forEach((t) => t?.dispose());
    [x0, y, yNull].forEach((t) => t.dispose());
  });
  it('errors name the missing piece', () => {
    const x0 = tf.zeros(shape);
    const m: ModelFn = (x) => tf.concat([x, x], 1);
    expect(() => trainingLoss(m, x0, { text: { y: x0 }, meta, t: [1, 1], maskIndex: [0] })).toThrow(/drop_condition/);
    expect(() => trainingLoss(m, x0, { text: { y: x0 }, meta, t: [1, 1], maskIndex: [0], dropCondition: 'keep' })).toThrow(/yNull/);
    x0.dispose();
  });
  it('temporalDiffWeight adds the mean square of the error difference between neighbouring frames', () => {
    // Velocity 0 and x0 = 0: the error is the noise itself. Row 0's noise is the same in every frame
    // (no frame-to-frame change), row 1's is 0, 1, 3 along T (steps 1 and 2: mean square 2.5).
    const x0 = tf.zeros(shape);
    const frames = [[1, 1, 1], [0, 1, 3]];
    const noise = tf.tidy(() => tf.tensor(frames.flat(), [2, 1, 3, 1, 1]).tile([1, 2, 1, 2, 2]));
    const zero: ModelFn = (x) => tf.concat([tf.zerosLike(x), tf.zerosLike(x)], 1);
    const base = trainingLoss(zero, x0, { text: { y: tf.ones([2, 1, 1, 1]) }, meta, noise, t: [500, 500] });
    const withTerm = trainingLoss(zero, x0, { text: { y: tf.ones([2, 1, 1, 1]) }, meta, noise, t: [500, 500], temporalDiffWeight: 2 });
    const b = Array.from(base.loss.dataSync());
    expect(b[0]).toBe(1);
    expect(b[1]).toBeCloseTo(10 / 3, 6);
    const w = Array.from(withTerm.loss.dataSync());
    expect(w[0]).toBe(b[0]);
    expect(w[1]).toBeCloseTo(b[1]! + 2 * 2.5, 5);
    [x0, noise, base.loss, withTerm.loss].forEach((t) => t.dispose());
  });
  it('meanFlat with a frame mask averages the true frames', () => {
    const x = tf.tensor([1, 2, 3, 10, 20, 30], [2, 1, 3, 1, 1]);
    const m = tf.tensor([[1, 1, 0], [0, 0, 1]], [2, 3], 'bool');
    const out = meanFlat(x, m);
    expect(Array.from(out.dataSync())).toEqual([1.5, 30]);
    [x, m, out].forEach((t) => t.dispose());
  });
});

describe('eval-loss protocol', () => {
  it('averages per-sample losses at the 10 fixed timesteps, then over t', async () => {
    const x0 = tf.zeros([2, 1, 1, 2, 2]);
    const y = tf.ones([2, 1, 1, 1]);
    // Velocity -1 everywhere: error (v - (0 - eps))^2 = (eps - 1)^2, independent of t.
    const model: ModelFn = (x) => tf.concat([tf.fill(x.shape, -1), tf.zerosLike(x)], 1);
    const before = tf.memory().numTensors;
    const r = await evalBucketLoss(model, () => [{ x0, text: { y }, meta }, { x0, text: { y }, meta }], { seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.timesteps.length).toBe(10);
    expect(r.lossPerTimestep.length).toBe(10);
    expect(r.loss).toBeCloseTo(r.lossPerTimestep.reduce((a, b) => a + b) / 10, 10);
    expect(r.loss).toBeGreaterThan(0.5);
    expect(r.loss).toBeLessThan(4);
    [x0, y].forEach((t) => t.dispose());
  });
});
