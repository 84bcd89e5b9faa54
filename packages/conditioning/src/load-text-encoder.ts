// The one way an app turns a `--text-encoder` value into an encoder: 'demo' (the built-in
// shapes-world encoder) or a T5 folder as published (DeepFloyd/t5-v1_1-xxl, google/t5-v1_1-*).
// A T5 whose fp32 weights pass RESIDENT_LIMIT_BYTES (8 GiB) is read layer by layer at every encode,
// so T5-XXL (19 GB in fp32) runs in about a block's memory; smaller ones stay resident. The DiT fixes
// what fits: its caption_channels must equal the encoder's width.
import { DEMO_T5_CONFIG, DemoTextEncoder } from './demo-encoder.js';
import { T5Encoder } from './t5-encoder.js';
import type { TextEncoder } from './text-encoder.js';

export interface LoadTextEncoderOptions {
  /** Caption length (the DiT's model_max_length). */
  maxLength: number;
  /** The DiT's caption_channels: checked against the encoder's width; for 'demo', 128 turns on its word-order channels. */
  captionChannels?: number;
  /** 'demo' only: seed of its weights. */
  seed?: number;
  /** 'demo' only: its word-order channels (default: from captionChannels). */
  wordOrder?: boolean;
  /** T5 only: read one block at a time at every encode (default 'auto': when its fp32 weights exceed RESIDENT_LIMIT_BYTES). */
  layerByLayer?: boolean | 'auto';
}

/** `source`: 'demo' or the path of a T5 folder. Throws naming both widths when the DiT cannot take the encoder. */
export function loadTextEncoder(source: string, options: LoadTextEncoderOptions): TextEncoder {
  const encoder =
    source === 'demo'
      ? new DemoTextEncoder({
          maxLength: options.maxLength,
          seed: options.seed,
          wordOrder: options.wordOrder ?? options.captionChannels === 2 * DEMO_T5_CONFIG.d_model,
        })
      : T5Encoder.fromFolder(source, { maxLength: options.maxLength, layerByLayer: options.layerByLayer ?? 'auto' });
  if (options.captionChannels !== undefined && encoder.dim !== options.captionChannels) {
    encoder.dispose();
    throw new Error(
      `text encoder ${source} gives ${encoder.dim}-channel states but the DiT's caption_channels is ${options.captionChannels}; ` +
        'use the text encoder the DiT was trained with (Open-Sora 1.3: DeepFloyd/t5-v1_1-xxl, 4096 channels; the demo model: demo).',
    );
  }
  return encoder;
}
