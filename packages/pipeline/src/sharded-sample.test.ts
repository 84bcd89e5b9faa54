// `opensora-sample --prompt-file F` under torchrun (Debian's python3-torch 1.13, 2 ranks, Gloo): the
// prompts are split over the ranks, each video is written once by its owner with the same bytes a
// single process gives, and rank 0 alone prints the summary. Needs the torch addon with Gloo and a
// torchrun of the addon's torch version; skipped, with the reason printed, only when either is missing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, 'cli-entry.ts');
const require = createRequire(join(here, '..', 'package.json'));
const tsx = require.resolve('tsx');

// The torch backend is an optional runtime dependency of kernels: found from there, as initProcessGroup finds it.
const kernels = createRequire(require.resolve('@opensora-ts/kernels/package.json'));
type TorchModule = {
  c10dFeatures: () => { gloo: boolean; reason?: string };
  torchAddonStatus: () => { available: true; version: string } | { available: false; reason: string };
};
let why: string | null = null;
let PYTHON = '/usr/bin/python3';
try {
  const torch = (await import(pathToFileURL(kernels.resolve('@opensora-ts/tfjs-backend-torch')).href)) as TorchModule;
  const f = torch.c10dFeatures();
  const status = torch.torchAddonStatus();
  if (f.reason !== undefined || !f.gloo) why = `the torch addon has no Gloo (${f.reason ?? 'built without it'})`;
  else if (!status.available) why = status.reason;
  else {
    // torchrun's agent hosts the store: its torch must be the addon's libtorch version (1.x and 2.x stores do not talk).
    const want = status.version.split('.').slice(0, 2).join('.');
    const seen: string[] = [];
    const found = ['/usr/bin/python3', process.env.OPENSORA_PYTHON, 'python3'].find((py) => {
      if (!py || (py.startsWith('/') && !existsSync(py))) return false;
      const r = spawnSync(py, ['-c', 'import torch, torch.distributed.run; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
      const v = r.status === 0 ? r.stdout.trim().split('\n').pop()! : 'no torch.distributed.run';
      seen.push(`${py}: ${v}`);
      return v.split('.').slice(0, 2).join('.') === want;
    });
    if (found) PYTHON = found;
    else why = `no python with torch ${want} (the addon's libtorch) to run torchrun: ${seen.join('; ')}`;
  }
} catch (err) {
  why = `the torch backend could not be loaded (${(err as Error).message.split('\n')[0]})`;
}
if (why) console.log(`sharded sample test skipped: ${why}`);

const dir = mkdtempSync(join(tmpdir(), 'sample-ranks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
  return new Promise((res) => {
    // One thread per process: the same arithmetic in every process, so outputs compare byte for byte.
    const child = spawn(cmd, args, { env: { ...process.env, OPENSORA_QUIET: '1', OPENSORA_THREADS: '1', OMP_NUM_THREADS: '1' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, output });
    });
  });
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
    const r = await run(PYTHON, ['-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port', String(port), '--redirects', '1', '--tee', '1', '--no_python', ...node, ...args, '--save-dir', ranks]);
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
