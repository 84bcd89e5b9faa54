import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectSameOnBothBackends, nativeAvailable, randn } from '../testing.js';

const t = (shape: number[], seed: number, scale = 1) => tf.tensor(randn(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

describe.skipIf(!nativeAvailable())('reductions on native', () => {
  const axes: (number | number[] | undefined)[] = [-1, 0, 1, [1, 2], [0, 1], undefined, [0, 2]];
  for (const [name, op] of [
    ['sum', tf.sum],
    ['mean', tf.mean],
    ['max', tf.max],
    ['min', tf.min],
  ] as const) {
    it(name, () => {
      for (const axis of axes) {
        for (const keepDims of [false, true]) {
          expectSameOnBothBackends(() => op(t([6, 300, 7], 3), axis, keepDims), 1e-5, 1e-5, `${name} axis ${JSON.stringify(axis)} keepDims ${keepDims}`);
        }
      }
    });
  }
  it('int32 sum keeps the cpu kernel; NaN in max', () => {
    expectSameOnBothBackends(() => [tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 1), tf.max(tf.tensor2d([[1, NaN], [3, 4]]), 1)]);
  });
});

describe.skipIf(!nativeAvailable())('softmax on native', () => {
  it('forward over the last axis, with large logits', () => {
    expectSameOnBothBackends(() => tf.softmax(t([16, 67], 1, 10)), 1e-5, 1e-7);
    expectSameOnBothBackends(() => tf.softmax(t([2, 3, 1024], 2, 30)), 1e-5, 1e-7);
  });
  it('gradient', () => {
    expectSameOnBothBackends(() => tf.grad((x: tf.Tensor) => tf.mul(tf.softmax(x), t([5, 33], 7)).sum())(t([5, 33], 3, 3)), 1e-4, 1e-6);
  });
});

describe.skipIf(!nativeAvailable())('transpose on native', () => {
  const cases: [number[], number[]][] = [
    [[37, 45], [1, 0]],
    [[2, 3, 4, 5], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [3, 2, 1, 0]],
    [[2, 1, 4, 5], [2, 0, 3, 1]],
    [[6, 7, 8], [1, 2, 0]],
    [[6, 7, 8], [0, 1, 2]],
    [[2, 3, 4, 5, 6], [0, 4, 1, 2, 3]],
  ];
  it('float32 and int32', () => {
    for (const [shape, perm] of cases) {
      expectSameOnBothBackends(() => [tf.transpose(t(shape, 1), perm), tf.transpose(tf.cast(tf.mul(t(shape, 2), 100), 'int32'), perm)], 0, 0, `[${shape}] perm [${perm}]`);
    }
  });
});
