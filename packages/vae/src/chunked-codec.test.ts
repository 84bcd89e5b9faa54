import { describe, expect, it } from 'vitest';
import { initRuntime, tf } from '@opensora-ts/kernels';
import { ChunkedVideoCodec } from './chunked-codec.js';
import { createVae } from './vae.js';

// A small model with the released time structure (two 3D levels: x4 in time) and x4 in space.
const SMALL = {
  encoder: { ch: 32, ch_mult: [1, 1, 1], num_res_blocks: 1, down_sampling_layer: [0, 1] },
  decoder: { ch: 32, ch_mult: [1, 1, 1], num_res_blocks: 1, temporal_up_layers: [1, 2] },
  micro_batch_size: 1,
  micro_frame_size: 17,
  temporal_overlap: true,
  normalization: 'video' as const,
};

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('ChunkedVideoCodec', () => {
  it('get_latent_size and chunk ranges follow the reference', async () => {
    await initRuntime({ announce: false });
    const vae = createVae('tiny');
    const overlap = new ChunkedVideoCodec(vae, { temporal_overlap: true });
    expect(overlap.getLatentSize([113, 720, 1280])).toEqual([35, 90, 160]);
    expect(overlap.getLatentSize([1, 554, 100])).toEqual([1, 70, 13]);
    expect(overlap.encodeChunks(33)).toEqual([[0, 17], [16, 33]]);
    expect(overlap.decodedFrames(10)).toBe(33);
    const plain = new ChunkedVideoCodec(vae, { temporal_overlap: false });
    expect(plain.getLatentSize([51, 256, 256])).toEqual([15, 32, 32]);
    expect(plain.encodeChunks(34)).toEqual([[0, 17], [17, 34]]);
    expect(plain.decodedFrames(10)).toBe(34);
    expect(new ChunkedVideoCodec(vae, { micro_frame_size: null }).getLatentSize([17, 64, 64])).toEqual([5, 8, 8]);
    vae.dispose();
  });

  it('streamed decode (chunk by chunk) equals decode, overlap and not, without leaking tensors', async () => {
    await initRuntime({ announce: false });
    const vae = createVae(SMALL);
    const before = tf.memory().numTensors;
    const z = tf.randomNormal([1, 16, 10, 2, 2], 0, 1, 'float32', 5) as tf.Tensor5D;
    for (const temporal_overlap of [true, false]) {
      const codec = new ChunkedVideoCodec(vae, { temporal_overlap });
      const whole = codec.decode(z);
      expect(whole.shape).toEqual([1, 3, temporal_overlap ? 33 : 34, 8, 8]);
      const pieces: tf.Tensor[] = [];
      let next = 0;
      for (const piece of codec.decodeFrames(z)) {
        expect(piece.start).toBe(next);
        next += piece.frames.shape[2];
        pieces.push(piece.frames);
      }
      const streamed = tf.concat(pieces, 2);
      expect(streamed.shape).toEqual(whole.shape);
      expect(maxDiff(streamed, whole)).toBe(0);
      tf.dispose([whole, streamed, ...pieces]);
    }
    z.dispose();
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
  });

  it('encodes chunked video, images and micro-batches; tiling changes nothing', async () => {
    await initRuntime({ announce: false });
    const vae = createVae(SMALL);
    const codec = new ChunkedVideoCodec(vae);
    const x = tf.randomUniform([2, 3, 33, 8, 8], -1, 1, 'float32', 6) as tf.Tensor5D;
    const r = codec.encodeWithPosterior(x, { samplePosterior: false });
    expect(r.z.shape).toEqual([2, 16, 10, 2, 2]);
    expect(r.moments.shape).toEqual([2, 32, 10, 2, 2]);
    // item 1 encoded alone equals row 1 of the micro-batched call
    const one = codec.encode(tf.slice(x, [1], [1]) as tf.Tensor5D, { samplePosterior: false });
    expect(maxDiff(one, tf.slice(r.z, [1], [1]))).toBe(0);
    vae.setTiling({ tileSize: 2 });
    const tiled = codec.encode(x, { samplePosterior: false });
    vae.setTiling(null);
    expect(maxDiff(tiled, r.z)).toBeLessThanOrEqual(1e-5);
    const image = codec.encode(tf.slice(x, [0, 0, 0], [1, 3, 1]) as tf.Tensor5D, { seed: 3 });
    expect(image.shape).toEqual([1, 16, 1, 2, 2]);
    tf.dispose([x, r.z, r.moments, r.mean, r.logvar, one, tiled, image]);
    vae.dispose();
  });

  it('reports bad input in one line naming what was expected', async () => {
    await initRuntime({ announce: false });
    const vae = createVae(SMALL);
    const codec = new ChunkedVideoCodec(vae);
    const rgba = tf.zeros([1, 4, 1, 8, 8]) as tf.Tensor5D;
    const z8 = tf.zeros([1, 8, 1, 2, 2]) as tf.Tensor5D;
    const z4d = tf.zeros([16, 1, 2, 2]) as unknown as tf.Tensor5D;
    expect(() => codec.encode(rgba)).toThrow(/input has 4 channels .*expected 3/);
    expect(() => codec.decode(z8)).toThrow(/latent has 8 channels .*expected 16/);
    expect(() => codec.decode(z4d)).toThrow(/latent has shape \[16,1,2,2\], expected \[B, 16, T', h, w\]/);
    expect(() => codec.encode(tf.zeros([1, 3, 17, 8, 8]) as tf.Tensor5D, { noise: tf.zeros([1, 16, 4, 2, 2]) })).toThrow(/noise has shape/);
    tf.dispose([rgba, z8, z4d]);
    vae.dispose();
  });
});
