import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { CachedTextEncoder } from './cached-text-encoder.js';
import { DemoTextEncoder } from './demo-encoder.js';
import { EmbeddingCache } from './embedding-cache.js';

describe('CachedTextEncoder', () => {
  it('reads back what EmbeddingCache wrote and names a prompt it lacks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cached-enc-'));
    const enc = new DemoTextEncoder({ maxLength: 12 });
    try {
      const written = await new EmbeddingCache(dir, enc).encode(['a red circle', 'a blue square']);
      const cached = CachedTextEncoder.fromFolder(dir);
      expect([cached.maxLength, cached.dim]).toEqual([12, enc.dim]);
      expect(cached.id).toBe(enc.id);
      expect(cached.prompts().sort()).toEqual(['a blue square', 'a red circle']);
      const got = await cached.encode(['a blue square', 'a red circle']);
      const w = (await written.states.data()) as Float32Array;
      const g = (await got.states.data()) as Float32Array;
      const n = 12 * enc.dim;
      expect(Array.from(g.slice(0, n))).toEqual(Array.from(w.slice(n)));
      expect(Array.from(await got.mask.data()).slice(12)).toEqual(Array.from(await written.mask.data()).slice(0, 12));
      await expect(cached.encode(['a green triangle'])).rejects.toThrow(/no cached embedding for prompt "a green triangle"/);
      expect(() => cached.null(1)).toThrow(/setNullEmbedding/);
      const yNull = tf.ones([12, enc.dim]);
      cached.setNullEmbedding(yNull);
      const nul = cached.null(2);
      expect(nul.states.shape).toEqual([2, 1, 12, enc.dim]);
      tf.dispose([written.states, written.mask, got.states, got.mask, nul.states, nul.mask, yNull]);
      cached.dispose();
    } finally {
      enc.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an empty folder with its name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cached-enc-empty-'));
    try {
      expect(() => CachedTextEncoder.fromFolder(dir)).toThrow(new RegExp(`${dir}: no cached text embeddings`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
