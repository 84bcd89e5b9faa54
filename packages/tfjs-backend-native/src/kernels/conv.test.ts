import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectSameOnBothBackends, nativeAvailable, randn, sumAtol } from '../testing.js';

const t = (shape: number[], seed: number) => tf.tensor(randn(shape.reduce((a, b) => a * b, 1), seed), shape);

describe.skipIf(!nativeAvailable())('Conv3D on native', () => {
  const cases: { strides: number | [number, number, number]; pad: 'same' | 'valid'; k: [number, number, number] }[] = [
    { strides: 1, pad: 'same', k: [3, 3, 3] },
    { strides: 1, pad: 'valid', k: [3, 3, 3] },
    { strides: 2, pad: 'same', k: [3, 3, 3] },
    { strides: [1, 2, 2], pad: 'valid', k: [2, 3, 3] },
    { strides: 1, pad: 'same', k: [1, 1, 1] },
    { strides: 1, pad: 'same', k: [2, 2, 2] },
  ];
  for (const { strides, pad, k } of cases) {
    it(`forward and gradients, kernel ${k.join('x')} strides ${strides} pad ${pad}`, () => {
      const x = [2, 5, 7, 6, 3];
      const f = [...k, 3, 4];
      const out = tf.tidy(() => tf.conv3d(t(x, 1) as tf.Tensor5D, t(f, 2) as tf.Tensor5D, strides, pad).shape);
      expectSameOnBothBackends(() => {
        const dy = t(out, 3);
        const loss = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, strides, pad), dy).sum();
        const [gx, gf] = tf.grads(loss)([t(x, 1), t(f, 2)]);
        return [tf.conv3d(t(x, 1) as tf.Tensor5D, t(f, 2) as tf.Tensor5D, strides, pad), gx!, gf!];
      }, 1e-4, sumAtol(200, 3));
    });
  }
  it('dilations 2 (forward)', () => {
    expectSameOnBothBackends(() => tf.conv3d(t([1, 7, 8, 9, 2], 1) as tf.Tensor5D, t([3, 3, 3, 2, 5], 2) as tf.Tensor5D, 1, 'same', 'NDHWC', 2), 1e-4, sumAtol(54));
  });
});

describe.skipIf(!nativeAvailable())('Conv2D on native', () => {
  const cases: { strides: number; pad: 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]]; dil: number }[] = [
    { strides: 1, pad: 'same', dil: 1 },
    { strides: 2, pad: 'same', dil: 1 },
    { strides: 1, pad: 'valid', dil: 1 },
    { strides: 2, pad: 1, dil: 1 },
    { strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]], dil: 1 },
  ];
  for (const { strides, pad, dil } of cases) {
    it(`forward and gradients, strides ${strides} pad ${JSON.stringify(pad)}`, () => {
      const x = [2, 9, 8, 3];
      const f = [3, 3, 3, 5];
      const out = tf.tidy(() => tf.conv2d(t(x, 1) as tf.Tensor4D, t(f, 2) as tf.Tensor4D, strides, pad, 'NHWC', dil).shape);
      expectSameOnBothBackends(() => {
        const dy = t(out, 3);
        const loss = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad, 'NHWC', dil), dy).sum();
        const [gx, gf] = tf.grads(loss)([t(x, 1), t(f, 2)]);
        return [tf.conv2d(t(x, 1) as tf.Tensor4D, t(f, 2) as tf.Tensor4D, strides, pad, 'NHWC', dil), gx!, gf!];
      }, 1e-4, sumAtol(100, 3));
    });
  }
  it('dilations 2 (forward)', () => {
    expectSameOnBothBackends(() => tf.conv2d(t([1, 11, 10, 2], 1) as tf.Tensor4D, t([3, 3, 2, 4], 2) as tf.Tensor4D, 1, 'same', 'NHWC', 2), 1e-4, sumAtol(18));
  });
});
