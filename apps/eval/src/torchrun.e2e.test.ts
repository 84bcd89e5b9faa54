// `opensora-eval loss|vae|samples` on 2 ranks launched by torchrun (the python whose torch is the
// addon's libtorch version, with kernels' torchrun test helpers) against the same command in one
// process: the merged results are the same numbers, written once by rank 0, and each sample
// video is written once, by its owner. Needs the torch addon with Gloo; skipped, with the reason
// printed, only when the addon is not built.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readResults, type EvalResults } from '@opensora-ts/eval';
import { writeTinyEvalRun, type TinyEvalRun } from '../test/tiny-eval-run.js';
import { freePort, launch, launcherFreeEnv, loadTorchBackend, runProcess, torchrunArgs, torchrunLauncher } from '../../../packages/kernels/src/testing/torchrun.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(repo, 'apps', 'eval', 'bin.mjs');
// The torch package is kernels' (optional) dependency, not this app's: loaded from kernels.
const torch = await loadTorchBackend();
const features = torch.c10dFeatures();
const built = features.reason === undefined;
if (!built) console.log(`torchrun eval tests skipped: the torch addon is not built (${features.reason})`);
const { python: PYTHON = '/usr/bin/python3', why: noTorchrun } = built ? await torchrunLauncher() : { why: 'the addon is not built' };

