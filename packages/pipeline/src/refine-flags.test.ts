// Issue 31, refinement: the reference's flag name (--llm-refine) works, --refine-timeout bounds the
// wait (default 30 s), and a progress line shows while waiting on a slow endpoint.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildCommand, flagsToSettings, main } from './cli.js';
import { parseSettings } from './settings.js';

let dir: string;
let server: Server;
let base = '';
const hanging = new Set<ServerResponse>();
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sample-refine-'));
  // Never answers: the sample must give up after --refine-timeout.
  server = createServer((req, res) => {
    req.resume();
    hanging.add(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  for (const r of hanging) r.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const settingsOf = (argv: string[]) => {
  const program = buildCommand().exitOverride();
  program.parse(argv, { from: 'user' });
  return parseSettings(flagsToSettings(program.opts(), (k) => program.getOptionValueSource(k) === 'cli'), 'flags');
};

describe('prompt refinement flags', () => {
  it('--llm-refine is --refine; --refine-timeout is in seconds, default 30', () => {
    expect(settingsOf(['--prompt', 'x', '--llm-refine'])).toMatchObject({ llm_refine: true, refine_timeout: 30 });
    expect(settingsOf(['--prompt', 'x', '--refine', '--refine-timeout', '2.5'])).toMatchObject({ llm_refine: true, refine_timeout: 2.5 });
    expect(settingsOf(['--prompt', 'x']).llm_refine).toBe(false);
  });

  it('a hung endpoint: progress lines while waiting, then the prompt as given and a warning naming the flag', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (lines.push(String(c).trimEnd()), true));
    let code: number;
    const t0 = performance.now();
    try {
      code = await main(['--prompt', 'a red circle', '--llm-refine', '--refine-url', base, '--refine-timeout', '0.8', '--steps', '1', '--resolution', '32x32', '--plain-progress', '--out', join(dir, 'r.mp4')]);
    } finally {
      spy.mockRestore();
      write.mockRestore();
    }
    const err = lines.join('\n');
    expect(code, err).toBe(0);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(err).toMatch(/prompt 0: waiting for the refinement reply \(0\.\d s of 0\.8 s\)/);
    expect(err).toMatch(/warning: prompt 0: prompt refinement via .* failed \(no reply within 800 ms\); keeping the original prompt\. Give it longer with --refine-timeout SECONDS\./);
    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')).prompt.refined).toBe('a red circle');
  });
});
