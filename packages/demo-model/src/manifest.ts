// weights/model.json: everything besides the tensors that a user of the demo model needs: the
// model configs (reference key names), the text encoder's settings, the size it was trained at,
// and where the weights came from (trained with apps/train, or an untrained placeholder).
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const posInt = z.number().int().positive();

export const demoManifestSchema = z.object({
  /** 'trained': produced by apps/train; 'untrained-placeholder': random weights so the pipeline runs. */
  status: z.enum(['trained', 'untrained-placeholder']),
  /** VAE config with the reference's keys (OpenSoraVAE_V1_3 builder arguments). */
  vae: z.record(z.string(), z.unknown()),
  /** STDiT3 config with the reference's keys. */
  stdit: z.record(z.string(), z.unknown()),
  /** The conditioning package's DemoTextEncoder settings the DiT was trained with. */
  text_encoder: z.object({
    type: z.literal('demo'),
    seed: z.number().int(),
    model_max_length: posInt,
    /** DemoTextEncoder's `wordOrder`: its word-order channels follow the plain ones (caption_channels doubles). */
    word_order: z.boolean().default(false),
    /** textEncoderFingerprint() of the encoder the DiT was trained with (absent: not checked). */
    fingerprint: z.array(z.number()).optional(),
  }),
  /** The size the model was trained at and the sampler settings it is meant to be used with. */
  sampling: z.object({
    height: posInt,
    width: posInt,
    num_frames: posInt,
    fps: posInt,
    num_sampling_steps: posInt,
    cfg_scale: z.number(),
    /**
     * Whether the sampler shifts its timesteps by resolution and length (the reference's
     * use_timestep_transform). A model trained without the shift (the demo: at 64x64 the shift would
     * put nearly every training step at low noise) must be sampled without it too.
     */
    use_timestep_transform: z.boolean().default(true),
  }),
  /**
   * How reference images/videos are encoded for I2V/V2V: the posterior's sample (the reference) or its
   * mean. A VAE trained as a plain autoencoder (train key latent_sample 'mode') has no meaningful variance.
   */
  vae_posterior: z.enum(['sample', 'mode']).default('sample'),
  /** How the weights were made: config, command, steps, time, final loss (free-form). */
  provenance: z.record(z.string(), z.unknown()).default({}),
});

export type DemoManifest = z.output<typeof demoManifestSchema>;
export type DemoManifestInput = z.input<typeof demoManifestSchema>;

/** Reads and validates a model.json; errors name the file and the key. */
export function readDemoManifest(path: string): DemoManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the demo model manifest (${(err as Error).message}); reinstall @opensora-ts/demo-model.`);
  }
  const r = demoManifestSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${path}: invalid demo model manifest (${issues}).`);
  }
  return r.data;
}
