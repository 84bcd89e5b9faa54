// Parity runners for the reference fixtures owned by this package (`kind: buckets`): aspect lookups,
// image sizes and bucket ids, all compared exactly. Every input comes from the case files.
import type { ParityCase, ParityOutput, ParityRunner } from '@opensora-ts/kernels';
import { getAspectRatios, getClosestRatio, getImageSize } from './aspect.js';
import { Bucket, type BucketConfig } from './bucket.js';

/**
 * The bucket configs the shared fixture names without spelling out (README "buckets"): the
 * reference's stage1 (360p) and "multi" (stage1 360p + stage2 720p + image-only 480p and 1080p),
 * keep probabilities forced to 1.0. A case may instead carry its own `bucket_config`.
 */
const STAGE1_360P = { '1': [1.0, 60], '49': [1.0, 5], '65': [1.0, 3], '81': [1.0, 3], '97': [1.0, 2], '113': [1.0, 2] } as const;
const STAGE2_720P = { '1': [1.0, 30], '49': [1.0, 2], '65': [1.0, 1], '81': [1.0, 1], '97': [1.0, 1], '113': [1.0, 1] } as const;
export const NAMED_BUCKET_CONFIGS: Readonly<Record<string, BucketConfig>> = {
  stage1: { '360p': STAGE1_360P },
  multi: { '360p': STAGE1_360P, '720p': STAGE2_720P, '480p': { '1': [1.0, 4] }, '1080p': { '1': [1.0, 1] } },
};

interface AspectRow {
  resolution: string;
  height: number;
  width: number;
  ratio_key: string;
  target: [number, number];
}
interface ImageSizeRow {
  resolution: string;
  aspect_ratio: string;
  size: [number, number];
}
interface BucketRow {
  num_frames: number;
  height: number;
  width: number;
  frame_interval?: number;
  seed?: number;
  result: unknown;
}
interface BucketSet {
  name: string;
  bucket_config?: BucketConfig;
  config?: BucketConfig;
  frame_interval?: number;
  seed?: number;
  rows: BucketRow[];
}
interface BucketsData {
  aspect?: AspectRow[];
  image_size?: ImageSizeRow[];
  bucket?: BucketSet[];
}

/** Puts `got`'s keys in `expected`'s order so that an exact JSON comparison checks values only. */
function sameKeyOrder(got: Record<string, unknown>, expected: unknown): Record<string, unknown> {
  if (!expected || typeof expected !== 'object' || Array.isArray(expected)) return got;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(expected)) if (k in got) out[k] = got[k];
  for (const k of Object.keys(got)) if (!(k in out)) out[k] = got[k];
  return out;
}

function bucketConfigFor(c: ParityCase, set: BucketSet): BucketConfig {
  const fromCase = (c.json.config?.bucket_configs as Record<string, BucketConfig> | undefined)?.[set.name];
  const cfg = set.bucket_config ?? set.config ?? fromCase ?? NAMED_BUCKET_CONFIGS[set.name];
  if (!cfg) {
    throw new Error(
      `${c.dir}: bucket set '${set.name}' has no bucket_config (in data.json or case.json config.bucket_configs) and is not one of ${Object.keys(NAMED_BUCKET_CONFIGS).join(', ')}.`,
    );
  }
  return cfg;
}

async function runBuckets(c: ParityCase): Promise<ParityOutput> {
  const data = c.data as BucketsData | undefined;
  if (!data) throw new Error(`${c.dir}: no data.json (call.data_file) for a buckets case.`);
  const exact: NonNullable<ParityOutput['exact']> = [];
  (data.aspect ?? []).forEach((r, i) => {
    const key = getClosestRatio(r.height, r.width, getAspectRatios(r.resolution).table);
    const hw = getAspectRatios(r.resolution).table.get(key)!;
    exact.push({
      name: `aspect[${i}] ${r.resolution} ${r.height}x${r.width}`,
      got: { ratio_key: key, target: [hw[0], hw[1]] },
      expected: { ratio_key: r.ratio_key, target: r.target },
    });
  });
  (data.image_size ?? []).forEach((r, i) => {
    exact.push({ name: `image_size[${i}] ${r.resolution} ${r.aspect_ratio}`, got: getImageSize(r.resolution, r.aspect_ratio), expected: r.size });
  });
  for (const set of data.bucket ?? []) {
    const bucket = new Bucket(bucketConfigFor(c, set), `${c.dir} bucket set '${set.name}'`);
    set.rows.forEach((r, i) => {
      const id = bucket.getBucketId(r.num_frames, r.height, r.width, r.frame_interval ?? set.frame_interval ?? 1, r.seed ?? set.seed ?? 0);
      let got: unknown = 'rejected';
      if (id) {
        const [t, h, w] = bucket.getThw(id);
        got = sameKeyOrder(
          { resolution: id.resolution, num_frames_bucket: id.frames, aspect_key: id.aspect, target_num_frames: t, target_height: h, target_width: w },
          r.result,
        );
      }
      exact.push({ name: `bucket.${set.name}[${i}] T=${r.num_frames} ${r.height}x${r.width}`, got, expected: r.result });
    });
  }
  return { exact };
}

export const parityRunners: Record<string, ParityRunner> = {
  buckets: runBuckets,
};
