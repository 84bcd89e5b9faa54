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

/** PSNR, SSIM (and LPIPS when given) over pairs of real and reconstructed videos of equal geometry. */
export function reconstructionMetrics(pairs: { real: Video; recon: Video }[], o: ReconstructionOptions = {}): ReconstructionMetrics {
  if (pairs.length === 0) throw new Error('reconstructionMetrics: no video pairs.');
  const T = pairs[0]!.real.numFrames;
  const p: number[][] = [];
  const s: number[][] = [];
  const l: number[][] = [];
  pairs.forEach(({ real, recon }, i) => {
    checkSameGeometry(real, recon, `pair ${i}`);
    if (real.numFrames !== T) throw new Error(`pair ${i}: ${real.numFrames} frames, the first pair has ${T}; evaluate one clip length at a time.`);
    p.push(psnrPerFrame(real, recon));
    s.push(ssimPerFrame(real, recon));
    if (o.lpips) l.push(lpipsPerFrame(real, recon, o.lpips.fn));
    o.onVideo?.(i + 1, pairs.length);
  });
  const skipped: ReconstructionMetrics['skipped'] = [];
  if (!o.lpips) skipped.push({ metric: 'lpips', reason: 'no LPIPS weights given (--lpips-weights FILE.safetensors); they cannot be downloaded here' });
  skipped.push({ metric: 'flolpips', reason: 'FloLPIPS needs PWC-Net flow weights and is not implemented' });
  const out: ReconstructionMetrics = { videos: pairs.length, frames: T, psnr: series(p), ssim: series(s), skipped };
  if (o.lpips) {
    out.lpips = series(l);
    out.lpipsNet = o.lpips.net;
  }
  return out;
}
