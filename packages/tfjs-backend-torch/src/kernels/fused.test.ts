// The fused kernels called by name (as @opensora-ts/kernels calls them), compared with tfjs
// composites of the same maths on cpu, forward and backward kernels. The op-level suites in
// @opensora-ts/kernels run them again through the public ops on every backend.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectClose, rand, runOn, torchAvailable } from '../testing.js';

const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>) =>
  tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
const list = (o: tf.Tensor | tf.Tensor[]) => (Array.isArray(o) ? o : [o]);

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
}
function rmsNorm(x: tf.Tensor, g: tf.Tensor, eps: number): tf.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g);
}
function groupNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, groups: number, eps: number): tf.Tensor {
  const c = x.shape[x.rank - 1]!;
  const xg = tf.reshape(x, [x.shape[0]!, -1, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const y = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, eps))), x.shape);
  return tf.add(tf.mul(y, g), b);
}
function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, allow: tf.Tensor, scale: number): tf.Tensor {
  const s = tf.mul(tf.matMul(q, k, false, true), scale);
  return tf.matMul(tf.softmax(tf.where(allow, s, tf.fill(s.shape, -Infinity))), v);
}

describe.skipIf(!torchAvailable())('fused norm kernels on torch', () => {
  it('OpensoraLayerNorm and its Grad equal the composite and its gradients', () => {
    const eps = 1e-6;
    const x = () => tf.add(rand([3, 5, 16], 1, 2), 0.5);
    const g = () => tf.add(rand([16], 2, 0.1), 1);
    const b = () => rand([16], 3, 0.1);
    const dy = () => rand([3, 5, 16], 4);
    const fused = runOn('torch', () => [run('OpensoraLayerNorm', { x: x(), gamma: g(), beta: b() }, { eps, hasGamma: 1, hasBeta: 1 }) as tf.Tensor, ...list(run('OpensoraLayerNormGrad', { dy: dy(), x: x(), gamma: g() }, { eps, hasGamma: 1, hasBeta: 1 }))]);
    const ref = runOn('cpu', () => [layerNorm(x(), g(), b(), eps), ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, c, d, eps), dy())))([x(), g(), b()])]);
    fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 2e-5, `output ${i}`));
  });
  it('OpensoraRMSNorm and its Grad', () => {
    const eps = 1e-6;
    const x = () => rand([4, 24], 1, 2);
    const g = () => tf.add(rand([24], 2, 0.1), 1);
    const dy = () => rand([4, 24], 4);
    const fused = runOn('torch', () => [run('OpensoraRMSNorm', { x: x(), gamma: g() }, { eps, hasGamma: 1, hasBeta: 0 }) as tf.Tensor, ...list(run('OpensoraRMSNormGrad', { dy: dy(), x: x(), gamma: g() }, { eps, hasGamma: 1, hasBeta: 0 }))]);
    const ref = runOn('cpu', () => [rmsNorm(x(), g(), eps), ...tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a, c, eps), dy())))([x(), g()])]);
    fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 2e-5, `output ${i}`));
  });
  it('OpensoraGroupNorm (channels-last) and its Grad, including one-channel groups', () => {
    for (const groups of [4, 16]) {
      const eps = 1e-6;
      const x = () => tf.add(rand([2, 3, 5, 16], 1, 2), 0.5);
      const g = () => tf.add(rand([16], 2, 0.1), 1);
      const b = () => rand([16], 3, 0.1);
      const dy = () => rand([2, 3, 5, 16], 4);
      const attrs = { eps, groups, hasGamma: 1, hasBeta: 1 };
      const fused = runOn('torch', () => [run('OpensoraGroupNorm', { x: x(), gamma: g(), beta: b() }, attrs) as tf.Tensor, ...list(run('OpensoraGroupNormGrad', { dy: dy(), x: x(), gamma: g() }, attrs))]);
      const ref = runOn('cpu', () => [groupNorm(x(), g(), b(), groups, eps), ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(groupNorm(a, c, d, groups, eps), dy())))([x(), g(), b()])]);
      fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 5e-5, `groups ${groups} output ${i}`));
    }
  });
  it('OpensoraGroupNorm without gamma, with beta only, and with a variance of the order of eps', () => {
    const eps = 1e-6;
    const dy = () => rand([2, 4, 3, 8], 4);
    // Nearly constant input (0.5 +- 1e-3): the variance is of the order of eps, where a one-pass
    // E[x^2] - E[x]^2 loses most of its digits.
    const inputs = { spread: () => tf.add(rand([2, 4, 3, 8], 1, 2), 0.5), flat: () => tf.add(rand([2, 4, 3, 8], 5, 1e-3), 0.5) };
    for (const [what, x] of Object.entries(inputs)) {
      const b = () => rand([8], 3, 0.1);
      const ones = () => tf.ones([8]);
      const zeros = () => tf.zeros([8]);
      const fused = runOn('torch', () => [
        run('OpensoraGroupNorm', { x: x() }, { eps, groups: 2, hasGamma: 0, hasBeta: 0 }) as tf.Tensor,
        run('OpensoraGroupNorm', { x: x(), beta: b() }, { eps, groups: 2, hasGamma: 0, hasBeta: 1 }) as tf.Tensor,
        ...list(run('OpensoraGroupNormGrad', { dy: dy(), x: x() }, { eps, groups: 2, hasGamma: 0, hasBeta: 1 })),
      ]);
      const ref = runOn('cpu', () => [
        groupNorm(x(), ones(), zeros(), 2, eps),
        groupNorm(x(), ones(), b(), 2, eps),
        ...tf.grads((a: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(groupNorm(a, ones(), d, 2, eps), dy())))([x(), b()]),
      ]);
      expect(fused.map((f) => f.shape)).toEqual([[2, 4, 3, 8], [2, 4, 3, 8], [2, 4, 3, 8], [8]]);
      // The flat case's dx is ill-conditioned (rstd ~ 700): cpu's float32 composite is itself off by ~2e-4 there.
      fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, what === 'flat' && i === 2 ? 1e-3 : 1e-4, 5e-5, `${what} output ${i}`));
    }
  });
  it('OpensoraGroupNorm: a group of one element normalises to exactly 0 (beta exactly, with beta)', () => {
    const x = () => rand([3, 8], 1, 2);
    const [y, yb] = runOn('torch', () => [
      run('OpensoraGroupNorm', { x: x() }, { eps: 1e-5, groups: 8, hasGamma: 0, hasBeta: 0 }) as tf.Tensor,
      run('OpensoraGroupNorm', { x: x(), gamma: rand([8], 2), beta: tf.fill([8], 0.25) }, { eps: 1e-5, groups: 8, hasGamma: 1, hasBeta: 1 }) as tf.Tensor,
    ]);
    expect(Array.from(y!.values)).toEqual(new Array(24).fill(0));
    expect(Array.from(yb!.values)).toEqual(new Array(24).fill(0.25));
  });
  it('OpensoraGeluTanh and its Grad', () => {
    const x = () => rand([5, 7], 1, 3);
    const dy = () => rand([5, 7], 2);
    const gelu = (a: tf.Tensor) => tf.mul(tf.mul(a, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(a, tf.mul(0.044715, tf.pow(a, 3)))))));
    const fused = runOn('torch', () => [run('OpensoraGeluTanh', { x: x() }, {}) as tf.Tensor, ...list(run('OpensoraGeluTanhGrad', { dy: dy(), x: x() }, {}))]);
    const ref = runOn('cpu', () => [gelu(x()), ...tf.grads((a: tf.Tensor) => tf.sum(tf.mul(gelu(a), dy())))([x()])]);
    fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-5, 2e-6, `output ${i}`));
  });
});

