// Output files that survive a crash, a kill or a full disk: every file is written under a temporary
// name in its own folder (`.NAME.PID.N.tmp.EXT`) and renamed over the final name only when complete;
// a failure removes the temporary file and leaves an existing output untouched. An existing output is
// replaced only when asked (`overwrite`), and the check is atomic (a hard link cannot replace a file).
// Temporary files left by processes that no longer run are found by the PID in their name.
import { accessSync, constants, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';

/** Where and why a file could not be written; `code` is the system's (ENOSPC, EACCES, ...). */
export class FileWriteError extends Error {
  override name = 'FileWriteError';
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An output that exists and may not be replaced. */
export class OutputExistsError extends FileWriteError {
  override name = 'OutputExistsError';
  constructor(path: string, hint: string) {
    super(path, 'EEXIST', `${path} exists; ${hint}`);
  }
}

export interface AtomicWriteOptions {
  /** Replace an existing file (default true). When false, an existing file is an OutputExistsError. */
  overwrite?: boolean;
  /** What an OutputExistsError tells the user to do (default: 'delete it, or write to another path'). */
  existsHint?: string;
}

let counter = 0;
/** `.NAME.PID.N.tmp.EXT`: hidden, in the same folder (so rename is atomic), same extension (tools pick formats by it). */
const TEMP_NAME = /^\.(.+)\.(\d+)\.(\d+)\.tmp(\.[A-Za-z0-9]+)?$/;
/** Names of temporary files written by earlier versions (checkpoint folders, `.tmp-PID` / `.PID.tmp` suffixes). */
const LEGACY_TEMP_NAMES = [/^\.tmp-.+-(\d+)$/, /^step-\d+\.old-(\d+)$/, /^.+\.tmp-(\d+)$/, /^.+\.(\d+)\.tmp$/];

/** A temporary name beside `path` that this process alone uses. */
export function tempPathFor(path: string): string {
  const base = basename(path);
  return join(dirname(path), `.${base}.${process.pid}.${++counter}.tmp${extname(base)}`);
}

/** The PID in a temporary name written by this module (or an earlier version of the apps), or null. */
export function tempFileOwner(name: string): number | null {
  const m = TEMP_NAME.exec(name);
  if (m) return Number(m[2]);
  for (const re of LEGACY_TEMP_NAMES) {
    const l = re.exec(name);
    if (l) return Number(l[1]);
  }
  return null;
}

/** Whether a process with this PID runs on this machine (a zombie does not count). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // "PID (comm) STATE ...": a zombie has exited and only waits to be reaped.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export interface StaleTemp {
  path: string;
  pid: number;
}

/**
 * Removes the temporary files and folders in `dir` (not below it) whose writer no longer runs, and
 * returns what was removed. Files of live processes (a second run writing beside this one) are kept.
 */
export function removeStaleTemps(dir: string): StaleTemp[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: StaleTemp[] = [];
  for (const name of names) {
    const pid = tempFileOwner(name);
    if (pid === null || pid === process.pid || isProcessAlive(pid)) continue;
    const path = join(dir, name);
    try {
      rmSync(path, { recursive: true, force: true });
      removed.push({ path, pid });
    } catch {
      // not ours to remove (permissions): leave it
    }
  }
  return removed;
}

/** One line for a log: what `removeStaleTemps` removed, or null when nothing was. */
export function describeStaleTemps(removed: readonly StaleTemp[]): string | null {
  if (removed.length === 0) return null;
  const pids = [...new Set(removed.map((r) => r.pid))];
  return `removed ${removed.length} temporary file(s) left by stopped process${pids.length > 1 ? 'es' : ''} ${pids.join(', ')}: ${removed.map((r) => r.path).join(', ')}`;
}

/** A system error while writing `path`, as one message naming the file, the cause and the fix. */
export function describeWriteError(err: unknown, path: string): Error {
  if (err instanceof FileWriteError) return err;
  const e = err as NodeJS.ErrnoException;
  // Only system errors are translated; a writer's own error (it names the file already) passes as is.
  if (typeof e?.code !== 'string' || !/^E[A-Z0-9]+$/.test(e.code)) return err instanceof Error ? err : new Error(String(err));
  const dir = dirname(resolve(path));
  const fixes: Record<string, string> = {
    ENOSPC: `no space left on the device while writing it; nothing was written there. Free space on that disk (df -h ${dir}) or write elsewhere.`,
    EDQUOT: `disk quota exceeded while writing it; nothing was written there. Free space or write elsewhere.`,
    EFBIG: 'the file grew beyond the size this system allows (ulimit -f); nothing was written there.',
    EACCES: `permission denied writing in ${dir}; choose a folder you can write to.`,
    EPERM: `permission denied writing in ${dir}; choose a folder you can write to.`,
    EROFS: `${dir} is on a read-only file system; write elsewhere.`,
    ENOENT: `the folder ${dir} does not exist; create it (mkdir -p ${dir}) or write elsewhere.`,
    ENOTDIR: `a part of ${dir} is a file, not a folder; write elsewhere.`,
    EISDIR: 'it is a folder; give a file name.',
  };
  const fix = e?.code ? fixes[e.code] : undefined;
  return new FileWriteError(path, e.code, `${path}: ${fix ?? `could not write it (${e.message})`}`, { cause: err });
}

function removeQuietly(p: string): void {
  try {
    rmSync(p, { recursive: true, force: true });
  } catch {
    // best effort: the stale-file sweep finds it later by its PID
  }
}

/**
 * Moves a complete temporary file to `path`. With `overwrite: false` an existing `path` is never
 * replaced, not even one created by another process a moment ago (link(2) fails on an existing name).
 */
export function commitTempFile(tmp: string, path: string, o: AtomicWriteOptions = {}): void {
  if (o.overwrite !== false) {
    renameSync(tmp, path);
    return;
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new OutputExistsError(path, o.existsHint ?? 'delete it, or write to another path.');
    // File systems without hard links: check, then rename (a narrow race, but never a half file).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EMLINK') {
      if (existsSync(path)) throw new OutputExistsError(path, o.existsHint ?? 'delete it, or write to another path.');
      renameSync(tmp, path);
      return;
    }
    throw err;
  }
  unlinkSync(tmp);
}

/**
 * Writes `path` through a temporary file: `write(tmp)` makes the file, then it is renamed to `path`.
 * On any failure the temporary file is removed, `path` is as it was, and system errors name `path`
 * (ENOSPC: "no space left on the device while writing it").
 */
export function withAtomicFileSync<T>(path: string, write: (tmp: string) => T, o: AtomicWriteOptions = {}): T {
  if (o.overwrite === false && existsSync(path)) throw new OutputExistsError(path, o.existsHint ?? 'delete it, or write to another path.');
  const tmp = tempPathFor(path);
  try {
    const r = write(tmp);
    commitTempFile(tmp, path, o);
    return r;
  } catch (err) {
    removeQuietly(tmp);
    throw describeWriteError(err, path);
  }
}

/** `withAtomicFileSync` for writers that take time (an encoder process, a render). */
export async function withAtomicFile<T>(path: string, write: (tmp: string) => Promise<T>, o: AtomicWriteOptions = {}): Promise<T> {
  if (o.overwrite === false && existsSync(path)) throw new OutputExistsError(path, o.existsHint ?? 'delete it, or write to another path.');
  const tmp = tempPathFor(path);
  try {
    const r = await write(tmp);
    commitTempFile(tmp, path, o);
    return r;
  } catch (err) {
    removeQuietly(tmp);
    throw describeWriteError(err, path);
  }
}

/** Writes bytes or text to `path` atomically (temporary file, then rename). */
export function writeFileAtomic(path: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  withAtomicFileSync(path, (tmp) => writeFileSync(tmp, data), o);
}

export interface OutputCheckOptions extends AtomicWriteOptions {
  /** Create a missing folder (default false: a missing folder is an error naming it). */
  createFolder?: boolean;
}

/**
 * Checks before any work that `path` can be written: its folder exists (or is created) and is
 * writable, `path` is not a folder, and it does not exist unless `overwrite`. Throws FileWriteError.
 */
export function checkOutputPath(path: string, o: OutputCheckOptions = {}): void {
  const dir = dirname(resolve(path));
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) throw new FileWriteError(path, 'EISDIR', `${path}: is a folder; give a file name.`);
  if (st && o.overwrite === false) throw new OutputExistsError(path, o.existsHint ?? 'delete it, or write to another path.');
  if (!existsSync(dir) && o.createFolder) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw describeWriteError(err, path);
    }
  }
  let dst: ReturnType<typeof statSync> | undefined;
  try {
    dst = statSync(dir);
  } catch (err) {
    throw describeWriteError(err, path);
  }
  if (!dst.isDirectory()) throw describeWriteError(Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }), path);
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw describeWriteError(err, path);
  }
}
