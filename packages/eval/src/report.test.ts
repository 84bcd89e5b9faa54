import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from './report.js';
import { newResults, readResults, writeResults, type EvalResults } from './results.js';

const dir = mkdtempSync(join(tmpdir(), 'eval-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(name: string, shift: number): EvalResults {
  const timesteps = [90.9, 181.8, 272.7];
  return {
    ...newResults(name),
    loss: {
      timesteps,
      buckets: [{ resolution: '144p', numFrames: 17, samples: 4, batches: 2, lossPerTimestep: [0.3 + shift, 0.5 + shift, 0.7 + shift], loss: 0.5 + shift }],
      skipped: [],
      config: { bucket_config: { '144p': { '17': [1, 2] } }, num_eval_timesteps: 3, num_timesteps: 1000, seed: 42, dtype: 'bf16' },
    },
    vae: {
      videos: 2, frames: 3,
      psnr: { perFrame: [30 + shift, 28, 29], perVideo: [29, 29], mean: 29 + shift / 3 },
      ssim: { perFrame: [0.9, 0.8, 0.85], perVideo: [0.85, 0.85], mean: 0.85 },
      skipped: [{ metric: 'lpips', reason: 'no LPIPS weights given' }],
    },
  };
}

describe('report', () => {
  it('writes Markdown with both runs side by side and three PNG plots', async () => {
    const a = join(dir, 'a.json');
    writeResults(a, run('step-100', 0.1));
    expect(readResults(a).name).toBe('step-100');
    const r = await writeReport([readResults(a), run('step-200', 0)], join(dir, 'out'));
    expect(r.markdown).toContain('| bucket | step-100 | step-200 |');
    expect(r.markdown).toContain('| 144p/17f | 0.6000 | 0.5000 |');
    expect(r.markdown).toContain('skipped lpips: no LPIPS weights given');
    for (const f of ['report.md', 'loss-per-timestep.png', 'loss-per-bucket.png', 'psnr-per-frame.png']) {
      const p = join(dir, 'out', f);
      expect(existsSync(p)).toBe(true);
      if (f.endsWith('.png')) {
        const b = readFileSync(p);
        expect([...b.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
        expect(b.length).toBeGreaterThan(10_000);
      }
    }
  });
  it('shows each seed of a run scored at several seeds', async () => {
    const samples = (perSeed?: { seed: number; direction_accuracy: number }[]): EvalResults['samples'] => ({
      suite: 'shapes', color_accuracy: 0.9, direction_accuracy: 0.7, camera_accuracy: 0, n: 10, n_color: 10, n_direction: 6, videos: [],
      ...(perSeed ? { per_seed: perSeed.map((p) => ({ ...p, color_accuracy: 0.9, camera_accuracy: 0 })) } : {}),
    });
    const seeded = { ...newResults('two-seeds'), samples: samples([{ seed: 42, direction_accuracy: 0.8 }, { seed: 1000, direction_accuracy: 0.6 }]) };
    const once = { ...newResults('one-seed'), samples: samples() };
    const r = await writeReport([seeded, once], join(dir, 'seeds'));
    expect(r.markdown).toContain('| direction per seed | 42: 0.8000, 1000: 0.6000 | – |');
    const plain = await writeReport([once], join(dir, 'one'));
    expect(plain.markdown).not.toContain('direction per seed');
  });

  it('rejects a file that is not a results file', () => {
    const p = join(dir, 'bad.json');
    writeResults(p, { ...newResults('x'), format: 'other' as 'opensora-eval/1' }, false);
    expect(() => readResults(p)).toThrow(/expected 'opensora-eval\/1'/);
    expect(() => readResults(join(dir, 'none.json'))).toThrow(/not found/);
  });
});
