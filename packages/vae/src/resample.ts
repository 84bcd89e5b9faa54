// Spatial and spatio-temporal down/upsampling of the VAE (channels-last [B, T, H, W, C]).
import { Conv2d, GroupNorm, Module, silu, tf, upsampleNearest3d } from '@opensora-ts/kernels';
import { normSilu } from './resnet-block.js';
import { CausalConv3dPlainAR } from './causal-conv3d.js';
import { replace } from './replace.js';
import type { TilingOptions } from './tiled-conv3d.js';

/** Runs a per-frame 2D op on [B, T, H, W, C] by folding T into the batch. */
function perFrame(x: tf.Tensor5D, op: (frames: tf.Tensor4D) => tf.Tensor4D): tf.Tensor5D {
  const [b, t, h, w, c] = x.shape;
  const y = op(tf.reshape(x, [b * t, h, w, c]) as tf.Tensor4D);
  return tf.reshape(y, [b, t, y.shape[1], y.shape[2], y.shape[3]]) as tf.Tensor5D;
}

/** Space /2 per frame: zero-pad right and bottom by one, 3x3 conv with stride 2 (key `conv`). */
export class Downsample2D extends Module {
  readonly conv: Conv2d;
  constructor(channels: number) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(channels, channels, 3, { stride: 2 }));
  }
  enableTiling(): void {}
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => perFrame(x, (f) => this.conv.forward(tf.pad(f, [[0, 0], [0, 1], [0, 1], [0, 0]]) as tf.Tensor4D)));
  }
}

/** Time and space /2: causal 3x3x3 conv with stride (2, 2, 2) (key `conv.conv`). */
export class Downsample3D extends Module {
  readonly conv: CausalConv3dPlainAR;
  constructor(channels: number) {
    super();
    this.conv = this.registerModule('conv', new CausalConv3dPlainAR(channels, channels, 3, [2, 2, 2]));
  }
  enableTiling(tiling: TilingOptions | null): void {
    this.conv.enableTiling(tiling);
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return this.conv.forward(x);
  }
}

/**
 * Res3DBlockUpsample as Upsample3D builds it (same channels in and out, no shortcut conv):
 * SiLU(GN_b(conv2(SiLU(GN_a(conv1 y)))) + y). Its GroupNorms keep PyTorch's default eps 1e-5.
 */
export class Res3DBlockUpsample extends Module {
  readonly conv1: CausalConv3dPlainAR;
  readonly norm1: GroupNorm;
  readonly conv2: CausalConv3dPlainAR;
  readonly norm2: GroupNorm;
  constructor(channels: number, groups = 32) {
    super();
    this.conv1 = this.registerModule('conv1', new CausalConv3dPlainAR(channels, channels, 3));
    this.norm1 = this.registerModule('norm1', new GroupNorm(groups, channels, { eps: 1e-5 }));
    this.conv2 = this.registerModule('conv2', new CausalConv3dPlainAR(channels, channels, 3));
    this.norm2 = this.registerModule('norm2', new GroupNorm(groups, channels, { eps: 1e-5 }));
  }
  enableTiling(tiling: TilingOptions | null): void {
    this.conv1.enableTiling(tiling);
    this.conv2.enableTiling(tiling);
  }
  forward(y: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => {
      // Intermediates freed as the next exists (replace.ts): here they are at the upsampled size.
      let h = this.conv1.forward(y);
      h = replace(h, normSilu(this.norm1, h));
      h = replace(h, this.conv2.forward(h));
      h = replace(h, this.norm2.forward(h) as tf.Tensor5D);
      h = replace(h, tf.add(h, y) as tf.Tensor5D);
      return silu(h) as tf.Tensor5D;
    });
  }
}

/** Time and space x2: nearest interpolation y, then y + Res3DBlockUpsample(y) (key `conv3d`). */
export class Upsample3D extends Module {
  readonly conv3d: Res3DBlockUpsample;
  constructor(channels: number, groups = 32) {
    super();
    this.conv3d = this.registerModule('conv3d', new Res3DBlockUpsample(channels, groups));
  }
  enableTiling(tiling: TilingOptions | null): void {
    this.conv3d.enableTiling(tiling);
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => {
      const y = upsampleNearest3d(x, [2, 2, 2]);
      return tf.add(y, this.conv3d.forward(y)) as tf.Tensor5D;
    });
  }
}

/** Space x2 per frame: nearest interpolation, then a 3x3 conv with padding 1 (key `conv`). */
export class Upsample2D extends Module {
  readonly conv: Conv2d;
  constructor(channels: number) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(channels, channels, 3, { padding: 1 }));
  }
  enableTiling(): void {}
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => perFrame(upsampleNearest3d(x, [1, 2, 2]), (f) => this.conv.forward(f)));
  }
}
