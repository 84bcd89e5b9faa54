import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DemoTextEncoder } from '@opensora-ts/conditioning';
import { SafetensorsFile, tf } from '@opensora-ts/kernels';
import { STDiT3 } from '@opensora-ts/stdit';
import { createVae } from '@opensora-ts/vae';
import { checkDemoTextEncoder, demoModelPaths, loadDemoModel, readDemoManifest, writeDemoModel } from './index.js';
import { textEncoderFingerprint } from './fingerprint.js';

describe('bundled demo model', () => {
  it('is under 30 MB, float16, and loads into a VAE, an STDiT3 and the demo text encoder that fit together', async () => {
    const p = demoModelPaths();
    const bytes = [p.vae, p.stdit, p.manifest].reduce((s, f) => s + statSync(f).size, 0);
    expect(bytes).toBeLessThan(30 * 1024 * 1024);
    const f = new SafetensorsFile(p.stdit);
    expect(f.info(f.keys()[0]!).dtype).toBe('F16');
    f.close();
    const m = loadDemoModel();
    try {
      expect(['trained', 'untrained-placeholder']).toContain(m.manifest.status);
      expect(m.stdit.config.caption_channels).toBe(m.textEncoder.dim);
      expect(m.stdit.config.model_max_length).toBe(m.textEncoder.maxLength);
      expect(m.stdit.config.in_channels).toBe(m.vae.zChannels);
      const e = await m.textEncoder.encode(['a red circle moves to the left']);
      const n = m.textEncoder.null(1);
      expect(n.states.shape).toEqual(e.states.shape);
      expect(m.textEncoder.unknownWords('a red dog moves left')).toEqual(['dog']);
      tf.dispose([e.states, e.mask, n.states, n.mask]);
      // The encoder still gives the features the DiT was made with; a different probe is reported.
      expect(m.manifest.text_encoder.fingerprint).toHaveLength(32);
      expect(await checkDemoTextEncoder(m)).toBeNull();
      m.manifest.text_encoder.fingerprint = m.manifest.text_encoder.fingerprint!.map((v) => v + 0.5);
      expect(await checkDemoTextEncoder(m)).toMatch(/features changed since the demo DiT was trained/);
    } finally {
      m.dispose();
    }
  });
});

/** A tiny demo model written to `dir` (plain encoder, or with its word-order channels); returns its modules to dispose. */
function writeTinyDemoModel(dir: string, wordOrder: boolean) {
  const vaeCfg = { encoder: { ch: 32, ch_mult: [1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1] }, decoder: { ch: 32, ch_mult: [1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [1], temporal_downsample: 2 } };
  const stditCfg = { depth: 1, hidden_size: 48, num_heads: 2, caption_channels: wordOrder ? 128 : 64, model_max_length: 8, kernel_size: [4, 4, -1], use_spatial_rope: true };
  const vae = createVae(vaeCfg);
  const stdit = new STDiT3(stditCfg as never, { seed: 1 });
  writeDemoModel(vae, stdit, {
    status: 'untrained-placeholder',
    vae: vaeCfg,
    stdit: stditCfg,
    text_encoder: { type: 'demo', seed: 1234, model_max_length: 8, ...(wordOrder ? { word_order: true } : {}) },
    sampling: { height: 32, width: 32, num_frames: 17, fps: 8, num_sampling_steps: 10, cfg_scale: 7.5 },
  }, dir);
  return { vae, stdit };
}

describe('writeDemoModel', () => {
  it('writes float16 weights and a manifest that load back, and names a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-model-'));
    const { vae, stdit } = writeTinyDemoModel(dir, false);
    try {
      expect(readDemoManifest(join(dir, 'model.json')).status).toBe('untrained-placeholder');
      const back = loadDemoModel(dir);
      const key = 'x_embedder.proj.weight';
      const a = stdit.stateDict().get(key)!;
      const b = back.stdit.stateDict().get(key)!;
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
      expect(err).toBeGreaterThan(0); // stored as float16
      expect(err).toBeLessThan(1e-3);
      tf.dispose([a, b]);
      // A manifest written before the key existed is sampled with the reference's timestep shift.
      expect(back.manifest.sampling.use_timestep_transform).toBe(true);
      back.dispose();
      const partial = mkdtempSync(join(tmpdir(), 'demo-model-partial-'));
      copyFileSync(join(dir, 'model.json'), join(partial, 'model.json'));
      copyFileSync(join(dir, 'stdit.safetensors'), join(partial, 'stdit.safetensors'));
      expect(() => loadDemoModel(partial)).toThrow(/missing VAE weights .*vae\.safetensors/);
      rmSync(partial, { recursive: true, force: true });
    } finally {
      vae.dispose();
      stdit.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a demo model trained with the word-order channels', () => {
  it('loads with the encoder that has them, and its fingerprint covers both halves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-model-word-order-'));
    const { vae, stdit } = writeTinyDemoModel(dir, true);
    try {
      const m = loadDemoModel(dir);
      try {
        expect(m.textEncoder.dim).toBe(128);
        const probe = await textEncoderFingerprint(m.textEncoder);
        expect(probe).toHaveLength(64);
        // The first half is the plain encoder's probe, unchanged.
        const plain = new DemoTextEncoder({ seed: 1234, maxLength: 8 });
        expect(probe.slice(0, 32)).toEqual(await textEncoderFingerprint(plain));
        plain.dispose();
        m.manifest.text_encoder.fingerprint = probe;
        expect(await checkDemoTextEncoder(m)).toBeNull();
        m.manifest.text_encoder.fingerprint = probe.map((v, i) => (i < 32 ? v : v + 0.5));
        expect(await checkDemoTextEncoder(m)).toMatch(/features changed/);
      } finally {
        m.dispose();
      }
    } finally {
      vae.dispose();
      stdit.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
