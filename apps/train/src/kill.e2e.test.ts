// The launcher under kills, as a user drives it: `pnpm train` on a tiny config, `kill -TERM` of the PID
// that was launched, a resume, a second trainer on the same folder (refused, naming the holder), `kill -9`
// of the launched PID, and a last resume. No process of a killed run may survive, and the run's log must
// read as the uninterrupted run: steps 1..12 once each, with its losses.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { parseTrainConfig, type DitTrainConfig } from './config.js';
import { trainDit } from './dit-trainer.js';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'train-kill-'));
const cfgPath = join(root, 'tiny.json');
let raw: Record<string, unknown>;

beforeAll(async () => {
  const { csvPath } = await writeShapesWorld(join(root, 'data'), { numClips: 4, height: 32, width: 32, numFrames: 9, seed: 3 });
  raw = tinyDitRunConfig(csvPath, root, { max_steps: 12 });
  writeFileSync(cfgPath, JSON.stringify(raw));
});

function stat(pid: number): { state: string; ppid: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]) };
  } catch {
    return null;
  }
}
const alive = (pid: number) => {
  const s = stat(pid);
  return s !== null && s.state !== 'Z';
};

/** Every process below `root` (pnpm, the launcher, the trainer). */
function descendants(rootPid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = stat(Number(d));
    if (s) kids.set(s.ppid, [...(kids.get(s.ppid) ?? []), Number(d)]);
  }
  const out: number[] = [];
  const todo = [rootPid];
  while (todo.length) for (const k of kids.get(todo.pop()!) ?? []) out.push(k), todo.push(k);
  return out;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

interface Launched {
  proc: ChildProcess;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function pnpmTrain(out: string, ...extra: string[]): Launched {
  // Own process group, so a failing test can still clean up whatever it left.
  const proc = spawn('pnpm', ['train', '-c', cfgPath, '-o', out, '--plain', ...extra], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, OPENSORA_QUIET: '1' } });
  let err = '';
  proc.stdout!.on('data', (d) => (err += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  return { proc, err: () => err, exited };
}

function logRecords(out: string): { type: string; step?: number; loss?: number }[] {
  const p = join(out, 'log.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}

/** The trainer (the node process under the launcher that holds the run folder's lock). */
function lockHolder(out: string): number | null {
  try {
    return JSON.parse(readFileSync(join(out, '.lock'), 'utf8')).pid as number;
  } catch {
    return null;
  }
}

async function killAndCheck(run: Launched, signal: 'SIGTERM' | 'SIGKILL'): Promise<number[]> {
  const tree = descendants(run.proc.pid!);
  expect(tree.length, run.err()).toBeGreaterThanOrEqual(2); // the launcher and the trainer under pnpm
  process.kill(run.proc.pid!, signal);
  await run.exited;
  const gone = await until(() => tree.every((p) => !alive(p)), 10_000);
  const left = tree.filter(alive);
  for (const p of left) process.kill(p, 'SIGKILL');
  expect(left, `still running after ${signal} of pnpm: ${left.join(', ')}\n${run.err()}`).toEqual([]);
  expect(gone).toBe(true);
  return tree;
}

/** The killed run wrote nothing more, and had not reached its end (step 12). */
async function stoppedBeforeTheEnd(out: string): Promise<void> {
  const steps = () => logRecords(out).filter((r) => r.type === 'step').map((r) => r.step!);
  const now = steps();
  await new Promise((r) => setTimeout(r, 1500));
  expect(steps()).toEqual(now);
  expect(Math.max(...now)).toBeLessThan(12);
}

describe.skipIf(process.platform !== 'linux')('pnpm train under kill -TERM and kill -9', () => {
  it('stops every process of the run, refuses a second trainer, and resumes to the uninterrupted losses', async () => {
    const out = join(root, 'run');
    const ckpt = (n: number) => () => logRecords(out).some((r) => r.type === 'checkpoint' && r.step! >= n);

    // 1. kill -TERM of pnpm's PID after the first checkpoint.
    const first = pnpmTrain(out);
    expect(await until(ckpt(3), 45_000), first.err()).toBe(true);
    const firstTrainer = lockHolder(out)!;
    await killAndCheck(first, 'SIGTERM');
    await stoppedBeforeTheEnd(out);

    // 2. Resume; a second trainer on the same folder is refused, naming the PID that holds it. (The first
    // resume is paused meanwhile, so it cannot finish before the second trainer asks for the folder.)
    const second = pnpmTrain(out, '--resume');
    const resumed = () => {
      const h = lockHolder(out);
      return logRecords(out).some((r) => r.type === 'resume') && h !== null && h !== firstTrainer && alive(h);
    };
    expect(await until(resumed, 45_000), second.err()).toBe(true);
    const holder = lockHolder(out)!;
    process.kill(holder, 'SIGSTOP');
    const third = pnpmTrain(out, '--resume');
    const thirdEnd = await third.exited;
    process.kill(holder, 'SIGCONT');
    expect(thirdEnd.code, third.err()).toBe(1);
    expect(third.err()).toMatch(new RegExp(`opensora-train: ${out} is in use by PID ${holder} since .*; stop that trainer first, or choose another --out\\.`));
    expect(second.err()).toMatch(new RegExp(`${out}: taking over the lock of PID ${firstTrainer} on .* which is no longer running\\.`));

    // 3. kill -9 of pnpm's PID: nothing of that run survives.
    await killAndCheck(second, 'SIGKILL');
    await stoppedBeforeTheEnd(out);
    // A checkpoint folder being written when the kill came, as a killed run leaves it.
    const stale = join(out, 'checkpoints', `.step-0000099.${holder}.1.tmp`);
    mkdirSync(stale);

    // 4. The last resume takes the stale lock over, removes the temporary folder, and finishes.
    const last = pnpmTrain(out, '--resume');
    const end = await last.exited;
    expect(end, last.err()).toEqual({ code: 0, signal: null });
    expect(last.err()).toMatch(new RegExp(`${out}: taking over the lock of PID ${holder} on .* which is no longer running\\.`));
    // The planted folder is among those removed; the kill -9 may also have caught a checkpoint mid-write
    // (its own .tmp folder), which must go too.
    const removed = new RegExp(`removed (\\d+) temporary file\\(s\\) left by stopped process ${holder}: (.*)`).exec(last.err());
    expect(removed, last.err()).not.toBeNull();
    const paths = removed![2]!.split(', ');
    expect(paths).toContain(stale);
    expect(paths).toHaveLength(Number(removed![1]));
    for (const p of paths) expect(existsSync(p), p).toBe(false);
    expect(existsSync(join(out, '.lock'))).toBe(false);

    // The log reads as one run, and its losses are the uninterrupted run's.
    const steps = logRecords(out).filter((r) => r.type === 'step');
    expect(steps.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const reference = await trainDit({ config: parseTrainConfig(raw) as DitTrainConfig, outDir: join(root, 'reference'), log: () => {}, plot: false });
    expect(steps.map((r) => r.loss)).toEqual(reference.steps.map((s) => s.loss));
  }, 120_000);
});
