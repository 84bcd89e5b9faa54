// The launcher (ts.mjs) under kills: a signal to the launched PID reaches the worker, a SIGKILL of
// the launcher (or of the package manager above it) stops the worker, and a worker killed from
// outside makes the launcher exit with a message and the signal's status.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const launch = fileURLToPath(new URL('./launch.mjs', import.meta.url));

function parentOf(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Whether `pid` runs (a zombie has ended). */
function alive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Every process below `root`. */
function descendants(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pp = parentOf(Number(d));
    if (pp !== null) kids.set(pp, [...(kids.get(pp) ?? []), Number(d)]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) for (const k of kids.get(todo.pop()!) ?? []) out.push(k), todo.push(k);
  return out;
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

interface Run {
  proc: ChildProcess;
  out: string;
  err: string;
  worker: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GLIBC_TUNABLES: undefined, ...env } });
  const run = { proc, out: '', err: '', worker: 0 } as Run;
  proc.stdout!.on('data', (d) => (run.out += d));
  proc.stderr!.on('data', (d) => (run.err += d));
  run.exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  expect(await until(() => /worker (\d+)/.test(run.out), 20_000), `no worker line; stderr: ${run.err}`).toBe(true);
  run.worker = Number(/worker (\d+)/.exec(run.out)![1]);
  return run;
}

describe.skipIf(process.platform !== 'linux')('launcher', () => {
  it('passes the exit code and sets the malloc tunables in the worker', async () => {
    const r = await start(process.execPath, [launch, 'exit', '3']);
    expect(await r.exited).toEqual({ code: 3, signal: null });
    expect(r.out).toMatch(/worker \d+ glibc\.malloc\.hugetlb=1:/);
  });

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`${signal} to the launcher stops the worker, and the launcher ends by ${signal}`, async () => {
      const r = await start(process.execPath, [launch]);
      expect(descendants(r.proc.pid!)).toContain(r.worker);
      r.proc.kill(signal);
      expect(await r.exited).toEqual({ code: null, signal });
      expect(await until(() => !alive(r.worker))).toBe(true);
      expect(r.err).toBe('');
    });
  }

  for (const mode of ['idle', 'busy'] as const) {
    it(`SIGKILL of the launcher stops a worker that is ${mode}`, async () => {
      const r = await start(process.execPath, [launch, mode]);
      r.proc.kill('SIGKILL');
      expect(await r.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(await until(() => !alive(r.worker))).toBe(true);
    });
  }

  it('a worker killed from outside makes the launcher say so and exit 137', async () => {
    const r = await start(process.execPath, [launch]);
    process.kill(r.worker, 'SIGKILL');
    expect(await r.exited).toEqual({ code: 137, signal: null });
    expect(r.err).toBe(`test-launcher: worker process ${r.worker} was ended by SIGKILL (sent by another process, or by the kernel when memory ran out: see \`dmesg\`); its work stopped there.\n`);
  });

  it('SIGKILL of the package manager that ran the script (through sh) stops launcher and worker', async () => {
    // A stand-in for `pnpm train`: a node process running the script through `sh -c` (which stays, as
    // dash does for `node bin.mjs`), with the variable package managers set.
    const pm = `const { spawn } = require('node:child_process');
      const c = spawn('sh', ['-c', ${JSON.stringify(`"${process.execPath}" "${launch}"; true`)}], { stdio: 'inherit' });
      c.on('exit', (code) => process.exit(code ?? 1));`;
    const r = await start(process.execPath, ['-e', pm], { npm_lifecycle_event: 'train' });
    const all = descendants(r.proc.pid!);
    expect(all.length).toBe(3); // sh, launcher, worker
    r.proc.kill('SIGKILL');
    await r.exited;
    expect(await until(() => all.every((p) => !alive(p)))).toBe(true);
    expect(r.err).toMatch(/test-launcher: the package manager that started this run \(PID \d+\) is gone; stopping worker \d+\./);
  });
});
