// Test helper: a --weights folder in the official layout (vae/, stdit/, t5/ each with config.json
// and model.safetensors under the reference's key names) holding random weights at a tiny size,
// made with our own modules so every key and shape is what an official checkpoint would carry.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildUnigramTokenizerJson, DEMO_VOCABULARY, seededT5Weights, type T5Config } from '@opensora-ts/conditioning';
import { tf, writeSafetensors, type WritableTensor } from '@opensora-ts/kernels';
import { STDiT3 } from '@opensora-ts/stdit';
import { createVae, type VaeConfigInput } from '@opensora-ts/vae';

export const TINY_VAE_CONFIG: VaeConfigInput = {
  encoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1, 2] },
  decoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [2, 3] },
  micro_batch_size: 1,
  micro_frame_size: 17,
  temporal_overlap: true,
  normalization: 'video',
};

export const TINY_T5_CONFIG: Omit<T5Config, 'vocab_size'> = {
  d_model: 32,
  d_kv: 8,
  d_ff: 64,
  num_layers: 1,
  num_heads: 4,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'gated-gelu',
};

export const TINY_STDIT_CONFIG = {
  depth: 1,
  hidden_size: 48,
  num_heads: 2,
  patch_size: [1, 2, 2],
  in_channels: 16,
  caption_channels: 32,
  model_max_length: 16,
  qk_norm: true,
  kernel_size: [8, 8, -1],
  use_spatial_rope: true,
  input_sq_size: 16,
};

function save(path: string, sd: Map<string, tf.Tensor>): void {
  const out = new Map<string, WritableTensor>();
  for (const [k, t] of sd) out.set(k, { shape: [...t.shape], data: Float32Array.from(t.dataSync()), dtype: 'F32' });
  for (const t of sd.values()) t.dispose();
  writeSafetensors(path, out);
}

/** Writes vae/, stdit/ and t5/ under `root`; `parts` limits what is written (to test missing pieces). */
export function writeTinyOfficialFolder(root: string, parts: { vae?: boolean; stdit?: boolean; t5?: boolean } = {}): void {
  const { vae = true, stdit = true, t5 = true } = parts;
  if (vae) {
    mkdirSync(join(root, 'vae'), { recursive: true });
    writeFileSync(join(root, 'vae', 'config.json'), JSON.stringify({ architectures: ['OpenSoraVAE_V1_3'], ...TINY_VAE_CONFIG }));
    const m = createVae(TINY_VAE_CONFIG);
    save(join(root, 'vae', 'model.safetensors'), m.stateDict());
    m.dispose();
  }
  if (stdit) {
    mkdirSync(join(root, 'stdit'), { recursive: true });
    writeFileSync(join(root, 'stdit', 'config.json'), JSON.stringify({ model_type: 'STDiT3', ...TINY_STDIT_CONFIG }));
    // referenceInit false: a non-zero final layer, so the DiT's output matters in the tests.
    const m = new STDiT3(TINY_STDIT_CONFIG as never, { seed: 7, referenceInit: false });
    save(join(root, 'stdit', 'model.safetensors'), m.stateDict());
    m.dispose();
  }
  if (t5) {
    mkdirSync(join(root, 't5'), { recursive: true });
    const tok = buildUnigramTokenizerJson(DEMO_VOCABULARY);
    const vocab = (tok.model as { vocab: unknown[] }).vocab.length;
    const config: T5Config = { ...TINY_T5_CONFIG, vocab_size: vocab };
    writeFileSync(join(root, 't5', 'config.json'), JSON.stringify({ model_type: 't5', ...config }));
    writeFileSync(join(root, 't5', 'tokenizer.json'), JSON.stringify(tok));
    writeFileSync(join(root, 't5', 'tokenizer_config.json'), JSON.stringify({ pad_token: '<pad>', eos_token: '</s>', model_max_length: 16 }));
    const w = seededT5Weights(config, 3);
    const out = new Map<string, WritableTensor>();
    for (const [k, t] of w) out.set(k, { shape: t.shape, data: t.data as Float32Array });
    writeSafetensors(join(root, 't5', 'model.safetensors'), out);
  }
}
