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

  it('N ranks x batch b get the slices of the global batches one process with batch N*b gets', () => {
    const double: BucketConfig = { '360p': { '1': [1.0, 8], '49': [1.0, 6], '65': [[0.8, 0.9], 4] }, '720p': { '1': [0.5, 4] } };
    const one = [...new BucketSampler(samples, double, { seed: 1 }).batches()];
    const ranks = [0, 1].map((rank) => [...new BucketSampler(samples, config, { seed: 1, numReplicas: 2, rank }).batches()]);
    expect(ranks[0]!.length).toBe(one.length);
    expect(ranks[1]!.length).toBe(one.length);
    expect(new BucketSampler(samples, config, { seed: 1, numReplicas: 2, rank: 1 }).length()).toBe(one.length);
    one.forEach((b, i) => {
      const [r0, r1] = [ranks[0]![i]!, ranks[1]![i]!];
      expect(r0.bucket).toEqual(b.bucket);
      expect(r1.bucket).toEqual(b.bucket);
      expect([...r0.indices, ...r1.indices]).toEqual(b.indices);
      expect([r0.offset, r1.offset, r1.globalSize]).toEqual([0, r0.indices.length, b.indices.length]);
    });
    // No sample twice; each bucket leaves less than one global batch unused.
    const all = ranks.flat().flatMap((b) => b.indices);
    expect(new Set(all).size).toBe(all.length);
    const s = new BucketSampler(samples, config, { seed: 1, numReplicas: 2 });
    for (const [k, list] of s.groups().groups) {
      const used = all.filter((i) => list.includes(i)).length;
      const G = 2 * s.bucket.getBatchSize({ resolution: k.split('/')[0]!, frames: Number(k.split('/')[1]), aspect: k.split('/')[2]! });
      expect(list.length - used).toBeLessThan(G);
      expect(list.length - used).toBeGreaterThanOrEqual(0);
    }
  });

  it('drops a different remainder each epoch (shuffled before the cut)', () => {
    const s = new BucketSampler(samples, { '360p': { '1': [1.0, 5] } }, { seed: 2, numReplicas: 2 });
    const e0 = new Set([...s.batches()].flatMap((b) => b.indices));
    const e1 = new Set([...s.batches()].flatMap((b) => b.indices));
    expect(e0.size).toBe(e1.size);
    expect([...e0].sort()).not.toEqual([...e1].sort());
  });

  it('re-shards a position saved at another world size: the rest of the epoch, no sample twice', () => {
    const take = (smp: BucketSampler, k: number) => {
      const out: Batch[] = [];
      if (k === 0) return out;
      for (const b of smp.batches()) {
        out.push(b);
        if (out.length === k) break;
      }
      return out;
    };
    // 2 ranks for 3 steps, then 1 rank for 2 steps, then 3 ranks to the end of the epoch.
    const two = [0, 1].map((rank) => new BucketSampler(samples, config, { seed: 5, numReplicas: 2, rank }));
    const seen = two.flatMap((smp) => take(smp, 3));
    const saved2 = JSON.parse(JSON.stringify(two[0]!.state()));
    expect(saved2).toMatchObject({ epoch: 0, consumed: 3, numReplicas: 2 });
    const single = new BucketSampler(samples, config, { seed: 5 });
    single.restore(saved2);
    seen.push(...take(single, 2));
    const saved1 = JSON.parse(JSON.stringify(single.state()));
    expect(saved1.numReplicas).toBeUndefined();
    expect(saved1).toMatchObject({ consumed: 2, reshards: [{ numReplicas: 2, consumed: 3 }] });
    const three = [0, 1, 2].map((rank) => {
      const smp = new BucketSampler(samples, config, { seed: 5, numReplicas: 3, rank });
      smp.restore(saved1);
      return smp;
    });
    const rest = three.map((smp) => [...smp.batches()]);
    expect(new Set(rest.map((r) => r.length)).size).toBe(1);
    seen.push(...rest.flat());
    const all = seen.flatMap((b) => b.indices);
    expect(new Set(all).size).toBe(all.length);
    expect(three[0]!.state()).toMatchObject({ epoch: 1, consumed: 0 });
    expect(three[0]!.state().reshards).toBeUndefined();
    // A second resume at the same world size replays the same re-shard.
    const again = new BucketSampler(samples, config, { seed: 5 });
    again.restore(saved1);
    const single2 = new BucketSampler(samples, config, { seed: 5 });
    single2.restore(saved2);
    take(single2, 2);
    expect(flat([...again.batches()])).toEqual(flat([...single2.batches()]));
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
