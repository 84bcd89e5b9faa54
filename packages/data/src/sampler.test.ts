import { describe, expect, it } from 'vitest';
import type { BucketConfig } from './bucket.js';
import { BucketSampler, type Batch, type SampleShape } from './sampler.js';

const config: BucketConfig = { '360p': { '1': [1.0, 4], '49': [1.0, 3], '65': [[0.8, 0.9], 2] }, '720p': { '1': [0.5, 2] } };
const samples: SampleShape[] = [];
for (let i = 0; i < 90; i++) {
  const kind = i % 5;
  samples.push(
    kind === 0 ? { numFrames: 1, height: 720, width: 1280 } : kind === 1 ? { numFrames: 1, height: 360, width: 640 } : kind === 2 ? { numFrames: 60, height: 480, width: 480 } : { numFrames: 80, height: 640, width: 360 },
  );
}
const flat = (bs: Batch[]) => bs.map((b) => b.keys.join(','));

describe('BucketSampler', () => {
  it('batches within a bucket, drops incomplete batches, and is deterministic', () => {
    const s = new BucketSampler(samples, config, { seed: 3 });
    const a = [...s.batches()];
    const b = [...new BucketSampler(samples, config, { seed: 3 }).batches()];
    expect(flat(a)).toEqual(flat(b));
    expect(a.length).toBe(new BucketSampler(samples, config, { seed: 3 }).length());
    for (const batch of a) {
      const [T, H, W] = batch.thw;
      expect(batch.indices.length).toBe(new BucketSampler(samples, config).bucket.getBatchSize(batch.bucket));
      expect(new Set(batch.indices).size).toBe(batch.indices.length);
      for (const i of batch.indices) expect(samples[i]!.numFrames > T || T === 1).toBe(true);
      expect(batch.keys[0]).toBe(`${batch.indices[0]}-${T}-${H}-${W}`);
    }
    // Every sample is used at most once per epoch.
    const used = a.flatMap((x) => x.indices);
    expect(new Set(used).size).toBe(used.length);
  });

  it('shuffles differently per epoch and per seed', () => {
    const s = new BucketSampler(samples, config, { seed: 3 });
    const e0 = flat([...s.batches()]);
    const e1 = flat([...s.batches()]);
    expect(s.state().epoch).toBe(2);
    expect(e1).not.toEqual(e0);
    expect(flat([...new BucketSampler(samples, config, { seed: 4 }).batches()])).not.toEqual(e0);
  });

  it('resumes exactly: stop after k batches, restore, the rest equals an uninterrupted run', () => {
    const full = new BucketSampler(samples, config, { seed: 7 });
    const whole = [...flat([...full.batches()]), ...flat([...full.batches()])];
    for (const k of [0, 1, 5, 13]) {
      const a = new BucketSampler(samples, config, { seed: 7 });
      const seen: string[] = [];
      if (k > 0) {
        for (const b of a.batches()) {
          seen.push(b.keys.join(','));
          if (seen.length === k) break;
        }
      }
      const saved = JSON.parse(JSON.stringify(a.state()));
      const b = new BucketSampler(samples, config, { seed: 7 });
      b.restore(saved);
      const rest = [...flat([...b.batches()]), ...flat([...b.batches()])];
      expect([...seen, ...rest]).toEqual(whole);
    }
    expect(() => new BucketSampler(samples, config, { seed: 8 }).restore(full.state())).toThrow(/seed/);
  });

  it('splits the access order over replicas', () => {
    const r0 = [...new BucketSampler(samples, config, { seed: 1, numReplicas: 2, rank: 0 }).batches()];
    const r1 = [...new BucketSampler(samples, config, { seed: 1, numReplicas: 2, rank: 1 }).batches()];
    expect(r0.length).toBe(r1.length);
    const all = [...r0, ...r1].flatMap((b) => b.indices);
    expect(new Set(all).size).toBe(all.length);
  });

  it('pads instead of dropping when dropLast is false', () => {
    const s = new BucketSampler(samples.slice(0, 7), { '360p': { '1': [1.0, 4] }, '720p': { '1': [1.0, 4] } }, { dropLast: false, shuffle: false });
    const bs = [...s.batches()];
    expect(bs.every((b) => b.indices.length === 4)).toBe(true);
    expect(bs.length).toBe(2);
  });
});

describe('BucketSampler.explain', () => {
  it('counts, for an empty epoch, what each bucket and each reason rejected and says what to change', () => {
    const rows: SampleShape[] = [
      ...Array.from({ length: 3 }, () => ({ numFrames: 33, height: 64, width: 64 })), // below 144p
      ...Array.from({ length: 2 }, () => ({ numFrames: 10, height: 144, width: 256 })), // 144p, fewer than 17 frames
      ...Array.from({ length: 3 }, () => ({ numFrames: 33, height: 144, width: 256 })), // 144p/17, 3 < batch 4
    ];
    const s = new BucketSampler(rows, { '144p': { '17': [1.0, 4] } }, { seed: 1 });
    const e = s.explain();
    expect(s.length()).toBe(0);
    expect(e.rejected).toEqual({ tooSmall: 3, tooFewFrames: 2, keepProb: 0 });
    expect(e.buckets).toEqual([{ bucket: '144p/17/0.56', samples: 3, batchSize: 4, batches: 0, dropped: 3 }]);
    expect(e.batches).toBe(0);
    expect(e.summary).toContain('3 smaller than every resolution (the smallest, 144p, needs H*W >= 29492)');
    expect(e.summary).toContain('2 with too few frames');
    expect(e.summary).toContain('incomplete last batches dropped: 144p/17/0.56 3 of 3 (batch size 4)');
    expect(e.summary).toMatch(/No batch: add a smaller resolution .*; add a frame bucket .*; lower the batch size or pass \{ dropLast: false \}\.$/);
  });

  it('counts keep-probability rejections apart from size ones', () => {
    const rows = Array.from({ length: 50 }, () => ({ numFrames: 33, height: 144, width: 256 }));
    const e = new BucketSampler(rows, { '144p': { '17': [0.5, 1] } }, { seed: 1 }).explain();
    expect(e.rejected.tooSmall + e.rejected.tooFewFrames).toBe(0);
    expect(e.rejected.keepProb).toBeGreaterThan(5);
    expect(e.buckets[0]!.samples + e.rejected.keepProb).toBe(50);
    expect(e.batches).toBe(e.buckets[0]!.samples);
  });
});
