#!/usr/bin/env node
// `node tools/bench/bin.mjs <suite> [flags]`: runs the TypeScript sources through tsx, with the
// `source` export condition so workspace packages are benchmarked from source, no build needed.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('./src/cli.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const r = spawnSync(process.execPath, ['--conditions=source', '--import', tsx, cli, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
