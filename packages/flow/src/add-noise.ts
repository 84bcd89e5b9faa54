// The rectified-flow forward process x_t = (1 - t/T)·x0 + (t/T)·ε, one t per batch row.
import { tf, type Tensor } from '@opensora-ts/kernels';

/** Timesteps as host numbers (they are per-row scalars; reading a tensor is cheap). */
export function timestepValues(t: Tensor | ArrayLike<number>): number[] {
  return t instanceof tf.Tensor ? Array.from(t.dataSync()) : Array.from(t);
}

/**
 * add_noise with the reference's float32 rounding order: a = 1 - t/T, then a·x0 + (1 - a)·ε.
 * `t` has one value per row of x0 (or a single value for every row).
 */
export function addNoise(x0: Tensor, noise: Tensor, t: Tensor | ArrayLike<number>, numTimesteps = 1000): Tensor {
  const ts = timestepValues(t);
  const B = x0.shape[0]!;
  if (ts.length !== B && ts.length !== 1) throw new Error(`addNoise: ${ts.length} timesteps for a batch of ${B}; pass one per row.`);
  if (!x0.shape.every((d, i) => d === noise.shape[i]) || x0.rank !== noise.rank) {
    throw new Error(`addNoise: noise shape [${noise.shape}] differs from x0 shape [${x0.shape}].`);
  }
  const a = ts.map((v) => Math.fround(1 - Math.fround(Math.fround(v) / numTimesteps)));
  const bShape = [a.length, ...new Array(x0.rank - 1).fill(1)];
  return tf.tidy(() => {
    const at = tf.tensor(a, bShape, 'float32');
    const bt = tf.tensor(a.map((v) => Math.fround(1 - v)), bShape, 'float32');
    return at.mul(x0).add(bt.mul(noise));
  });
}
