import { describe, expect, it } from 'vitest';
import type { BucketConfig } from './bucket.js';
import { cachePlan, CacheItemSampler } from './cache-plan.js';
import { BucketSampler, type SampleShape } from './sampler.js';

// Keep probabilities below 1 put some samples in a batch only in a later epoch.
const config: BucketConfig = { '360p': { '1': [0.6, 2], '49': [0.6, 3] } };
const samples: SampleShape[] = Array.from({ length: 40 }, (_, i) => (i % 2 ? { numFrames: 1, height: 360, width: 640 } : { numFrames: 60, height: 360, width: 640 }));

describe('cachePlan', () => {
  it('lists each (sample, size) of the first epochs once, with the epoch it first appears in', () => {
    const s = new BucketSampler(samples, config, { seed: 5 });
    const one = cachePlan(s, 1);
    const three = cachePlan(s, 3);
    const keys = three.map((i) => `${i.index}-${i.thw.join('-')}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(three.slice(0, one.length)).toEqual(one);
    expect(three.length).toBeGreaterThan(one.length);
    expect(new Set(three.map((i) => i.epoch))).toEqual(new Set([0, 1, 2]));
    // Exactly what the sampler batches in each epoch, nothing else.
    const seen = new Set<string>();
    for (let e = 0; e < 3; e++) {
      const fresh = new BucketSampler(samples, config, { seed: 5 });
      fresh.setEpoch(e);
      for (const b of fresh.batches()) for (const i of b.indices) seen.add(`${i}-${b.thw.join('-')}`);
    }
    expect(new Set(keys)).toEqual(seen);
  });

  it('leaves the sampler where it was', () => {
    const s = new BucketSampler(samples, config, { seed: 5 });
    const it = s.batches();
    it.next();
    const before = s.state();
    cachePlan(s, 2);
    expect(s.state()).toEqual(before);
    expect(() => cachePlan(s, 0)).toThrow(/epochs 0/);
  });
});

describe('CacheItemSampler', () => {
  it('yields one item per batch at the given epoch and refuses items of another', () => {
    const plan = cachePlan(new BucketSampler(samples, config, { seed: 5 }), 2);
    const e1 = plan.filter((i) => i.epoch === 1);
    const s = new CacheItemSampler(e1, 1, 5);
    const got = [...s.batches()];
    expect(got.map((b) => b.indices)).toEqual(e1.map((i) => [i.index]));
    expect(s.state()).toEqual({ seed: 5, epoch: 1, consumed: e1.length });
    expect(() => new CacheItemSampler(plan, 1)).toThrow(/of epoch 0, not 1/);
  });
});
