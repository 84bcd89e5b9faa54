import { describe, expect, it } from 'vitest';
import { SeededRandom, tf, type Tensor } from '@opensora-ts/kernels';
import { addNoise } from './add-noise.js';
import { fixGuidanceFlaw, imageGuidanceRamp, oscillationScale } from './guidance.js';
import type { AsyncModelFn, ModelConditioning } from './model.js';
import { RFlowSampler } from './sampler.js';

const A = 0.5; // velocity from the text caption
const BV = -0.25; // velocity from the conditioning frames

/** Velocity per row: A when the row's caption is the prompt (ones), + BV when it carries cond frames. Records calls. */
interface Call {
  x: number[][];
  t: number;
  c: ModelConditioning; // tensors inside are released after the sampler returns: read the copies below
  yShape: number[];
  yRowMax: number[];
  mask?: number[][];
  yNullShape?: number[];
  xMask?: number[][];
  condMask?: number[];
  cond?: number[];
}
function standIn(calls: Call[]): AsyncModelFn {
  return (x, t, c) =>
    tf.tidy(() => {
      const n = x.shape[0]!;
      const yv = c.y.reshape([n, -1]).slice([0, 0], [n, 1]).dataSync();
      const cs = c.cond ? c.cond.abs().sum([1, 2, 3, 4]).dataSync() : new Float32Array(n);
      calls.push({
        x: (x.mean([1, 3, 4]).arraySync() as number[][]),
        t: t.dataSync()[0]!,
        c,
        yShape: [...c.y.shape],
        yRowMax: Array.from(c.y.reshape([n, -1]).max(1).dataSync()),
        mask: c.mask ? (c.mask.arraySync() as number[][]) : undefined,
        yNullShape: c.yNull ? [...c.yNull.shape] : undefined,
        xMask: c.xMask ? (c.xMask.toInt().arraySync() as number[][]) : undefined,
        condMask: c.condMask ? Array.from(c.condMask.mean([0, 1, 3, 4]).dataSync()) : undefined,
        cond: c.cond ? Array.from(c.cond.abs().sum([1, 2, 3, 4]).dataSync()) : undefined,
      });
      const vals = Array.from({ length: n }, (_, b) => (yv[b] !== 0 ? A : 0) + (cs[b]! > 0 ? BV : 0));
      const v = tf.tensor(vals, [n, 1, 1, 1, 1]).mul(tf.onesLike(x));
      return tf.concat([v, tf.zerosLike(x)], 1);
    });
}

const meta = { height: 64, width: 64, numFrames: 13 };
function text(B: number, L = 3, C = 2) {
  return { y: tf.ones([B, 1, L, C]), yNull: tf.zeros([1, 1, L, C]), mask: tf.ones([B, L], 'int32') };
}
const disposeText = (t: { y: Tensor; yNull: Tensor; mask: Tensor }) => [t.y, t.yNull, t.mask].forEach((x) => x.dispose());

describe('guidance pieces', () => {
  it('oscillation: full scale before step 10 and on even steps after', () => {
    expect([0, 9, 10, 11, 12, 13].map((i) => oscillationScale(7.5, i))).toEqual([7.5, 7.5, 7.5, 1, 7.5, 1]);
  });
  it('flaw fix scales by 0.7 std(cond)/std(v) + 0.3', () => {
    const v = tf.tensor([1, 2, 3, 4, 1, 1, 1, 2], [2, 4]);
    const c = tf.tensor([2, 4, 6, 8, 3, 3, 3, 6], [2, 4]);
    const out = fixGuidanceFlaw(v, c);
    expect(Array.from(out.dataSync()).map((x) => +x.toFixed(5))).toEqual([1.7, 3.4, 5.1, 6.8, 2.4, 2.4, 2.4, 4.8]);
    [v, c, out].forEach((x) => x.dispose());
  });
  it('image ramp: upper falls over steps, frames rise from 1 to it', () => {
    expect(imageGuidanceRamp(5, 1, 0, 5, 3)).toEqual([1, 3, 5]);
    expect(imageGuidanceRamp(5, 1, 4, 5, 3)).toEqual([1, 1, 1]);
    expect(imageGuidanceRamp(5, 1, 2, 5, 5)).toEqual([1, 1.5, 2, 2.5, 3]);
    expect(imageGuidanceRamp(1, 1, 2, 5, 5)).toBeNull();
  });
});

