// A bucketed batch sampler in the manner of the reference's VariableVideoBatchSampler: each epoch
// samples are assigned to buckets (keep-probability draws seeded by seed + epoch + row *
// numBuckets), shuffled within their bucket, cut into batches of the bucket's batch size (the
// remainder dropped in training, padded otherwise), and the bucket access order is shuffled. The
// position is a plain counter, so `state()` / `restore()` resume exactly where a run stopped.
// Shuffles use this package's seeded generator (not torch.randperm): the order differs from the
// reference's, the bucket assignment does not.
import { Bucket, bucketKey, type BucketConfig, type BucketId } from './bucket.js';
import { mixSeed, SeededRandom } from '@opensora-ts/kernels';

export interface SampleShape {
  numFrames: number;
  height: number;
  width: number;
}

export interface SamplerOptions {
  seed?: number;
  shuffle?: boolean;
  /** Drop incomplete batches (training); pad them with the bucket's first samples otherwise. */
  dropLast?: boolean;
  frameInterval?: number;
  /** Data-parallel replicas and this process's rank. */
  numReplicas?: number;
  rank?: number;
}

export interface Batch {
  bucket: BucketId;
  /** Target [T, H, W] of the bucket. */
  thw: [number, number, number];
  /** Sample indices (positions in the rows given to the sampler). */
  indices: number[];
  /** The reference's index strings "{row}-{T}-{H}-{W}". */
  keys: string[];
}

export interface SamplerState {
  seed: number;
  epoch: number;
  /** Micro-batch accesses consumed this epoch (all replicas together). */
  consumed: number;
}

/**
 * What VideoLoader and a training loop need of a sampler: the batches of the current epoch and a
 * plain position to save and resume. BucketSampler and FixedSizeSampler both provide it.
 */
export interface BatchSampler {
  /** Position: epoch and batches consumed, to save with a checkpoint. */
  state(): SamplerState;
  /** Continues from a saved position (same seed required). */
  restore(state: SamplerState): void;
  /** Moves to `epoch` (its start, unless it is the current one). */
  setEpoch(epoch: number): void;
  /** Batches this sampler gives per epoch (consumed or not). */
  length(): number;
  /** The remaining batches of the current epoch; each counts as consumed, then the epoch advances. */
  batches(): Generator<Batch>;
  /** Where the samples went, in words (VideoLoader quotes it when an epoch has no batch). */
  explain?(): { summary: string };
}

/** Where the samples of one epoch went: what each bucket took and made, and what none took, by reason. */
export interface SamplerExplanation {
  samples: number;
  /** Samples no bucket took, by reason (see Bucket.rejectionReason). */
  rejected: { tooSmall: number; tooFewFrames: number; keepProb: number };
  buckets: { bucket: string; samples: number; batchSize: number; batches: number; dropped: number }[];
  /** Batches of the epoch over all replicas (before the split among ranks). */
  batches: number;
  /** One paragraph for a person: counts, and for an empty epoch what to change. */
  summary: string;
}

export class BucketSampler implements BatchSampler {
  readonly bucket: Bucket;
  private readonly opts: Required<SamplerOptions>;
  private epoch = 0;
  private consumed = 0;
  private cache?: { epoch: number; groups: Map<string, number[]>; rejected: number; why: SamplerExplanation['rejected'] };

  constructor(
    private readonly samples: readonly SampleShape[],
    config: BucketConfig | Bucket,
    opts: SamplerOptions = {},
  ) {
    this.bucket = config instanceof Bucket ? config : new Bucket(config);
    this.opts = { seed: 0, shuffle: true, dropLast: true, frameInterval: 1, numReplicas: 1, rank: 0, ...opts };
    if (this.opts.rank < 0 || this.opts.rank >= this.opts.numReplicas) {
      throw new Error(`sampler rank ${this.opts.rank} is outside 0..${this.opts.numReplicas - 1}.`);
    }
  }

