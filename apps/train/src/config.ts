// Training configs: JSON files with the reference's key names (configs/opensora-v1-3/train/*.py and
// configs/vae_v1_3/train/video_16z.py), validated with zod so an unknown or mistyped key fails with
// its path, what was expected and a close match. Keys the reference uses only for its GPU cluster
// (plugin, dtype, num_workers, ...) are accepted and ignored; keys marked "opensora-ts" are ours.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { bucketConfigSchema, DEFAULT_SCENE_WEIGHTS } from '@opensora-ts/data';
import { DROP_CONDITIONS, MASK_TYPES } from '@opensora-ts/flow';
import { stdit3ConfigSchema } from '@opensora-ts/stdit';
import { VAE_PRESETS, vaeConfigSchema } from '@opensora-ts/vae';
import { applyOverrides, type Override } from './overrides.js';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const prob = z.number().min(0).max(1);

/** Accepted so the reference's configs read as is; they steer its GPU cluster, not the maths. */
const ignoredKeys = {
  grad_checkpoint: z.boolean().optional(),
  num_workers: nonNegInt.optional(),
  num_bucket_build_workers: nonNegInt.optional(),
  dtype: z.enum(['bf16', 'fp16', 'fp32']).optional(),
  plugin: z.string().optional(),
  outputs: z.string().optional(),
  wandb: z.boolean().optional(),
  /** adapt.py / stage1_noise.py carry `warmup`, which the reference's train script never reads. */
  warmup: z.number().optional(),
};

const shapesWorldSchema = z
  .object({
    num_clips: posInt,
    height: posInt.default(144),
    width: posInt.default(256),
    num_frames: posInt.default(33),
    fps: posInt.default(8),
    seed: z.number().int().default(0),
    /** opensora-ts: background texture amplitude range in grey levels (the generator's default [50, 80]). */
    background_amplitude: z.tuple([z.number().min(0), z.number().min(0)]).optional(),
    /** opensora-ts: base grey range [lo, hi] (default [85, 125]) and per-channel tint (default 10) of the backgrounds. */
    background_grey: z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255)]).optional(),
    background_tint: z.number().int().min(0).optional(),
    /** opensora-ts: relative weights of the scene kinds (missing ones: the data package's DEFAULT_SCENE_WEIGHTS). */
    scenes: z
      .object({ object: z.number().min(0), camera: z.number().min(0), still: z.number().min(0) })
      .partial()
      .strict()
      .refine((w) => Object.values({ ...DEFAULT_SCENE_WEIGHTS, ...w }).reduce((a, b) => a + b, 0) > 0, 'scenes: the weights sum to 0; give at least one scene kind a positive weight')
      .optional(),
    /** opensora-ts: object/pan speed range [lo, hi] in px per frame at a 144-px short side (default [0.75, 3]). */
    speed_range: z.tuple([z.number().positive(), z.number().positive()]).refine(([lo, hi]) => lo <= hi, 'speed_range: expected [lo, hi] with lo <= hi').optional(),
    /** opensora-ts: size range [lo, hi] of the shapes in object and still scenes, as a fraction of the short side. */
    size_range: z.tuple([z.number().positive(), z.number().positive()]).refine(([lo, hi]) => lo <= hi && hi < 1, 'size_range: expected [lo, hi] with lo <= hi < 1 (fractions of the short side)').optional(),
    /** opensora-ts: share of object scenes with two shapes moving opposite ways (default 0.3). */
    two_shape_share: prob.optional(),
  })
  .strict();

const datasetSchema = z
  .object({
    type: z.enum(['VariableVideoTextDataset', 'VideoTextDataset']).default('VariableVideoTextDataset'),
    transform_name: z.literal('resize_crop').default('resize_crop'),
    /** Metadata CSV (path, text, num_frames, height, width, ...). Relative to the config file's folder is NOT assumed: relative to the working directory. */
    data_path: z.string().nullable().default(null),
    /** VideoTextDataset: frames per sample and [H, W] (used when bucket_config is null). */
    num_frames: posInt.optional(),
    image_size: z.tuple([posInt, posInt]).optional(),
    frame_interval: posInt.default(1),
    /** opensora-ts: generate a shapes-world set into <out>/data when data_path is null. */
    shapes_world: shapesWorldSchema.nullable().default(null),
  })
  .strict();

