// The shapes-world checks on ground-truth clips from the data package's generator: they must find
// what the captions say (~100%), and must fail when the prompt says something else.
import { describe, expect, it } from 'vitest';
import { checkShapesAdherence, summarizeAdherence } from './adherence.js';
import type { Video } from './frames.js';
import { groundTruthSampler, shapesPromptSuite } from './sampler.js';
import { scoreShapesSamples } from './samples-eval.js';
import { parseShapesPrompt } from './shapes-prompt.js';

const SIZE = { height: 72, width: 128, numFrames: 17 };

describe('parseShapesPrompt', () => {
  it('reads object, still and camera captions of the generator', () => {
    expect(parseShapesPrompt('a red circle moves quickly to the left and a blue square moves slowly to the right.')).toEqual({
      colors: ['red', 'blue'], shapes: ['circle', 'square'], direction: 'left', camera: 'static',
    });
    expect(parseShapesPrompt('a green triangle stays still.')).toMatchObject({ colors: ['green'], direction: 'none', camera: 'static' });
    expect(parseShapesPrompt('the camera pans right over yellow squares and white circles.')).toMatchObject({ colors: ['yellow', 'white'], camera: 'pan_right' });
    expect(parseShapesPrompt('the camera zooms out from an orange circle.')).toMatchObject({ colors: ['orange'], camera: 'zoom_out' });
    expect(parseShapesPrompt('camera pans right over blue squares')).toMatchObject({ camera: 'pan_right' });
    expect(parseShapesPrompt('a purple square moves up. aesthetic score: 6.5. camera motion: tilt down.')).toMatchObject({ direction: 'up', camera: 'tilt_down' });
    expect(parseShapesPrompt('a cat on a sofa')).toEqual({ colors: [], shapes: [], camera: 'static' });
  });
});

describe('adherence on ground-truth shapes-world clips', () => {
  const suite = shapesPromptSuite(16, SIZE);
  const sampler = groundTruthSampler(suite);

  it('the suite covers object, still and camera scenes', () => {
    const scenes = new Set(suite.map((s) => s.clip.scene));
    expect(scenes.has('object') && scenes.has('camera')).toBe(true);
  });

  it('finds the named colour, direction and camera motion (~100%)', async () => {
    const r = await scoreShapesSamples(suite.map((s) => s.prompt), sampler, { generationMetrics: false });
    expect(r.n).toBe(16);
    expect(r.n_direction).toBeGreaterThanOrEqual(4);
    expect(r.color_accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.direction_accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.camera_accuracy).toBeGreaterThanOrEqual(0.95);
    // Each scored video records the motion its direction came from: along the named axis for a moving
    // shape, under the still threshold (0.15 px/frame at 144 px, 0.075 here) for a still one.
    for (const v of r.videos.filter((x) => x.direction)) {
      const f = v.detected.motion!;
      const d = parseShapesPrompt(v.prompt).direction;
      const along = { left: -f.dx, right: f.dx, up: -f.dy, down: f.dy, none: 0 }[d!];
      if (d === 'none') expect(Math.hypot(f.dx, f.dy)).toBeLessThan(0.075);
      else expect(along).toBeGreaterThan(0.075);
    }
  });

  it('scores the suite once per seed with `seeds`, pooling the videos and keeping each run', async () => {
    const prompts = suite.slice(0, 4).map((s) => s.prompt);
    const calls: [string, number][] = [];
    // From seed 100 on, every prompt gets the first prompt's clip: that run scores lower.
    const seeded = async (prompt: string, seed: number) => {
      calls.push([prompt, seed]);
      return sampler(seed >= 100 ? prompts[0]! : prompt, seed);
    };
    const r = await scoreShapesSamples(prompts, seeded, { seeds: [5, 100] });
    expect(calls.map(([, seed]) => seed)).toEqual([5, 6, 7, 8, 100, 101, 102, 103]);
    expect(calls.map(([p]) => p)).toEqual([...prompts, ...prompts]);
    expect(r.n).toBe(8);
    expect(r.per_seed!.map((x) => x.seed)).toEqual([5, 100]);
    const [good, bad] = r.per_seed!;
    expect(good!.color_accuracy).toBe(1);
    expect(bad!.color_accuracy).toBeLessThan(1);
    expect(r.color_accuracy).toBeCloseTo((good!.color_accuracy + bad!.color_accuracy) / 2, 10);
    expect((await scoreShapesSamples(prompts.slice(0, 1), sampler, { seed: 3 })).per_seed).toBeUndefined();
    await expect(scoreShapesSamples(prompts, sampler, { seeds: [] })).rejects.toThrow(/seeds: expected one or more integers/);
  });

  it('fails when the prompt names another colour, direction or camera motion', async () => {
    const flipDir = { left: 'right', right: 'left', up: 'down', down: 'up' } as const;
    const obj = suite.find((s) => s.clip.scene === 'object')!;
    const video = await sampler(obj.prompt, 0);
    const shown = obj.clip.shapes.map((s) => s.color);
    const other = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white'].find((c) => !shown.includes(c))!;
    const d = obj.clip.direction as keyof typeof flipDir;
    const wrong = `a ${other} ${obj.clip.shapes[0]!.kind} moves ${flipDir[d]}. camera motion: pan left.`;
    const r = checkShapesAdherence(video, wrong);
    expect(r.correct.color).toBe(false);
    expect(r.correct.camera).toBe(false);
    // The named colour is absent, so its direction cannot be confirmed.
    expect(r.correct.direction).toBe(null);
    const right = checkShapesAdherence(video, obj.prompt.replace(/\b(left|right|up|down)\b/, (w) => flipDir[w as keyof typeof flipDir]));
    expect(right.correct.color).toBe(true);
    expect(right.correct.direction).toBe(false);
    const cam = suite.find((s) => s.clip.scene === 'camera')!;
    const cr = checkShapesAdherence(await sampler(cam.prompt, 0), 'a red circle stays still.');
    expect(cr.correct.camera).toBe(false);
    expect(summarizeAdherence([r, right, cr])).toMatchObject({ camera_accuracy: 1 / 3, direction_accuracy: 0, n: 3 });
  });
});

