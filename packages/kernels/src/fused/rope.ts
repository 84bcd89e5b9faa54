// applyRotary through the 'OpensoraRope' kernel: one pass instead of the composite's cos, sin,
// split, neg, concat, two products and a sum (and as many again in the backward). Contract:
//   forward  'OpensoraRope'     inputs {x [..., N, D], angles [N, R]} (R even, R <= D) -> x's shape
//   backward 'OpensoraRopeGrad' inputs {dy, angles} -> dx
// with the composite's float32 steps (ops/rope.ts): cos/sin of each angle entry, then
// y_2j = x_2j cos_2j + (-x_2j+1) sin_2j, y_2j+1 = x_2j+1 cos_2j+1 + x_2j sin_2j+1. Only the native
// backend registers it (no cpu kernel: the composite is the reference, and a cpu kernel would
// become a host round trip on backends that mirror cpu's kernel list, as torch does).
import { tf } from '../tf.js';

export function fusedRope(x: tf.Tensor, angles: tf.Tensor2D): tf.Tensor {
  return tf.engine().runKernel('OpensoraRope', { x, angles }, {}) as tf.Tensor;
}

/**
 * The angles' gradient of y = rope(x, angles): each output entry e depends on its own angle entry,
 * dy_e (half_e cos_e - x_e sin_e) with half = (-x_2j+1, x_2j) pairs, summed over the leading axes.
 * Only computed when something differentiates through the angles (tfjs prunes it otherwise).
 */
export function ropeAnglesGrad(dy: tf.Tensor, x: tf.Tensor, angles: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const [n, r] = angles.shape;
    const d = x.shape[x.rank - 1]!;
    const rot = r === d ? x : tf.slice(x, new Array(x.rank).fill(0), [...x.shape.slice(0, -1), r]);
    const g = r === d ? dy : tf.slice(dy, new Array(dy.rank).fill(0), [...dy.shape.slice(0, -1), r]);
    const pairs = tf.reshape(rot, [...rot.shape.slice(0, -1), r / 2, 2]);
    const [a, b] = tf.split(pairs, 2, -1) as [tf.Tensor, tf.Tensor];
    const half = tf.reshape(tf.concat([tf.neg(b), a], -1), rot.shape);
    const per = tf.sub(tf.mul(half, tf.cos(angles)), tf.mul(rot, tf.sin(angles)));
    return tf.reshape(tf.sum(tf.reshape(tf.mul(g, per), [-1, n, r]), 0), [n, r]);
  });
}
