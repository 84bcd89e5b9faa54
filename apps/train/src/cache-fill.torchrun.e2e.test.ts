// `opensora-train cache` on 2 ranks launched by torchrun (the python whose torch is the addon's
// libtorch version, with kernels' torchrun test helpers): each rank encodes its share
// into one shared cache (its own shards and index), and a one-process fill afterwards finds every
// pair cached. Needs the torch addon with Gloo; skipped, with the reason printed, only when the
// addon is not built.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';
import { freePort, launcherFreeEnv, loadTorchBackend, runProcess, torchrunArgs, torchrunLauncher } from '../../../packages/kernels/src/testing/torchrun.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(repo, 'apps', 'train', 'bin.mjs');
// The torch package is kernels' (optional) dependency, not this app's: loaded from kernels.
const torch = await loadTorchBackend();
const features = torch.c10dFeatures();
const built = features.reason === undefined;
if (!built) console.log(`torchrun cache tests skipped: the torch addon is not built (${features.reason})`);
const { python: PYTHON = '/usr/bin/python3', why: noTorchrun } = built ? await torchrunLauncher() : { why: 'the addon is not built' };

const root = mkdtempSync(join(tmpdir(), 'cache-torchrun-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return runProcess(cmd, args, { cwd: repo, env: launcherFreeEnv({ OPENSORA_QUIET: '1', OMP_NUM_THREADS: '1' }), timeoutMs: 280_000 });
}

describe.skipIf(!built)('opensora-train cache on 2 ranks (torchrun, Gloo)', () => {
  it('splits the pairs over the ranks into one cache; a later fill finds them all', async () => {
    expect(noTorchrun, noTorchrun).toBe('');
    const csv = (await writeShapesWorld(join(root, 'data'), { numClips: 5, height: 32, width: 32, numFrames: 9, seed: 3 })).csvPath;
    const cfg = join(root, 'tiny.json');
    writeFileSync(cfg, JSON.stringify(tinyDitRunConfig(csv, root, { cache_dir: join(root, 'cache') })));
    const args = ['cache', '-c', cfg, '-o', join(root, 'run'), '--plain'];
    const port = await freePort();
    const two = await run(PYTHON, [...torchrunArgs({ nproc: 2, port }), process.execPath, bin, ...args]);
    expect(two.code, two.output.slice(-3000)).toBe(0);
    expect(two.output).toMatch(/cache filled: 4 \(sample, size\) pairs of 1 epoch\(s\): 4 encoded now, 0 already cached; 4 captions \(4 encoded now\), over 2 ranks/);
    expect(two.output).toMatch(/\[rank 1\/2\] latents: 2\/2/);
    const latents = readdirSync(join(root, 'cache')).find((f) => f.startsWith('latents-'))!;
    const files = readdirSync(join(root, 'cache', latents));
    expect(files.filter((f) => f.startsWith('index')).sort()).toEqual(['index-rank-0.json', 'index-rank-1.json']);
    // One process, planning for the 2 ranks the cache was filled (and will be trained) on.
    const one = await run(process.execPath, [bin, ...args, '--train-ranks', '2']);
    expect(one.code, one.output.slice(-3000)).toBe(0);
    expect(one.output).toMatch(/cache filled: 4 \(sample, size\) pairs of 1 epoch\(s\): 0 encoded now, 4 already cached; 4 captions \(0 encoded now\)/);
  }, 600_000);
});
