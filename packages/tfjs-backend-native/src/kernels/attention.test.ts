// The native fused attention against the pure-JS cpu kernels of @opensora-ts/kernels
// (registered on 'cpu' by the test runtime setup), forward and backward, on masks, causal rows,
// Nq != Nk and D != Dv; also through tf.grads (the gradient registered by @opensora-ts/kernels).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectClose, nativeAvailable, randn, runOn } from '../testing.js';
// The reference: @opensora-ts/kernels' pure-JS kernels and gradients, registered on cpu by this
// import. A relative path, as that package depends on this one (it cannot be a dependency here).
import '../../../kernels/src/fused/register.js';

interface Case {
  what: string;
  b: number;
  h: number;
  nq: number;
  nk: number;
  d: number;
  dv: number;
  /** Mask shape; absent: all ones [1, nk] (what the op passes when nothing is masked). */
  mask?: number[];
  causal?: boolean;
  scale?: number;
}

const cases: Case[] = [
  { what: 'no mask', b: 2, h: 3, nq: 9, nk: 9, d: 8, dv: 8 },
  { what: 'key mask [B,Nk]', b: 2, h: 2, nq: 7, nk: 11, d: 8, dv: 8, mask: [2, 11] },
  { what: 'mask [1,Nk] broadcast', b: 3, h: 2, nq: 6, nk: 10, d: 4, dv: 4, mask: [1, 10] },
  { what: '3-D mask [B,Nq,Nk]', b: 2, h: 2, nq: 5, nk: 8, d: 8, dv: 8, mask: [2, 5, 8] },
  { what: '3-D mask [1,Nq,Nk]', b: 2, h: 1, nq: 5, nk: 8, d: 8, dv: 8, mask: [1, 5, 8] },
  { what: 'causal', b: 1, h: 3, nq: 12, nk: 12, d: 16, dv: 16, causal: true },
  { what: 'causal Nq != Nk with key mask', b: 2, h: 2, nq: 6, nk: 9, d: 8, dv: 8, causal: true, mask: [2, 9] },
  { what: 'Nq != Nk, D != Dv, custom scale', b: 2, h: 2, nq: 13, nk: 5, d: 12, dv: 7, scale: 0.9 },
  { what: 'long rows, large scores', b: 1, h: 2, nq: 40, nk: 70, d: 32, dv: 24, mask: [1, 70], scale: 1 },
  // The addon works in blocks of 128 query rows and 1024 keys (online softmax across key blocks):
  // several of each, ragged ends, masks and causal rows crossing block edges, enough pairs to thread.
  { what: 'query blocks, 3-D mask', b: 2, h: 3, nq: 300, nk: 77, d: 16, dv: 16, mask: [2, 300, 77] },
  { what: 'causal across query blocks', b: 1, h: 4, nq: 260, nk: 260, d: 8, dv: 12, causal: true },
  { what: 'key blocks (online softmax), key mask', b: 1, h: 2, nq: 70, nk: 2100, d: 8, dv: 8, mask: [1, 2100], scale: 1 },
  { what: 'causal over key blocks', b: 1, h: 1, nq: 1100, nk: 1100, d: 4, dv: 4, causal: true, scale: 2 },
];

/** 0/1 mask with about a quarter masked; every key row keeps at least one allowed key unless `allowEmpty`. */
function maskValues(shape: number[], seed: number, allowEmpty: boolean): Float32Array {
  const r = randn(shape.reduce((a, s) => a * s, 1), seed);
  const m = r.map((x) => (x < -0.7 ? 0 : 1));
  const nk = shape[shape.length - 1]!;
  if (!allowEmpty) for (let o = 0; o < m.length; o += nk) m[o] = 1;
  return m;
}

function kernelOutputs(c: Case, mv: Float32Array, seed: number): tf.Tensor[] {
  const q = tf.tensor(randn(c.b * c.h * c.nq * c.d, seed), [c.b, c.h, c.nq, c.d]);
  const k = tf.tensor(randn(c.b * c.h * c.nk * c.d, seed + 1), [c.b, c.h, c.nk, c.d]);
  const v = tf.tensor(randn(c.b * c.h * c.nk * c.dv, seed + 2), [c.b, c.h, c.nk, c.dv]);
  const dy = tf.tensor(randn(c.b * c.h * c.nq * c.dv, seed + 3), [c.b, c.h, c.nq, c.dv]);
  const mask = tf.tensor(mv, c.mask ?? [1, c.nk]);
  const attrs = { scale: c.scale ?? 1 / Math.sqrt(c.d), causal: c.causal ? 1 : 0 } as unknown as tf.NamedAttrMap;
  const y = tf.engine().runKernel('OpensoraAttention', { q, k, v, mask }, attrs) as tf.Tensor;
  const grads = tf.engine().runKernel('OpensoraAttentionGrad', { dy, q, k, v, mask }, attrs) as tf.Tensor[];
  return [y, ...grads];
}

function compare(native: { values: ArrayLike<number>; shape: number[] }[], cpu: { values: ArrayLike<number>; shape: number[] }[], what: string): void {
  expect(native.map((o) => o.shape)).toEqual(cpu.map((o) => o.shape));
  ['y', 'dq', 'dk', 'dv'].forEach((name, i) => {
    const ref = cpu[i]!.values;
    let mag = 0;
    for (let j = 0; j < ref.length; j++) if (Number.isFinite(ref[j]!)) mag = Math.max(mag, Math.abs(ref[j]!));
    // Both sides accumulate in double and round once to float32: a few ulps of the magnitude.
    expectClose(native[i]!.values, ref, 1e-5, 1e-6 * Math.max(mag, 1), `${what} ${name}`);
  });
}

