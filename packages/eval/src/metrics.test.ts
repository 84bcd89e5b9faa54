// The per-frame metrics over videos: the values of the vae package's PSNR and SSIM (checked
// there against scikit-image) on each frame, from uint8 or [0, 1] float videos alike.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { psnrPerFrame } from './psnr.js';
import { ssimPerFrame } from './ssim.js';

interface Case { name: string; height: number; width: number; channels: number; dtype: 'uint8' | 'float'; a: number[]; b: number[]; ssim: number; psnr: number | null }
// scikit-image's values, from the fixture of the package that owns the metrics.
const fixture = JSON.parse(readFileSync(new URL('../../vae/test/fixtures/skimage-metrics.json', import.meta.url), 'utf8')) as { cases: Case[] };

describe('PSNR and SSIM per frame', () => {
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

  it('rejects mismatched videos, naming the fix', () => {
    const v = { data: new Uint8Array(2 * 12 * 12 * 3), numFrames: 2, height: 12, width: 12 };
    const w = { data: new Uint8Array(12 * 12 * 3), numFrames: 1, height: 12, width: 12 };
    expect(() => psnrPerFrame(v, w)).toThrow(/resize\/crop both/);
  });
});
