// Shapes-world prompt adherence: does a video show what its prompt names? Three checks, each from
// classical image analysis (no pretrained network):
// - colour: the dominant palette colour of the foreground pixels is one the prompt names;
// - direction: the named colour's pixels, tracked by their centroid over all frames, move the way the
//   prompt says (object prompts only). A least-squares line through the centroids gives the velocity.
//   Position, not optical flow: a decoded video's colours flicker from frame to frame, which breaks
//   flow's brightness constancy, so a shape that does not move can show a steady flow (the demo VAE's
//   round trip of a still purple shape: 0.44 px/frame of flow, 0.02 of centroid motion).
// - camera: the data package's camera-motion labeller agrees with the prompt ('static' unless the
//   prompt moves the camera).
import { analyzeFrames, type CameraMotion, type ClipCameraLabel, type Direction, type Frames } from '@opensora-ts/data';
import { checkVideo, isByteArray, type Video } from './frames.js';
import { colorHistogram, paletteLabels, paletteNames, type PaletteOptions } from './foreground.js';
import { parseShapesPrompt, type ShapesPromptIntent } from './shapes-prompt.js';

export type AdherenceOptions = PaletteOptions;

export interface AdherenceResult {
  prompt: string;
  intent: ShapesPromptIntent;
  detected: {
    /** Dominant foreground colour, or null when no pixel matched the palette. */
    color: string | null;
    /** Foreground pixel share per colour (of all pixels). */
    colorShare: Record<string, number>;
    /** Velocity of the tracked colour's centroid, px/frame at the video's size (x right, y down), over the `frames` it appears in. */
    motion: { dx: number; dy: number; frames: number } | null;
    direction: Direction | 'none' | null;
    camera: ClipCameraLabel;
  };
  /** Per check: true/false, or null when the prompt does not ask for it. */
  correct: { color: boolean | null; direction: boolean | null; camera: boolean };
}

/** uint8 RGB frames for the data package's tools. */
export function toByteFrames(v: Video): Frames {
  checkVideo(v);
  if ((v.channels ?? 3) !== 3) throw new Error(`expected RGB frames, got ${v.channels} channels.`);
  const data = isByteArray(v.data) ? Uint8Array.from(v.data) : Uint8Array.from(v.data, (x) => Math.max(0, Math.min(255, Math.round(x * 255))));
  return { data, numFrames: v.numFrames, height: v.height, width: v.width, fps: v.fps ?? 8 };
}

/** Least-squares velocity of the centroid of colour `k`'s pixels, over the frames that show it (at least 2). */
function colorTrack(labels: Int8Array[], width: number, k: number): { dx: number; dy: number; frames: number } | null {
  const ts: number[] = [];
  const xs: number[] = [];
  const ys: number[] = [];
  labels.forEach((lab, t) => {
    let sx = 0;
    let sy = 0;
    let n = 0;
    for (let i = 0; i < lab.length; i++) {
      if (lab[i] !== k) continue;
      sx += i % width;
      sy += Math.floor(i / width);
      n++;
    }
    if (n === 0) return;
    ts.push(t);
    xs.push(sx / n);
    ys.push(sy / n);
  });
  if (ts.length < 2) return null;
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const tm = mean(ts);
  const xm = mean(xs);
  const ym = mean(ys);
  let stt = 0;
  let stx = 0;
  let sty = 0;
  ts.forEach((t, j) => {
    stt += (t - tm) ** 2;
    stx += (t - tm) * (xs[j]! - xm);
    sty += (t - tm) * (ys[j]! - ym);
  });
  return { dx: stx / stt, dy: sty / stt, frames: ts.length };
}

function directionOf(dx: number, dy: number, still: number): Direction | 'none' {
  if (Math.hypot(dx, dy) < still) return 'none';
  if (Math.abs(dx) >= Math.abs(dy)) return dx > 0 ? 'right' : 'left';
  return dy > 0 ? 'down' : 'up';
}

/** Runs the three checks on one video against its prompt. */
export function checkShapesAdherence(video: Video, prompt: string, o: AdherenceOptions = {}): AdherenceResult {
  const intent = parseShapesPrompt(prompt);
  const fr = toByteFrames(video);
  const labels = paletteLabels(fr, o);
  const hist = colorHistogram(labels);
  const total = fr.numFrames * fr.height * fr.width;
  let color: string | null = null;
  let best = 0;
  const colorShare: Record<string, number> = {};
  for (const [name, count] of hist) {
    colorShare[name] = count / total;
    if (count > best) {
      best = count;
      color = name;
    }
  }
  const track = intent.colors[0] ?? color;
  const k = track ? paletteNames().indexOf(track) : -1;
  const motion = k >= 0 ? colorTrack(labels, fr.width, k) : null;
  // "Still" below 0.15 px/frame at a 144-px short side (the generator's slowest shapes move 0.75).
  const stillThreshold = 0.15 * (Math.min(fr.height, fr.width) / 144);
  const direction = motion ? directionOf(motion.dx, motion.dy, stillThreshold) : null;
  const camera = analyzeFrames(fr).cmotion;
  const cameraMoves = intent.camera !== 'static';
  return {
    prompt,
    intent,
    detected: { color, colorShare, motion, direction, camera },
    correct: {
      color: intent.colors.length ? color !== null && intent.colors.includes(color) : null,
      direction: intent.direction !== undefined && !cameraMoves ? direction === intent.direction : null,
      camera: camera === (intent.camera as CameraMotion),
    },
  };
}

export interface AdherenceSummary {
  /** Share of videos whose dominant colour is a named one (over prompts naming a colour). */
  color_accuracy: number;
  /** Share of object-motion prompts whose foreground moves the named way ("stays still" included). */
  direction_accuracy: number;
  /** Share of videos whose camera label matches. */
  camera_accuracy: number;
  /** Videos scored. */
  n: number;
  n_color: number;
  n_direction: number;
}

/** Aggregates per-video results into the accuracies the sample issue reads. */
export function summarizeAdherence(results: readonly Pick<AdherenceResult, 'correct'>[]): AdherenceSummary {
  const rate = (xs: (boolean | null)[]) => {
    const v = xs.filter((x): x is boolean => x !== null);
    return { acc: v.length ? v.filter(Boolean).length / v.length : NaN, n: v.length };
  };
  const c = rate(results.map((r) => r.correct.color));
  const d = rate(results.map((r) => r.correct.direction));
  const m = rate(results.map((r) => r.correct.camera));
  return { color_accuracy: c.acc, direction_accuracy: d.acc, camera_accuracy: m.acc, n: results.length, n_color: c.n, n_direction: d.n };
}
