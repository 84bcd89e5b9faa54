// What a latent cache must hold before training: every (sample, target size) the sampler puts in
// a batch in the first epochs, each with the epoch it first appears in (its temporal crop is that
// epoch's, as a loader filling the cache lazily would take it). A fill splits this list over
// ranks and loads each rank's share through a VideoLoader fed by `CacheItemSampler`.
import type { Batch, BatchSampler, SamplerState } from './sampler.js';

export interface CacheItem {
  /** Position in the sampler's rows. */
  index: number;
  /** Target [T, H, W] of its bucket. */
  thw: [number, number, number];
  /** First epoch it is sampled in (its crop is drawn for this epoch). */
  epoch: number;
  bucket: Batch['bucket'];
}

/**
 * The distinct (sample, size) pairs of epochs 0 ... epochs-1, in the order first seen. The
 * sampler's position is saved and restored, so a sampler in use can be planned.
 */
export function cachePlan(sampler: BatchSampler, epochs = 1): CacheItem[] {
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`cachePlan: epochs ${epochs} is not a whole number >= 1`);
  const saved = sampler.state();
  const seen = new Set<string>();
  const out: CacheItem[] = [];
  try {
    for (let e = 0; e < epochs; e++) {
      sampler.restore({ ...saved, epoch: e, consumed: 0 });
      for (const b of sampler.batches()) {
        for (const index of b.indices) {
          const key = `${index}-${b.thw.join('-')}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ index, thw: [...b.thw], epoch: e, bucket: b.bucket });
        }
      }
    }
  } finally {
    sampler.restore(saved);
  }
  return out;
}

/**
 * A sampler over chosen cache items of one epoch, one item per batch: a VideoLoader over it draws
 * each item's crop for that epoch (the crop depends on seed, epoch and row only) and decodes ahead.
 */
export class CacheItemSampler implements BatchSampler {
  private consumed = 0;
  constructor(
    private readonly items: readonly CacheItem[],
    private readonly epoch: number,
    private readonly seed = 0,
  ) {
    const other = items.find((i) => i.epoch !== epoch);
    if (other) throw new Error(`CacheItemSampler: item ${other.index} is of epoch ${other.epoch}, not ${epoch}; make one sampler per epoch.`);
  }
  state(): SamplerState {
    return { seed: this.seed, epoch: this.epoch, consumed: this.consumed };
  }
  restore(s: SamplerState): void {
    this.consumed = s.consumed;
  }
  setEpoch(): void {}
  length(): number {
    return this.items.length;
  }
  *batches(): Generator<Batch> {
    for (; this.consumed < this.items.length; ) {
      const it = this.items[this.consumed++]!;
      yield { bucket: it.bucket, thw: it.thw, indices: [it.index], keys: [`${it.index}-${it.thw.join('-')}`] };
    }
  }
}