describe.skipIf(!nativeAvailable())('OpensoraAttention on native', () => {
  it('overrides the cpu kernels (and the JS reference is registered on cpu)', () => {
    for (const name of ['OpensoraAttention', 'OpensoraAttentionGrad']) {
      const cpu = tf.getKernel(name, 'cpu');
      const native = tf.getKernel(name, 'native');
      expect(cpu, `${name} on cpu`).toBeDefined();
      expect(native, `${name} on native`).toBeDefined();
      expect(native!.kernelFunc).not.toBe(cpu!.kernelFunc);
    }
  });

  cases.forEach((c, ci) => {
    it(`${c.what}: q [${c.b},${c.h},${c.nq},${c.d}] k [${c.nk}] dv ${c.dv}${c.causal ? ' causal' : ''}`, () => {
      const mv = c.mask ? maskValues(c.mask, 100 + ci, false) : new Float32Array(c.nk).fill(1);
      const native = runOn('native', () => kernelOutputs(c, mv, 10 * ci + 1));
      const cpu = runOn('cpu', () => kernelOutputs(c, mv, 10 * ci + 1));
      compare(native, cpu, c.what);
    });
  });

  it('padded keys (a key mask ending in zeros, which the addon leaves out of its GEMMs) as the cpu kernel', () => {
    const c: Case = { what: 'padded keys', b: 3, h: 2, nq: 140, nk: 30, d: 8, dv: 6, mask: [3, 30] };
    const mv = new Float32Array(3 * 30);
    mv.fill(1, 0, 7); // batch 0: 7 valid tokens then padding
    mv.fill(1, 30, 60); // batch 1: no padding
    mv.fill(1, 60, 65); // batch 2: 5 valid, one hole, padding
    mv[62] = 0;
    const native = runOn('native', () => kernelOutputs(c, mv, 5));
    const cpu = runOn('cpu', () => kernelOutputs(c, mv, 5));
    compare(native, cpu, c.what);
    // Padding keys get exactly zero gradients.
    for (const i of [2, 3]) expect(native[i]!.values.slice(7 * (i === 2 ? 8 : 6), 30 * (i === 2 ? 8 : 6)).every((x) => x === 0)).toBe(true);
  });

  it('a row with every key masked gives NaN as the cpu kernel (and zero gradients there)', () => {
    const c: Case = { what: 'empty rows', b: 2, h: 2, nq: 4, nk: 6, d: 8, dv: 5, mask: [2, 4, 6] };
    const mv = maskValues(c.mask!, 7, false);
    mv.fill(0, 0, 6); // batch 0, query row 0: no key allowed
    mv.fill(0, 4 * 6 + 2 * 6, 4 * 6 + 3 * 6); // batch 1, query row 2
    const native = runOn('native', () => kernelOutputs(c, mv, 3));
    const cpu = runOn('cpu', () => kernelOutputs(c, mv, 3));
    expect(Number.isNaN(native[0]!.values[0]!)).toBe(true);
    compare(native, cpu, c.what);
  });

  it('falls back to the cpu kernel for non-float32 inputs', () => {
    const run = () => {
      const q = tf.tensor(randn(2 * 4 * 3, 5), [1, 2, 4, 3]);
      const mask = tf.tensor([1, 0, 1, 1], [1, 4], 'int32'); // int32: not the addon's dtype
      return tf.engine().runKernel('OpensoraAttention', { q, k: q, v: q, mask }, { scale: 0.5, causal: 0 }) as tf.Tensor;
    };
    const [native] = runOn('native', run);
    const [cpu] = runOn('cpu', run);
    expectClose(native!.values, cpu!.values, 1e-6, 1e-7, 'fallback');
  });

  it('gradients through tf.grads match the cpu kernels', () => {
    const c = cases[6]!;
    const mv = maskValues(c.mask!, 9, false);
    const run = () => {
      const q = tf.tensor(randn(c.b * c.h * c.nq * c.d, 21), [c.b, c.h, c.nq, c.d]);
      const k = tf.tensor(randn(c.b * c.h * c.nk * c.d, 22), [c.b, c.h, c.nk, c.d]);
      const v = tf.tensor(randn(c.b * c.h * c.nk * c.dv, 23), [c.b, c.h, c.nk, c.dv]);
      const w = tf.tensor(randn(c.b * c.h * c.nq * c.dv, 24), [c.b, c.h, c.nq, c.dv]);
      const mask = tf.tensor(mv, c.mask!);
      const f = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) =>
        tf.sum(tf.mul(tf.engine().runKernel('OpensoraAttention', { q: qq, k: kk, v: vv, mask }, { scale: 0.3, causal: 1 }) as tf.Tensor, w));
      return tf.grads(f)([q, k, v]);
    };
    const native = runOn('native', run);
    const cpu = runOn('cpu', run);
    native.forEach((o, i) => expectClose(o.values, cpu[i]!.values, 1e-5, 1e-6, `tf.grads ${i}`));
  });

  it('keeps the tensor count flat', () => {
    const c = cases[1]!;
    const mv = maskValues(c.mask!, 11, false);
    runOn('native', () => kernelOutputs(c, mv, 1));
    const prev = tf.getBackend();
    tf.setBackend('native');
    try {
      const before = tf.memory().numTensors;
      tf.dispose(tf.tidy(() => kernelOutputs(c, mv, 1)));
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      tf.setBackend(prev);
    }
  });
});
