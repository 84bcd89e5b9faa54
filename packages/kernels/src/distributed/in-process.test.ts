import { describe, expect, it } from 'vitest';
import { inProcessGroups } from './in-process.js';

describe('inProcessGroups', () => {
  it('collectives meet across ranks', async () => {
    const pgs = inProcessGroups(3);
    const results = await Promise.all(
      pgs.map(async (pg) => {
        const s = Float32Array.of(pg.rank, 1);
        await pg.allReduce(s, 'sum');
        const m = Float32Array.of(pg.rank);
        await pg.allReduce(m, 'max');
        const b = Int32Array.of(pg.rank * 10);
        await pg.broadcast(b, 2);
        const g = await pg.allGather(Uint8Array.of(pg.rank));
        const j = await pg.allGatherJson({ rank: pg.rank, text: 'x'.repeat(pg.rank) });
        await pg.barrier();
        return { s: [...s], m: [...m], b: [...b], g: g.map((a) => a[0]), j };
      }),
    );
    for (const r of results) {
      expect(r.s).toEqual([3, 3]);
      expect(r.m).toEqual([2]);
      expect(r.b).toEqual([20]);
      expect(r.g).toEqual([0, 1, 2]);
      expect(r.j).toEqual([{ rank: 0, text: '' }, { rank: 1, text: 'x' }, { rank: 2, text: 'xx' }]);
    }
  });

  it('a rank calling another collective is an error, not a hang', async () => {
    const [a, b] = inProcessGroups(2);
    const r = await Promise.allSettled([a!.barrier(), b!.allReduce(Float32Array.of(1))]);
    expect(r.some((x) => x.status === 'rejected' && /called allReduce\(sum\) as collective #0 where another rank called barrier/.test(String(x.reason)))).toBe(true);
  });
});
