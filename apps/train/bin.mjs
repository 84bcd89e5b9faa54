#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { runTypeScript } from '@opensora-ts/run-ts';

// `opensora-train cache ...` fills the latent and text caches ahead of training (src/cache-cli.ts).
const args = process.argv.slice(2);
if (args[0] === 'cache') runTypeScript(fileURLToPath(new URL('./src/cache-cli.ts', import.meta.url)), args.slice(1), { name: 'opensora-train cache' });
else runTypeScript(fileURLToPath(new URL('./src/cli.ts', import.meta.url)), args, { name: 'opensora-train' });
