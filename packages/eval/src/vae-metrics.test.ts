import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { reconstructionMetrics } from './vae-metrics.js';
import { psnr } from '@opensora-ts/vae';

function video(fill: (t: number, i: number) => number, T = 3, H = 12, W = 12) {
  const data = new Uint8Array(T * H * W * 3);
  for (let t = 0; t < T; t++) for (let i = 0; i < H * W * 3; i++) data[t * H * W * 3 + i] = fill(t, i);
  return { data, numFrames: T, height: H, width: W };
}

describe('reconstructionMetrics', () => {
  it('averages per frame over videos and overall over (video, frame), as eval/vae', () => {
    const real = video((_, i) => (i * 37) % 256);
    const recon1 = video((t, i) => Math.min(255, ((i * 37) % 256) + t * 4));
    const recon2 = video((t, i) => Math.max(0, ((i * 37) % 256) - 8));
    const m = reconstructionMetrics([{ real, recon: recon1 }, { real, recon: recon2 }]);
    expect(m.videos).toBe(2);
    expect(m.frames).toBe(3);
    // Frame 0 of pair 1 is identical: PSNR 100 (MSE < 1e-10).
    const f0 = (100 + psnr(Array.from(real.data.subarray(0, 432), (x) => x / 255), Array.from(recon2.data.subarray(0, 432), (x) => x / 255))) / 2;
    expect(m.psnr.perFrame[0]).toBeCloseTo(f0, 10);
    const all = [...m.psnr.perVideo];
    expect(m.psnr.mean).toBeCloseTo((all[0]! + all[1]!) / 2, 12);
    expect(m.ssim.perFrame[0]!).toBeLessThan(1);
    expect(m.skipped.map((s) => s.metric)).toEqual(['lpips', 'flolpips']);
  });
  it('runs a given perceptual network per frame on [-1, 1] images and leaks no tensors', () => {
    const real = video((_, i) => i % 256);
    const recon = video((t, i) => (i + t * 10) % 256);
    const seen: number[][] = [];
    const before = tf.memory().numTensors;
    const m = reconstructionMetrics([{ real, recon }], {
      lpips: { net: 'mean-abs', fn: (a, b) => tf.tidy(() => { seen.push([a.min().dataSync()[0]!, a.max().dataSync()[0]!]); return a.sub(b).abs().mean([1, 2, 3]) as tf.Tensor1D; }) },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(m.lpipsNet).toBe('mean-abs');
    expect(m.lpips!.perFrame[0]).toBe(0);
    expect(m.lpips!.perFrame[1]).toBeGreaterThan(0);
    expect(seen[0]![0]).toBeCloseTo(-1, 5);
    expect(m.skipped.map((s) => s.metric)).toEqual(['flolpips']);
  });
});
