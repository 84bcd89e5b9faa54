// The OpenSoraVAE_V1_3 pipeline around the encoder/decoder: micro-batches of clips, 17-frame
// chunks (overlapping by one frame, or consecutive), the diagonal-Gaussian posterior and the
// per-channel latent normalization. Public tensors are PyTorch layout [B, C, T, H, W]; the
// modules run channels-last [B, T, H, W, C] internally.
import { tf, toChannelsFirst, toChannelsLast } from '@opensora-ts/kernels';
import type { CodecOptions } from './config.js';
import { normalizeLatent, unnormalizeLatent } from './latent-stats.js';
import { DiagonalGaussian } from './posterior.js';
import type { Tap } from './tap.js';
import type { OpenSoraVAE } from './vae.js';

/**
 * Receives intermediates while a codec call runs: `name` such as `enc.conv_in.chunk0`,
 * `enc.down0.chunk0`, `enc.mid_attn.chunk0`, `dec.mid_attn.chunk1`, `dec.before_drop.chunk0`,
 * `dec.chunk0.last_frame`, `dec.chunk1.first_frame`, `z_unnorm`; `x` in PyTorch layout. The
 * tensor is disposed after the call: copy it (dataSync, clone) to keep it. Without a recorder
 * nothing is converted or copied.
 */
export type Recorder = (name: string, x: tf.Tensor) => void;

/** Called after each chunk (per clip of the micro-batch) is encoded or decoded. */
export type ChunkProgress = (info: { op: 'encode' | 'decode'; chunk: number; chunks: number; item: number; items: number }) => void;

export interface EncodeOptions {
  /** Sample the posterior (the reference's default) or take its mode (mean). Default true. */
  samplePosterior?: boolean;
  /** Posterior noise, [B, z, T', h, w] like the latent; otherwise drawn from `seed`. */
  noise?: tf.Tensor | null;
  seed?: number;
  recorder?: Recorder;
  onProgress?: ChunkProgress;
}

export interface DecodeOptions {
  recorder?: Recorder;
  onProgress?: ChunkProgress;
}

export interface EncodeResult {
  /** Normalized latent [B, z, T', h, w] (what the DiT sees). */
  z: tf.Tensor5D;
  /** Encoder output [B, 2z, T', h, w], chunks concatenated in time. */
  moments: tf.Tensor5D;
  mean: tf.Tensor5D;
  /** Clamped to [-30, 20]. */
  logvar: tf.Tensor5D;
}

/** One piece of a streamed decode: final frames [B, C, n, H, W] starting at frame `start`. */
export interface DecodedFrames {
  frames: tf.Tensor5D;
  start: number;
  chunk: number;
  chunks: number;
}

export class ChunkedVideoCodec {
  readonly options: CodecOptions;

  constructor(readonly vae: OpenSoraVAE, options: Partial<CodecOptions> = {}) {
    const c = vae.config;
    this.options = {
      micro_batch_size: c.micro_batch_size,
      micro_frame_size: c.micro_frame_size,
      temporal_overlap: c.temporal_overlap,
      normalization: c.normalization,
      use_tiled_conv3d: c.use_tiled_conv3d,
      tile_size: c.tile_size,
      tiled_dim: c.tiled_dim,
      num_tiles: c.num_tiles,
      ...options,
    };
  }

  /** Latent frames per `micro_frame_size` chunk (5 for 17 frames). */
  get microLatentFrames(): number | null {
    const m = this.options.micro_frame_size;
    return m ? Math.trunc((m - 1) / this.vae.compression[0] + 1) : null;
  }

  /** The reference's get_latent_size: [T, H, W] -> [T', h, w] (null passes through). */
  getLatentSize(size: [number | null, number | null, number | null]): [number | null, number | null, number | null] {
    const [pt, ph, pw] = this.vae.compression;
    const [t, h, w] = size;
    const { micro_frame_size: mfs, temporal_overlap: overlap } = this.options;
    let lt: number | null;
    if (t === null) lt = null;
    else if (t === 1) lt = 1;
    else if (!mfs) lt = Math.floor((t - 1) / pt) + 1;
    else if (!overlap) lt = Math.floor(t / mfs) * this.microLatentFrames!;
    else lt = Math.floor((t - 1) / (mfs - 1)) * this.microLatentFrames!;
    const sp = (v: number | null, p: number) => (v === null ? null : Math.floor((v - 1) / p) + 1);
    return [lt, sp(h, ph), sp(w, pw)];
  }

