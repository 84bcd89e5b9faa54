// PSNR and SSIM against scikit-image (an independent implementation). The fixture holds small
// frame pairs and skimage's values; regenerate it with
//   apt-get install python3-skimage && /usr/bin/python3 test/fixtures/make-skimage-fixture.py test/fixtures/skimage-metrics.json
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { psnr, psnrPerFrame } from './psnr.js';
import { gaussianKernel, ssim, ssimPerFrame } from './ssim.js';

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
  it('works per frame on uint8 videos (the same values as on [0, 1] floats)', () => {
    const c = fixture.cases.find((x) => x.dtype === 'uint8' && x.psnr !== null)!;
    const n = c.a.length;
    const va = { data: new Uint8Array([...c.a, ...c.b]), numFrames: 2, height: c.height, width: c.width };
    const vb = { data: new Uint8Array([...c.b, ...c.b]), numFrames: 2, height: c.height, width: c.width };
    expect(n).toBe(c.height * c.width * 3);
    const p = psnrPerFrame(va, vb);
    expect(p[0]).toBeCloseTo(c.psnr!, 4);
    expect(p[1]).toBe(100);
    const s = ssimPerFrame(va, vb);
    expect(s[0]).toBeCloseTo(c.ssim, 4);
    expect(s[1]).toBeCloseTo(1, 12);
  });
});

describe('SSIM details', () => {
  it('uses the 11-tap sigma-1.5 Gaussian', () => {
    const k = gaussianKernel();
    expect(k.length).toBe(11);
    expect(k.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(k[5]! / k[4]!).toBeCloseTo(Math.exp(1 / (2 * 1.5 * 1.5)), 12);
  });
  it('rejects frames smaller than the window and mismatched videos, naming the fix', () => {
    expect(() => ssim(new Array(30).fill(0), new Array(30).fill(0), 5, 6, 1)).toThrow(/smaller than the 11x11 window/);
    const v = { data: new Uint8Array(2 * 12 * 12 * 3), numFrames: 2, height: 12, width: 12 };
    const w = { data: new Uint8Array(12 * 12 * 3), numFrames: 1, height: 12, width: 12 };
    expect(() => psnrPerFrame(v, w)).toThrow(/resize\/crop both/);
  });
});
