import { describe, expect, it } from 'vitest';
import { linspaceF32, roundBf16 } from './bf16.js';
import { evalLossTimesteps, samplingTimesteps } from './sampling-timesteps.js';
import { SeededRandom } from '@opensora-ts/kernels';
import { TimeSampler } from './time-sampler.js';
import { timestepTransform } from './timestep-transform.js';

describe('bf16 rounding', () => {
  it('rounds to nearest even on 8 significant bits', () => {
    expect(roundBf16(1)).toBe(1);
    expect(roundBf16(90.909)).toBe(91);
    expect(roundBf16(272.727)).toBe(272);
    expect(roundBf16(1 + 2 ** -8)).toBe(1); // tie -> even
    expect(roundBf16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6); // tie -> even (up)
    expect(roundBf16(921600)).toBe(921600);
  });
  it('linspace matches torch float32 ends', () => {
    const l = linspaceF32(0, 1000, 12);
    expect(l[0]).toBe(0);
    expect(l[11]).toBe(1000);
    expect(l[1]).toBe(Math.fround(1000 / 11));
  });
});

describe('timestepTransform', () => {
  it('gives the spec ratio table (fp32 and bf16 metadata)', () => {
    const rows: [number, number, number, number, number][] = [
      [720, 1280, 113, 9.9216, 9.875],
      [360, 640, 113, 4.9608, 4.9375],
      [360, 640, 49, 3.2476, 3.25],
      [720, 1280, 1, 1.875, 1.875],
      [360, 640, 1, 0.9375, 0.9375],
    ];
    for (const [h, w, f, exact, bf] of rows) {
      expect(timestepTransform([500], { height: h, width: w, numFrames: f }).ratio[0]).toBeCloseTo(exact, 4);
      expect(timestepTransform([500], { height: h, width: w, numFrames: f }, { metaDtype: 'bfloat16' }).ratio[0]).toBe(bf);
    }
  });
  it('reproduces the 30-step 720p/113f schedules of the spec', () => {
    const m = { height: 720, width: 1280, numFrames: 113 };
    const bf = samplingTimesteps(30, m, { metaDtype: 'bfloat16' });
    expect(bf.slice(0, 4).map((x) => Math.round(x * 100) / 100)).toEqual([1000, 996.52, 992.82, 988.87]);
    expect(bf[29]).toBeCloseTo(254.02, 2);
    expect(samplingTimesteps(30, m)[29]).toBeCloseTo(254.91, 2);
    expect(samplingTimesteps(3, m, { useTimestepTransform: false })).toEqual([1000, Math.fround(2000 / 3), Math.fround(1000 / 3)]);
  });
  it('s -> ratio s / (1 + (ratio - 1) s), identity at ratio 1', () => {
    const t = timestepTransform([250], { height: 512, width: 512, numFrames: 1 }).t[0]!;
    expect(t).toBe(250);
    const r = timestepTransform([250], { height: 1024, width: 1024, numFrames: 1 }); // ratio 2
    expect(r.ratio[0]).toBe(2);
    expect(r.t[0]).toBeCloseTo((2 * 0.25) / (1 + 0.25) * 1000, 3);
  });
  it('uniform_over_threshold redraws shifted values above it (videos only)', () => {
    const rng = new SeededRandom(3);
    const r = timestepTransform([990, 10], { height: 720, width: 1280, numFrames: 113 }, { uniformOverThreshold: 0.95, rng });
    expect(r.t[0]).toBeGreaterThanOrEqual(950);
    expect(r.t[1]).toBeLessThan(950);
  });
});

describe('eval-loss timesteps', () => {
  it('are 1000k/11 and their bf16 roundings', () => {
    expect(evalLossTimesteps().map((x) => Math.round(x * 10) / 10)).toEqual([90.9, 181.8, 272.7, 363.6, 454.5, 545.5, 636.4, 727.3, 818.2, 909.1]);
    expect(evalLossTimesteps(10, { dtype: 'bfloat16' })).toEqual([91, 182, 272, 364, 454, 544, 636, 728, 820, 908]);
  });
});

describe('TimeSampler', () => {
  it('draws uniform, logit-normal and discrete timesteps deterministically from a seed', () => {
    for (const cfg of [{ sampleMethod: 'uniform' as const }, { sampleMethod: 'logit-normal' as const }, { useDiscreteTimesteps: true }]) {
      const s = new TimeSampler(cfg);
      const a = s.sample(64, new SeededRandom(7));
      expect(a).toEqual(s.sample(64, new SeededRandom(7)));
      expect(a).not.toEqual(s.sample(64, new SeededRandom(8)));
      for (const t of a) expect(t >= 0 && t <= 1000).toBe(true);
      if (cfg.useDiscreteTimesteps) for (const t of a) expect(Number.isInteger(t)).toBe(true);
    }
  });
  it('logit-normal has median 500 and the transform pushes it up for big videos', () => {
    const s = new TimeSampler({ sampleMethod: 'logit-normal' });
    const a = s.sample(4000, new SeededRandom(1)).sort((x, y) => x - y);
    expect(Math.abs(a[2000]! - 500)).toBeLessThan(30);
    const shifted = new TimeSampler({ sampleMethod: 'logit-normal', useTimestepTransform: true }).sample(4000, new SeededRandom(1), { height: 720, width: 1280, numFrames: 113 });
    expect(shifted.sort((x, y) => x - y)[2000]).toBeGreaterThan(850);
  });
  it('rejects discrete logit-normal', () => {
    expect(() => new TimeSampler({ sampleMethod: 'logit-normal', useDiscreteTimesteps: true })).toThrow(/uniform/);
  });
});
