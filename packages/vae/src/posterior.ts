// DiagonalGaussianDistribution over channels-last moments [..., 2z]: mean = first z channels,
// logvar = the rest clamped to [-30, 20], std = exp(logvar / 2).
import { tf } from '@opensora-ts/kernels';

/** The tfjs seed used for seed 0, which tfjs would otherwise treat as 'no seed' (2^32: outside the usual range). */
const SEED_ZERO = 2 ** 32;

export class DiagonalGaussian {
  readonly mean: tf.Tensor;
  readonly logvar: tf.Tensor;
  readonly std: tf.Tensor;
  readonly var: tf.Tensor;

  /** Takes ownership of nothing: `moments` stays the caller's. Call dispose() when done. */
  constructor(moments: tf.Tensor) {
    const c = moments.shape[moments.rank - 1]!;
    if (c % 2 !== 0) throw new Error(`DiagonalGaussian: moments have ${c} channels; expected an even count (mean and logvar halves).`);
    const [mean, logvar] = tf.tidy(() => {
      const [m, l] = tf.split(moments, 2, moments.rank - 1) as [tf.Tensor, tf.Tensor];
      return [m, tf.clipByValue(l, -30, 20)];
    });
    this.mean = mean!;
    this.logvar = logvar!;
    this.std = tf.tidy(() => tf.exp(tf.mul(this.logvar, 0.5)));
    this.var = tf.exp(this.logvar);
  }

  /** mean + std * noise; noise is given (same shape as mean) or drawn N(0,1) from `seed`. */
  sample(noise?: tf.Tensor | null, seed?: number): tf.Tensor {
    return tf.tidy(() => {
      // tfjs draws from Math.random when the seed is 0 (falsy): give seed 0 a stream of its own.
      const eps = noise ?? tf.randomNormal(this.mean.shape, 0, 1, 'float32', seed === 0 ? SEED_ZERO : seed);
      if (!sameShape(eps.shape, this.mean.shape)) throw new Error(`DiagonalGaussian.sample: noise has shape [${eps.shape}], expected [${this.mean.shape}]`);
      return tf.add(this.mean, tf.mul(this.std, eps));
    });
  }

  mode(): tf.Tensor {
    return this.mean.clone();
  }

  /** KL to N(0, 1) per sample: 0.5 * sum(mean^2 + var - 1 - logvar) over all but the batch axis. */
  kl(): tf.Tensor1D {
    return tf.tidy(() => {
      const terms = tf.sub(tf.sub(tf.add(tf.square(this.mean), this.var), 1), this.logvar);
      const axes = Array.from({ length: terms.rank - 1 }, (_, i) => i + 1);
      return tf.mul(tf.sum(terms, axes), 0.5) as tf.Tensor1D;
    });
  }

  dispose(): void {
    tf.dispose([this.mean, this.logvar, this.std, this.var]);
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
