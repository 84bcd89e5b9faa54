// Item-parallel evaluation over a process group: rank r computes the items `shardOf` gives it
// (strided), every rank gets all the results back in item order, and a failure on any rank
// fails every rank with the failing rank named, instead of leaving the others waiting in a
// collective. Items already done (a resumed run) are taken from `done` and not computed again.
import { shardOf, singleProcessGroup, unshard, type ProcessGroup } from '@opensora-ts/kernels';

export interface RunShardedOptions<T> {
  /** Default: one process computes every item. */
  group?: ProcessGroup;
  /** An item's stored result (a resumed run), or undefined to compute it. */
  done?: (index: number) => T | undefined;
  /** Called with each computed item (e.g. to store it). */
  onDone?: (index: number, value: T) => void;
  /** Called after each of this rank's items; `reused` when it came from `done`. */
  onProgress?: (done: number, total: number, index: number, reused: boolean) => void;
}

/** Thrown on every rank when any rank's work failed. */
export class ShardedWorkError extends Error {
  override name = 'ShardedWorkError';
}

type Outcome<T> = { ok: T } | { error: string };

/**
 * Runs `work` on every rank and gathers the outcomes: each rank's value in rank order, or a
 * ShardedWorkError naming each failed rank and its message (the same error on every rank).
 */
export async function gatherOutcomes<T>(group: ProcessGroup, work: () => Promise<T>): Promise<T[]> {
  let outcome: Outcome<T>;
  try {
    outcome = { ok: await work() };
  } catch (e) {
    outcome = { error: e instanceof Error ? e.message : String(e) };
  }
  const all = await group.allGatherJson(outcome);
  const failed = all.flatMap((o, rank) => ('error' in o ? [`rank ${rank}: ${o.error}`] : []));
  if (failed.length) {
    throw new ShardedWorkError(group.worldSize === 1 ? failed[0]!.replace(/^rank 0: /, '') : `${failed.length} of ${group.worldSize} ranks failed: ${failed.join('; ')}`);
  }
  return all.map((o) => (o as { ok: T }).ok);
}

/** Results of items 0 ... count-1 (JSON values), each computed by its owning rank; every rank gets them all. */
export async function runSharded<T>(count: number, work: (index: number) => Promise<T>, o: RunShardedOptions<T> = {}): Promise<T[]> {
  const group = o.group ?? singleProcessGroup();
  const mine = shardOf(count, group);
  const perRank = await gatherOutcomes(group, async () => {
    const out: T[] = [];
    for (const i of mine) {
      let v = o.done?.(i);
      const reused = v !== undefined;
      if (v === undefined) {
        v = await work(i);
        o.onDone?.(i, v);
      }
      out.push(v);
      o.onProgress?.(out.length, mine.length, i, reused);
    }
    return out;
  });
  return unshard(perRank, count);
}
