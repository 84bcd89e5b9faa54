// Motion tools for one's own data: a motion score (mean optical-flow magnitude, the `flow`
// column) and a camera-motion label (the `cmotion` column) from the global flow field. Labels
// follow the reference's detector: content moving right = "pan_left", moving down = "tilt_up";
// a clip gets the label most of its frame pairs agree on.
import { denseFlow, toGrey, type FlowField } from './optical-flow.js';
import { decodeFrames, type Frames } from './video-io.js';
import { probeMedia } from './ffmpeg.js';

export type CameraLabel = 'static' | 'pan_left' | 'pan_right' | 'tilt_up' | 'tilt_down' | 'zoom_in' | 'zoom_out';
export type ClipCameraLabel = CameraLabel | 'pan/tilt' | 'dynamic' | 'unknown';

export interface MotionOptions {
  /** Frame pairs analysed, spread over the clip (default 8). */
  maxPairs?: number;
  /** Frames between the two frames of a pair (default 1). */
  pairStep?: number;
  /** Analysis short side: frames are box-downscaled by an integer factor towards it (default 72). */
  analysisSize?: number;
  /** Median flow (normalised, px/frame at a 320-px short side) under which a pair is static (default 0.8). */
  staticThreshold?: number;
}

export interface MotionResult {
  /** Mean flow magnitude, px per frame at a 320-px short side (the `flow` column's scale). */
  flow: number;
  cmotion: ClipCameraLabel;
  pairs: { from: number; to: number; label: CameraLabel; median: number; mean: number; zoom: number; tx: number; ty: number }[];
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : 0.5 * (s[m - 1]! + s[m]!);
}

/** Classifies one flow field; `scale` converts analysis pixels to the normalised scale. */
export function classifyFlow(f: FlowField, scale: number, staticThreshold = 0.8): { label: CameraLabel; median: number; mean: number; zoom: number; tx: number; ty: number } {
  const { height: H, width: W, u, v } = f;
  const m = Math.max(2, Math.round(Math.min(H, W) * 0.06));
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const mags: number[] = [];
  const us: number[] = [];
  const vs: number[] = [];
  let num = 0;
  let den = 0;
  let rsum = 0;
  for (let y = m; y < H - m; y++) {
    for (let x = m; x < W - m; x++) {
      const k = y * W + x;
      const a = u[k]!;
      const b = v[k]!;
      mags.push(Math.hypot(a, b));
      us.push(a);
      vs.push(b);
      const rx = x - cx;
      const ry = y - cy;
      num += rx * a + ry * b;
      den += rx * rx + ry * ry;
      rsum += Math.hypot(rx, ry);
    }
  }
  const med = median(mags) * scale;
  const mean = (mags.reduce((s, x) => s + x, 0) / Math.max(1, mags.length)) * scale;
  // Radial expansion rate (least squares of flow = s * r) and the translation (median flow).
  const s = den > 0 ? num / den : 0;
  const zoom = s * (rsum / Math.max(1, mags.length)) * scale;
  const tx = median(us) * scale;
  const ty = median(vs) * scale;
  let label: CameraLabel;
  if (med < staticThreshold) label = 'static';
  else if (Math.abs(zoom) > Math.hypot(tx, ty)) label = zoom > 0 ? 'zoom_in' : 'zoom_out';
  else if (Math.abs(tx) >= Math.abs(ty)) label = tx > 0 ? 'pan_left' : 'pan_right';
  else label = ty > 0 ? 'tilt_up' : 'tilt_down';
  return { label, median: med, mean, zoom, tx, ty };
}

/** The clip label from per-pair labels, with the reference's fallbacks. */
export function voteCameraMotion(labels: CameraLabel[]): ClipCameraLabel {
  const counts = new Map<CameraLabel, number>();
  let best: CameraLabel | undefined;
  let bestN = 0;
  for (const l of labels) {
    const n = (counts.get(l) ?? 0) + 1;
    counts.set(l, n);
    if (n > bestN) {
      bestN = n;
      best = l;
    }
  }
  if (best && bestN > labels.length / 2) return best;
  if (counts.has('static')) return 'unknown';
  if (!counts.has('zoom_in') && !counts.has('zoom_out')) return 'pan/tilt';
  return 'dynamic';
}

