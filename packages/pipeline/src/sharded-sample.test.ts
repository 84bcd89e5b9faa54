// `opensora-sample --prompt-file F` under torchrun (the python whose torch is the addon's libtorch
// version, with kernels' torchrun test helpers; 2 ranks, Gloo): the
// prompts are split over the ranks, each video is written once by its owner with the same bytes a
// single process gives, and rank 0 alone prints the summary. Needs the torch addon with Gloo and a
// torchrun of the addon's torch version; skipped, with the reason printed, only when either is missing.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, launcherFreeEnv, loadTorchBackend, runProcess, torchrunArgs, torchrunLauncher } from '../../kernels/src/testing/torchrun.js';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, 'cli-entry.ts');
const require = createRequire(join(here, '..', 'package.json'));
const tsx = require.resolve('tsx');

// The torch backend is an optional runtime dependency of kernels: found from there, as initProcessGroup finds it.
let why: string | null = null;
let PYTHON = '/usr/bin/python3';
try {
  const f = (await loadTorchBackend()).c10dFeatures();
  if (f.reason !== undefined || !f.gloo) why = `the torch addon has no Gloo (${f.reason ?? 'built without it'})`;
  else {
    // torchrun's agent hosts the store: its torch must be the addon's libtorch version (1.x and 2.x stores do not talk).
    const launcher = await torchrunLauncher();
    if (launcher.why) why = launcher.why;
    else PYTHON = launcher.python!;
  }
} catch (err) {
  why = `the torch backend could not be loaded (${(err as Error).message.split('\n')[0]})`;
}
if (why) console.log(`sharded sample test skipped: ${why}`);

const dir = mkdtempSync(join(tmpdir(), 'sample-ranks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  // One thread per process: the same arithmetic in every process, so outputs compare byte for byte.
  return runProcess(cmd, args, { env: launcherFreeEnv({ OPENSORA_QUIET: '1', OPENSORA_THREADS: '1', OMP_NUM_THREADS: '1' }), timeoutMs: 300_000, until: 'close' });
}

const node = [process.execPath, '--conditions=source', '--import', tsx, entry];
const sidecar = (d: string, i: number) => JSON.parse(readFileSync(join(d, `sample_000${i}.json`), 'utf8')) as { output: { sha256: string }; runtime: { rank: number; world_size: number } };

describe.skipIf(why !== null)('opensora-sample --prompt-file under torchrun (2 ranks)', () => {
  it('splits the prompts over the ranks, writes each video once, and rank 0 prints the summary', async () => {
    const prompts = join(dir, 'prompts.txt');
    writeFileSync(prompts, 'a red circle moves to the left\na blue square moves up\na green triangle\n');
    const args = ['--prompt-file', prompts, '--steps', '2', '--resolution', '32x32', '--plain-progress'];
    const port = await freePort();
    const ranks = join(dir, 'ranks');
    const r = await run(PYTHON, [...torchrunArgs({ nproc: 2, port }), ...node, ...args, '--save-dir', ranks]);
    expect(r.code, r.output).toBe(0);
    expect(readdirSync(ranks).sort()).toEqual(['sample_0000.json', 'sample_0000.mp4', 'sample_0001.json', 'sample_0001.mp4', 'sample_0002.json', 'sample_0002.mp4']);
    // Strided: rank 0 owns prompts 0 and 2, rank 1 prompt 1.
    expect([0, 1, 2].map((i) => sidecar(ranks, i).runtime)).toMatchObject([{ rank: 0, world_size: 2 }, { rank: 1, world_size: 2 }, { rank: 0, world_size: 2 }]);
    expect(r.output.match(/\[rank 0\/2\] wrote /g)).toHaveLength(2);
    expect(r.output.match(/\[rank 1\/2\] wrote /g)).toHaveLength(1);
    expect(r.output).toMatch(/\[rank 0\/2\] done: 3 file\(s\) in [\d.]+ s, peak RSS \d+ MiB \(the largest of 2 ranks\)/);
    expect(r.output).not.toMatch(/\[rank 1\/2\] done:/);

    // One process, same prompts and threads: the same bytes.
    const alone = join(dir, 'alone');
    const one = await run(node[0]!, [...node.slice(1), ...args, '--save-dir', alone]);
    expect(one.code, one.output).toBe(0);
    expect(one.output).toMatch(/^done: 3 file\(s\)/m);
    for (const i of [0, 1, 2]) expect(sidecar(ranks, i).output.sha256).toBe(sidecar(alone, i).output.sha256);
  });
});
