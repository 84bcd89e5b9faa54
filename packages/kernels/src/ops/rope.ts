// Rotary embedding on interleaved pairs: (x_{2j}, x_{2j+1}) -> (x_{2j} cos - x_{2j+1} sin,
// x_{2j+1} cos + x_{2j} sin), angle = position * freq_j. Positions may be scaled per axis
// (Open-Sora 1.3 divides h/w positions by the resolution scale).
import { tf } from '../tf.js';
import { fusedKernelAvailable } from '../fused/registry.js';
import { fusedRope } from '../fused/rope.js';

/** freq_j = theta^(-2j/dim), j = 0..dim/2-1 (rotary-embedding-torch's 'lang' frequencies). */
export function ropeFrequencies(dim: number, theta = 10000): Float32Array {
  const f = new Float32Array(dim / 2);
  for (let j = 0; j < dim / 2; j++) f[j] = 1 / theta ** ((2 * j) / dim);
  return f;
}

/**
 * Angles [N, dim] (each pair's angle repeated twice, as the reference's freqs tensor) for the
 * given positions. Products are formed in float32, as the reference does in fp32.
 */
export function ropeAngles(positions: ArrayLike<number>, freqs: Float32Array): Float32Array {
  const n = positions.length;
  const d = freqs.length * 2;
  const out = new Float32Array(n * d);
  const p32 = Float32Array.from(positions);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < freqs.length; j++) {
      const a = Math.fround(p32[i]! * freqs[j]!);
      out[i * d + 2 * j] = a;
      out[i * d + 2 * j + 1] = a;
    }
  }
  return out;
}

/**
 * Applies rotary embedding to the first `angles` width of x's last axis; x [..., N, D] and
 * angles [N, R] with R <= D (channels past R pass through).
 */
export function applyRotary(x: tf.Tensor, angles: tf.Tensor2D): tf.Tensor {
  // One pass with its own gradient where the backend has the kernel (native), for float32.
  if (x.dtype === 'float32' && angles.dtype === 'float32' && fusedKernelAvailable('OpensoraRope')) return fusedRope(x, angles);
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1]!;
    const r = angles.shape[1];
    const rot = r === d ? x : tf.slice(x, new Array(x.rank).fill(0), [...x.shape.slice(0, -1), r]);
    const cos = tf.cos(angles);
    const sin = tf.sin(angles);
    // rotate_half on interleaved pairs: (a, b) -> (-b, a)
    const pairs = tf.reshape(rot, [...rot.shape.slice(0, -1), r / 2, 2]);
    const [a, b] = tf.split(pairs, 2, -1) as [tf.Tensor, tf.Tensor];
    const half = tf.reshape(tf.concat([tf.neg(b), a], -1), rot.shape);
    const out = tf.add(tf.mul(rot, cos), tf.mul(half, sin));
    if (r === d) return out;
    const rest = tf.slice(x, [...new Array(x.rank - 1).fill(0), r], [...x.shape.slice(0, -1), d - r]);
    return tf.concat([out, rest], -1);
  });
}
