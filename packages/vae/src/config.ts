// VAE configuration with the reference's own key names (VideoEncoder / VideoDecoder constructor
// dicts and the OpenSoraVAE_V1_3 builder's runtime options), validated with zod so a typo or a
// wrong type fails with the key's name instead of deep inside a forward pass.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const encoderConfigSchema = z.object({
  type: z.literal('VideoEncoder').optional(),
  ch: positiveInt,
  ch_mult: z.array(positiveInt).min(1),
  num_res_blocks: positiveInt,
  in_channels: positiveInt.default(3),
  z_channels: positiveInt.default(16),
  double_z: z.boolean().default(true),
  /** Levels whose downsample is the 3D (time and space) one; the others halve space only. */
  down_sampling_layer: z.array(z.number().int().nonnegative()).default([1, 2]),
  dropout: z.number().min(0).max(1).default(0),
  out_ch: positiveInt.optional(),
  micro_batch_size_2d: positiveInt.nullable().optional(),
  resamp_with_conv: z.literal(true).optional(),
  /** GroupNorm groups (the reference fixes 32); an opensora-ts option for narrow demo models. */
  norm_groups: positiveInt.default(32),
});

export const decoderConfigSchema = z.object({
  type: z.literal('VideoDecoder').optional(),
  ch: positiveInt,
  ch_mult: z.array(positiveInt).min(1),
  num_res_blocks: positiveInt,
  out_ch: positiveInt.default(3),
  in_channels: positiveInt.optional(),
  z_channels: positiveInt.default(16),
  /** Levels whose upsample is the 3D one (time x2 too); the others double space only. */
  temporal_up_layers: z.array(z.number().int().nonnegative()).default([2, 3]),
  /** The decoder drops its first `temporal_downsample - 1` output frames. */
  temporal_downsample: positiveInt.default(4),
  dropout: z.number().min(0).max(1).default(0),
  micro_batch_size_2d: positiveInt.nullable().optional(),
  resamp_with_conv: z.literal(true).optional(),
  /** GroupNorm groups (the reference fixes 32); an opensora-ts option for narrow demo models. */
  norm_groups: positiveInt.default(32),
});

export const vaeConfigSchema = z
  .object({
    type: z.literal('OpenSoraVAE_V1_3').optional(),
    encoder: encoderConfigSchema.optional(),
    decoder: decoderConfigSchema.optional(),
    z_channels: positiveInt.default(16),
    micro_batch_size: positiveInt.nullable().default(null),
    micro_batch_size_2d: positiveInt.nullable().default(null),
    micro_frame_size: positiveInt.nullable().default(null),
    use_tiled_conv3d: z.boolean().default(false),
    tile_size: positiveInt.default(16),
    tiled_dim: z.union([z.literal(2), z.literal(3), z.literal(4)]).nullable().default(null),
    num_tiles: positiveInt.nullable().default(null),
    temporal_overlap: z.boolean().default(false),
    normalization: z.enum(['video']).nullable().default(null),
    // Builder arguments that matter only to the reference's loader; accepted so its configs parse.
    from_pretrained: z.string().nullable().optional(),
    force_huggingface: z.boolean().optional(),
    dtype: z.enum(['bf16', 'fp16', 'fp32']).optional(),
  })
  .strict();

export type EncoderConfig = z.output<typeof encoderConfigSchema>;
export type DecoderConfig = z.output<typeof decoderConfigSchema>;
export type VaeConfigInput = z.input<typeof vaeConfigSchema>;

/** A parsed config: encoder and decoder always present. */
export type VaeConfig = Omit<z.output<typeof vaeConfigSchema>, 'encoder' | 'decoder'> & {
  encoder: EncoderConfig;
  decoder: DecoderConfig;
};

/** Runtime (pipeline) options of the codec, the builder's keyword arguments. */
export type CodecOptions = Pick<
  VaeConfig,
  'micro_batch_size' | 'micro_frame_size' | 'temporal_overlap' | 'normalization' | 'use_tiled_conv3d' | 'tile_size' | 'tiled_dim' | 'num_tiles'
>;

/** The released architecture (what the registry builder hard-codes). */
export function releasedArchitecture(zChannels = 16): { encoder: EncoderConfig; decoder: DecoderConfig } {
  return {
    encoder: encoderConfigSchema.parse({ ch: 128, ch_mult: [1, 2, 4, 4], num_res_blocks: 2, z_channels: zChannels, down_sampling_layer: [1, 2] }),
    decoder: decoderConfigSchema.parse({ ch: 128, ch_mult: [1, 2, 4, 4], num_res_blocks: 2, z_channels: zChannels, temporal_up_layers: [2, 3] }),
  };
}

