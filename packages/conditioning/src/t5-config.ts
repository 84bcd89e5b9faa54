// The T5 v1.1 encoder hyper-parameters, read from a Hugging Face config.json.
import { z } from 'zod';

export const T5ConfigSchema = z.object({
  vocab_size: z.number().int().positive(),
  d_model: z.number().int().positive(),
  d_kv: z.number().int().positive(),
  d_ff: z.number().int().positive(),
  num_layers: z.number().int().positive(),
  num_heads: z.number().int().positive(),
  relative_attention_num_buckets: z.number().int().positive().default(32),
  relative_attention_max_distance: z.number().int().positive().default(128),
  layer_norm_epsilon: z.number().positive().default(1e-6),
  feed_forward_proj: z.enum(['gated-gelu', 'relu', 'gated-relu', 'gelu']).default('gated-gelu'),
});

export type T5Config = z.infer<typeof T5ConfigSchema>;

/** Validates a parsed config.json; `source` names the file in errors. */
export function parseT5Config(json: unknown, source = 'config.json'): T5Config {
  const r = T5ConfigSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `'${i.path.join('.')}': ${i.message}`).join('; ');
    throw new Error(`${source}: not a usable T5 encoder config (${issues}); expected a Hugging Face T5 v1.1 config.json.`);
  }
  return r.data;
}
