// The resolution- and length-aware timestep shift of Open-Sora 1.2/1.3 (spec §3.3). Timesteps are
// per-row scalars, so this runs on the host with explicit float32 rounding, which reproduces the
// reference's tensor arithmetic bit for bit (and its bf16 metadata path, see `metaDtype`).
import { roundBf16, type HostFloat } from './bf16.js';
import type { SeededRandom } from '@opensora-ts/kernels';

/** The size of the video being generated or trained on, in pixels and pixel frames. */
export interface VideoMeta {
  height: number;
  width: number;
  /** Pixel frames (1 = image). */
  numFrames: number;
  fps?: number;
  /** height / width. */
  ar?: number;
}

export interface TimestepTransformOptions {
  /** transform_scale: multiplies the ratio for videos (1.0 in every shipped config, and forced to 1.0 in training). */
  scale?: number;
  numTimesteps?: number;
  /** scale_temporal: when false every input counts as an image. */
  scaleTemporal?: boolean;
  baseResolution?: number;
  baseNumFrames?: number;
  /**
   * The dtype the metadata (height, width, num_frames) arrives in. The reference's inference and
   * training scripts pass bf16 tensors, so height*width, the square roots, the ratio and `ratio - 1`
   * are rounded to bf16 while t stays float32 (720p/113f: ratio 9.875 instead of 9.9216).
   * 'float32' is the exact path. Default 'float32'.
   */
  metaDtype?: HostFloat;
  /** uniform_over_threshold: for videos, shifted s above it is redrawn from U(u, 1) (needs `rng`). */
  uniformOverThreshold?: number | null;
  rng?: SeededRandom;
}

export interface TransformedTimesteps {
  /** Shifted timesteps, float32 values. */
  t: number[];
  /** The shift ratio per row (after `scale`), float32 or bf16 values. */
  ratio: number[];
}

const f = Math.fround;

/** The shift ratio sqrt(h*w / base_res) * sqrt(F / base_F) for one row of metadata. */
function rowRatio(h: number, w: number, nf: number, isImage: boolean, o: Required<Omit<TimestepTransformOptions, 'rng' | 'uniformOverThreshold'>>): number {
  // In bf16 every tensor op rounds its float32 result to bf16 (torch computes bf16 ops in float).
  const r = o.metaDtype === 'bfloat16' ? (x: number) => roundBf16(f(x)) : f;
  const H = r(h);
  const W = r(w);
  const res = r(H * W);
  const F = isImage ? r(1) : r(Math.floor(r(r(nf) - 1) / 4));
  const ratioSpace = r(Math.sqrt(r(res / o.baseResolution)));
  const ratioTime = r(Math.sqrt(r(F / o.baseNumFrames)));
  let ratio = r(ratioSpace * ratioTime);
  if (!isImage) ratio = r(ratio * o.scale);
  return ratio;
}

function pick(v: number | readonly number[], i: number, name: string): number {
  if (typeof v === 'number') return v;
  const x = v.length === 1 ? v[0] : v[i];
  if (x === undefined) throw new RangeError(`timestepTransform: ${name} has ${v.length} rows, expected 1 or one per timestep.`);
  return x;
}

/**
 * timestep_transform: s = t/T; s' = ratio*s / (1 + (ratio-1)*s); returns s'*T per row.
 * `meta` fields may be one value or one per row; image-ness is decided by row 0 (as the reference).
 */
export function timestepTransform(
  t: readonly number[],
  meta: { height: number | readonly number[]; width: number | readonly number[]; numFrames: number | readonly number[] },
  options: TimestepTransformOptions = {},
): TransformedTimesteps {
  const o = {
    scale: options.scale ?? 1.0,
    numTimesteps: options.numTimesteps ?? 1000,
    scaleTemporal: options.scaleTemporal ?? true,
    baseResolution: options.baseResolution ?? 512 * 512,
    baseNumFrames: options.baseNumFrames ?? 1,
    metaDtype: options.metaDtype ?? 'float32',
  };
  const isImage = pick(meta.numFrames, 0, 'numFrames') === 1 || !o.scaleTemporal;
  const u = options.uniformOverThreshold ?? null;
  if (u !== null && !isImage && !options.rng) throw new Error('timestepTransform: uniformOverThreshold needs an rng to redraw timesteps.');
  const out: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const ratio = rowRatio(pick(meta.height, i, 'height'), pick(meta.width, i, 'width'), pick(meta.numFrames, i, 'numFrames'), isImage, o);
    // `ratio - 1` is a tensor-minus-scalar op: it keeps the metadata dtype (bf16 rounds here too).
    const ratioM1 = o.metaDtype === 'bfloat16' ? roundBf16(f(ratio - 1)) : f(ratio - 1);
    const s = f(f(t[i]!) / o.numTimesteps);
    let s2 = f(f(ratio * s) / f(1 + f(ratioM1 * s)));
    if (u !== null && !isImage && s2 > u) s2 = f(f(options.rng!.uniform() * (1 - u)) + u);
    out.push(f(s2 * o.numTimesteps));
    ratios.push(ratio);
  }
  return { t: out, ratio: ratios };
}
