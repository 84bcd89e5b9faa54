// A loader that decodes ahead: while the caller computes on batch k, batches k+1..k+prefetch are
// decoded (ffmpeg child processes, a bounded number at once), so at most `prefetch` batches sit in
// memory. Samples that fail to load are reported (row number, reason), counted and dropped from
// their batch, as the reference's collate drops None. Cached latents are returned instead of pixels
// when the cache has the sample. `state()` is the sampler position of the last batch handed out,
// so a resumed run neither skips nor repeats the batches decoded ahead.
import { MediaError } from './ffmpeg.js';
import type { DecodedVideoCache } from './decoded-video-cache.js';
import type { LatentCache } from './latent-cache.js';
import { SkipReport, type MetadataRow } from './metadata.js';
import type { Batch, BatchSampler, SamplerState } from './sampler.js';
import type { ClipLayout } from './transforms.js';
import { loadSample, type Sample } from './video-io.js';
import { mixSeed, SeededRandom, type HostTensor } from '@opensora-ts/kernels';

export interface LoaderOptions {
  /** Batches decoded ahead (default 2). */
  prefetch?: number;
  /** Files decoded at once (default 2). */
  concurrency?: number;
  layout?: ClipLayout;
  frameInterval?: number;
  /** Seed of the temporal-crop draws (each sample's draw depends on seed, epoch and row). */
  seed?: number;
  cache?: LatentCache;
  /** Decoded videos kept in memory across epochs (see DecodedVideoCache). */
  decodedCache?: DecodedVideoCache;
  /** Cache key of a sample; default the reference's index string "{id}-{T}-{H}-{W}". */
  cacheKey?: (row: MetadataRow, thw: [number, number, number]) => string;
  /** Called for each skipped sample (default: nothing; the report keeps them). */
  onSkip?: (line: string) => void;
}

export interface LoadedItem {
  row: MetadataRow;
  /** Decoded pixels, when the cache did not have the sample. */
  sample?: Sample;
  /** Cached tensors, when it did. */
  cached?: Map<string, HostTensor>;
}

export interface LoadedBatch {
  batch: Batch;
  items: LoadedItem[];
  /** Sampler state after this batch: save it to resume after it. */
  state: SamplerState;
}

class Semaphore {
  private free: number;
  private waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = Math.max(1, n);
  }
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.free === 0) await new Promise<void>((r) => this.waiting.push(r));
    else this.free--;
    try {
      return await f();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** Thrown when a loader's epoch has no batch at all: the message says where the samples went. */
export class EmptyEpochError extends Error {
  override name = 'EmptyEpochError';
}

export class VideoLoader {
  readonly report = new SkipReport();
  private lastState: SamplerState;
  private readonly sem: Semaphore;

  constructor(
    private readonly rows: readonly MetadataRow[],
    private readonly sampler: BatchSampler,
    private readonly opts: LoaderOptions = {},
  ) {
    this.lastState = sampler.state();
    this.sem = new Semaphore(opts.concurrency ?? 2);
  }

  /** Position after the last batch handed out (not after the ones decoded ahead). */
  state(): SamplerState {
    return { ...this.lastState };
  }

  private async loadItem(row: MetadataRow, thw: [number, number, number], epoch: number): Promise<LoadedItem | undefined> {
    const key = (this.opts.cacheKey ?? ((r, t) => `${r.id}-${t[0]}-${t[1]}-${t[2]}`))(row, thw);
    const cached = this.opts.cache?.get(key);
    if (cached) return { row, cached };
    const rng = new SeededRandom(mixSeed(this.opts.seed ?? 0, epoch, row.id));
    try {
      const sample = await this.sem.run(() =>
        loadSample(row.path, {
          numFrames: thw[0],
          height: thw[1],
          width: thw[2],
          frameInterval: this.opts.frameInterval ?? 1,
          totalFrames: row.numFrames,
          layout: this.opts.layout ?? 'CTHW',
          randint: (lo, hi) => rng.int(lo, hi),
          ...(this.opts.decodedCache ? { decodedCache: this.opts.decodedCache } : {}),
        }),
      );
      return { row, sample };
    } catch (e) {
      if (e instanceof MediaError && e.reason === 'tool-missing') throw e;
      const reason = e instanceof MediaError ? e.reason : 'unreadable';
      this.report.add(row.row, row.fields.path ?? row.path, reason, e instanceof Error ? e.message : String(e));
      this.opts.onSkip?.(this.report.lines().at(-1)!);
      return undefined;
    }
  }

  private async loadBatch(batch: Batch, epoch: number, state: SamplerState): Promise<LoadedBatch> {
    this.report.total += batch.indices.length;
    const items = await Promise.all(
      batch.indices.map((i) => {
        const row = this.rows[i];
        if (!row) throw new Error(`sampler index ${i} is outside the ${this.rows.length} metadata rows; build the sampler from the same rows.`);
        return this.loadItem(row, batch.thw, epoch);
      }),
    );
    return { batch, items: items.filter((x): x is LoadedItem => x !== undefined), state };
  }

  /** The remaining batches of the sampler's current epoch, decoded ahead. */
  async *[Symbol.asyncIterator](): AsyncGenerator<LoadedBatch> {
    const epoch = this.sampler.state().epoch;
    if (this.sampler.length() === 0) {
      const why = this.sampler.explain?.().summary ?? 'the sampler made no batch from these samples.';
      throw new EmptyEpochError(`VideoLoader: no batch this epoch from ${this.rows.length} metadata rows. ${why}`);
    }
    const gen = this.sampler.batches();
    const queue: Promise<LoadedBatch>[] = [];
    const depth = Math.max(1, this.opts.prefetch ?? 2);
    const fill = () => {
      while (queue.length < depth) {
        const n = gen.next();
        if (n.done) return;
        const st = this.sampler.state();
        // The generator advances the epoch only after its last batch; record the in-epoch position.
        const p = this.loadBatch(n.value, epoch, st);
        p.catch(() => {}); // surfaced when awaited; no unhandled rejection if the caller stops early
        queue.push(p);
      }
    };
    fill();
    while (queue.length) {
      const b = await queue.shift()!;
      fill();
      this.lastState = b.state;
      yield b;
    }
    this.lastState = this.sampler.state();
  }
}
