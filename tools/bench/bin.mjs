#!/usr/bin/env node
// `node tools/bench/bin.mjs <suite> [flags]`: runs the TypeScript sources through tsx, with the
// `source` export condition so workspace packages are benchmarked from source, no build needed.
// The shared launcher forwards signals and sets the malloc tunables the apps run with.
import { fileURLToPath } from 'node:url';
import { runTypeScript } from '../run/ts.mjs';

runTypeScript(fileURLToPath(new URL('./src/cli.ts', import.meta.url)), process.argv.slice(2), { name: 'bench' });
