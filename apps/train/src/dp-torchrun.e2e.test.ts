// Data-parallel training through real processes: torchrun (the python whose torch is the addon's
// libtorch version, with kernels' torchrun test helpers: underscore flags as 1.13 wants them)
// launches 2 ranks of `opensora-train` that talk through c10d (Gloo) in the torch addon.
//  1. 2 ranks x batch 2 train as 1 process x batch 4: per-step losses and final weights within 1e-5.
//  2. kill -9 of rank 1 mid-run: the launch ends within 60 s naming rank 1, no checkpoint is left
//     half-written, and a relaunch with --resume reaches the uninterrupted run's losses.
// Needs the torch addon built with c10d; skipped, with the reason printed, only when it is not.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { parseTrainConfig, type DitTrainConfig } from './config.js';
import { trainDit, type TrainResult } from './dit-trainer.js';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';
import { weightDistance } from '../test/weights.js';
import { freePort, launch, launcherFreeEnv, loadTorchBackend, torchrunArgs, torchrunLauncher, type Launched } from '../../../packages/kernels/src/testing/torchrun.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(repo, 'apps', 'train', 'bin.mjs');
// The torch package is kernels' optional dependency, not this app's: loaded from kernels.
const torch = await loadTorchBackend();
const features = torch.c10dFeatures();
const skip = features.gloo ? null : `the torch addon has no Gloo process group (${features.reason ?? 'built without it'})`;
if (skip) console.log(`torchrun training tests skipped: ${skip}`);
const { python: PYTHON = '/usr/bin/python3', why: noTorchrun } = skip ? { why: skip } : await torchrunLauncher();

const root = mkdtempSync(join(tmpdir(), 'train-torchrun-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cfgPath = '';
let reference: TrainResult;

function raw(batch: number, csv: string): Record<string, unknown> {
  return {
    ...tinyDitRunConfig(csv, root, { cache_dir: null }),
    batch_size: batch,
    max_steps: 6,
    ckpt_every: 2,
    mask_types: { none: 1, i2v_head: 1, v2v_tail: 1 },
    drop_condition: { keep: 0.7, cond: 0.1, text: 0.1, null: 0.1 },
  };
}

/** `torchrun --nproc_per_node 2 --no_python node bin.mjs ...` with a free port. */
async function torchrun(...args: string[]): Promise<Launched> {
  const env = launcherFreeEnv({ OPENSORA_QUIET: '1', OMP_NUM_THREADS: '1' });
  const port = await freePort();
  return launch(PYTHON, [...torchrunArgs({ nproc: 2, port }), process.execPath, bin, '-c', cfgPath, '--plain', ...args], { cwd: repo, env, detached: true });
}

function steps(out: string): { step: number; loss: number }[] {
  const p = join(out, 'log.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.type === 'step');
}

/** The trainer processes (node running the trainer) below `pid`, with the RANK each was given. */
function trainers(pid: number): { pid: number; rank: number; ppid: number }[] {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone
    }
  }
  const out: { pid: number; rank: number; ppid: number }[] = [];
  const todo = [pid];
  while (todo.length) {
    const parent = todo.pop()!;
    for (const k of kids.get(parent) ?? []) {
      todo.push(k);
      try {
        const env = readFileSync(`/proc/${k}/environ`, 'utf8').split('\0');
        const rank = env.find((e) => e.startsWith('RANK='));
        // The deepest node process of a rank is its trainer (bin.mjs may start one below itself).
        if (rank && readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('node')) out.push({ pid: k, rank: Number(rank.slice(5)), ppid: parent });
      } catch {
        // gone
      }
    }
  }
  return out;
}

const close = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe.skipIf(skip !== null)('data-parallel training through torchrun (2 ranks, Gloo)', () => {
  beforeAll(async () => {
    expect(noTorchrun, noTorchrun).toBe('');
    const csv = (await writeShapesWorld(join(root, 'data'), { numClips: 10, height: 32, width: 32, numFrames: 9, seed: 5 })).csvPath;
    cfgPath = join(root, 'tiny.json');
    writeFileSync(cfgPath, JSON.stringify(raw(2, csv)));
    reference = await trainDit({ config: parseTrainConfig(raw(4, csv)) as DitTrainConfig, outDir: join(root, 'one'), log: () => {}, plot: false });
  }, 300_000);

  it('2 ranks x batch 2 give the losses and weights of 1 process x batch 4', async () => {
    const out = join(root, 'two');
    const run = await torchrun('-o', out);
    expect((await run.exited).code, run.output().slice(-3000)).toBe(0);
    const got = steps(out);
    expect(got.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    got.forEach((s, i) => expect(close(s.loss, reference.steps[i]!.loss), `step ${s.step}`).toBeLessThan(1e-5));
    for (const f of ['model', 'ema']) {
      const d = weightDistance(join(out, 'checkpoints', 'step-0000006', `${f}.safetensors`), join(reference.paths.checkpoints, 'step-0000006', `${f}.safetensors`));
      expect(d.all, f).toBeLessThan(1e-5);
      expect(d.worst, `${f}: ${d.worstName}`).toBeLessThan(1e-5);
    }
    expect(run.output()).toMatch(/data parallel: rank 0 of 2 \(gloo\)/);
  }, 300_000);

  it('kill -9 of rank 1: the run ends within 60 s naming rank 1; --resume reaches the uninterrupted losses', async () => {
    const out = join(root, 'killed');
    const run = await torchrun('-o', out);
    const t0 = Date.now();
    while (Date.now() - t0 < 200_000 && !steps(out).some((s) => s.step >= 3)) await new Promise((r) => setTimeout(r, 200));
    expect(steps(out).some((s) => s.step >= 3), run.output().slice(-3000)).toBe(true);
    const ones = trainers(run.proc.pid!).filter((t) => t.rank === 1);
    const rank1 = ones.find((t) => !ones.some((o) => o.ppid === t.pid));
    expect(rank1, run.output().slice(-2000)).toBeDefined();
    process.kill(rank1!.pid, 'SIGKILL');
    const killedAt = Date.now();
    const code = await Promise.race([run.exited.then((e) => e.code), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
    if (code === 'hung') process.kill(-run.proc.pid!, 'SIGKILL');
    expect(code, run.output().slice(-3000)).not.toBe('hung');
    expect(code).not.toBe(0);
    expect(Date.now() - killedAt).toBeLessThan(60_000);
    expect(run.output()).toMatch(/rank 1\b/);
    // Only complete checkpoints: no temporary folder, each with its state file.
    const ck = readdirSync(join(out, 'checkpoints'));
    expect(ck.filter((n) => !/^step-\d{7}$/.test(n)), ck.join(', ')).toEqual([]);
    for (const n of ck) expect(existsSync(join(out, 'checkpoints', n, 'state.json'))).toBe(true);

    const again = await torchrun('-o', out, '--resume');
    expect((await again.exited).code, again.output().slice(-3000)).toBe(0);
    expect(again.output()).toMatch(/resumed from .*step-000000[24]/);
    const got = steps(out);
    expect(got.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    got.forEach((s, i) => expect(close(s.loss, reference.steps[i]!.loss), `step ${s.step}`).toBeLessThan(1e-5));
  }, 400_000);
});
