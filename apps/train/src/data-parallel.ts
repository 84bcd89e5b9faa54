// How a trainer runs as one rank of a data-parallel group (torchrun): rank 0 alone owns the run
// folder (lock, config, log, plot, checkpoints); every rank resumes from the checkpoint rank 0
// chose, starts from rank 0's weights, and logs the loss of the whole global batch. At world
// size 1 every helper here is a no-op around the single-process code path. The collective maths
// (broadcastParameters, meanOverRanks, averageStepGradients) lives in @opensora-ts/kernels.
import type { ProcessGroup } from '@opensora-ts/kernels';
import { JsonlLog, type LogRecord } from './jsonl-log.js';

/** This process's place in the run: the group, and whether it writes the run folder. */
export interface RankContext {
  pg: ProcessGroup;
  /** Rank 0: the only writer of log, plot, checkpoints and data. */
  writer: boolean;
  /** Messages: rank 0's as they are; other ranks' prefixed with their rank. */
  say: (line: string) => void;
}

export function rankContext(pg: ProcessGroup, say: (line: string) => void): RankContext {
  const writer = pg.rank === 0;
  return { pg, writer, say: writer || pg.worldSize === 1 ? say : (l: string) => say(`[rank ${pg.rank}] ${l}`) };
}

/** The run log on rank 0; on the other ranks a log that records nothing and reads rank 0's file. */
export function openRunLog(path: string, writer: boolean): JsonlLog {
  if (writer) return new JsonlLog(path);
  const log = new JsonlLog(path);
  log.write = (_r: LogRecord) => {};
  log.truncateAfter = () => {};
  return log;
}

/** Runs `fn` on rank 0 (preparing shared files), then every rank meets at a barrier. */
export async function rankZeroFirst<T>(ctx: RankContext, fn: () => Promise<T>): Promise<T | undefined> {
  let out: T | undefined;
  if (ctx.writer) out = await fn();
  await ctx.pg.barrier();
  return out;
}

/** The value rank 0 has (a checkpoint path, a decision), on every rank. */
export async function fromRankZero<T>(pg: ProcessGroup, value: T): Promise<T> {
  if (pg.worldSize === 1) return value;
  return (await pg.allGatherJson(value))[0]!;
}

/**
 * Rank 0 writes (the others pass `write: null`); every rank learns the path, or the reason there is
 * none, so none runs ahead of a checkpoint being written and all fail together when it cannot be.
 */
export async function checkpointOnRankZero(pg: ProcessGroup, write: (() => string) | null, step: number): Promise<string> {
  let written: { path: string } | { error: string } = { error: '' };
  if (write) {
    try {
      written = { path: write() };
    } catch (err) {
      written = { error: (err as Error).message };
    }
  }
  written = await fromRankZero(pg, written);
  if ('error' in written) throw pg.rank === 0 ? new Error(written.error) : new Error(`rank 0 could not write the checkpoint of step ${step}: ${written.error}`);
  return written.path;
}

/** A checkpoint's world size against this run's: a change re-shards the sampler and changes the global batch. */
export function describeWorldSizeChange(saved: number | undefined, now: number): string | null {
  const was = saved ?? 1;
  if (was === now) return null;
  return `resuming a run of world size ${was} at world size ${now}: the sampler re-shards the rest of the epoch and each global batch now holds ${now} x the per-rank batch size (was ${was} x), so the run will not repeat an uninterrupted one.`;
}

/**
 * A rank whose batch lost every sample (files that failed to load) cannot take part in the step's
 * collectives, and the other ranks would wait for it: it stops instead (they then report it lost).
 * In one process the empty batch is skipped, as before.
 */
export function emptyBatchError(ctx: RankContext, keys: readonly string[], skippedCsv: string): Error | null {
  if (ctx.pg.worldSize === 1) return null;
  return new Error(
    `rank ${ctx.pg.rank}: every sample of a batch failed to load (${keys.join(', ')}; reasons in ${skippedCsv}); in a data-parallel run every rank must train every step. Remove those rows from the metadata CSV (or fix the files) and resume.`,
  );
}
