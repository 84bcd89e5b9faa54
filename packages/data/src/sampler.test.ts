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