/** Optimisation, schedule, logging and checkpoint keys shared by the DiT and VAE stages. */
const commonKeys = {
  ...ignoredKeys,
  dataset: datasetSchema,
  bucket_config: bucketConfigSchema.nullable().default(null),
  /** Batch size when bucket_config is null (VideoTextDataset). */
  batch_size: posInt.default(1),
  seed: z.number().int().default(42),
  epochs: posInt.default(1000),
  log_every: posInt.default(10),
  /** Steps between checkpoints (>= 1; a natural end always saves the last step, so a value above max_steps saves only that). */
  ckpt_every: z.number().int().min(1, 'ckpt_every must be >= 1 (steps between checkpoints); to save only at the end, set it above max_steps').default(500),
  /** A checkpoint folder to resume from (the same as --resume). */
  load: z.string().nullable().default(null),
  lr: z.number().positive(),
  warmup_steps: nonNegInt.nullable().default(null),
  use_cosine_scheduler: z.boolean().default(false),
  grad_clip: z.number().positive().nullable().default(null),
  adam_eps: z.number().positive().default(1e-8),
  ema_decay: prob.default(0.9999),
  accumulation_steps: posInt.default(1),
  // opensora-ts extensions
  /** Stop after this many optimizer steps (null: run `epochs`). */
  max_steps: posInt.nullable().default(null),
  /** Checkpoints kept on disk (the newest K). */
  keep_last: posInt.default(3),
  weight_decay: z.number().nonnegative().default(0),
  adam_betas: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.9, 0.999]),
  /** Where the linear warmup starts (the reference's LinearWarmupLR default). */
  initial_lr: z.number().nonnegative().default(1e-6),
  /** Latent / text-embedding caches; default <out>/cache. */
  cache_dir: z.string().nullable().default(null),
  /** Batches decoded ahead. */
  prefetch: posInt.default(2),
  /** MiB of decoded videos kept in memory across epochs (0: decode each sample from its file). */
  decoded_cache_mb: z.number().int().nonnegative().default(0),
};

const maskTypesSchema = z.partialRecord(z.enum(MASK_TYPES), z.number().nonnegative());
const dropConditionSchema = z.partialRecord(z.enum(DROP_CONDITIONS), z.number().nonnegative());

const stditKeys = new Set(Object.keys(stdit3ConfigSchema.shape));
const vaeKeys = new Set(Object.keys(vaeConfigSchema.shape));

const ditModelSchema = z
  .object({
    /** An STDiT3 preset name (STDiT3-XL/2, STDiT3-mid, STDiT3-tiny, ...). */
    type: z.string().default('STDiT3-XL/2'),
    /** Initial weights: an official model.safetensors / HF folder, or one of our checkpoints' model/ema file. */
    from_pretrained: z.string().nullable().default(null),
    /** Convert a 4-channel checkpoint to 16 channels on load (adapt.py). */
    adapt_16ch: z.boolean().default(false),
    /** stage1_hq.py sets it; the 1.3 STDiT3 always has the condition embedders. */
    use_cond: z.boolean().optional(),
    force_huggingface: z.boolean().optional(),
  })
  .catchall(z.unknown())
  .superRefine((m, ctx) => {
    const rest = otherKeys(m, ['type', 'from_pretrained', 'adapt_16ch', 'use_cond', 'force_huggingface']);
    for (const k of Object.keys(rest)) {
      if (!stditKeys.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: `unknown STDiT3 key${suggest(k, [...stditKeys, 'type', 'from_pretrained', 'adapt_16ch'])}` });
    }
    const r = stdit3ConfigSchema.safeParse(rest);
    if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', path: i.path as (string | number)[], message: i.message });
  });

const vaeModelSchema = z
  .object({
    /** 'OpenSoraVAE_V1_3' (the released architecture) or a preset name ('tiny'). */
    type: z.string().default('OpenSoraVAE_V1_3'),
    from_pretrained: z.string().nullable().default(null),
  })
  .catchall(z.unknown())
  .superRefine((m, ctx) => {
    if (!VAE_PRESETS[m.type]) ctx.addIssue({ code: 'custom', path: ['type'], message: `unknown VAE type '${m.type}'; expected one of ${Object.keys(VAE_PRESETS).join(', ')}` });
    const rest = otherKeys(m, ['type', 'from_pretrained']);
    for (const k of Object.keys(rest)) {
      if (!vaeKeys.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: `unknown VAE key${suggest(k, [...vaeKeys])}` });
    }
    const r = vaeConfigSchema.safeParse(rest);
    if (!r.success) for (const i of r.error.issues) if (i.code !== 'unrecognized_keys') ctx.addIssue({ code: 'custom', path: i.path as (string | number)[], message: i.message });
  });

const textEncoderSchema = z
  .object({
    /** 't5': a local T5 v1.1 folder (from_pretrained); 'demo': the built-in shapes-world encoder. */
    type: z.enum(['t5', 'demo']),
    from_pretrained: z.string().nullable().default(null),
    model_max_length: posInt.default(300),
    shardformer: z.boolean().optional(),
    /** demo encoder: seed of its frozen weights. */
    seed: z.number().int().optional(),
    /** demo encoder: append its word-order channels (the conditioning package's DemoTextEncoder `wordOrder`; doubles caption_channels). */
    word_order: z.boolean().optional(),
  })
  .strict();

