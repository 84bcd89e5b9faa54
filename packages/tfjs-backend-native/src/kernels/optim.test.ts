// The multi-tensor optimizer kernels against the composites of @opensora-ts/kernels
// (packages/kernels/src/optim/composites.ts, restated here with plain tf ops) run on cpu: the same
// bits, since both do the same float32 operations in the same order. The norm's per-tensor sums
// follow this backend's Sum (eight double lanes), so it is compared against native's own composite.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { POOL_MIN_FLOATS } from '../buffer-pool.js';
import { nativeAvailable, randn, runOn } from '../testing.js';

const SHAPES = [[], [5], [3, 7], [513], [70000], [0]];
const data = (seed: number, scale = 1) => SHAPES.map((s, i) => randn(s.reduce((a, b) => a * b, 1), seed * 10 + i, scale));
const tensors = (d: Float32Array[]) => d.map((v, i) => tf.tensor(v, SHAPES[i]!, 'float32'));

const H = { beta1: 0.9, beta2: 0.999, eps: 1e-15, lr: 3e-3, wd: 0.05, step: 4, scale: 0.61 };

function adamwComposite(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor): tf.Tensor[] {
  const bc1 = 1 - H.beta1 ** H.step;
  const bc2 = 1 - H.beta2 ** H.step;
  const gs = tf.mul(g, H.scale);
  const m1 = m.mul(H.beta1).add(gs.mul(1 - H.beta1));
  const v1 = v.mul(H.beta2).add(gs.square().mul(1 - H.beta2));
  const denom = v1.sqrt().div(Math.sqrt(bc2)).add(H.eps);
  return [p.mul(1 - H.lr * H.wd).sub(m1.div(denom).mul(H.lr / bc1)), m1, v1];
}

const adamwAttrs = (n: number, inPlace: number) => ({
  n,
  beta1: H.beta1,
  oneMinusBeta1: 1 - H.beta1,
  beta2: H.beta2,
  oneMinusBeta2: 1 - H.beta2,
  decay: 1 - H.lr * H.wd,
  hasDecay: 1,
  sqrtBc2: Math.sqrt(1 - H.beta2 ** H.step),
  eps: H.eps,
  stepSize: H.lr / (1 - H.beta1 ** H.step),
  gradScale: H.scale,
  hasGradScale: 1,
  inPlace,
});

/** A copy of a tensor's values, read through a clone so that the tensor's own buffer does not escape. */
const sliceValues = (t: tf.Tensor) => {
  const c = tf.mul(t, 1);
  const out = Array.from(c.dataSync());
  c.dispose();
  return out;
};

const kernel = (name: string, inputs: tf.Tensor[], attrs: Record<string, number>) =>
  tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[] | tf.Tensor;