/**
 * Parses a config object (the builder's keys, optionally with explicit `encoder`/`decoder`
 * dicts). Throws one message listing every bad key, prefixed with `source` (a file name).
 */
export function parseVaeConfig(input: unknown, source = 'VAE config'): VaeConfig {
  const r = vaeConfigSchema.safeParse(input ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${source}: invalid VAE config (${issues}). Use the reference's key names, e.g. micro_frame_size, temporal_overlap, encoder.ch_mult.`);
  }
  const c = r.data;
  const released = releasedArchitecture(c.z_channels);
  const encoder = c.encoder ?? released.encoder;
  const decoder = c.decoder ?? released.decoder;
  if (encoder.z_channels !== decoder.z_channels) {
    throw new Error(`${source}: encoder.z_channels ${encoder.z_channels} differs from decoder.z_channels ${decoder.z_channels}; they must match.`);
  }
  for (const [name, { ch, ch_mult: mult, norm_groups: groups }] of [['encoder', encoder], ['decoder', decoder]] as const) {
    for (const m of [1, ...mult]) {
      if ((ch * m) % groups !== 0) throw new Error(`${source}: ${name}.ch * ch_mult = ${ch * m} is not a multiple of ${name}.norm_groups = ${groups} (GroupNorm's groups); change ch, or set norm_groups to a divisor.`);
    }
  }
  return { ...c, encoder, decoder, z_channels: encoder.z_channels };
}

/** The released OpenSoraVAE_V1_3 with the options every 1.3 DiT config uses (spec §1.2). */
export const OPENSORA_VAE_V1_3: VaeConfigInput = {
  type: 'OpenSoraVAE_V1_3',
  z_channels: 16,
  micro_batch_size: 1,
  micro_batch_size_2d: 4,
  micro_frame_size: 17,
  use_tiled_conv3d: true,
  tile_size: 4,
  normalization: 'video',
  temporal_overlap: true,
};

/** A tiny model of the same architecture (ch 32, one res block per level) for tests and demos. */
export const TINY_VAE: VaeConfigInput = {
  encoder: { ch: 32, ch_mult: [1, 2, 2, 2], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1, 2] },
  decoder: { ch: 32, ch_mult: [1, 2, 2, 2], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [2, 3] },
  micro_batch_size: 1,
  micro_frame_size: 17,
  normalization: 'video',
  temporal_overlap: true,
};

/** Named presets for `createVae('OpenSoraVAE_V1_3')` and the CLI's --config. */
export const VAE_PRESETS: Record<string, VaeConfigInput> = {
  OpenSoraVAE_V1_3: OPENSORA_VAE_V1_3,
  tiny: TINY_VAE,
};

/**
 * What `createVae`, `vaeShapes` and the CLI's `--config` take: a preset name, a path to a JSON file,
 * or an object. The file or object is a VAE config with the reference's keys, a model manifest whose
 * `vae` key holds one (the demo model's `model.json`), or a Hugging Face `config.json` (its
 * `architectures` / `model_type` / `torch_dtype` / `transformers_version` entries are ignored).
 */
export type VaeConfigSpec = string | VaeConfigInput | VaeConfig | { vae: VaeConfigInput };

const HF_BOOKKEEPING = ['architectures', 'model_type', 'torch_dtype', 'transformers_version', '_name_or_path'];

function unwrapConfig(obj: unknown): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const o = obj as Record<string, unknown>;
  const own = ['encoder', 'decoder', 'micro_frame_size', 'z_channels', 'type'].some((k) => k in o);
  if (!own && o.vae !== null && typeof o.vae === 'object') return unwrapConfig(o.vae);
  if (!HF_BOOKKEEPING.some((k) => k in o)) return o;
  const rest = { ...o };
  for (const k of HF_BOOKKEEPING) delete rest[k];
  return rest;
}

/**
 * Resolves a config spec (see VaeConfigSpec) to the VAE config object and where it came from (for
 * messages). Throws one line naming the spec when it is neither a preset nor a readable JSON file.
 */
export function resolveVaeConfig(spec: VaeConfigSpec): { config: VaeConfigInput; source: string } {
  if (typeof spec !== 'string') return { config: unwrapConfig(spec) as VaeConfigInput, source: 'VAE config' };
  const preset = VAE_PRESETS[spec];
  if (preset) return { config: preset, source: `VAE preset '${spec}'` };
  if (!existsSync(spec) || !statSync(spec).isFile()) {
    throw new Error(`VAE config '${spec}': neither a preset (${Object.keys(VAE_PRESETS).join(', ')}) nor an existing JSON file.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (err) {
    throw new Error(`${spec}: not valid JSON (${(err as Error).message}).`);
  }
  return { config: unwrapConfig(parsed) as VaeConfigInput, source: spec };
}
