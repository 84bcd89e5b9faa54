// Reads the variables torchrun (torch.distributed.run) sets for each process it starts, and
// says plainly which one is wrong: a hand-written launch script is the usual source of a bad
// value, and a rank that starts with one hangs its peers instead of failing.
import type { LaunchEnv } from './process-group.js';

/** The variables torchrun sets that the process group reads. */
export const LAUNCH_VARIABLES = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'] as const;

export class LaunchEnvError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'LaunchEnvError';
  }
}

type Env = Record<string, string | undefined>;

const FIX = 'start the processes with `torchrun --nproc_per_node N --no_python node ...` (or `python3 -m torch.distributed.run`), which sets it, or unset RANK and WORLD_SIZE to run as one process';

function readInt(env: Env, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min) {
    throw new LaunchEnvError(name, `${name}='${raw}': expected an integer >= ${min}; ${FIX}.`);
  }
  return n;
}

function need(env: Env, name: string, worldSize: number): never {
  throw new LaunchEnvError(name, `${name} is not set but WORLD_SIZE=${worldSize}: every process of a multi-process run needs it; ${FIX}.`);
}

/**
 * This process's place in a torchrun launch, or undefined when nothing launched it (neither
 * RANK nor WORLD_SIZE set): then it is a world of one. Throws LaunchEnvError naming the
 * variable when a value is missing, malformed or inconsistent (RANK >= WORLD_SIZE, ...).
 * MASTER_ADDR / MASTER_PORT are only required when WORLD_SIZE > 1; at world size 1 they
 * default to 127.0.0.1:29500 (torchrun's defaults) for a group that is connected anyway.
 */
export function launchEnv(env: Env = process.env): LaunchEnv | undefined {
  const rank = readInt(env, 'RANK', 0);
  const worldSize = readInt(env, 'WORLD_SIZE', 1);
  if (rank === undefined && worldSize === undefined) {
    for (const name of ['LOCAL_RANK', 'LOCAL_WORLD_SIZE'] as const) {
      if (env[name] !== undefined && env[name] !== '') {
        throw new LaunchEnvError(name, `${name}='${env[name]}' is set but RANK and WORLD_SIZE are not; ${FIX}.`);
      }
    }
    return undefined;
  }
  if (worldSize === undefined) throw new LaunchEnvError('WORLD_SIZE', `WORLD_SIZE is not set but RANK=${rank}; ${FIX}.`);
  if (rank === undefined) return need(env, 'RANK', worldSize);
  if (rank >= worldSize) throw new LaunchEnvError('RANK', `RANK=${rank} is not below WORLD_SIZE=${worldSize}: ranks are 0 ... ${worldSize - 1}; ${FIX}.`);
  const localRank = readInt(env, 'LOCAL_RANK', 0) ?? (worldSize === 1 ? 0 : need(env, 'LOCAL_RANK', worldSize));
  const localWorldSize = readInt(env, 'LOCAL_WORLD_SIZE', 1) ?? worldSize;
  if (localRank >= localWorldSize) {
    throw new LaunchEnvError('LOCAL_RANK', `LOCAL_RANK=${localRank} is not below LOCAL_WORLD_SIZE=${localWorldSize}; ${FIX}.`);
  }
  if (localWorldSize > worldSize) {
    throw new LaunchEnvError('LOCAL_WORLD_SIZE', `LOCAL_WORLD_SIZE=${localWorldSize} is more than WORLD_SIZE=${worldSize}; ${FIX}.`);
  }
  let masterAddr = env.MASTER_ADDR?.trim() ?? '';
  if (masterAddr === '') {
    if (worldSize > 1) need(env, 'MASTER_ADDR', worldSize);
    masterAddr = '127.0.0.1';
  } else if (/\s|\//.test(masterAddr)) {
    throw new LaunchEnvError('MASTER_ADDR', `MASTER_ADDR='${env.MASTER_ADDR}': expected a host name or IP address of rank 0's machine; ${FIX}.`);
  }
  const rawPort = env.MASTER_PORT;
  let masterPort = 29500;
  if (rawPort === undefined || rawPort === '') {
    if (worldSize > 1) need(env, 'MASTER_PORT', worldSize);
  } else {
    const p = readInt(env, 'MASTER_PORT', 1)!;
    if (p > 65535) throw new LaunchEnvError('MASTER_PORT', `MASTER_PORT='${rawPort}': expected a TCP port 1 ... 65535; ${FIX}.`);
    masterPort = p;
  }
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort };
}
