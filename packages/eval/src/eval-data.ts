// The data side of the eval loss: a bucket's samples, read the reference's way (the data
// package's bucket sampler with this one bucket at keep probability 1, no shuffling, the last
// partial batch kept), encoded once by the given VAE and text encoder. The reference re-encodes
// (and re-samples the VAE posterior) at every timestep; encoding once keeps the data identical
// across timesteps, which the flow package's protocol asks for.
import { tf, type Tensor } from '@opensora-ts/kernels';
import { BucketSampler, VideoLoader, type MetadataRow } from '@opensora-ts/data';
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
}

/** Every batch of one bucket, encoded; [] when no row fits the bucket. */
export async function loadEvalBatches(rows: readonly MetadataRow[], bucket: EvalBucket, enc: EvalEncoders, o: EvalDataOptions = {}): Promise<EvalBatch[]> {
  const config = { [bucket.resolution]: { [String(bucket.numFrames)]: [1.0, bucket.batchSize] as const } };
  const sampler = new BucketSampler(rows, config, { seed: o.seed ?? 42, shuffle: false, dropLast: false });
  // No row fits: the bucket is skipped (the loader would refuse an empty epoch).
  if (sampler.length() === 0) return [];
  const loader = new VideoLoader(rows, sampler, { prefetch: 1, seed: o.seed ?? 42, layout: 'CTHW', ...(o.onSkip ? { onSkip: o.onSkip } : {}) });
  const out: EvalBatch[] = [];
  let samples = 0;
  try {
    for await (const { batch, items } of loader) {
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
      out.push({ x0: z, text: { y: text.states, ...(text.mask ? { mask: text.mask } : {}) }, meta: { height: H, width: W, numFrames: T, fps } });
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
