// The eval loss sharded over ranks: every rank scores a share of each bucket's batches and the
// merged report is the one a single process writes, number for number; stored batches are not
// scored again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inProcessGroups, shardOf, tf } from '@opensora-ts/kernels';
import type { EvalBatch, ModelFn } from '@opensora-ts/flow';
import { parseEvalLossConfig, type EvalBucket } from './eval-loss-config.js';
import { runEvalLoss, type BatchLosses, type EvalLossSource } from './eval-loss.js';
import { ItemStore } from './item-store.js';

const dir = mkdtempSync(join(tmpdir(), 'eval-loss-sharded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const model: ModelFn = (x, t, c) =>
  tf.tidy(() => x.mul(tf.scalar(1).sub(t.div(1000).reshape([-1, 1, 1, 1, 1]).mul(2))).add(c.y.mean([1, 2, 3]).reshape([-1, 1, 1, 1, 1])));

// Bucket "r/f" has this many batches; batch i of a bucket is built from (bucket, i) alone.
const sizes: Record<string, number[]> = { '144p/17': [2, 2, 2, 1], '240p/17': [2], '240p/33': [], '360p/9': [2, 2, 2, 2, 2] };
const key = (b: EvalBucket) => `${b.resolution}/${b.numFrames}`;

function source(loaded: string[]): EvalLossSource {
  return {
    count: (b) => sizes[key(b)]!.length,
    async load(b, positions) {
      loaded.push(...positions.map((i) => `${key(b)}#${i}`));
      const seed = Object.keys(sizes).indexOf(key(b)) * 100 + 1; // tfjs draws at random for seed 0
      return positions.map((i): EvalBatch => {
        const B = sizes[key(b)]![i]!;
        return tf.tidy(() => ({
          x0: tf.randomNormal([B, 4, 2, 3, 3], 0, 1, 'float32', seed + i),
          text: { y: tf.randomNormal([B, 1, 5, 8], 0, 1, 'float32', seed + i + 50) },
          meta: { height: 24, width: 24, numFrames: 5, fps: 8 },
          index: i,
        }));
      });
    },
  };
}

const config = parseEvalLossConfig({
  bucket_config: { '144p': { '17': [1.0, 2] }, '240p': { '17': [1.0, 2], '33': [1.0, 2] }, '360p': { '9': [1.0, 2] } },
  num_eval_timesteps: 3,
  dtype: 'fp32',
  seed: 11,
});

describe('runEvalLoss sharded', () => {
  it('N ranks merge to the single-process report exactly (N = 2, 3, 7)', async () => {
    const before = tf.memory().numTensors;
    const one = await runEvalLoss(model, source([]), config);
    expect(one.buckets.map((b) => [key({ ...b, batchSize: 0 }), b.samples, b.batches])).toEqual([['144p/17', 7, 4], ['240p/17', 2, 1], ['360p/9', 10, 5]]);
    expect(one.skipped.map((s) => s.resolution + '/' + s.numFrames)).toEqual(['240p/33']);
    for (const n of [2, 3, 7]) {
      const loaded: string[][] = Array.from({ length: n }, () => []);
      const reports = await Promise.all(inProcessGroups(n).map((g) => runEvalLoss(model, source(loaded[g.rank]!), config, { group: g })));
      for (const r of reports) {
        expect(r.buckets).toEqual(one.buckets);
        expect(r.skipped).toEqual(one.skipped);
      }
      // Each rank loaded only its own batches, and every batch was loaded once.
      loaded.forEach((l, rank) => {
        for (const s of l) expect(shardOf(sizes[s.split('#')[0]!]!.length, { rank, worldSize: n })).toContain(Number(s.split('#')[1]));
      });
      expect(loaded.flat().sort()).toEqual(Object.entries(sizes).flatMap(([k, v]) => v.map((_, i) => `${k}#${i}`)).sort());
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('resumes: stored batches are not loaded again and the report is unchanged', async () => {
    const full = await runEvalLoss(model, source([]), config);
    const store = new ItemStore<BatchLosses>(join(dir, 'parts'), 'fp1');
    const name = (b: EvalBucket, i: number) => `loss-${b.resolution}-${b.numFrames}f-b${i}`;
    // A first run stopped after three batches (as if killed).
    let stored = 0;
    await expect(
      runEvalLoss(model, source([]), config, {
        onBatchDone: (b, i, l) => {
          if (stored++ === 3) throw new Error('killed');
          store.put(name(b, i), l);
        },
      }),
    ).rejects.toThrow('killed');
    const loaded: string[] = [];
    const again = await runEvalLoss(model, source(loaded), config, {
      done: (b, i) => store.get(name(b, i)),
      onBatchDone: (b, i, l) => store.put(name(b, i), l),
    });
    expect(again.buckets).toEqual(full.buckets);
    expect(loaded).not.toContain('144p/17#0');
    expect(loaded).toContain('360p/9#4');
    expect(loaded.length).toBe(10 - 3);
    // Other inputs (another fingerprint) reuse nothing.
    expect(new ItemStore<BatchLosses>(join(dir, 'parts'), 'fp2').get(name({ resolution: '144p', numFrames: 17, batchSize: 2 }, 0))).toBeUndefined();
    store.removeOwn();
    expect(store.get(name({ resolution: '144p', numFrames: 17, batchSize: 2 }, 0))).toBeUndefined();
  });
});
