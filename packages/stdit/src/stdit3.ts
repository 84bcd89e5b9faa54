// STDiT3 (Open-Sora 1.3): patch embedding + 2D sin-cos position embedding, timestep+fps
// adaLN-single conditioning, caption cross-attention, alternating spatial / windowed temporal
// blocks with 3D-split RoPE, final layer and unpatchify. Public tensors use PyTorch layout
// (x [B, C, T, H, W]); state-dict keys are the reference's.
import { Linear, Module, ModuleList, SeededRandom, SiLU, tf, withShapesOnly } from '@opensora-ts/kernels';
import { STDiT3Block, type BlockContext } from './block.js';
import { CaptionEmbedder } from './caption-embedder.js';
import { parseSTDiT3Config, type STDiT3Config, type STDiT3ConfigInput } from './config.js';
import { T2IFinalLayer } from './final-layer.js';
import { initializeWeights } from './init.js';
import { PatchEmbed3D, patchGrid } from './patch-embed.js';
import { positionEmbedding1D, positionEmbedding2D } from './position-embedding.js';
import { RotaryEmbedding, spatialRopeAngles, temporalRopeAngles, windowRopeAngles } from './rope.js';
import { SizeEmbedder, TimestepEmbedder } from './timestep-embedder.js';

/** A scalar per sample: a tensor, an array, or one number for every sample. */
export type PerSample = tf.Tensor | ArrayLike<number> | number;

/** Forward inputs, with the reference's argument names. */
export interface STDiT3Inputs {
  /** Latent [B, in_channels, T, H, W]. */
  x: tf.Tensor;
  /** Timesteps in [0, 1000], one per sample (or one for all). */
  timestep: PerSample;
  /** T5 states [B, 1, L, caption_channels]. */
  y: tf.Tensor;
  /** Caption attention mask [Bm, L] (nonzero = valid token), repeated to B when B is a multiple of Bm; absent = all valid. */
  mask?: tf.Tensor | ArrayLike<number>[] | null;
  /** Frame mask [B, T]: frames with false use the timestep-0 modulation. */
  x_mask?: tf.Tensor | ArrayLike<number | boolean>[] | null;
  /** Frames per second (24 for video, 120 for images); one value or one per sample. */
  fps: PerSample;
  /** Pixel height and width of the video; only the first value is used. */
  height: PerSample;
  width: PerSample;
  /** i2v/v2v: reference latents (zeros elsewhere) and their mask, [B, in_channels, T, H, W]. */
  cond?: tf.Tensor | null;
  cond_mask?: tf.Tensor | null;
  /** Conditioned latent frames: given (even empty) adds the cond embeddings; non-empty routes those frames' cross-attention to y_null. */
  mask_index?: number[] | null;
  /** Null captions [B, 1, L, caption_channels] (the y_embedding repeated). */
  y_null?: tf.Tensor | null;
  /** Training: overrides class_dropout_prob for this call. */
  text_uncond_prob?: number;
  /** Forces caption dropout per sample (1 = use the null caption). */
  force_drop_ids?: ArrayLike<number | boolean>;
  /**
   * Training: one seed per sample for its caption-dropout and drop-path draws, so a sample draws the
   * same whichever batch (or data-parallel rank) holds it. Absent: the model's `rng` draws for the batch.
   */
  sample_seeds?: ArrayLike<number> | null;
}

/** Receives named intermediates during a forward (parity, debugging); copy what you keep. */
export type Recorder = (name: string, value: tf.Tensor) => void;

export interface ForwardOptions {
  recorder?: Recorder;
}

export interface STDiT3BuildOptions {
  /** Apply the reference initialisation (default true; off when weights will be loaded). */
  referenceInit?: boolean;
  /**
   * Seed for the reference initialisation and the training-time draws (caption dropout, drop path).
   * With `referenceInit: false` the layers keep their own (unseeded) random initial values: load
   * weights, or write them out once if runs must share them (as the bench's case folders do).
   */
  seed?: number;
}

function hostValues(v: PerSample, what: string): number[] {
  if (typeof v === 'number') return [v];
  if (v instanceof tf.Tensor) return Array.from(v.dataSync());
  const out = Array.from(v);
  if (out.length === 0) throw new Error(`${what}: empty; pass one value or one per sample`);
  return out;
}