describe('RFlowSampler, t2v', () => {
  it('integrates u + g(c - u) with oscillation guidance (hand-computed)', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 12, useFlawFix: false });
    const ts = sampler.timesteps(meta);
    const calls: Call[] = [];
    const tx = text(2);
    const z0 = tf.randomNormal([2, 4, 3, 2, 2], 0, 1, 'float32', 5);
    const z = await sampler.sample(standIn(calls), { text: tx, meta, z: z0 });
    let shift = 0;
    for (let i = 0; i < 12; i++) shift += oscillationScale(7.5, i) * A * ((i < 11 ? ts[i]! - ts[i + 1]! : ts[i]!) / 1000);
    const diff = z.sub(z0);
    const d = diff.dataSync();
    for (const v of d) expect(v).toBeCloseTo(shift, 4);
    expect(calls.length).toBe(12);
    expect(calls.map((c) => c.t)).toEqual(ts);
    expect(calls[0]!.yShape[0]).toBe(4);
    expect(calls[0]!.mask).toEqual([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]);
    expect(calls[0]!.yRowMax).toEqual([1, 1, 0, 0]);
    expect(calls[0]!.c.maskIndex).toBeUndefined();
    [z, z0, diff].forEach((x) => x.dispose());
    disposeText(tx);
  });

  it('uses the negative prompt for the unconditional rows', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 2, useFlawFix: false, useTimestepTransform: false, cfgScale: 3 });
    const calls: Call[] = [];
    const tx = text(1);
    const neg = { y: tf.ones([1, 1, 3, 2]), mask: tf.tensor([[1, 0, 0]], undefined, 'int32') };
    const z0 = tf.zeros([1, 1, 1, 1, 1]);
    const z = await sampler.sample(standIn(calls), { text: { ...tx, negative: neg }, meta, z: z0 });
    // Both rows see a caption of ones: u = c = A, so v = A and z = A·1.
    expect(z.dataSync()[0]).toBeCloseTo(A, 6);
    expect(calls[0]!.mask).toEqual([[1, 1, 1], [1, 0, 0]]);
    [z, z0, neg.y, neg.mask].forEach((x) => x.dispose());
    disposeText(tx);
  });

  it('releases every tensor it made, reports progress, and can be cancelled', async () => {
    // No flaw fix: with the stand-in's constant velocity std(v) is 0 and the fix would give NaN.
    const sampler = new RFlowSampler({ numSamplingSteps: 5, useFlawFix: false });
    const tx = text(1);
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const z = await sampler.sample(standIn([]), { text: tx, meta, shape: [1, 4, 3, 4, 4], rng: 11, onProgress: (p) => progress.push(p.step) });
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    z.dispose();
    expect(tf.memory().numTensors).toBe(before);

    // The conditioned (tripled-batch) path releases everything too.
    const zCond = tf.ones([1, 4, 3, 4, 4]);
    const beforeI2v = tf.memory().numTensors;
    const zi = await sampler.sample(standIn([]), { text: tx, meta, shape: [1, 4, 3, 4, 4], rng: 12, zCond, maskIndex: [0] });
    zi.dispose();
    expect(tf.memory().numTensors).toBe(beforeI2v);
    zCond.dispose();

    const ac = new AbortController();
    const run = sampler.sample(standIn([]), { text: tx, meta, shape: [1, 4, 3, 4, 4], onProgress: (p) => p.step === 2 && ac.abort(new Error('stop')), signal: ac.signal });
    await expect(run).rejects.toThrow('stop');
    expect(tf.memory().numTensors).toBe(before);
    disposeText(tx);
  });

  it('AbortSignal.timeout fires during a sample whose model computes synchronously', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 30, useFlawFix: false });
    const tx = text(1);
    const before = tf.memory().numTensors;
    const inner = standIn([]);
    let steps = 0;
    // Each step blocks the thread for 20 ms and resolves at once, as a tfjs-cpu model does.
    const busy: AsyncModelFn = async (x, t, c) => {
      const until = Date.now() + 20;
      while (Date.now() < until);
      steps++;
      return inner(x, t, c);
    };
    const started = Date.now();
    const run = sampler.sample(busy, { text: tx, meta, shape: [1, 4, 3, 4, 4], signal: AbortSignal.timeout(100), checkFinite: false });
    await expect(run).rejects.toThrow(expect.objectContaining({ name: 'TimeoutError' }));
    expect(steps).toBeLessThan(30);
    expect(Date.now() - started).toBeLessThan(400);
    expect(tf.memory().numTensors).toBe(before);
    disposeText(tx);
  });

  it('draws the same initial noise from the same seed', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 2, useFlawFix: false });
    const tx = text(1);
    const a = await sampler.sample(standIn([]), { text: tx, meta, shape: [1, 4, 1, 2, 2], rng: 3 });
    const b = await sampler.sample(standIn([]), { text: tx, meta, shape: [1, 4, 1, 2, 2], rng: new SeededRandom(3) });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    [a, b].forEach((x) => x.dispose());
    disposeText(tx);
  });
});