describe.skipIf(!nativeAvailable())('optimizer kernels on native', () => {
  const [p, g, m] = [data(1), data(2, 0.3), data(3, 0.01)];
  const v = data(4, 0.01).map((a) => a.map(Math.abs));

  for (const inPlace of [0, 1]) {
    it(`OpensoraAdamW equals the composite bit for bit (inPlace ${inPlace})`, () => {
      const n = SHAPES.length;
      const native = runOn('native', () => kernel('OpensoraAdamW', [...tensors(p), ...tensors(g), ...tensors(m), ...tensors(v)], adamwAttrs(n, inPlace)));
      const cpu = runOn('cpu', () => {
        const outs = SHAPES.map((_, i) => adamwComposite(tf.tensor(p[i]!, SHAPES[i]), tf.tensor(g[i]!, SHAPES[i]), tf.tensor(m[i]!, SHAPES[i]), tf.tensor(v[i]!, SHAPES[i])));
        return [0, 1, 2].flatMap((j) => outs.map((o) => o[j]!));
      });
      expect(native.map((o) => o.shape)).toEqual(cpu.map((o) => o.shape));
      native.forEach((o, i) => expect(Array.from(o.values), `output ${i}`).toEqual(Array.from(cpu[i]!.values)));
    });
  }

  it('OpensoraAdamW in place writes over its own outputs when no other tensor holds them; never over a caller\'s array or a shared buffer', () => {
    const prev = tf.getBackend();
    tf.setBackend('native');
    try {
      const n = SHAPES.length;
      const pCopy = p.map((a) => a.slice());
      const grads = tensors(g);
      // First call: every input wraps a caller's array (tf.tensor keeps it uncopied): all outputs are new.
      const first = kernel('OpensoraAdamW', [...tensors(p), ...grads, ...tensors(m), ...tensors(v)], adamwAttrs(n, 1)) as tf.Tensor[];
      expect(p).toEqual(pCopy);
      const [own, moments, second] = [first.slice(0, n), first.slice(n, 2 * n), first.slice(2 * n)];
      const sharer = moments.map((t) => t.clone()); // the first moments now have two holders
      const held = sharer.map((t) => Array.from(t.dataSync()));
      const outs = kernel('OpensoraAdamW', [...own, ...grads, ...moments, ...second], adamwAttrs(n, 1)) as tf.Tensor[];
      // The parameters that are sole holders of kernel-made buffers the pool counts (those of at least
      // POOL_MIN_FLOATS values) came back as the same data; smaller ones, and the shared moments, did not.
      own.forEach((t, i) => (t.size >= POOL_MIN_FLOATS ? expect(outs[i]!.dataId).toBe(t.dataId) : expect(outs[i]!.dataId).not.toBe(t.dataId)));
      expect(own.some((t) => t.size >= POOL_MIN_FLOATS)).toBe(true);
      moments.forEach((t, i) => expect(outs[n + i]!.dataId).not.toBe(t.dataId));
      sharer.forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(held[i]));
      const before = tf.memory().numTensors;
      tf.dispose(outs);
      expect(tf.memory().numTensors).toBe(before - outs.length);
      // The in-place outputs were second references: the inputs are still there.
      own.forEach((t) => expect(t.isDisposed).toBe(false));
      expect(own[3]!.dataSync().length).toBe(513);
      tf.dispose([...first, ...sharer, ...grads]);
    } finally {
      tf.setBackend(prev);
    }
  });

  it('OpensoraAdamW and OpensoraEmaUpdate in place never write over a parameter a live slice views (a second dataId on the same buffer)', () => {
    const prev = tf.getBackend();
    tf.setBackend('native');
    try {
      const size = 70000; // counted by the buffer pool (>= POOL_MIN_FLOATS)
      expect(size).toBeGreaterThanOrEqual(POOL_MIN_FLOATS);
      const one = (seed: number, scale = 1) => tf.tensor(randn(size, seed, scale), [size], 'float32');
      const g = one(21, 0.3);
      // A first step makes kernel-owned buffers (its inputs are callers' arrays, never written over).
      const [p1, m1, v1] = kernel('OpensoraAdamW', [one(22), g, one(23, 0.01), tf.abs(one(24, 0.01))], adamwAttrs(1, 1)) as tf.Tensor[];
      // A contiguous slice of the parameter: on cpu and native, a view of the same ArrayBuffer under a new dataId.
      const head = tf.slice(p1!, [0], [1000]);
      const want = sliceValues(head);
      const [p2, m2, v2] = kernel('OpensoraAdamW', [p1!, g, m1!, v1!], adamwAttrs(1, 1)) as tf.Tensor[];
      expect(p2!.dataId).not.toBe(p1!.dataId);
      expect(sliceValues(head)).toEqual(want);
      const sliced = tf.slice(p2!, [0], [1000]);
      const slicedBefore = sliceValues(sliced);
      const [p3, m3, v3] = kernel('OpensoraAdamW', [p2!, g, m2!, v2!], adamwAttrs(1, 1)) as tf.Tensor[];
      // The parameter moved on; the slice taken before the step kept its values (it did not see the update).
      expect(p3!.dataId).not.toBe(p2!.dataId);
      expect(sliceValues(sliced)).toEqual(slicedBefore);
      expect(sliceValues(head)).toEqual(want);
      // Without a slice, the same step writes in place (the sole holder's own buffer, same data back).
      const [p4, m4, v4] = kernel('OpensoraAdamW', [p3!, g, m3!, v3!], adamwAttrs(1, 1)) as tf.Tensor[];
      expect(p4!.dataId).toBe(p3!.dataId);
      // The EMA kernel follows the same rule: a slice of the EMA copy keeps its values.
      const e1 = kernel('OpensoraEmaUpdate', [one(25), p4!], { n: 1, decay: 0.9, oneMinusDecay: 0.1, inPlace: 1 }) as tf.Tensor[];
      const eSlice = tf.slice(e1[0]!, [5], [100]);
      const eBefore = sliceValues(eSlice);
      const e2 = kernel('OpensoraEmaUpdate', [e1[0]!, p4!], { n: 1, decay: 0.9, oneMinusDecay: 0.1, inPlace: 1 }) as tf.Tensor[];
      expect(e2[0]!.dataId).not.toBe(e1[0]!.dataId);
      expect(sliceValues(eSlice)).toEqual(eBefore);
      tf.dispose([g, p1!, m1!, v1!, head, p2!, m2!, v2!, sliced, p3!, m3!, v3!, p4!, m4!, v4!, ...e1, eSlice, ...e2]);
    } finally {
      tf.setBackend(prev);
    }
  });

  it('OpensoraEmaUpdate equals ema*decay + p*(1-decay) on cpu bit for bit', () => {
    const e = data(5);
    const native = runOn('native', () => kernel('OpensoraEmaUpdate', [...tensors(e), ...tensors(p)], { n: SHAPES.length, decay: 0.9999, oneMinusDecay: 1 - 0.9999, inPlace: 1 }));
    const cpu = runOn('cpu', () => SHAPES.map((s, i) => tf.tensor(e[i]!, s).mul(0.9999).add(tf.tensor(p[i]!, s).mul(1 - 0.9999))));
    native.forEach((o, i) => expect(Array.from(o.values), `ema ${i}`).toEqual(Array.from(cpu[i]!.values)));
  });

  it('OpensoraGlobalNorm equals addN(sum(x^2)).sqrt() on native bit for bit, and cpu closely', () => {
    const xs = data(6, 2);
    const fused = runOn('native', () => kernel('OpensoraGlobalNorm', tensors(xs), {}))[0]!;
    const composite = (b: string) => runOn(b, () => tf.addN(tensors(xs).map((x) => x.square().sum())).sqrt())[0]!;
    expect(fused.shape).toEqual([]);
    expect(fused.values[0]).toBe(composite('native').values[0]);
    expect(Math.abs(fused.values[0]! - composite('cpu').values[0]!)).toBeLessThan(1e-5 * fused.values[0]!);
  });

  it('names the problem: a wrong input count, a non-float32 input, a size mismatch', () => {
    const prev = tf.getBackend();
    tf.setBackend('native');
    try {
      const a = tf.tensor([1, 2, 3]);
      const b = tf.tensor([1, 2]);
      const i = tf.tensor([1, 2, 3], [3], 'int32');
      expect(() => kernel('OpensoraEmaUpdate', [a, a, a], { n: 2, decay: 0.9, oneMinusDecay: 0.1 })).toThrow(/got 3 inputs for n=2, expected 2 per tensor/);
      expect(() => kernel('OpensoraEmaUpdate', [a, i], { n: 1, decay: 0.9, oneMinusDecay: 0.1 })).toThrow(/input 1 is int32, expected float32/);
      expect(() => kernel('OpensoraEmaUpdate', [a, b], { n: 1, decay: 0.9, oneMinusDecay: 0.1 })).toThrow(/input 1 has 2 values, expected 3/);
      tf.dispose([a, b, i]);
    } finally {
      tf.setBackend(prev);
    }
  });
});