const dir = mkdtempSync(join(tmpdir(), 'eval-torchrun-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The launcher's variables of an outer run must not leak into the one-process baseline. */
const cleanEnv = () => launcherFreeEnv({ OPENSORA_QUIET: '1', OMP_NUM_THREADS: '1' });

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return runProcess(cmd, args, { cwd: repo, env: cleanEnv(), timeoutMs: 280_000 });
}

const oneProcess = (args: string[]) => run(process.execPath, [bin, ...args]);
const twoRanks = async (args: string[]) => run(PYTHON, [...torchrunArgs({ nproc: 2, port: await freePort() }), process.execPath, bin, ...args]);

/** The results without the creation time. */
const numbers = (r: EvalResults) => ({ ...r, created: undefined });

describe.skipIf(!built)('opensora-eval on 2 ranks (torchrun, Gloo) = 1 process', () => {
  let tiny: TinyEvalRun;
  beforeAll(async () => {
    expect(noTorchrun, noTorchrun).toBe('');
    // Batch size 1: 3 batches in the bucket, 2 scored by rank 0 and 1 by rank 1.
    tiny = await writeTinyEvalRun(join(dir, 'files'), { numClips: 3, batchSize: 1 });
  }, 120_000);

  it('loss: the same per-timestep losses', async () => {
    const one = await oneProcess([...tiny.lossArgs, '--name', 'tiny', '--out', join(dir, 'loss-1.json')]);
    expect(one.code, one.output.slice(-3000)).toBe(0);
    const two = await twoRanks([...tiny.lossArgs, '--name', 'tiny', '--out', join(dir, 'loss-2.json')]);
    expect(two.code, two.output.slice(-3000)).toBe(0);
    const a = readResults(join(dir, 'loss-1.json'));
    const b = readResults(join(dir, 'loss-2.json'));
    expect(a.loss!.buckets[0]).toMatchObject({ samples: 3, batches: 3 });
    expect(numbers(b)).toEqual(numbers(a));
    // Both ranks read and encoded their own batches; the resume files are gone.
    expect(two.output).toMatch(/\[rank 0\/2\] bucket 144p\/5f: reading and encoding 2 batch/);
    expect(two.output).toMatch(/\[rank 1\/2\] bucket 144p\/5f: reading and encoding 1 batch/);
    expect(existsSync(join(dir, 'loss-2.json.parts'))).toBe(false);
  }, 600_000);

  it('samples and vae: the same scores; every video written once', async () => {
    const args = ['samples', '-n', '5', '--sampler', 'ground-truth', '--height', '72', '--width', '128', '--num-frames', '9', '--seeds', '3,50', '--generation-metrics', '--name', 'gt'];
    const one = await oneProcess([...args, '--out', join(dir, 'samples-1.json'), '--save', join(dir, 'videos-1')]);
    expect(one.code, one.output.slice(-3000)).toBe(0);
    const two = await twoRanks([...args, '--out', join(dir, 'samples-2.json'), '--save', join(dir, 'videos-2')]);
    expect(two.code, two.output.slice(-3000)).toBe(0);
    const a = readResults(join(dir, 'samples-1.json'));
    const b = readResults(join(dir, 'samples-2.json'));
    const files = (r: EvalResults, from: string, to: string) => r.samples!.videos.map((v) => ({ ...v, file: v.file!.replace(from, to) }));
    expect({ ...numbers(b), samples: { ...b.samples!, videos: files(b, 'videos-2', 'videos-X') } }).toEqual({ ...numbers(a), samples: { ...a.samples!, videos: files(a, 'videos-1', 'videos-X') } });
    // 10 videos: 5 sampled by each rank.
    expect(two.output).toMatch(/\[rank 0\/2\] samples: 5\/5/);
    expect(two.output).toMatch(/\[rank 1\/2\] samples: 5\/5/);
    expect(readdirSync(join(dir, 'videos-2')).sort()).toEqual(readdirSync(join(dir, 'videos-1')).sort());
    expect(readdirSync(join(dir, 'videos-2'))).toHaveLength(10);
    // VAE metrics of the saved videos against lossy re-encodings of them (so that the pairs differ).
    mkdirSync(join(dir, 'videos-3'));
    for (const f of readdirSync(join(dir, 'videos-1'))) {
      const r = spawnSync(process.env.FFMPEG ?? 'ffmpeg', ['-v', 'error', '-i', join(dir, 'videos-1', f), '-c:v', 'libx264', '-crf', '45', '-pix_fmt', 'yuv420p', join(dir, 'videos-3', f)]);
      expect(r.status, String(r.stderr)).toBe(0);
    }
    const vae = ['vae', '--real', join(dir, 'videos-1'), '--recon', join(dir, 'videos-3'), '--num-frames', '9', '--name', 'rt'];
    const v1 = await oneProcess([...vae, '--out', join(dir, 'vae-1.json')]);
    expect(v1.code, v1.output.slice(-3000)).toBe(0);
    const v2 = await twoRanks([...vae, '--out', join(dir, 'vae-2.json')]);
    expect(v2.code, v2.output.slice(-3000)).toBe(0);
    const va = readResults(join(dir, 'vae-1.json'));
    expect(va.vae!.videos).toBe(10);
    expect(va.vae!.psnr.mean).toBeLessThan(100);
    expect(numbers(readResults(join(dir, 'vae-2.json')))).toEqual(numbers(va));
  }, 600_000);

  it('kill -9 of rank 1: rank 0 fails naming it, and a relaunch (here 1 process) reuses both ranks\' finished videos', async () => {
    const args = ['samples', '-n', '6', '--sampler', 'ground-truth', '--height', '72', '--width', '128', '--num-frames', '9', '--seeds', '3,50', '--name', 'gt'];
    const base = await oneProcess([...args, '--out', join(dir, 'kill-base.json')]);
    expect(base.code, base.output.slice(-3000)).toBe(0);
    // Two ranks started by hand with torchrun's variables (torchrun's agent would stop rank 0 itself).
    const out = join(dir, 'kill.json');
    const port = String(await freePort());
    const cli = join(repo, 'apps', 'eval', 'src', 'cli.ts');
    const tsx = createRequire(join(repo, 'apps', 'eval', 'package.json')).resolve('tsx');
    const ranks = [0, 1].map((r) => {
      const env = launcherFreeEnv({ OPENSORA_QUIET: '1', OMP_NUM_THREADS: '1', RANK: String(r), WORLD_SIZE: '2', LOCAL_RANK: String(r), LOCAL_WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port });
      const { proc: p, exited: exit, output } = launch(process.execPath, ['--conditions=source', '--import', tsx, cli, ...args, '--out', out], { cwd: repo, env });
      return { p, exit, output };
    });
    // Rank 1 owns the odd items: once its first video is stored, kill it.
    const parts = `${out}.parts`;
    const t0 = Date.now();
    while (!(existsSync(parts) && readdirSync(parts).includes('sample-000001.json'))) {
      if (Date.now() - t0 > 240_000) throw new Error(`rank 1 stored no video in 240 s: ${ranks[1]!.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const killedAt = Date.now();
    ranks[1]!.p.kill('SIGKILL');
    const [e0, e1] = await Promise.all(ranks.map((r) => r.exit));
    expect(e1!.signal).toBe('SIGKILL');
    expect(e0!.code, ranks[0]!.output().slice(-3000)).toBe(1);
    expect(ranks[0]!.output()).toMatch(/rank 1 of 2 is lost/);
    expect((e0!.at - killedAt) / 1000).toBeLessThan(60);
    expect(existsSync(out)).toBe(false);
    const kept = readdirSync(parts).filter((f) => f.endsWith('.json'));
    expect(kept.length).toBeGreaterThan(1);
    // The relaunch scores only the videos no rank stored, and the results are the uninterrupted run's.
    const again = await oneProcess([...args, '--out', out]);
    expect(again.code, again.output.slice(-3000)).toBe(0);
    expect(again.output).toMatch(new RegExp(`${kept.length} stored item file\\(s\\)`));
    expect(numbers(readResults(out))).toEqual(numbers(readResults(join(dir, 'kill-base.json'))));
    expect(existsSync(parts)).toBe(false);
  }, 600_000);
});
