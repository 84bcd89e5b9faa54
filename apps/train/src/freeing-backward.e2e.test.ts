// The DiT trainer with its freeing backward (kernels' freeingVariableGrads) against the same run with tfjs's
// own backward (OPENSORA_BACKWARD=tfjs): the same losses and gradient norms step by step, exactly, and the
// same final weights (a tiny shapes-world run, as train.e2e.test.ts).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { parseTrainConfig, type DitTrainConfig } from './config.js';
import { trainDit } from './dit-trainer.js';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';

const root = mkdtempSync(join(tmpdir(), 'train-freeing-'));
let csv = '';
const quiet = () => {};
const saved = process.env.OPENSORA_BACKWARD;

beforeAll(async () => {
  csv = (await writeShapesWorld(join(root, 'data'), { numClips: 4, height: 32, width: 32, numFrames: 9, seed: 3 })).csvPath;
});

afterEach(() => {
  if (saved === undefined) delete process.env.OPENSORA_BACKWARD;
  else process.env.OPENSORA_BACKWARD = saved;
});

describe('DiT trainer backward', () => {
  it('gives the losses, gradient norms and weights of tfjs backward', async () => {
    const config = () => parseTrainConfig({ ...tinyDitRunConfig(csv, root), max_steps: 4, ckpt_every: 4 }) as DitTrainConfig;
    process.env.OPENSORA_BACKWARD = 'tfjs';
    const ref = await trainDit({ config: config(), outDir: join(root, 'tfjs'), log: quiet, plot: false });
    delete process.env.OPENSORA_BACKWARD;
    const got = await trainDit({ config: config(), outDir: join(root, 'freeing'), log: quiet, plot: false });
    expect(ref.steps.length).toBe(4);
    expect(got.steps.map((s) => [s.loss, s.grad_norm])).toEqual(ref.steps.map((s) => [s.loss, s.grad_norm]));
    for (const f of ['model', 'ema', 'optimizer']) {
      const x = readFileSync(join(ref.paths.checkpoints, 'step-0000004', `${f}.safetensors`));
      const y = readFileSync(join(got.paths.checkpoints, 'step-0000004', `${f}.safetensors`));
      expect(x.equals(y), f).toBe(true);
    }
  }, 600_000);
});
