#!/usr/bin/env node
// A bin like apps/*/bin.mjs, running ./worker.ts through the launcher.
import { fileURLToPath } from 'node:url';
import { runTypeScript } from '../ts.mjs';

runTypeScript(fileURLToPath(new URL('./worker.ts', import.meta.url)), process.argv.slice(2), { name: 'test-launcher' });
