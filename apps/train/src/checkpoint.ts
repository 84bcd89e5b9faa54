// Checkpoints: a folder per save (`step-000500/`) holding safetensors files (model, EMA, optimizer
// moments, ...) and `state.json` (step, schedule, sampler position, RNG seeds, ...). The folder is
// written under a temporary name and renamed, so a crash leaves either the whole checkpoint or
// none; only the newest `keepLast` are kept.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describeWriteError, readSafetensors, tempPathFor, writeFileAtomic, writeSafetensors, type HostTensor, type WritableTensor } from '@opensora-ts/kernels';

export const STATE_FILE = 'state.json';
const PREFIX = 'step-';

export interface CheckpointContent<S> {
  /** file name (without .safetensors) -> tensors */
  tensors: Map<string, Map<string, WritableTensor>>;
  state: S;
}

export function checkpointName(step: number): string {
  return `${PREFIX}${String(step).padStart(7, '0')}`;
}

/**
 * Writes `root/step-NNNNNNN/` atomically and prunes old ones; returns its path. The folder is made
 * under a temporary name (`.step-NNNNNNN.PID.N.tmp`, removed on any failure, e.g. a full disk, whose
 * error names the checkpoint) and renamed whole.
 */
export function saveCheckpoint<S>(root: string, step: number, content: CheckpointContent<S>, keepLast: number): string {
  mkdirSync(root, { recursive: true });
  const final = join(root, checkpointName(step));
  const tmp = tempPathFor(final);
  try {
    mkdirSync(tmp);
    for (const [name, tensors] of content.tensors) writeSafetensors(join(tmp, `${name}.safetensors`), tensors, { format: 'pt', producer: 'opensora-ts train' });
    writeFileAtomic(join(tmp, STATE_FILE), JSON.stringify(content.state, null, 1));
    if (existsSync(final)) {
      // A re-run of the same step: move the old one aside first (rename cannot replace a folder).
      const old = tempPathFor(final);
      renameSync(final, old);
      renameSync(tmp, final);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, final);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw describeWriteError(err, final);
  }
  pruneCheckpoints(root, keepLast);
  return final;
}

/** Completed checkpoint folders under `root`, oldest first. */
export function listCheckpoints(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => n.startsWith(PREFIX) && /^step-\d+$/.test(n) && existsSync(join(root, n, STATE_FILE)))
    .sort()
    .map((n) => join(root, n));
}

export function pruneCheckpoints(root: string, keepLast: number): void {
  const all = listCheckpoints(root);
  for (const p of all.slice(0, Math.max(0, all.length - keepLast))) rmSync(p, { recursive: true, force: true });
}

/**
 * A checkpoint folder from what the user passed to --resume: a checkpoint folder itself, a run
 * folder (its newest checkpoint), or a run's `checkpoints/` folder.
 */
export function resolveCheckpoint(path: string): string {
  const p = resolve(path);
  if (!existsSync(p) || !statSync(p).isDirectory()) throw new Error(`--resume ${path}: no such folder; pass a run folder (--out of an earlier run) or one of its checkpoints/step-NNNNNNN folders.`);
  if (existsSync(join(p, STATE_FILE))) return p;
  for (const root of [join(p, 'checkpoints'), p]) {
    const all = listCheckpoints(root);
    if (all.length) return all[all.length - 1]!;
  }
  throw new Error(`--resume ${path}: no checkpoint found (expected ${join(p, 'checkpoints', 'step-NNNNNNN', STATE_FILE)}).`);
}

export class LoadedCheckpoint<S> {
  readonly state: S;
  constructor(readonly dir: string) {
    const file = join(dir, STATE_FILE);
    try {
      this.state = JSON.parse(readFileSync(file, 'utf8')) as S;
    } catch (err) {
      throw new Error(`${file}: unreadable checkpoint state (${(err as Error).message}); resume from an earlier checkpoint.`);
    }
  }

  get name(): string {
    return basename(this.dir);
  }

  has(name: string): boolean {
    return existsSync(join(this.dir, `${name}.safetensors`));
  }

  path(name: string): string {
    return join(this.dir, `${name}.safetensors`);
  }

  read(name: string): Map<string, HostTensor> {
    const f = this.path(name);
    if (!existsSync(f)) throw new Error(`${this.dir}: missing ${name}.safetensors; the checkpoint is incomplete, resume from an earlier one.`);
    return readSafetensors(f);
  }
}