describe('direction from the tracked colour position', () => {
  // A still purple square whose lower-right quarter brightens over the clip, as a decoder's colours
  // flicker: the square does not move, though brightness-constancy flow sees its edge slide (mean
  // Lucas-Kanade flow: 0.35 px/frame up and left).
  function flickeringStillSquare(): Video & { data: Uint8Array } {
    const [T, H, W] = [17, 64, 64];
    const data = new Uint8Array(T * H * W * 3).fill(105);
    for (let t = 0; t < T; t++) {
      for (let y = 26; y < 38; y++) {
        for (let x = 26; x < 38; x++) {
          const gain = x >= 32 && y >= 32 ? 1 + (0.25 * t) / (T - 1) : 1;
          const o = ((t * H + y) * W + x) * 3;
          [150, 60, 190].forEach((c, ch) => (data[o + ch] = Math.min(255, Math.round(c * gain))));
        }
      }
    }
    return { data, numFrames: T, height: H, width: W, fps: 8, channels: 3 };
  }

  it('calls a still shape still when its colours flicker', () => {
    const r = checkShapesAdherence(flickeringStillSquare(), 'a purple square stays still.');
    expect(r.detected.motion!.frames).toBe(17);
    expect(Math.hypot(r.detected.motion!.dx, r.detected.motion!.dy)).toBeLessThan(1e-9);
    expect(r.correct.direction).toBe(true);
  });

  it('reads a slow shift of the shape as motion that way', () => {
    const v = flickeringStillSquare();
    // Move the square right by one pixel every 3 frames (0.33 px/frame, the generator's slowest at 64 px).
    const shifted = new Uint8Array(v.data.length).fill(105);
    const frame = v.height * v.width * 3;
    for (let t = 0; t < v.numFrames; t++) {
      const s = Math.floor(t / 3);
      for (let y = 0; y < v.height; y++) {
        for (let x = s; x < v.width; x++) {
          for (let ch = 0; ch < 3; ch++) shifted[t * frame + (y * v.width + x) * 3 + ch] = v.data[t * frame + (y * v.width + x - s) * 3 + ch]!;
        }
      }
    }
    const r = checkShapesAdherence({ ...v, data: shifted }, 'a purple square moves to the right.');
    expect(r.detected.motion!.dx).toBeCloseTo(0.33, 1);
    expect(r.correct.direction).toBe(true);
    expect(checkShapesAdherence({ ...v, data: shifted }, 'a purple square stays still.').correct.direction).toBe(false);
  });
});
