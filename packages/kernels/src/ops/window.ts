// Window ("kernel") partition for STDiT3's temporal blocks: [B, H, W, T, C] is right-padded
// with zeros to multiples of the window, split H-window major / W-window minor, and window w
// of sample b goes to row w*B + b. Each window flattens (h_local, w_local, t).
import { tf } from '../tf.js';

export interface WindowLayout {
  b: number;
  h: number;
  w: number;
  t: number;
  c: number;
  kh: number;
  kw: number;
  /** Padded sizes. */
  hp: number;
  wp: number;
  /** Zeros added before H and W (half-window shift); 0 when unshifted. */
  shiftH: number;
  shiftW: number;
}

export interface WindowPartition {
  /** [nWindows*B, kh*kw*T, C] */
  windows: tf.Tensor3D;
  /** [nWindows*B, kh*kw*T]; 1 where the token is real, 0 where it is padding. */
  keyMask: tf.Tensor2D;
  layout: WindowLayout;
}

export interface WindowOptions {
  /** Swin-style shift: pad (k//2 before, k - k//2 after) on H and W (the report's option; off in 1.3). */
  shift?: boolean;
}

export function windowPartition(x: tf.Tensor, kernel: [number, number], options: WindowOptions = {}): WindowPartition {
  const [b, h, w, t, c] = x.shape as [number, number, number, number, number];
  const kh = kernel[0] < 0 ? h : kernel[0];
  const kw = kernel[1] < 0 ? w : kernel[1];
  const shiftH = options.shift ? Math.floor(kh / 2) : 0;
  const shiftW = options.shift ? Math.floor(kw / 2) : 0;
  const hp = Math.ceil((h + shiftH) / kh) * kh;
  const wp = Math.ceil((w + shiftW) / kw) * kw;
  const layout: WindowLayout = { b, h, w, t, c, kh, kw, hp, wp, shiftH, shiftW };
  const { windows, keyMask } = tf.tidy(() => {
    const pads: [number, number][] = [[0, 0], [shiftH, hp - h - shiftH], [shiftW, wp - w - shiftW], [0, 0], [0, 0]];
    const padded = tf.pad(x, pads);
    const windows = toWindows(padded, layout, c) as tf.Tensor3D;
    const valid = tf.pad(tf.ones([b, h, w, t, 1]), pads);
    const keyMask = tf.reshape(toWindows(valid, layout, 1), [-1, kh * kw * t]) as tf.Tensor2D;
    return { windows, keyMask };
  });
  return { windows, keyMask, layout };
}

function toWindows(padded: tf.Tensor, l: WindowLayout, c: number): tf.Tensor {
  const nh = l.hp / l.kh;
  const nw = l.wp / l.kw;
  // [B, nh, kh, nw, kw, T, C] -> [nh, nw, B, kh, kw, T, C]
  const r = tf.reshape(padded, [l.b, nh, l.kh, nw, l.kw, l.t, c]);
  return tf.reshape(tf.transpose(r, [1, 3, 0, 2, 4, 5, 6]), [nh * nw * l.b, l.kh * l.kw * l.t, c]);
}

/** Inverse of windowPartition: back to [B, H, W, T, C] with the padding cropped. */
export function windowMerge(windows: tf.Tensor, layout: WindowLayout): tf.Tensor {
  const l = layout;
  const c = windows.shape[windows.rank - 1]!;
  return tf.tidy(() => {
    const nh = l.hp / l.kh;
    const nw = l.wp / l.kw;
    const r = tf.reshape(windows, [nh, nw, l.b, l.kh, l.kw, l.t, c]);
    const full = tf.reshape(tf.transpose(r, [2, 0, 3, 1, 4, 5, 6]), [l.b, l.hp, l.wp, l.t, c]);
    return tf.slice(full, [0, l.shiftH, l.shiftW, 0, 0], [l.b, l.h, l.w, l.t, c]);
  });
}