function perSample(v: PerSample, batch: number, what: string): number[] {
  const vals = hostValues(v, what);
  if (vals.length === batch) return vals;
  if (vals.length === 1) return new Array<number>(batch).fill(vals[0]!);
  throw new Error(`${what}: ${vals.length} values for batch ${batch}; pass one value or one per sample`);
}

function rows(v: tf.Tensor | ArrayLike<number | boolean>[], what: string): { data: Float32Array; shape: [number, number] } {
  if (v instanceof tf.Tensor) {
    if (v.rank !== 2) throw new Error(`${what}: expected a 2-D tensor, got shape [${v.shape}]`);
    return { data: Float32Array.from(v.dataSync(), Number), shape: v.shape as [number, number] };
  }
  const r = v.length;
  const c = r ? v[0]!.length : 0;
  const data = new Float32Array(r * c);
  v.forEach((row, i) => {
    if (row.length !== c) throw new Error(`${what}: row ${i} has ${row.length} entries, expected ${c}`);
    for (let j = 0; j < c; j++) data[i * c + j] = Number(row[j]);
  });
  return { data, shape: [r, c] };
}

/** A one-element parameter whose init tensor is kept so the probe can release it. */
class StorageProbe extends Module {
  initValue: tf.Tensor | null = null;
  readonly p = this.registerParameter('p', [1], () => (this.initValue = tf.zeros([1])));
}

/** True while an outer withShapesOnly() is active (a probe parameter gets no storage). */
function insideShapesOnly(): boolean {
  const probe = new StorageProbe();
  const inside = probe.p.variable === null;
  probe.dispose();
  probe.initValue?.dispose();
  return inside;
}

/** The submodules of STDiT3, in the reference's registration (state-dict) order. */
function buildParts(c: STDiT3Config) {
  const hidden = c.hidden_size;
  const outChannels = c.pred_sigma ? c.in_channels * 2 : c.in_channels;
  const headDim = hidden / c.num_heads;
  const rotationDim = c.kernel_size ? headDim / 3 : headDim;
  const patch = c.patch_size;
  const dropPath = (i: number) => (c.depth > 1 ? (c.drop_path * i) / (c.depth - 1) : 0);
  const kernel = c.kernel_size ? ([c.kernel_size[0], c.kernel_size[1]] as [number, number]) : null;
  const block = (i: number, temporal: boolean) =>
    new STDiT3Block({
      hiddenSize: hidden,
      numHeads: c.num_heads,
      mlpRatio: c.mlp_ratio,
      qkNorm: c.qk_norm,
      temporal,
      kernel: temporal ? kernel : null,
      shiftWindow: temporal && c.shift_window,
      dropPath: dropPath(i),
    });
  return {
    outChannels,
    rope: new RotaryEmbedding(rotationDim),
    xEmbedder: new PatchEmbed3D(patch, c.in_channels, hidden),
    xEmbedderCond: new PatchEmbed3D(patch, c.in_channels, hidden),
    xEmbedderCondMask: new PatchEmbed3D(patch, c.in_channels, hidden),
    tEmbedder: new TimestepEmbedder(hidden),
    fpsEmbedder: new SizeEmbedder(hidden),
    tBlock: new ModuleList([new SiLU(), new Linear(hidden, 6 * hidden)]),
    yEmbedder: new CaptionEmbedder(c.caption_channels, hidden, c.class_dropout_prob, c.model_max_length),
    spatialBlocks: new ModuleList(Array.from({ length: c.depth }, (_, i) => block(i, false))),
    temporalBlocks: c.skip_temporal ? null : new ModuleList(Array.from({ length: c.depth }, (_, i) => block(i, true))),
    finalLayer: new T2IFinalLayer(hidden, patch[0] * patch[1] * patch[2], outChannels),
  };
}

export class STDiT3 extends Module {
  readonly config: STDiT3Config;
  readonly outChannels: number;
  readonly rope: RotaryEmbedding;
  readonly xEmbedder: PatchEmbed3D;
  readonly xEmbedderCond: PatchEmbed3D;
  readonly xEmbedderCondMask: PatchEmbed3D;
  readonly tEmbedder: TimestepEmbedder;
  readonly fpsEmbedder: SizeEmbedder;
  readonly tBlock: ModuleList;
  readonly yEmbedder: CaptionEmbedder;
  readonly spatialBlocks: ModuleList<STDiT3Block>;
  readonly temporalBlocks: ModuleList<STDiT3Block> | null;
  readonly finalLayer: T2IFinalLayer;
  /** Draws of caption dropout and drop path (training). */
  readonly rng: SeededRandom;

