import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@opensora-ts/kernels';
import { loadTrainConfig, parseTrainConfig } from './config.js';
import { trainingTimeSampler } from './dit-trainer.js';
import { buildDit, buildTextEncoder } from './models.js';
import { applyOverrides, parseOverride } from './overrides.js';

const dir = fileURLToPath(new URL('../../../configs/train/', import.meta.url));
const minimal = {
  dataset: { data_path: 'x.csv' },
  bucket_config: { '360p': { '1': [1, 4] } },
  lr: 1e-4,
  model: { type: 'STDiT3-tiny' },
  vae: { type: 'tiny' },
  text_encoder: { type: 'demo' },
};

describe('training configs', () => {
  it('parses every shipped stage config with its reference values', () => {
    const names = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    expect(names).toEqual(['adapt.json', 'adapt_i2v.json', 'demo.json', 'demo_stage2.json', 'demo_stage3.json', 'demo_stage4.json', 'demo_stage5.json', 'demo_stage6.json', 'demo_stage7.json', 'demo_stage8.json', 'demo_vae.json', 'demo_vae_decoder.json', 'demo_vae_decoder_17f.json', 'demo_vae_decoder_wide.json', 'stage1.json', 'stage1_hq.json', 'stage2.json', 'video_16z.json']);
    for (const n of names) expect(() => loadTrainConfig(dir + n), n).not.toThrow();
    const s1 = loadTrainConfig(dir + 'stage1.json').config;
    expect(s1).toMatchObject({ adam_eps: 1e-15, ema_decay: 0.99, accumulation_steps: 4, use_cosine_scheduler: true, lr: 1e-4, grad_clip: 1 });
    const hq = loadTrainConfig(dir + 'stage1_hq.json').config;
    expect(hq.task === 'dit' && hq.mask_types).toEqual({ none: 8, i2v_head: 2, i2v_tail: 2, i2v_loop: 2, v2v_head: 1, v2v_tail: 1, other: 1 });
    const vae = loadTrainConfig(dir + 'video_16z.json').config;
    expect(vae).toMatchObject({ task: 'vae', lr: 5e-6, mixed_image_ratio: 0.2, dataset: { num_frames: 17, image_size: [256, 256] } });
  });

  it('the demo DiT config builds the same VAE the demo VAE config trains', () => {
    const vaeRun = loadTrainConfig(dir + 'demo_vae.json').config;
    const dit = loadTrainConfig(dir + 'demo.json').config;
    if (vaeRun.task !== 'vae' || dit.task !== 'dit') throw new Error('demo configs changed task');
    const arch = (m: Record<string, unknown>) => ({ type: m.type, encoder: m.encoder, decoder: m.decoder });
    expect(arch(dit.vae)).toEqual(arch(vaeRun.model));
    expect(vaeRun.vae_loss_config.rec_loss).toBe('l2');
    // The decoder fine-tune keeps the same architecture and freezes the encoder the DiT's latents come from.
    for (const name of ['demo_vae_decoder.json', 'demo_vae_decoder_wide.json', 'demo_vae_decoder_17f.json']) {
      const decoderRun = loadTrainConfig(dir + name).config;
      if (decoderRun.task !== 'vae') throw new Error(`${name} changed task`);
      expect(arch(decoderRun.model)).toEqual(arch(vaeRun.model));
      expect(decoderRun.freeze_encoder).toBe(true);
    }
    // The last decoder stage trains on the whole 17-frame clips the DiT's latents decode to.
    const decoder17 = loadTrainConfig(dir + 'demo_vae_decoder_17f.json').config;
    if (decoder17.task !== 'vae') throw new Error('demo_vae_decoder_17f.json changed task');
    expect(decoder17.dataset.num_frames).toBe(dit.dataset.num_frames);
    // Stage 2 continues the same DiT (architecture, text encoder, VAE) on plain timesteps: the
    // 64x64 shift would keep training at low noise, where the prompt hardly matters.
    const stage2 = loadTrainConfig(dir + 'demo_stage2.json').config;
    if (stage2.task !== 'dit') throw new Error('demo stage-2 config changed task');
    expect(stage2.model).toEqual(dit.model);
    expect(stage2.text_encoder).toEqual(dit.text_encoder);
    expect(arch(stage2.vae)).toEqual(arch(vaeRun.model));
    expect(dit.scheduler.use_timestep_transform).toBe(true);
    expect(stage2.scheduler.use_timestep_transform).toBe(false);
    expect(stage2.scheduler).toMatchObject({ num_sampling_steps: 30, cfg_scale: 4 });
    // Stage 3 continues stage 2 as it was, at a lower rate; the export reads the model's default
    // sampling from it (guidance 4 scored best on the held-out prompts).
    const stage3 = loadTrainConfig(dir + 'demo_stage3.json').config;
    if (stage3.task !== 'dit') throw new Error('demo stage-3 config changed task');
    expect(stage3.model).toEqual(stage2.model);
    expect(stage3.text_encoder).toEqual(stage2.text_encoder);
    expect(stage3.scheduler).toEqual(stage2.scheduler);
    expect(stage3.mask_types).toEqual(stage2.mask_types);
    expect(stage3.lr).toBeLessThan(stage2.lr);
    // Stages 4-7 teach direction: the frame-index embedding (without it the pure-noise estimate is
    // time-symmetric, a still blob), fast-moving clips, then ever more training steps at high noise,
    // where layout and motion are decided.
    const later = ['demo_stage4.json', 'demo_stage5.json', 'demo_stage6.json', 'demo_stage7.json'].map((n) => {
      const c = loadTrainConfig(dir + n).config;
      if (c.task !== 'dit') throw new Error(`${n} changed task`);
      expect(c.model).toEqual({ ...stage3.model, temporal_pos_embed: true });
      expect(c.text_encoder).toEqual(stage3.text_encoder);
      expect(c.mask_types).toEqual(stage3.mask_types);
      return c;
    });
    expect(later[0]!.dataset.shapes_world).toMatchObject({ num_clips: 1024, speed_range: [3, 6], scenes: { object: 0.6, camera: 0.2, still: 0.2 } });
    expect(later[0]!.scheduler.sample_method).toBe('uniform');
    expect(later.slice(1).map((c) => c.scheduler.loc)).toEqual([2, 1.5, 1.5]);
    expect(later.slice(1).map((c) => c.lr)).toEqual([5e-4, 5e-4, 3e-4]);
    // Stage 8 is stage 7 with the frame-to-frame loss term, 1500 steps at a lower rate.
    const stage8 = loadTrainConfig(dir + 'demo_stage8.json').config;
    const stage7 = later[3]!;
    if (stage8.task !== 'dit') throw new Error('demo_stage8.json changed task');
    expect(stage7.temporal_diff_loss_weight).toBe(0);
    expect(stage8).toEqual({ ...stage7, temporal_diff_loss_weight: 2, lr: 2e-4, max_steps: 1500, seed: 44 });
  });

  it("passes the scheduler's logit-normal loc and scale to the training timestep sampler", () => {
    const median = (scheduler: Record<string, unknown>) => {
      const cfg = parseTrainConfig({ ...minimal, scheduler });
      if (cfg.task !== 'dit') throw new Error('expected a DiT config');
      const t = trainingTimeSampler(cfg.scheduler).sample(2001, new SeededRandom(5)).sort((a, b) => a - b);
      return t[1000]! / 1000;
    };
    // Median of sigmoid(loc + scale N(0,1)) is sigmoid(loc): 0.5 by default, 0.88 at loc 2.
    expect(median({ sample_method: 'logit-normal' })).toBeCloseTo(0.5, 1);
    expect(median({ sample_method: 'logit-normal', loc: 2, scale: 0.5 })).toBeCloseTo(1 / (1 + Math.exp(-2)), 1);
    expect(() => parseTrainConfig({ ...minimal, scheduler: { scale: 0 } }, 'f.json')).toThrow(/scheduler\.scale/);
  });

  it('text_encoder.word_order gives the demo encoder its word-order channels (twice the caption channels)', () => {
    const dim = (textEncoder: Record<string, unknown>) => {
      const cfg = parseTrainConfig({ ...minimal, text_encoder: textEncoder });
      if (cfg.task !== 'dit') throw new Error('expected a DiT config');
      const enc = buildTextEncoder(cfg);
      enc.dispose();
      return enc.dim;
    };
    expect(dim({ type: 'demo', model_max_length: 8 })).toBe(64);
    expect(dim({ type: 'demo', model_max_length: 8, word_order: true })).toBe(128);
    expect(() => parseTrainConfig({ ...minimal, text_encoder: { type: 'demo', word_order: 'yes' } }, 'f.json')).toThrow(/text_encoder\.word_order/);
  });

  it('text_encoder type t5 (what --text-encoder DIR sets) needs a local T5 folder and names what is wrong', () => {
    const build = (textEncoder: Record<string, unknown>) => {
      const cfg = parseTrainConfig({ ...minimal, text_encoder: textEncoder });
      if (cfg.task !== 'dit') throw new Error('expected a DiT config');
      return buildTextEncoder(cfg);
    };
    expect(() => build({ type: 't5' })).toThrow(/text_encoder\.from_pretrained: .*Pass --text-encoder DIR/);
    expect(() => build({ type: 't5', from_pretrained: join(tmpdir(), 'no-such-t5') })).toThrow(/no-such-t5: no config\.json/);
  });

  it('temporal_diff_loss_weight: 0 (the reference loss) unless set, never negative', () => {
    const plain = parseTrainConfig(minimal);
    if (plain.task !== 'dit') throw new Error('expected a DiT config');
    expect(plain.temporal_diff_loss_weight).toBe(0);
    expect(() => parseTrainConfig({ ...minimal, temporal_diff_loss_weight: -1 }, 'f.json')).toThrow(/temporal_diff_loss_weight/);
  });

  it('trainable_params freezes every DiT parameter no pattern matches, and names a pattern that matches none', () => {
    const build = (trainable_params: unknown) => {
      const cfg = parseTrainConfig({ ...minimal, model: { type: 'STDiT3-tiny', depth: 1, hidden_size: 48, num_heads: 2 }, trainable_params }, 'f.json');
      if (cfg.task !== 'dit') throw new Error('expected a DiT config');
      const text = buildTextEncoder(cfg);
      try {
        const lines: string[] = [];
        const model = buildDit(cfg, text, 4, (l) => lines.push(l));
        const trainable = [...model.namedParameters()].filter(([, p]) => p.trainable).map(([n]) => n);
        const variables = model.trainableVariables().length;
        model.dispose();
        return { trainable, variables, lines };
      } finally {
        text.dispose();
      }
    };
    const all = build(null);
    const some = build(['^y_embedder\\.', '\\.cross_attn\\.']);
    expect(some.trainable.length).toBeGreaterThan(4);
    expect(some.trainable.length).toBeLessThan(all.trainable.length);
    for (const n of some.trainable) expect(n).toMatch(/^y_embedder\.|\.cross_attn\./);
    expect(all.trainable.filter((n) => /^y_embedder\.|\.cross_attn\./.test(n))).toEqual(some.trainable);
    expect(some.variables).toBe(some.trainable.length);
    expect(some.lines.join('\n')).toMatch(new RegExp(`training ${some.trainable.length} of \\d+ parameter tensors`));
    expect(() => build(['^cross_attn\\.'])).toThrow(/trainable_params: "\^cross_attn\\\\\." matches no DiT parameter; names look like/);
    expect(() => build(['('])).toThrow(/trainable_params: "\(" is not a regular expression/);
    expect(() => build([])).toThrow(/trainable_params/);
  });

  it('names an unknown key with a close match, and a mistyped value with what was found', () => {
    expect(() => parseTrainConfig({ ...minimal, lrr: 1 }, 'f.json')).toThrow(/lrr: unknown key; did you mean 'lr'\?/);
    expect(() => parseTrainConfig({ ...minimal, model: { type: 'STDiT3-tiny', kernal_size: [4, 4, -1] } }, 'f.json')).toThrow(/model\.kernal_size: unknown STDiT3 key; did you mean 'kernel_size'\?/);
    expect(() => parseTrainConfig({ ...minimal, ema_decay: 'high' }, 'f.json')).toThrow(/f\.json: invalid DiT training config\n {2}ema_decay: .*number.*\(found "high"\)/);
    expect(() => parseTrainConfig({ ...minimal, mask_types: { i2v_hed: 1 } }, 'f.json')).toThrow(/mask_types/);
    expect(() => parseTrainConfig({ ...minimal, task: 'vea' }, 'f.json')).toThrow(/task "vea": expected "dit"/);
  });

  it('applies --set overrides (JSON values, nested keys) before validation', () => {
    const o = [parseOverride('lr=3e-4'), parseOverride('model.depth=3'), parseOverride('dataset.data_path=data/meta.csv'), parseOverride('bucket_config={"144p":{"17":[1,2]}}')];
    const raw = applyOverrides(minimal, o);
    const cfg = parseTrainConfig(raw);
    expect(cfg.lr).toBe(3e-4);
    expect(cfg.task === 'dit' && cfg.model.depth).toBe(3);
    expect(cfg.dataset.data_path).toBe('data/meta.csv');
    expect(cfg.bucket_config).toEqual({ '144p': { '17': [1, 2] } });
    expect(minimal.lr).toBe(1e-4); // the input is not modified
    expect(() => parseOverride('lr')).toThrow(/expected KEY=VALUE/);
    expect(() => applyOverrides({ lr: 1 }, [parseOverride('lr.x=1')])).toThrow(/'lr' is 1, not an object/);
  });
});
