// Gradient checks by central finite differences. The loss is sum(w * f(xs)) for a fixed random
// w, summed in float64 on the host so float32 rounding of the sum does not swamp the difference
// quotient; tfjs's gradient is taken with dy = w. Use small tensors and well-scaled inputs.
import { tf } from '../tf.js';
import { expectClose } from './assert.js';
import { normalArray } from './random.js';

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-2, for float32). */
  eps?: number;
  rtol?: number;
  /** Absolute slack, as a fraction of the largest gradient entry (at least 1). */
  atol?: number;
  /** Check only these inputs (indices); default all. */
  inputs?: number[];
  seed?: number;
  what?: string;
}

/** Analytic gradients of sum(w * f(xs)) with respect to each x, via tf.grads. */
export function analyticGradients(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], w: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const grads = tf.grads((...args: tf.Tensor[]) => f(...args))(xs, w);
    return grads.map((g) => g.dataSync() as Float32Array).map((a) => Float32Array.from(a));
  });
}

/** Central differences of sum(w * f(xs)) for input `index`. */
export function numericGradient(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], w: Float32Array, index: number, eps: number): Float64Array {
  const x = xs[index]!;
  const base = Float64Array.from(x.dataSync());
  const out = new Float64Array(base.length);
  const loss = (values: Float64Array): number =>
    tf.tidy(() => {
      const args = xs.slice();
      args[index] = tf.tensor(Float32Array.from(values), x.shape);
      const y = f(...args).dataSync();
      let s = 0;
      for (let i = 0; i < y.length; i++) s += w[i]! * y[i]!;
      return s;
    });
  const probe = base.slice();
  for (let i = 0; i < base.length; i++) {
    // The step actually taken after float32 rounding, so the quotient divides by the truth.
    const up = Math.fround(base[i]! + eps);
    const down = Math.fround(base[i]! - eps);
    probe[i] = up;
    const lu = loss(probe);
    probe[i] = down;
    const ld = loss(probe);
    probe[i] = base[i]!;
    out[i] = (lu - ld) / (up - down);
  }
  return out;
}

/** Throws unless tf's gradients of f match central differences for every (chosen) input. */
export function checkGradients(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], options: GradCheckOptions = {}): void {
  const { eps = 1e-2, rtol = 1e-2, atol = 1e-3, seed = 1234, what = 'gradient' } = options;
  const outShape = tf.tidy(() => f(...xs).shape);
  const wValues = normalArray(outShape.reduce((a, b) => a * b, 1), seed);
  const w = tf.tensor(wValues, outShape);
  try {
    const analytic = analyticGradients(f, xs, w);
    for (const i of options.inputs ?? xs.map((_, k) => k)) {
      const numeric = numericGradient(f, xs, wValues, i, eps);
      // atol is relative to the largest gradient entry: FD noise scales with the loss.
      let scale = 1;
      for (const v of numeric) scale = Math.max(scale, Math.abs(v));
      expectClose(analytic[i]!, numeric, { rtol, atol: atol * scale, what: `${what} of input ${i}` });
    }
  } finally {
    w.dispose();
  }
}
