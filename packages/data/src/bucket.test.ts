import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareParityOutput, loadParityCase } from '@opensora-ts/kernels';
import { describe, expect, it } from 'vitest';
import { ASPECT_RATIOS, getClosestRatio, getImageSize, getNumPixels } from './aspect.js';
import { Bucket, type BucketConfig } from './bucket.js';
import { NumpyRandom } from './numpy-random.js';
import { parityRunners } from './parity.js';

const fixtures = join(import.meta.dirname, '..', 'test', 'fixtures');

describe('numpy default_rng', () => {
  it('matches np.random.default_rng(seed).random() bit for bit', () => {
    // Values printed by numpy 2.4.
    const want: [number, number, number][] = [
      [0, 0.6369616873214543, 0.2697867137638703],
      [1, 0.5118216247002567, 0.9504636963259353],
      [123, 0.6823518632481435, 0.053821018802222675],
      [2 ** 32 + 7, 0.7701409510034741, 0.1119272443176843],
      [1e12, 0.009537772548987355, 0.3601777222836422],
    ];
    for (const [seed, a, b] of want) {
      const r = new NumpyRandom(seed);
      expect([r.random(), r.random()]).toEqual([a, b]);
    }
  });
});

describe('aspect tables', () => {
  it('has every resolution and its _16d variant', () => {
    for (const n of ['144p', '256', '240p', '360p', '512', '480p', '720p', '1024', '1080p', '2k', '2048', '2880', '4k']) {
      expect(ASPECT_RATIOS.has(n)).toBe(true);
      const d16 = ASPECT_RATIOS.get(`${n}_16d`)!;
      for (const [, [h, w]] of d16.table) expect([h % 16, w % 16]).toEqual([0, 0]);
    }
    expect(getNumPixels('480p')).toBe(409920);
    expect(getImageSize('360p_16d', '9:16')).toEqual([352, 640]);
    expect(getImageSize('720p', '0.56')).toEqual([720, 1280]);
    expect(() => getImageSize('720p', '7:3')).toThrow(/not found for resolution '720p'/);
    expect(() => getImageSize('999p', '9:16')).toThrow(/unknown resolution/);
  });

  it('breaks ties by table order (4k lists 0.62 before 0.56)', () => {
    // H/W = 0.59 lies exactly between 0.56 and 0.62 (up to float error); the reference takes the
    // first minimum in table order.
    const t = ASPECT_RATIOS.get('4k')!.table;
    expect([...t.keys()].slice(6, 8)).toEqual(['0.62', '0.56']);
    expect(getClosestRatio(59, 100, t)).toBe(getClosestRatio(59, 100, [...t.keys()]));
  });
});

describe('Bucket', () => {
  it('passes the shared buckets parity case exactly', async () => {
    const c = loadParityCase(join(fixtures, 'buckets'));
    const report = compareParityOutput(c, await parityRunners.buckets!(c));
    const misses = report.comparisons.filter((x) => !x.pass).map((x) => `${x.name}: ${x.detail}`);
    expect(misses).toEqual([]);
    expect(report.comparisons.length).toBeGreaterThan(100);
  });

  it('draws keep probabilities like the reference (p < 1, [p, p_t] pairs, frame_interval 2)', () => {
    const d = JSON.parse(readFileSync(join(fixtures, 'bucket-probs.json'), 'utf8')) as {
      config: BucketConfig;
      num_bucket: number;
      rows: [number, number, number, number, number, [string, number, string] | null][];
    };
    const b = new Bucket(d.config);
    expect(b.numBuckets).toBe(d.num_bucket);
    for (const [T, H, W, fi, seed, want] of d.rows) {
      const id = b.getBucketId(T, H, W, fi, seed);
      expect(id ? [id.resolution, id.frames, id.aspect] : null, `T=${T} ${H}x${W} fi=${fi} seed=${seed}`).toEqual(want);
    }
  });

  it('uses the strict T > frames rule and rejects what fits nowhere', () => {
    const b = new Bucket({ '360p': { '1': [1, 8], '49': [1, 2] } });
    expect(b.getBucketId(49, 360, 640)).toBeNull();
    expect(b.getBucketId(50, 360, 640)).toEqual({ resolution: '360p', frames: 49, aspect: '0.56' });
    expect(b.getBucketId(50, 100, 100)).toBeNull();
    expect(b.getThw({ resolution: '360p', frames: 49, aspect: '1.00' })).toEqual([49, 480, 480]);
    expect(b.getBatchSize({ resolution: '360p', frames: 1, aspect: '1.00' })).toBe(8);
  });

  it('names the bad key of an invalid config', () => {
    expect(() => new Bucket({ '361p': { '1': [1, 1] } })).toThrow(/unknown resolution '361p'/);
    expect(() => new Bucket({ '360p': { x: [1, 1] } } as unknown as BucketConfig)).toThrow(/360p\.x/);
    expect(() => new Bucket({ '360p': { '1': [1, 0] } })).toThrow(/360p\.1\.1/);
  });
});
