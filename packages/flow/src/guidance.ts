// Classifier-free guidance pieces of RFLOW.sample (spec §3.5, §3.6): the oscillation rule, the
// guidance-flaw fix, and the image-guidance ramp over steps and frames.
import { tf, type Tensor } from '@opensora-ts/kernels';
import { linspaceF32 } from './bf16.js';

/** Oscillation guidance: the full scale for the first `forceNum` steps and on even steps after, 1.0 on odd steps after. */
export function oscillationScale(scale: number, step: number, forceNum = 10): number {
  return step < forceNum || step % 2 === 0 ? scale : 1.0;
}

/**
 * The guidance-flaw fix: v·(0.7·k + 0.3) with k = std(cond)/std(v) per sample (unbiased std over
 * every non-batch axis), which pulls the guided velocity's spread back toward the conditional one.
 */
export function fixGuidanceFlaw(v: Tensor, cond: Tensor): Tensor {
  return tf.tidy(() => {
    const axes = Array.from({ length: v.rank - 1 }, (_, i) => i + 1);
    const n = v.size / v.shape[0]!;
    const std = (x: Tensor) => tf.moments(x, axes, true).variance.mul(n / (n - 1)).sqrt();
    const k = std(cond).div(std(v));
    return v.mul(k.mul(0.7).add(Math.fround(1 - 0.7)));
  });
}

/**
 * The image guidance scale of step `step` with `scale_image_weight`: the upper value falls from
 * `scale` to `initialScale` over the steps (linspace), and within a step it rises linearly over the
 * latent frames from `initialScale` (frame 0) to that upper value (last frame). Returns per-frame
 * values (length `frames`), or null when the ramp does not apply (scale <= initialScale).
 */
export function imageGuidanceRamp(scale: number, initialScale: number, step: number, steps: number, frames: number): number[] | null {
  if (!(scale > initialScale)) return null;
  const upper = linspaceF32(scale, initialScale, steps)[step];
  if (upper === undefined) throw new RangeError(`imageGuidanceRamp: step ${step} outside 0..${steps - 1}.`);
  return linspaceF32(initialScale, upper, frames);
}
