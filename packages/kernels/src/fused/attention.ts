// scaledDotProductAttention through the 'OpensoraAttention' kernel: the options become one
// float32 mask input (all ones when nothing is masked, so the gradient can always save it).
import { tf } from '../tf.js';

export interface FusedAttentionOptions {
  keyMask?: tf.Tensor | null;
  causal?: boolean;
  scale?: number;
}

export function fusedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: FusedAttentionOptions): tf.Tensor4D {
  const [b, , nq, d] = q.shape;
  const nk = k.shape[2];
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const m = options.keyMask;
  if (m && m.rank !== 2 && m.rank !== 3) {
    throw new Error(`scaledDotProductAttention: keyMask has shape [${m.shape.join(',')}], expected [B, Nk] or [B, Nq, Nk] (B=${b}, Nq=${nq}, Nk=${nk})`);
  }
  const mask = m ? tf.cast(m, 'float32') : tf.ones([1, nk]);
  try {
    return tf.engine().runKernel('OpensoraAttention', { q, k, v, mask }, { scale, causal: options.causal ? 1 : 0 }) as tf.Tensor4D;
  } finally {
    mask.dispose(); // the tape keeps its own copy
  }
}
