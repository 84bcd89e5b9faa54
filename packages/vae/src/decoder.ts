// VideoDecoder: z [B, T', h, w, z] -> [B, 4T'-3, 8h, 8w, 3] (channels-last) for the released
// layout. conv_in, mid res/attn/res, levels from the last to 0 (res blocks, then Upsample3D on
// `temporal_up_layers` levels and Upsample2D elsewhere except level 0), GN, SiLU, a plain
// Conv3d after causal zero padding, and the first `temporal_downsample - 1` frames dropped.
import { Conv3d, GroupNorm, Module, ModuleList, tf } from '@opensora-ts/kernels';
import { CausalConv3dPlainAR } from './causal-conv3d.js';
import type { DecoderConfig } from './config.js';
import { MidBlock } from './mid-block.js';
import { Namespace } from './namespace.js';
import { replace } from './replace.js';
import { Upsample2D, Upsample3D } from './resample.js';
import { Resnet3DBlock, normSilu, vaeGroupNorm } from './resnet-block.js';
import type { Tap } from './tap.js';
import { tiledConv3dPadded, type TilingOptions } from './tiled-conv3d.js';

interface Level {
  blocks: Resnet3DBlock[];
  upsample: Upsample2D | Upsample3D | null;
}

export class VideoDecoder extends Module {
  readonly convIn: CausalConv3dPlainAR;
  readonly mid: MidBlock;
  /** Indexed by level (0 = full resolution), as the reference's `up` ModuleList. */
  readonly levels: Level[];
  readonly normOut: GroupNorm;
  readonly convOut: Conv3d;
  private outTiling: TilingOptions | null = null;

  constructor(readonly config: DecoderConfig) {
    super();
    const { ch, ch_mult: mult, num_res_blocks: nBlocks, dropout, norm_groups: groups } = config;
    let blockIn = ch * mult[mult.length - 1]!;
    this.convIn = this.registerModule('conv_in', new CausalConv3dPlainAR(config.z_channels, blockIn, 3));
    this.mid = this.registerModule('mid', new MidBlock(blockIn, dropout, groups));
    const up: Namespace[] = new Array(mult.length);
    this.levels = new Array(mult.length);
    for (let level = mult.length - 1; level >= 0; level--) {
      const ns = new Namespace();
      const blocks: Resnet3DBlock[] = [];
      const blockOut = ch * mult[level]!;
      for (let i = 0; i < nBlocks + 1; i++) {
        blocks.push(new Resnet3DBlock(blockIn, blockOut, dropout, groups));
        blockIn = blockOut;
      }
      ns.add('block', new ModuleList(blocks));
      let upsample: Level['upsample'] = null;
      if (level !== 0) {
        upsample = config.temporal_up_layers.includes(level) ? new Upsample3D(blockIn, groups) : new Upsample2D(blockIn);
        ns.add('upsample', upsample);
      }
      up[level] = ns;
      this.levels[level] = { blocks, upsample };
    }
    this.registerModule('up', new ModuleList(up));
    this.normOut = this.registerModule('norm_out', vaeGroupNorm(blockIn, groups));
    this.convOut = this.registerModule('conv_out', new Conv3d(blockIn, config.out_ch, 3));
  }

  /** The parameter the adaptive GAN weight differentiates through (`decoder.conv_out.weight`). */
  lastLayer(): tf.Variable {
    return this.convOut.weight.value;
  }

  enableTiling(tiling: TilingOptions | null): void {
    this.convIn.enableTiling(tiling);
    this.mid.enableTiling(tiling);
    for (const l of this.levels) {
      for (const b of l.blocks) b.enableTiling(tiling);
      l.upsample?.enableTiling(tiling);
    }
    this.outTiling = tiling;
  }

  /** Output frames for T' latent frames (before any chunk overlap handling). */
  outputFrames(t: number): number {
    let n = t;
    for (const l of this.levels) if (l.upsample instanceof Upsample3D) n *= 2;
    return Math.max(n - (this.config.temporal_downsample - 1), 0);
  }

  /** z [B, T', h, w, z] -> [B, T, H, W, out_ch]; `tap` sees conv_in, mid_attn, up{i}, before_drop. */
  forward(z: tf.Tensor5D, tap?: Tap): tf.Tensor5D {
    const c = z.shape[4];
    if (c !== this.config.z_channels) throw new Error(`VideoDecoder: latent has ${c} channels, expected ${this.config.z_channels}`);
    let h = this.convIn.forward(z);
    tap?.('conv_in', h);
    const step = (f: (y: tf.Tensor5D) => tf.Tensor5D) => {
      h = replace(h, f(h));
    };
    step((y) => this.mid.forward(y, tap));
    for (let level = this.levels.length - 1; level >= 0; level--) {
      const l = this.levels[level]!;
      for (const b of l.blocks) step((y) => b.forward(y));
      if (l.upsample) step((y) => l.upsample!.forward(y));
      tap?.(`up${level}`, h);
    }
    step((y) =>
      tf.tidy(() => {
        const a = normSilu(this.normOut, y);
        return tiledConv3dPadded(a, this.convOut.weight.value as tf.Tensor5D, this.convOut.bias?.value ?? null, [1, 1, 1], [[2, 0], [1, 1], [1, 1]], this.outTiling);
      }),
    );
    tap?.('before_drop', h);
    const drop = this.config.temporal_downsample - 1;
    const [b, t, hh, w, cc] = h.shape;
    if (drop === 0) return h;
    const out = tf.slice(h, [0, Math.min(drop, t), 0, 0, 0], [b, Math.max(t - drop, 0), hh, w, cc]) as tf.Tensor5D;
    h.dispose();
    return out;
  }
}
