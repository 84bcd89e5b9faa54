// Fused ops are called by kernel name, as tfjs ops are: when the active backend registered a
// kernel under that name (with its gradient), it runs in one pass; otherwise the reference
// composite runs. Both must agree (the op test suite checks it on every backend).
import { tf } from '../tf.js';
import {
  geluTanhComposite,
  groupNormComposite,
  layerNormComposite,
  rmsNormComposite,
  type FusedInputs,
} from './composites.js';

export type FusedKernelName = 'OpensoraLayerNorm' | 'OpensoraGroupNorm' | 'OpensoraRMSNorm' | 'OpensoraGeluTanh';

type Attrs = Record<string, number>;

const composites: Record<FusedKernelName, (inputs: FusedInputs, attrs: Attrs) => tf.Tensor> = {
  OpensoraLayerNorm: (i, a) => layerNormComposite(i, a as { eps: number }),
  OpensoraGroupNorm: (i, a) => groupNormComposite(i, a as { eps: number; groups: number }),
  OpensoraRMSNorm: (i, a) => rmsNormComposite(i, a as { eps: number }),
  OpensoraGeluTanh: (i) => geluTanhComposite(i),
};

let forceComposite = false;

/** Runs every fused op through its composite (tests compare the two paths). */
export function setFusedKernelsEnabled(enabled: boolean): void {
  forceComposite = !enabled;
}

export function fusedKernelAvailable(name: FusedKernelName): boolean {
  return !forceComposite && tf.getKernel(name, tf.getBackend()) !== undefined;
}

export function runFused(name: FusedKernelName, inputs: FusedInputs, attrs: Attrs): tf.Tensor {
  if (!fusedKernelAvailable(name)) return composites[name](inputs, attrs);
  const kernelInputs: Record<string, tf.Tensor> = { x: inputs.x };
  if (inputs.gamma) kernelInputs.gamma = inputs.gamma;
  if (inputs.beta) kernelInputs.beta = inputs.beta;
  const flags = { hasGamma: inputs.gamma ? 1 : 0, hasBeta: inputs.beta ? 1 : 0 };
  return tf.engine().runKernel(name, kernelInputs as tf.NamedTensorMap, { ...attrs, ...flags } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
