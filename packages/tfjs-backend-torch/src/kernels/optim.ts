// The multi-tensor optimizer kernels of @opensora-ts/kernels (its src/optim: AdamW, the EMA
// update and the global gradient norm), each one addon call over every parameter of a model
// (csrc/ops/optim.cc) instead of ~10 tfjs ops and their scalar uploads per parameter. With
// attr inPlace, an updated tensor is written over its input's storage when nothing else refers
// to it: this backend's refCount is 1 (only the variable being updated holds it) and it appears
// once among the inputs; the addon also checks that no other libtorch tensor shares the storage.
import type * as tf from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../backend.js';
import type { OpAttrs } from '../addon.js';
import { inputList, kernel, type Args, type TorchKernel } from './util.js';

/** Per-input in-place flags for the inputs at `updated` (indices into the input list). */
function inPlaceFlags(b: TorchBackend, inputs: tf.TensorInfo[], updated: number[]): number[] {
  const seen = new Map<tf.DataId, number>();
  for (const t of inputs) seen.set(t.dataId, (seen.get(t.dataId) ?? 0) + 1);
  return updated.map((i) => (seen.get(inputs[i]!.dataId) === 1 && b.refCount(inputs[i]!.dataId) === 1 ? 1 : 0));
}

/** The attrs as given, plus the per-tensor flags when inPlace is set. */
function attrsWith(a: Args, flags: () => number[]): OpAttrs {
  const attrs = { ...(a.attrs as OpAttrs | undefined) };
  if (attrs.inPlace) attrs.inPlaceEach = flags();
  return attrs;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

export const optimKernels: TorchKernel[] = [
  kernel('OpensoraAdamW', (b, a) => {
    const inputs = inputList(a);
    const n = inputs.length / 4;
    // Updated: p (group 0), m (group 2), v (group 3); g (group 1) is only read.
    return b.runOp('OpensoraAdamW', inputs, attrsWith(a, () => inPlaceFlags(b, inputs, [...range(0, n), ...range(2 * n, 4 * n)])));
  }),
  kernel('OpensoraEmaUpdate', (b, a) => {
    const inputs = inputList(a);
    return b.runOp('OpensoraEmaUpdate', inputs, attrsWith(a, () => inPlaceFlags(b, inputs, range(0, inputs.length / 2))));
  }),
  kernel('OpensoraGlobalNorm', (b, a) => b.run1('OpensoraGlobalNorm', inputList(a))),
];
