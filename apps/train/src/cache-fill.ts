// `opensora-train cache`: encode a DiT stage's dataset into the latent and text-embedding caches
// before training, the cache the trainer would otherwise fill lazily during its first epoch. The
// work is split over the ranks of the process group (torchrun): first the distinct captions, then
// the (sample, size) pairs of the sampler's first epochs, each encoded and written once, by the
// rank that owns it, into one shared cache folder (a LatentCache writer per rank). Resumable: what
// the cache already holds is skipped, and the cache is flushed every few seconds.
import { resolve } from 'node:path';
import { CacheItemSampler, cachePlan, VideoLoader, type CacheItem } from '@opensora-ts/data';
import { shardItems, singleProcessGroup, tf, type ProcessGroup } from '@opensora-ts/kernels';
import type { DitTrainConfig } from './config.js';
import { ensureDataset, openDataSource, type DataSource } from './data-source.js';
import { LatentEncoder } from './latents.js';
import { buildTextEncoder, buildVae } from './models.js';

/**
 * What names a latent cache folder (latents-<hash of this>): the trainer's LatentEncoder takes the
 * same object (dit-trainer.ts), so a cache filled here is the one training reads.
 */
export function latentCacheIdentity(cfg: DitTrainConfig, csv: string): unknown {
  return { vae: cfg.vae, csv: resolve(csv), sample: cfg.latent_sample, seed: cfg.seed, dataset: cfg.dataset };
}

export interface FillCacheOptions {
  config: DitTrainConfig;
  /** The run folder (default cache: <outDir>/cache; a shapes-world dataset is generated in it). */
  outDir: string;
  /** Cache the samples of epochs 0 ... epochs-1 (default 1). */
  epochs?: number;
  /**
   * The number of ranks training will run on (default: this fill's): data-parallel training batches N x
   * the config's batch size at once, which drops other remainders than one process does.
   */
  trainRanks?: number;
  group?: ProcessGroup;
  log?: (line: string) => void;
  /** This rank's progress: phase, items done and its share. */
  onProgress?: (phase: 'captions' | 'latents', done: number, total: number) => void;
  /** Flush the latent cache at least this often (default 30 s), so a killed fill loses little. */
  flushEveryMs?: number;
}

export interface FillCacheResult {
  /** Cache folders: latents (this config's) and text embeddings. */
  latentDir: string;
  textDir: string;
  /** Over all ranks. */
  captions: number;
  captionsEncoded: number;
  items: number;
  itemsEncoded: number;
  itemsAlreadyCached: number;
  /** Rows that could not be read, over all ranks. */
  skipped: number;
}

const CAPTION_CHUNK = 16;

export async function fillLatentCache(o: FillCacheOptions): Promise<FillCacheResult> {
  const cfg = o.config;
  const group = o.group ?? singleProcessGroup();
  const say = o.log ?? (() => {});
  const rank0 = group.rank === 0;
  // A generated (shapes-world) dataset is written by rank 0 alone; the others wait for it.
  let csv = '';
  if (rank0) csv = await ensureDataset(cfg, o.outDir, say);
  await group.barrier();
  if (!rank0) csv = await ensureDataset(cfg, o.outDir, () => {});

  const textEncoder = buildTextEncoder(cfg);
  const vae = buildVae(cfg.vae, rank0 ? say : () => {}, 'vae', cfg.seed);
  const enc = new LatentEncoder(vae, textEncoder, resolve(cfg.cache_dir ?? `${o.outDir}/cache`), latentCacheIdentity(cfg, csv), {
    seed: cfg.seed,
    samplePosterior: cfg.latent_sample === 'sample',
    frameInterval: cfg.dataset.frame_interval,
    ...(group.worldSize > 1 ? { cacheWriter: `rank-${group.rank}` } : {}),
  });
  let skipped = 0;
  try {
    const trainRanks = o.trainRanks ?? group.worldSize;
    if (!Number.isInteger(trainRanks) || trainRanks < 1) throw new RangeError(`cache fill: trainRanks ${trainRanks} is not a whole number >= 1`);
    // Every training rank's slices of the global batches, each pair once at the first epoch it appears in.
    let rows: DataSource['rows'] = [];
    const byKey = new Map<string, CacheItem>();
    for (let r = 0; r < trainRanks; r++) {
      const ds = await openDataSource(cfg, csv, { log: rank0 && r === 0 ? say : () => {}, ...(trainRanks > 1 ? { replicas: { numReplicas: trainRanks, rank: r } } : {}) });
      rows = ds.rows;
      for (const item of cachePlan(ds.sampler, o.epochs ?? 1)) {
        const k = `${item.index}-${item.thw.join('-')}`;
        const seen = byKey.get(k);
        if (!seen || seen.epoch > item.epoch) byKey.set(k, item);
      }
    }
    // A stable sort: the same order on every rank.
    const plan = [...byKey.values()].map((item, i) => ({ item, i })).sort((a, b) => a.item.epoch - b.item.epoch || a.i - b.i).map((x) => x.item);

    // 1. Captions: each distinct caption encoded once, by its owner (one file per caption).
    const captions = [...new Set(plan.map((i) => rows[i.index]!.text))];
    const myCaptions = shardItems(captions, group);
    for (let k = 0; k < myCaptions.length; k += CAPTION_CHUNK) {
      const r = await enc.text.encode(myCaptions.slice(k, k + CAPTION_CHUNK));
      tf.dispose([r.states, r.mask]);
      o.onProgress?.('captions', Math.min(k + CAPTION_CHUNK, myCaptions.length), myCaptions.length);
    }
    const captionsEncoded = enc.text.misses;
    await group.barrier();

    // 2. Latents: this rank's share of the (sample, size) pairs the cache lacks, loaded with each one's first-epoch crop.
    const key = (i: CacheItem) => `${rows[i.index]!.id}-${i.thw.join('-')}`;
    enc.cache.refresh();
    const mine = shardItems(plan, group);
    const todo = mine.filter((i) => !enc.cache.has(key(i)));
    const already = mine.length - todo.length;
    let done = 0;
    let lastFlush = Date.now();
    const epochs = [...new Set(todo.map((i) => i.epoch))].sort((a, b) => a - b);
    for (const e of epochs) {
      const items = todo.filter((i) => i.epoch === e);
      const loader = new VideoLoader(rows, new CacheItemSampler(items, e, cfg.seed), {
        prefetch: cfg.prefetch,
        seed: cfg.seed,
        frameInterval: cfg.dataset.frame_interval,
        onSkip: (line) => {
          skipped++;
          say(`skipped sample: ${line}`);
        },
      });
      for await (const lb of loader) {
        if (lb.items.length > 0) (await enc.encode(lb)).dispose();
        done++;
        o.onProgress?.('latents', done, todo.length);
        if (Date.now() - lastFlush > (o.flushEveryMs ?? 30_000)) {
          enc.flush();
          lastFlush = Date.now();
        }
      }
    }
    enc.flush();
    const counts = await group.allGatherJson({ captionsEncoded, encoded: todo.length - skipped, already, skipped });
    await group.barrier();
    const sum = (f: (c: (typeof counts)[number]) => number) => counts.reduce((s, c) => s + f(c), 0);
    return {
      latentDir: enc.cache.dir,
      textDir: enc.text.dir,
      captions: captions.length,
      captionsEncoded: sum((c) => c.captionsEncoded),
      items: plan.length,
      itemsEncoded: sum((c) => c.encoded),
      itemsAlreadyCached: sum((c) => c.already),
      skipped: sum((c) => c.skipped),
    };
  } finally {
    enc.close();
  }
}
