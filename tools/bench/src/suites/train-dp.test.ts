// The data-parallel rows come from the trainer's log: medians after the warm-up steps.
import { describe, expect, it } from 'vitest';
import { formatDpRows, summarizeLog } from './train-dp.js';

describe('train --nproc', () => {
  it('summarizes step time, samples/s and all-reduce time after the warm-up steps', () => {
    const recs = [
      { type: 'start', step: 0, trainable: 1000 },
      { type: 'step', step: 1, samples: 4, samples_per_sec: 0.5, allreduce_ms: 90 },
      { type: 'step', step: 2, samples: 4, samples_per_sec: 8, allreduce_ms: 3 },
      { type: 'step', step: 3, samples: 4, samples_per_sec: 10, allreduce_ms: 5 },
      { type: 'step', step: 4, samples: 4, samples_per_sec: 4, allreduce_ms: 4 },
    ];
    const s = summarizeLog(recs, 1);
    expect(s.steps).toBe(3);
    expect(s.ms).toBeCloseTo(500, 6); // median of 500, 400, 1000
    expect(s.samplesPerS).toBeCloseTo(8, 6);
    expect(s.allreduceMs).toBe(4);
    expect(summarizeLog([{ type: 'step', step: 5, samples: 2, samples_per_sec: 2 }], 1).allreduceMs).toBeNull();
    expect(() => summarizeLog(recs, 4)).toThrow(/no step after the first 4/);
  });

  it('prints one row per run', () => {
    const text = formatDpRows([
      { suite: 'train', case: 'tiny.dp-step', backend: 'native', nproc: 2, threads: 1, batch_per_rank: 2, global_batch: 4, ms: 812.4, samples_per_s: 4.92, allreduce_ms: 3.21, note: 'x' },
    ]);
    const [head, , row] = text.split('\n');
    expect(head).toMatch(/^case\s+backend\s+nproc\s+threads\/rank\s+batch\/rank\s+global batch\s+ms\/step\s+samples\/s\s+all-reduce ms\/step\s+note$/);
    expect(row).toMatch(/^tiny\.dp-step\s+native\s+2\s+1\s+2\s+4\s+812\s+4\.92\s+3\.21\s+x$/);
  });
});
