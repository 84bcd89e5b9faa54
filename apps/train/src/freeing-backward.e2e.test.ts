// The DiT trainer with its freeing backward (kernels' freeingVariableGrads) against the same run with tfjs's
// own backward (OPENSORA_BACKWARD=tfjs): the same losses and gradient norms step by step, exactly, and the
// same final weights (a tiny shapes-world run, as train.e2e.test.ts).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { parseTrainConfig, type DitTrainConfig, type VaeTrainConfig } from './config.js';
import { trainDit } from './dit-trainer.js';
import { trainVae } from './vae-trainer.js';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';

const root = mkdtempSync(join(tmpdir(), 'train-freeing-'));
let csv = '';
let vaeCsv = '';
const quiet = () => {};
const saved = process.env.OPENSORA_BACKWARD;

beforeAll(async () => {
  csv = (await writeShapesWorld(join(root, 'data'), { numClips: 4, height: 32, width: 32, numFrames: 9, seed: 3 })).csvPath;
  vaeCsv = (await writeShapesWorld(join(root, 'vae-data'), { numClips: 2, height: 16, width: 16, numFrames: 9, seed: 2 })).csvPath;
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

  it('the VAE trainer (three backwards per step with the discriminator on) logs the losses of tfjs backward, term by term', async () => {
    // As vae-train.e2e.test.ts: the discriminator joins at step 2.
    const config = () =>
      parseTrainConfig({
        task: 'vae',
        dataset: { type: 'VideoTextDataset', data_path: vaeCsv, num_frames: 9, image_size: [16, 16] },
        model: {
          type: 'tiny',
          encoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1, 2] },
          decoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [2, 3] },
        },
        discriminator: { type: 'N_LAYER_DISCRIMINATOR_3D', input_nc: 3, ndf: 8, n_layers: 1 },
        mixed_strategy: 'mixed_video_image',
        mixed_image_ratio: 0.3,
        vae_loss_config: { perceptual_loss_weight: 0, kl_loss_weight: 1e-6 },
        gan_loss_confg: { disc_start: 2, disc_factor: 1, disc_weight: 0.5, disc_loss_type: 'hinge' },
        batch_size: 1,
        seed: 3,
        max_steps: 3,
        ckpt_every: 3,
        log_every: 1,
        lr: 1e-3,
        grad_clip: 1.0,
      }) as VaeTrainConfig;
    const steps = (path: string) =>
      readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.type === 'step')
        .map(({ loss, nll_loss, kl_loss, g_loss, d_loss, d_weight, grad_norm }) => ({ loss, nll_loss, kl_loss, g_loss, d_loss, d_weight, grad_norm }));
    process.env.OPENSORA_BACKWARD = 'tfjs';
    const ref = await trainVae({ config: config(), outDir: join(root, 'vae-tfjs'), log: quiet, plot: false });
    delete process.env.OPENSORA_BACKWARD;
    const got = await trainVae({ config: config(), outDir: join(root, 'vae-freeing'), log: quiet, plot: false });
    const [a, b] = [steps(ref.paths.log), steps(got.paths.log)];
    expect(a.length).toBe(3);
    expect(typeof a[2]!.d_loss).toBe('number');
    expect(b).toEqual(a);
  }, 600_000);
});
