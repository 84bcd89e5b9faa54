// VAE training end to end at a tiny size: the reconstruction + KL loss, the discriminator with its
// own optimizer switched on mid-run (disc_start), mixed images, and a kill + resume whose losses
// equal the uninterrupted run's.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '@opensora-ts/kernels';
import { writeShapesWorld } from '@opensora-ts/data';
import { parseTrainConfig, type VaeTrainConfig } from './config.js';
import { trainVae } from './vae-trainer.js';

const root = mkdtempSync(join(tmpdir(), 'train-vae-'));
let csv = '';

function config(): VaeTrainConfig {
  return parseTrainConfig({
    task: 'vae',
    dataset: { type: 'VideoTextDataset', data_path: csv, num_frames: 9, image_size: [16, 16] },
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
    max_steps: 4,
    ckpt_every: 2,
    log_every: 1,
    lr: 1e-3,
    grad_clip: 1.0,
  }) as VaeTrainConfig;
}

beforeAll(async () => {
  csv = (await writeShapesWorld(join(root, 'data'), { numClips: 2, height: 16, width: 16, numFrames: 9, seed: 2 })).csvPath;
});

describe('VAE training end to end', () => {
  it('trains with the discriminator from disc_start and resumes after a kill with the same losses', async () => {
    const a = await trainVae({ config: config(), outDir: join(root, 'a'), log: () => {}, plot: false });
    const killed = await trainVae({ config: config(), outDir: join(root, 'b'), log: () => {}, plot: false, stopAfter: 2 });
    expect(killed.finalStep).toBe(2);
    const b = await trainVae({ config: config(), outDir: join(root, 'b'), resume: join(root, 'b'), log: () => {}, plot: false });
    expect(a.finalStep).toBe(4);
    expect(b.finalStep).toBe(4);
    const steps = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>).filter((r) => r.type === 'step');
    const sa = steps(a.paths.log);
    const sb = steps(b.paths.log);
    expect(sb.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(sb.map((r) => r.loss)).toEqual(sa.map((r) => r.loss));
    for (const r of sa) expect(Number.isFinite(r.loss as number)).toBe(true);
    // The GAN terms appear from disc_start on, with the discriminator's own loss.
    expect(sa[0]!.d_loss).toBeUndefined();
    expect(typeof sa[2]!.d_loss).toBe('number');
    expect(typeof sa[2]!.g_loss).toBe('number');
    expect(typeof sa[2]!.d_weight).toBe('number');
  });

  it('freeze_encoder trains the decoder only, so the latent space stays as it was', async () => {
    const start = await trainVae({ config: { ...config(), discriminator: null, max_steps: 1 }, outDir: join(root, 'c0'), log: () => {}, plot: false });
    const from = join(start.lastCheckpoint!, 'model.safetensors');
    const cfg = { ...config(), discriminator: null, freeze_encoder: true, max_steps: 2, model: { ...config().model, from_pretrained: from } };
    const r = await trainVae({ config: cfg, outDir: join(root, 'c1'), log: () => {}, plot: false });
    const before = readSafetensors(from);
    const after = readSafetensors(join(r.lastCheckpoint!, 'model.safetensors'));
    const changed = (k: string) => before.get(k)!.data.some((v, i) => v !== after.get(k)!.data[i]);
    const keys = [...before.keys()];
    expect(keys.filter((k) => k.startsWith('encoder.') && changed(k))).toEqual([]);
    expect(keys.filter((k) => k.startsWith('decoder.') && changed(k)).length).toBeGreaterThan(10);
  });
});
