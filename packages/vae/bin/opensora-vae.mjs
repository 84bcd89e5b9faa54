#!/usr/bin/env node
// In the repository (sources present) the TypeScript entry runs through tsx; a published
// install (dist only) runs the built CLI.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/cli-entry.ts', import.meta.url));
if (existsSync(src)) {
  const require = createRequire(import.meta.url);
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', require.resolve('tsx'), src, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} else {
  const { main } = await import(new URL('../dist/cli.js', import.meta.url).href);
  process.exitCode = await main(process.argv.slice(2));
}
