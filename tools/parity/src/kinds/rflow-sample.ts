// kind rflow_sample: the flow package's sampler driving the STDiT3 of the case's weights.
// It lives here because flow never imports stdit; this is the same wiring the sample app does.
import type { ParityRunner } from '@opensora-ts/kernels';
import { runRflowSampleCase } from '@opensora-ts/flow/parity';
import { loadSTDiT3, stdit3FlowModelFn } from '@opensora-ts/stdit';

export const rflowSample: ParityRunner = async (c) => {
  if (!c.weightsPath) throw new Error(`${c.dir}/case.json: kind rflow_sample needs 'weights' (an STDiT3 state dict).`);
  const model = loadSTDiT3(c.weightsPath, { config: c.json.config as Record<string, unknown> });
  try {
    return await runRflowSampleCase(
      c,
      stdit3FlowModelFn(model),
      { yNull: model.yEmbedder.yEmbedding.tensor! },
    );
  } finally {
    model.dispose();
  }
};
