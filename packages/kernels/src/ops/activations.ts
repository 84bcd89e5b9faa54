import { tf } from '../tf.js';
import { runFused } from '../fused/registry.js';

/** GELU, tanh approximation (PyTorch `approximate="tanh"`), as a fused kernel with its own gradient. */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return runFused('OpensoraGeluTanh', { x, gamma: null, beta: null }, {});
}

/** SiLU: x * sigmoid(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}
