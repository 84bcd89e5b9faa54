// Open-Sora 1.3's buckets (opensora/datasets/bucket.py `Bucket`): a sample (T, H, W) goes to the
// largest resolution group it covers (H*W >= 0.8 * pixels), the longest frame bucket it strictly
// exceeds (T > frames * frame_interval), and the table key closest to H/W; a keep-probability
// drawn from `np.random.default_rng(seed + bucket_index)` may send it to the next smaller group.
import { z } from 'zod';
import { getAspectRatios, getClosestRatio, type AspectTable } from './aspect.js';
import { NumpyRandom } from './numpy-random.js';

/** keep_prob: p, or [p, p_t] (p_t gates the frame bucket, p the group). */
export type KeepProb = number | readonly [number, number];

/** `{ res_name: { num_frames: [keep_prob, batch_size] } }`, the reference's `bucket_config`. */
export type BucketConfig = Record<string, Record<string | number, readonly [KeepProb, number]>>;

const keepProbSchema = z.union([z.number().min(0), z.tuple([z.number().min(0), z.number().min(0)])]);

export const bucketConfigSchema = z.record(
  z.string(),
  z.record(
    z.string().regex(/^\d+$/, 'frame keys are integers (1 for images)'),
    z.tuple([keepProbSchema, z.number().int().positive()]),
  ),
);

export interface BucketId {
  /** Resolution group name ("360p"). */
  resolution: string;
  /** Frame bucket (1 for images). */
  frames: number;
  /** Aspect key ("0.56"). */
  aspect: string;
}

/** A stable string for a bucket id, e.g. "360p/49/0.56". */
export function bucketKey(id: BucketId): string {
  return `${id.resolution}/${id.frames}/${id.aspect}`;
}

export function parseBucketKey(key: string): BucketId {
  const [resolution, frames, aspect] = key.split('/');
  if (!resolution || !frames || !aspect) throw new Error(`bad bucket key '${key}'; expected "res/frames/aspect".`);
  return { resolution, frames: Number(frames), aspect };
}

interface Group {
  name: string;
  pixels: number;
  table: AspectTable;
  /** Frame buckets, largest first. */
  frames: { frames: number; prob: KeepProb; batchSize: number; index: number }[];
}

function validate(config: unknown, where: string): BucketConfig {
  const r = bucketConfigSchema.safeParse(config);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new Error(
      `${where}: invalid bucket_config at '${issue.path.join('.')}': ${issue.message}; expected {res: {frames: [keep_prob, batch_size]}}, e.g. {"360p": {"1": [1.0, 60], "49": [1.0, 5]}}.`,
    );
  }
  return r.data as BucketConfig;
}

export class Bucket {
  private readonly groups: Group[];
  /** Number of (group, frames, aspect) buckets; the reference's `num_bucket`. */
  readonly numBuckets: number;

  constructor(config: BucketConfig, where = 'bucket_config') {
    const cfg = validate(config, where);
    const names = Object.keys(cfg);
    for (const n of names) getAspectRatios(n); // throws with the list of known names
    // Stable sort: groups with equal pixels keep the config's order, as Python's sorted does.
    const sorted = [...names].sort((a, b) => getAspectRatios(b).pixels - getAspectRatios(a).pixels);
    let index = 0;
    let num = 0;
    this.groups = sorted.map((name) => {
      const { pixels, table } = getAspectRatios(name);
      const frames = Object.keys(cfg[name]!)
        .map(Number)
        .sort((a, b) => b - a)
        .map((f) => {
          const [prob, batchSize] = cfg[name]![String(f)]!;
          num += table.size;
          return { frames: f, prob, batchSize, index: index++ };
        });
      return { name, pixels, table, frames };
    });
    this.numBuckets = num;
  }

  /** Resolution groups, largest first, with their frame buckets (largest first). */
  describe(): { resolution: string; pixels: number; frames: { frames: number; keepProb: KeepProb; batchSize: number }[] }[] {
    return this.groups.map((g) => ({
      resolution: g.name,
      pixels: g.pixels,
      frames: g.frames.map((f) => ({ frames: f.frames, keepProb: f.prob, batchSize: f.batchSize })),
    }));
  }

