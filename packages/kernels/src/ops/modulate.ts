// STDiT3's adaLN pieces: the modulated LayerNorm and the gated residual. Each runs as one fused
// kernel with its own gradient where the backend has it (native) and the inputs fit its layout
// (float32; per-channel tensors that select groups of whole rows, see fused/modulate.ts);
// otherwise as the composite of tf ops, which is the reference maths.
import { tf } from '../tf.js';
import { fusedKernelAvailable } from '../fused/registry.js';
import { fusedGatedAdd, fusedLayerNormModulate, gatedAddComposite, layerNormModulateComposite, rowGroups } from '../fused/modulate.js';

const f32 = (...ts: tf.Tensor[]) => ts.every((t) => t.dtype === 'float32');
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** t2i_modulate(LayerNorm(x), shift, scale) = LN(x) * (1 + scale) + shift, LN over the last axis without affine. */
export function layerNormModulate(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor, eps: number): tf.Tensor {
  const groups = sameShape(shift.shape, scale.shape) ? rowGroups(x.shape, scale.shape) : null;
  if (groups !== null && f32(x, shift, scale) && fusedKernelAvailable('OpensoraLayerNormModulate')) return fusedLayerNormModulate(x, shift, scale, eps, groups);
  return layerNormModulateComposite(x, shift, scale, eps);
}

/** x + gate * y (x and y of one shape, gate broadcast over them). */
export function gatedAdd(x: tf.Tensor, gate: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const groups = sameShape(x.shape, y.shape) ? rowGroups(x.shape, gate.shape) : null;
  if (groups !== null && f32(x, gate, y) && fusedKernelAvailable('OpensoraGatedAdd')) return fusedGatedAdd(x, gate, y, groups);
  return gatedAddComposite(x, gate, y);
}
