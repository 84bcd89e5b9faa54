// Test plumbing for launching processes under torchrun (`python -m torch.distributed.run`), shared
// by every test that runs ranks in real processes (kernels' c10d test, the train and eval apps'
// torchrun tests, the pipeline's sharded sampling test). Not part of any published entry point.
//  - loadTorchBackend(): the torch backend package, found from kernels as initProcessGroup finds it.
//  - torchrunLauncher(): the python whose torch is the addon's libtorch version (or why there is none).
//  - freePort(), launcherFreeEnv(), torchrunArgs(), launch() / runProcess().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

/** What the tests read from @opensora-ts/tfjs-backend-torch. */
export interface TorchC10dModule {
  c10dFeatures: () => { gloo: boolean; nccl: boolean; reason?: string };
  torchAddonStatus: () => { available: true; version: string } | { available: false; reason: string };
}

const TORCH_PACKAGE = '@opensora-ts/tfjs-backend-torch';

/**
 * The torch backend package (kernels' optional dependency, resolved from here under the `source`
 * condition, as initProcessGroup resolves it). Throws when it cannot be loaded.
 */
export async function loadTorchBackend(): Promise<TorchC10dModule> {
  const spec = TORCH_PACKAGE; // a variable: type-checking a test must not pull in the optional package
  return (await import(spec)) as TorchC10dModule;
}

let chosen: Promise<{ python?: string; why: string }> | undefined;

/**
 * The python whose torchrun launches the ranks: its torch must be the addon's libtorch version
 * (torchrun's agent hosts the store, and 1.x and 2.x stores do not talk). Debian's
 * /usr/bin/python3 (python3-torch 1.13, as CI builds the addon) first, then OPENSORA_PYTHON and
 * the python3 on PATH (a pip torch the addon may have been built against). `why` is empty when
 * one was found, else the reason there is none (a skip reason or a failure message).
 */
export function torchrunLauncher(): Promise<{ python?: string; why: string }> {
  chosen ??= (async () => {
    let torch: TorchC10dModule;
    try {
      torch = await loadTorchBackend();
    } catch (err) {
      return { why: `${TORCH_PACKAGE} could not be loaded (${(err as Error).message.split('\n')[0]})` };
    }
    const status = torch.torchAddonStatus();
    if (!status.available) return { why: status.reason };
    const want = status.version.split('.').slice(0, 2).join('.');
    const seen: string[] = [];
    for (const py of ['/usr/bin/python3', process.env.OPENSORA_PYTHON, 'python3']) {
      if (!py || (py.startsWith('/') && !existsSync(py))) continue;
      const r = spawnSync(py, ['-c', 'import torch, torch.distributed.run; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
      const v = r.status === 0 ? r.stdout.trim().split('\n').pop()! : 'no torch.distributed.run';
      if (v.split('.').slice(0, 2).join('.') === want) return { python: py, why: '' };
      seen.push(`${py}: ${v}`);
    }
    return { why: `no python with torch ${want} (the addon's libtorch ${status.version}) to run torchrun: ${seen.join('; ')}. Debian: apt-get install python3-torch, or set OPENSORA_PYTHON` };
  })();
  return chosen;
}

/** A port nobody listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** The variables a launcher sets for its ranks. */
export const LAUNCHER_VARIABLES = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'GROUP_RANK', 'ROLE_RANK'] as const;

/**
 * This process's environment without a launcher's variables (an outer torchrun's must not leak
 * into a child), then `extra` on top (which may set them, for ranks started by hand).
 */
export function launcherFreeEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of LAUNCHER_VARIABLES) delete env[k];
  return { ...env, ...extra };
}

export interface TorchrunOptions {
  /** Processes on this node (--nproc_per_node). */
  nproc: number;
  port: number;
  /** Nodes (--nnodes with --node_rank), for a launch across hosts. */
  nnodes?: number;
  nodeRank?: number;
  /** Default 127.0.0.1. */
  masterAddr?: string;
}

/**
 * torchrun's arguments up to and including `--no_python`: append the program (`process.execPath`,
 * a script, its arguments). Underscore flags (Debian's 1.13 knows no others); `--redirects 1
 * --tee 1` work around 1.13's Python 3.11 bug with the default 0.
 */
export function torchrunArgs(o: TorchrunOptions): string[] {
  const nodes = o.nnodes === undefined ? [] : ['--nnodes', String(o.nnodes), '--node_rank', String(o.nodeRank ?? 0)];
  return ['-m', 'torch.distributed.run', ...nodes, '--nproc_per_node', String(o.nproc), '--master_addr', o.masterAddr ?? '127.0.0.1', '--master_port', String(o.port), '--redirects', '1', '--tee', '1', '--no_python'];
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
  /** Date.now() at the end. */
  at: number;
}

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** SIGKILL after this long. */
  timeoutMs?: number;
  detached?: boolean;
  /** 'exit' (default): the process ended; 'close': its output streams closed too. */
  until?: 'exit' | 'close';
}

export interface Launched {
  proc: ChildProcess;
  /** The output so far. */
  output: () => string;
  exited: Promise<Exit>;
}

/** Spawns `cmd`, collecting its output. */
export function launch(cmd: string, args: string[], o: LaunchOptions = {}): Launched {
  const proc = spawn(cmd, args, { env: o.env, cwd: o.cwd, detached: o.detached, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), o.timeoutMs);
  const exited = new Promise<Exit>((res) =>
    proc.once(o.until ?? 'exit', (code: number | null, signal: NodeJS.Signals | null) => {
      if (timer) clearTimeout(timer);
      res({ code, signal, output, at: Date.now() });
    }),
  );
  return { proc, output: () => output, exited };
}

/** Spawns `cmd` and waits for its end. */
export function runProcess(cmd: string, args: string[], o: LaunchOptions = {}): Promise<Exit> {
  return launch(cmd, args, o).exited;
}
