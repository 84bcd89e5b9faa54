import { afterEach, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { checkGradients } from '../testing/gradcheck.js';
import { randn } from '../testing/random.js';
import { groupNormRef, layerNormRef, rmsNormRef } from '../testing/reference.js';
import { setFusedKernelsEnabled } from '../fused/registry.js';
import { groupNorm, layerNorm, rmsNorm } from './norms.js';

afterEach(() => setFusedKernelsEnabled(true));

const paths = [
  ['fused', true],
  ['composite', false],
] as const;

describeEachBackend('norm ops', () => {
  for (const [path, fused] of paths) {
    it(`layerNorm matches PyTorch's definition (${path})`, () => {
      setFusedKernelsEnabled(fused);
      tf.tidy(() => {
        const x = randn([2, 3, 10], 1, 3, -1.5);
        const g = randn([10], 2, 0.5, 1);
        const b = randn([10], 3);
        expectClose(layerNorm(x, g, b, 1e-6), layerNormRef(x.dataSync(), 10, g.dataSync(), b.dataSync(), 1e-6), { atol: 1e-5, rtol: 1e-5 });
        expectClose(layerNorm(x, null, null, 1e-5), layerNormRef(x.dataSync(), 10, null, null, 1e-5), { atol: 1e-5, rtol: 1e-5 });
        // eps matters when the variance is small
        const flat = randn([4, 8], 4, 1e-3);
        expectClose(layerNorm(flat, null, null, 1e-5), layerNormRef(flat.dataSync(), 8, null, null, 1e-5), { atol: 1e-5, rtol: 1e-4 });
      });
    });

    it(`groupNorm on channels-last matches torch.nn.GroupNorm (${path})`, () => {
      setFusedKernelsEnabled(fused);
      tf.tidy(() => {
        const x = randn([2, 3, 4, 2, 6], 5, 2, 0.5);
        const g = randn([6], 6, 0.3, 1);
        const b = randn([6], 7);
        expectClose(groupNorm(x, 3, g, b, 1e-6), groupNormRef(x.dataSync(), 2, 6, 3, g.dataSync(), b.dataSync(), 1e-6), { atol: 1e-5, rtol: 1e-5 });
        expectClose(groupNorm(x, 1, null, null, 1e-5), groupNormRef(x.dataSync(), 2, 6, 1, null, null, 1e-5), { atol: 1e-5, rtol: 1e-5 });
        expectClose(groupNorm(x, 6, g, null, 1e-5), groupNormRef(x.dataSync(), 2, 6, 6, g.dataSync(), null, 1e-5), { atol: 1e-5, rtol: 1e-5 });
      });
    });

    it(`rmsNorm matches x / sqrt(mean(x^2) + eps) * w (${path})`, () => {
      setFusedKernelsEnabled(fused);
      tf.tidy(() => {
        const x = randn([3, 2, 12], 8, 2);
        const w = randn([12], 9, 0.3, 1);
        expectClose(rmsNorm(x, w, 1e-6), rmsNormRef(x.dataSync(), 12, w.dataSync(), 1e-6), { atol: 1e-5, rtol: 1e-5 });
        expectClose(rmsNorm(x, null, 1e-5), rmsNormRef(x.dataSync(), 12, null, 1e-5), { atol: 1e-5, rtol: 1e-5 });
      });
    });

    it(`layerNorm gradients pass a finite-difference check (${path})`, () => {
      setFusedKernelsEnabled(fused);
      const x = randn([3, 8], 10, 1.5, 0.3);
      const g = randn([8], 11, 0.3, 1);
      const b = randn([8], 12);
      checkGradients((xx, gg, bb) => layerNorm(xx!, gg!, bb!, 1e-5), [x, g, b], { what: 'layerNorm' });
      checkGradients((xx) => layerNorm(xx!, null, null, 1e-5), [x], { what: 'layerNorm (no affine)' });
      tf.dispose([x, g, b]);
    });

    it(`groupNorm gradients pass a finite-difference check (${path})`, () => {
      setFusedKernelsEnabled(fused);
      const x = randn([2, 2, 3, 4], 13, 1.5, 0.3);
      const g = randn([4], 14, 0.3, 1);
      const b = randn([4], 15);
      checkGradients((xx, gg, bb) => groupNorm(xx!, 2, gg!, bb!, 1e-5), [x, g, b], { what: 'groupNorm' });
      tf.dispose([x, g, b]);
    });

    it(`rmsNorm gradients pass a finite-difference check (${path})`, () => {
      setFusedKernelsEnabled(fused);
      const x = randn([3, 8], 16, 1.5, 0.3);
      const w = randn([8], 17, 0.3, 1);
      checkGradients((xx, ww) => rmsNorm(xx!, ww!, 1e-5), [x, w], { what: 'rmsNorm' });
      checkGradients((xx) => rmsNorm(xx!, null, 1e-5), [x], { what: 'rmsNorm (no weight)' });
      tf.dispose([x, w]);
    });
  }

  it('groupNorm names the channel count that does not split', () => {
    const x = tf.zeros([1, 2, 6]);
    expect(() => groupNorm(x, 4, null, null, 1e-5)).toThrow('groupNorm: 6 channels do not split into 4 groups');
    x.dispose();
  });
});
