// The VAE's fused kernels on native against the ops they replace, run on tfjs's cpu backend:
// OpensoraConv3d = pad -> conv3d('valid') -> add(bias); OpensoraGroupNormSilu = x * sigmoid(GN(x)).
import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectSameOnBothBackends, nativeAvailable, randn, sumAtol } from '../testing.js';

const t = (shape: number[], seed: number, scale = 1) => tf.tensor(randn(shape.reduce((a, b) => a * b, 1), seed).map((v) => v * scale), shape);
const onNative = () => tf.getBackend() === 'native';

describe.skipIf(!nativeAvailable())('OpensoraConv3d on native', () => {
  type Triple = [number, number, number];
  const cases: { x: number[]; k: Triple; cout: number; strides: Triple; pads: number[]; bias: boolean }[] = [
    { x: [1, 5, 6, 7, 4], k: [3, 3, 3], cout: 5, strides: [1, 1, 1], pads: [2, 0, 1, 1, 1, 1], bias: true },
    { x: [2, 5, 6, 6, 3], k: [3, 3, 3], cout: 4, strides: [2, 2, 2], pads: [2, 0, 1, 1, 1, 1], bias: true },
    { x: [1, 3, 4, 4, 6], k: [1, 1, 1], cout: 3, strides: [1, 1, 1], pads: [0, 0, 0, 0, 0, 0], bias: true },
    { x: [1, 4, 5, 6, 2], k: [3, 1, 3], cout: 3, strides: [1, 1, 1], pads: [1, 2, 0, 0, 0, 3], bias: false },
  ];
  for (const c of cases) {
    it(`x [${c.x}] k [${c.k}] strides [${c.strides}] pads [${c.pads}]${c.bias ? ' bias' : ''}`, () => {
      expectSameOnBothBackends(() => {
        const x = t(c.x, 1) as tf.Tensor5D;
        const f = t([...c.k, c.x[4]!, c.cout], 2, 0.3) as tf.Tensor5D;
        const b = t([c.cout], 3);
        if (onNative()) {
          const inputs: tf.NamedTensorMap = c.bias ? { x, filter: f, bias: b } : { x, filter: f };
          const attrs = { strides: c.strides, pads: c.pads, hasBias: c.bias ? 1 : 0 };
          return tf.engine().runKernel('OpensoraConv3d', inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        }
        const p = c.pads;
        const padded = tf.pad(x, [[0, 0], [p[0]!, p[1]!], [p[2]!, p[3]!], [p[4]!, p[5]!], [0, 0]]);
        const y = tf.conv3d(padded, f, c.strides, 'valid');
        return c.bias ? tf.add(y, b) : y;
      }, 1e-4, sumAtol(c.k[0] * c.k[1] * c.k[2] * c.x[4]!));
    });
  }
});

describe.skipIf(!nativeAvailable())('OpensoraGroupNormSilu on native', () => {
  const cases = [
    { shape: [2, 3, 4, 5, 8], groups: 4, gamma: true, beta: true },
    { shape: [1, 9, 12], groups: 3, gamma: false, beta: false },
    { shape: [2, 5, 6], groups: 6, gamma: true, beta: false },
  ];
  for (const c of cases) {
    it(`[${c.shape}] groups=${c.groups}${c.gamma ? ' gamma' : ''}${c.beta ? ' beta' : ''}`, () => {
      expectSameOnBothBackends(() => {
        const ch = c.shape[c.shape.length - 1]!;
        const x = tf.add(t(c.shape, 4, 2), 0.7);
        const gamma = t([ch], 5, 0.3);
        const beta = t([ch], 6, 0.5);
        const attrs = { eps: 1e-6, groups: c.groups, hasGamma: c.gamma ? 1 : 0, hasBeta: c.beta ? 1 : 0 };
        if (onNative()) {
          const inputs: tf.NamedTensorMap = { x };
          if (c.gamma) inputs.gamma = gamma;
          if (c.beta) inputs.beta = beta;
          return tf.engine().runKernel('OpensoraGroupNormSilu', inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        }
        // GroupNorm written out with tfjs ops (statistics over positions and the group's channels).
        const [n] = x.shape;
        const g = tf.reshape(x, [n!, -1, c.groups, ch / c.groups]);
        const { mean, variance } = tf.moments(g, [1, 3], true);
        let y = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-6))), x.shape);
        if (c.gamma) y = tf.mul(y, gamma);
        if (c.beta) y = tf.add(y, beta);
        return tf.mul(y, tf.sigmoid(y));
      }, 1e-4, 1e-5);
    });
  }
});
