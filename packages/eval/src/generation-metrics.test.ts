import { describe, expect, it } from 'vitest';
import { planShapesClip, renderShapesClip } from '@opensora-ts/data';
import { dynamicDegreeEstimate, motionSmoothnessEstimate, temporalFlickering } from './generation-metrics.js';

function clip(index: number, scene: 'object' | 'still', numFrames = 17) {
  const c = planShapesClip(index, { numClips: 1, seed: 3, height: 72, width: 96, numFrames, scenes: { object: scene === 'object' ? 1 : 0, camera: 0, still: scene === 'still' ? 1 : 0 }, speedRange: [2.5, 3] });
  const r = renderShapesClip(c);
  return { data: r.frames, numFrames, height: 72, width: 96, fps: 8 };
}

describe('temporal flickering (VBench formula)', () => {
  it('is 1 for a static video and (255 - mean |diff|) / 255 otherwise', () => {
    const n = 4 * 4 * 3;
    const data = new Uint8Array(3 * n);
    data.fill(10, 0, n);
    data.fill(40, n, 2 * n);
    data.fill(10, 2 * n, 3 * n);
    expect(temporalFlickering({ data, numFrames: 3, height: 4, width: 4 })).toBeCloseTo((255 - 30) / 255, 12);
    expect(temporalFlickering(clip(0, 'still'))).toBe(1);
  });
});

describe('motion estimates from classical flow', () => {
  it('a smoothly moving shape scores near 1 in smoothness, shuffled frames lower', () => {
    const v = clip(1, 'object');
    const smooth = motionSmoothnessEstimate(v);
    expect(smooth).toBeGreaterThan(0.98);
    const frame = v.height * v.width * 3;
    const shuffled = new Uint8Array(v.data.length);
    const order = [0, 9, 2, 13, 4, 1, 6, 15, 8, 3, 10, 5, 12, 7, 14, 11, 16];
    order.forEach((src, dst) => shuffled.set(v.data.subarray(src * frame, (src + 1) * frame), dst * frame));
    expect(motionSmoothnessEstimate({ ...v, data: shuffled })).toBeLessThan(smooth - 0.003);
  });
  it('dynamic degree: a still clip is static, a fast one dynamic', () => {
    expect(dynamicDegreeEstimate(clip(2, 'still')).dynamic).toBe(false);
    const d = dynamicDegreeEstimate(clip(3, 'object'));
    // VBench's threshold at 72 px and 8 fps: 6 * 72 / 256 = 1.69 px; the shape moves ~2.5-3 px/frame.
    expect(d.threshold).toBeCloseTo(6 * (72 / 256), 10);
    expect(d.countNeeded).toBe(Math.round(4 * (17 / 16)));
    expect(d.dynamic).toBe(true);
  });
});
