// "Shapes world": a synthetic video dataset with known ground truth. Coloured circles, squares and
// triangles move in known directions over a textured background, or the camera pans, tilts or
// zooms over still shapes. Captions say what happens; `flow` is the true mean motion and `cmotion`
// the true camera motion. Everything follows from the seed; rendering is plain typed arrays.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeCsv } from './csv.js';
import { mixSeed, SeededRandom } from '@opensora-ts/kernels';
import { writeVideo } from './video-io.js';

export const SHAPE_KINDS = ['circle', 'square', 'triangle'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

export const SHAPE_COLORS: Readonly<Record<string, readonly [number, number, number]>> = {
  red: [220, 40, 40],
  green: [40, 175, 60],
  blue: [45, 85, 225],
  yellow: [240, 210, 40],
  purple: [150, 60, 190],
  orange: [245, 140, 30],
  white: [245, 245, 245],
};

export const CAMERA_MOTIONS = ['static', 'pan_left', 'pan_right', 'tilt_up', 'tilt_down', 'zoom_in', 'zoom_out'] as const;
export type CameraMotion = (typeof CAMERA_MOTIONS)[number];
export type Direction = 'left' | 'right' | 'up' | 'down';
export type SceneKind = 'object' | 'camera' | 'still';

/** Relative weights of the scene kinds when `ShapesWorldOptions.scenes` leaves one out. */
export const DEFAULT_SCENE_WEIGHTS: Readonly<Record<SceneKind, number>> = { object: 0.45, camera: 0.45, still: 0.1 };

export interface ShapeInstance {
  kind: ShapeKind;
  color: string;
  /** World position at frame 0 and velocity (world px per frame). */
  x: number;
  y: number;
  vx: number;
  vy: number;
  /** Circumradius-like size in world px. */
  size: number;
}

export interface ShapesClip {
  index: number;
  id: string;
  scene: SceneKind;
  camera: CameraMotion;
  /** Direction of the moving shape (object scenes) or of the camera (pans/tilts/zooms). */
  direction: Direction | 'in' | 'out' | 'none';
  /** Object/pan speed in px per frame at the clip's size; zoom: scale change per frame (e.g. 0.03). */
  speed: number;
  shapes: ShapeInstance[];
  background: { base: [number, number, number]; seed: number; amplitude: number };
  caption: string;
  aes: number;
  height: number;
  width: number;
  numFrames: number;
  fps: number;
}

export interface ShapesWorldOptions {
  numClips: number;
  seed?: number;
  height?: number;
  width?: number;
  numFrames?: number;
  fps?: number;
  /** Relative weights of the scene kinds (missing ones: DEFAULT_SCENE_WEIGHTS); they must sum to more than 0. */
  scenes?: Partial<Record<SceneKind, number>>;
  /** Camera motions drawn for camera scenes (default: all six moving ones). */
  cameraMotions?: CameraMotion[];
  /** Object/pan speed range in px per frame at a 144-px short side (scaled with the size). */
  speedRange?: [number, number];
  /**
   * Size range of the shapes in object and still scenes, as a fraction of the short side (default:
   * [0.1, 0.15] for moving shapes, [0.1, 0.16] for still ones). Larger shapes make position and
   * motion a larger share of every frame, which a small model learns sooner.
   */
  sizeRange?: [number, number];
  /**
   * Share of object scenes with two shapes moving opposite ways (default 0.3; the rest have one).
   * Raise it to teach which colour takes which direction.
   */
  twoShapeShare?: number;
  /** Zoom rate range (relative scale change per frame). */
  zoomRange?: [number, number];
  /** Range of the background texture's amplitude in grey levels (default [50, 80]; [0, 0] is flat). */
  backgroundAmplitude?: [number, number];
  /** Range of the background's base grey (default [85, 125]) and its per-channel tint (default 10). */
  backgroundGrey?: [number, number];
  backgroundTint?: number;
}

const DIR_VEC: Record<Direction, [number, number]> = { left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] };
const DIR_PHRASE: Record<Direction, string> = { left: 'to the left', right: 'to the right', up: 'up', down: 'down' };

