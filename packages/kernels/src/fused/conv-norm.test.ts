// groupNormSilu and conv3dPadded (the VAE's fused ops) against their composites, forward and
// backward, on every backend: where a backend has the kernel (native) the fused path is compared
// with the composite's ops and autograd; elsewhere both run the composite.
import { afterEach, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { randn } from '../testing/random.js';
import { silu } from '../ops/activations.js';
import { groupNorm } from '../ops/norms.js';
import { conv3dPadded, conv3dPaddedComposite, type Conv3dPads } from './conv3d.js';
import { groupNormSilu } from './group-norm-silu.js';
import { setFusedKernelsEnabled } from './registry.js';

afterEach(() => setFusedKernelsEnabled(true));

function withFused<T>(fused: boolean, f: () => T): T {
  setFusedKernelsEnabled(fused);
  try {
    return f();
  } finally {
    setFusedKernelsEnabled(true);
  }
}

type Triple = [number, number, number];
const convCases: { x: number[]; k: Triple; cout: number; strides: Triple; pads: Conv3dPads; bias: boolean }[] = [
  { x: [1, 5, 6, 7, 4], k: [3, 3, 3], cout: 5, strides: [1, 1, 1], pads: [[2, 0], [1, 1], [1, 1]], bias: true }, // causal 3x3x3
  { x: [2, 4, 5, 5, 3], k: [3, 3, 3], cout: 4, strides: [2, 2, 2], pads: [[2, 0], [1, 1], [1, 1]], bias: true }, // Downsample3D
  { x: [1, 3, 4, 4, 6], k: [1, 1, 1], cout: 3, strides: [1, 1, 1], pads: [[0, 0], [0, 0], [0, 0]], bias: true }, // nin_shortcut
  { x: [1, 4, 5, 6, 2], k: [3, 1, 3], cout: 3, strides: [1, 1, 1], pads: [[1, 2], [0, 0], [0, 3]], bias: false },
  { x: [1, 6, 4, 4, 2], k: [3, 3, 3], cout: 2, strides: [2, 1, 1], pads: [[1, 0], [1, 1], [1, 1]], bias: true },
];

const normCases: { shape: number[]; groups: number; gamma: boolean; beta: boolean; eps: number }[] = [
  { shape: [1, 3, 4, 5, 8], groups: 4, gamma: true, beta: true, eps: 1e-6 },
  { shape: [2, 2, 3, 3, 6], groups: 3, gamma: true, beta: true, eps: 1e-5 },
  { shape: [1, 9, 12], groups: 2, gamma: false, beta: false, eps: 1e-6 },
  { shape: [2, 5, 4], groups: 4, gamma: true, beta: false, eps: 1e-5 },
];

describeEachBackend('VAE fused ops', (backend) => {
  it('have kernels on native (so the comparisons below test them there)', () => {
    if (backend !== 'native') return;
    expect(tf.getKernel('OpensoraConv3d', backend)).toBeDefined();
    expect(tf.getKernel('OpensoraGroupNormSilu', backend)).toBeDefined();
  });

  for (const [i, c] of convCases.entries()) {
    const label = `conv3dPadded x [${c.x}] k [${c.k}] strides [${c.strides}] pads ${JSON.stringify(c.pads)}${c.bias ? ' bias' : ''}`;
    it(`${label}: forward and gradients equal pad -> conv3d -> add`, () => {
      tf.tidy(() => {
        const x = randn(c.x, 10 + i) as tf.Tensor5D;
        const f = randn([...c.k, c.x[4]!, c.cout], 20 + i, 0.3) as tf.Tensor5D;
        const b = c.bias ? randn([c.cout], 30 + i) : null;
        const args = b ? [x, f, b] : [x, f];
        const run = (fused: boolean) =>
          withFused(fused, () => {
            const op = (...t: tf.Tensor[]) => conv3dPadded(t[0] as tf.Tensor5D, t[1] as tf.Tensor5D, t[2] ?? null, c.strides, c.pads);
            const y = op(...args);
            const w = randn(y.shape, 40 + i);
            return [y, ...tf.grads(op)(args, w)];
          });
        const fused = run(true);
        const composite = run(false);
        // The composite written out here, not through the op: the shapes a padded conv must give.
        const reference = conv3dPaddedComposite(x, f, b, c.strides, c.pads);
        expect(fused[0]!.shape).toEqual(reference.shape);
        expectClose(fused[0]!, reference, { atol: 1e-5, rtol: 1e-5, what: 'forward' });
        fused.forEach((g, k) => expectClose(g, composite[k]!, { atol: 1e-4, rtol: 1e-4, what: k === 0 ? 'forward' : `gradient ${k - 1}` }));
      });
    });
  }

  for (const [i, c] of normCases.entries()) {
    const label = `groupNormSilu [${c.shape}] groups=${c.groups}${c.gamma ? ' gamma' : ''}${c.beta ? ' beta' : ''}`;
    it(`${label}: forward and gradients equal silu(groupNorm)`, () => {
      tf.tidy(() => {
        const ch = c.shape[c.shape.length - 1]!;
        const x = randn(c.shape, 50 + i, 2, 0.7);
        const gamma = c.gamma ? randn([ch], 60 + i, 0.3, 1) : null;
        const beta = c.beta ? randn([ch], 70 + i, 0.5) : null;
        const args = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
        const w = randn(c.shape, 80 + i);
        const run = (fused: boolean) =>
          withFused(fused, () => {
            const op = (...t: tf.Tensor[]) => groupNormSilu(t[0]!, c.groups, gamma ? t[1]! : null, beta ? t[gamma ? 2 : 1]! : null, c.eps);
            return [op(...args), ...tf.grads(op)(args, w)];
          });
        const fused = run(true);
        const composite = run(false);
        const reference = silu(groupNorm(x, c.groups, gamma, beta, c.eps));
        expectClose(fused[0]!, reference, { atol: 2e-6, rtol: 2e-6, what: 'forward' });
        fused.forEach((g, k) => {
          const scale = k <= 1 ? 1 : Math.max(1, Math.sqrt(x.size / g.size));
          expectClose(g, composite[k]!, { atol: 1e-5 * scale, rtol: 1e-5, what: k === 0 ? 'forward' : `gradient ${k - 1}` });
        });
      });
    });
  }

  it('rejects channels that do not split into the groups', () => {
    tf.tidy(() => {
      expect(() => groupNormSilu(tf.ones([1, 2, 6]), 4, null, null, 1e-5)).toThrow(/6 channels do not split into 4 groups/);
    });
  });

  it('keeps no tensors, forward and backward', () => {
    const x = randn([1, 3, 4, 4, 4], 1) as tf.Tensor5D;
    const f = randn([3, 3, 3, 4, 4], 2) as tf.Tensor5D;
    const w = randn([1, 3, 4, 4, 4], 3);
    const pads: Conv3dPads = [[2, 0], [1, 1], [1, 1]];
    const step = () =>
      tf.tidy(() => {
        const op = (a: tf.Tensor, b: tf.Tensor) => conv3dPadded(groupNormSilu(a, 2, null, null, 1e-6) as tf.Tensor5D, b as tf.Tensor5D, null, [1, 1, 1], pads);
        tf.grads(op)([x, f], w).forEach((g) => g.dataSync());
      });
    step();
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, f, w]);
  });
});