  /** Chunk frame ranges [start, end) the encoder sees for T frames. */
  encodeChunks(t: number): [number, number][] {
    const { micro_frame_size: mfs, temporal_overlap: overlap } = this.options;
    if (!mfs || t === 1) return [[0, t]];
    const out: [number, number][] = [];
    const stepSize = overlap ? mfs - 1 : mfs;
    const stop = overlap ? t - 1 : t;
    for (let s = 0; s < stop; s += stepSize) out.push([s, Math.min(s + mfs, t)]);
    return out;
  }

  /** Encodes x [B, C, T, H, W] in [-1, 1] to the normalized latent z [B, z, T', h, w]. */
  encode(x: tf.Tensor5D, options: EncodeOptions = {}): tf.Tensor5D {
    const r = this.encodeWithPosterior(x, options);
    tf.dispose([r.moments, r.mean, r.logvar]);
    return r.z;
  }

  /** encode(), also returning the moments and the (clamped) posterior parameters. */
  encodeWithPosterior(x: tf.Tensor5D, options: EncodeOptions = {}): EncodeResult {
    this.checkVideo(x);
    const momentsCL = this.encodeMoments(x, options);
    const post = new DiagonalGaussian(momentsCL);
    try {
      const noiseCL = options.noise ? (toChannelsLast(options.noise) as tf.Tensor5D) : null;
      if (noiseCL && !sameShape(noiseCL.shape, post.mean.shape)) {
        const want = toTorchShape(post.mean.shape);
        noiseCL.dispose();
        throw new Error(`encode: noise has shape [${options.noise!.shape}], expected [${want}] (the latent's shape)`);
      }
      const sampled = options.samplePosterior === false ? post.mode() : post.sample(noiseCL, options.seed);
      noiseCL?.dispose();
      const zCL = normalizeLatent(sampled, this.options.normalization);
      sampled.dispose();
      const cf = (t: tf.Tensor) => toChannelsFirst(t) as tf.Tensor5D;
      const out = { z: cf(zCL), moments: cf(momentsCL), mean: cf(post.mean), logvar: cf(post.logvar) };
      zCL.dispose();
      return out;
    } finally {
      post.dispose();
      momentsCL.dispose();
    }
  }

  /** Decodes a normalized latent z [B, z, T', h, w] to video [B, C, T, H, W] (the reference's decode). */
  decode(z: tf.Tensor5D, options: DecodeOptions = {}): tf.Tensor5D {
    const zCL = this.prepareLatent(z, options.recorder);
    try {
      const items = this.batchRanges(zCL.shape[0]);
      const perItem: tf.Tensor5D[] = [];
      items.forEach(([b0, b1], item) => {
        const zb = tf.slice(zCL, [b0, 0, 0, 0, 0], [b1 - b0, -1, -1, -1, -1]) as tf.Tensor5D;
        const chunks = this.decodeChunkRanges(zb.shape[1]);
        const list: tf.Tensor5D[] = [];
        chunks.forEach(([s, e], k) => {
          const zc = tf.slice(zb, [0, s, 0, 0, 0], [-1, e - s, -1, -1, -1]) as tf.Tensor5D;
          let out = this.vae.decoder.forward(zc, this.tap('dec', k, options.recorder));
          zc.dispose();
          this.recordBoundary(out, k, options.recorder);
          if (this.options.temporal_overlap && this.options.micro_frame_size && k > 0 && list.length > 0) {
            const prev = list[list.length - 1]!;
            const merged = tf.tidy(() => {
              const n = prev.shape[1];
              const head = tf.slice(prev, [0, 0, 0, 0, 0], [-1, n - 1, -1, -1, -1]);
              const last = tf.slice(prev, [0, n - 1, 0, 0, 0], [-1, 1, -1, -1, -1]);
              const first = tf.slice(out, [0, 0, 0, 0, 0], [-1, 1, -1, -1, -1]);
              return tf.concat([head, tf.mul(tf.add(last, first), 0.5)], 1) as tf.Tensor5D;
            });
            prev.dispose();
            list[list.length - 1] = merged;
            const rest = tf.slice(out, [0, 1, 0, 0, 0], [-1, -1, -1, -1, -1]) as tf.Tensor5D;
            out.dispose();
            out = rest;
          }
          list.push(out);
          options.onProgress?.({ op: 'decode', chunk: k, chunks: chunks.length, item, items: items.length });
        });
        zb.dispose();
        perItem.push(concatDispose(list, 1));
      });
      const video = concatDispose(perItem, 0);
      const out = toChannelsFirst(video) as tf.Tensor5D;
      video.dispose();
      return out;
    } finally {
      zCL.dispose();
    }
  }

