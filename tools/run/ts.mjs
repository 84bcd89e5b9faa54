// Runs a TypeScript entry of this repository from source: the `source` export condition
// resolves workspace packages to their src/index.ts, so tools and apps need no build step.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function runTypeScript(entry, args) {
  const tsx = require.resolve('tsx');
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', tsx, entry, ...args], { stdio: 'inherit' });
  if (r.error) throw r.error;
  process.exit(r.status ?? 1);
}