function plural(kind: ShapeKind): string {
  return `${kind}s`;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

function describeSet(shapes: ShapeInstance[]): string {
  const seen: string[] = [];
  for (const s of shapes) {
    const d = `${s.color} ${plural(s.kind)}`;
    if (!seen.includes(d)) seen.push(d);
  }
  const top = seen.slice(0, 2);
  return top.length === 2 ? `${top[0]} and ${top[1]}` : top[0]!;
}

/** Plans clip `index` of a dataset: its scene, shapes, motion and caption (no pixels yet). */
export function planShapesClip(index: number, opts: ShapesWorldOptions): ShapesClip {
  const H = opts.height ?? 144;
  const W = opts.width ?? 256;
  const T = opts.numFrames ?? 33;
  const rng = new SeededRandom(mixSeed(opts.seed ?? 0, index, 0x5a17));
  const unit = Math.min(H, W) / 144;
  const weights = { ...DEFAULT_SCENE_WEIGHTS, ...opts.scenes };
  const total = weights.object + weights.camera + weights.still;
  if (!(total > 0)) throw new Error(`shapes world: scene weights ${JSON.stringify(weights)} sum to ${total}; give at least one scene kind a positive weight.`);
  let u = rng.uniform() * total;
  const scene: SceneKind = (u -= weights.object) < 0 ? 'object' : (u -= weights.camera) < 0 ? 'camera' : 'still';
  const colors = Object.keys(SHAPE_COLORS);
  const [slo, shi] = opts.speedRange ?? [0.75, 3];
  const [zlo, zhi] = opts.zoomRange ?? [0.015, 0.04];
  const twoShapeShare = opts.twoShapeShare ?? 0.3;
  if (!(twoShapeShare >= 0 && twoShapeShare <= 1)) throw new Error(`shapes world: twoShapeShare ${twoShapeShare} must be a share between 0 and 1.`);
  if (opts.sizeRange && !(opts.sizeRange[0] > 0 && opts.sizeRange[0] <= opts.sizeRange[1] && opts.sizeRange[1] < 1)) {
    throw new Error(`shapes world: sizeRange [${opts.sizeRange}] must be [lo, hi] with 0 < lo <= hi < 1 (fractions of the short side).`);
  }
  // A grey with a faint tint: never close to a palette colour, so shapes stand out and a colour
  // check on ground-truth clips sees only the shapes (a saturated base could pass for a shape colour).
  const [glo, ghi] = opts.backgroundGrey ?? [85, 125];
  const tint = opts.backgroundTint ?? 10;
  const grey = rng.int(glo, ghi);
  const base: [number, number, number] = [grey + rng.int(-tint, tint), grey + rng.int(-tint, tint), grey + rng.int(-tint, tint)];
  const [alo, ahi] = opts.backgroundAmplitude ?? [50, 80];
  const background = { base, seed: rng.int(0, 2 ** 31), amplitude: rng.uniform(alo, ahi) };
  const newShape = (x: number, y: number, size: number, vx = 0, vy = 0, avoid?: ShapeInstance): ShapeInstance => {
    let kind = rng.pick(SHAPE_KINDS);
    let color = rng.pick(colors);
    while (avoid && kind === avoid.kind && color === avoid.color) {
      kind = rng.pick(SHAPE_KINDS);
      color = rng.pick(colors);
    }
    return { kind, color, x, y, vx, vy, size };
  };
  const clip = { index, id: `shapes_${String(index).padStart(5, '0')}`, height: H, width: W, numFrames: T, fps: opts.fps ?? 8, background };
  const aes = Math.round(rng.uniform(5, 6.5) * 100) / 100;

  if (scene === 'object') {
    const n = rng.uniform() < 1 - twoShapeShare ? 1 : 2;
    const shapes: ShapeInstance[] = [];
    const phrases: string[] = [];
    const dir = rng.pick(['left', 'right', 'up', 'down'] as const);
    const speed = rng.uniform(slo, shi) * unit;
    for (let k = 0; k < n; k++) {
      // The second shape moves the opposite way, so both stay describable and in view.
      const d: Direction = k === 0 ? dir : ({ left: 'right', right: 'left', up: 'down', down: 'up' } as const)[dir];
      const [dx, dy] = DIR_VEC[d];
      const size = rng.uniform(...(opts.sizeRange ?? [0.1, 0.15])) * Math.min(H, W);
      const travelX = dx * speed * (T - 1);
      const travelY = dy * speed * (T - 1);
      // Lanes keep two shapes apart across the motion.
      const lane = n === 1 ? 0 : k === 0 ? -0.22 : 0.22;
      const x = W / 2 - travelX / 2 + (dx === 0 ? lane * W : 0) + rng.uniform(-0.05, 0.05) * W;
      const y = H / 2 - travelY / 2 + (dy === 0 ? lane * H : 0) + rng.uniform(-0.05, 0.05) * H;
      const s = newShape(x, y, size, dx * speed, dy * speed, shapes[0]);
      shapes.push(s);
      const adverb = speed / unit < slo + (shi - slo) / 3 ? 'slowly ' : speed / unit > shi - (shi - slo) / 3 ? 'quickly ' : '';
      phrases.push(`${article(s.color)} ${s.color} ${s.kind} moves ${adverb}${DIR_PHRASE[d]}`);
    }
    return { ...clip, scene, camera: 'static', direction: dir, speed, shapes, caption: `${phrases.join(' and ')}.`, aes };
  }

  if (scene === 'still') {
    const n = rng.int(1, 2);
    const shapes: ShapeInstance[] = [];
    for (let k = 0; k < n; k++) {
      const x = W * (n === 1 ? 0.5 : k === 0 ? 0.3 : 0.7) + rng.uniform(-0.05, 0.05) * W;
      shapes.push(newShape(x, H * rng.uniform(0.35, 0.65), rng.uniform(...(opts.sizeRange ?? [0.1, 0.16])) * Math.min(H, W), 0, 0, shapes[0]));
    }
    const names = shapes.map((s) => `${article(s.color)} ${s.color} ${s.kind}`);
    const caption = `${names.join(' and ')} ${n === 1 ? 'stays' : 'stay'} still.`;
    return { ...clip, scene, camera: 'static', direction: 'none', speed: 0, shapes, caption, aes };
  }

  const moving = opts.cameraMotions ?? (CAMERA_MOTIONS.filter((m) => m !== 'static') as CameraMotion[]);
  const camera = rng.pick(moving);
  const zoom = camera === 'zoom_in' || camera === 'zoom_out';
  const speed = zoom ? rng.uniform(zlo, zhi) : rng.uniform(slo, shi) * unit;
  // Scatter still shapes over everything the camera will see (a pan travels speed*(T-1)).
  const reach = zoom ? 0 : speed * (T - 1);
  const [cdx, cdy] = camera === 'pan_right' ? [1, 0] : camera === 'pan_left' ? [-1, 0] : camera === 'tilt_up' ? [0, -1] : camera === 'tilt_down' ? [0, 1] : [0, 0];
  const x0 = Math.min(0, cdx * reach);
  const x1 = W + Math.max(0, cdx * reach);
  const y0 = Math.min(0, cdy * reach);
  const y1 = H + Math.max(0, cdy * reach);
  const kindA = newShape(0, 0, 0);
  const kindB = newShape(0, 0, 0, 0, 0, kindA);
  const shapes: ShapeInstance[] = [];
  const count = zoom ? rng.int(2, 4) : Math.max(3, Math.round(((x1 - x0) * (y1 - y0)) / (W * H) * rng.int(3, 5)));
  for (let k = 0; k < count; k++) {
    const proto = k % 2 === 0 ? kindA : kindB;
    const size = rng.uniform(0.07, 0.11) * Math.min(H, W);
    shapes.push({ kind: proto.kind, color: proto.color, x: rng.uniform(x0, x1), y: rng.uniform(y0, y1), vx: 0, vy: 0, size });
  }
  let caption: string;
  if (zoom) {
    // One main shape in the centre; the zoom goes in on it or out from it.
    const main = { ...kindA, x: W / 2 + rng.uniform(-0.05, 0.05) * W, y: H / 2 + rng.uniform(-0.05, 0.05) * H, size: rng.uniform(0.1, 0.14) * Math.min(H, W) };
    shapes.push(main);
    caption = `the camera zooms ${camera === 'zoom_in' ? 'in on' : 'out from'} ${article(main.color)} ${main.color} ${main.kind}.`;
  } else {
    const verb = camera.startsWith('pan') ? `pans ${camera === 'pan_left' ? 'left' : 'right'}` : `tilts ${camera === 'tilt_up' ? 'up' : 'down'}`;
    caption = `the camera ${verb} over ${describeSet(shapes)}.`;
  }
  const direction: ShapesClip['direction'] = zoom ? (camera === 'zoom_in' ? 'in' : 'out') : (['left', 'right', 'up', 'down'] as const)[['pan_left', 'pan_right', 'tilt_up', 'tilt_down'].indexOf(camera)]!;
  return { ...clip, scene, camera, direction, speed, shapes, caption, aes };
}

function hash2(ix: number, iy: number, seed: number): number {
  let h = Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

function valueNoise(x: number, y: number, cell: number, seed: number): number {
  const fx = x / cell;
  const fy = y / cell;
  const ix = Math.floor(fx);
  const iy = Math.floor(fy);
  let tx = fx - ix;
  let ty = fy - iy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  const a = hash2(ix, iy, seed);
  const b = hash2(ix + 1, iy, seed);
  const c = hash2(ix, iy + 1, seed);
  const d = hash2(ix + 1, iy + 1, seed);
  return (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
}

function inside(s: ShapeInstance, sx: number, sy: number, x: number, y: number): boolean {
  const dx = x - sx;
  const dy = y - sy;
  const r = s.size;
  if (s.kind === 'circle') return dx * dx + dy * dy <= r * r;
  if (s.kind === 'square') return Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
  // Equilateral triangle pointing up, circumradius r: three half-planes.
  const h = r * 0.5;
  if (dy > h) return false;
  const k = Math.sqrt(3);
  return k * dx - dy <= r && -k * dx - dy <= r;
}

/** Camera at frame t: world centre and zoom. */
function cameraAt(c: ShapesClip, t: number): { cx: number; cy: number; z: number } {
  const W = c.width;
  const H = c.height;
  const v = c.speed * t;
  switch (c.camera) {
    case 'pan_right':
      return { cx: W / 2 + v, cy: H / 2, z: 1 };
    case 'pan_left':
      return { cx: W / 2 - v, cy: H / 2, z: 1 };
    case 'tilt_up':
      return { cx: W / 2, cy: H / 2 - v, z: 1 };
    case 'tilt_down':
      return { cx: W / 2, cy: H / 2 + v, z: 1 };
    case 'zoom_in':
      return { cx: W / 2, cy: H / 2, z: (1 + c.speed) ** t };
    case 'zoom_out':
      return { cx: W / 2, cy: H / 2, z: (1 + c.speed) ** (c.numFrames - 1 - t) };
    default:
      return { cx: W / 2, cy: H / 2, z: 1 };
  }
}

export interface RenderedClip {
  /** uint8 RGB frames, T x H x W x 3. */
  frames: Uint8Array;
  /** True mean motion magnitude, px per frame at the clip's size. */
  meanMotion: number;
  /** The same scaled to a 320-px short side: the `flow` column. */
  flow: number;
}

/** Renders a planned clip. `antialias` supersamples shape edges 2x2 (default true). */
export function renderShapesClip(c: ShapesClip, antialias = true): RenderedClip {
  const { height: H, width: W, numFrames: T } = c;
  const frames = new Uint8Array(T * H * W * 3);
  const unit = Math.min(H, W) / 144;
  const cellA = 14 * unit;
  const cellB = 5 * unit;
  const ss = antialias ? 2 : 1;
  const offs: number[] = [];
  for (let k = 0; k < ss; k++) offs.push((k + 0.5) / ss - 0.5);
  const { base, seed, amplitude } = c.background;
  // The background is a fixed world texture: sample it once on a 1-px world grid covering every
  // view of the clip, then read it bilinearly (8x fewer hashes than evaluating noise per pixel).
  let bx0 = Infinity;
  let by0 = Infinity;
  let bx1 = -Infinity;
  let by1 = -Infinity;
  for (let t = 0; t < T; t++) {
    const k = cameraAt(c, t);
    bx0 = Math.min(bx0, k.cx - W / 2 / k.z);
    bx1 = Math.max(bx1, k.cx + W / 2 / k.z);
    by0 = Math.min(by0, k.cy - H / 2 / k.z);
    by1 = Math.max(by1, k.cy + H / 2 / k.z);
  }
  bx0 = Math.floor(bx0) - 2;
  by0 = Math.floor(by0) - 2;
  const tw = Math.ceil(bx1) + 3 - bx0;
  const th = Math.ceil(by1) + 3 - by0;
  const tex = new Float32Array(tw * th);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const wx = bx0 + x;
      const wy = by0 + y;
      tex[y * tw + x] = 0.65 * valueNoise(wx, wy, cellA, seed) + 0.35 * valueNoise(wx, wy, cellB, seed ^ 0x9e37) - 0.5;
    }
  }
  let motionSum = 0;
  for (let t = 0; t < T; t++) {
    const cam = cameraAt(c, t);
    const next = cameraAt(c, Math.min(t + 1, T - 1));
    const pos = c.shapes.map((s) => [s.x + s.vx * t, s.y + s.vy * t] as const);
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const ix = px + 0.5 - W / 2;
        const iy = py + 0.5 - H / 2;
        const wx = cam.cx + ix / cam.z;
        const wy = cam.cy + iy / cam.z;
        const gx = wx - bx0;
        const gy = wy - by0;
        const x0 = Math.floor(gx);
        const y0 = Math.floor(gy);
        const fx = gx - x0;
        const fy = gy - y0;
        const q = y0 * tw + x0;
        const n = (tex[q]! * (1 - fx) + tex[q + 1]! * fx) * (1 - fy) + (tex[q + tw]! * (1 - fx) + tex[q + tw + 1]! * fx) * fy;
        let r = base[0] + amplitude * n;
        let g = base[1] + amplitude * n * 0.9;
        let b = base[2] + amplitude * n * 0.8;
        let top = -1;
        for (let k = 0; k < c.shapes.length; k++) {
          const s = c.shapes[k]!;
          const [sx, sy] = pos[k]!;
          // Cheap reject before the subsamples.
          const reach = s.size + 2 / cam.z;
          if (Math.abs(wx - sx) > reach || Math.abs(wy - sy) > reach) continue;
          let cover = 0;
          for (const oy of offs) for (const ox of offs) if (inside(s, sx, sy, wx + ox / cam.z, wy + oy / cam.z)) cover++;
          if (cover === 0) continue;
          const a = cover / (ss * ss);
          const col = SHAPE_COLORS[s.color]!;
          r = r * (1 - a) + col[0] * a;
          g = g * (1 - a) + col[1] * a;
          b = b * (1 - a) + col[2] * a;
          if (inside(s, sx, sy, wx, wy)) top = k;
        }
        const o = ((t * H + py) * W + px) * 3;
        frames[o] = Math.max(0, Math.min(255, Math.round(r)));
        frames[o + 1] = Math.max(0, Math.min(255, Math.round(g)));
        frames[o + 2] = Math.max(0, Math.min(255, Math.round(b)));
        if (t < T - 1) {
          // Where this point of the world is one frame later, in image pixels.
          let mx: number;
          let my: number;
          if (top >= 0 && c.scene === 'object') {
            mx = c.shapes[top]!.vx * cam.z;
            my = c.shapes[top]!.vy * cam.z;
          } else {
            mx = (wx - next.cx) * next.z - ix;
            my = (wy - next.cy) * next.z - iy;
          }
          motionSum += Math.hypot(mx, my);
        }
      }
    }
  }
  const meanMotion = T > 1 ? motionSum / ((T - 1) * H * W) : 0;
  return { frames, meanMotion, flow: (meanMotion * 320) / Math.min(H, W) };
}

