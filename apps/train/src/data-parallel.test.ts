// The rank helpers of the trainers, on kernels' in-process groups: rank 0's value reaches every rank,
// messages name their rank, and what stops a rank says why.
import { describe, expect, it } from 'vitest';
import { inProcessGroups, singleProcessGroup } from '@opensora-ts/kernels';
import { describeWorldSizeChange, emptyBatchError, fromRankZero, rankContext } from './data-parallel.js';
import { RNG_SCHEME, warnRngScheme } from './dit-trainer.js';

describe('data-parallel helpers', () => {
  it('rank 0 decides, messages carry the rank', async () => {
    const groups = inProcessGroups(3);
    const got = await Promise.all(groups.map(async (pg) => fromRankZero(pg, `ckpt-of-rank-${pg.rank}`)));
    expect(got).toEqual(['ckpt-of-rank-0', 'ckpt-of-rank-0', 'ckpt-of-rank-0']);
    const lines: string[] = [];
    rankContext(groups[2]!, (l) => lines.push(l)).say('hello');
    rankContext(groups[0]!, (l) => lines.push(l)).say('hello');
    expect(lines).toEqual(['[rank 2] hello', 'hello']);
  });

  it('names a world-size change and an empty batch on a rank', () => {
    expect(describeWorldSizeChange(undefined, 1)).toBeNull();
    expect(describeWorldSizeChange(4, 2)).toMatch(/world size 4 at world size 2: the sampler re-shards the rest of the epoch and each global batch now holds 2 x the per-rank batch size \(was 4 x\)/);
    const [, r1] = inProcessGroups(2);
    expect(emptyBatchError(rankContext(singleProcessGroup(), () => {}), ['3-9-32-32'], 'x.csv')).toBeNull();
    expect(emptyBatchError(rankContext(r1!, () => {}), ['3-9-32-32', '5-9-32-32'], '/run/skipped-rank-1.csv')!.message).toBe(
      'rank 1: every sample of a batch failed to load (3-9-32-32, 5-9-32-32; reasons in /run/skipped-rank-1.csv); in a data-parallel run every rank must train every step. Remove those rows from the metadata CSV (or fix the files) and resume.',
    );
  });

  it('warns when a checkpoint drew its randoms the pre-per-sample way', () => {
    const lines: string[] = [];
    warnRngScheme(RNG_SCHEME, RNG_SCHEME, (l) => lines.push(l));
    warnRngScheme(undefined, RNG_SCHEME, (l) => lines.push(l));
    expect(lines).toEqual([]);
    warnRngScheme('mixSeed(seed, microStep, stream)', RNG_SCHEME, (l) => lines.push(l));
    expect(lines[0]).toMatch(/^warning: the checkpoint's random draws follow 'mixSeed\(seed, microStep, stream\)', this version's .*per sample.*; the resumed run will not repeat/);
  });
});

