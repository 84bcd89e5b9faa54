// pnpm parity DIR...: one line per case (name, worst rel_l2, worst max_abs, verdict); exits
// non-zero when any case fails or its kind is not implemented. Folders holding case folders
// (e.g. the fixture root) are expanded.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compareParityOutput, initRuntime, loadParityCase, tf, type ParityReport } from '@opensora-ts/kernels';
import { loadRunners } from './providers.js';

function caseDirs(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    const dir = resolve(a);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new Error(`${a}: not a folder; pass case folders (holding case.json) or a folder of them.`);
    }
    if (existsSync(join(dir, 'case.json'))) out.push(dir);
    else {
      const inner = readdirSync(dir)
        .map((n) => join(dir, n))
        .filter((p) => existsSync(join(p, 'case.json')))
        .sort();
      if (inner.length === 0) throw new Error(`${a}: no case.json here or in its subfolders.`);
      out.push(...inner);
    }
  }
  return out;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const verbose = args.includes('--verbose') || args.includes('-v');
  const dirs = caseDirs(args.filter((a) => !a.startsWith('-')));
  if (dirs.length === 0) {
    console.error('usage: pnpm parity [--verbose] CASE_DIR... (e.g. ../shared/fixtures/opensora13/*/)');
    return 2;
  }
  const rt = await initRuntime();
  const runners = await loadRunners();
  let failed = 0;
  console.log(`parity on backend ${rt.backend}: ${dirs.length} case(s)`);
  for (const dir of dirs) {
    const c = loadParityCase(dir);
    const run = runners.get(c.json.kind);
    if (!run) {
      failed++;
      console.log(`${c.name.padEnd(22)} kind ${c.json.kind}: not implemented`);
      continue;
    }
    let report: ParityReport;
    const start = performance.now();
    try {
      const before = tf.memory().numTensors;
      const out = await run(c);
      report = compareParityOutput(c, out);
      const leaked = tf.memory().numTensors - before;
      if (leaked > 0 && verbose) console.log(`  note: ${leaked} tensors left allocated by the runner`);
    } catch (err) {
      failed++;
      console.log(`${c.name.padEnd(22)} error: ${(err as Error).message}`);
      if (verbose) console.log((err as Error).stack);
      continue;
    }
    const secs = ((performance.now() - start) / 1000).toFixed(1);
    if (!report.pass) failed++;
    console.log(
      `${c.name.padEnd(22)} rel_l2 ${fmt(report.worstRelL2).padStart(9)}  max_abs ${fmt(report.worstMaxAbs).padStart(9)}  ${report.pass ? 'pass' : 'FAIL'}  (${report.comparisons.length} compared, ${secs}s)`,
    );
    for (const cmp of report.comparisons) {
      if (!cmp.pass || verbose) {
        console.log(`    ${cmp.pass ? 'ok  ' : 'MISS'} ${cmp.name}: rel_l2 ${fmt(cmp.relL2)} max_abs ${fmt(cmp.maxAbs)}${cmp.detail ? ` (${cmp.detail})` : ''}`);
      }
    }
  }
  console.log(`${dirs.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`parity: ${(err as Error).message}`);
    process.exit(2);
  },
);
