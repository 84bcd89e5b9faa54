// The reference's `resize_crop` transform and [-1, 1] normalisation, plus temporal sampling
// (TemporalRandomCrop + linspace). Frames are uint8 RGB, T x H x W x 3; results are float32
// in the reference's [C, T, H, W] order unless THWC is asked for.
import { pyRound, resizeBicubicPil, resizeBilinear } from './resize.js';

export type ClipLayout = 'CTHW' | 'THWC';

/** A float clip in [-1, 1]. */
export interface Clip {
  data: Float32Array;
  /** [3, T, H, W] (CTHW) or [T, H, W, 3] (THWC). */
  shape: [number, number, number, number];
  layout: ClipLayout;
}

/** A random integer source in [0, n) (inclusive bounds are the caller's business). */
export type RandomInt = (lo: number, hiInclusive: number) => number;

/**
 * TemporalRandomCrop(n * interval) then `linspace(begin, end - 1, n)` cast to int: the frame indices
 * the reference takes from a clip of `total` frames. Throws when the clip is too short.
 */
export function temporalCropIndices(total: number, numFrames: number, frameInterval: number, randint: RandomInt): number[] {
  const size = numFrames * frameInterval;
  const begin = randint(0, Math.max(0, total - size - 1));
  const end = Math.min(begin + size, total);
  if (end - begin < numFrames) {
    throw new Error(`not enough frames to sample: ${total} frames, need ${numFrames} at interval ${frameInterval}.`);
  }
  if (numFrames === 1) return [begin];
  const step = (end - 1 - begin) / (numFrames - 1);
  const idx: number[] = [];
  for (let i = 0; i < numFrames; i++) idx.push(Math.trunc(i === numFrames - 1 ? end - 1 : begin + i * step));
  return idx;
}

/** Scale (H, W) so that (th, tw) is covered, as the reference computes it; crop offsets per path. */
function coverGeometry(h: number, w: number, th: number, tw: number, image: boolean): { sh: number; sw: number; i: number; j: number } {
  const rh = th / h;
  const rw = tw / w;
  if (rh > rw) {
    const sw = pyRound(w * rh);
    // Video path: int(round(sw - tw) / 2.0) truncates; image path: int(round((sw - tw) / 2.0)).
    return { sh: th, sw, i: 0, j: image ? pyRound((sw - tw) / 2) : Math.trunc((sw - tw) / 2) };
  }
  const sh = pyRound(h * rw);
  return { sh, sw: tw, i: image ? pyRound((sh - th) / 2) : Math.trunc((sh - th) / 2), j: 0 };
}

function writeFrame(out: Float32Array, layout: ClipLayout, t: number, T: number, th: number, tw: number, get: (y: number, x: number, c: number) => number): void {
  const plane = T * th * tw;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      for (let c = 0; c < 3; c++) {
        const v = (get(y, x, c) - 0.5) / 0.5;
        if (layout === 'THWC') out[((t * th + y) * tw + x) * 3 + c] = v;
        else out[c * plane + (t * th + y) * tw + x] = v;
      }
    }
  }
}

/**
 * Video `resize_crop`: [0,1] floats, bilinear resize covering (th, tw), crop, Normalize(0.5, 0.5).
 * `frames` holds T uint8 RGB frames of h x w.
 */
export function resizeCropVideo(frames: Uint8Array, T: number, h: number, w: number, th: number, tw: number, layout: ClipLayout = 'CTHW'): Clip {
  const g = coverGeometry(h, w, th, tw, false);
  const out = new Float32Array(3 * T * th * tw);
  const f = new Float32Array(h * w * 3);
  const scaled = new Float32Array(g.sh * g.sw * 3);
  for (let t = 0; t < T; t++) {
    const base = t * h * w * 3;
    for (let k = 0; k < f.length; k++) f[k] = frames[base + k]! / 255;
    resizeBilinear(f, h, w, 3, g.sh, g.sw, scaled);
    writeFrame(out, layout, t, T, th, tw, (y, x, c) => scaled[((y + g.i) * g.sw + x + g.j) * 3 + c]!);
  }
  return { data: out, shape: layout === 'CTHW' ? [3, T, th, tw] : [T, th, tw, 3], layout };
}

/** Image `resize_crop`: PIL BICUBIC to cover (th, tw), crop, ToTensor, Normalize(0.5, 0.5); T = 1. */
export function resizeCropImage(rgb: Uint8Array, h: number, w: number, th: number, tw: number, layout: ClipLayout = 'CTHW'): Clip {
  const g = coverGeometry(h, w, th, tw, true);
  const scaled = resizeBicubicPil(rgb, h, w, 3, g.sh, g.sw);
  const out = new Float32Array(3 * th * tw);
  writeFrame(out, layout, 0, 1, th, tw, (y, x, c) => scaled[((y + g.i) * g.sw + x + g.j) * 3 + c]! / 255);
  return { data: out, shape: layout === 'CTHW' ? [3, 1, th, tw] : [1, th, tw, 3], layout };
}

/** [-1, 1] floats -> uint8 as the reference saves samples: clamp, (x+1)/2, *255 + 0.5, truncate. */
export function toUint8(data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const x = Math.min(1, Math.max(-1, data[i]!));
    out[i] = Math.min(255, Math.max(0, Math.trunc(((x + 1) / 2) * 255 + 0.5)));
  }
  return out;
}

/** CTHW -> THWC (interleaved RGB frames), e.g. to encode a model output. */
export function cthwToThwc(data: ArrayLike<number>, T: number, H: number, W: number): Float32Array {
  const out = new Float32Array(3 * T * H * W);
  const plane = T * H * W;
  for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) out[p * 3 + c] = data[c * plane + p]!;
  return out;
}
