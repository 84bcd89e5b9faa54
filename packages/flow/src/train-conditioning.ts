// I2V / V2V conditioning at training time (spec §3.7): which latent frames are given as
// condition (`mask_types`), which conditions are dropped (`drop_condition`), the noisy-reference
// corruption of the *_noisy types, and the per-frame loss weights.
import { tf, type SeededRandom, type Tensor } from '@opensora-ts/kernels';

export const MASK_TYPES = ['none', 'i2v_head', 'i2v_tail', 'i2v_loop', 'v2v_head', 'v2v_tail', 'v2v_head_noisy', 'other', 'other_noisy'] as const;
export type MaskType = (typeof MASK_TYPES)[number];

/** cond: keep the frames, drop the text; text: keep the text, drop the frames; null: drop both. */
export const DROP_CONDITIONS = ['keep', 'cond', 'text', 'null'] as const;
export type DropCondition = (typeof DROP_CONDITIONS)[number];

/** mask_types of configs/opensora-v1-3/train/stage1_hq.py. */
export const STAGE1_HQ_MASK_TYPES: Readonly<Partial<Record<MaskType, number>>> = { none: 8, i2v_head: 2, i2v_tail: 2, i2v_loop: 2, v2v_head: 1, v2v_tail: 1, other: 1 };
/** mask_types of configs/opensora-v1-3/train/adapt_i2v.py. */
export const ADAPT_I2V_MASK_TYPES: Readonly<Partial<Record<MaskType, number>>> = {
  i2v_head: 5, i2v_tail: 2, i2v_loop: 2, v2v_head: 1, v2v_head_noisy: 2, v2v_tail: 1, other: 1, none: 2,
};
/** drop_condition of the 1.3 i2v training configs. */
export const DEFAULT_DROP_CONDITION: Readonly<Record<DropCondition, number>> = { cond: 0.05, text: 0.05, null: 0.05, keep: 0.85 };

function checkKeys<K extends string>(what: string, weights: Readonly<Partial<Record<string, number>>>, allowed: readonly K[]): Record<K, number> {
  for (const k of Object.keys(weights)) {
    if (!(allowed as readonly string[]).includes(k)) throw new Error(`${what}: unknown key '${k}'; expected one of ${allowed.join(', ')}.`);
  }
  return weights as Record<K, number>;
}

/** Weighted choice of a mask type (the reference draws it with random.Random(rank)). */
export function chooseMaskType(rng: SeededRandom, maskTypes: Readonly<Partial<Record<MaskType, number>>>): MaskType {
  return rng.choice(checkKeys('mask_types', maskTypes, MASK_TYPES));
}

/** Weighted choice of which conditions to drop for one batch. */
export function chooseDropCondition(rng: SeededRandom, dropCondition: Readonly<Partial<Record<DropCondition, number>>>): DropCondition {
  return rng.choice(checkKeys('drop_condition', dropCondition, DROP_CONDITIONS));
}

/**
 * Conditioned latent frames for a mask type (get_mask_index): v2v_head = first T//2, v2v_tail = the
 * rest, i2v_head = [0], i2v_tail = [T-1], i2v_loop = [0, T-1], other = a random prefix or suffix
 * (never the whole clip), none = [].
 */
export function trainingMaskIndex(type: MaskType, latentT: number, rng: SeededRandom): number[] {
  const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
  switch (type) {
    case 'v2v_head':
    case 'v2v_head_noisy':
      return range(0, Math.floor(latentT / 2));
    case 'v2v_tail':
      return range(Math.floor(latentT / 2), latentT);
    case 'i2v_head':
      return [0];
    case 'i2v_loop':
      return [0, latentT - 1];
    case 'i2v_tail':
      return [latentT - 1];
    case 'other':
    case 'other_noisy': {
      if (latentT < 3) throw new Error(`mask type '${type}' needs at least 3 latent frames (got ${latentT}).`);
      const atStart = rng.uniform() < 0.5;
      return atStart ? range(0, rng.int(1, latentT - 2)) : range(rng.int(1, latentT - 2), latentT);
    }
    case 'none':
      return [];
  }
}

