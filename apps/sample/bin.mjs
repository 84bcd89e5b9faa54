#!/usr/bin/env node
// `pnpm sample`: the opensora-sample CLI of @opensora-ts/pipeline, run from its TypeScript sources
// through the repository's launcher (malloc settings, signals forwarded).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runTypeScript } from '@opensora-ts/run-ts';

const pipeline = dirname(createRequire(import.meta.url).resolve('@opensora-ts/pipeline/package.json'));
runTypeScript(join(pipeline, 'src', 'cli-entry.ts'), process.argv.slice(2), { name: 'opensora-sample' });
