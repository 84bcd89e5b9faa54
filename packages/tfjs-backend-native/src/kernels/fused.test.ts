// The fused kernels against the reference composites of @opensora-ts/kernels
// (packages/kernels/src/fused/composites.ts, restated here with plain tf ops) on the cpu backend,
// forward and backward (the backward against tf.grads through the composite).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectClose, nativeAvailable, randn, runOn } from '../testing.js';

type Norm = 'OpensoraLayerNorm' | 'OpensoraGroupNorm' | 'OpensoraRMSNorm' | 'OpensoraGeluTanh';

function affine(y: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null): tf.Tensor {
  let out = y;
  if (gamma) out = tf.mul(out, gamma);
  if (beta) out = tf.add(out, beta);
  return out;
}

const composites: Record<Norm, (x: tf.Tensor, g: tf.Tensor | null, b: tf.Tensor | null, attrs: { eps: number; groups?: number }) => tf.Tensor> = {
  OpensoraLayerNorm: (x, g, b, { eps }) => {
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    return affine(tf.mul(centered, tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps))), g, b);
  },
  OpensoraGroupNorm: (x, g, b, { eps, groups }) => {
    const c = x.shape[x.rank - 1]!;
    const v = tf.reshape(x, [x.shape[0]!, -1, groups!, c / groups!]);
    const centered = tf.sub(v, tf.mean(v, [1, 3], true));
    const y = tf.mul(centered, tf.rsqrt(tf.add(tf.mean(tf.square(centered), [1, 3], true), eps)));
    return affine(tf.reshape(y, x.shape), g, b);
  },
  OpensoraRMSNorm: (x, g, _b, { eps }) => affine(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g, null),
  OpensoraGeluTanh: (x) => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  },
};

interface Case {
  name: Norm;
  shape: number[];
  gamma: boolean;
  beta: boolean;
  groups?: number;
  scale?: number;
  offset?: number;
}

const cases: Case[] = [
  { name: 'OpensoraLayerNorm', shape: [6, 5, 48], gamma: true, beta: true },
  { name: 'OpensoraLayerNorm', shape: [7, 33], gamma: false, beta: false, offset: 50 },
  { name: 'OpensoraLayerNorm', shape: [3, 1152], gamma: true, beta: false },
  { name: 'OpensoraLayerNorm', shape: [4, 20], gamma: false, beta: true },
  // 77 = two 32-wide blocks + one 8-wide + a 5-element tail of the moments and backward loops, with gamma.
  { name: 'OpensoraLayerNorm', shape: [5, 77], gamma: true, beta: true, scale: 2, offset: 3 },
  { name: 'OpensoraRMSNorm', shape: [6, 5, 48], gamma: true, beta: false },
  { name: 'OpensoraRMSNorm', shape: [9, 17], gamma: false, beta: false, scale: 3 },
  { name: 'OpensoraGroupNorm', shape: [2, 3, 4, 5, 8], gamma: true, beta: true, groups: 4 },
  { name: 'OpensoraGroupNorm', shape: [3, 50, 12], gamma: false, beta: false, groups: 3, offset: 20 },
  { name: 'OpensoraGroupNorm', shape: [1, 7, 6, 32], gamma: true, beta: false, groups: 32 },
  { name: 'OpensoraGroupNorm', shape: [2, 9, 16], gamma: false, beta: true, groups: 1 },
  { name: 'OpensoraGeluTanh', shape: [50, 77], gamma: false, beta: false, scale: 3 },
];

describe.skipIf(!nativeAvailable())('fused kernels on native', () => {
  for (const k of cases) {
    it(`${k.name} [${k.shape}] gamma=${k.gamma} beta=${k.beta}${k.groups ? ` groups=${k.groups}` : ''}`, () => {
      const c = k.shape[k.shape.length - 1]!;
      const n = k.shape.reduce((a, b) => a * b, 1);
      const xv = randn(n, 1, k.scale ?? 1).map((v) => v + (k.offset ?? 0));
      const gv = randn(c, 2);
      const bv = randn(c, 3);
      const dyv = randn(n, 4);
      const attrs = { eps: 1e-5, ...(k.groups ? { groups: k.groups } : {}), hasGamma: k.gamma ? 1 : 0, hasBeta: k.beta ? 1 : 0 };

      const native = runOn('native', () => {
        const x = tf.tensor(xv, k.shape);
        const inputs: tf.NamedTensorMap = { x };
        if (k.gamma) inputs.gamma = tf.tensor(gv);
        if (k.beta) inputs.beta = tf.tensor(bv);
        const y = tf.engine().runKernel(k.name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        const gradInputs: tf.NamedTensorMap = { dy: tf.tensor(dyv, k.shape), x };
        if (k.gamma) gradInputs.gamma = inputs.gamma!;
        const grads = tf.engine().runKernel(`${k.name}Grad`, gradInputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
        return [y, ...(Array.isArray(grads) ? grads : [grads])];
      });

      const cpu = runOn('cpu', () => {
        const x = tf.tensor(xv, k.shape);
        const g = k.gamma ? tf.tensor(gv) : null;
        const b = k.beta ? tf.tensor(bv) : null;
        const params = [x, ...(g ? [g] : []), ...(b ? [b] : [])];
        const f = (...p: tf.Tensor[]) => {
          let i = 1;
          const gg = g ? p[i++]! : null;
          const bb = b ? p[i++]! : null;
          return tf.mul(composites[k.name](p[0]!, gg, bb, attrs), tf.tensor(dyv, k.shape)).sum();
        };
        return [composites[k.name](x, g, b, attrs), ...tf.grads(f)(params)];
      });

      expect(native.map((o) => o.shape)).toEqual(cpu.map((o) => o.shape));
      const names = ['y', 'dx', ...(k.gamma ? ['dgamma'] : []), ...(k.beta ? ['dbeta'] : [])];
      native.forEach((o, i) => {
        // Per-channel gradients sum over every row: bound by the size of that sum.
        const atol = i >= 2 ? 2e-6 * Math.sqrt(n / c) * 4 + 1e-5 : 2e-5;
        expectClose(o.values, cpu[i]!.values, 2e-4, atol, `${k.name} ${names[i]}`);
      });
    });
  }
});
