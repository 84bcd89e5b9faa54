// Every setting of a sampling run, with the reference's inference key names (scripts/inference.py
// and configs/opensora-v1-3/inference/*.py), validated by zod. A JSON config file, the sidecar of an
// earlier run (its `settings`) and the command-line flags all produce this object; flags win.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { GenerateOptions } from './pipeline.js';

const posInt = z.number().int().positive();
const score = z.union([z.number(), z.string()]).nullable().default(null);

export const COND_TYPES = ['i2v_head', 'i2v_tail', 'i2v_loop', 'v2v_head'] as const;

/** Seeds are 32-bit unsigned integers: each one gives its own noise (outside the range, seeds would share it). */
export const MAX_SEED = 2 ** 32 - 1;
const SEED_RANGE = `seed must be an integer from 0 to ${MAX_SEED} (32 bits; each seed in that range gives its own video)`;

export const sampleSettingsSchema = z
  .object({
    /** Prompts (loop segments "|0|a|2|b" and a JSON suffix {"reference_path", "mask_strategy"} allowed). */
    prompt: z.array(z.string()).default([]),
    /** A text file with one prompt per line. */
    prompt_path: z.string().nullable().default(null),
    negative_prompt: z.string().nullable().default(null),
    /** A resolution name ("144p", "360p", "720p", "256", ...) or "HxW" ("64x64"); null = the model's. */
    resolution: z.string().nullable().default(null),
    /** "H:W" ("9:16") or a table key ("0.56"); used with a resolution name. */
    aspect_ratio: z.string().nullable().default(null),
    num_frames: posInt.nullable().default(null),
    fps: posInt.nullable().default(null),
    frame_interval: posInt.default(1),
    /** Seed of the initial noise (the reference re-seeds 1024 right before it) and of every later draw. */
    seed: z.number({ error: SEED_RANGE }).int({ error: SEED_RANGE }).min(0, { error: SEED_RANGE }).max(MAX_SEED, { error: SEED_RANGE }).default(1024),
    num_sampling_steps: posInt.nullable().default(null),
    cfg_scale: z.number().nullable().default(null),
    image_cfg_scale: z.number().default(5.0),
    use_oscillation_guidance: z.boolean().default(true),
    use_flaw_fix: z.boolean().default(true),
    /** null: the model's default (true for official weights, the demo model's manifest). */
    use_timestep_transform: z.boolean().nullable().default(null),
    scale_image_weight: z.boolean().default(true),
    use_sdedit: z.boolean().default(true),
    aes: score,
    flow: score,
    camera_motion: z.string().nullable().default(null),
    llm_refine: z.boolean().default(false),
    refine_url: z.string().nullable().default(null),
    refine_model: z.string().nullable().default(null),
    /** Seconds to wait for the refinement endpoint's reply before keeping the prompt as given. */
    refine_timeout: z.number().positive().default(30),
    /** A reference image or video for every prompt (a prompt's JSON suffix can name its own). */
    reference_path: z.string().nullable().default(null),
    cond_type: z.enum(COND_TYPES).nullable().default(null),
    loop: posInt.default(1),
    condition_frame_length: posInt.default(5),
    condition_frame_edit: z.number().min(0).max(1).default(0),
    num_sample: posInt.default(1),
    /** A folder with official-format weights (vae/, stdit/, t5/ or text-embeddings/); null = the demo model. */
    weights: z.string().nullable().default(null),
    /** A T5 folder as published (DeepFloyd/t5-v1_1-xxl) instead of the weights folder's t5/ (or the demo model's encoder). */
    text_encoder: z.string().nullable().default(null),
    /** Models in memory: 'none' keeps all three; 'model' one at a time (T5 freed before the DiT runs, the DiT before the VAE decodes). */
    offload: z.enum(['none', 'model']).default('none'),
    /** Text-embedding cache folder (EmbeddingCache) to read and fill. */
    text_cache: z.string().nullable().default(null),
    /** Output file (.mp4 for video, .png for one frame); several prompts get _0001... suffixes. */
    out: z.string().nullable().default(null),
    save_dir: z.string().default('samples'),
    /** x264 constant rate factor of the mp4 (0 = lossless). */
    crf: z.number().int().min(0).max(51).default(18),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.seed <= MAX_SEED && s.seed + s.num_sample - 1 > MAX_SEED) {
      ctx.addIssue({ code: 'custom', path: ['seed'], message: `seed ${s.seed} with num_sample ${s.num_sample} would use seeds up to ${s.seed + s.num_sample - 1}, past ${MAX_SEED}; use a seed of at most ${MAX_SEED - s.num_sample + 1}` });
    }
  });

export type SampleSettings = z.output<typeof sampleSettingsSchema>;
export type SampleSettingsInput = z.input<typeof sampleSettingsSchema>;

/** Validates settings; errors list every bad key with the file (or "flags") they came from. */
export function parseSettings(input: unknown, source = 'settings'): SampleSettings {
  const r = sampleSettingsSchema.safeParse(input ?? {});
  if (!r.success) {
    const got = (path: PropertyKey[]) => path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[String(k)] : undefined), input);
    const issues = r.error.issues
      .map((i) => {
        const v = got(i.path);
        return `  ${i.path.join('.') || '(root)'}: ${i.message}${v === undefined || typeof v === 'object' ? '' : ` (found ${JSON.stringify(v)})`}`;
      })
      .join('\n');
    throw new Error(`${source}: invalid sampling settings\n${issues}\nKeys use the reference's inference names (num_frames, cfg_scale, aspect_ratio, ...).`);
  }
  return r.data;
}

/** Reads a JSON config: a plain settings object, or a sidecar of an earlier run (its `settings`). */
export function readSettingsFile(path: string): SampleSettingsInput {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the config (${(err as Error).message}); pass a JSON file with inference keys, or a sidecar .json of an earlier sample.`);
  }
  if (raw && typeof raw === 'object' && 'settings' in raw && (raw as { kind?: unknown }).kind === 'opensora-sample') {
    return (raw as { settings: SampleSettingsInput }).settings;
  }
  return raw as SampleSettingsInput;
}

/** Layers settings: later layers override earlier ones key by key (undefined keys do not override). */
export function mergeSettings(...layers: (SampleSettingsInput | undefined)[]): SampleSettingsInput {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) out[k] = v;
  }
  return out as SampleSettingsInput;
}

/** The generation options of settings (reference keys -> generate()'s camelCase; unset keys stay the model's defaults). */
export function generateOptionsOf(s: SampleSettings): Omit<GenerateOptions, 'prompt'> {
  return {
    loops: s.loop,
    ...(s.cond_type ? { condType: s.cond_type } : {}),
    ...(s.negative_prompt !== null ? { negativePrompt: s.negative_prompt } : {}),
    ...(s.num_sampling_steps !== null ? { steps: s.num_sampling_steps } : {}),
    ...(s.cfg_scale !== null ? { cfgScale: s.cfg_scale } : {}),
    ...(s.aes !== null ? { aes: s.aes } : {}),
    ...(s.flow !== null ? { flow: s.flow } : {}),
    ...(s.camera_motion !== null ? { cameraMotion: s.camera_motion } : {}),
    imageCfgScale: s.image_cfg_scale,
    conditionFrameLength: s.condition_frame_length,
    conditionFrameEdit: s.condition_frame_edit,
    useOscillationGuidance: s.use_oscillation_guidance,
    useFlawFix: s.use_flaw_fix,
    ...(s.use_timestep_transform !== null ? { useTimestepTransform: s.use_timestep_transform } : {}),
    useSdedit: s.use_sdedit,
    scaleImageWeight: s.scale_image_weight,
  };
}
