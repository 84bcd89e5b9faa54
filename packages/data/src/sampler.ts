// A bucketed batch sampler in the manner of the reference's VariableVideoBatchSampler: each epoch
// samples are assigned to buckets (keep-probability draws seeded by seed + epoch + row *
// numBuckets), shuffled within their bucket, cut into batches, and the bucket access order is
// shuffled. The position is a plain counter, so `state()` / `restore()` resume exactly.
// Data parallel: a step's GLOBAL batch holds numReplicas x the bucket's batch size samples of one
// bucket, and rank r takes slice r of it. So N ranks with batch b see the batches one process with
// batch N*b sees (same samples, same order), every rank gets the same number of batches, and no
// sample comes twice in an epoch. Remainder policy: a bucket's samples that do not fill a global
// batch are dropped for this epoch (as the reference's drop_last); since the bucket is shuffled
// first, a different remainder is dropped each epoch. Padding would repeat samples inside an epoch.
// A resume at another world size re-shards: the rest of the epoch is the samples not yet consumed,
// cut into global batches of the new size (recorded in the state's `reshards`).
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
  /** Position of this rank's first sample in the step's global batch (0 in one process). */
  offset?: number;
  /** Samples of the global batch over all ranks (= indices.length in one process). */
  globalSize?: number;
}

export interface SamplerState {
  seed: number;
  epoch: number;
  /** Global batches consumed this epoch (since the last re-shard). */
  consumed: number;
  /** Data-parallel replicas the position was counted with (absent: 1). */
  numReplicas?: number;
  /** Earlier parts of this epoch run at other world sizes: their replicas and global batches consumed. */
  reshards?: { numReplicas: number; consumed: number }[];
}

/** Global batches of a (part of an) epoch: bucket key and sample indices, in access order. */
interface GlobalBatch {
  key: string;
  indices: number[];
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
  /** Global batches of the epoch (each split among the ranks). */
  batches: number;
  /** One paragraph for a person: counts, and for an empty epoch what to change. */
  summary: string;
}

export class BucketSampler implements BatchSampler {
  readonly bucket: Bucket;
  private readonly opts: Required<SamplerOptions>;
  private epoch = 0;
  private consumed = 0;
  private reshards: { numReplicas: number; consumed: number }[] = [];
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
    if (epoch !== this.epoch) {
      this.consumed = 0;
      this.reshards = [];
    }
    this.epoch = epoch;
  }

  state(): SamplerState {
    const s: SamplerState = { seed: this.opts.seed, epoch: this.epoch, consumed: this.consumed };
    if (this.opts.numReplicas !== 1) s.numReplicas = this.opts.numReplicas;
    if (this.reshards.length) s.reshards = this.reshards.map((r) => ({ ...r }));
    return s;
  }

  /**
   * Continues from a saved position (same seed required). A position saved at another world size
   * re-shards: the rest of that epoch is re-cut into global batches of this sampler's size.
   */
  restore(s: SamplerState): void {
    if (s.seed !== this.opts.seed) {
      throw new Error(`sampler state has seed ${s.seed}, this sampler ${this.opts.seed}; resume with the run's seed.`);
    }
    this.epoch = s.epoch;
    this.consumed = s.consumed;
    this.reshards = (s.reshards ?? []).map((r) => ({ ...r }));
    const was = s.numReplicas ?? 1;
    if (was !== this.opts.numReplicas && s.consumed > 0) {
      this.reshards.push({ numReplicas: was, consumed: s.consumed });
      this.consumed = 0;
    }
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
      const G = batchSize * this.opts.numReplicas;
      const full = Math.floor(list.length / G);
      const partial = list.length % G > 0 ? 1 : 0;
      buckets.push({ bucket: k, samples: list.length, batchSize: G, batches: this.opts.dropLast ? full : full + partial, dropped: this.opts.dropLast ? list.length % G : 0 });
    }
    const batches = this.plan([]).length;
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
      if (this.opts.numReplicas > 1 && dropped.length) fixes.push(`or add data: a global batch is ${this.opts.numReplicas} ranks x the bucket's batch size`);
      text += ` No batch: ${fixes.join('; ') || 'change bucket_config'}.`;
    }
    return { samples: n, rejected: { ...why }, buckets, batches, summary: text };
  }

  /**
   * The global batches of the current part of the epoch: the epoch's shuffled bucket lists, less
   * what the earlier parts (`reshards`, each at its own world size) consumed, cut into global
   * batches of numReplicas x batch size and put in a shuffled bucket order.
   */
  private plan(reshards: readonly { numReplicas: number; consumed: number }[]): GlobalBatch[] {
    const rng = new SeededRandom(mixSeed(this.opts.seed, this.epoch));
    const lists = new Map<string, number[]>();
    for (const [k, src] of this.groups().groups) {
      const list = [...src];
      if (this.opts.shuffle) rng.shuffle(list);
      lists.set(k, list);
    }
    const used = new Map<string, number>();
    // A part shuffles the order of bucket accesses only; each bucket's batches are consecutive
    // chunks of its list in access order, so a consumed prefix of a part uses a prefix of each list.
    const part = (R: number, partRng: SeededRandom): GlobalBatch[] => {
      const rests = new Map<string, number[]>();
      const keys: string[] = [];
      for (const [k, list] of lists) {
        const G = R * this.bucket.getBatchSize(parseKey(k));
        let rest = list.slice(used.get(k) ?? 0);
        const rem = rest.length % G;
        if (rem > 0 && !this.opts.dropLast) rest = rest.concat(padding(list, G - rem));
        rests.set(k, rest);
        for (let j = 0; j + G <= rest.length; j += G) keys.push(k);
      }
      if (this.opts.shuffle) partRng.shuffle(keys);
      const taken = new Map<string, number>();
      return keys.map((k) => {
        const G = R * this.bucket.getBatchSize(parseKey(k));
        const from = taken.get(k) ?? 0;
        taken.set(k, from + G);
        return { key: k, indices: rests.get(k)!.slice(from, from + G) };
      });
    };
    reshards.forEach((r, j) => {
      for (const b of part(r.numReplicas, j === 0 ? rng : new SeededRandom(mixSeed(this.opts.seed, this.epoch, j))).slice(0, r.consumed)) {
        used.set(b.key, (used.get(b.key) ?? 0) + b.indices.length);
      }
    });
    const j = reshards.length;
    return part(this.opts.numReplicas, j === 0 ? rng : new SeededRandom(mixSeed(this.opts.seed, this.epoch, j)));
  }

  /** Batches this rank gets in an epoch (consumed or not; a fresh epoch at this world size). */
  length(): number {
    return this.plan([]).length;
  }

  /**
   * The remaining batches of the current epoch for this rank: its slice of each global batch. Each
   * yielded batch counts as consumed; at the end the epoch advances and the counter resets.
   */
  *batches(): Generator<Batch> {
    const plan = this.plan(this.reshards);
    const { rank } = this.opts;
    for (let i = this.consumed; i < plan.length; i++) {
      const g = plan[i]!;
      const id = parseKey(g.key);
      const bs = this.bucket.getBatchSize(id);
      const thw = this.bucket.getThw(id);
      const indices = g.indices.slice(rank * bs, (rank + 1) * bs);
      this.consumed = i + 1;
      yield { bucket: id, thw, indices, keys: indices.map((x) => `${x}-${thw[0]}-${thw[1]}-${thw[2]}`), offset: rank * bs, globalSize: g.indices.length };
    }
    this.epoch++;
    this.consumed = 0;
    this.reshards = [];
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
