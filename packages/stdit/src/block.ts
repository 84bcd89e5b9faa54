// STDiT3Block, the same module for spatial and temporal blocks:
//   x += g1 * SelfAttn(modulate(LN(x), sh1, sc1))   (spatial: per frame; temporal: windowed)
//   x += CrossAttn(x, captions)                       (conditioned frames see the null caption)
//   x += g2 * MLP(modulate(LN(x), sh2, sc2))
// Tokens stay [B, T*S, C] in (T, H, W) row-major order between blocks.
import { Module, gatedAdd, layerNormModulate, tf, windowMerge, windowPartition, type SeededRandom } from '@opensora-ts/kernels';
import { exactWindows, framesToWindows, windowsToFrames } from './window-tokens.js';
import { Attention, MultiHeadCrossAttention } from './attention.js';
import { Mlp } from './mlp.js';
import { modulationParams } from './modulation.js';

export interface BlockContext {
  /** Patch grid: frames, rows, columns; S = H*W. */
  T: number;
  H: number;
  W: number;
  /** Resolution scale sqrt(h*w)/input_sq_size (RoPE h/w positions are divided by it). */
  scale: number;
  /** t_mlp [B, 6C]; t0Mlp and xMask (bool [B, T]) together for the frame-mask path. */
  tMlp: tf.Tensor;
  t0Mlp: tf.Tensor | null;
  xMask: tf.Tensor | null;
  /** Projected captions [B, L, C] with their key mask [B, L] (null: all valid). */
  y: tf.Tensor;
  yMask: tf.Tensor2D | null;
  /** Projected null captions [B, L, C] for conditioned frames (mask_index). */
  yNull: tf.Tensor | null;
  /** Conditioned frames (cross-attend y_null); null or empty: every frame attends y. */
  maskIndex: number[] | null;
  /** RoPE angle tables for this input (built once per forward). */
  spatialAngles: tf.Tensor2D | null;
  windowAngles: tf.Tensor2D | null;
  temporalAngles: tf.Tensor2D | null;
  training: boolean;
  rng: SeededRandom;
  /** Per-sample generators (sample_seeds): sample i's drop-path draws come from rowRngs[i]. */
  rowRngs: SeededRandom[] | null;
}

export interface BlockOptions {
  hiddenSize: number;
  numHeads: number;
  mlpRatio: number;
  qkNorm: boolean;
  temporal: boolean;
  /** Window over (H, W) of temporal blocks ([-1 = whole axis]); null = per-pixel temporal attention. */
  kernel: [number, number] | null;
  shiftWindow: boolean;
  dropPath: number;
}

export class STDiT3Block extends Module {
  readonly attn: Attention;
  readonly crossAttn: MultiHeadCrossAttention;
  readonly mlp: Mlp;
  readonly scaleShiftTable;
  constructor(readonly options: BlockOptions) {
    super();
    const c = options.hiddenSize;
    // Registration order gives the reference's state-dict order.
    this.scaleShiftTable = this.registerParameter('scale_shift_table', [6, c], () => tf.div(tf.randomNormal([6, c]), Math.sqrt(c)));
    this.attn = this.registerModule('attn', new Attention(c, options.numHeads, options.qkNorm));
    this.crossAttn = this.registerModule('cross_attn', new MultiHeadCrossAttention(c, options.numHeads));
    this.mlp = this.registerModule('mlp', new Mlp(c, Math.floor(c * options.mlpRatio)));
  }

