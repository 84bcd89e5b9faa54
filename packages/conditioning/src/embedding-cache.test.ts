import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile, tf } from '@opensora-ts/kernels';
import { DemoTextEncoder } from './demo-encoder.js';
import { EmbeddingCache } from './embedding-cache.js';

describe('EmbeddingCache', () => {
  it('encodes once, then reads the same values back from safetensors keyed by prompt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emb-cache-'));
    try {
      const enc = new DemoTextEncoder({ maxLength: 16 });
      const cache = new EmbeddingCache(dir, enc);
      const direct = await enc.encode(['a red circle', 'a blue square']);
      const first = await cache.encode(['a red circle', 'a blue square', 'a red circle']);
      expect(cache.misses).toBe(2);
      expect(readdirSync(dir).filter((f) => f.endsWith('.safetensors'))).toHaveLength(2);
      const second = await cache.encode(['a blue square', 'a red circle']);
      expect(cache.hits).toBe(2);
      const d = (await direct.states.data()) as Float32Array;
      const s = (await second.states.data()) as Float32Array;
      const n = 16 * enc.dim;
      expect(Array.from(s.slice(0, n))).toEqual(Array.from(d.slice(n, 2 * n)));
      expect(Array.from(s.slice(n))).toEqual(Array.from(d.slice(0, n)));
      expect(Array.from(await second.mask.data()).slice(16)).toEqual(Array.from(await direct.mask.data()).slice(0, 16));
      const f = new SafetensorsFile(cache.pathOf('a red circle'));
      expect(f.metadata.prompt).toBe('a red circle');
      expect(f.info('states').shape).toEqual([1, 16, enc.dim]);
      f.close();
      expect(readdirSync(dir).some((x) => x.includes('.tmp'))).toBe(false);
      tf.dispose([direct.states, direct.mask, first.states, first.mask, second.states, second.mask]);
      enc.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
