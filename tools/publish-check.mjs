#!/usr/bin/env node
// `pnpm lint:publish`: packs every published package the way `pnpm publish` will (publishConfig
// applied, workspace:/catalog: rewritten) and runs publint and attw on the tarball. Needs `pnpm build`.
// attw uses the node16 profile: node10 resolution cannot see subpath exports (`./parity`) at all.
import { spawnSync } from 'node:child_process';
import { packPackage, publishedPackages, root } from './pack.mjs';

const dirs = publishedPackages();
let problems = 0;
for (const { dir, name } of dirs) {
  const packed = packPackage(dir);
  if (!packed.ok) {
    problems++;
    console.log(`FAIL pack    ${name}\n       ${packed.output}`);
    continue;
  }
  const { tgz } = packed;
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