  setEpoch(epoch: number): void {
    if (epoch !== this.epoch) this.consumed = 0;
    this.epoch = epoch;
  }

  state(): SamplerState {
    return { seed: this.opts.seed, epoch: this.epoch, consumed: this.consumed };
  }

  restore(s: SamplerState): void {
    if (s.seed !== this.opts.seed) {
      throw new Error(`sampler state has seed ${s.seed}, this sampler ${this.opts.seed}; resume with the run's seed.`);
    }
    this.epoch = s.epoch;
    this.consumed = s.consumed;
  }

  /** Bucket key -> sample indices for the current epoch (bucket order: first sample seen). */
  groups(): { groups: Map<string, number[]>; rejected: number; why: SamplerExplanation['rejected'] } {
    if (this.cache?.epoch === this.epoch) return this.cache;
    const groups = new Map<string, number[]>();
    let rejected = 0;
    const why = { tooSmall: 0, tooFewFrames: 0, keepProb: 0 };
    const base = this.opts.seed + this.epoch;
    this.samples.forEach((s, i) => {
      const id = this.bucket.getBucketId(s.numFrames, s.height, s.width, this.opts.frameInterval, base + i * this.bucket.numBuckets);
      if (!id) {
        rejected++;
        const r = this.bucket.rejectionReason(s.numFrames, s.height, s.width, this.opts.frameInterval);
        why[r === 'too-small' ? 'tooSmall' : r === 'too-few-frames' ? 'tooFewFrames' : 'keepProb']++;
        return;
      }
      const k = bucketKey(id);
      let list = groups.get(k);
      if (!list) groups.set(k, (list = []));
      list.push(i);
    });
    this.cache = { epoch: this.epoch, groups, rejected, why };
    return this.cache;
  }

  /**
   * Where this epoch's samples went: per bucket the samples, batch size, batches and samples dropped
   * as an incomplete last batch, and how many samples no bucket took and why. `summary` says it in
   * words, and for an epoch with no batch, what to change.
   */
  explain(): SamplerExplanation {
    const { groups, why } = this.groups();
    const buckets: SamplerExplanation['buckets'] = [];
    for (const [k, list] of groups) {
      const batchSize = this.bucket.getBatchSize(parseKey(k));
      const full = Math.floor(list.length / batchSize);
      const partial = list.length % batchSize > 0 ? 1 : 0;
      buckets.push({ bucket: k, samples: list.length, batchSize, batches: this.opts.dropLast ? full : full + partial, dropped: this.opts.dropLast ? list.length % batchSize : 0 });
    }
    const batches = this.plan().order.length;
    const n = this.samples.length;
    const parts: string[] = [];
    const small = this.bucket.smallest();
    if (why.tooSmall) parts.push(`${why.tooSmall} smaller than every resolution (the smallest, ${small.resolution}, needs H*W >= ${small.minPixels})`);
    if (why.tooFewFrames) parts.push(`${why.tooFewFrames} with too few frames for every frame bucket of the resolutions they cover (T must exceed frames x frame_interval ${this.opts.frameInterval}; images need a "1" entry)`);
    if (why.keepProb) parts.push(`${why.keepProb} dropped by the keep-probability draws`);
    const dropped = buckets.filter((b) => b.dropped > 0);
    let text = `${n} samples: ${n - why.tooSmall - why.tooFewFrames - why.keepProb} in ${buckets.length} bucket(s)`;
    text += parts.length ? `, ${parts.join(', ')}` : '';
    text += `. ${batches} batch(es) this epoch`;
    if (dropped.length) text += `; incomplete last batches dropped: ${dropped.map((b) => `${b.bucket} ${b.dropped} of ${b.samples} (batch size ${b.batchSize})`).join(', ')}`;
    text += '.';
    if (batches === 0) {
      const fixes: string[] = [];
      if (n === 0) fixes.push('there are no samples: check the metadata filters and the skipped rows');
      if (why.tooSmall) fixes.push(`add a smaller resolution to bucket_config (e.g. "144p" or "256") or use larger videos`);
      if (why.tooFewFrames) fixes.push('add a frame bucket below the clips\' frame counts (e.g. 1 for images, 17 for short clips)');
      if (why.keepProb) fixes.push('raise keep_prob');
      if (dropped.length) fixes.push('lower the batch size or pass { dropLast: false }');
      if (this.opts.numReplicas > 1 && buckets.some((b) => b.batches > 0)) fixes.push(`add data: fewer batches than the ${this.opts.numReplicas} replicas`);
      text += ` No batch: ${fixes.join('; ') || 'change bucket_config'}.`;
    }
    return { samples: n, rejected: { ...why }, buckets, batches, summary: text };
  }

