// The T5 encoder hyper-parameters, read from a Hugging Face config.json. Defaults are those of
// transformers' T5Config, so an old T5 v1.0 config (no `feed_forward_proj`: ReLU) reads as it does there.
import { z } from 'zod';

/** `feed_forward_proj` values this encoder runs: '[gated-]<activation>' as transformers parses it. */
export const T5_FEED_FORWARD = ['gated-gelu', 'gated-relu', 'gated-silu', 'gelu', 'gelu_new', 'relu', 'silu'] as const;

/** Model types with T5's encoder layout (mT5 is T5 v1.1 with another vocabulary). */
const T5_MODEL_TYPES = new Set(['t5', 'mt5']);

export const T5ConfigSchema = z.object({
  model_type: z.string().optional(),
  vocab_size: z.number().int().positive().default(32128),
  d_model: z.number().int().positive().default(512),
  d_kv: z.number().int().positive().default(64),
  d_ff: z.number().int().positive().default(2048),
  num_layers: z.number().int().positive().default(6),
  num_heads: z.number().int().positive().default(8),
  relative_attention_num_buckets: z.number().int().positive().default(32),
  relative_attention_max_distance: z.number().int().positive().default(128),
  layer_norm_epsilon: z.number().positive().default(1e-6),
  feed_forward_proj: z.enum(T5_FEED_FORWARD).default('relu'),
});

export type T5Config = z.infer<typeof T5ConfigSchema>;

/** Validates a parsed config.json; `source` names the file in errors. */
export function parseT5Config(json: unknown, source = 'config.json'): T5Config {
  const modelType = (json as { model_type?: unknown } | null)?.model_type;
  if (typeof modelType === 'string' && !T5_MODEL_TYPES.has(modelType)) {
    throw new Error(
      `${source}: model_type '${modelType}' is not a T5 encoder; pass a T5 folder (model_type 't5', e.g. DeepFloyd/t5-v1_1-xxl or google/t5-v1_1-*)` +
        (modelType === 'umt5' ? " (umT5 keeps a relative-position table per layer, which this encoder does not implement)." : '.'),
    );
  }
  const r = T5ConfigSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `'${i.path.join('.')}': ${i.message}`).join('; ');
    throw new Error(`${source}: not a usable T5 encoder config (${issues}); expected a Hugging Face T5 config.json (v1.1: feed_forward_proj 'gated-gelu'; v1.0: 'relu').`);
  }
  return r.data;
}
