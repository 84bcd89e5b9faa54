// Native Pack against cpu's: every axis (negative too), float32 and int32, several inputs; the
// dtypes it leaves to cpu still work there; bit-for-bit equal values.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { nativeAvailable, randn, runOn } from '../testing.js';

describe.skipIf(!nativeAvailable())('Pack on native', () => {
  for (const [shape, n] of [[[5, 8, 64, 48], 3], [[2, 3], 2], [[7], 4], [[2, 1, 3], 5]] as [number[], number][]) {
    for (let axis = -shape.length - 1; axis <= shape.length; axis++) {
      it(`stacks ${n} x [${shape}] on axis ${axis} as cpu does`, () => {
        const make = (dtype: 'float32' | 'int32') => () => {
          const size = shape.reduce((a, b) => a * b, 1);
          const ts = Array.from({ length: n }, (_, i) => {
            const v = randn(size, 10 + i);
            return dtype === 'int32' ? tf.tensor(Int32Array.from(v, (a) => Math.round(a * 100)), shape, 'int32') : tf.tensor(v, shape);
          });
          return [tf.stack(ts, axis)];
        };
        for (const dtype of ['float32', 'int32'] as const) {
          const [a] = runOn('native', make(dtype));
          const [b] = runOn('cpu', make(dtype));
          expect(a!.shape).toEqual(b!.shape);
          expect(a!.dtype).toBe(dtype);
          expect(Array.from(a!.values)).toEqual(Array.from(b!.values));
        }
      });
    }
  }

  it('leaves bool to cpu, and its gradient (unstack) still splits dy', () => {
    const [r] = runOn('native', () => [tf.cast(tf.stack([tf.tensor1d([1, 0], 'bool'), tf.tensor1d([0, 1], 'bool')]), 'int32')]);
    expect(Array.from(r!.values)).toEqual([1, 0, 0, 1]);
    const g = runOn('native', () => {
      const a = tf.tensor2d([[1, 2], [3, 4]]);
      const b = tf.tensor2d([[5, 6], [7, 8]]);
      return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.stack([x, y], 1), tf.range(0, 8).reshape([2, 2, 2]))))([a, b]);
    });
    expect(Array.from(g[0]!.values)).toEqual([0, 1, 4, 5]);
    expect(Array.from(g[1]!.values)).toEqual([2, 3, 6, 7]);
  });
});
