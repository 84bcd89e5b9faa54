// RFlowScheduler.training_losses (spec §3.4, §3.7): the velocity-matching loss with an optional
// frame mask and I2V/V2V conditioning. Synchronous, so it can run under tf.variableGrads.
import { tf, toRandom, type SeededRandom, type Tensor } from '@opensora-ts/kernels';
import { addNoise } from './add-noise.js';
import { rowNormalTensor, sampleRandoms, streamSeed } from './sample-seeds.js';
import { velocityOf, type ModelConditioning, type ModelFn } from './model.js';
import { TimeSampler } from './time-sampler.js';
import type { VideoMeta } from './timestep-transform.js';
import { chooseDropCondition, conditionFrameWeights, conditionMask, type DropCondition } from './train-conditioning.js';

export interface TrainingLossOptions {
  /** Text conditioning: y [B,1,L,C], its mask, and the null caption (needed when frames are conditioned). */
  text: { y: Tensor; mask?: Tensor; yNull?: Tensor };
  meta: VideoMeta;
  /** ε; drawn from `rng` when absent. */
  noise?: Tensor;
  /** One timestep per row in [0, T]; drawn with `timeSampler` when absent. */
  t?: Tensor | ArrayLike<number>;
  timeSampler?: TimeSampler;
  /** Generator (or seed) for t, ε and the drop-condition draw. */
  rng?: SeededRandom | number;
  /**
   * One seed per row (`sampleSeeds`): row i's t and ε, and the model's own draws for that row
   * (caption dropout, drop path), come from seed i alone, so a batch split over ranks draws what
   * the whole batch draws in one process. `rng` then draws only the batch-level drop condition.
   */
  sampleSeeds?: readonly number[];
  /** Frame mask [B, T] bool: false frames are clean (t = 0) and left out of the loss. */
  frameMask?: Tensor;
  /** Conditioned latent frames (I2V/V2V); [] = none. */
  maskIndex?: number[];
  /** The reference latent to condition on (the *_noisy one); default x0. */
  xNoisyRef?: Tensor;
  /** Target x0 when it differs from the noised input (augmentation); default x0. */
  xGt?: Tensor;
  /** Loss weight of conditioned frames (x_cond_weight, default 1). */
  xCondWeight?: number;
  /** drop_condition weights, or the outcome to force. Required when frames are conditioned. */
  dropCondition?: Readonly<Partial<Record<DropCondition, number>>> | DropCondition;
  textUncondProb?: number;
  numTimesteps?: number;
  /**
   * Weight of a frame-to-frame term (not in the reference; default 0, off): the mean square of the
   * velocity error's difference between neighbouring latent frames, added to each sample's loss (over all
   * frames: the frame mask and condition-frame weights do not apply to it). It penalises errors that change
   * from frame to frame, which a decoder shows as a shape that wanders.
   */
  temporalDiffWeight?: number;
  /** Keep x_t, cond, cond_mask, y and y_null in the result (caller disposes them). */
  returnIntermediates?: boolean;
}

export interface TrainingLossResult {
  /** Per-sample loss [B] (the batch loss is its mean). */
  loss: Tensor;
  /** The timesteps used. */
  t: number[];
  /** The drop-condition outcome when frames were conditioned. */
  condition?: DropCondition;
  xT?: Tensor;
  cond?: Tensor;
  condMask?: Tensor;
  y?: Tensor;
  yNull?: Tensor;
}

/**
 * mean_flat: the mean over every axis but the batch; with a frame mask [B, T], the sum over the
 * true frames divided by (their count · C·H·W).
 */
export function meanFlat(x: Tensor, frameMask?: Tensor): Tensor {
  return tf.tidy(() => {
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
    if (!frameMask) return x.mean(axes);
    if (x.rank !== 5 || frameMask.rank !== 2 || frameMask.shape[1] !== x.shape[2]) {
      throw new Error(`meanFlat: frame mask [${frameMask.shape}] does not match [B, C, T, H, W] = [${x.shape}].`);
    }
    const [B, C, T, H, W] = x.shape as [number, number, number, number, number];
    const m = frameMask.toFloat();
    const num = x.mul(m.reshape([B, 1, T, 1, 1])).sum(axes);
    return num.div(m.sum(1).mul(C * H * W));
  });
}

/** Broadcasts y_null to the shape of y ([1,1,L,C] or [L,C] inputs accepted). */
function broadcastNull(yNull: Tensor, y: Tensor): Tensor {
  return tf.tidy(() => {
    const n = yNull.rank === 2 ? yNull.reshape([1, 1, ...yNull.shape]) : yNull;
    return n.shape[0] === y.shape[0] ? n.clone() : tf.broadcastTo(n, y.shape);
  });
}

