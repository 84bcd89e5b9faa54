// The process group of a multi-process run: which rank this process is, how many there are, and
// the collectives training and sharded work need. Launched by torchrun (RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT), ranks talk through c10d in the torch backend's addon
// (Gloo on CPU, NCCL on CUDA). Without a launcher a process is world size 1 and every collective
// is the identity, so code written for N ranks runs unchanged in one process.
import type { Tensor } from '../tf.js';

/** Element types the collectives move; reductions take float32 only. */
export type CollectiveArray = Float32Array | Int32Array | Uint8Array;

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min';

export interface ProcessGroup {
  /** This process's rank, 0 ... worldSize-1. */
  readonly rank: number;
  readonly worldSize: number;
  /** The rank among the processes of this machine (LOCAL_RANK): picks the CUDA device. */
  readonly localRank: number;
  /** 'single' without a launcher; 'gloo' or 'nccl' when c10d connects ranks. */
  readonly backend: 'single' | 'gloo' | 'nccl';
  /** Reduces `data` across ranks in place; every rank passes the same length. */
  allReduce(data: Float32Array, op?: ReduceOp): Promise<void>;
  /** Overwrites `data` on every rank with root's values (same length everywhere). */
  broadcast(data: CollectiveArray, root?: number): Promise<void>;
  /** Every rank's `data` (same length everywhere), in rank order. */
  allGather<T extends CollectiveArray>(data: T): Promise<T[]>;
  /** Every rank's JSON value, in rank order (results, counts, error reports). */
  allGatherJson<T>(value: T): Promise<T[]>;
  /** Returns when every rank has reached it. */
  barrier(): Promise<void>;
  /**
   * Reduces a float32 tensor where it lives and returns a new tensor (the input is left as it
   * is). Present on c10d groups: with the torch backend the values never leave the device
   * (NCCL reduces on the GPU); averageGradients uses it when it is there.
   */
  allReduceTensor?(x: Tensor, op?: ReduceOp): Promise<Tensor>;
  /** Leaves the group; collectives after close throw. */
  close(): Promise<void>;
}

/** The launcher's view of this process, read from torchrun's environment variables. */
export interface LaunchEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
}

/** A world of one process: every collective leaves its data as it is. */
export function singleProcessGroup(): ProcessGroup {
  let open = true;
  const check = (what: string) => {
    if (!open) throw new Error(`process group: ${what} after close()`);
  };
  return {
    rank: 0,
    worldSize: 1,
    localRank: 0,
    backend: 'single',
    async allReduce() {
      check('allReduce');
    },
    async broadcast(_data, root = 0) {
      check('broadcast');
      if (root !== 0) throw new RangeError(`process group: broadcast root ${root} is not a rank (world size 1)`);
    },
    async allGather(data) {
      check('allGather');
      return [data];
    },
    async allGatherJson(value) {
      check('allGatherJson');
      return [JSON.parse(JSON.stringify(value ?? null))];
    },
    async barrier() {
      check('barrier');
    },
    async close() {
      open = false;
    },
  };
}