  constructor(config: STDiT3ConfigInput | STDiT3Config = {}, options: STDiT3BuildOptions = {}) {
    super();
    const c = parseSTDiT3Config(config);
    this.config = c;
    this.rng = new SeededRandom(options.seed ?? 0);
    // With the reference init, modules are built without storage and filled once by
    // initializeWeights (no second copy of every weight). Inside an outer withShapesOnly the
    // model stays storage-free.
    const referenceInit = (options.referenceInit ?? true) && !insideShapesOnly();
    const parts = referenceInit ? withShapesOnly(() => buildParts(c)) : buildParts(c);
    this.outChannels = parts.outChannels;
    this.rope = this.registerModule('rope', parts.rope);
    this.xEmbedder = this.registerModule('x_embedder', parts.xEmbedder);
    this.xEmbedderCond = this.registerModule('x_embedder_cond', parts.xEmbedderCond);
    this.xEmbedderCondMask = this.registerModule('x_embedder_cond_mask', parts.xEmbedderCondMask);
    this.tEmbedder = this.registerModule('t_embedder', parts.tEmbedder);
    this.fpsEmbedder = this.registerModule('fps_embedder', parts.fpsEmbedder);
    this.tBlock = this.registerModule('t_block', parts.tBlock);
    this.yEmbedder = this.registerModule('y_embedder', parts.yEmbedder);
    this.spatialBlocks = this.registerModule('spatial_blocks', parts.spatialBlocks);
    this.temporalBlocks = parts.temporalBlocks ? this.registerModule('temporal_blocks', parts.temporalBlocks) : null;
    this.finalLayer = this.registerModule('final_layer', parts.finalLayer);

    if (referenceInit) initializeWeights(this, options.seed ?? 0);
    this.applyFreezing();
  }

  /** only_train_temporal / freeze_y_embedder, as the reference sets requires_grad. */
  applyFreezing(): void {
    const c = this.config;
    if (c.only_train_temporal) {
      this.freeze();
      this.temporalBlocks?.unfreeze();
    }
    if (c.freeze_y_embedder) this.yEmbedder.freeze();
  }

