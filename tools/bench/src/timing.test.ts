import { afterEach, describe, expect, it } from 'vitest';
import { benchClock, timeIt } from './timing.js';

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe('timeIt clocks', () => {
  const saved = process.env.OPENSORA_BENCH_CLOCK;
  afterEach(() => {
    if (saved === undefined) delete process.env.OPENSORA_BENCH_CLOCK;
    else process.env.OPENSORA_BENCH_CLOCK = saved;
  });

  it('wall time counts a sleeping step, process CPU time does not', () => {
    process.env.OPENSORA_BENCH_CLOCK = 'wall';
    expect(timeIt(() => sleep(30), { warmup: 0, minReps: 2, maxReps: 2 })).toBeGreaterThanOrEqual(29);
    process.env.OPENSORA_BENCH_CLOCK = 'cpu';
    expect(timeIt(() => sleep(30), { warmup: 0, minReps: 2, maxReps: 2 })).toBeLessThan(15);
  });

  it('refuses an unknown clock by name', () => {
    process.env.OPENSORA_BENCH_CLOCK = 'gpu';
    expect(() => benchClock()).toThrow(/OPENSORA_BENCH_CLOCK='gpu': expected 'wall' or 'cpu'/);
  });
});
