// Shapes-world prompt adherence: does a video show what its prompt names? Three checks, each from
// classical image analysis (no pretrained network):
// - colour: the dominant palette colour of the foreground pixels is one the prompt names;
// - direction: the mean dense optical flow (the data package's Lucas-Kanade) over the named
//   colour's pixels points the way the prompt says (object prompts only);
// - camera: the data package's camera-motion labeller agrees with the prompt ('static' unless the
//   prompt moves the camera).
import { analyzeFrames, denseFlow, toGrey, type CameraMotion, type ClipCameraLabel, type Direction, type Frames } from '@opensora-ts/data';
import { checkVideo, isByteArray, type Video } from './frames.js';
import { colorHistogram, paletteLabels, paletteNames, type PaletteOptions } from './foreground.js';
import { parseShapesPrompt, type ShapesPromptIntent } from './shapes-prompt.js';

export interface AdherenceOptions extends PaletteOptions {
  /** Frame pairs used for the direction (spread over the clip; default 6). */
  directionPairs?: number;
  /** Short side the flow is computed at (default 72, as the data package's motion tools). */
  analysisSize?: number;
}

export interface AdherenceResult {
  prompt: string;
  intent: ShapesPromptIntent;
  detected: {
    /** Dominant foreground colour, or null when no pixel matched the palette. */
    color: string | null;
    /** Foreground pixel share per colour (of all pixels). */
    colorShare: Record<string, number>;
    /** Mean flow of the tracked colour's pixels, px/frame at the video's size (x right, y down). */
    flow: { dx: number; dy: number; pixels: number } | null;
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

/** Mean flow over the pixels of colour `k` in the first frame of each pair. */
function foregroundFlow(fr: Frames, labels: Int8Array[], k: number, o: AdherenceOptions): { dx: number; dy: number; pixels: number } | null {
  const T = fr.numFrames;
  if (T < 2) return null;
  const short = Math.min(fr.height, fr.width);
  const factor = Math.max(1, Math.floor(short / (o.analysisSize ?? 72)));
  const nPairs = Math.min(o.directionPairs ?? 6, T - 1);
  const frameBytes = fr.height * fr.width * 3;
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let p = 0; p < nPairs; p++) {
    const from = nPairs === 1 ? 0 : Math.round((p * (T - 2)) / (nPairs - 1));
    const g0 = toGrey(fr.data, fr.height, fr.width, factor, from * frameBytes);
    const g1 = toGrey(fr.data, fr.height, fr.width, factor, (from + 1) * frameBytes);
    const f = denseFlow(g0, g1);
    const lab = labels[from]!;
    for (let y = 0; y < f.height; y++) {
      for (let x = 0; x < f.width; x++) {
        // The block's centre pixel decides whether it is foreground.
        const cy = Math.min(fr.height - 1, y * factor + (factor >> 1));
        const cx = Math.min(fr.width - 1, x * factor + (factor >> 1));
        if (lab[cy * fr.width + cx] !== k) continue;
        sx += f.u[y * f.width + x]!;
        sy += f.v[y * f.width + x]!;
        n++;
      }
    }
  }
  if (n === 0) return null;
  return { dx: (sx / n) * factor, dy: (sy / n) * factor, pixels: n };
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
  const flow = k >= 0 ? foregroundFlow(fr, labels, k, o) : null;
  // "Still" below 0.15 px/frame at a 144-px short side (the generator's slowest shapes move 0.75).
  const stillThreshold = 0.15 * (Math.min(fr.height, fr.width) / 144);
  const direction = flow ? directionOf(flow.dx, flow.dy, stillThreshold) : null;
  const camera = analyzeFrames(fr).cmotion;
  const cameraMoves = intent.camera !== 'static';
  return {
    prompt,
    intent,
    detected: { color, colorShare, flow, direction, camera },
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
export function summarizeAdherence(results: AdherenceResult[]): AdherenceSummary {
  const rate = (xs: (boolean | null)[]) => {
    const v = xs.filter((x): x is boolean => x !== null);
    return { acc: v.length ? v.filter(Boolean).length / v.length : NaN, n: v.length };
  };
  const c = rate(results.map((r) => r.correct.color));
  const d = rate(results.map((r) => r.correct.direction));
  const m = rate(results.map((r) => r.correct.camera));
  return { color_accuracy: c.acc, direction_accuracy: d.acc, camera_accuracy: m.acc, n: results.length, n_color: c.n, n_direction: d.n };
}
