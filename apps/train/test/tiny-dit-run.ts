// Test helper: the raw config of a tiny DiT run on shapes-world clips (9 frames of 32x32, a tiny frozen
// VAE encoding whole clips, the demo text encoder), shared by the end-to-end tests.
import { join } from 'node:path';

export function tinyDitRunConfig(csvPath: string, root: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataset: { type: 'VideoTextDataset', data_path: csvPath, num_frames: 9, image_size: [32, 32] },
    batch_size: 2,
    seed: 7,
    max_steps: 6,
    ckpt_every: 3,
    log_every: 1,
    lr: 1e-3,
    adam_eps: 1e-15,
    ema_decay: 0.99,
    grad_clip: 1.0,
    cache_dir: join(root, 'cache'),
    model: { type: 'STDiT3-tiny', depth: 1, hidden_size: 48, num_heads: 2, kernel_size: [2, 2, -1] },
    vae: {
      type: 'tiny',
      // Whole clips, no 17-frame chunks: 9 frames then make 3 latent frames that decode back to 9 (with the
      // preset's chunks of 17, 9 frames give no latent frame and the run is refused, as sampling them is).
      micro_frame_size: null,
      encoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1, 2] },
      decoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [2, 3] },
    },
    text_encoder: { type: 'demo', model_max_length: 16 },
    scheduler: { sample_method: 'logit-normal', use_timestep_transform: true },
    ...over,
  };
}
