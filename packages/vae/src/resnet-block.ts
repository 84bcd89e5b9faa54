// Resnet3DBlock: GN -> SiLU -> causal conv3 -> GN -> SiLU -> (dropout) -> causal conv3, plus the
// input (through a causal 1x1x1 `nin_shortcut` when the channel count changes).
import { Dropout, GroupNorm, Module, groupNormSilu, tf } from '@opensora-ts/kernels';
import { CausalConv3dPlainAR } from './causal-conv3d.js';
import { replace } from './replace.js';
import type { TilingOptions } from './tiled-conv3d.js';

/** The VAE's Normalize(): GroupNorm(32, C, eps 1e-6, affine); `groups` other than 32 only for demo models. */
export function vaeGroupNorm(channels: number, groups = 32): GroupNorm {
  return new GroupNorm(groups, channels, { eps: 1e-6 });
}

/** silu(norm(x)) as one fused op (one pass where the backend has it; the same two ops elsewhere). */
export function normSilu(norm: GroupNorm, x: tf.Tensor5D): tf.Tensor5D {
  return groupNormSilu(x, norm.groups, norm.weight?.value ?? null, norm.bias?.value ?? null, norm.eps) as tf.Tensor5D;
}

export class Resnet3DBlock extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: CausalConv3dPlainAR;
  readonly norm2: GroupNorm;
  readonly dropout: Dropout;
  readonly conv2: CausalConv3dPlainAR;
  readonly ninShortcut: CausalConv3dPlainAR | null;

  constructor(readonly inChannels: number, readonly outChannels: number, dropout = 0, groups = 32) {
    super();
    this.norm1 = this.registerModule('norm1', vaeGroupNorm(inChannels, groups));
    this.conv1 = this.registerModule('conv1', new CausalConv3dPlainAR(inChannels, outChannels, 3));
    this.norm2 = this.registerModule('norm2', vaeGroupNorm(outChannels, groups));
    this.dropout = this.registerModule('dropout', new Dropout(dropout));
    this.conv2 = this.registerModule('conv2', new CausalConv3dPlainAR(outChannels, outChannels, 3));
    this.ninShortcut = inChannels !== outChannels ? this.registerModule('nin_shortcut', new CausalConv3dPlainAR(inChannels, outChannels, 1)) : null;
  }

  enableTiling(tiling: TilingOptions | null): void {
    for (const c of [this.conv1, this.conv2, this.ninShortcut]) c?.enableTiling(tiling);
  }

  forward(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => {
      // Each intermediate is freed as soon as the next exists, not when the tidy ends (replace.ts).
      let h = normSilu(this.norm1, x);
      h = replace(h, this.conv1.forward(h));
      h = replace(h, normSilu(this.norm2, h));
      h = replace(h, this.dropout.forward(h) as tf.Tensor5D);
      h = replace(h, this.conv2.forward(h));
      const skip = this.ninShortcut ? this.ninShortcut.forward(x) : x;
      return tf.add(skip, h) as tf.Tensor5D;
    });
  }
}