/** The loss of one batch: ε, t, x_t, the model call and (v̂ - (x0 - ε))² averaged per sample. */
export function trainingLoss(model: ModelFn, x0: Tensor, o: TrainingLossOptions): TrainingLossResult {
  const T = o.numTimesteps ?? 1000;
  const rng = toRandom(o.rng, 0);
  const B = x0.shape[0]!;
  const maskIndex = o.maskIndex ?? [];
  const conditioned = maskIndex.length > 0;
  const out: TrainingLossResult = { loss: undefined as unknown as Tensor, t: [] };

  // Host-side draws first (they do not depend on tensors).
  let condition: DropCondition | undefined;
  if (conditioned) {
    if (o.dropCondition === undefined) throw new Error('trainingLoss: frames are conditioned (maskIndex) but no drop_condition was given; pass e.g. {keep: 1}.');
    condition = typeof o.dropCondition === 'string' ? o.dropCondition : chooseDropCondition(rng, o.dropCondition);
    if (!o.text.yNull) throw new Error('trainingLoss: conditioned frames need text.yNull (the model null caption, STDiT3 y_embedder.y_embedding).');
  }
  let t: number[];
  if (o.sampleSeeds && o.sampleSeeds.length !== B) throw new Error(`trainingLoss: ${o.sampleSeeds.length} sample seeds for a batch of ${B}; pass one per row.`);
  const rowRngs = o.sampleSeeds ? sampleRandoms(o.sampleSeeds, 'flow') : null;
  if (o.t !== undefined) t = o.t instanceof tf.Tensor ? Array.from(o.t.dataSync()) : Array.from(o.t);
  else if (rowRngs) t = rowRngs.map((r) => (o.timeSampler ?? new TimeSampler()).sample(1, r, o.meta)[0]!);
  else t = (o.timeSampler ?? new TimeSampler()).sample(B, rng, o.meta);
  if (t.length !== B) throw new Error(`trainingLoss: ${t.length} timesteps for a batch of ${B}.`);

  const loss = tf.tidy(() => {
    const noise = o.noise ?? (rowRngs ? rowNormalTensor(rowRngs, x0.shape.slice(1)) : rng.normalTensor(x0.shape));
    let y = o.text.y;
    let cond: Tensor;
    let condMask: Tensor;
    let yNull: Tensor | undefined;
    if (conditioned) {
      condMask = conditionMask(x0.shape, maskIndex);
      cond = (o.xNoisyRef ?? x0).mul(condMask);
      yNull = broadcastNull(o.text.yNull!, y);
      if (condition === 'null' || condition === 'text') cond = tf.zerosLike(cond);
      if (condition === 'null' || condition === 'cond') y = yNull;
    } else {
      condMask = tf.zerosLike(x0);
      cond = x0.mul(condMask);
    }
    let xT = addNoise(x0, noise, t, T);
    if (o.frameMask) {
      const [b, , Tf] = x0.shape as [number, number, number];
      const m = o.frameMask.toBool().reshape([b, 1, Tf, 1, 1]);
      xT = tf.where(m, xT, addNoise(x0, noise, new Array(b).fill(0), T));
    }
    const c: ModelConditioning = {
      y,
      mask: o.text.mask,
      xMask: o.frameMask,
      cond,
      condMask,
      maskIndex: [...maskIndex],
      yNull,
      textUncondProb: o.textUncondProb,
      meta: o.meta,
      ...(o.sampleSeeds ? { sampleSeeds: o.sampleSeeds.map((s) => streamSeed(s, 'model')) } : {}),
    };
    const tT = tf.tensor1d(t, 'float32');
    const v = velocityOf(model(xT, tT, c), x0.shape[1]!);
    const err = v.sub((o.xGt ?? x0).sub(noise));
    let sq = err.square();
    if (conditioned) {
      const w = conditionFrameWeights(x0.shape[2]!, maskIndex, o.xCondWeight ?? 1);
      sq = sq.mul(tf.tensor(w, [1, 1, w.length, 1, 1]));
    }
    if (o.returnIntermediates) {
      out.xT = tf.keep(xT);
      out.cond = tf.keep(cond);
      out.condMask = tf.keep(condMask);
      out.y = tf.keep(y.clone());
      if (yNull) out.yNull = tf.keep(yNull);
    }
    const perSample = meanFlat(sq, o.frameMask);
    const Tl = x0.shape[2]!;
    if (!o.temporalDiffWeight || Tl < 2) return perSample;
    const step = err.slice([0, 0, 1], [-1, -1, Tl - 1]).sub(err.slice([0, 0, 0], [-1, -1, Tl - 1]));
    return perSample.add(meanFlat(step.square()).mul(o.temporalDiffWeight));
  });
  out.loss = loss;
  out.t = t;
  if (condition) out.condition = condition;
  return out;
}
