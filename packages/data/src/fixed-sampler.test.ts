import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FixedSizeSampler, type FixedSizeOptions } from './fixed-sampler.js';
import { LatentCache } from './latent-cache.js';
import { VideoLoader } from './loader.js';
import type { MetadataRow } from './metadata.js';
import type { Batch, SampleShape } from './sampler.js';

// 30 clips, every third one too short for 8 frames at interval 2 (16 source frames).
const samples: SampleShape[] = Array.from({ length: 30 }, (_, i) => ({ numFrames: i % 3 === 0 ? 12 : 40, height: 90, width: 160 }));
const opts: FixedSizeOptions = { numFrames: 8, height: 64, width: 96, batchSize: 3, seed: 5, frameInterval: 2 };
const flat = (bs: Batch[]) => bs.map((b) => b.keys.join(','));

describe('FixedSizeSampler', () => {
  it('cuts every long-enough sample to one size, in full batches, each sample once per epoch', () => {
    const s = new FixedSizeSampler(samples, opts);
    expect(s.rejected).toBe(10);
    expect(s.eligible).toHaveLength(20);
    expect(s.length()).toBe(6); // 20 samples, batches of 3, remainder dropped
    const a = [...s.batches()];
    expect(a).toHaveLength(6);
    const used = a.flatMap((b) => b.indices);
    expect(new Set(used).size).toBe(18);
    for (const b of a) {
      expect(b.thw).toEqual([8, 64, 96]);
      expect(b.bucket).toEqual({ resolution: '64x96', frames: 8, aspect: '0.67' });
      expect(b.indices).toHaveLength(3);
      for (const i of b.indices) expect(i % 3).not.toBe(0);
      expect(b.keys[0]).toBe(`${b.indices[0]}-8-64-96`);
    }
    // Images (num_frames 1) take every sample.
    expect(new FixedSizeSampler(samples, { ...opts, numFrames: 1 }).rejected).toBe(0);
    expect(() => new FixedSizeSampler(samples, { ...opts, batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
  });

  it('is deterministic per seed, shuffles per epoch, and keeps the order without shuffle', () => {
    const s = new FixedSizeSampler(samples, opts);
    const e0 = flat([...s.batches()]);
    const e1 = flat([...s.batches()]);
    expect(s.state()).toEqual({ seed: 5, epoch: 2, consumed: 0 });
    expect(e1).not.toEqual(e0);
    expect(flat([...new FixedSizeSampler(samples, opts).batches()])).toEqual(e0);
    expect(flat([...new FixedSizeSampler(samples, { ...opts, seed: 6 }).batches()])).not.toEqual(e0);
    const plain = [...new FixedSizeSampler(samples, { ...opts, shuffle: false }).batches()];
    expect(plain[0]!.indices).toEqual([1, 2, 4]);
  });

  it('resumes exactly: stop after k batches, restore, the rest equals an uninterrupted run', () => {
    const full = new FixedSizeSampler(samples, opts);
    const whole = [...flat([...full.batches()]), ...flat([...full.batches()])];
    for (const k of [0, 1, 4, 6]) {
      const a = new FixedSizeSampler(samples, opts);
      const seen: string[] = [];
      if (k > 0) {
        for (const b of a.batches()) {
          seen.push(b.keys.join(','));
          if (seen.length === k) break;
        }
      }
      const saved = JSON.parse(JSON.stringify(a.state()));
      const b = new FixedSizeSampler(samples, opts);
      b.restore(saved);
      const rest = [...flat([...b.batches()]), ...flat([...b.batches()])];
      expect([...seen, ...rest]).toEqual(whole);
    }
    expect(() => new FixedSizeSampler(samples, { ...opts, seed: 9 }).restore(full.state())).toThrow(/seed 5, this sampler 9/);
    const c = new FixedSizeSampler(samples, opts);
    c.setEpoch(1);
    expect(flat([...c.batches()])).toEqual(whole.slice(6));
  });

  it('drives VideoLoader (here from cached latents) and resumes after the last delivered batch', async () => {
    const cache = new LatentCache(mkdtempSync(join(tmpdir(), 'fixed-sampler-')));
    const rows: MetadataRow[] = samples.map((s, i) => ({ id: i, row: i + 1, path: `/nowhere/${i}.mp4`, text: `clip ${i}`, ...s, fields: {} }));
    for (const r of rows) cache.put(`${r.id}-8-64-96`, { z: { shape: [1], data: Float32Array.of(r.id) } });
    const sampler = new FixedSizeSampler(samples, opts);
    const loader = new VideoLoader(rows, sampler, { prefetch: 2, cache });
    const got: number[][] = [];
    let afterFirst: ReturnType<VideoLoader['state']> | undefined;
    for await (const b of loader) {
      got.push(b.items.map((it) => it.cached!.get('z')!.data[0]!));
      expect(got.at(-1)).toEqual(b.batch.indices);
      afterFirst ??= loader.state();
    }
    expect(got).toHaveLength(6);
    expect(afterFirst).toEqual({ seed: 5, epoch: 0, consumed: 1 });
    const resumed = new FixedSizeSampler(samples, opts);
    resumed.restore(afterFirst!);
    expect([...resumed.batches()].map((b) => b.indices)).toEqual(got.slice(1));
  });

  it('splits global batches over ranks as one process with the whole batch, and re-shards on a world-size change', () => {
    const base = { numFrames: 8, height: 90, width: 160, seed: 4, frameInterval: 2 };
    const one = [...new FixedSizeSampler(samples, { ...base, batchSize: 4 }).batches()];
    const ranks = [0, 1].map((rank) => [...new FixedSizeSampler(samples, { ...base, batchSize: 2, numReplicas: 2, rank }).batches()]);
    expect(ranks[0]!.length).toBe(one.length);
    one.forEach((b, i) => expect([...ranks[0]![i]!.indices, ...ranks[1]![i]!.indices]).toEqual(b.indices));
    expect(ranks[1]![0]!.offset).toBe(2);
    // 2 ranks x 2 for one step, then one rank x 2 (the config's per-rank batch size stays): the rest of the epoch's order.
    const two = new FixedSizeSampler(samples, { ...base, batchSize: 2, numReplicas: 2 });
    for (const _ of two.batches()) break;
    const single = new FixedSizeSampler(samples, { ...base, batchSize: 2 });
    single.restore(JSON.parse(JSON.stringify(two.state())));
    const rest = [...single.batches()].flatMap((b) => b.indices);
    const whole = one.flatMap((b) => b.indices);
    expect(whole.length).toBe(20);
    expect(rest).toEqual(whole.slice(4));
    expect(single.state()).toEqual({ seed: 4, epoch: 1, consumed: 0 });
  });
});

