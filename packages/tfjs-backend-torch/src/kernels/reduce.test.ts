import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectSameOnBothBackends, rand, sumAtol, torchAvailable } from '../testing.js';

describe.skipIf(!torchAvailable())('reductions on torch', () => {
  const axesCases: (number | number[] | undefined)[] = [undefined, 0, -1, [0, 2], [1], [0, 1, 2], []];
  for (const op of ['sum', 'mean', 'max', 'min', 'prod'] as const) {
    it(`${op} over axes ${axesCases.map((a) => JSON.stringify(a)).join(' ')}, keepDims both ways`, () => {
      for (const axis of axesCases) {
        for (const keep of [false, true]) {
          expectSameOnBothBackends(() => tf[op](rand([3, 4, 5], 2, op === 'prod' ? 0.5 : 1), axis, keep), 2e-6, sumAtol(60), `${op} ${JSON.stringify(axis)} ${keep}`);
        }
      }
    });
  }
  it('int32 and bool sums are int32; all / any', () => {
    expectSameOnBothBackends(() => [tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), 1), tf.sum(tf.tensor1d([true, true, false], 'bool'))], 0, 0);
    expectSameOnBothBackends(() => {
      const b = tf.greater(rand([3, 4], 1), -0.5);
      return [tf.all(b, 1), tf.any(b, 0), tf.all(b), tf.any(tf.logicalNot(b), [0, 1], true)];
    }, 0, 0);
  });
  it('argMax / argMin (first index on ties)', () => {
    expectSameOnBothBackends(() => [tf.argMax(rand([4, 6], 3), 1), tf.argMin(rand([4, 6], 3), 0), tf.argMax(tf.tensor1d([1, 3, 3, 2]))], 0, 0);
  });
  it('softmax on the last axis, logSoftmax, and their gradients', () => {
    expectSameOnBothBackends(() => {
      const x = rand([3, 4, 9], 4, 3);
      const [g] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.softmax(a), rand([3, 4, 9], 5))))([x]);
      return [tf.softmax(x), tf.logSoftmax(x), g!];
    }, 1e-5, 1e-6);
  });
  it('cumsum (exclusive, reverse) and unsortedSegmentSum (ids out of range dropped)', () => {
    expectSameOnBothBackends(() => {
      const x = rand([3, 5], 6);
      return [tf.cumsum(x, 1), tf.cumsum(x, 0, true), tf.cumsum(x, 1, false, true), tf.cumsum(x, 1, true, true)];
    }, 1e-6, 1e-5);
    expectSameOnBothBackends(() => tf.unsortedSegmentSum(rand([5, 3], 7), tf.tensor1d([0, 2, 0, 5, 1], 'int32'), 3), 1e-6, 1e-6);
  });
});
