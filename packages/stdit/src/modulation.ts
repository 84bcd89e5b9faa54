// adaLN-single: each block adds its own `scale_shift_table` [k, C] to the shared t_mlp
// [B, k*C]. With a frame mask (x_mask [B, T]), frames whose mask is false take the parameters
// computed from the timestep-0 embedding instead. Selecting the parameters per frame equals the
// reference's select-after-modulate (elementwise ops commute with the selection).
import { tf } from '@opensora-ts/kernels';

/**
 * `t` is [B, k*C] (one row per table row) or [B, C] (added to every row). Returns k tensors [B, T|1, 1, C] broadcastable over x viewed as [B, T, S, C]. `t0` and
 * `xMask` (bool [B, T]) are both given or both null.
 */
export function modulationParams(table: tf.Tensor, t: tf.Tensor, t0: tf.Tensor | null, xMask: tf.Tensor | null, frames: number): tf.Tensor[] {
  return tf.tidy(() => {
    const [k, c] = table.shape as [number, number];
    const b = t.shape[0]!;
    // t_mlp [B, k*C] gives one row per table row; the final layer's t [B, C] is shared by its rows.
    const rows = t.size === b * c ? 1 : k;
    const split = (emb: tf.Tensor) => tf.split(tf.add(tf.expandDims(table, 0), tf.reshape(emb, [b, rows, c])), k, 1).map((p) => tf.reshape(p, [b, 1, 1, c]));
    const base = split(t);
    if (!t0 || !xMask) return base;
    const zero = split(t0);
    const shape = [b, frames, 1, c];
    const cond = tf.broadcastTo(tf.reshape(xMask, [b, frames, 1, 1]), shape);
    return base.map((p, i) => tf.where(cond, tf.broadcastTo(p, shape), tf.broadcastTo(zero[i]!, shape)));
  });
}

/** t2i_modulate: x * (1 + scale) + shift. */
export function t2iModulate(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(x, tf.add(scale, 1)), shift));
}
