// VideoEncoder: [B, T, H, W, 3] in [-1, 1] -> moments [B, T', H/2^L, W/2^L, 2*z] (channels-last).
// Levels: res blocks, then (except the last level) a Downsample3D on `down_sampling_layer`
// levels and a Downsample2D elsewhere; mid res/attn/res; GN, SiLU, causal conv_out.
import { GroupNorm, Module, ModuleList, tf } from '@opensora-ts/kernels';
import { CausalConv3dPlainAR } from './causal-conv3d.js';
import type { EncoderConfig } from './config.js';
import { MidBlock } from './mid-block.js';
import { Namespace } from './namespace.js';
import { replace } from './replace.js';
import { Downsample2D, Downsample3D } from './resample.js';
import { Resnet3DBlock, normSilu, vaeGroupNorm } from './resnet-block.js';
import type { Tap } from './tap.js';
import type { TilingOptions } from './tiled-conv3d.js';

interface Level {
  blocks: Resnet3DBlock[];
  downsample: Downsample2D | Downsample3D | null;
}

export class VideoEncoder extends Module {
  readonly convIn: CausalConv3dPlainAR;
  readonly levels: Level[] = [];
  readonly mid: MidBlock;
  readonly normOut: GroupNorm;
  readonly convOut: CausalConv3dPlainAR;

  constructor(readonly config: EncoderConfig) {
    super();
    const { ch, ch_mult: mult, num_res_blocks: nBlocks, dropout, norm_groups: groups } = config;
    this.convIn = this.registerModule('conv_in', new CausalConv3dPlainAR(config.in_channels, ch, 3));
    const down: Namespace[] = [];
    let blockIn = ch;
    mult.forEach((m, level) => {
      const ns = new Namespace();
      const blocks: Resnet3DBlock[] = [];
      const blockOut = ch * m;
      for (let i = 0; i < nBlocks; i++) {
        blocks.push(new Resnet3DBlock(blockIn, blockOut, dropout, groups));
        blockIn = blockOut;
      }
      ns.add('block', new ModuleList(blocks));
      let downsample: Level['downsample'] = null;
      if (level !== mult.length - 1) {
        downsample = config.down_sampling_layer.includes(level) ? new Downsample3D(blockIn) : new Downsample2D(blockIn);
        ns.add('downsample', downsample);
      }
      down.push(ns);
      this.levels.push({ blocks, downsample });
    });
    this.registerModule('down', new ModuleList(down));
    this.mid = this.registerModule('mid', new MidBlock(blockIn, dropout, groups));
    this.normOut = this.registerModule('norm_out', vaeGroupNorm(blockIn, groups));
    this.convOut = this.registerModule('conv_out', new CausalConv3dPlainAR(blockIn, config.double_z ? 2 * config.z_channels : config.z_channels, 3));
  }

  enableTiling(tiling: TilingOptions | null): void {
    this.convIn.enableTiling(tiling);
    for (const l of this.levels) {
      for (const b of l.blocks) b.enableTiling(tiling);
      l.downsample?.enableTiling(tiling);
    }
    this.mid.enableTiling(tiling);
    this.convOut.enableTiling(tiling);
  }

  /** Latent frames for T input frames: each Downsample3D maps t -> ceil(t/2). */
  latentFrames(t: number): number {
    let n = t;
    this.levels.forEach((l) => {
      if (l.downsample instanceof Downsample3D) n = Math.ceil(n / 2);
    });
    return n;
  }

  /** x [B, T, H, W, C_in] -> moments [B, T', h, w, 2z]; `tap` sees conv_in, down{i}, mid_attn. */
  forward(x: tf.Tensor5D, tap?: Tap): tf.Tensor5D {
    const c = x.shape[4];
    if (c !== this.config.in_channels) throw new Error(`VideoEncoder: input has ${c} channels, expected ${this.config.in_channels}`);
    // Each step disposes its input as soon as the next activation exists, keeping one or two alive.
    let h = this.convIn.forward(x);
    tap?.('conv_in', h);
    const step = (f: (y: tf.Tensor5D) => tf.Tensor5D) => {
      h = replace(h, f(h));
    };
    this.levels.forEach((l, i) => {
      for (const b of l.blocks) step((y) => b.forward(y));
      if (l.downsample) step((y) => l.downsample!.forward(y));
      tap?.(`down${i}`, h);
    });
    step((y) => this.mid.forward(y, tap));
    step((y) => tf.tidy(() => this.convOut.forward(normSilu(this.normOut, y))));
    return h;
  }
}
