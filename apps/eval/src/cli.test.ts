// The app end to end on tiny random models and a small synthetic set: `loss` reproduces the eval
// package's (and so the flow package's) per-timestep losses and writes the report; `samples`
// writes the adherence JSON; `report` puts two runs side by side.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { tf } from '@opensora-ts/kernels';
import { readMetadata, writeShapesWorld } from '@opensora-ts/data';
import { DemoTextEncoder } from '@opensora-ts/conditioning';
import { loadSTDiT3, stdit3FlowModelFn } from '@opensora-ts/stdit';
import { ChunkedVideoCodec, createVae } from '@opensora-ts/vae';
import { loadEvalBatches, parseEvalLossConfig, readResults, runEvalLoss } from '@opensora-ts/eval';
import { main } from './cli.js';
import { writeTinyEvalRun } from '../test/tiny-eval-run.js';

const dir = mkdtempSync(join(tmpdir(), 'eval-app-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('opensora-eval', () => {
  it('loss: per-timestep losses equal the eval package run, results and report written', async () => {
    const run = await writeTinyEvalRun(dir);
    const { ckpt, csv: csvPath, evalCfg } = run;
    const out = join(dir, 'a.json');
    const code = await main([...run.lossArgs, '--name', 'tiny-a', '--out', out, '--report', join(dir, 'rep')]);
    expect(code).toBe(0);
    const res = readResults(out);
    expect(res.loss!.buckets).toHaveLength(1);
    expect(res.loss!.timesteps).toEqual([250, 500, 752]);
    // The same protocol called directly on the same files.
    const m = loadSTDiT3(ckpt);
    const text = new DemoTextEncoder({ maxLength: m.config.model_max_length });
    const codec = new ChunkedVideoCodec((() => { const v = createVae('tiny'); v.loadStateDict(run.vaeState); return v; })());
    const config = parseEvalLossConfig(evalCfg);
    const rows = (await readMetadata(csvPath)).rows;
    const direct = await runEvalLoss(stdit3FlowModelFn(m.eval()), (b) => loadEvalBatches(rows, b, { encodeVideo: (x) => codec.encode(x as tf.Tensor5D, { seed: 42 }), encodeText: (p) => text.encode(p) }, { seed: 42 }), config);
    expect(res.loss!.buckets[0]!.lossPerTimestep).toEqual(direct.buckets[0]!.lossPerTimestep);
    expect(res.loss!.buckets[0]!.loss).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'rep', 'loss-per-timestep.png'))).toBe(true);
    expect(readFileSync(join(dir, 'rep', 'report.md'), 'utf8')).toContain('| 144p/5f | ');
    // The per-batch resume files are gone once the merged results are written.
    expect(existsSync(`${out}.parts`)).toBe(false);
    text.dispose();
  });

  it('vae: a failed run keeps its finished pairs, and the re-run reuses them instead of decoding them again', async () => {
    const { csvPath } = await writeShapesWorld(join(dir, 'pairs'), { numClips: 3, height: 72, width: 128, numFrames: 5, seed: 9 });
    const videos = (await readMetadata(csvPath)).rows.map((r) => r.path).sort();
    const real = join(dir, 'real');
    const recon = join(dir, 'recon');
    mkdirSync(real);
    mkdirSync(recon);
    videos.forEach((v, i) => {
      copyFileSync(v, join(real, `clip${i}.mp4`));
      if (i < 2) copyFileSync(v, join(recon, `clip${i}.mp4`));
    });
    writeFileSync(join(recon, 'clip2.mp4'), 'not a video');
    const out = join(dir, 'vae.json');
    const errs: string[] = [];
    const orig = console.error;
    console.error = (m: string) => errs.push(m);
    try {
      expect(await main(['vae', '--real', real, '--recon', recon, '--num-frames', '5', '--out', out])).toBe(1);
    } finally {
      console.error = orig;
    }
    expect(errs.join('\n')).toMatch(/clip2\.mp4/);
    expect(readdirSync(`${out}.parts`).sort()).toEqual(['vae-000000.json', 'vae-000001.json']);
    // Mark a stored pair: if the re-run reuses it, the mark shows in the results.
    const part = join(`${out}.parts`, 'vae-000000.json');
    const stored = JSON.parse(readFileSync(part, 'utf8')) as { value: { psnr: number[] } };
    stored.value.psnr = stored.value.psnr.map(() => 42);
    writeFileSync(part, JSON.stringify(stored));
    copyFileSync(videos[2]!, join(recon, 'clip2.mp4'));
    expect(await main(['vae', '--real', real, '--recon', recon, '--num-frames', '5', '--out', out])).toBe(0);
    const r = readResults(out).vae!;
    expect(r.videos).toBe(3);
    expect(r.psnr.perVideo).toEqual([42, 100, 100]);
    expect(existsSync(`${out}.parts`)).toBe(false);
  });

  it('samples --suite shapes --json with the ground-truth sampler gives ~1.0', async () => {
    const json = join(dir, 'adh.json');
    const code = await main(['samples', '--suite', 'shapes', '-n', '6', '--sampler', 'ground-truth', '--height', '72', '--width', '128', '--num-frames', '17', '--json', json, '--out', join(dir, 'b.json'), '--name', 'truth']);
    expect(code).toBe(0);
    const s = JSON.parse(readFileSync(json, 'utf8')) as Record<string, number>;
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['color_accuracy', 'direction_accuracy', 'camera_accuracy', 'n']));
    expect(s.n).toBe(6);
    expect(s.color_accuracy).toBeGreaterThanOrEqual(0.95);
    expect(s.camera_accuracy).toBeGreaterThanOrEqual(0.95);
  });

  it('samples --seeds scores the suite at each seed and reports each run', async () => {
    const json = join(dir, 'seeds.json');
    const code = await main(['samples', '-n', '3', '--sampler', 'ground-truth', '--height', '72', '--width', '128', '--num-frames', '9', '--seeds', '7,1000', '--json', json]);
    expect(code).toBe(0);
    const s = JSON.parse(readFileSync(json, 'utf8')) as { n: number; per_seed: { seed: number; color_accuracy: number }[] };
    expect(s.n).toBe(6);
    expect(s.per_seed.map((x) => x.seed)).toEqual([7, 1000]);
    // Commander prints a bad option value to stderr itself, then exits.
    const errs: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const quiet = console.error;
    process.stderr.write = ((m: string) => errs.push(String(m)) > 0) as typeof process.stderr.write;
    console.error = () => {};
    try {
      expect(await main(['samples', '-n', '1', '--sampler', 'ground-truth', '--seeds', '7,x'])).toBe(1);
    } finally {
      process.stderr.write = write;
      console.error = quiet;
    }
    expect(errs.join('\n')).toMatch(/--seeds must be comma-separated non-negative integers \(e\.g\. 42,1000,2000\), got '7,x'/);
  });

  // Issue 9's prompt-following check on the shipped weights: 50 held-out prompts at the model's own size
  // (about 2 min on 2 cores), at the default sampling seed. Both bars are asserted: the named colour in
  // >= 80% and the direction in >= 70% (the bundled model: 84% / 80%). Other seeds spread the direction over
  // 53-80% (packages/demo-model/README.md), so this pins the shipped run, not the model's mean.
  it('samples without --sampler scores the bundled demo model through the sample app: the named colour in >= 80% and the direction in >= 70% of 50 held-out prompts', async () => {
    const json = join(dir, 'demo.json');
    const code = await main(['samples', '--suite', 'shapes', '-n', '50', '--json', json, '--save', join(dir, 'demo-videos')]);
    expect(code).toBe(0);
    const s = JSON.parse(readFileSync(json, 'utf8')) as Record<string, number>;
    expect(s.n).toBe(50);
    expect(s.n_direction).toBe(30);
    expect(s.color_accuracy).toBeGreaterThanOrEqual(0.8);
    expect(s.direction_accuracy).toBeGreaterThanOrEqual(0.7);
    expect(existsSync(join(dir, 'demo-videos', 'sample_0049.mp4'))).toBe(true);
  }, 900_000);

  it('report puts two runs side by side; user errors name the fix', async () => {
    const code = await main(['report', join(dir, 'a.json'), join(dir, 'b.json'), '--out', join(dir, 'both')]);
    expect(code).toBe(0);
    const md = readFileSync(join(dir, 'both', 'report.md'), 'utf8');
    expect(md).toContain('tiny-a');
    expect(md).toContain('truth');
    const errs: string[] = [];
    const orig = console.error;
    console.error = (m: string) => errs.push(m);
    try {
      expect(await main(['samples', '-n', '1', '--sampler', join(dir, 'no-such-sampler.ts')])).toBe(1);
      expect(await main(['report', join(dir, 'nope.json'), '--out', join(dir, 'x')])).toBe(1);
    } finally {
      console.error = orig;
    }
    expect(errs.join('\n')).toMatch(/--sampler .*no-such-sampler\.ts: file not found/);
    expect(errs.join('\n')).toMatch(/results file not found/);
  });
});
