#!/usr/bin/env node
// In the repository (sources present) the TypeScript entry runs through tsx, with the repository's
// launcher (signals forwarded, the worker stopped if the launcher is killed); a published install
// (dist only) runs the built CLI in this process.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/cli-entry.ts', import.meta.url));
const launcher = new URL('../../../tools/run/ts.mjs', import.meta.url);
if (existsSync(src) && existsSync(fileURLToPath(launcher))) {
  const { runTypeScript } = await import(launcher.href);
  runTypeScript(src, process.argv.slice(2), { name: 'opensora-sample' });
} else {
  const { main } = await import(new URL('../dist/cli.js', import.meta.url).href);
  process.exitCode = await main(process.argv.slice(2));
}
