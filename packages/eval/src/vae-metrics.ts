// VAE reconstruction metrics as the reference's eval/vae aggregates them: each metric per frame of
// each (real, reconstructed) pair, averaged over the videos at each frame index, and the overall
// value the mean over videos and frames. LPIPS runs only with a perceptual network the caller
// loaded from local weights (none can be downloaded); FloLPIPS (PWC-Net flow) is not implemented.
import { tf } from '@opensora-ts/kernels';
import { checkSameGeometry, frameUnit, type Video } from './frames.js';
import { psnrPerFrame } from './psnr.js';
import { ssimPerFrame } from './ssim.js';

/** A perceptual distance over image batches [N, H, W, 3] in [-1, 1] -> [N] (e.g. the vae package's LPIPS). */
export type PerceptualDistance = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor1D;

export interface MetricSeries {
  /** Mean over videos at each frame index. */
  perFrame: number[];
  /** Per video: the mean over its frames. */
  perVideo: number[];
  /** Mean over every (video, frame). */
  mean: number;
}

export interface ReconstructionMetrics {
  videos: number;
  frames: number;
  psnr: MetricSeries;
  ssim: MetricSeries;
  /** Present when a perceptual network was given; `lpipsNet` names it. */
  lpips?: MetricSeries;
  lpipsNet?: string;
  /** Metrics that were asked for or exist in the reference but were not computed, with why. */
  skipped: { metric: string; reason: string }[];
}

export interface ReconstructionOptions {
  lpips?: { fn: PerceptualDistance; net: string };
  onVideo?: (done: number, total: number) => void;
}

function series(rows: number[][]): MetricSeries {
  const T = rows[0]?.length ?? 0;
  const perFrame = Array.from({ length: T }, (_, t) => rows.reduce((s, r) => s + r[t]!, 0) / rows.length);
  const perVideo = rows.map((r) => r.reduce((s, x) => s + x, 0) / r.length);
  return { perFrame, perVideo, mean: perVideo.reduce((s, x) => s + x, 0) / Math.max(1, perVideo.length) };
}

function lpipsPerFrame(a: Video, b: Video, fn: PerceptualDistance): number[] {
  const { numFrames: T, height: H, width: W } = a;
  const toBatch = (v: Video) => {
    const d = new Float32Array(T * H * W * 3);
    for (let t = 0; t < T; t++) {
      const f = frameUnit(v, t);
      for (let i = 0; i < f.length; i++) d[t * f.length + i] = f[i]! * 2 - 1;
    }
    return tf.tensor4d(d, [T, H, W, 3]);
  };
  const ta = toBatch(a);
  const tb = toBatch(b);
  try {
    const r = fn(ta, tb);
    const v = Array.from(r.dataSync());
    r.dispose();
    return v;
  } finally {
    ta.dispose();
    tb.dispose();
  }
}

/** One pair's metrics per frame: what a rank computes for each pair it owns, before the merge. */
export interface PairMetrics {
  psnr: number[];
  ssim: number[];
  lpips?: number[];
}

/** PSNR, SSIM (and LPIPS when given) per frame of one pair of equal geometry. */
export function pairMetrics(real: Video, recon: Video, o: Pick<ReconstructionOptions, 'lpips'> = {}, label = 'pair'): PairMetrics {
  checkSameGeometry(real, recon, label);
  const out: PairMetrics = { psnr: psnrPerFrame(real, recon), ssim: ssimPerFrame(real, recon) };
  if (o.lpips) out.lpips = lpipsPerFrame(real, recon, o.lpips.fn);
  return out;
}

/**
 * The eval/vae aggregates of per-pair metrics (in pair order): what one process computes from
 * every pair, and what rank 0 computes from the pairs gathered from all ranks.
 */
export function combinePairMetrics(rows: readonly PairMetrics[], lpipsNet?: string): ReconstructionMetrics {
  if (rows.length === 0) throw new Error('reconstructionMetrics: no video pairs.');
  const T = rows[0]!.psnr.length;
  rows.forEach((r, i) => {
    if (r.psnr.length !== T) throw new Error(`pair ${i}: ${r.psnr.length} frames, the first pair has ${T}; evaluate one clip length at a time.`);
  });
  const withLpips = lpipsNet !== undefined;
  if (withLpips && rows.some((r) => !r.lpips)) throw new Error('reconstructionMetrics: LPIPS was asked for but a pair has none (a stored result from a run without LPIPS?).');
  const skipped: ReconstructionMetrics['skipped'] = [];
  if (!withLpips) skipped.push({ metric: 'lpips', reason: 'no LPIPS weights given (--lpips-weights FILE.safetensors); they cannot be downloaded here' });
  skipped.push({ metric: 'flolpips', reason: 'FloLPIPS needs PWC-Net flow weights and is not implemented' });
  const out: ReconstructionMetrics = { videos: rows.length, frames: T, psnr: series(rows.map((r) => r.psnr)), ssim: series(rows.map((r) => r.ssim)), skipped };
  if (withLpips) {
    out.lpips = series(rows.map((r) => r.lpips!));
    out.lpipsNet = lpipsNet;
  }
  return out;
}

/** PSNR, SSIM (and LPIPS when given) over pairs of real and reconstructed videos of equal geometry. */
export function reconstructionMetrics(pairs: { real: Video; recon: Video }[], o: ReconstructionOptions = {}): ReconstructionMetrics {
  if (pairs.length === 0) throw new Error('reconstructionMetrics: no video pairs.');
  const T = pairs[0]!.real.numFrames;
  const rows = pairs.map(({ real, recon }, i) => {
    // Checked before the (costly) metrics of a pair of another length.
    if (real.numFrames !== T) throw new Error(`pair ${i}: ${real.numFrames} frames, the first pair has ${T}; evaluate one clip length at a time.`);
    const r = pairMetrics(real, recon, o, `pair ${i}`);
    o.onVideo?.(i + 1, pairs.length);
    return r;
  });
  return combinePairMetrics(rows, o.lpips?.net);
}