  /** x [B, C, T, H, W] -> [B, out_channels, T, H, W] (first in_channels = velocity when pred_sigma). */
  forward(inputs: STDiT3Inputs, options: ForwardOptions = {}): tf.Tensor5D {
    const rec = options.recorder;
    const c = this.config;
    return tf.tidy(() => {
      const x = inputs.x;
      if (x.rank !== 5 || x.shape[1] !== c.in_channels) {
        throw new Error(`x: expected a latent [B, ${c.in_channels}, T, H, W], got [${x.shape}]`);
      }
      const [b, , tx, hx, wx] = x.shape as [number, number, number, number, number];
      const [T, H, W] = patchGrid(tx, hx, wx, c.patch_size);
      const S = H * W;
      const hidden = c.hidden_size;

      // Resolution scale of RoPE and pos-emb: sqrt(h*w) of the first sample's pixel size / input_sq_size.
      const height = hostValues(inputs.height, 'height')[0]!;
      const width = hostValues(inputs.width, 'width')[0]!;
      const scale = Math.sqrt(height * width) / c.input_sq_size;
      const baseSize = Math.round(Math.sqrt(S));
      const posEmb = tf.tensor3d(positionEmbedding2D(hidden, H, W, scale, baseSize), [1, S, hidden]);
      rec?.('pos_emb', posEmb);

      // Timestep + fps embedding, and the timestep-0 version for the frame-mask path.
      const timesteps = perSample(inputs.timestep, b, 'timestep');
      const tEmb = this.tEmbedder.forward(timesteps);
      const fpsEmb = this.fpsEmbedder.forwardBatch(hostValues(inputs.fps, 'fps'), b);
      const t = tf.add(tEmb, fpsEmb);
      const tMlp = this.tBlockForward(t);
      rec?.('t_emb', tEmb);
      rec?.('fps_emb', fpsEmb);
      rec?.('t', t);
      rec?.('t_mlp', tMlp);
      let t0: tf.Tensor | null = null;
      let t0Mlp: tf.Tensor | null = null;
      let xMask: tf.Tensor | null = null;
      if (inputs.x_mask != null) {
        const m = rows(inputs.x_mask, 'x_mask');
        if (m.shape[0] !== b || m.shape[1] !== T) throw new Error(`x_mask: expected [${b}, ${T}] (batch, latent frames), got [${m.shape}]`);
        xMask = tf.tensor2d(Uint8Array.from(m.data, (v) => (v ? 1 : 0)), m.shape, 'bool');
        const t0Emb = this.tEmbedder.forward(new Array<number>(b).fill(0));
        t0 = tf.add(t0Emb, fpsEmb);
        t0Mlp = this.tBlockForward(t0);
        rec?.('t0_emb', t0Emb);
        rec?.('t0_mlp', t0Mlp);
      }

      // Captions: projected per sample, with a key mask instead of the reference's ragged packing.
      if (inputs.sample_seeds != null && inputs.sample_seeds.length !== b) throw new Error(`sample_seeds: ${inputs.sample_seeds.length} seeds for a batch of ${b}; pass one per sample`);
      const rowRngs = inputs.sample_seeds != null ? Array.from(inputs.sample_seeds, (s) => new SeededRandom(s)) : null;
      const drop = { train: this.training, uncondProb: inputs.text_uncond_prob, forceDropIds: inputs.force_drop_ids, rng: this.rng, rowRngs };
      if (inputs.y.shape[0] !== b) throw new Error(`y: batch ${inputs.y.shape[0]} differs from x's batch ${b}`);
      const yProj = this.yEmbedder.forward(inputs.y, drop);
      rec?.('y_proj', yProj);
      const L = inputs.y.shape[2]!;
      // Keys masked for every sample are dropped (exact: they get zero weight), so a short prompt
      // in a 300-token T5 context costs only its own length in every cross-attention.
      const { mask: yMask, length: Lu } = this.captionMask(inputs.mask ?? null, b, L);
      const trim = (v: tf.Tensor) => (Lu === L ? v : tf.slice(v, [0, 0, 0], [b, Lu, hidden]));
      const yTokens = trim(tf.reshape(yProj, [b, L, hidden]));
      let yNull: tf.Tensor | null = null;
      if (inputs.y_null != null) {
        if (inputs.y_null.shape[0] !== b || inputs.y_null.shape[2] !== L) {
          throw new Error(`y_null: expected [${b}, 1, ${L}, ${c.caption_channels}] like y, got [${inputs.y_null.shape}]`);
        }
        const yNullProj = this.yEmbedder.forward(inputs.y_null, drop);
        rec?.('y_null_proj', yNullProj);
        yNull = trim(tf.reshape(yNullProj, [b, L, hidden]));
      }

      // Patch embedding (+ i2v/v2v condition embeddings) + position embedding.
      const xPatch = this.xEmbedder.forward(x);
      rec?.('x_patch', xPatch);
      let h: tf.Tensor = xPatch;
      const maskIndex = inputs.mask_index ?? null;
      if (maskIndex !== null) {
        for (const i of maskIndex) {
          if (!Number.isInteger(i) || i < 0 || i >= T) throw new Error(`mask_index: frame ${i} is outside the ${T} latent frames`);
        }
        if (new Set(maskIndex).size !== maskIndex.length) throw new Error(`mask_index: [${maskIndex}] lists a frame twice`);
        if (!inputs.cond || !inputs.cond_mask) throw new Error('mask_index is set (i2v/v2v): pass cond and cond_mask ([B, C, T, H, W]) as well');
        for (const [name, v] of [['cond', inputs.cond], ['cond_mask', inputs.cond_mask]] as const) {
          if (v.shape.join() !== x.shape.join()) throw new Error(`${name}: expected the latent's shape [${x.shape}], got [${v.shape}]`);
        }
        const xCond = this.xEmbedderCond.forward(inputs.cond);
        rec?.('x_cond_embed', xCond);
        h = tf.add(tf.add(h, xCond), this.xEmbedderCondMask.forward(inputs.cond_mask));
      }
      let pos: tf.Tensor = tf.expandDims(posEmb, 0);
      if (c.temporal_pos_embed) pos = tf.add(pos, tf.tensor4d(positionEmbedding1D(hidden, T), [1, T, 1, hidden]));
      h = tf.reshape(tf.add(tf.reshape(h, [b, T, S, hidden]), pos), [b, T * S, hidden]);
      rec?.('blocks_in', h);

      const ctx = this.blockContext({ T, H, W, scale, tMlp, t0Mlp, xMask, y: yTokens, yMask, yNull, maskIndex, rowRngs });
      for (let i = 0; i < c.depth; i++) {
        h = this.spatialBlocks.at(i).forward(h, ctx);
        if (i === 0) rec?.('spatial0_out', h);
        if (this.temporalBlocks) {
          h = this.temporalBlocks.at(i).forward(h, ctx);
          if (i === 0) rec?.('temporal0_out', h);
        }
      }

      const out = this.finalLayer.forward(h, t, t0, xMask, T);
      rec?.('final_layer_out', out);
      return this.unpatchify(out, T, H, W, tx, hx, wx);
    });
  }

