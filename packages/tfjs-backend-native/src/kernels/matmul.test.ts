import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../addon.js';
import { expectClose, expectSameOnBothBackends, nativeAvailable, randn, runOn, sumAtol } from '../testing.js';

const t = (shape: number[], seed: number) => tf.tensor(randn(shape.reduce((a, b) => a * b, 1), seed), shape);

describe.skipIf(!nativeAvailable())('BatchMatMul on native', () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`2-D, transposeA=${ta} transposeB=${tb}`, () => {
      const a = ta ? [47, 33] : [33, 47];
      const b = tb ? [29, 47] : [47, 29];
      expectSameOnBothBackends(() => tf.matMul(t(a, 1), t(b, 2), ta, tb), 1e-4, sumAtol(47));
    });
    it(`batched [3, ...] gradients, transposeA=${ta} transposeB=${tb}`, () => {
      const a = ta ? [3, 7, 5] : [3, 5, 7];
      const b = tb ? [3, 4, 7] : [3, 7, 4];
      expectSameOnBothBackends(() => {
        const dy = t([3, 5, 4], 9);
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.mul(tf.matMul(x, y, ta, tb), dy).sum();
        const [ga, gb] = tf.grads(f)([t(a, 3), t(b, 4)]);
        return [tf.matMul(t(a, 3), t(b, 4), ta, tb), ga!, gb!];
      }, 1e-4, sumAtol(7, 3));
    });
  }

  it('broadcast batch on both sides: [2,1,5,6] x [1,3,6,4] (cpu reference on tiled inputs)', () => {
    // tfjs-cpu's BatchMatMul mishandles batches that broadcast on both sides (it returns 60
    // values for [2,3,5,4]), so the reference tiles the inputs first.
    const native = runOn('native', () => tf.matMul(t([2, 1, 5, 6], 5), t([1, 3, 6, 4], 6)));
    const cpu = runOn('cpu', () => tf.matMul(tf.tile(t([2, 1, 5, 6], 5), [1, 3, 1, 1]), tf.tile(t([1, 3, 6, 4], 6), [2, 1, 1, 1])));
    expect(native[0]!.shape).toEqual([2, 3, 5, 4]);
    expectClose(native[0]!.values, cpu[0]!.values, 1e-4, sumAtol(6));
  });

  it('broadcast batch on one side: [2,3,5,6] x [3,6,4], [4,16,8] x [8,12] and transposes', () => {
    expectSameOnBothBackends(() => tf.matMul(t([2, 3, 5, 6], 5), t([3, 6, 4], 6)), 1e-4, sumAtol(6));
    expectSameOnBothBackends(() => tf.matMul(t([4, 16, 8], 7), t([8, 12], 8)), 1e-4, sumAtol(8));
    expectSameOnBothBackends(() => tf.matMul(t([4, 16, 8], 7), t([1, 12, 8], 8), false, true), 1e-4, sumAtol(8));
    expectSameOnBothBackends(() => tf.matMul(t([2, 8, 16], 7), t([12, 8], 8), true, true), 1e-4, sumAtol(8));
  });

  it('empty and int32 inputs', () => {
    expectSameOnBothBackends(() => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])));
    expectSameOnBothBackends(() => tf.matMul(tf.tensor2d([[1, 2]], [1, 2], 'int32'), tf.tensor2d([[3], [4]], [2, 1], 'int32')));
  });
});

