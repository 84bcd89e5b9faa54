// Per-sample random streams for data-parallel training. Every draw of a training sample (timestep,
// noise, caption dropout, drop path, noisy-reference noise, posterior sample) comes from a seed
// that depends only on (run seed, step, the sample's index in the GLOBAL batch), never on which
// rank holds the sample or how big its local batch is. So N ranks with batch b each draw exactly
// what one process with batch N*b draws, and a resumed run draws what the uninterrupted one did.
import { mixSeed, SeededRandom, tf, type Tensor } from '@opensora-ts/kernels';

/** Sub-streams of one sample's seed: each kind of draw has its own generator. */
export const SAMPLE_STREAM = { flow: 1, model: 2, noisyRef: 3, posterior: 4 } as const;
export type SampleStream = keyof typeof SAMPLE_STREAM;

/** A tag so these seeds never coincide with the micro-step-level streams of the same run seed. */
const PER_SAMPLE = 0x5a3e;

/**
 * Seeds of `count` consecutive samples of a global batch: rows `offset ... offset+count-1` of the
 * batch drawn at `step` (a micro-step counter that every rank shares).
 */
export function sampleSeeds(seed: number, step: number, offset: number, count: number): number[] {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`sampleSeeds: offset ${offset} must be a non-negative integer (the slice's first index in the global batch).`);
  return Array.from({ length: count }, (_, i) => mixSeed(seed, step, PER_SAMPLE, offset + i));
}

/** The seed of one stream of a sample (what `sampleRandoms` seeds its generators with). */
export function streamSeed(sampleSeed: number, stream: SampleStream): number {
  return mixSeed(sampleSeed, SAMPLE_STREAM[stream]);
}

/** One generator per sample for `stream`. */
export function sampleRandoms(seeds: readonly number[], stream: SampleStream): SeededRandom[] {
  return seeds.map((s) => new SeededRandom(streamSeed(s, stream)));
}

/** A [B, ...rowShape] standard normal tensor whose row i comes from generator i alone. */
export function rowNormalTensor(rngs: readonly SeededRandom[], rowShape: readonly number[]): Tensor {
  const n = rowShape.reduce((a, b) => a * b, 1);
  const all = new Float32Array(rngs.length * n);
  rngs.forEach((r, i) => all.set(r.normalArray(n), i * n));
  return tf.tensor(all, [rngs.length, ...rowShape], 'float32');
}
