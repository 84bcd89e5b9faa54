// The temporal blocks' windows straight from the frame-major tokens, for the common case where
// the windows tile H and W exactly and do not shift (STDiT3-mid and the 1.3 presets at their
// trained sizes). The general path (block.ts) transposes [B, T, H, W, C] to [B, H, W, T, C],
// pads, and transposes into windows, then back the same way; when nothing is padded that is one
// permutation each way, done here as a single transpose (and the backward as one more), with
// the same values in the same order: windows H-major / W-minor, row w*B + b, each flattened
// (h_local, w_local, t), as windowPartition lays them out.
import { tf } from '@opensora-ts/kernels';

export interface ExactWindows {
  nh: number;
  nw: number;
  kh: number;
  kw: number;
}

/** The window grid when [kh, kw] windows tile H x W exactly without a shift; otherwise null. */
export function exactWindows(H: number, W: number, kernel: [number, number], shift: boolean): ExactWindows | null {
  const kh = kernel[0] < 0 ? H : kernel[0];
  const kw = kernel[1] < 0 ? W : kernel[1];
  if (shift || H % kh !== 0 || W % kw !== 0) return null;
  return { nh: H / kh, nw: W / kw, kh, kw };
}

/** h [B, T, H*W, C] -> windows [nh*nw*B, kh*kw*T, C] (windowPartition of h as [B, H, W, T, C]). */
export function framesToWindows(h: tf.Tensor, g: ExactWindows): tf.Tensor3D {
  const [b, t, , c] = h.shape as [number, number, number, number];
  const r = tf.reshape(h, [b, t, g.nh, g.kh, g.nw, g.kw, c]);
  // [B, T, nh, kh, nw, kw, C] -> [nh, nw, B, kh, kw, T, C]
  return tf.reshape(tf.transpose(r, [2, 4, 0, 3, 5, 1, 6]), [g.nh * g.nw * b, g.kh * g.kw * t, c]) as tf.Tensor3D;
}

/** Inverse of framesToWindows: windows [nh*nw*B, kh*kw*T, C] -> [B, T, H*W, C]. */
export function windowsToFrames(windows: tf.Tensor, g: ExactWindows, b: number, t: number): tf.Tensor {
  const c = windows.shape[windows.rank - 1]!;
  const r = tf.reshape(windows, [g.nh, g.nw, b, g.kh, g.kw, t, c]);
  // [nh, nw, B, kh, kw, T, C] -> [B, T, nh, kh, nw, kw, C]
  return tf.reshape(tf.transpose(r, [2, 5, 0, 3, 1, 4, 6]), [b, t, g.nh * g.kh * g.nw * g.kw, c]);
}
