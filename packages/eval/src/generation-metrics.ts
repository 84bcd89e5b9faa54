// Generation metrics that need no pretrained network.
// - temporalFlickering: VBench's dimension as VBench computes it (mean absolute difference of
//   consecutive uint8 frames, mapped to (255 - mae) / 255).
// - motionSmoothnessEstimate: VBench's protocol (drop the odd frames, re-create them by frame
//   interpolation, compare) with a classical flow-based midpoint interpolation instead of the AMT
//   network. An ESTIMATE: its values are not VBench's numbers.
// - dynamicDegreeEstimate: VBench's protocol (frames at ~8 fps, the mean of the top 5% flow
//   magnitudes per pair, VBench's size/fps thresholds) with Lucas-Kanade flow instead of RAFT.
//   An ESTIMATE as well.
import { denseFlow, toGrey } from '@opensora-ts/data';
import type { Video } from './frames.js';
import { toByteFrames } from './adherence.js';

/** VBench temporal flickering of one video: 1 = no change between frames. */
export function temporalFlickering(video: Video): number {
  const fr = toByteFrames(video);
  if (fr.numFrames < 2) throw new Error('temporalFlickering: needs at least 2 frames.');
  const n = fr.height * fr.width * 3;
  let total = 0;
  for (let t = 0; t + 1 < fr.numFrames; t++) {
    let s = 0;
    const a = t * n;
    const b = (t + 1) * n;
    for (let i = 0; i < n; i++) s += Math.abs(fr.data[a + i]! - fr.data[b + i]!);
    total += s / n;
  }
  return (255 - total / (fr.numFrames - 1)) / 255;
}

function bilinear(plane: Uint8Array, h: number, w: number, c: number, ch: number, x: number, y: number): number {
  x = Math.min(Math.max(x, 0), w - 1);
  y = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const x1 = Math.min(x0 + 1, w - 1);
  const y1 = Math.min(y0 + 1, h - 1);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number) => plane[(yy * w + xx) * c + ch]!;
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

export interface FlowEstimateOptions {
  /** Short side the flow is computed at (default 72). */
  analysisSize?: number;
}

/**
 * Motion smoothness ESTIMATE: frames 0, 2, 4, ... are kept, each odd frame is re-created halfway
 * along the classical flow between its neighbours, and (255 - mean |re-created - real|) / 255 is
 * returned. Smooth, linear motion scores near 1.
 */
export function motionSmoothnessEstimate(video: Video, o: FlowEstimateOptions = {}): number {
  const fr = toByteFrames(video);
  const { height: H, width: W } = fr;
  if (fr.numFrames < 3) throw new Error('motionSmoothnessEstimate: needs at least 3 frames.');
  const factor = Math.max(1, Math.floor(Math.min(H, W) / (o.analysisSize ?? 72)));
  const n = H * W * 3;
  const diffs: number[] = [];
  for (let t = 0; t + 2 < fr.numFrames; t += 2) {
    const f = denseFlow(toGrey(fr.data, H, W, factor, t * n), toGrey(fr.data, H, W, factor, (t + 2) * n));
    const a = fr.data.subarray(t * n, (t + 1) * n);
    const b = fr.data.subarray((t + 2) * n, (t + 3) * n);
    const mid = fr.data.subarray((t + 1) * n, (t + 2) * n);
    let s = 0;
    for (let y = 0; y < H; y++) {
      const fy = Math.min(f.height - 1, Math.floor(y / factor));
      for (let x = 0; x < W; x++) {
        const fx = Math.min(f.width - 1, Math.floor(x / factor));
        const u = f.u[fy * f.width + fx]! * factor;
        const v = f.v[fy * f.width + fx]! * factor;
        for (let c = 0; c < 3; c++) {
          // Backward warp of both neighbours to the midpoint (flow assumed locally smooth).
          const p = 0.5 * (bilinear(a, H, W, 3, c, x - 0.5 * u, y - 0.5 * v) + bilinear(b, H, W, 3, c, x + 0.5 * u, y + 0.5 * v));
          s += Math.abs(Math.round(p) - mid[(y * W + x) * 3 + c]!);
        }
      }
    }
    diffs.push(s / n);
  }
  const mae = diffs.reduce((x, y) => x + y, 0) / diffs.length;
  return (255 - mae) / 255;
}

export interface DynamicDegreeResult {
  /** Whether the video counts as dynamic (VBench's per-video value). */
  dynamic: boolean;
  /** Per pair: mean of the top 5% flow magnitudes, px at the video's size. */
  pairScores: number[];
  threshold: number;
  countNeeded: number;
}

/** Dynamic degree ESTIMATE of one video (VBench's thresholds, classical flow). */
export function dynamicDegreeEstimate(video: Video, o: FlowEstimateOptions = {}): DynamicDegreeResult {
  const fr = toByteFrames(video);
  const { height: H, width: W } = fr;
  const fps = video.fps ?? 8;
  const interval = Math.max(1, Math.round(fps / 8));
  const idx: number[] = [];
  for (let t = 0; t < fr.numFrames; t += interval) idx.push(t);
  const threshold = Math.max(1, 8 / fps) * 6 * (Math.min(H, W) / 256);
  const countNeeded = Math.round(4 * (idx.length / 16));
  const factor = Math.max(1, Math.floor(Math.min(H, W) / (o.analysisSize ?? 72)));
  const n = H * W * 3;
  const pairScores: number[] = [];
  let count = 0;
  let dynamic = false;
  for (let k = 0; k + 1 < idx.length; k++) {
    const f = denseFlow(toGrey(fr.data, H, W, factor, idx[k]! * n), toGrey(fr.data, H, W, factor, idx[k + 1]! * n));
    const mags = new Float64Array(f.u.length);
    for (let i = 0; i < mags.length; i++) mags[i] = Math.hypot(f.u[i]!, f.v[i]!) * factor;
    mags.sort();
    const cut = Math.max(1, Math.floor(mags.length * 0.05));
    let s = 0;
    for (let i = mags.length - cut; i < mags.length; i++) s += mags[i]!;
    const score = s / cut;
    pairScores.push(score);
    if (score > threshold) count++;
    if (count >= countNeeded) dynamic = true;
  }
  return { dynamic, pairScores, threshold, countNeeded };
}
