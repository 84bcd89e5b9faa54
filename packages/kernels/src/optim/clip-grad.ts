// clip_grad_norm_ over every gradient together (the reference's max_norm=grad_clip): the total
// L2 norm, and when it exceeds max_norm every gradient scaled by max_norm / (norm + 1e-6).
import { tf } from '../tf.js';

/** Returns the clipped gradients (new tensors; the inputs are left alone) and the norm before clipping. */
export function clipGradNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number | null): { grads: Map<string, tf.Tensor>; norm: number } {
  const list = [...grads.values()];
  const norm = list.length ? tf.tidy(() => tf.addN(list.map((g) => g.square().sum())).sqrt().dataSync()[0]!) : 0;
  const out = new Map<string, tf.Tensor>();
  const coef = maxNorm !== null && Number.isFinite(norm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  for (const [k, g] of grads) out.set(k, coef < 1 ? tf.mul(g, coef) : g.clone());
  return { grads: out, norm };
}
