// PSNR and SSIM against scikit-image (an independent implementation). The fixture holds small
// frame pairs and skimage's values; regenerate it with
//   apt-get install python3-skimage && /usr/bin/python3 test/fixtures/make-skimage-fixture.py test/fixtures/skimage-metrics.json
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gaussianKernel, psnr, ssim } from './metrics.js';

interface Case { name: string; height: number; width: number; channels: number; dtype: 'uint8' | 'float'; a: number[]; b: number[]; ssim: number; psnr: number | null }
const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/skimage-metrics.json', import.meta.url), 'utf8')) as { cases: Case[] };

const unit = (c: Case, v: number[]) => (c.dtype === 'uint8' ? v.map((x) => x / 255) : v);

describe('PSNR and SSIM agree with scikit-image within 1e-4', () => {
  it('has the fixture cases', () => expect(fixture.cases.length).toBeGreaterThanOrEqual(4));
  for (const c of fixture.cases) {
    it(c.name, () => {
      const a = unit(c, c.a);
      const b = unit(c, c.b);
      expect(Math.abs(ssim(a, b, c.height, c.width, c.channels) - c.ssim)).toBeLessThan(1e-4);
      // skimage gives inf for identical frames; the reference caps at 100.
      expect(Math.abs(psnr(a, b) - (c.psnr ?? 100))).toBeLessThan(1e-4);
    });
  }

  it('gives the same values on uint8 with data range 255', () => {
    for (const c of fixture.cases.filter((x) => x.dtype === 'uint8')) {
      const a = Uint8Array.from(c.a);
      const b = Uint8Array.from(c.b);
      expect(ssim(a, b, c.height, c.width, c.channels, 255)).toBeCloseTo(c.ssim, 4);
      expect(psnr(a, b, 255)).toBeCloseTo(c.psnr ?? 100, 4);
    }
  });
});

describe('SSIM details', () => {
  it('uses the 11-tap sigma-1.5 Gaussian', () => {
    const k = gaussianKernel();
    expect(k.length).toBe(11);
    expect(k.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(k[5]! / k[4]!).toBeCloseTo(Math.exp(1 / (2 * 1.5 * 1.5)), 12);
  });
  it('rejects frames smaller than the window and mismatched sizes, naming the fix', () => {
    expect(() => ssim(new Array(30).fill(0), new Array(30).fill(0), 5, 6, 1)).toThrow(/smaller than the 11x11 window/);
    expect(() => ssim(new Array(363).fill(0), new Array(362).fill(0), 11, 11)).toThrow(/expected 11x11x3 = 363 values, got 363 and 362/);
    expect(() => psnr([0, 1], [0])).toThrow(/same size/);
  });
});
