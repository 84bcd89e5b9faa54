// Flags and suite dispatch. A suite is a file in ./suites exporting `run(options)` (and
// `formatRows(rows)` when its rows are not kernel rows); list it in SUITES.
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { formatTable, type CaseRow, type Row } from './report.js';
import { benchClock } from './timing.js';

export interface SuiteOptions {
  threads: number;
  /** Backends of ours to measure ('native', 'torch', 'cpu'); the suite skips those that cannot start. */
  backends: string[];
  /** Compare with PyTorch CPU (off with --no-torch). */
  torch: boolean;
  /** Only these ops or cases (all when empty). */
  ops: string[];
  /** stdit: also run the full STDiT3-XL/2 forward (minutes, ~5 GB). */
  xl: boolean;
  log: (line: string) => void;
  /** A line printed under the table (stdout), e.g. which libtorch / PyTorch each row ran on. */
  footer: (line: string) => void;
}

interface Suite {
  run: (o: SuiteOptions) => Promise<Row[] | CaseRow[]>;
  formatRows?: (rows: never[]) => string;
}

const SUITES: Record<string, () => Promise<Suite>> = {
  kernels: () => import('./suites/kernels.js'),
  vae: () => import('./suites/vae.js'),
  stdit: () => import('./suites/stdit.js'),
  train: () => import('./suites/train.js'),
  t5: () => import('./suites/t5.js'),
};

const USAGE = `usage: pnpm bench <suite> [--threads N] [--json FILE] [--backends native,torch,cpu] [--ops a,b] [--no-torch] [--xl] [--nproc 1,2] [--clock wall|cpu]
suites: ${Object.keys(SUITES).join(', ')}
  --threads N   threads for every backend and for PyTorch (default OPENSORA_THREADS, then all ${availableParallelism()} cores)
  --json FILE   also write the rows as JSON: kernels [{op, backend, threads, ms, gflops, ratio_to_torch}],
                vae/stdit [{suite, case, backend, threads, ms, peak_rss_mb, ratio_to_torch, note}],
                train: the same plus {batch, samples_per_s}
  --backends    which of our backends to run: native, torch (@opensora-ts/tfjs-backend-torch on OPENSORA_DEVICE, at
                OPENSORA_PRECISION), cpu (default native,cpu; cpu only where it takes under about a minute).
                PyTorch's rows are named pytorch
  --ops         a comma-separated subset of the suite's ops (kernels) or cases (vae, stdit, train; --cases is the same)
  --no-torch    skip the PyTorch comparison
  t5 cases      base, xxl (T5 v1.1 shapes; one 300-token prompt from bf16 shards written to a temporary folder,
                ~9.5 GB for xxl); the transformers side runs when OPENSORA_PYTHON has torch >= 2.5 and transformers
  --nproc 1,2   train: data-parallel instead, N ranks per value through torchrun (/usr/bin/python3 -m
                torch.distributed.run) of opensora-train on a tiny run: ms/step, samples/s, all-reduce ms/step;
                the pytorch row is gloo's all-reduce of as many gradient values (OPENSORA_PYTHON's torch)
  --clock cpu   time each repetition by process CPU time on both sides (default wall): far less disturbed by
                other processes on a shared machine; equal to wall time only at --threads 1, so use it there
  --xl          stdit: also run STDiT3-XL/2 (random weights) one forward on [1,16,1,32,32] on native (minutes, ~5 GB)
env: OPENSORA_REFERENCE (checkout of hpcaitech/Open-Sora v1.3, for vae/stdit/train's reference side),
     OPENSORA_PYTHON (python3 with torch), OPENSORA_THREADS (default --threads),
     OPENSORA_DEVICE / OPENSORA_PRECISION (the torch backend's device and precision),
     OPENSORA_TORCH_ADDON (another build of the torch backend's addon, e.g. against a second libtorch)`;

const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      threads: { type: 'string' },
      clock: { type: 'string' },
      json: { type: 'string' },
      backends: { type: 'string', default: 'native,cpu' },
      ops: { type: 'string', default: '' },
      cases: { type: 'string', default: '' },
      'no-torch': { type: 'boolean', default: false },
      xl: { type: 'boolean', default: false },
      nproc: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const suite = positionals[0];
  if (values.help || !suite) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const loadSuite = SUITES[suite];
  if (!loadSuite) {
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
  if (values.clock !== undefined) {
    if (values.clock !== 'wall' && values.clock !== 'cpu') {
      console.error(`--clock ${values.clock}: expected wall or cpu`);
      process.exit(2);
    }
    process.env.OPENSORA_BENCH_CLOCK = values.clock; // read by both sides (timing.ts, torch.ts's python)
  }
  const list = (s: string) => s.split(',').map((v) => v.trim()).filter(Boolean);
  if (values.nproc !== undefined && suite !== 'train') {
    console.error(`--nproc is an option of the train suite (got suite '${suite}')`);
    process.exit(2);
  }
  const nprocs = values.nproc === undefined ? null : list(values.nproc).map(Number);
  if (nprocs && (nprocs.length === 0 || nprocs.some((n) => !Number.isInteger(n) || n < 1))) {
    console.error(`--nproc ${values.nproc}: expected positive integers, e.g. --nproc 1,2`);
    process.exit(2);
  }
  const mod: Suite = nprocs
    ? await import('./suites/train-dp.js').then((m) => ({ run: (o: SuiteOptions) => m.runDataParallel(o, nprocs) as Promise<never>, formatRows: m.formatDpRows as (rows: never[]) => string }))
    : await loadSuite();
  // The machine may be shared: the load average says how noisy the timings are.
  const loadBefore = load();
  const footer: string[] = [];
  const rows = await mod.run({
    threads,
    backends: list(values.backends!),
    torch: !values['no-torch'],
    ops: [...list(values.ops!), ...list(values.cases!)],
    xl: values.xl!,
    log: (line) => process.stderr.write(line + '\n'),
    footer: (line) => footer.push(line),
  });
  console.log(mod.formatRows ? mod.formatRows(rows as never[]) : formatTable(rows as Row[]));
  for (const line of footer) console.log(line);
  console.log(`load average (1, 5, 15 min): ${loadBefore} at start, ${load()} at end; ${threads} thread(s); ${benchClock() === 'cpu' ? 'process CPU time' : 'wall time'}`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
    process.stderr.write(`wrote ${rows.length} rows to ${values.json}\n`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
