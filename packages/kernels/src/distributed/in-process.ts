// N ranks inside one process: a ProcessGroup per rank whose collectives meet in memory. For
// tests of data-parallel and sharded code (run rank 0 ... N-1 as concurrent async functions)
// without launching processes; the semantics are c10d's: every rank calls the same
// collectives in the same order, and the k-th call of each rank is matched with the others'.
import { wrapC10d } from './init.js';
import type { C10dGroup } from './init.js';
import type { CollectiveArray, ProcessGroup, ReduceOp } from './process-group.js';

interface Pending {
  kind: string;
  arrays: (CollectiveArray | undefined)[];
  arrived: number;
  done: Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

function reduce(values: Float32Array[], op: ReduceOp): Float32Array {
  const out = Float32Array.from(values[0]!);
  for (let r = 1; r < values.length; r++) {
    const v = values[r]!;
    for (let i = 0; i < out.length; i++) {
      const a = out[i]!;
      const b = v[i]!;
      out[i] = op === 'max' ? Math.max(a, b) : op === 'min' ? Math.min(a, b) : a + b;
    }
  }
  if (op === 'avg') for (let i = 0; i < out.length; i++) out[i] = out[i]! / values.length;
  return out;
}

/** `worldSize` process groups (rank order) that talk to each other in memory. */
export function inProcessGroups(worldSize: number): ProcessGroup[] {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new RangeError(`inProcessGroups: worldSize=${worldSize}: expected a positive integer`);
  const calls: Pending[] = [];
  const seq = new Array<number>(worldSize).fill(0);

  const meet = <T>(rank: number, kind: string, data: CollectiveArray | undefined, finish: (arrays: CollectiveArray[]) => T): Promise<T> => {
    const k = seq[rank]!++;
    let p = calls[k];
    if (!p) {
      let resolve!: (v: unknown) => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      p = calls[k] = { kind, arrays: new Array(worldSize), arrived: 0, done, resolve, reject };
    }
    if (p.kind !== kind) {
      const err = new Error(`in-process group: rank ${rank} called ${kind} as collective #${k} where another rank called ${p.kind}`);
      p.reject(err);
      return Promise.reject(err);
    }
    if (data !== undefined && p.arrays.some((a) => a !== undefined && (a.length !== data.length || a.constructor !== data.constructor))) {
      const err = new Error(`in-process group: rank ${rank} passed ${data.constructor.name}[${data.length}] to ${kind} #${k}, unlike another rank`);
      p.reject(err);
      return Promise.reject(err);
    }
    p.arrays[rank] = data;
    p.arrived++;
    if (p.arrived === worldSize) {
      try {
        p.resolve(finish(p.arrays as CollectiveArray[]));
      } catch (err) {
        p.reject(err);
      }
    }
    return p.done as Promise<T>;
  };

  return Array.from({ length: worldSize }, (_, rank) => {
    const raw: C10dGroup = {
      backend: 'gloo',
      async allReduce(data, op) {
        const result = await meet(rank, `allReduce(${op})`, data, (all) => reduce(all as Float32Array[], op));
        data.set(result);
      },
      async broadcast(data, root) {
        const result = await meet(rank, `broadcast(${root})`, data, (all) => all[root]!.slice());
        data.set(result as never);
      },
      async allGather<T extends CollectiveArray>(data: T) {
        const result = await meet(rank, 'allGather', data, (all) => all.map((a) => a.slice()));
        return result.map((a) => a.slice()) as T[];
      },
      async barrier() {
        await meet(rank, 'barrier', undefined, () => undefined);
      },
      async close() {},
    };
    return wrapC10d(raw, { rank, worldSize, localRank: rank });
  });
}
