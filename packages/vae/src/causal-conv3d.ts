// CausalConv3dPlainAR: all the time padding at the front (zeros), H/W padded k//2 on both
// sides, then a padding-free Conv3d whose parameters are the child `conv` (key `<name>.conv.weight`).
import { Conv3d, Module, tf } from '@opensora-ts/kernels';
import { tiledConv3dPadded, type TilingOptions } from './tiled-conv3d.js';

type Triple = [number, number, number];

export class CausalConv3dPlainAR extends Module {
  readonly conv: Conv3d;
  readonly timePad: number;
  readonly heightPad: number;
  readonly widthPad: number;
  /** Set by enableTiling(); only stride-1 convs tile (as in the reference). */
  tiling: TilingOptions | null = null;

  /** An integer stride means (stride, 1, 1), as in the reference; pass a triple for 3D strides. */
  constructor(inChannels: number, outChannels: number, kernel: number | Triple, stride: number | Triple = 1) {
    super();
    const k: Triple = typeof kernel === 'number' ? [kernel, kernel, kernel] : kernel;
    const s: Triple = typeof stride === 'number' ? [stride, 1, 1] : stride;
    if (k[1] % 2 === 0 || k[2] % 2 === 0) throw new Error(`CausalConv3dPlainAR: H/W kernel sizes must be odd, got [${k}]`);
    this.timePad = k[0] - 1 + Math.max(1 - s[0], 0);
    this.heightPad = Math.floor(k[1] / 2);
    this.widthPad = Math.floor(k[2] / 2);
    this.conv = this.registerModule('conv', new Conv3d(inChannels, outChannels, k, { stride: s }));
  }

  get isStrideOne(): boolean {
    return this.conv.stride.every((v) => v === 1);
  }

  enableTiling(tiling: TilingOptions | null): void {
    this.tiling = this.isStrideOne ? tiling : null;
  }

  /** x: [B, T, H, W, C] -> [B, T', H', W', Cout]. */
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => {
      const { timePad: t, heightPad: h, widthPad: w } = this;
      // The padding and the bias inside fused convs (same maths as pad -> conv -> add), tiled or not.
      return tiledConv3dPadded(x, this.conv.weight.value as tf.Tensor5D, this.conv.bias?.value ?? null, this.conv.stride, [[t, 0], [h, h], [w, w]], this.tiling);
    });
  }
}
