// Data parallel in one process: two ranks (kernels' inProcessGroups, whose collectives meet in
// memory and follow c10d's rules) each with batch 2 must train as one process with batch 4: the same
// per-step losses and the same weights, within 1e-5 relative. The conditioning paths (i2v/v2v mask
// types, drop condition, a *_noisy reference) and gradient accumulation are on, so every per-sample
// and per-batch draw is exercised. The torchrun test (dp-torchrun.e2e.test.ts) does the same
// through real processes and c10d.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { inProcessGroups } from '@opensora-ts/kernels';
import { parseTrainConfig, type DitTrainConfig, type VaeTrainConfig } from './config.js';
import { trainDit } from './dit-trainer.js';
import { trainVae } from './vae-trainer.js';
import { LoadedCheckpoint } from './checkpoint.js';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';
import { weightDistance } from '../test/weights.js';

const root = mkdtempSync(join(tmpdir(), 'train-dp-'));
let csv = '';
const quiet = (l: string) => { if (process.env.DP_DEBUG) process.stderr.write(l + '\n'); };

function config(batch: number, extra: Record<string, unknown> = {}): DitTrainConfig {
  return parseTrainConfig({
    ...tinyDitRunConfig(csv, root, { cache_dir: null }),
    batch_size: batch,
    max_steps: 4,
    ckpt_every: 2,
    accumulation_steps: 2,
    mask_types: { none: 1, i2v_head: 1, v2v_tail: 1, v2v_head_noisy: 1 },
    drop_condition: { keep: 0.7, cond: 0.1, text: 0.1, null: 0.1 },
    ...extra,
  }) as DitTrainConfig;
}

beforeAll(async () => {
  // 10 clips: batch 4 makes 2 global batches per epoch (2 clips left over, a different two each epoch).
  csv = (await writeShapesWorld(join(root, 'data'), { numClips: 10, height: 32, width: 32, numFrames: 9, seed: 5 })).csvPath;
});

