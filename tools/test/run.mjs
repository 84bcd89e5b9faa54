#!/usr/bin/env node
// `pnpm test`: every vitest project, then one plain `N passed, N failed` line (CI reads it;
// vitest prints no such line itself). Extra arguments go to vitest (e.g. a path filter).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const vitest = join(require.resolve('vitest/package.json'), '..', 'vitest.mjs');
const report = join(mkdtempSync(join(tmpdir(), 'opensora-test-')), 'vitest.json');
const r = spawnSync(
  process.execPath,
  [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit', env: { OPENSORA_QUIET: '1', ...process.env } },
);
if (!existsSync(report)) {
  console.log('0 passed, 1 failed');
  process.exit(r.status || 1);
}
const j = JSON.parse(readFileSync(report, 'utf8'));
const skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
// A test file that fails to load counts as a failure even though it holds no test results.
const brokenFiles = (j.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
const failed = j.numFailedTests + brokenFiles;
// Skips are listed by name so none hides behind the count.
for (const f of j.testResults ?? []) for (const t of f.assertionResults ?? []) if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') console.log(`skipped: ${t.fullName}`);
console.log(`${j.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : (r.status ?? 1));
