// Wiring only: flow hands a model its conditioning under camelCase names with the video size in
// `meta`; STDiT3 takes the reference's keyword names. This maps one onto the other.
import type { ModelConditioning, ModelFn } from '@opensora-ts/flow';
import type { STDiT3ModelFn } from '@opensora-ts/stdit';

/** A flow `ModelFn` over an STDiT3 model function. */
export function flowModel(fn: STDiT3ModelFn): ModelFn {
  return (x, t, c: ModelConditioning) =>
    fn(x, t, {
      y: c.y,
      mask: c.mask ?? null,
      x_mask: c.xMask ?? null,
      cond: c.cond ?? null,
      cond_mask: c.condMask ?? null,
      mask_index: c.maskIndex ?? null,
      y_null: c.yNull ?? null,
      ...(c.textUncondProb !== undefined ? { text_uncond_prob: c.textUncondProb } : {}),
      fps: c.meta.fps ?? 24,
      height: c.meta.height,
      width: c.meta.width,
    });
}
