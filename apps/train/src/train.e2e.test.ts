// End to end on the pure-JS cpu backend: a tiny shapes-world set (4 clips, 9 frames of 32x32),
// a frozen tiny VAE and the demo text encoder, a tiny STDiT3. An uninterrupted run, a run killed
// after a checkpoint and resumed (losses and final weights must match exactly), memory flat over
// 100 steps, and the stop on a non-finite loss.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { tf } from '@opensora-ts/kernels';
import { parseTrainConfig, type DitTrainConfig } from './config.js';
import { trainDit } from './dit-trainer.js';
import { NonFiniteLossError } from './run-context.js';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';

const root = mkdtempSync(join(tmpdir(), 'train-e2e-'));
let csv = '';
const quiet = () => {};

function config(extra: Record<string, unknown> = {}, model: Record<string, unknown> = {}): DitTrainConfig {
  const base = tinyDitRunConfig(csv, root);
  return parseTrainConfig({
    ...base,
    model: { ...(base.model as Record<string, unknown>), ...model },
    mask_types: { none: 1, i2v_head: 1, v2v_tail: 1, v2v_head_noisy: 1 },
    drop_condition: { keep: 0.7, cond: 0.1, text: 0.1, null: 0.1 },
    ...extra,
  }) as DitTrainConfig;
}

beforeAll(async () => {
  csv = (await writeShapesWorld(join(root, 'data'), { numClips: 4, height: 32, width: 32, numFrames: 9, seed: 3 })).csvPath;
});

describe('DiT training end to end', () => {
  it('resumes after a kill with the losses and weights of the uninterrupted run', async () => {
    const a = await trainDit({ config: config(), outDir: join(root, 'a'), log: quiet, plot: false });
    expect(a.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    const killed = await trainDit({ config: config(), outDir: join(root, 'b'), log: quiet, plot: false, stopAfter: 4 });
    expect(killed.finalStep).toBe(4);
    expect(killed.lastCheckpoint).toMatch(/step-0000003$/);
    const b = await trainDit({ config: config(), outDir: join(root, 'b'), resume: join(root, 'b'), log: quiet });
    expect(b.steps.map((s) => s.step)).toEqual([4, 5, 6]);
    // Exact equality: the same draws, data order, moments and EMA after the resume.
    expect(b.steps.map((s) => s.loss)).toEqual(a.steps.slice(3).map((s) => s.loss));
    expect(killed.steps.slice(0, 3).map((s) => s.loss)).toEqual(a.steps.slice(0, 3).map((s) => s.loss));
    for (const f of ['model', 'ema', 'optimizer']) {
      const x = readFileSync(join(a.paths.checkpoints, 'step-0000006', `${f}.safetensors`));
      const y = readFileSync(join(b.paths.checkpoints, 'step-0000006', `${f}.safetensors`));
      expect(x.equals(y), f).toBe(true);
    }
    // The resumed run's log reads as one run: steps 1..6 once each; the plot was drawn.
    const steps = readFileSync(b.paths.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'step');
    expect(steps.map((r: { step: number }) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(readFileSync(b.paths.plot).subarray(1, 4).toString()).toBe('PNG');
    expect(a.steps.every((s) => Number.isFinite(s.loss) && s.grad_norm > 0 && s.lr === 1e-3)).toBe(true);
  });

  it('keeps tf.memory().numTensors flat from step 10 to step 100', async () => {
    const counts = new Map<number, number>();
    await trainDit({
      config: config({ max_steps: 100, ckpt_every: 1000, batch_size: 1, accumulation_steps: 2, mask_types: null, drop_condition: null }, { hidden_size: 24, num_heads: 4 }),
      outDir: join(root, 'mem'),
      log: quiet,
      plot: false,
      onStep: (s) => counts.set(s.step, tf.memory().numTensors),
    });
    expect(counts.get(10)).toBeGreaterThan(0);
    expect(counts.get(100)).toBe(counts.get(10));
  });

  it('stops on a non-finite loss, naming the step, the samples and the last good checkpoint', async () => {
    const run = trainDit({ config: config({ lr: 1e30, grad_clip: null, ckpt_every: 1, max_steps: 4, mask_types: null, drop_condition: null }), outDir: join(root, 'nan'), log: quiet, plot: false });
    await expect(run).rejects.toThrow(NonFiniteLossError);
    await expect(run).rejects.toThrow(/loss is (NaN|Infinity|-Infinity) at step 2; batch samples: \d+-9-32-32 .*Last good checkpoint: .*step-0000001/);
  });
});
