// Which video sizes a VAE codec takes, checked once for every caller (sampling, training, the CLI):
// height and width must be positive multiples of the spatial stride, the frame count must give at
// least one latent frame, and a frame count the codec cannot give back whole (18 with chunks of 17)
// is reported with the count it does give, so callers can warn instead of writing fewer frames.
import type { ChunkedVideoCodec } from './chunked-codec.js';

export interface VideoSize {
  numFrames: number;
  height: number;
  width: number;
}

export interface VideoSizeNames {
  /** How the caller names the size in messages (default 'size'): '--resolution', 'dataset.image_size'. */
  size?: string;
  /** How the caller names the frame count (default 'num_frames'): '--num-frames', 'bucket_config["144p"]'. */
  frames?: string;
}

export interface CheckedVideoSize {
  /** Latent size [T', h, w]. */
  latent: [number, number, number];
  /** Frames a decode of that latent gives back: equal to numFrames, or fewer (18 -> 17 with chunks of 17). */
  framesOut: number;
  /** Set when framesOut differs from numFrames: the nearest counts that decode back whole. */
  nearest?: number[];
}

function framesOut(codec: ChunkedVideoCodec, n: number): number {
  const t = codec.getLatentSize([n, null, null])[0]!;
  return t > 0 ? codec.decodedFrames(t) : 0;
}

/** Frame counts near `n` (one below, one above, if any) that a decode gives back whole. */
export function nearestFrameCounts(codec: ChunkedVideoCodec, n: number, limit = 4096): number[] {
  const exact = (k: number) => framesOut(codec, k) === k;
  const out: number[] = [];
  for (let k = Math.min(n - 1, limit); k >= 1; k--) if (exact(k)) { out.push(k); break; }
  for (let k = n + 1; k <= limit; k++) if (exact(k)) { out.push(k); break; }
  return out;
}

/**
 * Checks `size` against `codec` and returns its latent size and the frames a decode gives back.
 * Throws an Error naming the value (by `names`), what is expected and the nearest valid values.
 */
export function checkVideoSize(codec: ChunkedVideoCodec, size: VideoSize, names: VideoSizeNames = {}): CheckedVideoSize {
  const { numFrames, height, width } = size;
  const sizeName = names.size ?? 'size';
  const framesName = names.frames ?? 'num_frames';
  const stride = codec.vae.compression[1];
  const strideW = codec.vae.compression[2];
  if (![height, width].every((v) => Number.isInteger(v) && v > 0) || height % stride !== 0 || width % strideW !== 0) {
    const near = (v: number, m: number) => Math.max(m, Math.round(v / m) * m);
    throw new Error(
      `${sizeName} ${height}x${width}: height and width must be positive multiples of ${stride} (the VAE's spatial stride); the nearest valid size is ${near(height, stride)}x${near(width, strideW)}.`,
    );
  }
  if (!Number.isInteger(numFrames) || numFrames < 1) throw new Error(`${framesName} ${numFrames}: expected a positive integer (1 for an image).`);
  const latent = codec.getLatentSize([numFrames, height, width]) as [number, number, number];
  if (!(latent[0] > 0)) {
    const mfs = codec.options.micro_frame_size;
    const valid = nearestFrameCounts(codec, numFrames);
    throw new Error(
      `${framesName} ${numFrames}: gives no latent frames with this VAE${mfs ? ` (it encodes chunks of ${mfs} frames)` : ''}; use 1 (an image)${valid.length ? ` or ${valid.filter((v) => v > 1).join(' or ')}` : ''} frames.`,
    );
  }
  const out = framesOut(codec, numFrames);
  return out === numFrames ? { latent, framesOut: out } : { latent, framesOut: out, nearest: nearestFrameCounts(codec, numFrames) };
}
