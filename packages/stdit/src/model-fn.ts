// The model as a plain function for samplers and training loops: (x, t, cond) => output. The
// flow package takes such a function and never imports this package; an app wires the two.
import { tf } from '@opensora-ts/kernels';
import type { STDiT3, STDiT3Inputs } from './stdit3.js';

/** Everything of a model call besides x and t, with the reference's keyword names (RFLOW's model_args). */
export type STDiT3Conditioning = Omit<STDiT3Inputs, 'x' | 'timestep'>;

/** (x [B, C, T, H, W], t [B] in [0, 1000], cond) => [B, out_channels, T, H, W]; the caller owns the result. */
export type STDiT3ModelFn = (x: tf.Tensor, t: tf.Tensor | ArrayLike<number>, cond: STDiT3Conditioning) => tf.Tensor;

export interface ModelFnOptions {
  /** Return only the first in_channels output channels (the velocity); default false (as the reference returns both halves). */
  velocityOnly?: boolean;
}

export function stdit3ModelFn(model: STDiT3, options: ModelFnOptions = {}): STDiT3ModelFn {
  const inC = model.config.in_channels;
  return (x, t, cond) =>
    tf.tidy(() => {
      const out = model.forward({ ...cond, x, timestep: t });
      if (!options.velocityOnly || out.shape[1] === inC) return out;
      const [b, , tt, h, w] = out.shape;
      return tf.slice(out, [0, 0, 0, 0, 0], [b, inC, tt, h, w]);
    });
}

/**
 * The conditioning as the flow package hands it to a model: camelCase names, the video's pixel
 * size in `meta`. Declared here by shape (flow's `ModelConditioning` fits it), so neither package
 * imports the other.
 */
export interface FlowConditioning {
  y: tf.Tensor;
  mask?: tf.Tensor;
  xMask?: tf.Tensor;
  cond?: tf.Tensor;
  condMask?: tf.Tensor;
  maskIndex?: number[];
  yNull?: tf.Tensor;
  textUncondProb?: number;
  /** Per-sample seeds of the model's training draws (flow's per-sample streams). */
  sampleSeeds?: number[];
  meta: { height: number; width: number; fps?: number };
}

/** A model function in flow's shape (`ModelFn`): (x, t, conditioning) => output; the caller owns the result. */
export type STDiT3FlowModelFn = (x: tf.Tensor, t: tf.Tensor, cond: FlowConditioning) => tf.Tensor;

export interface FlowModelFnOptions extends ModelFnOptions {
  /** fps when `meta.fps` is absent; default 24 (the reference's video fps). */
  fps?: number;
}

/**
 * STDiT3 as flow's model function (samplers, `trainingLoss`, eval loss): maps flow's names onto the
 * reference's. Caption dropout and drop path follow the model's train/eval mode.
 */
export function stdit3FlowModelFn(model: STDiT3, options: FlowModelFnOptions = {}): STDiT3FlowModelFn {
  const fn = stdit3ModelFn(model, options);
  const defaultFps = options.fps ?? 24;
  return (x, t, c) =>
    fn(x, t, {
      y: c.y,
      mask: c.mask ?? null,
      x_mask: c.xMask ?? null,
      cond: c.cond ?? null,
      cond_mask: c.condMask ?? null,
      mask_index: c.maskIndex ?? null,
      y_null: c.yNull ?? null,
      ...(c.textUncondProb !== undefined ? { text_uncond_prob: c.textUncondProb } : {}),
      ...(c.sampleSeeds ? { sample_seeds: c.sampleSeeds } : {}),
      fps: c.meta.fps ?? defaultFps,
      height: c.meta.height,
      width: c.meta.width,
    });
}
