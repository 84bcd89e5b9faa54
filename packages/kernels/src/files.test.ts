import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkOutputPath,
  describeStaleTemps,
  FileWriteError,
  isProcessAlive,
  OutputExistsError,
  removeStaleTemps,
  tempFileOwner,
  tempPathFor,
  withAtomicFile,
  withAtomicFileSync,
  writeFileAtomic,
} from './files.js';
import { FolderLockedError, lockFolder } from './folder-lock.js';
import { writeSafetensors } from './safetensors.js';

const dir = () => mkdtempSync(join(tmpdir(), 'files-'));

/** A PID that ran and has exited (and was reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  expect(isProcessAlive(pid)).toBe(false);
  return pid;
}

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });

describe('atomic output files', () => {
  it('a failed write removes its temporary file and leaves the existing output untouched', async () => {
    const d = dir();
    const out = join(d, 'precious.mp4');
    writeFileSync(out, 'the good video');
    const failing = withAtomicFile(out, async (tmp) => {
      writeFileSync(tmp, 'half a vid');
      throw enospc();
    });
    await expect(failing).rejects.toThrow(FileWriteError);
    await expect(failing).rejects.toThrow(`${out}: no space left on the device while writing it`);
    expect(readFileSync(out, 'utf8')).toBe('the good video');
    expect(readdirSync(d)).toEqual(['precious.mp4']);
  });

  it.skipIf(!existsSync('/dev/full'))('a real ENOSPC names the output, not the temporary file', () => {
    const d = dir();
    const out = join(d, 'weights.safetensors');
    writeSafetensors(out, { w: { shape: [1], data: Float32Array.of(1) } });
    const before = readFileSync(out);
    // The temporary name is a link to /dev/full, which fails every write with ENOSPC.
    const write = () =>
      withAtomicFileSync(out, (tmp) => {
        symlinkSync('/dev/full', tmp);
        writeFileSync(tmp, Buffer.alloc(1 << 16));
      });
    expect(write).toThrow(`${out}: no space left on the device while writing it; nothing was written there. Free space on that disk (df -h ${d}) or write elsewhere.`);
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(readdirSync(d)).toEqual(['weights.safetensors']);
  });

  it('does not replace an existing output unless asked, and says how', async () => {
    const d = dir();
    const out = join(d, 'exists.json');
    writeFileSync(out, 'old');
    expect(() => writeFileAtomic(out, 'new', { overwrite: false, existsHint: 'pass --overwrite to replace it.' })).toThrow(
      new OutputExistsError(out, 'pass --overwrite to replace it.'),
    );
    expect(() => writeFileAtomic(out, 'new', { overwrite: false, existsHint: 'pass --overwrite to replace it.' })).toThrow(`${out} exists; pass --overwrite to replace it.`);
    expect(readFileSync(out, 'utf8')).toBe('old');
    // The output appearing while the work ran (another process) is not replaced either.
    const late = join(d, 'late.json');
    await expect(
      withAtomicFile(
        late,
        async (tmp) => {
          writeFileSync(tmp, 'mine');
          writeFileSync(late, 'theirs');
        },
        { overwrite: false },
      ),
    ).rejects.toThrow(OutputExistsError);
    expect(readFileSync(late, 'utf8')).toBe('theirs');
    writeFileAtomic(out, 'new');
    expect(readFileSync(out, 'utf8')).toBe('new');
    expect(readdirSync(d).sort()).toEqual(['exists.json', 'late.json']);
  });

  it('checks an output path before any work', () => {
    const d = dir();
    writeFileSync(join(d, 'a-file'), '');
    expect(() => checkOutputPath(join(d, 'missing', 'x.mp4'))).toThrow(`${join(d, 'missing', 'x.mp4')}: the folder ${join(d, 'missing')} does not exist; create it`);
    expect(() => checkOutputPath(join(d, 'a-file', 'x.mp4'))).toThrow(/a part of .* is a file, not a folder/);
    expect(() => checkOutputPath(d)).toThrow(`${d}: is a folder; give a file name.`);
    expect(() => checkOutputPath(join(d, 'a-file'), { overwrite: false, existsHint: 'pass --overwrite.' })).toThrow(`${join(d, 'a-file')} exists; pass --overwrite.`);
    checkOutputPath(join(d, 'a-file'));
    checkOutputPath(join(d, 'new', 'deep', 'x.mp4'), { createFolder: true });
    expect(existsSync(join(d, 'new', 'deep'))).toBe(true);
  });

  it('removes temporary files of dead processes only, and says what it removed', () => {
    const d = dir();
    const dead = deadPid();
    const names = [
      `.out.mp4.${dead}.3.tmp.mp4`, // this module's naming
      `.out.mp4.${dead}.1700000000000.tmp.mp4`, // the data package's earlier naming
      `.tmp-step-0000003-${dead}`, // an earlier checkpoint folder
      `loss.png.tmp-${dead}`,
      `.sample.json.${dead}.tmp`,
    ];
    for (const n of names) n.includes('step') ? mkdirSync(join(d, n)) : writeFileSync(join(d, n), 'partial');
    const live = `.other.mp4.${process.ppid}.1.tmp.mp4`; // a live writer beside us
    writeFileSync(join(d, live), 'in progress');
    writeFileSync(join(d, 'keep.mp4'), 'a result');
    for (const n of names) expect(tempFileOwner(n), n).toBe(dead);
    expect(tempFileOwner('keep.mp4')).toBeNull();
    const removed = removeStaleTemps(d);
    expect(removed.map((r) => r.path).sort()).toEqual(names.map((n) => join(d, n)).sort());
    expect(readdirSync(d).sort()).toEqual([live, 'keep.mp4'].sort());
    expect(describeStaleTemps(removed)).toMatch(new RegExp(`^removed 5 temporary file\\(s\\) left by stopped process ${dead}: `));
    expect(describeStaleTemps([])).toBeNull();
    expect(tempFileOwner(tempPathFor(join(d, 'x.png')).slice(d.length + 1))).toBe(process.pid);
  });
});

describe('folder lock', () => {
  it('a second holder is refused, naming the PID; a stale lock is taken over with a line', async () => {
    const d = dir();
    // Another live process holds the lock.
    const kernelsFiles = new URL('./folder-lock.ts', import.meta.url).pathname;
    const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `import('${kernelsFiles}').then((m) => { m.lockFolder(${JSON.stringify(d)}); console.log('held'); setInterval(() => {}, 1000); })`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((res) => holder.stdout!.once('data', () => res()));
    try {
      expect(() => lockFolder(d, { hint: 'stop it first.' })).toThrow(FolderLockedError);
      expect(() => lockFolder(d, { hint: 'stop it first.' })).toThrow(new RegExp(`^${d} is in use by PID ${holder.pid} since .*; stop it first\\.$`));
    } finally {
      holder.kill('SIGKILL');
      await new Promise((res) => holder.once('exit', res));
    }
    // The holder was killed: its lock is stale and is taken over.
    const lines: string[] = [];
    const lock = lockFolder(d, { onTakeOver: (l) => lines.push(l) });
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^${d}: taking over the lock of PID ${holder.pid} on .* which is no longer running\\.$`))]);
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
    expect(() => lockFolder(d)).toThrow(/\(this process\)/);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    const again = lockFolder(d, { onTakeOver: (l) => lines.push(l) });
    expect(lines.length).toBe(1);
    again.release();
  });

  it('a lock from another host is not taken over', () => {
    const d = dir();
    writeFileSync(join(d, '.lock'), JSON.stringify({ pid: 1, host: 'elsewhere', started: '2024-01-01T00:00:00.000Z' }));
    expect(() => lockFolder(d)).toThrow(`${d} is in use by PID 1 on host elsewhere since 2024-01-01T00:00:00.000Z; stop that process first, or use another folder. If no such process runs on elsewhere any more, delete ${join(d, '.lock')}.`);
  });

  it('a PID now used by another process does not hold the lock', () => {
    const d = dir();
    const mine = lockFolder(d);
    const text = JSON.parse(readFileSync(mine.path, 'utf8'));
    mine.release();
    if (!text.procStart) return; // not Linux: no start time to compare
    // Our own PID, but a different start time: the holder was an earlier process with this PID.
    writeFileSync(join(d, '.lock'), JSON.stringify({ ...text, pid: process.ppid, procStart: '1' }));
    const lines: string[] = [];
    lockFolder(d, { onTakeOver: (l) => lines.push(l) }).release();
    expect(lines[0]).toMatch(/the PID now belongs to another process/);
  });
});
