import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
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
