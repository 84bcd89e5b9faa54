// adaLN modulation after a LayerNorm, and the gated residual, as single kernels where the backend
// has them (native): 'OpensoraLayerNormModulate' replaces LayerNorm -> Add(scale, 1) -> Multiply
// -> Add (and their backward: the norm's, two products, two broadcast sums), 'OpensoraGatedAdd'
// replaces Multiply -> Add. The composites below are the reference maths. Kernel contract (the
// native backend implements it; no cpu kernel, as for RoPE):
//   forward  'OpensoraLayerNormModulate'     {x, shift [G, C], scale [G, C]} attrs {eps, groups} -> x's shape
//   backward 'OpensoraLayerNormModulateGrad' {dy, x, scale}, same attrs -> [dx, dshift, dscale]
//   forward  'OpensoraGatedAdd'              {x, gate [G, C], y} attrs {groups} -> x + gate * y
//   backward 'OpensoraGatedAddGrad'          {dy, gate, y}, same attrs -> [dy * gate, dgate]
// x (and y) hold G groups of whole rows of C channels, row-major: group g's rows share row g of
// the per-channel tensors (which keep their own shapes, e.g. [B, 1, 1, C] against x [B, T, S, C]).
import { tf } from '../tf.js';
import { layerNorm } from '../ops/norms.js';

/** LN(x) * (1 + scale) + shift with tf ops (LayerNorm without affine). */
export function layerNormModulateComposite(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(layerNorm(x, null, null, eps), tf.add(scale, 1)), shift));
}

/** x + gate * y with tf ops. */
export function gatedAddComposite(x: tf.Tensor, gate: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(x, tf.mul(gate, y)));
}

/**
 * How many groups of rows of `x` a per-channel tensor of shape `p` selects by broadcasting: p
 * (right-aligned to x's rank) must equal x on some leading axes, be 1 on the axes after them and
 * C on the last. null for any other broadcast (the composite handles it).
 */
export function rowGroups(x: readonly number[], p: readonly number[]): number | null {
  const r = x.length;
  if (r === 0 || p.length > r) return null;
  const q = [...new Array<number>(r - p.length).fill(1), ...p];
  if (q[r - 1] !== x[r - 1]) return null;
  let k = 0;
  while (k < r - 1 && q[k] === x[k]) k++;
  for (let i = k; i < r - 1; i++) if (q[i] !== 1) return null;
  return x.slice(0, k).reduce((a, d) => a * d, 1);
}

export function fusedLayerNormModulate(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor, eps: number, groups: number): tf.Tensor {
  return tf.engine().runKernel('OpensoraLayerNormModulate', { x, shift, scale }, { eps, groups }) as tf.Tensor;
}

export function fusedGatedAdd(x: tf.Tensor, gate: tf.Tensor, y: tf.Tensor, groups: number): tf.Tensor {
  return tf.engine().runKernel('OpensoraGatedAdd', { x, gate, y }, { groups }) as tf.Tensor;
}
