import { afterAll, describe, expect, it } from 'vitest';
import { ChunkedVideoCodec } from './chunked-codec.js';
import { TINY_VAE } from './config.js';
import { createVae } from './vae.js';
import { checkVideoSize, nearestFrameCounts } from './video-size.js';

// The tiny preset has the 1.3 layout: spatial stride 8, chunks of 17 frames with temporal overlap.
const vae = createVae(TINY_VAE);
const codec = new ChunkedVideoCodec(vae);
afterAll(() => vae.dispose());

describe('checkVideoSize', () => {
  it('accepts 1, 17 and 33 frames at multiples of 8 and gives their latent size', () => {
    expect(checkVideoSize(codec, { numFrames: 17, height: 64, width: 48 })).toEqual({ latent: [5, 8, 6], framesOut: 17 });
    expect(checkVideoSize(codec, { numFrames: 1, height: 8, width: 8 })).toEqual({ latent: [1, 1, 1], framesOut: 1 });
    expect(checkVideoSize(codec, { numFrames: 33, height: 8, width: 8 }).framesOut).toBe(33);
  });

  it('reports a frame count the codec cannot give back whole, with the nearest ones', () => {
    expect(checkVideoSize(codec, { numFrames: 18, height: 8, width: 8 })).toEqual({ latent: [5, 1, 1], framesOut: 17, nearest: [17, 33] });
    expect(nearestFrameCounts(codec, 20)).toEqual([17, 33]);
  });

  it('refuses sizes off the spatial grid and frame counts with no latent frame, naming them as the caller does', () => {
    expect(() => checkVideoSize(codec, { numFrames: 17, height: 60, width: 60 }, { size: 'dataset.image_size' })).toThrow(
      "dataset.image_size 60x60: height and width must be positive multiples of 8 (the VAE's spatial stride); the nearest valid size is 64x64.",
    );
    expect(() => checkVideoSize(codec, { numFrames: 10, height: 64, width: 64 }, { frames: '--num-frames' })).toThrow(
      '--num-frames 10: gives no latent frames with this VAE (it encodes chunks of 17 frames); use 1 (an image) or 17 frames.',
    );
    expect(() => checkVideoSize(codec, { numFrames: 0, height: 64, width: 64 })).toThrow('num_frames 0: expected a positive integer');
  });
});
