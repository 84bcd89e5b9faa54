// Layout helpers for channels-last video tensors [B, T, H, W, C] (tfjs conv3d's NDHWC).
import { tf } from '../tf.js';

/** Causal padding: `timePad` zero frames at the front, `hPad`/`wPad` zeros on both sides. */
export function causalPad3d(x: tf.Tensor5D, timePad: number, hPad: number, wPad: number): tf.Tensor5D {
  if (timePad === 0 && hPad === 0 && wPad === 0) return x.clone();
  return tf.pad(x, [[0, 0], [timePad, 0], [hPad, hPad], [wPad, wPad], [0, 0]]);
}

/**
 * Nearest-neighbour upsampling by integer factors over (T, H, W). One axis at a time with a
 * rank-4 tile: tfjs has no gradient for tiles of rank > 5, and training needs one.
 */
export function upsampleNearest3d(x: tf.Tensor5D, factors: [number, number, number]): tf.Tensor5D {
  return tf.tidy(() => {
    const [b, t, h, w, c] = x.shape;
    const [ft, fh, fw] = factors;
    // Each step's input (and its reshaped view, which shares its buffer) goes as soon as the next
    // exists, not at the end of the tidy: at a VAE's frame sizes each is hundreds of MB.
    const repeat = (v: tf.Tensor, outer: number, inner: number, f: number) => {
      if (f === 1) return v;
      const rows = tf.reshape(v, [outer, 1, inner]);
      const out = tf.tile(rows, [1, f, 1]);
      rows.dispose();
      if (v !== x) v.dispose();
      return out;
    };
    let y = repeat(x, b * t, h * w * c, ft);
    y = repeat(y, b * t * ft * h, w * c, fh);
    y = repeat(y, b * t * ft * h * fh * w, c, fw);
    return tf.reshape(y, [b, t * ft, h * fh, w * fw, c]) as tf.Tensor5D;
  });
}

/** adaLN modulation: x * (1 + scale) + shift. */
export function modulate(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(x, tf.add(scale, 1)), shift));
}

/** [B, C, T, H, W] (PyTorch) -> [B, T, H, W, C]. */
export function toChannelsLast(x: tf.Tensor): tf.Tensor {
  return tf.transpose(x, [0, 2, 3, 4, 1]);
}

/** [B, T, H, W, C] -> [B, C, T, H, W] (PyTorch). */
export function toChannelsFirst(x: tf.Tensor): tf.Tensor {
  return tf.transpose(x, [0, 4, 1, 2, 3]);
}