  /**
   * The bucket of a sample, or null when none takes it. `seed` is the draw seed (the sampler passes
   * base seed + row * numBuckets). Follows the reference step by step, including where it draws.
   */
  getBucketId(T: number, H: number, W: number, frameInterval = 1, seed = 0): BucketId | null {
    const area = H * W;
    for (const g of this.groups) {
      if (area < g.pixels * 0.8) continue;
      if (T === 1) {
        const img = g.frames.find((f) => f.frames === 1);
        if (!img) continue;
        // The reference compares against a plain probability here; a [p, p_t] pair uses p.
        // random() < 1 always holds, so p >= 1 needs no draw.
        const p = typeof img.prob === 'number' ? img.prob : img.prob[0];
        if (p >= 1 || new NumpyRandom(BigInt(seed) + BigInt(img.index)).random() < p) return this.finish(g, 1, H, W);
        // Rejected images fall through to the video search, which never takes T = 1.
      }
      // Each frame bucket has its own stream; a [p, p_t] pair draws p_t first, then p from the same
      // stream. Streams are made only when a draw happens (a seeded PCG64 costs BigInt work).
      let chosen: { f: Group['frames'][number]; rng: () => NumpyRandom } | undefined;
      for (const f of g.frames) {
        let made: NumpyRandom | undefined;
        const rng = () => (made ??= new NumpyRandom(BigInt(seed) + BigInt(f.index)));
        if (typeof f.prob !== 'number' && rng().random() > f.prob[1]) continue;
        if (T > f.frames * frameInterval && f.frames !== 1) {
          chosen = { f, rng };
          break;
        }
      }
      if (!chosen) continue;
      const p = typeof chosen.f.prob === 'number' ? chosen.f.prob : chosen.f.prob[0];
      if (p >= 1 || chosen.rng().random() < p) return this.finish(g, chosen.f.frames, H, W);
    }
    return null;
  }

  /**
   * Why `getBucketId` can give null for a sample, without drawing: 'too-small' (H*W is under
   * 0.8x the pixels of every resolution), 'too-few-frames' (no group it covers has a frame bucket
   * it strictly exceeds, T > frames * frameInterval; or an image with no `1` entry), or 'keep-prob'
   * (a bucket takes it, but its keep-probability draws can all say no).
   */
  rejectionReason(T: number, H: number, W: number, frameInterval = 1): 'too-small' | 'too-few-frames' | 'keep-prob' {
    const covering = this.groups.filter((g) => H * W >= g.pixels * 0.8);
    if (covering.length === 0) return 'too-small';
    const fits = covering.some((g) => g.frames.some((f) => (T === 1 ? f.frames === 1 : f.frames !== 1 && T > f.frames * frameInterval)));
    return fits ? 'keep-prob' : 'too-few-frames';
  }

  /** The smallest resolution group: its name, pixels and the fewest pixels it accepts (0.8x). */
  smallest(): { resolution: string; pixels: number; minPixels: number } {
    const g = this.groups[this.groups.length - 1]!;
    return { resolution: g.name, pixels: g.pixels, minPixels: Math.ceil(g.pixels * 0.8) };
  }

  private finish(g: Group, frames: number, H: number, W: number): BucketId {
    return { resolution: g.name, frames, aspect: getClosestRatio(H, W, g.table) };
  }

  private group(id: BucketId): Group {
    const g = this.groups.find((x) => x.name === id.resolution);
    if (!g) throw new Error(`bucket ${bucketKey(id)}: resolution '${id.resolution}' is not in this bucket_config.`);
    return g;
  }

  private frameEntry(id: BucketId): Group['frames'][number] {
    const f = this.group(id).frames.find((x) => x.frames === id.frames);
    if (!f) throw new Error(`bucket ${bucketKey(id)}: ${id.frames} frames is not a bucket of '${id.resolution}'.`);
    return f;
  }

  /** Target [T, H, W] of a bucket. */
  getThw(id: BucketId): [number, number, number] {
    const hw = this.group(id).table.get(id.aspect);
    if (!hw) throw new Error(`bucket ${bucketKey(id)}: aspect '${id.aspect}' is not in the ${id.resolution} table.`);
    return [this.frameEntry(id).frames, hw[0], hw[1]];
  }

  getBatchSize(id: BucketId): number {
    return this.frameEntry(id).batchSize;
  }

  getProb(id: BucketId): KeepProb {
    return this.frameEntry(id).prob;
  }
}