describe.skipIf(!nativeAvailable())('_FusedMatMul on native', () => {
  for (const activation of ['linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu'] as const) {
    it(`bias [N] + ${activation}`, () => {
      expectSameOnBothBackends(
        () => tf.fused.matMul({ a: t([9, 13], 1), b: t([13, 6], 2), bias: t([6], 3), activation, leakyreluAlpha: 0.1 }),
        1e-4,
        sumAtol(13),
      );
    });
  }
  it('bias written into the output, product accumulated on it: batches, transposes, long K, empty K', () => {
    // Linear's call: [rows, in] x [out, in]^T + bias [out]; a long K crosses the GEMMs' K blocks,
    // each of which adds onto the bias already in the output.
    expectSameOnBothBackends(() => tf.fused.matMul({ a: t([37, 1100], 1), b: t([21, 1100], 2), bias: t([21], 3), transposeB: true }), 1e-4, sumAtol(1100));
    // a batch of A against one B (one GEMM over batch*M rows) and a batch on both sides (one GEMM per entry)
    expectSameOnBothBackends(() => tf.fused.matMul({ a: t([3, 5, 7], 4), b: t([7, 6], 5), bias: t([6], 6) }), 1e-4, sumAtol(7));
    expectSameOnBothBackends(() => tf.fused.matMul({ a: t([3, 7, 5], 4), b: t([3, 6, 7], 5), bias: t([1, 6], 6), transposeA: true, transposeB: true }), 1e-4, sumAtol(7));
    expectSameOnBothBackends(() => tf.fused.matMul({ a: t([4, 3], 7), b: t([3, 1], 8), bias: t([1], 9) }), 1e-4, sumAtol(3));
    expectSameOnBothBackends(() => tf.fused.matMul({ a: tf.zeros([4, 0]), b: tf.zeros([0, 5]), bias: t([5], 9) }));
  });

  it('the linear-layer shapes where each GEMM library is picked, with bias, against cpu', () => {
    // csrc/matmul.cc sends large products with an untransposed B and K under 1024 to OpenBLAS
    // (dX = dY W with a wide N; dW = dY^T X) and the rest to oneDNN where it is built in: one case
    // of each.
    expectSameOnBothBackends(() => tf.fused.matMul({ a: t([96, 384], 1), b: t([1536, 384], 2), bias: t([1536], 3), transposeB: true }), 1e-4, sumAtol(384));
    expectSameOnBothBackends(() => tf.matMul(t([640, 384], 4), t([384, 1536], 5)), 1e-4, sumAtol(384));
    expectSameOnBothBackends(() => tf.matMul(t([640, 1536], 6), t([640, 384], 7), true, false), 1e-4, sumAtol(640));
  });

  it('products cut into slices over 1, 2 and 3 threads (rows; columns for a short C) agree with cpu', () => {
    // above csrc/matmul.cc's one-thread limit (2^22 multiply-adds), oneDNN's products run as one
    // slice of C per thread of our pool
    const addon = loadAddon();
    const before = addon.info().threads;
    try {
      for (const threads of [1, 2, 3]) {
        addon.setThreads(threads);
        const what = `${threads} thread(s)`;
        expectSameOnBothBackends(() => tf.fused.matMul({ a: t([301, 100], 1), b: t([203, 100], 2), bias: t([203], 3), transposeB: true }), 1e-4, sumAtol(100), what);
        expectSameOnBothBackends(() => tf.fused.matMul({ a: t([300, 41], 4), b: t([300, 701], 5), bias: t([701], 6), transposeA: true }), 1e-4, sumAtol(300), what);
        expectSameOnBothBackends(() => tf.matMul(t([2, 41, 300], 7), t([2, 701, 300], 8), false, true), 1e-4, sumAtol(300), what);
      }
    } finally {
      addon.setThreads(before);
    }
  });

  it('Linear\'s gradients through the fused product: dX, dW and the bias\'s column sum', () => {
    expectSameOnBothBackends(() => {
      const dy = t([37, 21], 4);
      const f = (x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) =>
        tf.mul(tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias, transposeB: true }), dy).sum();
      return tf.grads(f)([t([37, 300], 1), t([21, 300], 2), t([21], 3)]);
    }, 1e-4, sumAtol(300, 2));
  });

  it('scalar bias, transposes, full-shape bias (cpu fallback) and its gradient', () => {
    expectSameOnBothBackends(() => tf.fused.matMul({ a: t([13, 9], 1), b: t([6, 13], 2), bias: tf.scalar(0.5), transposeA: true, transposeB: true }), 1e-4, sumAtol(13));
    expectSameOnBothBackends(() => tf.fused.matMul({ a: t([9, 13], 1), b: t([13, 6], 2), bias: t([9, 6], 3) }), 1e-4, sumAtol(13));
    expectSameOnBothBackends(() => {
      const f = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) =>
        tf.mul(tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'relu' }), t([9, 6], 4)).sum();
      return tf.grads(f)([t([9, 13], 1), t([13, 6], 2), t([6], 3)]);
    }, 1e-4, sumAtol(13, 2));
  });
});