  forward(x: tf.Tensor, ctx: BlockContext): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n, c] = x.shape as [number, number, number];
      const { T, H, W } = ctx;
      const S = H * W;
      const [sh1, sc1, g1, sh2, sc2, g2] = modulationParams(this.scaleShiftTable.value, ctx.tMlp, ctx.t0Mlp, ctx.xMask, T) as [
        tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor,
      ];
      let x4: tf.Tensor = tf.reshape(x, [b, T, S, c]);

      const h1 = layerNormModulate(x4, sh1, sc1, 1e-6);
      const a = this.selfAttention(h1, ctx);
      x4 = this.gatedResidual(x4, g1, a, ctx);

      x4 = this.crossAttention(x4, ctx);

      const h2 = layerNormModulate(x4, sh2, sc2, 1e-6);
      const m = tf.reshape(this.mlp.forward(tf.reshape(h2, [b, n, c])), [b, T, S, c]);
      x4 = this.gatedResidual(x4, g2, m, ctx);
      return tf.reshape(x4, [b, n, c]) as tf.Tensor3D;
    });
  }

  /** h [B, T, S, C] -> [B, T, S, C]. */
  private selfAttention(h: tf.Tensor, ctx: BlockContext): tf.Tensor {
    const [b, t, s, c] = h.shape as [number, number, number, number];
    const { H, W } = ctx;
    if (!this.options.temporal) {
      const out = this.attn.forward(tf.reshape(h, [b * t, s, c]), { angles: ctx.spatialAngles });
      return tf.reshape(out, [b, t, s, c]);
    }
    const kernel = this.options.kernel;
    if (!kernel) {
      // 1.2-style: each patch position attends over time.
      const seq = tf.reshape(tf.transpose(h, [0, 2, 1, 3]), [b * s, t, c]);
      const out = this.attn.forward(seq, { angles: ctx.temporalAngles });
      return tf.transpose(tf.reshape(out, [b, s, t, c]), [0, 2, 1, 3]);
    }
    // Windows that tile the frame exactly: one transpose each way (the same windows as below).
    const exact = exactWindows(H, W, kernel, !!this.options.shiftWindow);
    if (exact) {
      const out = this.attn.forward(framesToWindows(h, exact), { angles: ctx.windowAngles, keyMask: null });
      return windowsToFrames(out, exact, b, t);
    }
    // Windowed attention over [B, H, W, T, C]; windows H-major / W-minor, row w*B + b.
    const grid = tf.transpose(tf.reshape(h, [b, t, H, W, c]), [0, 2, 3, 1, 4]);
    const part = windowPartition(grid, kernel, { shift: this.options.shiftWindow });
    const l = part.layout;
    const padded = l.hp !== l.h || l.wp !== l.w;
    const out = this.attn.forward(part.windows, { angles: ctx.windowAngles, keyMask: padded ? part.keyMask : null });
    const merged = windowMerge(out, l);
    return tf.reshape(tf.transpose(merged, [0, 3, 1, 2, 4]), [b, t, s, c]);
  }

  /** x4 [B, T, S, C] -> x4 + cross-attention, routing conditioned frames to y_null. */
  private crossAttention(x4: tf.Tensor, ctx: BlockContext): tf.Tensor {
    const [b, t, s, c] = x4.shape as [number, number, number, number];
    const idx = ctx.maskIndex;
    if (!idx || idx.length === 0) {
      const flat = tf.reshape(x4, [b, t * s, c]);
      return tf.add(x4, tf.reshape(this.crossAttn.forward(flat, ctx.y, ctx.yMask), [b, t, s, c]));
    }
    if (!ctx.yNull) throw new Error('mask_index is set but y_null is missing: conditioned frames cross-attend the null caption; pass y_null');
    const rest = [...Array(t).keys()].filter((i) => !idx.includes(i));
    const parts: tf.Tensor[] = [];
    for (const [frames, cond] of [
      [idx, ctx.yNull],
      [rest, ctx.y],
    ] as const) {
      if (frames.length === 0) continue;
      const sub = tf.gather(x4, tf.tensor1d(frames as number[], 'int32'), 1);
      const flat = tf.reshape(sub, [b, frames.length * s, c]);
      parts.push(tf.add(sub, tf.reshape(this.crossAttn.forward(flat, cond, ctx.yMask), [b, frames.length, s, c])));
    }
    // Put the frames back in order: position of frame i in [idx..., rest...].
    const order = [...idx, ...rest];
    const inverse = new Int32Array(t);
    order.forEach((f, p) => (inverse[f] = p));
    return tf.gather(tf.concat(parts, 1), tf.tensor1d(inverse, 'int32'), 1);
  }

  /** x + dropPath(gate * branch): one fused op when drop path is off (evaluation, or drop_path 0). */
  private gatedResidual(x: tf.Tensor, gate: tf.Tensor, branch: tf.Tensor, ctx: BlockContext): tf.Tensor {
    if (!ctx.training || this.options.dropPath <= 0) return gatedAdd(x, gate, branch);
    return tf.add(x, this.dropPath(tf.mul(gate, branch), ctx));
  }

  /** Stochastic depth: in training, zero a sample's branch with probability drop_path, rescaling the rest. */
  private dropPath(branch: tf.Tensor, ctx: BlockContext): tf.Tensor {
    const p = this.options.dropPath;
    if (!ctx.training || p <= 0) return branch;
    const b = branch.shape[0]!;
    const keep = Float32Array.from({ length: b }, (_, i) => ((ctx.rowRngs?.[i] ?? ctx.rng).uniform() < 1 - p ? 1 / (1 - p) : 0));
    return tf.mul(branch, tf.tensor(keep, [b, ...new Array(branch.rank - 1).fill(1)]));
  }
}