/** Motion score and camera label of decoded frames. */
export function analyzeFrames(fr: Frames, opts: MotionOptions = {}): MotionResult {
  const T = fr.numFrames;
  const step = opts.pairStep ?? 1;
  const short = Math.min(fr.height, fr.width);
  const factor = Math.max(1, Math.floor(short / (opts.analysisSize ?? 72)));
  const scale = (factor * 320) / short;
  const nPairs = Math.max(0, Math.min(opts.maxPairs ?? 8, T - step));
  const pairs: MotionResult['pairs'] = [];
  const frameBytes = fr.height * fr.width * 3;
  for (let p = 0; p < nPairs; p++) {
    const from = nPairs === 1 ? 0 : Math.round((p * (T - 1 - step)) / (nPairs - 1));
    const g0 = toGrey(fr.data, fr.height, fr.width, factor, from * frameBytes);
    const g1 = toGrey(fr.data, fr.height, fr.width, factor, (from + step) * frameBytes);
    const c = classifyFlow(denseFlow(g0, g1), scale / step, opts.staticThreshold);
    pairs.push({ from, to: from + step, ...c });
  }
  const flow = pairs.length ? pairs.reduce((s, p) => s + p.mean, 0) / pairs.length : 0;
  return { flow, cmotion: pairs.length ? voteCameraMotion(pairs.map((p) => p.label)) : 'unknown', pairs };
}

/** What a metadata row already knows about a clip (saves the ffprobe run). */
export interface KnownGeometry {
  numFrames: number;
  height: number;
  width: number;
}

/** Decodes only the frames the analysis needs and scores a video file. */
export async function analyzeVideo(path: string, opts: MotionOptions = {}, known?: KnownGeometry): Promise<MotionResult> {
  const p = known ? { ...known, fps: NaN } : await probeMedia(path, true);
  const step = opts.pairStep ?? 1;
  const T = p.numFrames;
  const nPairs = Math.max(0, Math.min(opts.maxPairs ?? 8, T - step));
  const wanted = new Set<number>();
  for (let k = 0; k < nPairs; k++) {
    const from = nPairs === 1 ? 0 : Math.round((k * (T - 1 - step)) / (nPairs - 1));
    wanted.add(from);
    wanted.add(from + step);
  }
  const indices = [...wanted].sort((a, b) => a - b);
  if (indices.length === 0) return { flow: 0, cmotion: 'unknown', pairs: [] };
  const fr = await decodeFrames(path, { indices, width: p.width, height: p.height, fps: p.fps });
  // Re-pack as consecutive frames: pair k is (2k, 2k+1) in a compact buffer.
  const frameBytes = p.width * p.height * 3;
  const pos = new Map(indices.map((f, i) => [f, i]));
  const res: MotionResult = { flow: 0, cmotion: 'unknown', pairs: [] };
  const short = Math.min(p.height, p.width);
  const factor = Math.max(1, Math.floor(short / (opts.analysisSize ?? 72)));
  const scale = (factor * 320) / short;
  for (let k = 0; k < nPairs; k++) {
    const from = nPairs === 1 ? 0 : Math.round((k * (T - 1 - step)) / (nPairs - 1));
    const g0 = toGrey(fr.data, p.height, p.width, factor, pos.get(from)! * frameBytes);
    const g1 = toGrey(fr.data, p.height, p.width, factor, pos.get(from + step)! * frameBytes);
    res.pairs.push({ from, to: from + step, ...classifyFlow(denseFlow(g0, g1), scale / step, opts.staticThreshold) });
  }
  res.flow = res.pairs.length ? res.pairs.reduce((s, q) => s + q.mean, 0) / res.pairs.length : 0;
  res.cmotion = res.pairs.length ? voteCameraMotion(res.pairs.map((q) => q.label)) : 'unknown';
  return res;
}
