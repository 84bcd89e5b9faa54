// The process group of an eval command and its resume folder. Under torchrun every rank runs the
// same command on its share of the items; without a launcher it is a world of one. With --out,
// finished items are kept in <out>.parts/ (one file per item, written by its owner, tagged with
// a fingerprint of the inputs), so a killed run started again skips them; once rank 0 has written
// the merged results, every rank deletes its own item files.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initProcessGroup, type ProcessGroup } from '@opensora-ts/kernels';
import { ItemStore } from '@opensora-ts/eval';

/** What identifies an input file for a resume: its path, size and modification time (a folder: its files'). */
export function fileIdentity(path: string): unknown {
  const p = resolve(path);
  if (!existsSync(p)) return { path: p, missing: true };
  const st = statSync(p);
  if (!st.isDirectory()) return { path: p, size: st.size, mtime: st.mtimeMs };
  return { path: p, files: readdirSync(p).sort().map((f) => fileIdentity(join(p, f))) };
}

/** A short hash of a JSON value: the fingerprint of a run's (or an item's) inputs. */
export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

export interface ShardedRun<T> {
  group: ProcessGroup;
  /** Item store of this command under <out>.parts/, when --out was given. */
  store?: ItemStore<T>;
  /** "" in one process; "[rank r/N] " to label each rank's progress lines. */
  label: string;
  /** Rank 0: the one that prints and writes the merged results. */
  writer: boolean;
}

export async function openShardedRun<T>(command: string, out: string | undefined, inputs: unknown): Promise<ShardedRun<T>> {
  const group = await initProcessGroup();
  const fingerprint = fingerprintOf({ command, inputs });
  const run: ShardedRun<T> = {
    group,
    label: group.worldSize > 1 ? `[rank ${group.rank}/${group.worldSize}] ` : '',
    writer: group.rank === 0,
  };
  if (out) {
    run.store = new ItemStore<T>(`${resolve(out)}.parts`, fingerprint);
    const reused = run.store.keys().length;
    if (reused && run.writer) console.error(`${run.store.dir}: ${reused} stored item file(s); those of these inputs are reused, not computed again.`);
  }
  return run;
}

/** After rank 0 wrote the results: every rank removes its item files, then leaves the group. */
export async function closeShardedRun<T>(run: ShardedRun<T>): Promise<void> {
  await run.group.barrier();
  run.store?.removeOwn();
  await run.group.close();
}
