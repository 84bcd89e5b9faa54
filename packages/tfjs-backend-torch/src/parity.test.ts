// Parity on torch (issue 30, item 6): every case folder of the shared fixtures
// (../shared/fixtures/opensora13/*/ beside the repo, as CI has it) through the project's parity
// runners (`node tools/parity/bin.mjs`) with OPENSORA_BACKEND=torch, in fp32 on the cpu (or
// OPENSORA_DEVICE). Each case must pass within its fixture's tolerances, and no kernel may reach
// the host round trip (OPENSORA_DEBUG_FALLBACK=1 names any that does). Skipped, by name and
// with the reason, only when the addon is not built or the fixture folder is absent.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { torchAddonStatus } from './addon.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const fixtures = join(repoRoot, '..', 'shared', 'fixtures', 'opensora13');
const cases = existsSync(fixtures)
  ? readdirSync(fixtures, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(fixtures, d.name, 'case.json')))
      .map((d) => d.name)
      .sort()
  : [];

const addon = torchAddonStatus();
const skipReason = !addon.available
  ? `the torch addon is not built (${addon.reason.split('. ')[0]})`
  : cases.length === 0
    ? `no fixture cases at ${fixtures}`
    : undefined;
if (skipReason) console.warn(`torch parity skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('parity on torch (OPENSORA_BACKEND=torch pnpm parity ../shared/fixtures/opensora13/*/)', () => {
  it(`passes all ${cases.length} shared cases in fp32 with no host fallback`, () => {
    const env: NodeJS.ProcessEnv = { ...process.env, OPENSORA_BACKEND: 'torch', OPENSORA_DEBUG_FALLBACK: '1' };
    delete env.OPENSORA_QUIET;
    delete env.OPENSORA_PRECISION; // parity is the fp32 contract
    const r = spawnSync(process.execPath, [join(repoRoot, 'tools', 'parity', 'bin.mjs'), ...cases.map((c) => join(fixtures, c))], {
      cwd: repoRoot,
      env,
      encoding: 'utf8',
      timeout: 600_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.stdout, out).toMatch(/^parity on backend torch: /m);
    expect(r.stderr, out).toMatch(/opensora-ts: backend torch \(/);
    for (const c of cases) expect(r.stdout, out).toMatch(new RegExp(`^${c}\\s+rel_l2 .* pass `, 'm'));
    expect(r.stdout, out).toMatch(new RegExp(`^${cases.length} passed, 0 failed$`, 'm'));
    expect(out.split('\n').filter((l) => l.includes('torch backend:') && l.includes('ran on the host')), out).toEqual([]);
    expect(r.status, out).toBe(0);
  }, 660_000);
});
