import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LatentCache } from './latent-cache.js';
import { EmptyEpochError, VideoLoader } from './loader.js';
import { readMetadata } from './metadata.js';
import { FixedSizeSampler } from './fixed-sampler.js';
import { BucketSampler } from './sampler.js';
import { writeShapesWorld } from './shapes-world.js';

describe('VideoLoader', () => {
  it('decodes batches ahead, skips bad files with a report, uses the cache and resumes after the last delivered batch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opensora-loader-'));
    await writeShapesWorld(dir, { numClips: 5, seed: 2, height: 36, width: 64, numFrames: 6 }, { csvName: 'clips.csv' });
    writeFileSync(join(dir, 'broken.mp4'), 'not a video');
    const rows = ['path,text,num_frames,height,width'];
    for (let i = 0; i < 5; i++) rows.push(`shapes_0000${i}.mp4,clip ${i},6,36,64`);
    rows.push('broken.mp4,broken,6,36,64');
    writeFileSync(join(dir, 'meta.csv'), rows.join('\n'));
    const meta = await readMetadata(join(dir, 'meta.csv'));
    // 36x64 clips fit no resolution group (144p needs 0.8 * 36864 px), so the sampler sees them
    // as 144x256; the loader still decodes the real files and resizes them to the bucket's size.
    const shapes = meta.rows.map((r) => ({ numFrames: r.numFrames, height: r.height * 4, width: r.width * 4 }));
    const sampler = new BucketSampler(shapes, { '144p': { '4': [1.0, 2] } }, { seed: 1 });
    const cache = new LatentCache(join(dir, 'cache'));
    cache.put('0-4-144-256', { z: { shape: [1], data: Float32Array.of(42) } });
    const loader = new VideoLoader(meta.rows, sampler, { prefetch: 2, seed: 3, cache });
    const got: string[] = [];
    let savedAfterFirst: ReturnType<VideoLoader['state']> | undefined;
    for await (const b of loader) {
      expect(b.batch.thw).toEqual([4, 144, 256]);
      for (const it of b.items) {
        if (it.cached) expect(it.cached.get('z')!.data[0]).toBe(42);
        else expect(it.sample!.shape).toEqual([3, 4, 144, 256]);
      }
      got.push(b.batch.keys.join(','));
      savedAfterFirst ??= loader.state();
    }
    expect(got.length).toBe(3); // 6 samples, batch size 2
    expect(loader.report.skipped.map((s) => [s.row, s.reason])).toEqual([[6, 'unreadable']]);
    expect(savedAfterFirst).toEqual({ seed: 1, epoch: 0, consumed: 1 }); // not the prefetched position
    const resumed = new BucketSampler(shapes, { '144p': { '4': [1.0, 2] } }, { seed: 1 });
    resumed.restore(savedAfterFirst!);
    expect([...resumed.batches()].map((b) => b.keys.join(','))).toEqual(got.slice(1));
  });
});

describe('VideoLoader on an epoch with no batch', () => {
  it('throws, saying where the samples went, instead of yielding nothing', async () => {
    const shapes = Array.from({ length: 4 }, () => ({ numFrames: 33, height: 64, width: 64 }));
    const loader = new VideoLoader([], new BucketSampler(shapes, { '144p': { '17': [1.0, 2] } }));
    const err = await (async () => {
      for await (const b of loader) return b;
    })().catch((e: Error) => e);
    expect(err).toBeInstanceOf(EmptyEpochError);
    expect((err as Error).message).toMatch(/no batch this epoch from 0 metadata rows\. 4 samples: 0 in 0 bucket\(s\), 4 smaller than every resolution .* No batch: add a smaller resolution/);

    const fixed = new VideoLoader([], new FixedSizeSampler(shapes, { numFrames: 40, height: 64, width: 64, batchSize: 1 }));
    await expect(fixed[Symbol.asyncIterator]().next()).rejects.toThrow(/4 samples: 0 long enough for 40 frames, 4 with fewer than 40 frames\. 0 batch\(es\) of 1\. No batch: lower numFrames/);
  });
});
