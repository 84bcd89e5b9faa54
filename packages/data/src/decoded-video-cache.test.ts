import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DecodedVideoCache } from './decoded-video-cache.js';
import { MediaError } from './ffmpeg.js';
import { loadSample, writeVideo, type Frames } from './video-io.js';

const frames = (n: number, fill = 0): Frames => ({ data: new Uint8Array(n).fill(fill), numFrames: 1, height: 1, width: n / 3, fps: 8 });

describe('DecodedVideoCache', () => {
  it('evicts the least recently used entry to stay within its budget', () => {
    const c = new DecodedVideoCache(30);
    c.set('a', frames(12, 1));
    c.set('b', frames(12, 2));
    expect(c.get('a')?.data[0]).toBe(1); // a is now the most recent
    c.set('c', frames(12, 3));
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')?.data[0]).toBe(1);
    expect(c.get('c')?.data[0]).toBe(3);
    expect(c.byteSize).toBe(24);
    c.set('huge', frames(33));
    expect(c.get('huge')).toBeUndefined();
    expect(c.size).toBe(2);
    expect(() => new DecodedVideoCache(0)).toThrow(/maxBytes must be positive/);
  });

  it('loadSample gives the same sample with and without the cache, and decodes each file once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opensora-decoded-cache-'));
    const T = 12, H = 24, W = 32;
    const px = new Uint8Array(T * H * W * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 37 + ((i / 97) | 0)) % 251;
    const path = join(dir, 'clip.mp4');
    await writeVideo(path, px, T, H, W, { fps: 12 });
    const cache = new DecodedVideoCache();
    const opts = { numFrames: 5, height: 16, width: 16, frameInterval: 2, totalFrames: T };
    const draws = [0, 2, 1];
    for (const start of draws) {
      const plain = await loadSample(path, { ...opts, randint: () => start });
      const cached = await loadSample(path, { ...opts, randint: () => start, decodedCache: cache });
      expect(cached.frameIndices).toEqual(plain.frameIndices);
      expect(cached.shape).toEqual(plain.shape);
      expect(cached.fps).toBe(plain.fps);
      expect(Array.from(cached.data)).toEqual(Array.from(plain.data));
    }
    expect(cache.size).toBe(1);
    expect(cache.get(path)?.numFrames).toBe(T);
    // A CSV that claims more frames than the file has is still named as too short.
    await expect(loadSample(path, { ...opts, numFrames: 8, totalFrames: 30, randint: () => 14, decodedCache: cache })).rejects.toSatisfy(
      (e: unknown) => e instanceof MediaError && e.reason === 'too-short' && /frame 14 was needed/.test(e.message),
    );
  });
});
