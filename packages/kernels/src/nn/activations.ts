import { tf } from '../tf.js';
import { Module } from './module.js';
import { geluTanh, silu } from '../ops/activations.js';

export class SiLU extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return silu(x);
  }
}

/** GELU with the tanh approximation (what STDiT3's MLP uses). */
export class GELU extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return geluTanh(x);
  }
}

/** Dropout: active only in training mode with p > 0. */
export class Dropout extends Module {
  constructor(readonly p = 0) {
    super();
  }
  forward(x: tf.Tensor, seed?: number): tf.Tensor {
    if (!this.training || this.p === 0) return x;
    return tf.dropout(x, this.p, undefined, seed);
  }
}