  /**
   * Decodes chunk by chunk and yields each stretch of final frames as soon as it is known (with
   * overlap, a chunk's last frame waits for the next chunk's first). Only one chunk's activations
   * live at a time, so peak memory does not grow with the number of frames. The caller disposes
   * every yielded `frames` tensor. Batch items are decoded one after another (yielded per item
   * with a batch of 1 when micro_batch_size is 1).
   */
  *decodeFrames(z: tf.Tensor5D, options: DecodeOptions = {}): Generator<DecodedFrames & { item: number }> {
    const zCL = this.prepareLatent(z, options.recorder);
    const overlap = this.options.temporal_overlap && !!this.options.micro_frame_size;
    try {
      const items = this.batchRanges(zCL.shape[0]);
      for (let item = 0; item < items.length; item++) {
        const [b0, b1] = items[item]!;
        const zb = tf.slice(zCL, [b0, 0, 0, 0, 0], [b1 - b0, -1, -1, -1, -1]) as tf.Tensor5D;
        const chunks = this.decodeChunkRanges(zb.shape[1]);
        let pending: tf.Tensor5D | null = null;
        let emitted = 0;
        const emit = (frames: tf.Tensor5D, k: number): DecodedFrames & { item: number } => {
          const cf = toChannelsFirst(frames) as tf.Tensor5D;
          frames.dispose();
          const piece = { frames: cf, start: emitted, chunk: k, chunks: chunks.length, item };
          emitted += cf.shape[2];
          return piece;
        };
        try {
          for (let k = 0; k < chunks.length; k++) {
            const [s, e] = chunks[k]!;
            const zc = tf.slice(zb, [0, s, 0, 0, 0], [-1, e - s, -1, -1, -1]) as tf.Tensor5D;
            let out: tf.Tensor5D = this.vae.decoder.forward(zc, this.tap('dec', k, options.recorder));
            zc.dispose();
            this.recordBoundary(out, k, options.recorder);
            options.onProgress?.({ op: 'decode', chunk: k, chunks: chunks.length, item, items: items.length });
            if (overlap && pending) {
              const p: tf.Tensor5D = pending;
              const avg = tf.tidy(() => tf.mul(tf.add(p, tf.slice(out, [0, 0, 0, 0, 0], [-1, 1, -1, -1, -1])), 0.5)) as tf.Tensor5D;
              p.dispose();
              pending = null;
              yield emit(avg, k);
              const rest = tf.slice(out, [0, 1, 0, 0, 0], [-1, -1, -1, -1, -1]) as tf.Tensor5D;
              out.dispose();
              out = rest;
            }
            const n = out.shape[1];
            if (overlap && k < chunks.length - 1 && n > 0) {
              pending = tf.slice(out, [0, n - 1, 0, 0, 0], [-1, 1, -1, -1, -1]) as tf.Tensor5D;
              const head = tf.slice(out, [0, 0, 0, 0, 0], [-1, n - 1, -1, -1, -1]) as tf.Tensor5D;
              out.dispose();
              out = head;
            }
            if (out.shape[1] > 0) yield emit(out, k);
            else out.dispose();
          }
          if (pending) {
            yield emit(pending, chunks.length - 1);
            pending = null;
          }
        } finally {
          (pending as tf.Tensor | null)?.dispose();
          zb.dispose();
        }
      }
    } finally {
      zCL.dispose();
    }
  }

  /** Latent chunk ranges [start, end) the decoder sees for T' latent frames. */
  decodeChunkRanges(t: number): [number, number][] {
    const m = this.microLatentFrames;
    if (!m || !this.options.micro_batch_size) return [[0, t]];
    const out: [number, number][] = [];
    for (let s = 0; s < t; s += m) out.push([s, Math.min(s + m, t)]);
    return out;
  }

