// The shapes-world checks on ground-truth clips from the data package's generator: they must find
// what the captions say (~100%), and must fail when the prompt says something else.
import { describe, expect, it } from 'vitest';
import { checkShapesAdherence, summarizeAdherence } from './adherence.js';
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
    // Each scored video records the flow its direction came from: along the named axis for a moving
    // shape, under the still threshold (0.15 px/frame at 144 px, 0.075 here) for a still one.
    for (const v of r.videos.filter((x) => x.direction)) {
      const f = v.detected.flow!;
      const d = parseShapesPrompt(v.prompt).direction;
      const along = { left: -f.dx, right: f.dx, up: -f.dy, down: f.dy, none: 0 }[d!];
      if (d === 'none') expect(Math.hypot(f.dx, f.dy)).toBeLessThan(0.075);
      else expect(along).toBeGreaterThan(0.075);
    }
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
