// clip_grad_norm_ over every gradient together (the reference's max_norm=grad_clip): the total
// L2 norm, and when it exceeds max_norm every gradient scaled by max_norm / (norm + 1e-6).
import { tf } from '../tf.js';
import { globalNorm } from './multi-tensor.js';

/** The L2 norm of all gradients together (one kernel call where the backend has 'OpensoraGlobalNorm'). */
export function globalGradNorm(grads: ReadonlyMap<string, tf.Tensor> | readonly tf.Tensor[]): number {
  return globalNorm(Array.isArray(grads) ? grads : [...(grads as ReadonlyMap<string, tf.Tensor>).values()]);
}

/** What clipping multiplies every gradient by: min(1, maxNorm / (norm + 1e-6)); 1 when off or the norm is not finite. */
export function clipCoefficient(norm: number, maxNorm: number | null): number {
  return maxNorm !== null && Number.isFinite(norm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
}

/** Returns the clipped gradients (new tensors; the inputs are left alone) and the norm before clipping. */
export function clipGradNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number | null): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = globalGradNorm(grads);
  const out = new Map<string, tf.Tensor>();
  const coef = clipCoefficient(norm, maxNorm);
  for (const [k, g] of grads) out.set(k, coef < 1 ? tf.mul(g, coef) : g.clone());
  return { grads: out, norm };
}
