import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LatentCache } from './latent-cache.js';

describe('LatentCache', () => {
  it('stores entries in shards keyed by sample id and reads them back after reopening', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opensora-data-cache-'));
    const c = new LatentCache(dir, { shardBytes: 200 });
    for (let i = 0; i < 5; i++) {
      c.put(`s${i}`, { z: { shape: [2, 3, 4], data: new Float32Array(24).fill(i) }, mask: { shape: [6], data: new Int32Array(6).fill(i), dtype: 'I64' } });
    }
    expect(c.get('s4')!.get('z')!.data[0]).toBe(4); // pending entries are readable too
    c.close();
    const shards = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(1);
    expect(readdirSync(dir).some((f) => f.includes('.tmp'))).toBe(false);
    const again = new LatentCache(dir);
    expect(again.ids().sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
    const e = again.get('s3')!;
    expect(e.get('z')!.shape).toEqual([2, 3, 4]);
    expect([...e.get('z')!.data].every((v) => v === 3)).toBe(true);
    expect([...e.get('mask')!.data]).toEqual([3, 3, 3, 3, 3, 3]);
    expect(e.get('mask')!.stored).toBe('I64');
    expect(again.get('nope')).toBeUndefined();
    expect(existsSync(join(dir, 'index.json'))).toBe(true);
    again.close();
  });
});
