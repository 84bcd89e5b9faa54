import { afterEach, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { checkGradients } from '../testing/gradcheck.js';
import { randn } from '../testing/random.js';
import { geluTanhRef } from '../testing/reference.js';
import { setFusedKernelsEnabled } from '../fused/registry.js';
import { geluTanh, silu } from './activations.js';

afterEach(() => setFusedKernelsEnabled(true));

describeEachBackend('activation ops', () => {
  for (const [path, fused] of [['fused', true], ['composite', false]] as const) {
    it(`geluTanh matches PyTorch's approximate='tanh' (${path})`, () => {
      setFusedKernelsEnabled(fused);
      tf.tidy(() => {
        const x = randn([5, 40], 1, 3);
        expectClose(geluTanh(x), geluTanhRef(x.dataSync()), { atol: 1e-6, rtol: 1e-5 });
        // known values: gelu_tanh(1) = 0.841191990, gelu_tanh(-1) = -0.158808010
        expectClose(geluTanh(tf.tensor1d([1, -1, 0])), [0.84119199, -0.15880801, 0], { atol: 1e-6, rtol: 0 });
      });
    });

    it(`geluTanh gradient passes a finite-difference check (${path})`, () => {
      setFusedKernelsEnabled(fused);
      const x = randn([4, 6], 2, 2);
      checkGradients((t) => geluTanh(t!), [x], { what: 'geluTanh' });
      x.dispose();
    });
  }

  it('silu is x * sigmoid(x), with its gradient', () => {
    const x = randn([3, 7], 3, 3);
    tf.tidy(() => {
      const v = x.dataSync();
      expectClose(silu(x), Array.from(v, (a) => a / (1 + Math.exp(-a))), { atol: 1e-6, rtol: 1e-5 });
    });
    checkGradients((t) => silu(t!), [x], { what: 'silu' });
    x.dispose();
  });
});
