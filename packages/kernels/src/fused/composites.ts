// Reference composites of the fused ops, written with plain tf ops (autograd works through
// them). They define the maths that every fused kernel must reproduce.
import { tf } from '../tf.js';

export interface FusedInputs {
  x: tf.Tensor;
  gamma: tf.Tensor | null;
  beta: tf.Tensor | null;
}

function affine(y: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null): tf.Tensor {
  let out = y;
  if (gamma) out = tf.mul(out, gamma);
  if (beta) out = tf.add(out, beta);
  return out;
}

export function layerNormComposite({ x, gamma, beta }: FusedInputs, { eps }: { eps: number }): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axis, true);
    return affine(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma, beta);
  });
}

export function groupNormComposite({ x, gamma, beta }: FusedInputs, { eps, groups }: { eps: number; groups: number }): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const n = shape[0]!;
    const c = shape[shape.length - 1]!;
    const g = tf.reshape(x, [n, -1, groups, c / groups]);
    const mean = tf.mean(g, [1, 3], true);
    const centered = tf.sub(g, mean);
    const variance = tf.mean(tf.square(centered), [1, 3], true);
    const y = tf.reshape(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), shape);
    return affine(y, gamma, beta);
  });
}

export function rmsNormComposite({ x, gamma }: FusedInputs, { eps }: { eps: number }): tf.Tensor {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), x.rank - 1, true);
    return affine(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), gamma, null);
  });
}

export function geluTanhComposite({ x }: FusedInputs): tf.Tensor {
  return tf.tidy(() => {
    const c = Math.sqrt(2 / Math.PI);
    const inner = tf.mul(c, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}
