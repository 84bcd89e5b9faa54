// Layout helpers for channels-last video tensors [B, T, H, W, C] (tfjs conv3d's NDHWC).
import { tf } from '../tf.js';

/** Causal padding: `timePad` zero frames at the front, `hPad`/`wPad` zeros on both sides. */
export function causalPad3d(x: tf.Tensor5D, timePad: number, hPad: number, wPad: number): tf.Tensor5D {
  if (timePad === 0 && hPad === 0 && wPad === 0) return x.clone();
  return tf.pad(x, [[0, 0], [timePad, 0], [hPad, hPad], [wPad, wPad], [0, 0]]);
}

/** Nearest-neighbour upsampling by integer factors over (T, H, W). */
export function upsampleNearest3d(x: tf.Tensor5D, factors: [number, number, number]): tf.Tensor5D {
  return tf.tidy(() => {
    const [b, t, h, w, c] = x.shape;
    const [ft, fh, fw] = factors;
    const r = tf.reshape(x, [b, t, 1, h, 1, w, 1, c]);
    const tiled = tf.tile(r, [1, 1, ft, 1, fh, 1, fw, 1]);
    return tf.reshape(tiled, [b, t * ft, h * fh, w * fw, c]) as tf.Tensor5D;
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
