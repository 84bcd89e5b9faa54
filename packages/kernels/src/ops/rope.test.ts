import { expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { checkGradients } from '../testing/gradcheck.js';
import { randn } from '../testing/random.js';
import { applyRotary, ropeAngles, ropeFrequencies } from './rope.js';
import { fusedKernelAvailable, setFusedKernelsEnabled } from '../fused/registry.js';

/** Rotation of interleaved pairs (x_2j, x_2j+1) by angle pos * f_j on the first 2*len(freqs) channels. */
function rotateByHand(x: Float32Array, n: number, d: number, positions: number[], freqs: Float32Array): Float64Array {
  const out = Float64Array.from(x);
  const lead = x.length / (n * d);
  for (let l = 0; l < lead; l++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < freqs.length; j++) {
        const a = Math.fround(Math.fround(positions[i]!) * freqs[j]!);
        const o = (l * n + i) * d + 2 * j;
        const x0 = x[o]!;
        const x1 = x[o + 1]!;
        out[o] = x0 * Math.cos(a) - x1 * Math.sin(a);
        out[o + 1] = x1 * Math.cos(a) + x0 * Math.sin(a);
      }
  return out;
}

describeEachBackend('rotary embedding', () => {
  it('ropeFrequencies are theta^(-2j/dim)', () => {
    expectClose(ropeFrequencies(8), [1, 10000 ** -0.25, 10000 ** -0.5, 10000 ** -0.75], { atol: 0, rtol: 1e-7 });
    expectClose(ropeFrequencies(4, 100), [1, 0.1], { atol: 0, rtol: 1e-7 });
  });

  it('ropeAngles repeat each pair angle twice, formed in float32', () => {
    const f = ropeFrequencies(4);
    const a = ropeAngles([0, 0.5, 3], f);
    expect(a.length).toBe(12);
    expectClose(a, [0, 0, 0, 0, 0.5, 0.5, 0.005, 0.005, 3, 3, 0.03, 0.03], { atol: 0, rtol: 1e-6 });
  });

  it('applyRotary rotates interleaved pairs at scaled positions, all channels', () => {
    tf.tidy(() => {
      const n = 5;
      const d = 8;
      // Open-Sora 1.3 divides h/w positions by the resolution scale.
      const positions = [0, 1, 2, 3, 4].map((p) => p / 1.5);
      const freqs = ropeFrequencies(d);
      const x = randn([2, 3, n, d], 1);
      const angles = tf.tensor2d(ropeAngles(positions, freqs), [n, d]);
      expectClose(applyRotary(x, angles), rotateByHand(x.dataSync() as Float32Array, n, d, positions, freqs), { atol: 1e-5, rtol: 1e-5 });
    });
  });

  it('applyRotary leaves channels past the rotation width untouched', () => {
    tf.tidy(() => {
      const n = 4;
      const d = 10;
      const positions = [0, 2.5, 5, 7.5];
      const freqs = ropeFrequencies(6); // rotate the first 6 channels only
      const x = randn([3, n, d], 2);
      const angles = tf.tensor2d(ropeAngles(positions, freqs), [n, 6]);
      const y = applyRotary(x, angles);
      expect(y.shape).toEqual([3, n, d]);
      expectClose(y, rotateByHand(x.dataSync() as Float32Array, n, d, positions, freqs), { atol: 1e-5, rtol: 1e-5 });
    });
  });

  /** Runs fn with the fused kernels on or off (the composite path). */
  function withFused<T>(on: boolean, fn: () => T): T {
    setFusedKernelsEnabled(on);
    try {
      return fn();
    } finally {
      setFusedKernelsEnabled(true);
    }
  }

  it('the OpensoraRope kernel (where registered) gives the composite: values and gradients of x and angles, full and partial width', () => {
    for (const [shape, r] of [[[2, 3, 7, 8], 8], [[3, 5, 10], 6], [[1, 300, 48], 48]] as [number[], number][]) {
      const n = shape[shape.length - 2]!;
      const x = randn(shape, 4);
      const dy = randn(shape, 5);
      const angles = tf.tensor2d(ropeAngles(Array.from({ length: n }, (_, i) => i / 1.5), ropeFrequencies(r)), [n, r]);
      const run = () =>
        tf.tidy(() => {
          const f = (xx: tf.Tensor, aa: tf.Tensor) => tf.sum(tf.mul(applyRotary(xx, aa as tf.Tensor2D), dy));
          const [gx, ga] = tf.grads(f)([x, angles]);
          return [applyRotary(x, angles), gx!, ga!].map((t) => t.dataSync() as Float32Array);
        });
      const fused = withFused(true, run);
      const composite = withFused(false, run);
      // The kernel repeats the composite's float32 steps: equal up to the order tf sums the two paths of dx.
      ['y', 'dx', 'dangles'].forEach((what, i) => expectClose(fused[i]!, composite[i]!, { atol: 1e-6, rtol: 1e-6, what: `${what} [${shape}] r=${r}` }));
      tf.dispose([x, dy, angles]);
    }
    // native has the kernel, so there the test above compared two paths (elsewhere the composite with itself).
    if (tf.getBackend() === 'native') expect(fusedKernelAvailable('OpensoraRope')).toBe(true);
  });

  it('applyRotary gradient passes a finite-difference check', () => {
    const x = randn([2, 3, 6], 3);
    const angles = tf.tensor2d(ropeAngles([0, 1, 2], ropeFrequencies(4)), [3, 4]);
    checkGradients((t) => applyRotary(t!, angles), [x], { what: 'applyRotary' });
    tf.dispose([x, angles]);
  });
});
