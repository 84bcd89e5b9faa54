// Rows, sampler and loader of a run: a metadata CSV (or a shapes-world set generated on first use
// into <out>/data), the bucket sampler (bucket_config) or the fixed-size one (VideoTextDataset),
// and the prefetching loader with the latent cache in front of the decoder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  BucketSampler,
  DecodedVideoCache,
  FixedSizeSampler,
  readMetadata,
  VideoLoader,
  writeCsv,
  writeShapesWorld,
  type BatchSampler,
  type LatentCache,
  type MetadataRow,
  type SkippedRow,
  type ShapesWorldOptions,
} from '@opensora-ts/data';
import type { TrainConfig } from './config.js';

export interface DataSource {
  rows: MetadataRow[];
  sampler: BatchSampler;
  loader: VideoLoader;
  csvPath: string;
}

type ShapesWorldConfig = NonNullable<TrainConfig['dataset']['shapes_world']>;

/** The data package's generator options for a config's `dataset.shapes_world` block. */
export function shapesWorldOptions(sw: ShapesWorldConfig): ShapesWorldOptions {
  return {
    numClips: sw.num_clips,
    height: sw.height,
    width: sw.width,
    numFrames: sw.num_frames,
    fps: sw.fps,
    seed: sw.seed,
    ...(sw.background_amplitude ? { backgroundAmplitude: sw.background_amplitude } : {}),
    ...(sw.background_grey ? { backgroundGrey: sw.background_grey } : {}),
    ...(sw.background_tint !== undefined ? { backgroundTint: sw.background_tint } : {}),
    ...(sw.scenes ? { scenes: sw.scenes } : {}),
    ...(sw.speed_range ? { speedRange: sw.speed_range } : {}),
    ...(sw.size_range ? { sizeRange: sw.size_range } : {}),
    ...(sw.two_shape_share !== undefined ? { twoShapeShare: sw.two_shape_share } : {}),
  };
}

/** The metadata CSV of the run; generates the shapes-world set first when the config asks for it. */
export async function ensureDataset(cfg: TrainConfig, outDir: string, log: (line: string) => void): Promise<string> {
  if (cfg.dataset.data_path) return cfg.dataset.data_path;
  const sw = cfg.dataset.shapes_world;
  if (!sw) throw new Error('dataset.data_path is not set: pass the metadata CSV with --data-path data/meta.csv (or --set dataset.data_path=...), or set dataset.shapes_world to generate a synthetic set.');
  const dir = join(outDir, 'data');
  const csv = join(dir, 'meta.csv');
  if (existsSync(csv)) return csv;
  log(`generating shapes-world data: ${sw.num_clips} clips of ${sw.num_frames}x${sw.height}x${sw.width} into ${dir}`);
  const r = await writeShapesWorld(dir, shapesWorldOptions(sw));
  return r.csvPath;
}

const SKIPPED_COLUMNS = ['row', 'path', 'reason', 'detail', 'when'];

export interface OpenDataSourceOptions {
  cache?: LatentCache;
  log: (line: string) => void;
  /** Where the skipped rows are listed (the run folder's skipped.csv): path, reason and detail of each. */
  skippedCsv?: string;
  /** Data parallel: this rank's slice of every global batch (default one process). */
  replicas?: { numReplicas: number; rank: number };
}

export async function openDataSource(cfg: TrainConfig, csvPath: string, opts: OpenDataSourceOptions): Promise<DataSource> {
  const meta = await readMetadata(csvPath);
  if (cfg.task === 'dit' && !meta.columns.includes('text') && !cfg.allow_empty_captions) {
    throw new Error(
      `${csvPath}: no 'text' column (found ${meta.columns.join(', ')}), so every sample would train on an empty caption. Add the captions as a 'text' column, or pass --allow-empty-captions (allow_empty_captions: true) to train unconditionally on purpose.`,
    );
  }
  if (cfg.task === 'dit' && !meta.columns.includes('text')) opts.log(`warning: ${csvPath} has no 'text' column; training on empty captions (allow_empty_captions).`);
  // Skipped rows, at reading and later at loading, are listed with their reason in skippedCsv.
  const skipped: (SkippedRow & { when: string })[] = meta.report.skipped.map((r) => ({ ...r, when: 'reading the CSV' }));
  const writeSkipped = () => opts.skippedCsv && writeCsv(opts.skippedCsv, SKIPPED_COLUMNS, skipped as unknown as Record<string, unknown>[]);
  if (meta.report.skipped.length) {
    writeSkipped();
    opts.log(`${csvPath}: ${meta.report.summary()}${opts.skippedCsv ? ` Each skipped row, with its reason, is in ${opts.skippedCsv}.` : ''}`);
  }
  const rows = meta.rows;
  if (rows.length === 0) throw new Error(`${csvPath}: no usable rows; check the paths and the num_frames/height/width columns.`);
  const shapes = rows.map((r) => ({ numFrames: r.numFrames, height: r.height, width: r.width }));
  const frameInterval = cfg.dataset.frame_interval;
  let sampler: BatchSampler;
  if (cfg.bucket_config) {
    const buckets = new BucketSampler(shapes, cfg.bucket_config, { seed: cfg.seed, frameInterval, ...opts.replicas });
    sampler = buckets;
    const { rejected } = buckets.groups();
    if (rejected) opts.log(`bucket_config: ${rejected} of ${rows.length} samples fit no bucket and are left out.`);
  } else {
    const [height, width] = cfg.dataset.image_size!;
    const fixed = new FixedSizeSampler(shapes, { numFrames: cfg.dataset.num_frames!, height, width, batchSize: cfg.batch_size, seed: cfg.seed, frameInterval, ...opts.replicas });
    sampler = fixed;
    if (fixed.rejected) opts.log(`dataset: ${fixed.rejected} of ${rows.length} samples are shorter than num_frames ${cfg.dataset.num_frames} and are left out.`);
  }
  if (sampler.length() === 0) throw new Error(`${csvPath}: the sampler makes no batch from ${rows.length} samples (batch sizes larger than the data, or nothing fits bucket_config); lower the batch size or add data.`);
  const loader = new VideoLoader(rows, sampler, {
    prefetch: cfg.prefetch,
    seed: cfg.seed,
    frameInterval,
    cache: opts.cache,
    ...(cfg.decoded_cache_mb > 0 ? { decodedCache: new DecodedVideoCache(cfg.decoded_cache_mb * 2 ** 20) } : {}),
    onSkip: (line) => {
      const last = loader.report.skipped.at(-1);
      if (last) skipped.push({ ...last, when: 'loading' });
      writeSkipped();
      opts.log(`skipped sample: ${line}${opts.skippedCsv ? ` (listed in ${opts.skippedCsv})` : ''}`);
    },
  });
  return { rows, sampler, loader, csvPath };
}
