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

export function timeIt(step: () => void, { warmup = 1, minReps = 3, maxReps = 20, budgetMs = 2000 }: TimingOptions = {}): number {
  for (let i = 0; i < warmup; i++) step();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || (times.length < maxReps && performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  return Math.min(...times);
}
