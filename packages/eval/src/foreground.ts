// Foreground of a shapes-world frame: pixels close to one of the generator's palette colours and
// saturated (or, for white, bright and grey). The textured background is low-saturation and
// mid-bright by construction, so it rarely passes; a generated video's blurrier colours still do
// within the tolerance.
import { SHAPE_COLORS } from '@opensora-ts/data';
import type { Video } from './frames.js';
import { isByteArray } from './frames.js';

export interface PaletteOptions {
  /** Largest RGB distance (0..255 units) from a palette colour (default 70). */
  maxDistance?: number;
  /** Smallest HSV saturation of a chromatic pixel (default 0.4). */
  minSaturation?: number;
}

const NAMES = Object.keys(SHAPE_COLORS);
const RGB = NAMES.map((n) => SHAPE_COLORS[n]!);

/** Index into `paletteNames()` of the colour a pixel belongs to, or -1 for background. */
export function classifyPixel(r: number, g: number, b: number, o: PaletteOptions = {}): number {
  const maxD = o.maxDistance ?? 70;
  const minS = o.minSaturation ?? 0.4;
  const mx = Math.max(r, g, b);
  const mn = Math.min(r, g, b);
  const sat = mx > 0 ? (mx - mn) / mx : 0;
  let best = -1;
  let bestD = maxD * maxD;
  for (let k = 0; k < RGB.length; k++) {
    const c = RGB[k]!;
    const d = (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
    if (d <= bestD) {
      bestD = d;
      best = k;
    }
  }
  if (best < 0) return -1;
  const white = NAMES[best] === 'white';
  if (white ? sat > 0.2 || mx < 200 : sat < minS) return -1;
  return best;
}

export function paletteNames(): string[] {
  return [...NAMES];
}

/** Per-frame label maps (Int8Array of palette indices, -1 = background). */
export function paletteLabels(v: Video, o: PaletteOptions = {}): Int8Array[] {
  const scale = isByteArray(v.data) ? 1 : 255;
  const n = v.height * v.width;
  const out: Int8Array[] = [];
  for (let t = 0; t < v.numFrames; t++) {
    const lab = new Int8Array(n);
    const base = t * n * 3;
    for (let i = 0; i < n; i++) {
      const o3 = base + i * 3;
      lab[i] = classifyPixel(v.data[o3]! * scale, v.data[o3 + 1]! * scale, v.data[o3 + 2]! * scale, o);
    }
    out.push(lab);
  }
  return out;
}

/**
 * Pixel counts per palette colour over the whole video. A colour covering more than
 * `maxCoverage` of the frames on average is background (a textured background can sit near a
 * palette colour; shapes cover a small part of the frame) and counts 0.
 */
export function colorHistogram(labels: Int8Array[], maxCoverage = 0.35): Map<string, number> {
  const counts = new Array<number>(NAMES.length).fill(0);
  let pixels = 0;
  for (const lab of labels) {
    pixels += lab.length;
    for (const k of lab) if (k >= 0) counts[k]!++;
  }
  return new Map(NAMES.map((n, k) => [n, counts[k]! > maxCoverage * pixels ? 0 : counts[k]!]));
}
