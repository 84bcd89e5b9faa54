// The multi-tensor optimizer kernels against the per-tensor composites, on every backend that
// registers them: the same bits, over shapes that cover the kernels' blocking and threading
// (a scalar, an empty tensor, odd lengths, tensors over one thread task), for several steps.
import { afterEach, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { normalArray } from '../testing/random.js';
import { fusedKernelAvailable, setFusedKernelsEnabled } from '../fused/registry.js';
import { AdamW } from './adamw.js';
import { clipCoefficient, clipGradNorm, globalGradNorm } from './clip-grad.js';
import { adamwUpdate, emaUpdate, globalNorm } from './multi-tensor.js';

const SHAPES: number[][] = [[], [0], [7], [3, 5], [384], [1000, 3], [70001], [2, 3, 4, 5, 6]];

const values = (seed: number, scale = 1, shapes = SHAPES) => shapes.map((s, i) => normalArray(s.reduce((a, b) => a * b, 1), seed * 100 + i, scale));
const vars = (data: Float32Array[], shapes = SHAPES) => data.map((d, i) => tf.variable(tf.tensor(d, shapes[i]!, 'float32'), false));
const read = (ts: readonly tf.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

/** Runs fn with the kernels on (fused) or off (composites). */
function withKernels<T>(fused: boolean, fn: () => T): T {
  setFusedKernelsEnabled(fused);
  try {
    return fn();
  } finally {
    setFusedKernelsEnabled(true);
  }
}

afterEach(() => setFusedKernelsEnabled(true));

describeEachBackend('multi-tensor optimizer kernels', (backend) => {
  const has = (k: 'OpensoraAdamW' | 'OpensoraEmaUpdate' | 'OpensoraGlobalNorm') => fusedKernelAvailable(k);

  it('AdamW: the kernel gives the composite bits over several steps (decay, a clipping scale, eps 1e-15)', (ctx) => {
    if (!has('OpensoraAdamW')) return ctx.skip(`no OpensoraAdamW kernel on ${backend}: the composite is the path`);
    const run = (fused: boolean) =>
      withKernels(fused, () => {
        const p = vars(values(1));
        const m = vars(values(2, 0.01));
        const v = vars(values(3, 0.001).map((a) => a.map(Math.abs)));
        for (let step = 1; step <= 3; step++) {
          const g = values(10 + step, 0.5).map((d, i) => tf.tensor(d, SHAPES[i]!));
          adamwUpdate(p, g, m, v, { beta1: 0.9, beta2: 0.999, eps: step === 2 ? 1e-8 : 1e-15, lr: 1e-3, weightDecay: step === 3 ? 0 : 0.01, step, gradScale: step === 1 ? 0.37 : 1 });
          tf.dispose(g);
        }
        const out = [read(p), read(m), read(v)];
        tf.dispose([...p, ...m, ...v]);
        return out;
      });
    const fused = run(true);
    const composite = run(false);
    expect(fused).toEqual(composite);
    // Something happened: the parameters moved.
    expect(fused[0]![3]).not.toEqual(Array.from(values(1)[3]!));
  });

  it('EMA: the kernel gives the composite bits', (ctx) => {
    if (!has('OpensoraEmaUpdate')) return ctx.skip(`no OpensoraEmaUpdate kernel on ${backend}`);
    const run = (fused: boolean) =>
      withKernels(fused, () => {
        const e = vars(values(4));
        for (let step = 0; step < 3; step++) {
          const p = values(20 + step).map((d, i) => tf.tensor(d, SHAPES[i]!));
          emaUpdate(e, p, step === 1 ? 0.9999 : 0.99);
          tf.dispose(p);
        }
        const out = read(e);
        tf.dispose(e);
        return out;
      });
    expect(run(true)).toEqual(run(false));
  });

  it('global norm: the kernel gives the composite bits (one tensor, many, large values)', (ctx) => {
    if (!has('OpensoraGlobalNorm')) return ctx.skip(`no OpensoraGlobalNorm kernel on ${backend}`);
    for (const [seed, scale, shapes] of [[5, 1, SHAPES], [6, 1e3, SHAPES], [7, 0.01, [[70001]]]] as const) {
      const xs = values(seed, scale, shapes as number[][]).map((d, i) => tf.tensor(d, (shapes as number[][])[i]!));
      const fused = withKernels(true, () => globalNorm(xs));
      const composite = withKernels(false, () => globalNorm(xs));
      expect(fused).toBe(composite);
      const want = Math.sqrt(xs.reduce((s, x) => s + Array.from(x.dataSync()).reduce((a, b) => a + b * b, 0), 0));
      expect(Math.abs(fused - want) / want).toBeLessThan(1e-5);
      tf.dispose(xs);
    }
  });

  it('updates in place only buffers no other tensor shares: a clone taken before a step keeps its values', () => {
    const p = vars(values(8));
    const m = vars(values(9).map((a) => a.fill(0)));
    const v = vars(values(9).map((a) => a.fill(0)));
    const held = p.map((t) => t.clone()); // shares the buffer (refcount 2): the step must not write over it
    const before = read(held);
    const g = values(30).map((d, i) => tf.tensor(d, SHAPES[i]!));
    const e = p.map((t) => tf.variable(t.clone(), false)); // an EMA copy made as Ema makes one
    adamwUpdate(p, g, m, v, { beta1: 0.9, beta2: 0.999, eps: 1e-8, lr: 0.1, weightDecay: 0, step: 1, gradScale: 1 });
    expect(read(held)).toEqual(before);
    emaUpdate(e, p, 0.5);
    expect(read(held)).toEqual(before);
    expect(read(p)[3]).not.toEqual(before[3]);
    tf.dispose([...p, ...m, ...v, ...held, ...g, ...e]);
  });

  it('AdamW.apply with gradScale equals applying clipGradNorm\'s clipped gradients; tensors stay flat', () => {
    const shapes = [[4, 3], [3], [40000]];
    const grads = new Map(values(40, 2, shapes).map((d, i) => [`w${i}`, tf.tensor(d, shapes[i]!)] as const));
    const make = () => new AdamW(vars(values(41, 1, shapes), shapes).map((t, i) => [`w${i}`, t] as [string, tf.Variable]), { lr: 0.01, weightDecay: 0.1 });
    const a = make();
    const b = make();
    const norm = globalGradNorm(grads);
    expect(clipCoefficient(norm, 1)).toBeLessThan(1);
    const clipped = clipGradNorm(grads, 1);
    expect(clipped.norm).toBe(norm);
    a.apply(clipped.grads);
    tf.dispose([...clipped.grads.values()]);
    b.apply(grads, { gradScale: clipCoefficient(norm, 1) });
    expect(read([...a.params.values()])).toEqual(read([...b.params.values()]));
    const start = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) b.apply(grads, { gradScale: clipCoefficient(globalGradNorm(grads), 1) });
    expect(tf.memory().numTensors).toBe(start);
    // state() is a copy: later steps leave it alone.
    const saved = b.state().moments.get('w2')!.m.slice(0, 4);
    const s = b.state();
    b.apply(grads);
    expect(Array.from(s.moments.get('w2')!.m.slice(0, 4))).toEqual(Array.from(saved));
    const params = [...a.params.values(), ...b.params.values()];
    a.dispose();
    b.dispose();
    tf.dispose([...grads.values(), ...params]);
  });

  it('refuses lists of different lengths, naming the counts', () => {
    const p = vars(values(1).slice(0, 2), SHAPES.slice(0, 2));
    expect(() => adamwUpdate(p, [], p, p, { beta1: 0.9, beta2: 0.999, eps: 1e-8, lr: 1, weightDecay: 0, step: 1, gradScale: 1 })).toThrow(/lists of 2 \/ 0 \/ 2 \/ 2 tensors/);
    expect(() => emaUpdate(p, p.slice(1), 0.9)).toThrow(/lists of 2 \/ 1 tensors/);
    tf.dispose(p);
  });
});
