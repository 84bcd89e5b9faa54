#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { runTypeScript } from '@opensora-ts/run-ts';

runTypeScript(fileURLToPath(new URL('./src/cli.ts', import.meta.url)), process.argv.slice(2), { name: 'opensora-eval' });