describe('RFlowSampler, non-finite latents', () => {
  it('a guidance scale that overflows float32 stops at step 1 naming the scale', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 3, useFlawFix: false, cfgScale: 1e40 });
    const tx = text(1);
    const before = tf.memory().numTensors;
    const run = sampler.sample(standIn([]), { text: tx, meta, shape: [1, 4, 1, 2, 2], rng: 1 });
    await expect(run).rejects.toThrow(/^sampling step 1 of 3 \(t = [\d.]+\): the latent holds 16 \+Inf of 16 values \(the first at index 0\); sampling stopped\. The text guidance scale \(cfg_scale\) 1e\+40 is too large: float32 overflows\./);
    await expect(sampler.sample(standIn([]), { text: tx, meta, shape: [1, 4, 1, 2, 2], rng: 1 })).rejects.toMatchObject({ name: 'NonFiniteError' });
    expect(tf.memory().numTensors).toBe(before);
    disposeText(tx);
  });

  it('a model that gives NaN at step 2 stops there; checkFinite: false lets it through', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 3, useFlawFix: false, cfgScale: 2 });
    const tx = text(1);
    let calls = 0;
    const model: AsyncModelFn = (x) => tf.tidy(() => (++calls === 2 ? tf.fill([x.shape[0]!, 8, 1, 2, 2], Number.NaN) : tf.zeros([x.shape[0]!, 8, 1, 2, 2])));
    await expect(sampler.sample(model, { text: tx, meta, shape: [1, 4, 1, 2, 2], rng: 1 })).rejects.toThrow(
      /^sampling step 2 of 3 .*holds 16 NaN of 16 values.*The model gave non-finite velocities \(text guidance scale \(cfg_scale\) 2\): check its weights/,
    );
    calls = 0;
    const z = await sampler.sample(model, { text: tx, meta, shape: [1, 4, 1, 2, 2], rng: 1, checkFinite: false });
    expect(Number.isNaN(z.dataSync()[0])).toBe(true);
    z.dispose();
    disposeText(tx);
  });
});