describe.skipIf(!torchAvailable())('OpensoraAttention on torch (scaled_dot_product_attention)', () => {
  const b = 2, h = 3, nq = 5, nk = 6, d = 4, dv = 3;
  const q = () => rand([b, h, nq, d], 1);
  const k = () => rand([b, h, nk, d], 2);
  const v = () => rand([b, h, nk, dv], 3);
  const dy = () => rand([b, h, nq, dv], 4);
  const keyMask = [1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0];
  const cases: { what: string; mask: () => tf.Tensor; allow: () => tf.Tensor; causal: boolean; scale: number }[] = [
    { what: 'no mask', mask: () => tf.ones([1, nk]), allow: () => tf.ones([1, 1, 1, nk], 'bool'), causal: false, scale: 0.5 },
    { what: 'key mask [B, Nk]', mask: () => tf.tensor2d(keyMask, [b, nk]), allow: () => tf.cast(tf.tensor4d(keyMask, [b, 1, 1, nk]), 'bool'), causal: false, scale: 0.5 },
    {
      what: 'causal + shared key mask, custom scale',
      mask: () => tf.tensor2d(keyMask.slice(0, nk), [1, nk]),
      allow: () => tf.logicalAnd(tf.cast(tf.tensor4d(keyMask.slice(0, nk), [1, 1, 1, nk]), 'bool'), tf.cast(tf.linalg.bandPart(tf.ones([nq, nk]), -1, 0), 'bool')),
      causal: true,
      scale: 0.13,
    },
    {
      what: 'per-query mask [B, Nq, Nk]',
      mask: () => tf.greater(rand([b, nq, nk], 9), -0.8),
      allow: () => tf.expandDims(tf.greater(rand([b, nq, nk], 9), -0.8), 1),
      causal: false,
      scale: 0.5,
    },
  ];
  for (const c of cases) {
    it(`${c.what}: forward and Grad equal the composite and its gradients`, () => {
      const attrs = { scale: c.scale, causal: c.causal ? 1 : 0 };
      const fused = runOn('torch', () => {
        const mask = tf.cast(c.mask(), 'float32');
        return [run('OpensoraAttention', { q: q(), k: k(), v: v(), mask }, attrs) as tf.Tensor, ...list(run('OpensoraAttentionGrad', { dy: dy(), q: q(), k: k(), v: v(), mask }, attrs))];
      });
      const ref = runOn('cpu', () => {
        const f = (a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => attention(a, bb, cc, c.allow(), c.scale);
        return [f(q(), k(), v()), ...tf.grads((a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(f(a, bb, cc), dy())))([q(), k(), v()])];
      });
      fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 1e-5, `output ${i}`));
    });
  }
  it('a query row with no key to attend is NaN, as the cpu kernel (and plain softmax) give', () => {
    const [y] = runOn('torch', () => run('OpensoraAttention', { q: q(), k: k(), v: v(), mask: tf.tensor2d([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [b, nk]) }, { scale: 0.5, causal: 0 }) as tf.Tensor);
    const half = y!.values.length / 2;
    expect(Array.from(y!.values.slice(0, half)).every(Number.isFinite)).toBe(true);
    expect(Array.from(y!.values.slice(half)).every(Number.isNaN)).toBe(true);
  });
});