describe('data-parallel DiT training (2 ranks in one process)', () => {
  it('2 ranks x batch 2 give the losses and weights of 1 rank x batch 4', async () => {
    const one = await trainDit({ config: config(4), outDir: join(root, 'one'), log: quiet, plot: false });
    const groups = inProcessGroups(2);
    const runs = await Promise.all(groups.map((group) => trainDit({ config: config(2), outDir: join(root, 'two'), log: quiet, plot: false, group })));
    const [r0, r1] = runs;
    expect(r0!.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    // Every rank logs the loss of the whole global batch; rank 0 alone writes it.
    r0!.steps.forEach((s, i) => {
      const ref = one.steps[i]!;
      expect(Math.abs(s.loss - ref.loss) / Math.abs(ref.loss), `step ${s.step}`).toBeLessThan(1e-5);
      expect(Math.abs(s.grad_norm - ref.grad_norm) / ref.grad_norm, `grad norm at step ${s.step}`).toBeLessThan(1e-4);
      expect(s.samples).toBe(ref.samples);
      expect(r1!.steps[i]!.loss).toBe(s.loss);
    });
    expect(r1!.lastCheckpoint).toBe(r0!.lastCheckpoint);
    for (const f of ['model', 'ema', 'optimizer']) {
      const d = weightDistance(join(r0!.paths.checkpoints, 'step-0000004', `${f}.safetensors`), join(one.paths.checkpoints, 'step-0000004', `${f}.safetensors`));
      expect(d.unmatched, f).toEqual([]);
      expect(d.all, f).toBeLessThan(1e-5);
      expect(d.worst, `${f}: ${d.worstName}`).toBeLessThan(1e-5);
    }
    const ck = new LoadedCheckpoint<{ worldSize?: number; sampler: { numReplicas?: number } }>(join(r0!.paths.checkpoints, 'step-0000004'));
    expect(ck.state.worldSize).toBe(2);
    expect(ck.state.sampler.numReplicas).toBe(2);
    const steps = readFileSync(r0!.paths.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'step');
    expect(steps.map((r: { step: number }) => r.step)).toEqual([1, 2, 3, 4]);

    // The 2-rank checkpoint of step 2 resumed by one process (world size 1, batch 2): allowed, with a warning
    // that the global batch changed; the sampler goes on from the saved position.
    const lines: string[] = [];
    const single = await trainDit({ config: config(2), outDir: join(root, 'resized'), resume: join(r0!.paths.checkpoints, 'step-0000002'), log: (l) => lines.push(l), plot: false });
    expect(lines.join('\n')).toMatch(/warning: resuming a run of world size 2 at world size 1: the sampler re-shards the rest of the epoch and each global batch now holds 1 x the per-rank batch size \(was 2 x\)/);
    expect(single.steps.map((s) => [s.step, s.samples])).toEqual([
      [3, 4],
      [4, 4],
    ]);
  }, 400_000);

  it('VAE: 2 ranks x batch 1 give the losses and weights of 1 rank x batch 2 (posterior sampled per sample)', async () => {
    const vaeConfig = (batch: number) =>
      parseTrainConfig({
        task: 'vae',
        dataset: { type: 'VideoTextDataset', data_path: csv, num_frames: 9, image_size: [16, 16] },
        model: {
          type: 'tiny',
          encoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1, 2] },
          decoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [2, 3] },
        },
        latent_sample: 'sample',
        mixed_strategy: 'mixed_video_image',
        mixed_image_ratio: 0.3,
        vae_loss_config: { perceptual_loss_weight: 0, kl_loss_weight: 1e-6 },
        batch_size: batch,
        seed: 3,
        max_steps: 3,
        ckpt_every: 3,
        log_every: 1,
        // AdamW's first steps are about lr x sign(g): an element whose gradient is near zero may step either
        // way on rounding noise, by lr. At lr 1e-5 such flips stay far below the bound, while a wrong draw
        // or a sample on the wrong rank (every element off by ~lr, losses off too) stays far above it.
        lr: 1e-5,
        grad_clip: 1.0,
      }) as VaeTrainConfig;
    const one = await trainVae({ config: vaeConfig(2), outDir: join(root, 'vae-one'), log: quiet, plot: false });
    const groups = inProcessGroups(2);
    const [r0] = await Promise.all(groups.map((group) => trainVae({ config: vaeConfig(1), outDir: join(root, 'vae-two'), log: quiet, plot: false, group })));
    expect(r0!.steps.map((s) => s.step)).toEqual([1, 2, 3]);
    r0!.steps.forEach((s, i) => expect(Math.abs(s.loss - one.steps[i]!.loss) / Math.abs(one.steps[i]!.loss), `step ${s.step}`).toBeLessThan(1e-5));
    for (const f of ['model', 'optimizer']) {
      const d = weightDistance(join(r0!.paths.checkpoints, 'step-0000003', `${f}.safetensors`), join(one.paths.checkpoints, 'step-0000003', `${f}.safetensors`));
      // Weights within 1e-5; AdamW's moments are gradient statistics, as close as the gradients'
      // float sums (batch 2 at once vs two batches of 1 averaged): 1e-4.
      expect(d.all, f).toBeLessThan(f === 'model' ? 1e-5 : 1e-4);
      // Per tensor the bound is looser: a conv bias feeding a GroupNorm of one channel per group (ch 32,
      // 32 groups) has zero true gradient (the norm removes it), so it steps on rounding noise alone (and
      // its moments are noise squared: not compared per tensor).
      if (f === 'model') expect(d.worst, `${f}: ${d.worstName}`).toBeLessThan(1e-3);
    }
  }, 300_000);

  it('VAE GAN stage on 2 ranks: the adaptive weight comes from the ranks\' mean gradients, the same on each', async () => {
    const cfg = parseTrainConfig({
      task: 'vae',
      dataset: { type: 'VideoTextDataset', data_path: csv, num_frames: 9, image_size: [16, 16] },
      model: {
        type: 'tiny',
        encoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1, 2] },
        decoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [2, 3] },
      },
      discriminator: { type: 'N_LAYER_DISCRIMINATOR_3D', input_nc: 3, ndf: 8, n_layers: 1 },
      vae_loss_config: { perceptual_loss_weight: 0, kl_loss_weight: 1e-6 },
      gan_loss_confg: { disc_start: 0, disc_factor: 1, disc_weight: 0.5, disc_loss_type: 'hinge' },
      batch_size: 1,
      seed: 3,
      max_steps: 2,
      ckpt_every: 2,
      log_every: 1,
      lr: 1e-4,
    }) as VaeTrainConfig;
    const runs = await Promise.all(inProcessGroups(2).map((group) => trainVae({ config: cfg, outDir: join(root, 'vae-gan'), log: quiet, plot: false, group })));
    const [a, b] = runs.map((r) => r.steps as unknown as { step: number; loss: number; d_weight: number; d_loss: number }[]);
    expect(a!.map((s) => s.step)).toEqual([1, 2]);
    a!.forEach((s, i) => {
      expect(Number.isFinite(s.d_weight) && s.d_weight > 0).toBe(true);
      expect(b![i]!.d_weight).toBe(s.d_weight);
      expect(b![i]!.loss).toBe(s.loss);
    });
  }, 300_000);
});

