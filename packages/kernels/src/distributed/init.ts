// initProcessGroup: the one call a data-parallel or sharded app makes at start-up. Without a
// launcher (or at world size 1) it is the world of one, with no other change: no addon is
// loaded, no port is opened. Under torchrun it loads the torch backend package at run time
// (kernels never depends on it at build time, as runtime.ts does for the backend) and connects
// through c10d: Gloo on the CPU, NCCL when the torch backend computes on CUDA.
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';
import { launchEnv } from './launch-env.js';
import { singleProcessGroup } from './process-group.js';
import type { CollectiveArray, LaunchEnv, ProcessGroup, ReduceOp } from './process-group.js';

export interface InitProcessGroupOptions {
  /** Where the launch variables are read (default process.env). */
  env?: Record<string, string | undefined>;
  /**
   * 'auto' (default): nccl when the active tfjs backend is torch on a CUDA device, else gloo.
   * Naming gloo or nccl also connects at world size 1 (a one-rank c10d group: GPU checks).
   */
  backend?: 'auto' | 'gloo' | 'nccl';
  /**
   * How long one collective may wait for the slowest rank before it fails (default 30 min:
   * rank 0 writing a large checkpoint while the others wait in a barrier is not a fault).
   */
  timeoutMs?: number;
  /**
   * A rank whose heartbeat (sent by a native thread every second, whatever its JS thread is
   * doing) has not moved for this long is reported lost (default 20 s).
   */
  lostAfterMs?: number;
  /**
   * What happens when a rank is found lost. Pending and later collectives fail in any case;
   * 'exit' (default) also ends this process (exit code 1, the error on stderr) 5 s later if it is
   * still running, so a rank busy with work that makes no collective (an eval pass, a checkpoint
   * write: files written atomically stay whole) does not outlive the run. 'throw': collectives
   * fail, nothing else. A function: called once with the error.
   */
  onLost?: 'exit' | 'throw' | ((error: Error) => void);
}

/** What the torch backend package gives for a connected group (src/process-group.ts there). */
export interface C10dGroup {
  readonly backend: 'gloo' | 'nccl';
  allReduce(data: Float32Array, op: ReduceOp): Promise<void>;
  broadcast(data: CollectiveArray, root: number): Promise<void>;
  allGather<T extends CollectiveArray>(data: T): Promise<T[]>;
  barrier(): Promise<void>;
  close(): Promise<void>;
  /** Reduces a tensor of the torch backend where it lives (NCCL: on the GPU); returns a new tensor. */
  allReduceTensor?(x: Tensor, op: ReduceOp): Promise<Tensor>;
  /** The rank found lost, if any (polled once a second). */
  lost?(): { rank: number; message: string } | undefined;
}

export interface C10dConnectOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: 'gloo' | 'nccl';
  timeoutMs: number;
  lostAfterMs: number;
  /** torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE=True): rank 0 connects to it like the others. */
  agentStore?: boolean;
  /** Prefix of this run's keys in the store: each torchrun restart gets its own. */
  storePrefix?: string;
  /** Which torch torchrun looks like, for the error when its store does not answer. */
  agentHint?: string;
  /** NCCL: the CUDA device of this rank ('cuda:LOCAL_RANK' unless the torch backend says otherwise). */
  device?: string;
}

interface TorchDistributedModule {
  connectC10d?: (opts: C10dConnectOptions) => Promise<C10dGroup>;
  torchBackendInfo?: () => { device: string } | undefined;
}

const TORCH_PACKAGE = '@opensora-ts/tfjs-backend-torch';

async function loadTorch(env: LaunchEnv): Promise<TorchDistributedModule> {
  const fix =
    `a multi-process run (WORLD_SIZE=${env.worldSize}) talks through c10d in ${TORCH_PACKAGE}'s libtorch addon: ` +
    'install a libtorch (Debian: apt-get install libtorch-dev; or set LIBTORCH to a libtorch folder, or OPENSORA_PYTHON to a python with torch), ' +
    `then run \`pnpm --filter ${TORCH_PACKAGE} build:addon\``;
  let mod: TorchDistributedModule;
  try {
    const spec = TORCH_PACKAGE; // a variable: bundlers must not inline the optional package
    mod = (await import(spec)) as TorchDistributedModule;
  } catch (err) {
    throw new Error(`process group: ${TORCH_PACKAGE} could not be loaded (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); ${fix}.`);
  }
  if (typeof mod.connectC10d !== 'function') throw new Error(`process group: ${TORCH_PACKAGE} is too old to have connectC10d; update it. ${fix}.`);
  return mod;
}

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`initProcessGroup: ${name}=${v}: expected a positive number of milliseconds`);
  return v;
}

/**
 * This process's group. World size 1 or no launcher: `singleProcessGroup()`. Under torchrun:
 * a c10d group (the call returns once every rank has connected). Throws LaunchEnvError for a
 * bad launch variable, and an Error with the fix when WORLD_SIZE > 1 but the torch addon is
 * missing.
 */
