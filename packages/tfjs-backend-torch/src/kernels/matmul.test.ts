import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectSameOnBothBackends, rand, sumAtol, torchAvailable } from '../testing.js';

describe.skipIf(!torchAvailable())('matmul on torch', () => {
  it('batched, a broadcast batch of one (one side: tfjs-cpu miscounts two-sided broadcasts), every transpose combination', () => {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        expectSameOnBothBackends(() => {
          const a = rand(ta ? [3, 2, 8, 5] : [3, 2, 5, 8], 1);
          const b = rand(tb ? [1, 2, 6, 8] : [1, 2, 8, 6], 2);
          return tf.matMul(a, b, ta, tb);
        }, 1e-5, sumAtol(8), `ta=${ta} tb=${tb}`);
      }
    }
  });
  it('gradients of a linear layer and of a batched product', () => {
    expectSameOnBothBackends(() => {
      const f = (x: tf.Tensor, w: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.matMul(x, w), v, false, true), 0.5));
      return tf.grads(f)([rand([2, 4, 6], 1), rand([2, 6, 3], 2), rand([2, 5, 3], 3)]);
    }, 1e-5, sumAtol(20, 3));
  });
  it('fused matMul with bias and activations', () => {
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const) {
      expectSameOnBothBackends(
        () => tf.fused.matMul({ a: rand([4, 6], 1), b: rand([6, 3], 2), bias: rand([3], 3), activation, leakyreluAlpha: 0.3 }),
        1e-5,
        sumAtol(6),
        activation,
      );
    }
  });
  it('einsum', () => {
    expectSameOnBothBackends(() => tf.einsum('bij,bjk->bik', rand([2, 3, 4], 1), rand([2, 4, 5], 2)), 1e-5, sumAtol(4));
  });
});
