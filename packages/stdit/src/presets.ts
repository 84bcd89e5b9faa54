// Named configurations. `STDiT3-XL/2` is the released Open-Sora 1.3 model as its inference
// configs build it (the registry's depth/hidden/patch/heads plus qk_norm, the (8,8,-1) window
// and spatial RoPE); the small presets keep every 1.3 feature at sizes a CPU can train.
import type { STDiT3ConfigInput } from './config.js';

export const STDIT3_PRESETS = {
  /** Open-Sora 1.3 released model: 1,209,188,492 state-dict elements. */
  'STDiT3-XL/2': {
    depth: 28,
    hidden_size: 1152,
    patch_size: [1, 2, 2],
    num_heads: 16,
    in_channels: 16,
    caption_channels: 4096,
    model_max_length: 300,
    qk_norm: true,
    class_dropout_prob: 0.1,
    kernel_size: [8, 8, -1],
    use_spatial_rope: true,
  },
  /** The registry's 3B variant with the same 1.3 features. */
  'STDiT3-3B/2': {
    depth: 28,
    hidden_size: 1872,
    patch_size: [1, 2, 2],
    num_heads: 26,
    in_channels: 16,
    caption_channels: 4096,
    model_max_length: 300,
    qk_norm: true,
    class_dropout_prob: 0.1,
    kernel_size: [8, 8, -1],
    use_spatial_rope: true,
  },
  /** Mid-size (bench, small training runs): depth 4, hidden 384, 8 heads of 48. */
  'STDiT3-mid': {
    depth: 4,
    hidden_size: 384,
    patch_size: [1, 2, 2],
    num_heads: 8,
    in_channels: 16,
    caption_channels: 4096,
    model_max_length: 300,
    qk_norm: true,
    class_dropout_prob: 0.1,
    kernel_size: [8, 8, -1],
    use_spatial_rope: true,
  },
  /** The parity fixtures' tiny model: depth 2, hidden 96, 4 heads, 4x4 windows, 32-channel captions of 12 tokens. */
  'STDiT3-tiny': {
    depth: 2,
    hidden_size: 96,
    patch_size: [1, 2, 2],
    num_heads: 4,
    in_channels: 16,
    caption_channels: 32,
    model_max_length: 12,
    qk_norm: true,
    class_dropout_prob: 0.1,
    kernel_size: [4, 4, -1],
    use_spatial_rope: true,
  },
} as const satisfies Record<string, STDiT3ConfigInput>;

export type STDiT3PresetName = keyof typeof STDIT3_PRESETS;

/** A preset's config, with overrides (reference key names) applied on top. */
export function stdit3Preset(name: STDiT3PresetName | (string & {}), overrides: STDiT3ConfigInput = {}): STDiT3ConfigInput {
  const base = (STDIT3_PRESETS as Record<string, STDiT3ConfigInput>)[name];
  if (!base) throw new Error(`unknown STDiT3 preset '${name}'; expected one of ${Object.keys(STDIT3_PRESETS).join(', ')}`);
  return { ...structuredClone(base), ...overrides } as STDiT3ConfigInput;
}
