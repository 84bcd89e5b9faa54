// The middle of the encoder and of the decoder (the reference's `mid`: block_1, attn_1, block_2):
// a res block, spatial attention per frame, a res block, at the deepest channel count.
import { Module, type tf } from '@opensora-ts/kernels';
import { AttnBlock } from './attention.js';
import { Resnet3DBlock } from './resnet-block.js';
import type { Tap } from './tap.js';
import type { TilingOptions } from './tiled-conv3d.js';

export class MidBlock extends Module {
  readonly block1: Resnet3DBlock;
  readonly attn: AttnBlock;
  readonly block2: Resnet3DBlock;

  constructor(channels: number, dropout: number, groups = 32) {
    super();
    this.block1 = this.registerModule('block_1', new Resnet3DBlock(channels, channels, dropout, groups));
    this.attn = this.registerModule('attn_1', new AttnBlock(channels, groups));
    this.block2 = this.registerModule('block_2', new Resnet3DBlock(channels, channels, dropout, groups));
  }

  enableTiling(tiling: TilingOptions | null): void {
    for (const m of [this.block1, this.attn, this.block2]) m.enableTiling(tiling);
  }

  /** [B, T, H, W, C] -> same shape; `tap` sees mid_attn. Frees its intermediates, not `x`. */
  forward(x: tf.Tensor5D, tap?: Tap): tf.Tensor5D {
    const a = this.block1.forward(x);
    const b = this.attn.forward(a);
    a.dispose();
    tap?.('mid_attn', b);
    const out = this.block2.forward(b);
    b.dispose();
    return out;
  }
}
