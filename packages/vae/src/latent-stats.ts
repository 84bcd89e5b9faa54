// Per-channel latent statistics (the reference's VAE_STAT_DICT["video"]): DiT latents are
// z_n = (z - mean_c) / std_c, and decode undoes it first.
import { tf } from '@opensora-ts/kernels';

export type LatentNormalization = 'video';

export const VIDEO_LATENT_MEAN: readonly number[] = [
  -0.19016949832439423, -0.04480062797665596, 0.020789705216884613, 0.01865335740149021, -0.011585569009184837, 0.0010865575168281794,
  0.08378933370113373, 0.08902134001255035, 0.00940945465117693, 0.08086848258972168, -0.07251627743244171, 0.05052144080400467,
  -0.0209724809974432, -0.1223079189658165, -0.003862356534227729, -0.023072388023138046,
];

export const VIDEO_LATENT_STD: readonly number[] = [
  0.9490776062011719, 0.9594117999076843, 0.9444302916526794, 0.9103284478187561, 0.959351658821106, 0.8430351614952087,
  0.8888124823570251, 0.9291136860847473, 0.972594141960144, 0.8917953968048096, 0.8630853891372681, 0.8279891610145569,
  0.9114300012588501, 0.7922844886779785, 0.8991407155990601, 0.9473513960838318,
];

function stats(kind: LatentNormalization, channels: number): { mean: tf.Tensor1D; std: tf.Tensor1D } {
  if (kind !== 'video') throw new Error(`latent normalization '${String(kind)}' is not supported; use 'video' or null.`);
  if (channels !== VIDEO_LATENT_MEAN.length) {
    throw new Error(`latent normalization 'video' has ${VIDEO_LATENT_MEAN.length} channel statistics, the latent has ${channels} channels; set normalization: null for other z_channels.`);
  }
  return { mean: tf.tensor1d(VIDEO_LATENT_MEAN as number[]), std: tf.tensor1d(VIDEO_LATENT_STD as number[]) };
}

/** (z - mean_c) / std_c on channels-last z [..., C]; identity when `kind` is null. */
export function normalizeLatent(z: tf.Tensor, kind: LatentNormalization | null): tf.Tensor {
  if (kind === null) return z.clone();
  return tf.tidy(() => {
    const { mean, std } = stats(kind, z.shape[z.rank - 1]!);
    return tf.div(tf.sub(z, mean), std);
  });
}

/** z_n * std_c + mean_c on channels-last z [..., C]; identity when `kind` is null. */
export function unnormalizeLatent(z: tf.Tensor, kind: LatentNormalization | null): tf.Tensor {
  if (kind === null) return z.clone();
  return tf.tidy(() => {
    const { mean, std } = stats(kind, z.shape[z.rank - 1]!);
    return tf.add(tf.mul(z, std), mean);
  });
}
