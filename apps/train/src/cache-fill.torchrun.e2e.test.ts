// `opensora-train cache` on 2 ranks launched by Debian's torchrun: each rank encodes its share
// into one shared cache (its own shards and index), and a one-process fill afterwards finds every
// pair cached. Needs the torch addon with Gloo; skipped, with the reason printed, only when the
// addon is not built.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(repo, 'apps', 'train', 'bin.mjs');
const PYTHON = '/usr/bin/python3';
// The torch package is kernels' (optional) dependency, not this app's: imported by its path.
const torch = (await import(pathToFileURL(join(repo, 'packages', 'tfjs-backend-torch', 'src', 'index.ts')).href)) as { c10dFeatures: () => { gloo: boolean; reason?: string } };
const features = torch.c10dFeatures();
const built = features.reason === undefined;
if (!built) console.log(`torchrun cache tests skipped: the torch addon is not built (${features.reason})`);

const root = mkdtempSync(join(tmpdir(), 'cache-torchrun-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENSORA_QUIET: '1', OMP_NUM_THREADS: '1' };
  for (const k of ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
  return new Promise((res) => {
    const p = spawn(cmd, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 280_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, output });
    });
  });
}

describe.skipIf(!built)('opensora-train cache on 2 ranks (torchrun, Gloo)', () => {
  it('splits the pairs over the ranks into one cache; a later fill finds them all', async () => {
    expect(spawnSync(PYTHON, ['-c', 'import torch.distributed.run'], { timeout: 60_000 }).status, `${PYTHON} -m torch.distributed.run is not available (Debian: apt-get install python3-torch)`).toBe(0);
    const csv = (await writeShapesWorld(join(root, 'data'), { numClips: 5, height: 32, width: 32, numFrames: 9, seed: 3 })).csvPath;
    const cfg = join(root, 'tiny.json');
    writeFileSync(cfg, JSON.stringify(tinyDitRunConfig(csv, root, { cache_dir: join(root, 'cache') })));
    const args = ['cache', '-c', cfg, '-o', join(root, 'run'), '--plain'];
    const port = String(await freePort());
    const two = await run(PYTHON, ['-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port', port, '--redirects', '1', '--tee', '1', '--no_python', process.execPath, bin, ...args]);
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
