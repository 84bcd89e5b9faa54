// kind rflow_sample: the flow package's sampler driving the STDiT3 of the case's weights.
// It lives here because flow never imports stdit; this is the same wiring the sample app does.
import type { ParityRunner } from '@opensora-ts/kernels';
import { runRflowSampleCase } from '@opensora-ts/flow/parity';
import { loadSTDiT3, stdit3ModelFn } from '@opensora-ts/stdit';

export const rflowSample: ParityRunner = async (c) => {
  if (!c.weightsPath) throw new Error(`${c.dir}/case.json: kind rflow_sample needs 'weights' (an STDiT3 state dict).`);
  const model = loadSTDiT3(c.weightsPath, { config: c.json.config as Record<string, unknown> });
  try {
    const fn = stdit3ModelFn(model);
    return await runRflowSampleCase(
      c,
      (x, t, k) =>
        fn(x, t, {
          y: k.y,
          mask: k.mask,
          x_mask: k.xMask,
          fps: [k.meta.fps ?? 24],
          height: [k.meta.height],
          width: [k.meta.width],
          cond: k.cond,
          cond_mask: k.condMask,
          mask_index: k.maskIndex,
          y_null: k.yNull,
        }),
      { yNull: model.yEmbedder.yEmbedding.tensor! },
    );
  } finally {
    model.dispose();
  }
};