  /** Output frames for T' latent frames. */
  decodedFrames(t: number): number {
    const ranges = this.decodeChunkRanges(t);
    const overlap = this.options.temporal_overlap && !!this.options.micro_frame_size;
    let n = 0;
    ranges.forEach(([s, e], k) => {
      const f = this.vae.decoder.outputFrames(e - s);
      n += overlap && k > 0 ? Math.max(f - 1, 0) : f;
    });
    return n;
  }

  private encodeMoments(x: tf.Tensor5D, options: EncodeOptions): tf.Tensor5D {
    const xCL = toChannelsLast(x) as tf.Tensor5D;
    try {
      // Without micro_batch_size the reference runs the encoder on the whole input (training path).
      if (!this.options.micro_batch_size) return this.vae.encoder.forward(xCL, this.tap('enc', 0, options.recorder));
      const items = this.batchRanges(xCL.shape[0]);
      const perItem: tf.Tensor5D[] = [];
      items.forEach(([b0, b1], item) => {
        const xb = tf.slice(xCL, [b0, 0, 0, 0, 0], [b1 - b0, -1, -1, -1, -1]) as tf.Tensor5D;
        const chunks = this.encodeChunks(xb.shape[1]);
        const list = chunks.map(([s, e], k) => {
          const xc = tf.slice(xb, [0, s, 0, 0, 0], [-1, e - s, -1, -1, -1]) as tf.Tensor5D;
          const m = this.vae.encoder.forward(xc, this.tap('enc', k, options.recorder));
          xc.dispose();
          options.onProgress?.({ op: 'encode', chunk: k, chunks: chunks.length, item, items: items.length });
          return m;
        });
        xb.dispose();
        perItem.push(concatDispose(list, 1));
      });
      return concatDispose(perItem, 0);
    } finally {
      xCL.dispose();
    }
  }

  private prepareLatent(z: tf.Tensor5D, recorder?: Recorder): tf.Tensor5D {
    if (z.rank !== 5) throw new Error(`decode: latent has shape [${z.shape}], expected [B, ${this.vae.zChannels}, T', h, w]`);
    if (z.shape[1] !== this.vae.zChannels) {
      throw new Error(`decode: latent has ${z.shape[1]} channels (shape [${z.shape}]), expected ${this.vae.zChannels} (layout [B, C, T, H, W])`);
    }
    const zCL = toChannelsLast(z);
    const un = unnormalizeLatent(zCL, this.options.normalization) as tf.Tensor5D;
    zCL.dispose();
    if (recorder) tf.tidy(() => recorder('z_unnorm', toChannelsFirst(un)));
    return un;
  }

  private checkVideo(x: tf.Tensor): void {
    const cin = this.vae.config.encoder.in_channels;
    if (x.rank !== 5) throw new Error(`encode: input has shape [${x.shape}], expected [B, ${cin}, T, H, W]`);
    if (x.shape[1] !== cin) throw new Error(`encode: input has ${x.shape[1]} channels (shape [${x.shape}]), expected ${cin} (layout [B, C, T, H, W])`);
  }

  private batchRanges(b: number): [number, number][] {
    const m = this.options.micro_batch_size ?? b;
    const out: [number, number][] = [];
    for (let s = 0; s < b; s += m) out.push([s, Math.min(s + m, b)]);
    return out;
  }

  private tap(prefix: 'enc' | 'dec', chunk: number, recorder?: Recorder): Tap {
    if (!recorder) return undefined;
    return (name, x) => tf.tidy(() => recorder(`${prefix}.${name}.chunk${chunk}`, toChannelsFirst(x)));
  }

  private recordBoundary(out: tf.Tensor5D, chunk: number, recorder?: Recorder): void {
    if (!recorder) return;
    tf.tidy(() => {
      const n = out.shape[1];
      recorder(`dec.chunk${chunk}.first_frame`, toChannelsFirst(tf.slice(out, [0, 0, 0, 0, 0], [-1, 1, -1, -1, -1])));
      recorder(`dec.chunk${chunk}.last_frame`, toChannelsFirst(tf.slice(out, [0, n - 1, 0, 0, 0], [-1, 1, -1, -1, -1])));
    });
  }
}

function concatDispose(list: tf.Tensor5D[], axis: number): tf.Tensor5D {
  if (list.length === 1) return list[0]!;
  const out = tf.concat(list, axis) as tf.Tensor5D;
  for (const t of list) t.dispose();
  return out;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const toTorchShape = (s: readonly number[]) => [s[0], s[4], s[1], s[2], s[3]];
