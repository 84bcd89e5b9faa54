// The data side of the eval loss: a bucket's samples, read the reference's way (the data
// package's bucket sampler with this one bucket at keep probability 1, no shuffling, the last
// partial batch kept), encoded once by the given VAE and text encoder. The reference re-encodes
// (and re-samples the VAE posterior) at every timestep; encoding once keeps the data identical
// across timesteps, which the flow package's protocol asks for.
import { tf, type Tensor } from '@opensora-ts/kernels';
import { BucketSampler, VideoLoader, type Batch, type BatchSampler, type MetadataRow, type SamplerState } from '@opensora-ts/data';
import type { EvalBatch } from '@opensora-ts/flow';
import type { EvalBucket } from './eval-loss-config.js';

export interface EvalEncoders {
  /** Pixels [B, 3, T, H, W] in [-1, 1] -> normalised latent [B, C, T', h, w] (caller owns it). */
  encodeVideo: (x: Tensor) => Tensor | Promise<Tensor>;
  /** Captions -> states [B, 1, L, D] and mask [B, L] (caller owns them). */
  encodeText: (prompts: string[]) => Promise<{ states: Tensor; mask?: Tensor }>;
}

export interface EvalDataOptions {
  seed?: number;
  /** Called for every row that could not be read (the loader skips it). */
  onSkip?: (line: string) => void;
  /** Called after each encoded batch. */
  onBatch?: (done: number, samples: number) => void;
  /**
   * Only these batches of the bucket (positions 0 ... evalBatchCount-1, e.g. a rank's share from
   * the kernels package's shardOf); default all. Each loaded batch carries its position as `index`.
   */
  batches?: readonly number[];
}

function bucketSampler(rows: readonly MetadataRow[], bucket: EvalBucket, seed: number): BucketSampler {
  const config = { [bucket.resolution]: { [String(bucket.numFrames)]: [1.0, bucket.batchSize] as const } };
  return new BucketSampler(rows, config, { seed, shuffle: false, dropLast: false });
}

/** How many batches the bucket makes of `rows` (0 when no row fits): what a sharded run splits. */
export function evalBatchCount(rows: readonly MetadataRow[], bucket: EvalBucket, seed = 42): number {
  return bucketSampler(rows, bucket, seed).length();
}

/** The sampler's batches at the chosen positions only; the crops depend on (seed, row), not on the position. */
class SelectedBatches implements BatchSampler {
  private readonly chosen: Batch[];
  private consumed = 0;
  constructor(
    private readonly inner: BucketSampler,
    positions: readonly number[],
  ) {
    const all = [...inner.batches()];
    inner.setEpoch(0);
    for (const p of positions) {
      if (!Number.isInteger(p) || p < 0 || p >= all.length) throw new RangeError(`loadEvalBatches: batch ${p} is not in 0..${all.length - 1}`);
    }
    this.chosen = positions.map((p) => all[p]!);
  }
  state(): SamplerState {
    return { ...this.inner.state(), consumed: this.consumed };
  }
  restore(): void {
    throw new Error('loadEvalBatches: a selection of batches is read once, not resumed.');
  }
  setEpoch(): void {}
  length(): number {
    return this.chosen.length;
  }
  *batches(): Generator<Batch> {
    for (; this.consumed < this.chosen.length; ) yield this.chosen[this.consumed++]!;
  }
}

/**
 * Every batch of one bucket (or the chosen `o.batches`), encoded; [] when no row fits the bucket.
 * A batch none of whose rows could be read is left out.
 */
export async function loadEvalBatches(rows: readonly MetadataRow[], bucket: EvalBucket, enc: EvalEncoders, o: EvalDataOptions = {}): Promise<EvalBatch[]> {
  const full = bucketSampler(rows, bucket, o.seed ?? 42);
  // No row fits: the bucket is skipped (the loader would refuse an empty epoch).
  if (full.length() === 0) return [];
  const positions = o.batches ?? Array.from({ length: full.length() }, (_, i) => i);
  if (positions.length === 0) return [];
  const sampler = new SelectedBatches(full, positions);
  const loader = new VideoLoader(rows, sampler, { prefetch: 1, seed: o.seed ?? 42, layout: 'CTHW', ...(o.onSkip ? { onSkip: o.onSkip } : {}) });
  const out: EvalBatch[] = [];
  let samples = 0;
  let k = 0;
  try {
    for await (const { batch, items } of loader) {
      const index = positions[k++]!;
      const usable = items.filter((i) => i.sample);
      if (usable.length === 0) continue;
      const [T, H, W] = batch.thw;
      const x = tf.tidy(() => tf.stack(usable.map((i) => tf.tensor(i.sample!.data as Float32Array, [3, T, H, W]))));
      let z: Tensor;
      try {
        z = await enc.encodeVideo(x);
      } finally {
        x.dispose();
      }
      const text = await enc.encodeText(usable.map((i) => i.row.text));
      const fps = usable[0]!.sample!.fps;
      out.push({ x0: z, text: { y: text.states, ...(text.mask ? { mask: text.mask } : {}) }, meta: { height: H, width: W, numFrames: T, fps }, index });
      samples += usable.length;
      o.onBatch?.(out.length, samples);
    }
  } catch (e) {
    for (const b of out) {
      b.x0.dispose();
      b.text.y.dispose();
      b.text.mask?.dispose();
    }
    throw e;
  }
  return out;
}