export interface ShapesWorldRow {
  path: string;
  text: string;
  num_frames: number;
  height: number;
  width: number;
  aspect_ratio: number;
  resolution: number;
  fps: number;
  aes: number;
  flow: number;
  cmotion: CameraMotion;
  scene: SceneKind;
  direction: string;
  speed: number;
}

export const SHAPES_WORLD_COLUMNS = ['path', 'text', 'num_frames', 'height', 'width', 'aspect_ratio', 'resolution', 'fps', 'aes', 'flow', 'cmotion', 'scene', 'direction', 'speed'] as const;

/** Plans, renders and writes a dataset: `outDir/<id>.mp4` and `outDir/<csvName>`. */
export async function writeShapesWorld(
  outDir: string,
  opts: ShapesWorldOptions,
  extra: { csvName?: string; crf?: number; antialias?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ csvPath: string; rows: ShapesWorldRow[] }> {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const rows: ShapesWorldRow[] = [];
  for (let i = 0; i < opts.numClips; i++) {
    const c = planShapesClip(i, opts);
    const r = renderShapesClip(c, extra.antialias ?? true);
    const file = `${c.id}.mp4`;
    await writeVideo(join(dir, file), r.frames, c.numFrames, c.height, c.width, { fps: c.fps, crf: extra.crf ?? 18 });
    rows.push({
      path: file,
      text: c.caption,
      num_frames: c.numFrames,
      height: c.height,
      width: c.width,
      aspect_ratio: c.height / c.width,
      resolution: c.height * c.width,
      fps: c.fps,
      aes: c.aes,
      flow: Math.round(r.flow * 1e4) / 1e4,
      cmotion: c.camera,
      scene: c.scene,
      direction: c.direction,
      speed: Math.round(c.speed * 1e4) / 1e4,
    });
    extra.onProgress?.(i + 1, opts.numClips);
  }
  const csvPath = join(dir, extra.csvName ?? 'meta.csv');
  writeCsv(csvPath, [...SHAPES_WORLD_COLUMNS], rows as unknown as Record<string, unknown>[]);
  return { csvPath, rows };
}
