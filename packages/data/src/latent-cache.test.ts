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

  it('several writers share one folder: own shards and index each, every reader sees all entries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opensora-data-cache-'));
    const entry = (v: number) => ({ z: { shape: [4], data: new Float32Array(4).fill(v) } });
    const a = new LatentCache(dir, { writer: 'rank-0', shardBytes: 1 });
    const b = new LatentCache(dir, { writer: 'rank-1', shardBytes: 1 });
    a.put('s0', entry(0));
    b.put('s1', entry(1));
    a.put('s2', entry(2));
    // Each writer flushed its own shards; neither overwrote the other's.
    expect(readdirSync(dir).sort()).toEqual([
      'index-rank-0.json', 'index-rank-1.json',
      'shard-rank-0-00000.safetensors', 'shard-rank-0-00001.safetensors', 'shard-rank-1-00000.safetensors',
    ]);
    expect(a.has('s1')).toBe(false);
    a.refresh();
    expect(a.get('s1')!.get('z')!.data[0]).toBe(1);
    a.close();
    b.close();
    // A single-writer reader (the train app) and a resumed writer see every entry.
    const reader = new LatentCache(dir);
    expect(reader.ids().sort()).toEqual(['s0', 's1', 's2']);
    expect(reader.get('s2')!.get('z')!.data[0]).toBe(2);
    reader.put('s3', entry(3));
    reader.close();
    const again = new LatentCache(dir, { writer: 'rank-1' });
    expect(again.ids().sort()).toEqual(['s0', 's1', 's2', 's3']);
    again.put('s4', entry(4));
    again.close();
    expect(readdirSync(dir)).toContain('shard-rank-1-00001.safetensors');
    expect(() => new LatentCache(dir, { writer: 'rank/1' })).toThrow(/writer 'rank\/1'/);
  });
});
