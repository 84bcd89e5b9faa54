// Flags and suite dispatch. A suite is a file in ./suites exporting `run(options)`; add `vae`,
// `stdit`, `train` there and list them in SUITES.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { formatTable, type Row } from './report.js';

export interface SuiteOptions {
  threads: number;
  /** Backends of ours to measure ('native', 'cpu'); the suite skips those that cannot start. */
  backends: string[];
  /** Compare with PyTorch CPU (off with --no-torch). */
  torch: boolean;
  /** Only these ops (all when empty). */
  ops: string[];
  log: (line: string) => void;
}

const SUITES: Record<string, () => Promise<{ run: (o: SuiteOptions) => Promise<Row[]> }>> = {
  kernels: () => import('./suites/kernels.js'),
};

const USAGE = `usage: pnpm bench <suite> [--threads N] [--json FILE] [--backends native,cpu] [--ops a,b] [--no-torch]
suites: ${Object.keys(SUITES).join(', ')}
  --threads N   threads for every backend and for PyTorch (default OPENSORA_THREADS, then all ${availableParallelism()} cores)
  --json FILE   also write the rows as JSON: [{op, backend, threads, ms, gflops, ratio_to_torch}]
  --backends    which of our backends to run (default native,cpu; cpu only where it takes under about a minute)
  --ops         a comma-separated subset of the suite's ops
  --no-torch    skip the PyTorch comparison`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      threads: { type: 'string' },
      json: { type: 'string' },
      backends: { type: 'string', default: 'native,cpu' },
      ops: { type: 'string', default: '' },
      'no-torch': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const suite = positionals[0];
  if (values.help || !suite) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const load = SUITES[suite];
  if (!load) {
    console.error(`unknown suite '${suite}'; expected one of ${Object.keys(SUITES).join(', ')}`);
    process.exit(2);
  }
  const rawThreads = values.threads ?? process.env.OPENSORA_THREADS;
  const threads = rawThreads ? Number(rawThreads) : availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    console.error(`--threads ${rawThreads}: expected a positive integer`);
    process.exit(2);
  }
  // Our backends read OPENSORA_THREADS at registration; keep one thread count for everything.
  process.env.OPENSORA_THREADS = String(threads);
  const list = (s: string) => s.split(',').map((v) => v.trim()).filter(Boolean);
  const rows = await (await load()).run({
    threads,
    backends: list(values.backends!),
    torch: !values['no-torch'],
    ops: list(values.ops!),
    log: (line) => process.stderr.write(line + '\n'),
  });
  console.log(formatTable(rows));
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
    process.stderr.write(`wrote ${rows.length} rows to ${values.json}\n`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
