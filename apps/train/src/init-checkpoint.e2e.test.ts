// Starting a DiT run from an initial checkpoint (model.from_pretrained): one of our own runs (a run
// folder resolves to its newest checkpoint), a checkpoint folder of the reference's own training
// (its ema.pt, a torch.save file), and an official 4-channel (Open-Sora 1.2 VAE) checkpoint
// converted with adapt_16ch. A vanishing lr (1e-30) leaves the loaded weights in place,
// so the run's first checkpoint must hold what was loaded.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_T5_CONFIG } from '@opensora-ts/conditioning';
import { writeShapesWorld } from '@opensora-ts/data';
import { readSafetensors, writeSafetensors, type HostTensor } from '@opensora-ts/kernels';
import { adapt16chTensor, STDiT3, stdit3Preset } from '@opensora-ts/stdit';
import { writeTorchSave } from '../../../packages/kernels/src/testing/torch-save.js';
import { parseTrainConfig, type DitTrainConfig } from './config.js';
import { trainDit } from './dit-trainer.js';

const root = mkdtempSync(join(tmpdir(), 'train-init-'));
let csv = '';
const MODEL = { type: 'STDiT3-tiny', depth: 1, hidden_size: 48, num_heads: 2, kernel_size: [2, 2, -1] };
const MAX_LENGTH = 16;

function config(model: Record<string, unknown>, extra: Record<string, unknown> = {}): DitTrainConfig {
  return parseTrainConfig({
    dataset: { type: 'VideoTextDataset', data_path: csv, num_frames: 9, image_size: [32, 32] },
    batch_size: 2,
    seed: 11,
    max_steps: 1,
    ckpt_every: 1,
    log_every: 1,
    lr: 1e-30,
    cache_dir: join(root, 'cache'),
    model: { ...MODEL, ...model },
    vae: {
      type: 'tiny',
      // Whole clips, no 17-frame chunks: 9 frames then make 3 latent frames that decode back to 9 (with the
      // preset's chunks of 17, 9 frames give no latent frame and the run is refused, as sampling them is).
      micro_frame_size: null,
      encoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1, 2] },
      decoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [2, 3] },
    },
    text_encoder: { type: 'demo', model_max_length: MAX_LENGTH },
    ...extra,
  }) as DitTrainConfig;
}

function expectSameTensors(got: Map<string, HostTensor>, want: Map<string, HostTensor>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, w] of want) {
    const g = got.get(k)!;
    expect(g.shape, k).toEqual(w.shape);
    const a = g.data as Float32Array;
    const b = w.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst, k).toBeLessThan(1e-20);
  }
}

beforeAll(async () => {
  csv = (await writeShapesWorld(join(root, 'data'), { numClips: 2, height: 32, width: 32, numFrames: 9, seed: 5 })).csvPath;
});

describe('initial checkpoints', () => {
  it('starts from one of our runs (a run folder: its newest checkpoint)', async () => {
    const src = await trainDit({ config: config({}, { lr: 1e-3, max_steps: 2, ckpt_every: 2 }), outDir: join(root, 'src'), log: () => {}, plot: false });
    const lines: string[] = [];
    const run = await trainDit({ config: config({ from_pretrained: join(root, 'src') }), outDir: join(root, 'from-ours'), log: (l) => lines.push(l), plot: false });
    const loadedLine = lines.find((l) => l.startsWith('model:') && l.includes('weights from'));
    expect(loadedLine).toBeDefined();
    const loadedFile = /weights from (\S+):/.exec(loadedLine!)![1]!;
    expect(loadedFile.startsWith(src.lastCheckpoint!)).toBe(true);
    expectSameTensors(readSafetensors(join(run.lastCheckpoint!, 'model.safetensors')), readSafetensors(loadedFile));
  });

  it("starts from a checkpoint folder of the reference's training (epochN-global_stepM: its ema.pt, a torch.save file)", async () => {
    const cfg = stdit3Preset('STDiT3-tiny', { ...MODEL, kernel_size: [2, 2, -1], in_channels: 16, caption_channels: DEMO_T5_CONFIG.d_model, model_max_length: MAX_LENGTH });
    const reference = new STDiT3(cfg, { seed: 4 });
    const state = new Map<string, HostTensor>();
    for (const [k, t] of reference.stateDict()) state.set(k, { dtype: 'float32', stored: 'F32', shape: [...t.shape], data: Float32Array.from(t.dataSync()) });
    reference.dispose();
    // What scripts/train.py leaves: running_states.json, ema.pt (torch.save of the EMA state dict), model/ shards.
    const folder = join(root, 'reference-run', 'epoch0-global_step2');
    mkdirSync(join(folder, 'model'), { recursive: true });
    writeFileSync(join(folder, 'running_states.json'), JSON.stringify({ epoch: 0, step: 2, global_step: 2, batch_size: 2 }));
    writeTorchSave(join(folder, 'ema.pt'), Object.fromEntries([...state].map(([k, t]) => [k, { shape: t.shape, data: t.data }])));
    const lines: string[] = [];
    const run = await trainDit({ config: config({ from_pretrained: folder }), outDir: join(root, 'from-reference'), log: (l) => lines.push(l), plot: false });
    expect(lines.some((l) => l.includes(`weights from ${join(folder, 'ema.pt')}:`))).toBe(true);
    expectSameTensors(readSafetensors(join(run.lastCheckpoint!, 'model.safetensors')), state);
  });

  it('converts an official 4-channel checkpoint with adapt_16ch, and refuses it without', async () => {
    // An official-layout STDiT3 for a 4-channel VAE (Open-Sora 1.2): x_embedder takes 4 channels, the
    // final layer predicts 8, and there are no 1.3 condition embedders (they keep their zero init).
    const cfg4 = stdit3Preset('STDiT3-tiny', { ...MODEL, kernel_size: [2, 2, -1], in_channels: 4, caption_channels: DEMO_T5_CONFIG.d_model, model_max_length: MAX_LENGTH });
    const official = new STDiT3(cfg4, { seed: 3 });
    const file = join(root, 'official-4ch.safetensors');
    const state = new Map<string, HostTensor>();
    for (const [k, t] of official.stateDict()) if (!k.startsWith('x_embedder_cond')) state.set(k, { dtype: 'float32', stored: 'F32', shape: [...t.shape], data: Float32Array.from(t.dataSync()) });
    writeSafetensors(file, new Map([...state].map(([k, t]) => [k, { shape: t.shape, data: t.data }])));
    official.dispose();

    await expect(trainDit({ config: config({ from_pretrained: file }), outDir: join(root, 'no-adapt'), log: () => {}, plot: false })).rejects.toThrow(/x_embedder\.proj\.weight|shape/);

    const lines: string[] = [];
    const run = await trainDit({ config: config({ from_pretrained: file, adapt_16ch: true }), outDir: join(root, 'adapt'), log: (l) => lines.push(l), plot: false });
    expect(lines.some((l) => l.includes('(adapt_16ch)'))).toBe(true);
    const want = new Map([...state].map(([k, t]) => [k, adapt16chTensor(k, t)]));
    const got = readSafetensors(join(run.lastCheckpoint!, 'model.safetensors'));
    for (const k of [...got.keys()].filter((k) => k.startsWith('x_embedder_cond'))) got.delete(k);
    expectSameTensors(got, want);
  });
});
