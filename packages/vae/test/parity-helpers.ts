// Runs a copied fixture case (optionally a subset of its runs, so one test file stays short on
// the pure-JS cpu backend) through the package's parity runners and the shared comparison.
import { fileURLToPath } from 'node:url';
import { compareParityOutput, initRuntime, loadParityCase, type ParityReport } from '@opensora-ts/kernels';
import { parityRunners } from '../src/parity.js';

export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export async function runFixture(name: string, runs?: string[]): Promise<ParityReport> {
  await initRuntime({ announce: false });
  const c = loadParityCase(fixture(name));
  if (runs) {
    const all = (c.json.call?.runs ?? []) as { name: string }[];
    const missing = runs.filter((r) => !all.some((a) => a.name === r));
    if (missing.length) throw new Error(`${name}: no runs named ${missing.join(', ')}`);
    c.json.call = { ...c.json.call, runs: all.filter((r) => runs.includes(r.name)) };
    for (const key of [...c.expected.keys()]) if (!runs.some((r) => key.startsWith(`${r}.`))) c.expected.delete(key);
  }
  const runner = parityRunners[c.json.kind];
  if (!runner) throw new Error(`no runner for kind ${c.json.kind}`);
  const report = compareParityOutput(c, await runner(c));
  for (const cmp of report.comparisons) if (!cmp.pass) console.error(`${name} ${cmp.name}: rel_l2 ${cmp.relL2} max_abs ${cmp.maxAbs} ${cmp.detail ?? ''}`);
  return report;
}