  private tBlockForward(t: tf.Tensor): tf.Tensor {
    const [act, lin] = this.tBlock.items as [SiLU, Linear];
    return lin.forward(act.forward(t));
  }

  /**
   * The caption key mask [B, Lu] (1 = valid; null when every kept token is valid) over the first
   * Lu tokens, Lu = 1 + the last position valid in any sample.
   */
  private captionMask(mask: tf.Tensor | ArrayLike<number>[] | null, b: number, l: number): { mask: tf.Tensor2D | null; length: number } {
    if (mask == null) return { mask: null, length: l };
    const m = rows(mask, 'mask');
    const [bm, lm] = m.shape;
    if (lm !== l) throw new Error(`mask: ${lm} tokens, but y has ${l}; the caption mask must cover y's tokens`);
    if (bm === 0 || b % bm !== 0) throw new Error(`mask: ${bm} rows cannot be repeated to batch ${b}; pass 1, a divisor of ${b}, or ${b} rows`);
    let used = 0;
    for (let i = 0; i < bm; i++) {
      let last = -1;
      for (let j = 0; j < l; j++) if (m.data[i * l + j] !== 0) last = j;
      if (last < 0) throw new Error(`mask: sample ${i} has no valid caption token; a T5 mask always marks at least the end token`);
      used = Math.max(used, last + 1);
    }
    const data = new Float32Array(b * used);
    let all = true;
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < used; j++) {
        const v = m.data[(i % bm) * l + j] !== 0 ? 1 : 0;
        data[i * used + j] = v;
        if (!v) all = false;
      }
    }
    return { mask: all ? null : tf.tensor2d(data, [b, used]), length: used };
  }

  private blockContext(p: Omit<BlockContext, 'spatialAngles' | 'windowAngles' | 'temporalAngles' | 'training' | 'rng'>): BlockContext {
    const c = this.config;
    const freqs = this.rope.hostFreqs();
    let spatialAngles: tf.Tensor2D | null = null;
    let windowAngles: tf.Tensor2D | null = null;
    let temporalAngles: tf.Tensor2D | null = null;
    const width = 2 * freqs.length;
    if (c.kernel_size) {
      const kh = c.kernel_size[0] < 0 ? p.H : c.kernel_size[0];
      const kw = c.kernel_size[1] < 0 ? p.W : c.kernel_size[1];
      windowAngles = tf.tensor2d(windowRopeAngles(freqs, kh, kw, p.T, p.scale), [kh * kw * p.T, 3 * width]);
      if (c.use_spatial_rope) spatialAngles = tf.tensor2d(spatialRopeAngles(freqs, p.H, p.W, p.scale), [p.H * p.W, 3 * width]);
    } else {
      temporalAngles = tf.tensor2d(temporalRopeAngles(freqs, p.T), [p.T, width]);
    }
    return { ...p, spatialAngles, windowAngles, temporalAngles, training: this.training, rng: this.rng };
  }

  /** [B, T*H*W, pt*ph*pw*out] -> [B, out, T*pt, H*ph, W*pw], cropped to the input's (Tx, Hx, Wx). */
  private unpatchify(x: tf.Tensor, T: number, H: number, W: number, tx: number, hx: number, wx: number): tf.Tensor5D {
    const [pt, ph, pw] = this.config.patch_size;
    const b = x.shape[0]!;
    const o = this.outChannels;
    const r = tf.reshape(x, [b, T, H, W, pt, ph, pw, o]);
    const full = tf.reshape(tf.transpose(r, [0, 7, 1, 4, 2, 5, 3, 6]), [b, o, T * pt, H * ph, W * pw]);
    if (T * pt === tx && H * ph === hx && W * pw === wx) return full as tf.Tensor5D;
    return tf.slice(full, [0, 0, 0, 0, 0], [b, o, tx, hx, wx]) as tf.Tensor5D;
  }
}
