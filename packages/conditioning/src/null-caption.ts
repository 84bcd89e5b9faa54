// The null caption of classifier-free guidance, as every text encoder holds it: in Open-Sora it is
// the DiT's y_embedder.y_embedding [L, D], not the encoder's output for "", so it is set from the
// model and handed out as [n, 1, L, D] with an all-ones mask.
import { tf } from '@opensora-ts/kernels';
import type { TextEncoding } from './text-encoder.js';

/** Checks `embedding` is [maxLength, dim] and returns a kept copy, disposing `previous`. */
export function keepNullEmbedding(embedding: tf.Tensor, previous: tf.Tensor | null, maxLength: number, dim: number): tf.Tensor {
  if (embedding.rank !== 2 || embedding.shape[0] !== maxLength || embedding.shape[1] !== dim) {
    throw new Error(`null embedding: shape [${embedding.shape}], expected [${maxLength}, ${dim}] (the DiT's y_embedder.y_embedding).`);
  }
  previous?.dispose();
  return tf.keep(embedding.clone());
}

/** [n, 1, L, D] copies of the null embedding with an all-ones mask. */
export function nullEncoding(embedding: tf.Tensor | null, n: number, maxLength: number): TextEncoding {
  if (!embedding) {
    throw new Error("null(): no null caption set; call setNullEmbedding() with the DiT's 'y_embedder.y_embedding' [model_max_length, caption_channels] (Open-Sora does not use the encoder's output for \"\").");
  }
  return tf.tidy(() => ({
    states: tf.tile(embedding.expandDims(0).expandDims(0), [n, 1, 1, 1]),
    mask: tf.ones([n, maxLength], 'int32'),
  }));
}
