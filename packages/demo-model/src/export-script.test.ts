// scripts/export.ts, run as the recipe runs it, on a tiny DiT "run" trained with the demo encoder's
// word-order channels: the export must build the DiT with the encoder's width (128), not the plain 64.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STDiT3, stdit3Preset } from '@opensora-ts/stdit';
import { createVae } from '@opensora-ts/vae';
import { checkDemoTextEncoder, loadDemoModel, writeDemoModel } from './index.js';

const exportScript = fileURLToPath(new URL('../scripts/export.ts', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');

describe('scripts/export.ts', () => {
  it('exports a DiT run trained with text_encoder.word_order, with caption_channels of the encoder that has them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'demo-export-'));
    const vaeCfg = { encoder: { ch: 32, ch_mult: [1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1] }, decoder: { ch: 32, ch_mult: [1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [1], temporal_downsample: 2 } };
    const model = { depth: 1, hidden_size: 48, num_heads: 2 };
    const textEncoder = { type: 'demo' as const, model_max_length: 8, seed: 1234, word_order: true };
    const vae = createVae(vaeCfg);
    const stdit = new STDiT3(stdit3Preset('STDiT3-tiny', { ...model, caption_channels: 128, model_max_length: 8 }) as never, { seed: 1 });
    try {
      // Weights files of the right shapes, as an earlier export would hold them.
      const made = writeDemoModel(vae, stdit, {
        status: 'untrained-placeholder', vae: vaeCfg, stdit: stdit.config as unknown as Record<string, unknown>,
        text_encoder: textEncoder, sampling: { height: 32, width: 32, num_frames: 17, fps: 8, num_sampling_steps: 10, cfg_scale: 4 },
      }, join(root, 'made'));
      const vaePath = join(made, 'vae.safetensors');
      const run = join(root, 'run');
      mkdirSync(join(run, 'checkpoints', 'step-0000001'), { recursive: true });
      copyFileSync(join(made, 'stdit.safetensors'), join(run, 'checkpoints', 'step-0000001', 'ema.safetensors'));
      writeFileSync(join(run, 'config.json'), JSON.stringify({
        model: { type: 'STDiT3-tiny', from_pretrained: null, ...model },
        vae: { type: 'tiny', from_pretrained: vaePath, ...vaeCfg },
        text_encoder: textEncoder,
        dataset: { num_frames: 17, image_size: [32, 32], shapes_world: null },
        scheduler: { num_sampling_steps: 10, cfg_scale: 4, use_timestep_transform: false },
      }));
      writeFileSync(join(run, 'log.jsonl'), `${JSON.stringify({ type: 'step', step: 1, loss: 1 })}\n`);
      const out = join(root, 'export');
      const r = spawnSync(process.execPath, ['--conditions=source', '--import', tsx, exportScript, '--dit-run', run, '--out', out], { encoding: 'utf8', env: { ...process.env, OPENSORA_QUIET: '1' } });
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
      const m = loadDemoModel(out);
      try {
        expect(m.manifest.text_encoder.word_order).toBe(true);
        expect(m.stdit.config.caption_channels).toBe(128);
        expect(m.textEncoder.dim).toBe(128);
        expect(m.manifest.sampling).toMatchObject({ height: 32, width: 32, num_frames: 17, cfg_scale: 4, use_timestep_transform: false });
        expect(await checkDemoTextEncoder(m)).toBeNull();
      } finally {
        m.dispose();
      }
    } finally {
      vae.dispose();
      stdit.dispose();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
