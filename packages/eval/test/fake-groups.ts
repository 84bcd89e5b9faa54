// N ranks in one process for the sharding tests: each rank's collectives meet in memory (the k-th
// call of every rank with the others'). Only what sharded eval calls (allGatherJson, barrier).
import type { ProcessGroup } from '@opensora-ts/kernels';

export function fakeGroups(worldSize: number): ProcessGroup[] {
  const calls: { values: unknown[]; arrived: number; done: Promise<unknown[]>; resolve: (v: unknown[]) => void }[] = [];
  const seq = new Array<number>(worldSize).fill(0);
  const meet = (rank: number, value: unknown): Promise<unknown[]> => {
    const k = seq[rank]!++;
    let c = calls[k];
    if (!c) {
      let resolve!: (v: unknown[]) => void;
      const done = new Promise<unknown[]>((r) => (resolve = r));
      c = calls[k] = { values: new Array(worldSize), arrived: 0, done, resolve };
    }
    c.values[rank] = JSON.parse(JSON.stringify(value ?? null));
    if (++c.arrived === worldSize) c.resolve(c.values);
    return c.done;
  };
  const no = () => Promise.reject(new Error('fakeGroups: not used by sharded eval'));
  return Array.from({ length: worldSize }, (_, rank) => ({
    rank,
    worldSize,
    localRank: rank,
    backend: 'gloo' as const,
    allReduce: no,
    broadcast: no,
    allGather: no,
    allGatherJson: async <T>(v: T) => (await meet(rank, v)).map((x) => JSON.parse(JSON.stringify(x)) as T),
    barrier: async () => void (await meet(rank, null)),
    close: async () => {},
  }));
}
