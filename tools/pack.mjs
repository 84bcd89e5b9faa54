// Packs published packages the way `pnpm publish` will (publishConfig applied, workspace:/catalog:
// rewritten), for the publish check and the consumer test. Needs `pnpm build` first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = new URL('..', import.meta.url).pathname;

/** Every package under packages/ that is not private: { dir, name, pkg }. */
export function publishedPackages() {
  return readdirSync(join(root, 'packages'))
    .sort()
    .map((d) => join(root, 'packages', d))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => !pkg.private)
    .map(({ dir, pkg }) => ({ dir, name: pkg.name, pkg }));
}

/**
 * `pnpm pack` of one package into `dest` (a fresh temp folder when omitted).
 * Returns { ok: true, tgz } or { ok: false, output } with pnpm's own message.
 */
export function packPackage(dir, dest = mkdtempSync(join(tmpdir(), 'pack-'))) {
  const before = new Set(existsSync(dest) ? readdirSync(dest) : []);
  const r = spawnSync('pnpm', ['pack', '--pack-destination', dest], { cwd: dir, encoding: 'utf8' });
  const made = readdirSync(dest).filter((f) => f.endsWith('.tgz') && !before.has(f));
  if (r.status !== 0 || made.length !== 1) {
    return { ok: false, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || `pnpm pack exited with ${r.status ?? r.signal}` };
  }
  return { ok: true, tgz: join(dest, made[0]) };
}