describe('RFlowSampler, I2V/V2V', () => {
  it('i2v_tail: tripled batch and three-way guidance with the image ramp (hand-computed)', async () => {
    const T = 4;
    const steps = 12;
    const sampler = new RFlowSampler({ numSamplingSteps: steps, scaleImageWeight: true, initialImageScale: 1 });
    const ts = sampler.timesteps(meta);
    const calls: Call[] = [];
    const tx = text(1);
    const z0 = tf.zeros([1, 2, T, 2, 2]);
    const zCond = tf.ones([1, 2, T, 2, 2]);
    const z = await sampler.sample(standIn(calls), { text: tx, meta, z: z0, zCond, maskIndex: [T - 1], imageCfgScale: 3, guidanceScale: 7.5 });
    const expected = new Array(T).fill(0);
    for (let i = 0; i < steps; i++) {
      const dt = (i < steps - 1 ? ts[i]! - ts[i + 1]! : ts[i]!) / 1000;
      const gImg = oscillationScale(3, i);
      const ramp = imageGuidanceRamp(gImg, 1, i, steps, T) ?? new Array(T).fill(gImg);
      for (let f = 0; f < T; f++) expected[f] += (ramp[f]! * BV + oscillationScale(7.5, i) * A) * dt;
    }
    const got = z.mean([0, 1, 3, 4]).dataSync();
    for (let f = 0; f < T; f++) expect(got[f]).toBeCloseTo(expected[f], 4);
    const c0 = calls[0]!;
    expect(c0.yShape[0]).toBe(3);
    expect(c0.yRowMax).toEqual([1, 0, 0]); // [text, null, null]
    expect(c0.yNullShape).toEqual([3, 1, 3, 2]);
    expect(c0.condMask).toEqual([0, 0, 0, 1]);
    expect(c0.cond).toEqual([8, 8, 0]); // [z_cond, z_cond, 0], frame T-1 only (2·2·2 ones)
    expect(c0.c.maskIndex).toEqual([T - 1]);
    [z, z0, zCond].forEach((x) => x.dispose());
    disposeText(tx);
  });

  it('SDEdit replaces the conditioned frames by add_noise(z_cond, fresh noise, t) before each step', async () => {
    const shape = [1, 2, 3, 2, 2];
    const sampler = new RFlowSampler({ numSamplingSteps: 3 });
    const calls: Call[] = [];
    const tx = text(1);
    const z0 = tf.fill(shape, 0.25);
    const zCond = tf.randomNormal(shape, 0, 1, 'float32', 1);
    const z = await sampler.sample(standIn(calls), { text: tx, meta, z: z0, zCond, maskIndex: [0], useSdedit: true, rng: 99 });
    const eps0 = new SeededRandom(99).normalTensor(shape);
    const noised = addNoise(zCond, eps0, [calls[0]!.t]);
    const expectedFrame0 = noised.mean([1, 3, 4]).dataSync()[0]!;
    expect(calls[0]!.x[0]![0]).toBeCloseTo(expectedFrame0, 5);
    expect(calls[0]!.x[0]![1]).toBeCloseTo(0.25, 6); // other frames untouched
    [z, z0, zCond, eps0, noised].forEach((x) => x.dispose());
    disposeText(tx);
  });
});

describe('RFlowSampler, mask strategy frame mask', () => {
  it('holds edit_ratio 0 frames, lets 0.5 frames join at t <= 500 with fresh noise', async () => {
    const steps = 6;
    const sampler = new RFlowSampler({ numSamplingSteps: steps, useTimestepTransform: false, useFlawFix: false });
    const calls: Call[] = [];
    const tx = text(1);
    const z0 = tf.tensor([0, 1, 2, 3], [1, 1, 4, 1, 1]);
    const z = await sampler.sample(standIn(calls), { text: tx, meta, z: z0, frameMask: [[1, 0, 0.5, 1]], rng: 4 });
    const ts = sampler.timesteps(meta);
    expect(calls.map((c) => c.xMask![0])).toEqual(ts.map((t) => [1, 0, 500 >= t ? 1 : 0, 1]));
    expect(calls.every((c) => c.xMask!.length === 2)).toBe(true);
    const out = z.dataSync();
    expect(out[1]).toBe(1); // fixed frame is reset to its value after every update
    expect(out[0]).toBeCloseTo(0 + 7.5 * A, 4); // full path: sum of dt = 1
    // frame 2 is re-noised at the first t <= 500 (i = 3, t = 500), so its value is not 2 + partial shift.
    expect(calls[3]!.x[0]![2]).not.toBeCloseTo(2 + 7.5 * A * 0.5, 3);
    [z, z0].forEach((x) => x.dispose());
    disposeText(tx);
  });

  it('refuses I2V together with a frame mask', async () => {
    const tx = text(1);
    const z0 = tf.zeros([1, 1, 2, 1, 1]);
    await expect(new RFlowSampler().sample(standIn([]), { text: tx, meta, z: z0, zCond: z0, maskIndex: [0], frameMask: [[1, 1]] })).rejects.toThrow(/cannot be combined/);
    z0.dispose();
    disposeText(tx);
  });
});
