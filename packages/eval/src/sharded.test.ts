// Item-parallel eval over N in-memory ranks: each item computed once by its owner, every rank
// gets the single-process results, resumed items are not recomputed, and one rank's failure
// fails every rank with that rank named.
import { describe, expect, it } from 'vitest';
import { inProcessGroups, shardOwner } from '@opensora-ts/kernels';
import { groundTruthSampler, shapesPromptSuite } from './sampler.js';
import { scoreShapesSamples } from './samples-eval.js';
import { runSharded, ShardedWorkError } from './sharded.js';
import { combinePairMetrics, pairMetrics, reconstructionMetrics } from './vae-metrics.js';
import type { SampleScore } from './results.js';

describe('runSharded', () => {
  it('every item once, by its owner; all ranks get the results in item order (N 1..5, 11 items)', async () => {
    for (let n = 1; n <= 5; n++) {
      const ran: [number, number][] = [];
      const all = await Promise.all(
        inProcessGroups(n).map((g) => runSharded(11, async (i) => (ran.push([g.rank, i]), { i, sq: i * i }), { group: g })),
      );
      for (const r of all) expect(r).toEqual(Array.from({ length: 11 }, (_, i) => ({ i, sq: i * i })));
      expect(ran.map(([, i]) => i).sort((a, b) => a - b)).toEqual(Array.from({ length: 11 }, (_, i) => i));
      for (const [rank, i] of ran) expect(shardOwner(i, 11, n)).toBe(rank);
    }
  });

  it('takes done items as they are and stores the new ones', async () => {
    const stored = new Map<number, number>([[1, 100], [4, 400]]);
    const ran: number[] = [];
    const r = await runSharded(5, async (i) => (ran.push(i), i), { done: (i) => stored.get(i), onDone: (i, v) => stored.set(i, v) });
    expect(r).toEqual([0, 100, 2, 3, 400]);
    expect(ran).toEqual([0, 2, 3]);
    expect([...stored.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('a failure on one rank fails every rank, naming it', async () => {
    const groups = inProcessGroups(3);
    const r = await Promise.allSettled(
      groups.map((g) => runSharded(6, async (i) => {
        if (i === 4) throw new Error('video 4 is unreadable');
        return i;
      }, { group: g })),
    );
    for (const x of r) {
      expect(x.status).toBe('rejected');
      const e = (x as PromiseRejectedResult).reason as Error;
      expect(e).toBeInstanceOf(ShardedWorkError);
      expect(e.message).toMatch(/1 of 3 ranks failed: rank 1: video 4 is unreadable/);
    }
  });
});

function video(fill: (t: number, i: number) => number, T = 3, H = 12, W = 12) {
  const data = new Uint8Array(T * H * W * 3);
  for (let t = 0; t < T; t++) for (let i = 0; i < H * W * 3; i++) data[t * H * W * 3 + i] = fill(t, i);
  return { data, numFrames: T, height: H, width: W };
}

describe('sharded VAE metrics and samples', () => {
  it('pairs scored on 3 ranks merge to reconstructionMetrics of all pairs, exactly', async () => {
    const pairs = Array.from({ length: 7 }, (_, k) => ({
      real: video((t, i) => (i * 37 + k) % 256),
      recon: video((t, i) => Math.min(255, ((i * 37 + k) % 256) + t * k)),
    }));
    const one = reconstructionMetrics(pairs);
    const merged = await Promise.all(
      inProcessGroups(3).map(async (g) => combinePairMetrics(await runSharded(pairs.length, async (i) => pairMetrics(pairs[i]!.real, pairs[i]!.recon), { group: g }))),
    );
    for (const m of merged) expect(m).toEqual(one);
  });

  it('a shapes suite sampled on 2 ranks scores as in one process; each video sampled once', async () => {
    const suite = shapesPromptSuite(5, { height: 72, width: 128, numFrames: 9 });
    const gt = groundTruthSampler(suite);
    const prompts = suite.map((s) => s.prompt);
    const one = await scoreShapesSamples(prompts, gt, { seeds: [3, 50], generationMetrics: true });
    const calls: string[] = [];
    const saved: string[] = [];
    const both = await Promise.all(
      inProcessGroups(2).map((g) =>
        scoreShapesSamples(prompts, (p, s) => (calls.push(`${g.rank}:${s}`), gt(p, s)), {
          seeds: [3, 50],
          generationMetrics: true,
          group: g,
          saveDir: '/videos',
          write: async (f) => void saved.push(f),
        }),
      ),
    );
    for (const r of both) {
      expect({ ...r, videos: r.videos.map(({ file: _f, ...v }) => v) }).toEqual(one);
      expect(r.videos.map((v) => v.file)).toEqual(Array.from({ length: 10 }, (_, k) => `/videos/sample_${String(k).padStart(4, '0')}.mp4`));
    }
    expect(calls.length).toBe(10);
    expect(calls.filter((c) => c.startsWith('0:')).map((c) => Number(c.slice(2)))).toEqual([3, 5, 7, 51, 53]);
    expect(saved.sort()).toEqual(both[0]!.videos.map((v) => v.file!).sort());
    // Resumed: stored rows are not sampled again.
    const rows = new Map<number, SampleScore>(one.videos.map((v, k) => [k, v]));
    rows.delete(7);
    const resampled: number[] = [];
    const again = await scoreShapesSamples(prompts, (p, s) => (resampled.push(s), gt(p, s)), { seeds: [3, 50], generationMetrics: true, done: (k) => rows.get(k) });
    expect(resampled).toEqual([52]);
    expect(again).toEqual(one);
  });
});
