// The frozen encoders in front of the DiT: a batch of decoded clips becomes VAE latents and its
// captions T5 (or demo) states. Both are cached on first use: latents in a LatentCache keyed by
// the sample's index string (with its fps and crop start, to reload the pixels for *_noisy
// references), captions in an EmbeddingCache, so later epochs and resumed runs skip the encoders.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { EmbeddingCache, type TextEncoder } from '@opensora-ts/conditioning';
import { IMG_FPS, LatentCache, loadSample, type LoadedBatch, type LoadedItem } from '@opensora-ts/data';
import { mixSeed, tf } from '@opensora-ts/kernels';
import { ChunkedVideoCodec, type OpenSoraVAE } from '@opensora-ts/vae';

export interface EncodedBatch {
  /** Latents [B, z, T', h, w]. */
  x0: tf.Tensor5D;
  /** Caption states [B, 1, L, D] and mask [B, L]. */
  y: tf.Tensor;
  mask: tf.Tensor;
  fps: number;
  /** Sample index strings (for error messages). */
  keys: string[];
  dispose(): void;
}

export interface LatentEncoderOptions {
  seed: number;
  samplePosterior: boolean;
  frameInterval: number;
  /** This process's writer name when several fill the cache at once (e.g. rank-3; see LatentCache). */
  cacheWriter?: string;
}

export class LatentEncoder {
  readonly codec: ChunkedVideoCodec;
  readonly cache: LatentCache;
  readonly text: EmbeddingCache;

  constructor(
    readonly vae: OpenSoraVAE,
    readonly textEncoder: TextEncoder,
    cacheRoot: string,
    identity: unknown,
    private readonly o: LatentEncoderOptions,
  ) {
    vae.eval();
    vae.freeze();
    this.codec = new ChunkedVideoCodec(vae);
    const h = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
    this.cache = new LatentCache(join(cacheRoot, `latents-${h}`), { shardBytes: 64 * 2 ** 20, ...(o.cacheWriter ? { writer: o.cacheWriter } : {}) });
    this.text = new EmbeddingCache(join(cacheRoot, 'text'), textEncoder);
  }

  /** Latent of one decoded clip [3, T, H, W] (seeded posterior draw per sample). */
  encodePixels(data: Float32Array, shape: readonly number[], seed: number): tf.Tensor5D {
    return tf.tidy(() => {
      const x = tf.tensor(data, [1, ...shape], 'float32') as unknown as tf.Tensor5D;
      return this.codec.encode(x, { samplePosterior: this.o.samplePosterior, seed });
    });
  }

  private latentOf(item: LoadedItem, key: string): { z: tf.Tensor; fps: number } {
    if (item.cached) {
      const z = item.cached.get('z');
      const fps = item.cached.get('fps');
      if (!z || !fps) throw new Error(`latent cache ${this.cache.dir}: entry '${key}' lacks z/fps; delete the folder to rebuild it.`);
      return { z: tf.tensor(z.data as Float32Array, z.shape, 'float32'), fps: (fps.data as Float32Array)[0]! };
    }
    const s = item.sample!;
    const zb = this.encodePixels(s.data, s.shape, mixSeed(this.o.seed, item.row.id, ...s.shape));
    const z = tf.squeeze(zb, [0]);
    zb.dispose();
    const fps = s.shape[1] === 1 ? IMG_FPS : s.fps;
    this.cache.put(key, {
      z: { shape: [...z.shape], data: z.dataSync() as Float32Array },
      fps: { shape: [1], data: new Float32Array([fps]) },
      frame0: { shape: [1], data: new Int32Array([s.frameIndices[0] ?? 0]) },
    });
    return { z, fps };
  }

  /** Latents and captions of a loaded batch; the caller disposes the result. */
  async encode(lb: LoadedBatch): Promise<EncodedBatch> {
    const [T, H, W] = lb.batch.thw;
    const zs: tf.Tensor[] = [];
    let fps = 24;
    lb.items.forEach((item, i) => {
      const r = this.latentOf(item, `${item.row.id}-${T}-${H}-${W}`);
      zs.push(r.z);
      if (i === 0) fps = r.fps;
    });
    const x0 = tf.stack(zs) as tf.Tensor5D;
    tf.dispose(zs);
    const enc = await this.text.encode(lb.items.map((it) => it.row.text));
    const keys = lb.items.map((it) => `${it.row.id}-${T}-${H}-${W} (${it.row.fields.path ?? it.row.path})`);
    return { x0, y: enc.states, mask: enc.mask, fps, keys, dispose: () => tf.dispose([x0, enc.states, enc.mask]) };
  }

  /** Pixels [B, 3, T, H, W] of a batch again (same crop as its cached latent), for *_noisy references. */
  async pixels(lb: LoadedBatch): Promise<tf.Tensor5D> {
    const [T, H, W] = lb.batch.thw;
    const clips: Float32Array[] = [];
    for (const item of lb.items) {
      if (item.sample) {
        clips.push(item.sample.data);
        continue;
      }
      const start = (item.cached?.get('frame0')?.data as Int32Array | undefined)?.[0] ?? 0;
      const s = await loadSample(item.row.path, { numFrames: T, height: H, width: W, frameInterval: this.o.frameInterval, totalFrames: item.row.numFrames, randint: () => start });
      clips.push(s.data);
    }
    const n = 3 * T * H * W;
    const all = new Float32Array(clips.length * n);
    clips.forEach((c, i) => all.set(c, i * n));
    return tf.tensor(all, [clips.length, 3, T, H, W], 'float32') as tf.Tensor5D;
  }

  flush(): void {
    this.cache.flush();
  }

  close(): void {
    this.cache.close();
  }
}
