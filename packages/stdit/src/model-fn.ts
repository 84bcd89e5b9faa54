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