  /** The whole epoch's plan: batch contents per bucket and the access order (all replicas). */
  private plan(): { lists: Map<string, number[]>; order: string[] } {
    const rng = new SeededRandom(mixSeed(this.opts.seed, this.epoch));
    const lists = new Map<string, number[]>();
    const counts: [string, number][] = [];
    for (const [k, src] of this.groups().groups) {
      const bs = this.bucket.getBatchSize(parseKey(k));
      let list = [...src];
      const rem = list.length % bs;
      if (rem > 0) list = this.opts.dropLast ? list.slice(0, list.length - rem) : list.concat(padding(list, bs - rem));
      if (this.opts.shuffle) rng.shuffle(list);
      lists.set(k, list);
      counts.push([k, list.length / bs]);
    }
    let order: string[] = [];
    for (const [k, n] of counts) for (let j = 0; j < n; j++) order.push(k);
    if (this.opts.shuffle) rng.shuffle(order);
    const R = this.opts.numReplicas;
    const rem = order.length % R;
    if (rem > 0) order = this.opts.dropLast ? order.slice(0, order.length - rem) : order.concat(order.slice(0, R - rem));
    return { lists, order };
  }

  /** Batches this rank gets in the current epoch (consumed or not). */
  length(): number {
    return Math.floor(this.plan().order.length / this.opts.numReplicas);
  }

  /**
   * The remaining batches of the current epoch for this rank. Each yielded batch counts as consumed;
   * at the end the epoch advances and the counter resets.
   */
  *batches(): Generator<Batch> {
    const { lists, order } = this.plan();
    const R = this.opts.numReplicas;
    const used = new Map<string, number>();
    const start = Math.floor(this.consumed / R);
    this.consumed = start * R;
    for (let i = 0; i < this.consumed; i++) {
      const k = order[i]!;
      used.set(k, (used.get(k) ?? 0) + this.bucket.getBatchSize(parseKey(k)));
    }
    const steps = Math.floor(order.length / R);
    for (let step = start; step < steps; step++) {
      let mine: { k: string; from: number; to: number } | undefined;
      for (let r = 0; r < R; r++) {
        const k = order[step * R + r]!;
        const bs = this.bucket.getBatchSize(parseKey(k));
        const from = used.get(k) ?? 0;
        used.set(k, from + bs);
        if (r === this.opts.rank) mine = { k, from, to: from + bs };
      }
      this.consumed += R;
      const id = parseKey(mine!.k);
      const thw = this.bucket.getThw(id);
      const indices = lists.get(mine!.k)!.slice(mine!.from, mine!.to);
      yield { bucket: id, thw, indices, keys: indices.map((x) => `${x}-${thw[0]}-${thw[1]}-${thw[2]}`) };
    }
    this.epoch++;
    this.consumed = 0;
  }
}

function parseKey(k: string): BucketId {
  const [resolution, frames, aspect] = k.split('/') as [string, string, string];
  return { resolution, frames: Number(frames), aspect };
}

function padding(list: number[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(list[i % list.length]!);
  return out;
}
