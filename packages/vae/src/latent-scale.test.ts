import { describe, expect, it } from 'vitest';
import { initRuntime, tf } from '@opensora-ts/kernels';
import { ChunkedVideoCodec } from './chunked-codec.js';
import { latentChannelStats, scaleLatentChannels } from './latent-scale.js';
import { createVae } from './vae.js';

const SMALL = {
  encoder: { ch: 16, ch_mult: [1, 1, 1], num_res_blocks: 1, down_sampling_layer: [0, 1], norm_groups: 8 },
  decoder: { ch: 16, ch_mult: [1, 1, 1], num_res_blocks: 1, temporal_up_layers: [1, 2], norm_groups: 8 },
  normalization: null,
};

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('scaleLatentChannels', () => {
  it('rescales each latent channel and leaves the reconstruction unchanged', async () => {
    await initRuntime({ announce: false });
    const vae = createVae('tiny', SMALL);
    const codec = new ChunkedVideoCodec(vae);
    const x = tf.randomUniform([1, 3, 5, 16, 16], -1, 1, 'float32', 7) as tf.Tensor5D;
    const before = codec.encodeWithPosterior(x, { samplePosterior: false });
    const recon = codec.decode(before.z);
    const scale = Array.from({ length: vae.zChannels }, (_, c) => 0.5 + c / 8);
    scaleLatentChannels(vae, scale);
    const after = codec.encodeWithPosterior(x, { samplePosterior: false });
    const expected = tf.mul(before.z, tf.tensor1d(scale).reshape([1, -1, 1, 1, 1]));
    expect(maxDiff(after.z, expected)).toBeLessThan(1e-4);
    // logvar moves by 2 ln a: the posterior's std scales with its mean.
    const expectedLogvar = tf.add(before.logvar, tf.tensor1d(scale.map((a) => 2 * Math.log(a))).reshape([1, -1, 1, 1, 1]));
    expect(maxDiff(after.logvar, expectedLogvar)).toBeLessThan(1e-4);
    expect(maxDiff(codec.decode(after.z), recon)).toBeLessThan(1e-4);
    // Statistics divide by the scale too.
    const s0 = latentChannelStats(codec, [x]);
    expect(s0.count).toBe(after.z.size / vae.zChannels);
    const flat = after.z.transpose([1, 0, 2, 3, 4]).reshape([vae.zChannels, -1]);
    const { mean, variance } = tf.moments(flat, 1);
    expect(s0.mean).toEqual(Array.from(mean.dataSync()).map((v) => expect.closeTo(v, 4)));
    expect(s0.std).toEqual(Array.from(variance.dataSync()).map((v) => expect.closeTo(Math.sqrt(v), 3)));
    expect(() => scaleLatentChannels(vae, [1, 2])).toThrow(/expected 16 positive finite scales/);
    vae.dispose();
  });
});
