// Which items of a list each rank owns when work (eval items, cache entries, prompts) is split
// over a process group. Pure arithmetic on (count, rank, worldSize): every rank computes the
// same split with no communication, every item has exactly one owner, and shares differ in size
// by at most one. Two layouts:
//   strided    (default) rank r owns r, r+N, r+2N, ...: items sorted by size or bucket spread
//              evenly, so no rank gets all the long videos.
//   contiguous rank r owns one run [floor(r*count/N), floor((r+1)*count/N)): outputs that are
//              numbered files land in ranges, and a rank's items are neighbours on disk.

export type ShardLayout = 'strided' | 'contiguous';

/** The part of a process group the split depends on (a `ProcessGroup` is one). */
export interface ShardRank {
  readonly rank: number;
  readonly worldSize: number;
}

function checkArgs(count: number, rank: number, worldSize: number, layout: string): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`shard: item count ${count} is not a whole number >= 0`);
  }
  if (!Number.isSafeInteger(worldSize) || worldSize < 1) {
    throw new RangeError(`shard: world size ${worldSize} is not a whole number >= 1`);
  }
  if (!Number.isSafeInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`shard: rank ${rank} is not in 0..${worldSize - 1} (world size ${worldSize})`);
  }
  if (layout !== 'strided' && layout !== 'contiguous') {
    throw new RangeError(`shard: layout '${layout}' is not 'strided' or 'contiguous'`);
  }
}

/**
 * The indices (0 ... count-1, ascending) of the items `rank` owns out of `count`.
 * `shardOf(n, pg)` with a process group; a world of one owns every item.
 */
export function shardOf(count: number, group: ShardRank, layout: ShardLayout = 'strided'): number[] {
  const { rank, worldSize } = group;
  checkArgs(count, rank, worldSize, layout);
  const out: number[] = [];
  if (layout === 'strided') {
    for (let i = rank; i < count; i += worldSize) out.push(i);
  } else {
    const [start, end] = contiguousRange(count, rank, worldSize);
    for (let i = start; i < end; i++) out.push(i);
  }
  return out;
}

function contiguousRange(count: number, rank: number, worldSize: number): [number, number] {
  // Integer arithmetic in the form that cannot overflow for safe-integer counts.
  const q = Math.floor(count / worldSize);
  const r = count % worldSize;
  const at = (k: number) => k * q + Math.min(k, r);
  return [at(rank), at(rank + 1)];
}

/** The rank that owns item `index` out of `count` (the inverse of `shardOf`). */
export function shardOwner(index: number, count: number, worldSize: number, layout: ShardLayout = 'strided'): number {
  checkArgs(count, 0, worldSize, layout);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`shard: item ${index} is not in 0..${count - 1}`);
  }
  if (layout === 'strided') return index % worldSize;
  const q = Math.floor(count / worldSize);
  const r = count % worldSize;
  // The first r ranks hold q+1 items, the rest q.
  return index < r * (q + 1) ? Math.floor(index / (q + 1)) : r + Math.floor((index - r * (q + 1)) / q);
}

/** Items `rank` owns: `items` filtered by `shardOf(items.length, group, layout)`. */
export function shardItems<T>(items: readonly T[], group: ShardRank, layout: ShardLayout = 'strided'): T[] {
  return shardOf(items.length, group, layout).map((i) => items[i]!);
}

/**
 * Puts per-rank results back in item order: `perRank[r]` holds rank r's results for
 * `shardOf(count, {rank: r, worldSize})` in that order (what `allGatherJson` of each rank's
 * results returns). Throws if a rank sent the wrong number of results.
 */
export function unshard<T>(perRank: readonly (readonly T[])[], count: number, layout: ShardLayout = 'strided'): T[] {
  const worldSize = perRank.length;
  checkArgs(count, 0, Math.max(worldSize, 1), layout);
  if (worldSize === 0) throw new RangeError('shard: unshard needs one result list per rank (got none)');
  const out = new Array<T>(count);
  perRank.forEach((results, rank) => {
    const idx = shardOf(count, { rank, worldSize }, layout);
    if (results.length !== idx.length) {
      throw new RangeError(
        `shard: rank ${rank} returned ${results.length} results for its ${idx.length} items (of ${count}, world size ${worldSize})`,
      );
    }
    idx.forEach((i, k) => (out[i] = results[k]!));
  });
  return out;
}
