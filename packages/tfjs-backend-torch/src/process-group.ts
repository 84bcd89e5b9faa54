// The c10d side of @opensora-ts/kernels' ProcessGroup: connectC10d() connects this process to
// the other ranks (TCPStore at MASTER_ADDR:MASTER_PORT, Gloo or NCCL; csrc/process_group.cc)
// and returns the collectives kernels' initProcessGroup wraps. Users call initProcessGroup()
// from kernels, not this. The shapes here mirror kernels' C10dGroup / C10dConnectOptions
// (this package does not import kernels).
import * as tf from '@tensorflow/tfjs-core';
import { loadAddon } from './addon.js';
import type { HostValues, TorchAddon } from './addon.js';
import { TORCH_BACKEND_NAME } from './backend.js';
import type { TorchBackend } from './backend.js';

export type C10dReduceOp = 'sum' | 'avg' | 'max' | 'min';

export interface ConnectC10dOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: 'gloo' | 'nccl';
  /** How long one collective may wait for the slowest rank. */
  timeoutMs: number;
  /** A rank whose heartbeat has not moved for this long is reported lost. */
  lostAfterMs: number;
  /** torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE=True); default false: rank 0 hosts it. */
  agentStore?: boolean;
  /** Prefix of this run's keys in the store (default 'ost/'). */
  storePrefix?: string;
  /** Which torch torchrun looks like (for an error message), e.g. 'of torch < 2.2'. */
  agentHint?: string;
  /** NCCL: this rank's CUDA device (default cuda:0). */
  device?: string;
}

export interface C10dProcessGroup {
  readonly backend: 'gloo' | 'nccl';
  allReduce(data: Float32Array, op: C10dReduceOp): Promise<void>;
  broadcast(data: HostValues, root: number): Promise<void>;
  allGather<T extends HostValues>(data: T): Promise<T[]>;
  barrier(): Promise<void>;
  close(): Promise<void>;
  /** Reduces a float32 tensor of the torch backend without leaving its device; the input is unchanged. */
  allReduceTensor(x: tf.Tensor, op: C10dReduceOp): Promise<tf.Tensor>;
  /** The rank the heartbeats found lost (and the error collectives fail with), if any; cheap to poll. */
  lost(): { rank: number; message: string } | undefined;
}

type C10dAddon = Required<Pick<TorchAddon, 'c10dFeatures' | 'c10dConnect' | 'c10dClose' | 'c10dAllReduce' | 'c10dBroadcast' | 'c10dAllGather' | 'c10dBarrier' | 'c10dAllReduceTensor'>> & Pick<TorchAddon, 'c10dLost'>;

const REBUILD = '`pnpm --filter @opensora-ts/tfjs-backend-torch build:addon`';

/** Which process groups the built addon has, or why there are none. */
export function c10dFeatures(): { gloo: boolean; nccl: boolean; reason?: string } {
  let addon: TorchAddon;
  try {
    addon = loadAddon();
  } catch (err) {
    return { gloo: false, nccl: false, reason: err instanceof Error ? err.message : String(err) };
  }
  if (typeof addon.c10dFeatures !== 'function') return { gloo: false, nccl: false, reason: `the built addon predates c10d support; rebuild it with ${REBUILD}` };
  return addon.c10dFeatures();
}

function c10dAddon(backend: string): C10dAddon {
  const addon = loadAddon();
  if (typeof addon.c10dConnect !== 'function') throw new Error(`@opensora-ts/tfjs-backend-torch: the built addon predates c10d support; rebuild it with ${REBUILD}.`);
  const f = addon.c10dFeatures!();
  if (backend === 'gloo' && !f.gloo) {
    throw new Error(`@opensora-ts/tfjs-backend-torch: the addon was built without Gloo (its headers were missing at build time); Debian: apt-get install libgloo-dev, then ${REBUILD}.`);
  }
  if (backend === 'nccl' && !f.nccl) {
    throw new Error(`@opensora-ts/tfjs-backend-torch: the addon was built without NCCL (a CPU libtorch, or no nccl.h at build time); use gloo, or rebuild against a CUDA libtorch with ${REBUILD}.`);
  }
  return addon as TorchAddon & C10dAddon;
}

/**
 * Connects this rank; resolves once every rank has (they all call it with the same world size,
 * address and port). Rank 0 hosts the store.
 */
export async function connectC10d(opts: ConnectC10dOptions): Promise<C10dProcessGroup> {
  const addon = c10dAddon(opts.backend);
  const id = await addon.c10dConnect({ ...opts, agentStore: opts.agentStore ?? false, storePrefix: opts.storePrefix ?? 'ost/' });
  return {
    backend: opts.backend,
    // async: the addon throws a bad argument synchronously; callers get a rejected Promise.
    allReduce: async (data, op) => addon.c10dAllReduce(id, data, op),
    broadcast: async (data, root) => addon.c10dBroadcast(id, data, root),
    allGather: async <T extends HostValues>(data: T) => (await addon.c10dAllGather(id, data)) as T[],
    barrier: async () => addon.c10dBarrier(id),
    close: async () => addon.c10dClose(id),
    lost: () => addon.c10dLost?.(id) ?? undefined,
    async allReduceTensor(x, op) {
      if (x.dtype !== 'float32') throw new TypeError(`allReduceTensor: expected a float32 tensor, got ${x.dtype}`);
      if (tf.getBackend() !== TORCH_BACKEND_NAME) {
        // Host backends: through a host array (the same collective).
        const host = Float32Array.from(x.dataSync() as Float32Array);
        await addon.c10dAllReduce(id, host, op);
        return tf.tensor(host, x.shape, 'float32');
      }
      const backend = tf.backend() as TorchBackend;
      const out = await addon.c10dAllReduceTensor(id, backend.idOf(x), op);
      return tf.engine().makeTensorFromTensorInfo(backend.makeOutput(out, x.shape.slice(), 'float32'));
    },
  };
}
