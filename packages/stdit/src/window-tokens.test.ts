// The exact-tiling windows of the temporal blocks against the general path they replace
// (transpose to [B, H, W, T, C], windowPartition, windowMerge, transpose back): the same values
// in the same rows, the same gradients, and null wherever padding or a shift is needed.
import { tf, windowMerge, windowPartition } from '@opensora-ts/kernels';
import { describe, expect, it } from 'vitest';
import { exactWindows, framesToWindows, windowsToFrames } from './window-tokens.js';

function general(h: tf.Tensor, H: number, W: number, kernel: [number, number]): tf.Tensor {
  const [b, t, s, c] = h.shape as [number, number, number, number];
  const part = windowPartition(tf.transpose(tf.reshape(h, [b, t, H, W, c]), [0, 2, 3, 1, 4]), kernel);
  return part.windows;
}

function generalBack(windows: tf.Tensor, H: number, W: number, kernel: [number, number], b: number, t: number): tf.Tensor {
  const c = windows.shape[2]!;
  const { layout } = windowPartition(tf.zeros([b, H, W, t, 1]), kernel);
  return tf.reshape(tf.transpose(windowMerge(windows, { ...layout, c }), [0, 3, 1, 2, 4]), [b, t, H * W, c]);
}

describe('exact windows', () => {
  it('tile exactly or give null (padding needed, or a shift)', () => {
    expect(exactWindows(8, 8, [8, 8], false)).toEqual({ nh: 1, nw: 1, kh: 8, kw: 8 });
    expect(exactWindows(6, 4, [-1, 2], false)).toEqual({ nh: 1, nw: 2, kh: 6, kw: 2 });
    expect(exactWindows(6, 6, [4, 4], false)).toBeNull();
    expect(exactWindows(8, 8, [4, 4], true)).toBeNull();
  });

  for (const [b, t, H, W, c, kernel] of [
    [1, 5, 8, 8, 6, [8, 8]],
    [2, 3, 4, 6, 5, [2, 3]],
    [3, 2, 6, 4, 4, [-1, 2]],
    [1, 1, 4, 4, 3, [1, 4]],
  ] as [number, number, number, number, number, [number, number]][]) {
    it(`[B ${b}, T ${t}, ${H}x${W}, C ${c}] in ${kernel} windows: the general path's windows, inverse and gradients`, () => {
      const g = exactWindows(H, W, kernel, false)!;
      expect(g).not.toBeNull();
      const n = b * t * H * W * c;
      const h = tf.tensor4d(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 3), [b, t, H * W, c]);
      const wts = tf.tensor3d(Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.9)), [g.nh * g.nw * b, g.kh * g.kw * t, c]);
      const ours = framesToWindows(h, g);
      const ref = general(h, H, W, kernel);
      expect(ours.shape).toEqual(ref.shape);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync()));
      expect(Array.from(windowsToFrames(ours, g, b, t).dataSync())).toEqual(Array.from(h.dataSync()));
      expect(Array.from(windowsToFrames(wts, g, b, t).dataSync())).toEqual(Array.from(generalBack(wts, H, W, kernel, b, t).dataSync()));
      // Gradients through both directions, each against the general path's.
      const f = (x: tf.Tensor) => tf.sum(tf.mul(framesToWindows(x, g), wts)) as tf.Scalar;
      const fr = (x: tf.Tensor) => tf.sum(tf.mul(general(x, H, W, kernel), wts)) as tf.Scalar;
      expect(Array.from(tf.grad(f)(h).dataSync())).toEqual(Array.from(tf.grad(fr)(h).dataSync()));
      const bk = (x: tf.Tensor) => tf.sum(tf.mul(windowsToFrames(x, g, b, t), h)) as tf.Scalar;
      const bkr = (x: tf.Tensor) => tf.sum(tf.mul(generalBack(x, H, W, kernel, b, t), h)) as tf.Scalar;
      expect(Array.from(tf.grad(bk)(wts).dataSync())).toEqual(Array.from(tf.grad(bkr)(wts).dataSync()));
    });
  }
});
