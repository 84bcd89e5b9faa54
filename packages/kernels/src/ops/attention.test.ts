import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { checkGradients } from '../testing/gradcheck.js';
import { randn } from '../testing/random.js';
import { attentionRef } from '../testing/reference.js';
import { setFusedKernelsEnabled } from '../fused/registry.js';
import { attentionBias, scaledDotProductAttention } from './attention.js';

function qkv(b: number, h: number, nq: number, nk: number, d: number, dv: number, seed: number) {
  return {
    q: randn([b, h, nq, d], seed) as tf.Tensor4D,
    k: randn([b, h, nk, d], seed + 1) as tf.Tensor4D,
    v: randn([b, h, nk, dv], seed + 2) as tf.Tensor4D,
    dims: { b, h, nq, nk, d, dv },
  };
}

describeEachBackend('scaledDotProductAttention', () => {
  for (const [path, fused] of [['fused', true], ['composite', false]] as const) {
    describe(path, () => {
      beforeEach(() => setFusedKernelsEnabled(fused));
      afterEach(() => setFusedKernelsEnabled(true));

      it('is softmax(q k^T / sqrt(d)) v without a mask (Nq != Nk, Dv != D)', () => {
        tf.tidy(() => {
          const { q, k, v, dims } = qkv(2, 3, 5, 7, 8, 6, 1);
          const y = scaledDotProductAttention(q, k, v);
          expect(y.shape).toEqual([2, 3, 5, 6]);
          expectClose(y, attentionRef(q.dataSync(), k.dataSync(), v.dataSync(), dims), { atol: 1e-5, rtol: 1e-5 });
        });
      });

      it('ignores padded keys under a [B, Nk] key mask', () => {
        tf.tidy(() => {
          const { q, k, v, dims } = qkv(2, 2, 4, 6, 8, 8, 2);
          const mask = [1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1];
          const keyMask = tf.tensor2d(mask, [2, 6]);
          const y = scaledDotProductAttention(q, k, v, { keyMask });
          const want = attentionRef(q.dataSync(), k.dataSync(), v.dataSync(), dims, { keyMask: mask });
          expectClose(y, want, { atol: 1e-5, rtol: 1e-5 });
          // and it does differ from the unmasked result (the mask is not a no-op)
          const unmasked = attentionRef(q.dataSync(), k.dataSync(), v.dataSync(), dims);
          expect(() => expectClose(y, unmasked, { atol: 1e-3, rtol: 1e-3 })).toThrow();
          // a boolean mask means the same
          expectClose(scaledDotProductAttention(q, k, v, { keyMask: tf.cast(keyMask, 'bool') }), want, { atol: 1e-5, rtol: 1e-5 });
        });
      });

      it('takes a per-query [B, Nq, Nk] mask', () => {
        tf.tidy(() => {
          const { q, k, v, dims } = qkv(1, 2, 3, 4, 4, 4, 3);
          const mask = [1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0];
          const y = scaledDotProductAttention(q, k, v, { keyMask: tf.tensor3d(mask, [1, 3, 4]) });
          expectClose(y, attentionRef(q.dataSync(), k.dataSync(), v.dataSync(), dims, { keyMask: mask, keyMaskRank: 3 }), { atol: 1e-5, rtol: 1e-5 });
        });
      });

      it('applies a causal mask (query i sees keys j <= i), alone and with a key mask', () => {
        tf.tidy(() => {
          const { q, k, v, dims } = qkv(2, 2, 5, 5, 8, 8, 4);
          expectClose(scaledDotProductAttention(q, k, v, { causal: true }), attentionRef(q.dataSync(), k.dataSync(), v.dataSync(), dims, { causal: true }), {
            atol: 1e-5,
            rtol: 1e-5,
          });
          const mask = [1, 1, 1, 1, 1, 1, 0, 1, 1, 0];
          const y = scaledDotProductAttention(q, k, v, { causal: true, keyMask: tf.tensor2d(mask, [2, 5]) });
          expectClose(y, attentionRef(q.dataSync(), k.dataSync(), v.dataSync(), dims, { causal: true, keyMask: mask }), { atol: 1e-5, rtol: 1e-5 });
          // the first query sees only key 0
          const first = y.slice([0, 0, 0, 0], [1, 1, 1, 8]).dataSync();
          expectClose(first, v.slice([0, 0, 0, 0], [1, 1, 1, 8]).dataSync(), { atol: 1e-6, rtol: 1e-6 });
        });
      });

      it('uses an explicit scale', () => {
        tf.tidy(() => {
          const { q, k, v, dims } = qkv(1, 2, 4, 4, 8, 8, 5);
          expectClose(scaledDotProductAttention(q, k, v, { scale: 0.05 }), attentionRef(q.dataSync(), k.dataSync(), v.dataSync(), dims, { scale: 0.05 }), {
            atol: 1e-5,
            rtol: 1e-5,
          });
        });
      });

      it('gradients pass a finite-difference check, with a key mask and causal', () => {
        const { q, k, v } = qkv(1, 2, 3, 3, 4, 4, 6);
        const keyMask = tf.tensor2d([1, 1, 0], [1, 3]);
        checkGradients((a, b, c) => scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { keyMask }), [q, k, v], { what: 'attention (key mask)' });
        checkGradients((a, b, c) => scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: true, scale: 0.3 }), [q, k, v], {
          what: 'attention (causal)',
        });
        tf.dispose([q, k, v, keyMask]);
      });

      it('keeps no tensors', () => {
        const { q, k, v } = qkv(1, 1, 3, 3, 4, 4, 7);
        const keyMask = tf.tensor2d([1, 0, 1], [1, 3]);
        const before = tf.memory().numTensors;
        scaledDotProductAttention(q, k, v, { keyMask, causal: true }).dispose();
        const grads = tf.grads((a, b, c) => scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { keyMask }))([q, k, v]);
        tf.dispose(grads);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([q, k, v, keyMask]);
      });
    });
  }

  it('fused and composite agree, forward and backward, with masks and causal', () => {
    tf.tidy(() => {
      const { q, k, v } = qkv(2, 3, 6, 6, 8, 5, 11);
      const keyMask = tf.tensor2d([1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 1], [2, 6]);
      const perQuery = tf.tensor3d(Array.from({ length: 36 }, (_, i) => (i % 7 === 3 ? 0 : 1)), [1, 6, 6]);
      const w = randn([2, 3, 6, 5], 12);
      for (const opts of [{}, { keyMask }, { keyMask, causal: true, scale: 0.2 }, { keyMask: perQuery }]) {
        const run = (on: boolean) => {
          setFusedKernelsEnabled(on);
          try {
            const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, opts);
            return [f(q, k, v), ...tf.grads(f)([q, k, v], w)];
          } finally {
            setFusedKernelsEnabled(true);
          }
        };
        const fusedOut = run(true);
        const compositeOut = run(false);
        fusedOut.forEach((t, i) => expectClose(t, compositeOut[i]!, { atol: 2e-6, rtol: 1e-5, what: `output ${i} with ${JSON.stringify(Object.keys(opts))}` }));
      }
    });
  });

  it('attentionBias is null without a mask, 0 / -inf otherwise', () => {
    expect(attentionBias({}, 1, 2, 2)).toBeNull();
    tf.tidy(() => {
      const bias = attentionBias({ causal: true }, 1, 2, 2)!;
      expect(bias.shape).toEqual([1, 1, 2, 2]);
      expect(Array.from(bias.dataSync())).toEqual([0, -Infinity, 0, 0]);
    });
  });
});
