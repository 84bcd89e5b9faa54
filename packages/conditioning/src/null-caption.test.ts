import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { keepNullEmbedding, nullEncoding } from './null-caption.js';

describe('null caption', () => {
  it('keeps a checked copy, frees the previous one, and tiles it with an all-ones mask', async () => {
    const before = tf.memory().numTensors;
    const a = tf.ones([4, 3]);
    const kept = keepNullEmbedding(a, null, 4, 3);
    a.dispose();
    const b = tf.fill([4, 3], 2);
    const next = keepNullEmbedding(b, kept, 4, 3);
    b.dispose();
    expect(kept.isDisposed).toBe(true);
    const e = nullEncoding(next, 2, 4);
    expect(e.states.shape).toEqual([2, 1, 4, 3]);
    expect(Array.from(await e.states.data()).every((v) => v === 2)).toBe(true);
    expect(Array.from(await e.mask.data())).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    tf.dispose([e.states, e.mask, next]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names a wrongly shaped embedding and a missing one', () => {
    const w = tf.zeros([5, 3]);
    expect(() => keepNullEmbedding(w, null, 4, 3)).toThrow(/null embedding: shape \[5,3\], expected \[4, 3\] \(the DiT's y_embedder\.y_embedding\)/);
    w.dispose();
    expect(() => nullEncoding(null, 1, 4)).toThrow(/setNullEmbedding\(\)/);
  });
});
