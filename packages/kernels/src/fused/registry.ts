// Fused ops are called by kernel name, as tfjs ops are: when the active backend registered a
// kernel under that name (with its gradient), it runs in one pass; otherwise the reference
// composite runs. Both must agree (the op test suite checks it on every backend).
import { tf } from '../tf.js';
import './register.js';
import {
  geluTanhComposite,
  groupNormComposite,
  layerNormComposite,
  rmsNormComposite,
  type FusedInputs,
} from './composites.js';

/** The multi-tensor optimizer kernels (their composites are in optim/composites.ts). */
export type OptimKernelName = 'OpensoraAdamW' | 'OpensoraEmaUpdate' | 'OpensoraGlobalNorm';

/** Fused ops called by their own op functions (ops/), not through runFused. */
export type OwnOpKernelName = 'OpensoraAttention' | 'OpensoraRope' | 'OpensoraLayerNormModulate' | 'OpensoraGatedAdd';

export type FusedKernelName = 'OpensoraLayerNorm' | 'OpensoraGroupNorm' | 'OpensoraRMSNorm' | 'OpensoraGeluTanh' | OwnOpKernelName | OptimKernelName;

/** The fused ops that take {x, gamma, beta} and have a composite here (attention's and RoPE's are their ops in ops/). */
type ElementwiseKernelName = Exclude<FusedKernelName, OwnOpKernelName | OptimKernelName>;

type Attrs = Record<string, number>;

const composites: Record<ElementwiseKernelName, (inputs: FusedInputs, attrs: Attrs) => tf.Tensor> = {
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

export function runFused(name: ElementwiseKernelName, inputs: FusedInputs, attrs: Attrs): tf.Tensor {
  if (!fusedKernelAvailable(name)) return composites[name](inputs, attrs);
  const kernelInputs: Record<string, tf.Tensor> = { x: inputs.x };
  let gamma = inputs.gamma;
  // The gradient saves 'gamma' and tfjs cannot save an absent input: while a tape records,
  // a norm without weight runs with a weight of ones (same result, constant, pruned from backprop).
  const ones = !gamma && name !== 'OpensoraGeluTanh' && tapeRecording() ? tf.ones([inputs.x.shape[inputs.x.rank - 1]!]) : null;
  gamma ??= ones;
  if (gamma) kernelInputs.gamma = gamma;
  if (inputs.beta) kernelInputs.beta = inputs.beta;
  const flags = { hasGamma: gamma ? 1 : 0, hasBeta: inputs.beta ? 1 : 0 };
  const y = tf.engine().runKernel(name, kernelInputs as tf.NamedTensorMap, { ...attrs, ...flags } as unknown as tf.NamedAttrMap) as tf.Tensor;
  ones?.dispose(); // the tape keeps its own copy
  return y;
}

/** Whether tfjs is recording a gradient tape now (engine internals; assume yes if they moved). */
function tapeRecording(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}
