// One interface for every text encoder the pipeline can use (T5 folders, the demo encoder,
// cached embeddings).
import type { tf } from '@opensora-ts/kernels';
import type { PromptTokens } from './t5-tokenizer.js';

export interface TextEncoding {
  /** Caption states [B, 1, L, D] (float32). */
  states: tf.Tensor;
  /** Attention mask [B, L] (int32, 1 = token, 0 = padding). */
  mask: tf.Tensor;
}

export interface TextEncoder {
  /** Encodes already-prepared prompts (see preparePrompt) padded/truncated to maxLength. */
  encode(prompts: readonly string[]): Promise<TextEncoding>;
  /**
   * The null caption for classifier-free guidance, [n, 1, L, D]: in Open-Sora it is the DiT's
   * `y_embedder.y_embedding`, not the encoder's output for "", so it must be set from the model.
   * The mask is all ones; the reference's sampler reuses the prompt's mask for the null half.
   */
  null(n: number): TextEncoding;
  /** Sets the null caption (`y_embedder.y_embedding`, [L, D]). */
  setNullEmbedding(embedding: tf.Tensor): void;
  /**
   * What the encoder makes of one prepared prompt: tokens before and after truncation to maxLength,
   * and words it has no tokens for. Absent where the encoder cannot tell (cached embeddings).
   */
  promptTokens?(prompt: string): PromptTokens;
  readonly maxLength: number;
  readonly dim: number;
  /** A stable identity for caches: model and tokenizer, length. */
  readonly id: string;
  dispose(): void;
}
