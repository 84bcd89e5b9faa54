// The eval-loss config (the reference's configs/opensora-v1-3/misc/eval_loss.py keys): which
// (resolution, frames) buckets to score, with what batch size, how many timesteps, which seed.
import { z } from 'zod';

const frameEntry = z.tuple([z.union([z.number().min(0), z.tuple([z.number(), z.number()])]).nullable(), z.number().int().positive().nullable()]);

export const evalLossConfigSchema = z
  .object({
    /** `{res: {frames: [keep_prob (ignored), batch_size or null to skip]}}`. */
    bucket_config: z.record(z.string(), z.record(z.string().regex(/^\d+$/, 'frame keys are integers (1 for images)'), frameEntry)),
    num_eval_timesteps: z.number().int().positive().default(10),
    num_timesteps: z.number().int().positive().default(1000),
    seed: z.number().int().default(42),
    /** 'bf16' rounds the timesteps as the reference's bf16 run does (91, 182, 272, ...); 'fp32' keeps 90.91, ... */
    dtype: z.enum(['bf16', 'fp32']).default('bf16'),
    /** Only this resolution of bucket_config (the reference's --resolution). */
    resolution: z.string().optional(),
  })
  .strict();

export type EvalLossConfig = z.infer<typeof evalLossConfigSchema>;

/** The Open-Sora 1.3 eval_loss.py settings. */
export const OPENSORA_13_EVAL_LOSS: EvalLossConfig = {
  bucket_config: { '360p': { '113': [null, 6] } },
  num_eval_timesteps: 10,
  num_timesteps: 1000,
  seed: 42,
  dtype: 'bf16',
};

/** Validates a config object; errors name the key, what was expected and where it came from. */
export function parseEvalLossConfig(input: unknown, where = 'eval config'): EvalLossConfig {
  const r = evalLossConfigSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(
      `${where}: invalid value at '${i.path.join('.') || '(root)'}': ${i.message}. Expected keys bucket_config ({"360p": {"113": [null, 6]}}), num_eval_timesteps, num_timesteps, seed, dtype ('bf16' | 'fp32'), resolution.`,
    );
  }
  const c = r.data;
  if (c.resolution !== undefined && !(c.resolution in c.bucket_config)) {
    throw new Error(`${where}: resolution '${c.resolution}' is not in bucket_config (has ${Object.keys(c.bucket_config).join(', ')}).`);
  }
  return c;
}

export interface EvalBucket {
  resolution: string;
  numFrames: number;
  batchSize: number;
}

/** The buckets to score, in config order; entries with a null batch size are left out (as the reference). */
export function evalBuckets(c: EvalLossConfig): EvalBucket[] {
  const out: EvalBucket[] = [];
  for (const [res, frames] of Object.entries(c.bucket_config)) {
    if (c.resolution !== undefined && res !== c.resolution) continue;
    for (const [nf, [, bs]] of Object.entries(frames)) if (bs !== null) out.push({ resolution: res, numFrames: Number(nf), batchSize: bs });
  }
  return out;
}