export async function initProcessGroup(options: InitProcessGroupOptions = {}): Promise<ProcessGroup> {
  const wanted = options.backend ?? 'auto';
  if (!['auto', 'gloo', 'nccl'].includes(wanted)) throw new RangeError(`initProcessGroup: backend '${wanted}': expected auto, gloo or nccl`);
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 30 * 60_000);
  const lostAfterMs = positive('lostAfterMs', options.lostAfterMs, 20_000);
  const env = launchEnv(options.env ?? process.env) ?? (wanted === 'auto' ? undefined : { rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, masterAddr: '127.0.0.1', masterPort: 29500 });
  if (env === undefined || (env.worldSize === 1 && wanted === 'auto')) return singleProcessGroup();
  const torch = await loadTorch(env);
  const torchDevice = tf.getBackend() === 'torch' ? torch.torchBackendInfo?.()?.device : undefined;
  const backend = wanted === 'auto' ? (torchDevice?.startsWith('cuda') ? 'nccl' : 'gloo') : wanted;
  const device = backend === 'nccl' ? (torchDevice?.startsWith('cuda') ? torchDevice : `cuda:${env.localRank}`) : undefined;
  const vars = options.env ?? process.env;
  const raw = await torch.connectC10d!({
    rank: env.rank,
    worldSize: env.worldSize,
    masterAddr: env.masterAddr,
    masterPort: env.masterPort,
    backend,
    timeoutMs,
    lostAfterMs,
    // torchrun's agent already listens on MASTER_PORT with a store of its own and tells the
    // workers so; a hand-made launch (no agent) has rank 0 host it.
    agentStore: vars.TORCHELASTIC_USE_AGENT_STORE === 'True',
    storePrefix: `ost/${vars.TORCHELASTIC_RUN_ID ?? 'run'}/${vars.TORCHELASTIC_RESTART_COUNT ?? '0'}/`,
    // torchrun >= 2.2 sets TORCH_NCCL_ASYNC_ERROR_HANDLING for its workers, older ones do not.
    agentHint: vars.TORCH_NCCL_ASYNC_ERROR_HANDLING !== undefined ? 'of torch >= 2.2 (it set TORCH_NCCL_ASYNC_ERROR_HANDLING)' : 'of torch < 2.2 (it set no TORCH_NCCL_ASYNC_ERROR_HANDLING)',
    ...(device ? { device } : {}),
  });
  return wrapC10d(raw, env, { onLost: options.onLost ?? 'exit' });
}

/** Ends the process a little after a lost rank is found, unless it has ended by then. */
function exitOnLost(error: Error): void {
  process.stderr.write(`${error.message}\n`);
  setTimeout(() => process.exit(1), 5_000).unref();
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The ProcessGroup over a connected c10d group: argument checks, JSON gather, close. */
export function wrapC10d(raw: C10dGroup, env: Pick<LaunchEnv, 'rank' | 'worldSize' | 'localRank'>, options: Pick<InitProcessGroupOptions, 'onLost'> = {}): ProcessGroup {
  let open = true;
  let watch: ReturnType<typeof setInterval> | undefined;
  const onLost = options.onLost ?? 'throw';
  if (raw.lost && onLost !== 'throw') {
    // The native heartbeat thread finds the lost rank; this only asks it, once a second, on a
    // timer that never keeps the process alive.
    watch = setInterval(() => {
      const lost = raw.lost!();
      if (!lost) return;
      clearInterval(watch);
      const error = new Error(lost.message);
      if (onLost === 'exit') exitOnLost(error);
      else onLost(error);
    }, 1000);
    watch.unref();
  }
  const check = (what: string) => {
    if (!open) throw new Error(`process group: ${what} after close()`);
  };
  const rootCheck = (root: number) => {
    if (!Number.isInteger(root) || root < 0 || root >= env.worldSize) throw new RangeError(`process group: broadcast root ${root} is not a rank (world size ${env.worldSize})`);
  };
  const group: ProcessGroup = {
    rank: env.rank,
    worldSize: env.worldSize,
    localRank: env.localRank,
    backend: raw.backend,
    async allReduce(data, op = 'sum') {
      check('allReduce');
      if (!(data instanceof Float32Array)) throw new TypeError('process group: allReduce takes a Float32Array');
      if (!['sum', 'avg', 'max', 'min'].includes(op)) throw new RangeError(`process group: reduce op '${op}': expected sum, avg, max or min`);
      await raw.allReduce(data, op);
    },
    async broadcast(data, root = 0) {
      check('broadcast');
      rootCheck(root);
      await raw.broadcast(data, root);
    },
    async allGather(data) {
      check('allGather');
      return raw.allGather(data);
    },
    async allGatherJson<T>(value: T): Promise<T[]> {
      check('allGatherJson');
      // Lengths first, then every rank's bytes padded to the longest.
      const bytes = encoder.encode(JSON.stringify(value ?? null));
      const lengths = await raw.allGather(Int32Array.of(bytes.length));
      const longest = Math.max(...lengths.map((l) => l[0]!));
      const padded = new Uint8Array(Math.max(1, longest));
      padded.set(bytes);
      const all = await raw.allGather(padded);
      return all.map((b, r) => JSON.parse(decoder.decode(b.subarray(0, lengths[r]![0]!))) as T);
    },
    async barrier() {
      check('barrier');
      await raw.barrier();
    },
    async close() {
      if (!open) return;
      open = false;
      if (watch) clearInterval(watch);
      await raw.close();
    },
  };
  if (raw.allReduceTensor) {
    const reduceTensor = raw.allReduceTensor.bind(raw);
    group.allReduceTensor = async (x: Tensor, op: ReduceOp = 'sum') => {
      check('allReduceTensor');
      return reduceTensor(x, op);
    };
  }
  return group;
}
