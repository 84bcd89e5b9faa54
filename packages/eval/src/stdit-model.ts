// Wiring STDiT3 into the flow package's model interface: flow hands the model camelCase
// conditioning with the video size in `meta`; STDiT3 takes the reference's keyword names.
import type { ModelConditioning, ModelFn } from '@opensora-ts/flow';
import { stdit3ModelFn, type STDiT3 } from '@opensora-ts/stdit';

/** A flow `ModelFn` over an STDiT3 model (in eval mode: no caption dropout, no drop path). */
export function stditFlowModel(model: STDiT3): ModelFn {
  model.train(false);
  const fn = stdit3ModelFn(model);
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