export interface TrainingCondition {
  maskType: MaskType | null;
  maskIndex: number[];
  /** Caption dropout for this batch: 0 when frames are conditioned, else the model's class_dropout_prob. */
  textUncondProb: number;
  /** r of the noisy reference (r·N(0,1) + (1-r)·x in pixel space), or null when the reference is clean. */
  noisyRatio: number | null;
}

/**
 * One batch's conditioning draw, as the training script does it: a mask type (videos only get a
 * mask index), text dropout off when frames are conditioned, and for *_noisy types whose index
 * holds frame 0 a corruption ratio r ~ U(min, max).
 */
export function drawTrainingCondition(
  rng: SeededRandom,
  options: {
    maskTypes?: Readonly<Partial<Record<MaskType, number>>> | null;
    numFrames: number;
    latentT: number;
    classDropoutProb?: number;
    noiseMinWeight?: number;
    noiseMaxWeight?: number;
  },
): TrainingCondition {
  const base = options.classDropoutProb ?? 0.1;
  if (!options.maskTypes) return { maskType: null, maskIndex: [], textUncondProb: base, noisyRatio: null };
  const maskType = chooseMaskType(rng, options.maskTypes);
  const maskIndex = options.numFrames > 1 ? trainingMaskIndex(maskType, options.latentT, rng) : [];
  let noisyRatio: number | null = null;
  if (maskIndex.includes(0) && maskType.includes('noisy')) {
    const lo = options.noiseMinWeight ?? 0.1;
    const hi = options.noiseMaxWeight ?? 0.3;
    noisyRatio = lo + rng.uniform() * (hi - lo);
  }
  return { maskType, maskIndex, textUncondProb: maskIndex.length > 0 ? 0 : base, noisyRatio };
}

/** The *_noisy reference: r·noise + (1 - r)·x (pixel space, before VAE encoding). */
export function corruptReference(x: Tensor, ratio: number, noise: Tensor): Tensor {
  return tf.tidy(() => noise.mul(ratio).add(x.mul(1 - ratio)));
}

/** Maps negative frame indices (Python style) into [0, T) and checks the range. */
export function normalizeFrameIndex(maskIndex: readonly number[], T: number): number[] {
  return maskIndex.map((i) => {
    const j = i < 0 ? T + i : i;
    if (!Number.isInteger(j) || j < 0 || j >= T) throw new RangeError(`frame index ${i} is outside a clip of ${T} latent frames.`);
    return j;
  });
}

/** A [B, C, T, H, W] tensor that is 1 on the frames of `maskIndex` and 0 elsewhere. */
export function conditionMask(shape: readonly number[], maskIndex: readonly number[]): Tensor {
  const [B, C, T, H, W] = shape as [number, number, number, number, number];
  const frames = new Float32Array(T);
  for (const i of normalizeFrameIndex(maskIndex, T)) frames[i] = 1;
  return tf.tidy(() => tf.tensor(frames, [1, 1, T, 1, 1]).tile([B, C, 1, H, W]));
}

/**
 * Per-frame loss weights: conditioned frames get `xCondWeight`, the others (T - n·w)/(T - n) so the
 * sum stays T. With w = 1 (the default) every frame weighs 1.
 */
export function conditionFrameWeights(T: number, maskIndex: readonly number[], xCondWeight = 1): number[] {
  const idx = normalizeFrameIndex(maskIndex, T);
  const n = idx.length;
  if (n === 0) return new Array(T).fill(1);
  if (n >= T && xCondWeight !== 1) throw new Error(`conditionFrameWeights: all ${T} frames are conditioned, so the other frames cannot rebalance x_cond_weight ${xCondWeight}.`);
  const other = n >= T ? 1 : (T - n * xCondWeight) / (T - n);
  const w = new Array(T).fill(other);
  for (const i of idx) w[i] = xCondWeight;
  return w;
}
