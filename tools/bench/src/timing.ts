// Timing policy shared by suites: a warm-up call, then repetitions until a time budget is
// spent (at least `minReps`), reporting the fastest. On a shared machine other processes only
// ever add time, so the minimum is the least-disturbed run (PyTorch's side, ./torch.ts, does
// the same). Slow backends pass a budget of 0 to run once.
export interface TimingOptions {
  warmup?: number;
  minReps?: number;
  maxReps?: number;
  budgetMs?: number;
}

/**
 * What a repetition is timed with: wall time, or with `--clock cpu` (OPENSORA_BENCH_CLOCK=cpu) the
 * process's CPU time, which other processes on a loaded machine disturb far less. CPU time equals
 * wall time only for one-thread runs, so compare it at `--threads 1`. PyTorch's side reads the same
 * variable (time.process_time).
 */
export function benchClock(): 'wall' | 'cpu' {
  const raw = process.env.OPENSORA_BENCH_CLOCK;
  if (raw === undefined || raw === '' || raw === 'wall') return 'wall';
  if (raw === 'cpu') return 'cpu';
  throw new Error(`OPENSORA_BENCH_CLOCK='${raw}': expected 'wall' or 'cpu'`);
}

function nowMs(clock: 'wall' | 'cpu'): number {
  if (clock === 'wall') return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function timeIt(step: () => void, { warmup = 1, minReps = 3, maxReps = 20, budgetMs = 2000 }: TimingOptions = {}): number {
  const clock = benchClock();
  for (let i = 0; i < warmup; i++) step();
  const times: number[] = [];
  // The budget is always wall time: it bounds how long the case takes.
  const start = performance.now();
  while (times.length < minReps || (times.length < maxReps && performance.now() - start < budgetMs)) {
    const t0 = nowMs(clock);
    step();
    times.push(nowMs(clock) - t0);
  }
  return Math.min(...times);
}
