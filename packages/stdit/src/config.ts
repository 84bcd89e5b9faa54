// STDiT3's configuration with the reference's key names (STDiT3Config), so a Python config or
// an HF config.json reads as is. Defaults are the reference class defaults; presets.ts holds
// the released 1.3 settings.
import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const stdit3ConfigSchema = z.object({
  /** Ignored: STDiT3 sizes itself from the input (kept so reference configs parse). */
  input_size: z.array(z.number().int().nullable()).default([null, null, null]),
  /** The side of the square resolution at which RoPE/pos-emb scale is 1 (scale = sqrt(h*w)/input_sq_size). */
  input_sq_size: z.number().positive().default(512),
  in_channels: positiveInt.default(16),
  patch_size: z.tuple([positiveInt, positiveInt, positiveInt]).default([1, 2, 2]),
  hidden_size: positiveInt.default(1152),
  depth: positiveInt.default(28),
  num_heads: positiveInt.default(16),
  mlp_ratio: z.number().positive().default(4.0),
  /** Training-time probability of replacing a caption by the null caption (y_embedding). */
  class_dropout_prob: z.number().min(0).max(1).default(0.1),
  /** Output 2*in_channels (velocity + unused sigma half) when true. */
  pred_sigma: z.boolean().default(true),
  /** Stochastic depth, linearly increasing from 0 to this over the blocks (training only). */
  drop_path: z.number().min(0).max(1).default(0),
  caption_channels: positiveInt.default(4096),
  model_max_length: positiveInt.default(300),
  qk_norm: z.boolean().default(true),
  /** GPU kernel switches of the reference; the maths is the same, so they are accepted and ignored. */
  enable_flash_attn: z.boolean().default(false),
  enable_layernorm_kernel: z.boolean().default(false),
  enable_sequence_parallelism: z.boolean().default(false),
  /** Freeze everything but the temporal blocks. */
  only_train_temporal: z.boolean().default(false),
  freeze_y_embedder: z.boolean().default(false),
  /** Only spatial blocks (the adapt stage for images). */
  skip_temporal: z.boolean().default(false),
  skip_y_embedder: z.boolean().default(false),
  /** Window (H, W, T) of the temporal blocks' attention; -1 = the whole axis. null = 1.2-style per-pixel temporal attention. */
  kernel_size: z.tuple([z.number().int(), z.number().int(), z.number().int()]).nullable().default(null),
  /** 3D-split RoPE in the spatial blocks too (requires kernel_size). */
  use_spatial_rope: z.boolean().default(false),
  /**
   * opensora-ts extension (not an STDiT3Config key): the Swin-style shifted windows of the
   * reference's `Attention(shift_window=True)`, which STDiT3 never enables. Default off.
   */
  shift_window: z.boolean().default(false),
  /**
   * opensora-ts extension (not an STDiT3Config key): a fixed sin-cos embedding of the latent frame
   * index, added with the spatial one, as Open-Sora 1.0's STDiT did. STDiT3 knows time only through
   * the temporal RoPE, which is relative: at pure noise, where every frame's tokens look alike, frames
   * are nearly interchangeable, so it cannot start a motion. No parameters, so weights load either
   * way. Default off.
   */
  temporal_pos_embed: z.boolean().default(false),
});

export type STDiT3Config = z.output<typeof stdit3ConfigSchema>;
export type STDiT3ConfigInput = z.input<typeof stdit3ConfigSchema>;

/** Validates a config (reference key names) and fills defaults; errors name the key and the fix. */
export function parseSTDiT3Config(input: unknown, source = 'STDiT3 config'): STDiT3Config {
  const r = stdit3ConfigSchema.safeParse(input ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: invalid STDiT3 config\n${lines.join('\n')}`);
  }
  const c = r.data;
  const problems: string[] = [];
  if (c.hidden_size % c.num_heads !== 0) problems.push(`hidden_size ${c.hidden_size} is not divisible by num_heads ${c.num_heads}`);
  if (c.hidden_size % 4 !== 0) problems.push(`hidden_size ${c.hidden_size} must be a multiple of 4 (2D sin-cos position embedding)`);
  const headDim = c.hidden_size / c.num_heads;
  if (c.kernel_size) {
    if (headDim % 6 !== 0) {
      problems.push(`kernel_size is set, so the head dim ${headDim} (hidden_size/num_heads) is split into t|h|w RoPE chunks; it must be a multiple of 6`);
    }
    const [kh, kw, kt] = c.kernel_size;
    for (const [name, k] of [['H', kh], ['W', kw]] as const) {
      if (k === 0 || k < -1) problems.push(`kernel_size ${name} entry ${k}: use a positive window or -1 for the whole axis`);
    }
    if (kt !== -1) problems.push(`kernel_size T entry ${kt}: only -1 (every frame in the window, as Open-Sora 1.3) is supported`);
  } else if (headDim % 2 !== 0) {
    problems.push(`head dim ${headDim} must be even for RoPE`);
  }
  if (c.shift_window && !c.kernel_size) problems.push('shift_window requires kernel_size');
  if (c.use_spatial_rope && !c.kernel_size) problems.push('use_spatial_rope requires kernel_size (as the reference asserts)');
  if (c.enable_sequence_parallelism) problems.push('enable_sequence_parallelism: sequence parallelism is not supported; set it to false');
  if (c.skip_y_embedder) problems.push('skip_y_embedder: passing pre-projected captions is not supported; set it to false');
  if (problems.length) throw new Error(`${source}: invalid STDiT3 config\n  ${problems.join('\n  ')}`);
  return c;
}
