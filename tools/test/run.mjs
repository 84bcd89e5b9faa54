#!/usr/bin/env node
// `pnpm test`: every vitest project, then the extra suites below, then one plain `N passed, N failed`
// line (CI reads it; vitest prints no such line itself). Extra arguments go to vitest (e.g. a path
// filter); an extra suite runs when no path is given or a path names its folder.
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
// Extra suites: checks that are not vitest tests (they build, pack, install). Each writes a JSON list
// of { name, ok, detail } to the file after --json; every entry counts as one test, failures by name.
const extraSuites = [{ name: 'consumer', dir: 'tools/consumer-test', script: 'tools/consumer-test/run.mjs' }];
const paths = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = { passed: 0, failed: [] };
let extraStatus = 0;
for (const suite of extraSuites) {
  if (paths.length && !paths.some((p) => suite.dir.startsWith(p.replace(/^\.\//, '').replace(/\/$/, '')) || p.startsWith(suite.dir))) continue;
  const out = join(mkdtempSync(join(tmpdir(), `opensora-${suite.name}-`)), 'results.json');
  console.log(`\n${suite.name}: node ${suite.script}`);
  const s = spawnSync(process.execPath, [suite.script, '--json', out], { stdio: 'inherit' });
  const results = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : [{ name: `${suite.name} suite (exit ${s.status ?? s.signal}, no results)`, ok: false }];
  for (const r of results) r.ok ? extra.passed++ : extra.failed.push(`${suite.name}: ${r.name}`);
  if (s.status !== 0) extraStatus = s.status || 1;
}

const j = JSON.parse(readFileSync(report, 'utf8'));
const skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
// A test file that fails to load counts as a failure even though it holds no test results.
const brokenFiles = (j.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
const failed = j.numFailedTests + brokenFiles + extra.failed.length;
// Skips are listed by name so none hides behind the count.
for (const f of j.testResults ?? []) for (const t of f.assertionResults ?? []) if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') console.log(`skipped: ${t.fullName}`);
for (const name of extra.failed) console.log(`failed: ${name}`);
console.log(`${j.numPassedTests + extra.passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : (r.status ?? 1) || extraStatus);
