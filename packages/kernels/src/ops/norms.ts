// Normalisations over the last (channel) axis. Each calls a fused kernel by name
// (see ../fused) so a backend can run it in one pass with its own gradient.
import { tf } from '../tf.js';
import { runFused } from '../fused/registry.js';

/** LayerNorm over the last axis; gamma/beta [C] or absent (elementwise_affine=False). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, eps: number): tf.Tensor {
  return runFused('OpensoraLayerNorm', { x, gamma, beta }, { eps });
}

/**
 * GroupNorm on channels-last input [N, ...spatial, C]: statistics over (spatial, C/groups)
 * per sample and group, as torch.nn.GroupNorm on the channels-first tensor.
 */
export function groupNorm(x: tf.Tensor, groups: number, gamma: tf.Tensor | null, beta: tf.Tensor | null, eps: number): tf.Tensor {
  const c = x.shape[x.rank - 1]!;
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels do not split into ${groups} groups`);
  return runFused('OpensoraGroupNorm', { x, gamma, beta }, { eps, groups });
}

/** RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor | null, eps: number): tf.Tensor {
  return runFused('OpensoraRMSNorm', { x, gamma: weight, beta: null }, { eps });
}