const schedulerSchema = z
  .object({
    type: z.literal('rflow').default('rflow'),
    sample_method: z.enum(['uniform', 'logit-normal']).default('uniform'),
    /** Logit-normal location and scale (the reference RFlow's loc/scale): t = sigmoid(loc + scale·N(0,1)). */
    loc: z.number().default(0),
    scale: z.number().positive().default(1),
    use_timestep_transform: z.boolean().default(false),
    use_discrete_timesteps: z.boolean().default(false),
    num_timesteps: posInt.default(1000),
    /** The reference forces 1.0 in training whatever this says; kept for parity with the file. */
    transform_scale: z.number().positive().optional(),
    drop_condition: dropConditionSchema.nullable().optional(),
    num_sampling_steps: posInt.optional(),
    cfg_scale: z.number().optional(),
  })
  .strict();

export const ditTrainConfigSchema = z
  .object({
    task: z.literal('dit').default('dit'),
    ...commonKeys,
    model: ditModelSchema,
    vae: vaeModelSchema,
    text_encoder: textEncoderSchema,
    scheduler: schedulerSchema.default({ type: 'rflow', sample_method: 'uniform', use_timestep_transform: false, use_discrete_timesteps: false, num_timesteps: 1000, loc: 0, scale: 1 }),
    /** I2V/V2V: weights of the mask types (stage1_hq.py, adapt_i2v.py); null = text-to-video only. */
    mask_types: maskTypesSchema.nullable().default(null),
    drop_condition: dropConditionSchema.nullable().default(null),
    /** Frame mask ratios (no 1.3 config sets them). */
    mask_ratios: z.null().default(null),
    /** opensora-ts: latents come from the posterior's sample (the reference) or its mean. */
    latent_sample: z.enum(['sample', 'mode']).default('sample'),
    /** opensora-ts: eval loss (10 fixed timesteps, fixed noise) every N steps on the first eval_batches batches; 0 = off. */
    eval_every: nonNegInt.default(0),
    eval_batches: posInt.default(2),
    /** opensora-ts: weight of flow's frame-to-frame loss term (`trainingLoss`'s `temporalDiffWeight`); 0 = the reference's loss. */
    temporal_diff_loss_weight: z.number().nonnegative().default(0),
    /**
     * opensora-ts: train only the DiT parameters whose names match one of these regular expressions
     * (e.g. ["^y_embedder\\.", "\\.cross_attn\\."]); the rest stay frozen. null = all (the reference).
     */
    trainable_params: z.array(z.string().min(1)).min(1).nullable().default(null),
    /** opensora-ts: train on a metadata CSV without a `text` column (every caption empty: unconditional) instead of refusing it. */
    allow_empty_captions: z.boolean().default(false),
  })
  .strict();

const discriminatorSchema = z
  .object({
    type: z.literal('N_LAYER_DISCRIMINATOR_3D').default('N_LAYER_DISCRIMINATOR_3D'),
    from_pretrained: z.string().nullable().default(null),
    input_nc: posInt.default(3),
    ndf: posInt.default(64),
    n_layers: posInt.default(3),
    use_actnorm: z.literal(false).default(false),
  })
  .strict();

export const vaeTrainConfigSchema = z
  .object({
    task: z.literal('vae'),
    ...commonKeys,
    /** video_16z.py also sets top-level num_frames / image_size (copied into dataset). */
    num_frames: posInt.optional(),
    image_size: z.tuple([posInt, posInt]).optional(),
    model: vaeModelSchema,
    discriminator: discriminatorSchema.nullable().default(null),
    mixed_strategy: z.enum(['mixed_video_image']).nullable().default(null),
    mixed_image_ratio: prob.default(0),
    /** opensora-ts: the decoder reconstructs from the posterior's sample (the reference) or its mean (a plain autoencoder step). */
    latent_sample: z.enum(['sample', 'mode']).default('sample'),
    /** opensora-ts: train the decoder only; the latent space (what a DiT was trained on) stays as it is. */
    freeze_encoder: z.boolean().default(false),
    vae_loss_config: z
      .object({
        perceptual_loss_weight: z.number().nonnegative().default(1.0),
        kl_loss_weight: z.number().nonnegative().default(1e-6),
        logvar_init: z.number().default(0),
        /** opensora-ts: the pixel term, 'l1' as the reference or 'l2' (see VaeLossOptions.rec_loss). */
        rec_loss: z.enum(['l1', 'l2']).default('l1'),
        /** opensora-ts: local LPIPS weights (safetensors); without them the perceptual weight is 0. */
        lpips_path: z.string().nullable().default(null),
      })
      .strict()
      .default({ perceptual_loss_weight: 1.0, kl_loss_weight: 1e-6, logvar_init: 0, rec_loss: 'l1', lpips_path: null }),
    /** The reference's spelling (`confg`), kept so its file maps key for key. */
    gan_loss_confg: z
      .object({
        disc_start: nonNegInt.default(2001),
        disc_factor: z.number().nonnegative().default(1.0),
        disc_weight: z.number().nonnegative().default(0.5),
        disc_loss_type: z.enum(['hinge', 'vanilla']).default('hinge'),
      })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();

export type DitTrainConfig = z.output<typeof ditTrainConfigSchema>;
export type VaeTrainConfig = z.output<typeof vaeTrainConfigSchema>;
export type TrainConfig = DitTrainConfig | VaeTrainConfig;

function otherKeys(o: Record<string, unknown>, known: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !known.includes(k)));
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** "; did you mean 'lr'?" when a known key is close. */
function suggest(key: string, known: Iterable<string>): string {
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const dist = editDistance(key, k);
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? `; did you mean '${best}'?` : '';
}

function shapeAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  // Known keys of the object at `path` (for suggestions on unknown keys).
  let s: z.ZodType = schema;
  for (const seg of path) {
    const inner = unwrap(s);
    if (inner instanceof z.ZodObject) s = (inner.shape as Record<string, z.ZodType>)[String(seg)] ?? z.never();
    else return [];
  }
  const inner = unwrap(s);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.ZodType = s;
  for (let i = 0; i < 8; i++) {
    const def = (cur as unknown as { def?: { innerType?: z.ZodType; in?: z.ZodType; type?: string } }).def;
    if (def?.innerType) cur = def.innerType;
    else if (def?.type === 'pipe' && def.in) cur = def.in;
    else break;
  }
  return cur;
}

