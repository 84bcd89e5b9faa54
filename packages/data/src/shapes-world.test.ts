import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetadata } from './metadata.js';
import { analyzeFrames, analyzeVideo } from './motion.js';
import { planShapesClip, renderShapesClip, writeShapesWorld, type ShapesWorldOptions } from './shapes-world.js';

const small: ShapesWorldOptions = { numClips: 0, seed: 5, height: 48, width: 64, numFrames: 7, fps: 8 };

/** Spearman-free check: the sequence is strictly increasing. */
const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

describe('shapes world', () => {
  it('is deterministic from the seed and captions what happens', () => {
    const a = planShapesClip(3, small);
    const b = planShapesClip(3, small);
    expect(a).toEqual(b);
    expect(Buffer.compare(renderShapesClip(a).frames, renderShapesClip(b).frames)).toBe(0);
    expect(planShapesClip(3, { ...small, seed: 6 })).not.toEqual(a);
    const captions = Array.from({ length: 40 }, (_, i) => planShapesClip(i, small));
    for (const c of captions) {
      if (c.scene === 'object') expect(c.caption).toMatch(/^an? \w+ (circle|square|triangle) moves .*(left|right|up|down)/);
      if (c.camera.startsWith('pan')) expect(c.caption).toMatch(new RegExp(`camera pans ${c.camera.slice(4)} over`));
      if (c.camera.startsWith('tilt')) expect(c.caption).toMatch(new RegExp(`camera tilts ${c.camera.slice(5)} over`));
      if (c.camera === 'zoom_in') expect(c.caption).toMatch(/camera zooms in on an? /);
      if (c.camera === 'zoom_out') expect(c.caption).toMatch(/camera zooms out from an? /);
    }
    expect(new Set(captions.map((c) => c.scene))).toEqual(new Set(['object', 'camera', 'still']));
  });

  it('draws only the scene kinds with weight, and names weights that sum to 0', () => {
    const objects = Array.from({ length: 20 }, (_, i) => planShapesClip(i, { ...small, scenes: { object: 1, camera: 0, still: 0 } }));
    expect(new Set(objects.map((c) => c.scene))).toEqual(new Set(['object']));
    expect(() => planShapesClip(0, { ...small, scenes: { object: 0, camera: 0, still: 0 } })).toThrow(/scene weights .* sum to 0/);
  });

  it('twoShapeShare sets how many object scenes have two shapes, moving opposite ways', () => {
    const objects = (twoShapeShare?: number) => Array.from({ length: 40 }, (_, i) => planShapesClip(i, { ...small, scenes: { object: 1, camera: 0, still: 0 }, twoShapeShare }));
    const counts = (cs: ReturnType<typeof objects>) => cs.map((c) => c.shapes.length);
    expect(new Set(counts(objects(1)))).toEqual(new Set([2]));
    expect(new Set(counts(objects(0)))).toEqual(new Set([1]));
    expect(new Set(counts(objects()))).toEqual(new Set([1, 2]));
    for (const c of objects(1)) {
      const [a, b] = c.shapes;
      expect(Math.abs(a!.vx) + Math.abs(a!.vy)).toBeGreaterThan(0);
      expect(a!.vx + b!.vx).toBeCloseTo(0, 9);
      expect(a!.vy + b!.vy).toBeCloseTo(0, 9);
      expect(c.caption).toMatch(/ and an? \w+ \w+ moves /);
    }
    // The default keeps the plans (and so the captions) of sets generated before the option existed.
    expect(objects(0.3)).toEqual(objects());
    expect(() => planShapesClip(0, { ...small, twoShapeShare: 1.5 })).toThrow(/twoShapeShare 1.5 must be a share between 0 and 1/);
  });

  it('writes mp4 + CSV whose camera labels the motion tool recovers on >= 95% of clips', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opensora-shapes-'));
    const { csvPath } = await writeShapesWorld(dir, { ...small, numClips: 14, scenes: { object: 0.15, camera: 0.8, still: 0.05 } });
    const meta = await readMetadata(csvPath);
    expect(meta.report.skipped).toEqual([]);
    expect(meta.columns).toEqual(expect.arrayContaining(['path', 'text', 'num_frames', 'height', 'width', 'aes', 'flow', 'cmotion']));
    expect(readFileSync(csvPath, 'utf8').split('\n')[0]).toMatch(/^path,text,num_frames,height,width/);
    const moving = meta.rows.filter((r) => r.cmotion !== 'static');
    expect(moving.length).toBeGreaterThanOrEqual(10);
    let agree = 0;
    const misses: string[] = [];
    for (const r of meta.rows) {
      const m = await analyzeVideo(r.path, { maxPairs: 3 }, r);
      if (m.cmotion === r.cmotion) agree++;
      else misses.push(`${r.fields.path}: ${r.cmotion} -> ${m.cmotion}`);
    }
    expect(agree / meta.rows.length, misses.join('; ')).toBeGreaterThanOrEqual(0.95);
  });

  it('motion score orders clips by true speed (pans, zooms, moving objects)', () => {
    const base = { ...small, height: 64, width: 96, numFrames: 5 };
    const find = (pred: (c: ReturnType<typeof planShapesClip>) => boolean) => {
      for (let i = 0; ; i++) {
        const c = planShapesClip(i, base);
        if (pred(c)) return c;
      }
    };
    const pan = find((c) => c.camera === 'pan_right');
    const zoom = find((c) => c.camera === 'zoom_in');
    const obj = find((c) => c.scene === 'object' && c.shapes.length === 1);
    const score = (c: typeof pan, speed: number) => {
      const r = renderShapesClip({ ...c, speed, shapes: c.shapes.map((s) => (c.scene === 'object' ? { ...s, vx: Math.sign(s.vx) * speed, vy: Math.sign(s.vy) * speed } : s)) });
      return { est: analyzeFrames({ data: r.frames, numFrames: c.numFrames, height: c.height, width: c.width, fps: 8 }, { maxPairs: 2 }).flow, truth: r.flow };
    };
    for (const [c, speeds] of [
      [pan, [0.5, 1, 1.5, 2.5]],
      [zoom, [0.01, 0.02, 0.03, 0.045]],
      [obj, [0.5, 1.25, 2, 3]],
    ] as const) {
      const s = speeds.map((v) => score(c, v));
      expect(increasing(s.map((x) => x.truth))).toBe(true);
      expect(increasing(s.map((x) => x.est)), `${c.camera} ${c.scene}: ${s.map((x) => x.est.toFixed(2))}`).toBe(true);
    }
  });

  it('draws object and still shapes from sizeRange (same captions otherwise) and rejects a bad range', () => {
    const base = { numClips: 40, height: 64, width: 64, numFrames: 9, scenes: { object: 1, camera: 0, still: 1 } };
    let seen = 0;
    for (let i = 0; i < 40; i++) {
      const big = planShapesClip(i, { ...base, sizeRange: [0.3, 0.35] });
      const plain = planShapesClip(i, base);
      expect(big.caption).toBe(plain.caption);
      for (const sh of big.shapes) {
        expect(sh.size).toBeGreaterThanOrEqual(0.3 * 64);
        expect(sh.size).toBeLessThanOrEqual(0.35 * 64);
        seen++;
      }
      for (const sh of plain.shapes) expect(sh.size).toBeLessThanOrEqual(0.16 * 64);
    }
    expect(seen).toBeGreaterThan(40);
    expect(() => planShapesClip(0, { ...base, sizeRange: [0.4, 0.2] })).toThrow(/sizeRange \[0.4,0.2\]/);
  });

  it('draws the background from the grey, tint and texture-amplitude options (same plans otherwise)', () => {
    const base = { numClips: 4, height: 32, width: 32, numFrames: 2 };
    const flat = planShapesClip(1, { ...base, backgroundGrey: [100, 100], backgroundTint: 0, backgroundAmplitude: [0, 0] });
    expect(flat.background.base).toEqual([100, 100, 100]);
    expect(flat.background.amplitude).toBe(0);
    // Only the background changes: the scene, shapes and caption are the default plan's.
    const plain = planShapesClip(1, base);
    expect(flat.caption).toBe(plain.caption);
    expect(flat.shapes).toEqual(plain.shapes);
    // A pixel far from every shape is the flat grey.
    const r = renderShapesClip(flat);
    const far = (x: number, y: number) => flat.shapes.every((sh) => Math.hypot(sh.x - x, sh.y - y) > sh.size * 1.5 + 2);
    let checked = 0;
    for (let y = 0; y < 32; y += 3) for (let x = 0; x < 32; x += 3) if (far(x, y)) {
      expect(Array.from(r.frames.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3))).toEqual([100, 100, 100]);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });
});
