// Per-channel latent scale of a trained VAE, folded into its weights. A VAE trained as a plain
// autoencoder (latent_sample 'mode', tiny KL weight) ends with latents of whatever scale training
// drifted to, while the DiT expects normalized latents of about unit variance (the 'video'
// normalization's statistics belong to the released VAE). Multiplying latent channel c by a_c in
// encoder.conv_out (mean rows; the logvar bias moves by 2 ln a_c) and dividing decoder.conv_in's
// input rows by a_c gives the same autoencoder: reconstructions are unchanged (the decoder's input
// padding is zeros, and 0 * a = 0), only the latents are rescaled.
import { tf } from '@opensora-ts/kernels';
import type { ChunkedVideoCodec } from './chunked-codec.js';
import type { OpenSoraVAE } from './vae.js';

export interface LatentChannelStats {
  /** Per-channel mean of the normalized latents (the codec's output). */
  mean: number[];
  /** Per-channel standard deviation of the normalized latents. */
  std: number[];
  /** Latent values counted per channel. */
  count: number;
}

/** Statistics of `codec.encode` (posterior mode) over videos [B, 3, T, H, W] in [-1, 1]. */
export function latentChannelStats(codec: ChunkedVideoCodec, videos: Iterable<tf.Tensor5D>): LatentChannelStats {
  let sum: Float64Array | null = null;
  let sumSq: Float64Array | null = null;
  let count = 0;
  for (const v of videos) {
    const z = codec.encode(v, { samplePosterior: false });
    const C = z.shape[1];
    const data = z.dataSync();
    const per = data.length / (z.shape[0] * C);
    sum ??= new Float64Array(C);
    sumSq ??= new Float64Array(C);
    for (let b = 0; b < z.shape[0]; b++) {
      for (let c = 0; c < C; c++) {
        const off = (b * C + c) * per;
        for (let i = 0; i < per; i++) {
          const x = data[off + i]!;
          sum[c] = sum[c]! + x;
          sumSq[c] = sumSq[c]! + x * x;
        }
      }
    }
    count += z.shape[0] * per;
    z.dispose();
  }
  if (!sum || !sumSq || count === 0) throw new Error('latentChannelStats: no videos given.');
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sumSq, (s, c) => Math.sqrt(Math.max(s / count - mean[c]! ** 2, 0)));
  return { mean, std, count };
}

/** Multiplies latent channel c by `scale[c]` in place (see the file comment); the autoencoder is unchanged. */
export function scaleLatentChannels(vae: OpenSoraVAE, scale: readonly number[]): void {
  const z = vae.zChannels;
  if (scale.length !== z || scale.some((a) => !(a > 0) || !Number.isFinite(a))) {
    throw new Error(`scaleLatentChannels: expected ${z} positive finite scales (one per latent channel), got [${scale.join(', ')}].`);
  }
  const enc = vae.encoder.convOut.conv;
  const dec = vae.decoder.convIn.conv;
  if (!enc.bias) throw new Error('scaleLatentChannels: encoder.conv_out has no bias.');
  const doubled = enc.outChannels === 2 * z;
  tf.tidy(() => {
    // encoder.conv_out weight [kt, kh, kw, in, out]: the first z outputs are the mean.
    const outScale = tf.tensor1d([...scale, ...(doubled ? new Array<number>(z).fill(1) : [])]);
    enc.weight.value.assign(tf.mul(enc.weight.value, outScale));
    const logvarShift = tf.tensor1d([...new Array<number>(z).fill(0), ...(doubled ? scale.map((a) => 2 * Math.log(a)) : [])]);
    enc.bias!.value.assign(tf.add(tf.mul(enc.bias!.value, outScale), logvarShift));
    // decoder.conv_in weight [kt, kh, kw, in = z, out]: scale its input rows by 1 / a.
    const inScale = tf.tensor1d(scale.map((a) => 1 / a)).reshape([1, 1, 1, z, 1]);
    dec.weight.value.assign(tf.mul(dec.weight.value, inScale));
  });
}
