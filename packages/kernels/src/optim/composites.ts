// The reference maths of the optimizer step, one tensor at a time with plain tf ops. They define
// what the multi-tensor kernels ('OpensoraAdamW', 'OpensoraEmaUpdate', 'OpensoraGlobalNorm') must
// reproduce, and they run wherever those kernels are not registered. Every scalar is a float32
// operand, as tfjs makes a JS number into one, so the kernels round their constants the same way.
import { tf } from '../tf.js';

/** One AdamW update's constants (from the hyperparameters and the update count). */
export interface AdamWConstants {
  beta1: number;
  beta2: number;
  eps: number;
  lr: number;
  weightDecay: number;
  /** 1-based update count: the bias-correction exponent. */
  step: number;
  /** Gradients are multiplied by this first when it is not 1 (global-norm clipping's coefficient). */
  gradScale: number;
}

/** The JS numbers both paths use: the composite as tf scalars, the kernel as attrs. */
export function adamwScalars(c: AdamWConstants) {
  const bc1 = 1 - c.beta1 ** c.step;
  const bc2 = 1 - c.beta2 ** c.step;
  return {
    beta1: c.beta1,
    oneMinusBeta1: 1 - c.beta1,
    beta2: c.beta2,
    oneMinusBeta2: 1 - c.beta2,
    decay: 1 - c.lr * c.weightDecay,
    hasDecay: c.weightDecay > 0,
    sqrtBc2: Math.sqrt(bc2),
    eps: c.eps,
    stepSize: c.lr / bc1,
    gradScale: c.gradScale,
    hasGradScale: c.gradScale !== 1,
  };
}

/**
 * torch.optim.AdamW's update (decoupled decay, bias correction, eps after sqrt(v)/sqrt(bc2)):
 * returns [p', m', v'] (the caller assigns and disposes them).
 */
export function adamwComposite(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, c: AdamWConstants): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const s = adamwScalars(c);
  return tf.tidy(() => {
    const gs = s.hasGradScale ? tf.mul(g, s.gradScale) : g;
    const m1 = m.mul(s.beta1).add(gs.mul(s.oneMinusBeta1));
    const v1 = v.mul(s.beta2).add(gs.square().mul(s.oneMinusBeta2));
    const decayed = s.hasDecay ? p.mul(s.decay) : p;
    const denom = v1.sqrt().div(s.sqrtBc2).add(s.eps);
    return [decayed.sub(m1.div(denom).mul(s.stepSize)), m1, v1];
  });
}

/** ema*decay + param*(1 - decay): the reference's update_ema. */
export function emaComposite(ema: tf.Tensor, param: tf.Tensor, decay: number): tf.Tensor {
  return tf.tidy(() => ema.mul(decay).add(param.mul(1 - decay)));
}

/** sqrt(sum_i sum(x_i^2)): clip_grad_norm_'s total norm (0 for no tensors). */
export function globalNormComposite(xs: readonly tf.Tensor[]): tf.Scalar {
  if (!xs.length) return tf.scalar(0);
  return tf.tidy(() => tf.addN(xs.map((g) => g.square().sum())).sqrt() as tf.Scalar);
}
