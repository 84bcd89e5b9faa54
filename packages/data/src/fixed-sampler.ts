// The sampler of the reference's VideoTextDataset path (no buckets: every sample cut to one
// num_frames x image_size, batches of batch_size), for data that fits no bucket or a run that
// wants one size: shuffled per epoch from (seed, epoch), the remainder dropped, the position a
// plain counter so `state()` / `restore()` resume exactly. Its batches have BucketSampler's shape
// (the bucket named after the size), so VideoLoader drives either. Data parallel as BucketSampler:
// a global batch of numReplicas x batchSize, rank r taking slice r; a resume at another world size
// continues from the same sample of the epoch's order.
import { mixSeed, SeededRandom } from '@opensora-ts/kernels';
import type { Batch, BatchSampler, SampleShape, SamplerState } from './sampler.js';

export interface FixedSizeOptions {
  numFrames: number;
  height: number;
  width: number;
  batchSize: number;
  seed?: number;
  shuffle?: boolean;
  frameInterval?: number;
  /** Data-parallel replicas and this process's rank. */
  numReplicas?: number;
  rank?: number;
}

export class FixedSizeSampler implements BatchSampler {
  private epoch = 0;
  private consumed = 0;
  private reshards: { numReplicas: number; consumed: number }[] = [];
  private readonly seed: number;
  private readonly R: number;
  private readonly rank: number;
  /** Samples long enough for num_frames (every sample when num_frames is 1: images and video frames). */
  readonly eligible: number[];
  readonly rejected: number;

  constructor(
    samples: readonly SampleShape[],
    private readonly o: FixedSizeOptions,
  ) {
    for (const k of ['numFrames', 'height', 'width', 'batchSize'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`FixedSizeSampler: ${k} must be a positive integer, got ${o[k]}.`);
    }
    this.seed = o.seed ?? 0;
    this.R = o.numReplicas ?? 1;
    this.rank = o.rank ?? 0;
    if (!Number.isInteger(this.R) || this.R < 1 || !Number.isInteger(this.rank) || this.rank < 0 || this.rank >= this.R) {
      throw new RangeError(`FixedSizeSampler: rank ${this.rank} of ${this.R} replicas is not a rank (0..${this.R - 1}).`);
    }
    const need = o.numFrames * (o.frameInterval ?? 1);
    this.eligible = [];
    samples.forEach((s, i) => {
      if (o.numFrames === 1 || s.numFrames >= need) this.eligible.push(i);
    });
    this.rejected = samples.length - this.eligible.length;
  }

  setEpoch(epoch: number): void {
    if (epoch !== this.epoch) {
      this.consumed = 0;
      this.reshards = [];
    }
    this.epoch = epoch;
  }

  state(): SamplerState {
    const s: SamplerState = { seed: this.seed, epoch: this.epoch, consumed: this.consumed };
    if (this.R !== 1) s.numReplicas = this.R;
    if (this.reshards.length) s.reshards = this.reshards.map((r) => ({ ...r }));
    return s;
  }

  /** Continues from a saved position; one saved at another world size goes on from the same sample. */
  restore(s: SamplerState): void {
    if (s.seed !== this.seed) throw new Error(`sampler state has seed ${s.seed}, this sampler ${this.seed}; resume with the run's seed.`);
    this.epoch = s.epoch;
    this.consumed = s.consumed;
    this.reshards = (s.reshards ?? []).map((r) => ({ ...r }));
    const was = s.numReplicas ?? 1;
    if (was !== this.R && s.consumed > 0) {
      this.reshards.push({ numReplicas: was, consumed: s.consumed });
      this.consumed = 0;
    }
  }

  /** Samples of the epoch's order used before the current part (earlier world sizes). */
  private startSample(): number {
    return this.reshards.reduce((a, r) => a + r.numReplicas * this.o.batchSize * r.consumed, 0);
  }

  /** Batches per epoch for this rank (global batches of numReplicas x batchSize). */
  length(): number {
    return Math.floor(this.eligible.length / (this.R * this.o.batchSize));
  }

  /** Where the samples went (too short for num_frames, dropped as an incomplete batch), in words. */
  explain(): { summary: string } {
    const n = this.rejected + this.eligible.length;
    const need = this.o.numFrames * (this.o.frameInterval ?? 1);
    const dropped = this.eligible.length % (this.R * this.o.batchSize);
    let text = `${n} samples: ${this.eligible.length} long enough for ${this.o.numFrames} frames`;
    if (this.rejected) text += `, ${this.rejected} with fewer than ${need} frames`;
    text += `. ${this.length()} batch(es) of ${this.o.batchSize}`;
    if (dropped) text += `; ${dropped} sample(s) dropped as an incomplete last batch`;
    text += '.';
    if (this.length() === 0) {
      text += ` No batch: ${n === 0 ? 'there are no samples (check the metadata filters and skipped rows)' : this.eligible.length === 0 ? 'lower numFrames or frameInterval' : 'lower batchSize or add data'}.`;
    }
    return { summary: text };
  }

  *batches(): Generator<Batch> {
    const order = [...this.eligible];
    if (this.o.shuffle ?? true) new SeededRandom(mixSeed(this.seed, this.epoch)).shuffle(order);
    const thw: [number, number, number] = [this.o.numFrames, this.o.height, this.o.width];
    const bucket = { resolution: `${this.o.height}x${this.o.width}`, frames: this.o.numFrames, aspect: (this.o.height / this.o.width).toFixed(2) };
    const bs = this.o.batchSize;
    const G = this.R * bs;
    const start = this.startSample();
    const n = Math.floor((order.length - start) / G);
    for (let b = this.consumed; b < n; b++) {
      const from = start + b * G + this.rank * bs;
      const indices = order.slice(from, from + bs);
      this.consumed = b + 1;
      yield { bucket, thw, indices, keys: indices.map((i) => `${i}-${thw[0]}-${thw[1]}-${thw[2]}`), offset: this.rank * bs, globalSize: G };
    }
    this.epoch++;
    this.consumed = 0;
    this.reshards = [];
  }
}
