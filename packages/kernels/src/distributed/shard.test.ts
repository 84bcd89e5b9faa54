import { describe, expect, it } from 'vitest';
import { singleProcessGroup } from './process-group.js';
import { shardItems, shardOf, shardOwner, unshard, type ShardLayout } from './shard.js';

const layouts: ShardLayout[] = ['strided', 'contiguous'];
const counts = [0, 1, 2, 3, 5, 7, 8, 9, 13, 16, 31, 100];

describe('shardOf', () => {
  for (const layout of layouts) {
    it(`${layout}: every item exactly once, shares within one, ascending, owner agrees (N 1..8)`, () => {
      for (let n = 1; n <= 8; n++) {
        for (const count of counts) {
          const seen = new Array<number>(count).fill(0);
          const sizes: number[] = [];
          for (let rank = 0; rank < n; rank++) {
            const idx = shardOf(count, { rank, worldSize: n }, layout);
            sizes.push(idx.length);
            for (let k = 1; k < idx.length; k++) expect(idx[k]).toBeGreaterThan(idx[k - 1]!);
            for (const i of idx) {
              seen[i]! += 1;
              expect(shardOwner(i, count, n, layout)).toBe(rank);
            }
          }
          expect(seen.every((c) => c === 1), `count ${count} world ${n}`).toBe(true);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
          // Deterministic: the same call gives the same split.
          expect(shardOf(count, { rank: n - 1, worldSize: n }, layout)).toEqual(
            shardOf(count, { rank: n - 1, worldSize: n }, layout),
          );
        }
      }
    });
  }

  it('strided takes every N-th item; contiguous one run each, larger runs first', () => {
    expect(shardOf(7, { rank: 1, worldSize: 3 })).toEqual([1, 4]);
    expect(shardOf(7, { rank: 0, worldSize: 3 }, 'contiguous')).toEqual([0, 1, 2]);
    expect(shardOf(7, { rank: 1, worldSize: 3 }, 'contiguous')).toEqual([3, 4]);
    expect(shardOf(7, { rank: 2, worldSize: 3 }, 'contiguous')).toEqual([5, 6]);
    expect(shardOf(2, { rank: 3, worldSize: 4 })).toEqual([]);
  });

  it('a world of one owns everything', () => {
    expect(shardOf(5, singleProcessGroup())).toEqual([0, 1, 2, 3, 4]);
    expect(shardItems(['a', 'b'], singleProcessGroup())).toEqual(['a', 'b']);
  });

  it('refuses bad arguments by name', () => {
    expect(() => shardOf(-1, { rank: 0, worldSize: 1 })).toThrow(/item count -1/);
    expect(() => shardOf(3, { rank: 2, worldSize: 2 })).toThrow(/rank 2 is not in 0\.\.1/);
    expect(() => shardOf(3, { rank: 0, worldSize: 0 })).toThrow(/world size 0/);
    expect(() => shardOf(3, { rank: 0, worldSize: 1 }, 'blocks' as ShardLayout)).toThrow(/layout 'blocks'/);
    expect(() => shardOwner(3, 3, 2)).toThrow(/item 3 is not in 0\.\.2/);
  });
});

describe('unshard', () => {
  for (const layout of layouts) {
    it(`${layout}: per-rank results go back in item order`, () => {
      for (let n = 1; n <= 8; n++) {
        for (const count of counts) {
          const items = Array.from({ length: count }, (_, i) => `item${i}`);
          const perRank = Array.from({ length: n }, (_, rank) => shardItems(items, { rank, worldSize: n }, layout));
          expect(unshard(perRank, count, layout)).toEqual(items);
        }
      }
    });
  }

  it('names the rank that returned the wrong number of results', () => {
    expect(() => unshard([[0, 2], [1]], 4)).toThrow(/rank 1 returned 1 results for its 2 items/);
    expect(() => unshard([], 4)).toThrow(/one result list per rank/);
  });
});
