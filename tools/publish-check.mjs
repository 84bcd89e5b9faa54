#!/usr/bin/env node
// `pnpm lint:publish`: packs every published package the way `pnpm publish` will (publishConfig
// applied, workspace:/catalog: rewritten) and runs publint and attw on the tarball. Needs `pnpm build`.
// attw uses the node16 profile: node10 resolution cannot see subpath exports (`./parity`) at all.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = readdirSync(join(root, 'packages'))
  .map((d) => join(root, 'packages', d))
  .filter((d) => existsSync(join(d, 'package.json')) && !JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).private);
let problems = 0;
for (const dir of dirs) {
  const name = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
  const out = mkdtempSync(join(tmpdir(), 'pack-'));
  const packed = spawnSync('pnpm', ['pack', '--pack-destination', out], { cwd: dir, encoding: 'utf8' });
  if (packed.status !== 0) {
    problems++;
    console.log(`FAIL pack    ${name}\n       ${(packed.stdout + packed.stderr).trim()}`);
    continue;
  }
  const tgz = join(out, readdirSync(out).find((f) => f.endsWith('.tgz')));
  for (const [tool, args] of [
    ['publint', ['exec', 'publint', 'run', tgz, '--strict']],
    ['attw', ['exec', 'attw', tgz, '--format', 'ascii', '--profile', 'node16']],
  ]) {
    const r = spawnSync('pnpm', args, { cwd: root, encoding: 'utf8' });
    const ok = r.status === 0;
    if (!ok) problems++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${tool.padEnd(7)} ${name}`);
    if (!ok) console.log((r.stdout + r.stderr).trim().split('\n').map((l) => `       ${l}`).join('\n'));
  }
}
console.log(problems === 0 ? `publish check: ${dirs.length} packages clean` : `publish check: ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
