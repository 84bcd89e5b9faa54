import { tf } from '../tf.js';
import { fusedKernelAvailable } from '../fused/registry.js';
import { fusedAttention } from '../fused/attention.js';

export interface AttentionOptions {
  /**
   * Key-padding mask [B, Nk] (1/true = attend, 0/false = ignore) or [B*, Nq, Nk] additive-free
   * boolean mask; broadcast over heads. Masked keys get -inf before the softmax.
   */
  keyMask?: tf.Tensor | null;
  /** Causal mask over query/key positions (query i sees keys j <= i). */
  causal?: boolean;
  /** Score scale; defaults to 1/sqrt(head_dim). */
  scale?: number;
}

/**
 * softmax(q k^T * scale + mask) v for q [B, H, Nq, D], k/v [B, H, Nk, D]. Scores and softmax are
 * float32 (the reference casts to fp32 for the mask add and softmax).
 */
export function scaledDotProductAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: AttentionOptions = {}): tf.Tensor4D {
  // One pass per query row with its own gradient where the backend has the kernel (cpu, native).
  if (fusedKernelAvailable('OpensoraAttention')) return fusedAttention(q, k, v, options);
  return tf.tidy(() => {
    const [b, h, nq, d] = q.shape;
    const nk = k.shape[2];
    const scale = options.scale ?? 1 / Math.sqrt(d);
    const q3 = tf.reshape(tf.mul(q, scale), [b * h, nq, d]);
    const k3 = tf.reshape(k, [b * h, nk, d]);
    const v3 = tf.reshape(v, [b * h, nk, v.shape[3]]);
    let scores: tf.Tensor = tf.reshape(tf.matMul(q3, k3, false, true), [b, h, nq, nk]);
    const bias = attentionBias(options, b, nq, nk);
    if (bias) scores = tf.add(scores, bias);
    const probs = tf.reshape(tf.softmax(scores), [b * h, nq, nk]);
    return tf.reshape(tf.matMul(probs, v3), [b, h, nq, v.shape[3]]) as tf.Tensor4D;
  });
}

/** Additive bias [B|1, 1, Nq|1, Nk] with -inf where attention is not allowed, or null. */
export function attentionBias(options: AttentionOptions, b: number, nq: number, nk: number): tf.Tensor | null {
  let bias: tf.Tensor | null = null;
  const NEG = -Infinity;
  if (options.keyMask) {
    const m = options.keyMask;
    const allowed = tf.cast(m, 'bool');
    const shaped = m.rank === 2 ? tf.reshape(allowed, [m.shape[0]!, 1, 1, nk]) : tf.reshape(allowed, [m.shape[0]!, 1, nq, nk]);
    bias = tf.where(shaped, tf.zeros([1]), tf.fill([1], NEG));
  }
  if (options.causal) {
    const causal = tf.linalg.bandPart(tf.ones([nq, nk]), -1, 0);
    const cb = tf.reshape(tf.where(tf.cast(causal, 'bool'), tf.zeros([1]), tf.fill([1], NEG)), [1, 1, nq, nk]);
    bias = bias ? tf.add(bias, cb) : cb;
  }
  void b;
  return bias;
}
