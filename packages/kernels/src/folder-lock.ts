// A folder lock for long runs (a training run folder): a file naming the PID and host that hold it.
// A second process refuses to start, naming the holder; a lock whose process no longer runs (a kill,
// a crash, a reboot) is taken over with a line saying so. On Linux the holder's start time is kept
// too, so a PID reused by an unrelated process is not mistaken for the holder.
import { linkSync, readFileSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive, tempPathFor } from './files.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** The holder's command line (for the message). */
  command?: string;
  /** Linux: the holder's start time in clock ticks since boot (/proc/PID/stat field 22). */
  procStart?: string;
  /** Linux: the boot the holder ran in (/proc/sys/kernel/random/boot_id). */
  boot?: string;
}

/** The folder is held by a process that runs (or, on another host, may run). */
export class FolderLockedError extends Error {
  override name = 'FolderLockedError';
  constructor(
    readonly folder: string,
    readonly holder: LockHolder,
    message: string,
  ) {
    super(message);
  }
}

export interface FolderLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock (only if this process still holds it). Also done at process exit. */
  release(): void;
}

export interface LockFolderOptions {
  /** Lock file name inside the folder (default `.lock`). */
  name?: string;
  /** What the refusal tells the user to do (default: 'stop that process first, or use another folder.'). */
  hint?: string;
  /** Receives the line said when a stale lock is taken over. */
  onTakeOver?: (line: string) => void;
}

function procStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, starttime field 22
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function me(): LockHolder {
  return {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command: process.argv.slice(1).join(' ').slice(0, 300),
    procStart: procStartOf(process.pid),
    boot: bootId(),
  };
}

/** Why a holder no longer holds the lock (on this host), or null while it does (or cannot be checked). */
function staleReason(h: LockHolder): string | null {
  if (h.host !== hostname()) return null;
  const boot = bootId();
  if (h.boot && boot && h.boot !== boot) return 'the machine has restarted since';
  if (!isProcessAlive(h.pid)) return 'which is no longer running';
  if (h.procStart) {
    const now = procStartOf(h.pid);
    if (now && now !== h.procStart) return 'which is no longer running (the PID now belongs to another process)';
  }
  return null;
}

function readHolder(path: string): { text: string; holder: LockHolder | null } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return { text, holder: Number.isInteger(h.pid) && typeof h.host === 'string' ? h : null };
  } catch {
    return { text, holder: null };
  }
}

/**
 * Takes `folder`'s lock or throws FolderLockedError naming the process that holds it. A lock left
 * by a process that no longer runs on this host is taken over (`onTakeOver` gets a line).
 */
export function lockFolder(folder: string, o: LockFolderOptions = {}): FolderLock {
  mkdirSync(folder, { recursive: true });
  const path = join(folder, o.name ?? '.lock');
  const mine = me();
  const text = `${JSON.stringify(mine, null, 1)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    // The lock appears whole or not at all: written to a temporary file, then linked (fails if it exists).
    const tmp = tempPathFor(path);
    writeFileSync(tmp, text);
    try {
      linkSync(tmp, path);
      unlinkSync(tmp);
      return holdLock(path, text);
    } catch (err) {
      unlinkSync(tmp);
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const found = readHolder(path);
    if (!found) continue; // released between our attempt and the read: try again
    const h = found.holder;
    const stale = h ? staleReason(h) : 'whose lock file is unreadable';
    if (h && !stale) {
      const where = h.host === mine.host ? '' : ` on host ${h.host}`;
      const self = h.pid === process.pid && h.host === mine.host ? ' (this process)' : '';
      const unknown = h.host === mine.host ? '' : ` If no such process runs on ${h.host} any more, delete ${path}.`;
      throw new FolderLockedError(
        folder,
        h,
        `${folder} is in use by PID ${h.pid}${where}${self} since ${h.started}${h.command ? ` (${h.command})` : ''}; ${o.hint ?? 'stop that process first, or use another folder.'}${unknown}`,
      );
    }
    // Take over only the lock we judged stale (another process may have taken it over meanwhile).
    const again = readHolder(path);
    if (again?.text !== found.text) continue;
    try {
      unlinkSync(path);
    } catch {
      continue;
    }
    o.onTakeOver?.(
      h
        ? `${folder}: taking over the lock of PID ${h.pid} on ${h.host} (since ${h.started}), ${stale}.`
        : `${folder}: taking over a lock ${stale} (${path}).`,
    );
  }
  throw new Error(`${path}: could not take the lock (it changed hands 5 times); try again.`);
}

function holdLock(path: string, text: string): FolderLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    try {
      if (readFileSync(path, 'utf8') === text) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  return { path, release };
}