/** Validates a raw config object; `source` names the file (and overrides) in errors. */
export function parseTrainConfig(raw: unknown, source = 'train config'): TrainConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${source}: expected a JSON object of training settings.`);
  const task = (raw as { task?: unknown }).task ?? 'dit';
  if (task !== 'dit' && task !== 'vae') throw new Error(`${source}: task ${JSON.stringify(task)}: expected "dit" (STDiT3, the default) or "vae".`);
  const schema: z.ZodType = task === 'vae' ? vaeTrainConfigSchema : ditTrainConfigSchema;
  const r = schema.safeParse(raw);
  if (!r.success) {
    const lines: string[] = [];
    for (const i of r.error.issues) {
      if (i.code === 'unrecognized_keys') {
        const known = shapeAt(schema, i.path);
        for (const k of i.keys) lines.push(`  ${[...i.path, k].join('.')}: unknown key${suggest(k, known)}`);
      } else {
        const where = i.path.join('.') || '(root)';
        const got = valueAt(raw, i.path);
        lines.push(`  ${where}: ${i.message}${got === undefined ? '' : ` (found ${JSON.stringify(got)})`}`);
      }
    }
    throw new Error(`${source}: invalid ${task === 'vae' ? 'VAE' : 'DiT'} training config\n${lines.join('\n')}\nFix the key in the file or override it with --set KEY=VALUE.`);
  }
  const cfg = r.data as TrainConfig;
  checkConsistency(cfg, source);
  return cfg;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = raw;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[String(p)];
  }
  return cur;
}

function checkConsistency(cfg: TrainConfig, source: string): void {
  const problems: string[] = [];
  if (cfg.task === 'vae') {
    if (cfg.num_frames !== undefined && cfg.dataset.num_frames === undefined) cfg.dataset.num_frames = cfg.num_frames;
    if (cfg.image_size !== undefined && cfg.dataset.image_size === undefined) cfg.dataset.image_size = cfg.image_size;
  }
  if (!cfg.bucket_config && (cfg.dataset.num_frames === undefined || cfg.dataset.image_size === undefined)) {
    problems.push('bucket_config is null, so dataset.num_frames and dataset.image_size are needed (VideoTextDataset); set them or give a bucket_config');
  }
  if (cfg.task === 'dit' && cfg.mask_types && !(cfg.drop_condition ?? cfg.scheduler.drop_condition)) {
    problems.push('mask_types is set but drop_condition is not: conditioned batches need it (e.g. {"cond": 0.05, "text": 0.05, "null": 0.05, "keep": 0.85})');
  }
  if (problems.length) throw new Error(`${source}: ${problems.join('\n  ')}`);
}

/** Reads a JSON config file, applies `--set` overrides, validates. */
export function loadTrainConfig(path: string, overrides: readonly Override[] = []): { config: TrainConfig; raw: Record<string, unknown> } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read the config (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass --config configs/train/<stage>.json`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${path}: expected a JSON object.`);
  const raw = applyOverrides(json as Record<string, unknown>, overrides);
  const source = overrides.length ? `${path} (with ${overrides.map((o) => `--set ${o.text}`).join(' ')})` : path;
  return { config: parseTrainConfig(raw, source), raw };
}
