// The eval-loss protocol over buckets: the per-bucket numbers are the flow package's, the data
// comes from a real shapes-world CSV through the data package's bucket sampler, and the config
// errors say what to fix.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '@opensora-ts/kernels';
import { readMetadata, writeShapesWorld } from '@opensora-ts/data';
import { evalBucketLoss, evalLossTimesteps, type EvalBatch, type ModelFn } from '@opensora-ts/flow';
import { evalBuckets, parseEvalLossConfig } from './eval-loss-config.js';
import { evalLossTables, runEvalLoss } from './eval-loss.js';
import { evalBatchCount, loadEvalBatches } from './eval-data.js';

const dir = mkdtempSync(join(tmpdir(), 'eval-loss-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A deterministic toy "denoiser": a fixed scaling of x_t plus a caption-dependent offset.
const model: ModelFn = (x, t, c) =>
  tf.tidy(() => {
    const s = t.div(1000).reshape([-1, 1, 1, 1, 1]);
    const yMean = c.y.mean([1, 2, 3]).reshape([-1, 1, 1, 1, 1]);
    return x.mul(tf.scalar(1).sub(s.mul(2))).add(yMean);
  });

function toyBatch(seed: number, B: number): EvalBatch {
  return tf.tidy(() => ({
    x0: tf.randomNormal([B, 4, 2, 3, 3], 0, 1, 'float32', seed),
    text: { y: tf.randomNormal([B, 1, 5, 8], 0, 1, 'float32', seed + 1) },
    meta: { height: 24, width: 24, numFrames: 5, fps: 8 },
  }));
}

const clone = (b: EvalBatch): EvalBatch => ({ x0: b.x0.clone(), text: { y: b.text.y.clone() }, meta: b.meta });

describe('eval-loss config', () => {
  it('reads the reference keys and defaults', () => {
    const c = parseEvalLossConfig({ bucket_config: { '360p': { '113': [null, 6], '49': [1.0, null] }, '144p': { '17': [1.0, 2] } } });
    expect(c).toMatchObject({ num_eval_timesteps: 10, seed: 42, dtype: 'bf16', num_timesteps: 1000 });
    expect(evalBuckets(c)).toEqual([
      { resolution: '360p', numFrames: 113, batchSize: 6 },
      { resolution: '144p', numFrames: 17, batchSize: 2 },
    ]);
    expect(evalBuckets({ ...c, resolution: '144p' })).toEqual([{ resolution: '144p', numFrames: 17, batchSize: 2 }]);
  });
  it('names the bad key', () => {
    expect(() => parseEvalLossConfig({ bucket_config: {}, num_eval_timestep: 3 }, 'eval.json')).toThrow(/eval\.json.*num_eval_timestep/);
    expect(() => parseEvalLossConfig({ bucket_config: { '360p': { x: [1, 2] } } })).toThrow(/bucket_config\.360p\.x/);
    expect(() => parseEvalLossConfig({ bucket_config: { '360p': { '1': [1, 2] } }, resolution: '720p' })).toThrow(/'720p' is not in bucket_config/);
  });
});

describe('runEvalLoss', () => {
  it('reproduces the flow package per bucket and timestep, and tabulates', async () => {
    const config = parseEvalLossConfig({ bucket_config: { '144p': { '17': [1.0, 2] }, '240p': { '17': [1.0, 2], '33': [1.0, 2] } }, num_eval_timesteps: 4, dtype: 'fp32', seed: 7 });
    const data = new Map<string, EvalBatch[]>([
      ['144p/17', [toyBatch(1, 2), toyBatch(2, 1)]],
      ['240p/17', [toyBatch(3, 2)]],
    ]);
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const r = await runEvalLoss(model, async (b) => (data.get(`${b.resolution}/${b.numFrames}`) ?? []).map(clone), config, {
      onProgress: (p) => progress.push(p.timestepIndex),
    });
    expect(r.timesteps).toEqual(evalLossTimesteps(4));
    expect(r.buckets.map((b) => [b.resolution, b.numFrames, b.samples])).toEqual([['144p', 17, 3], ['240p', 17, 2]]);
    expect(r.skipped).toEqual([{ resolution: '240p', numFrames: 33, reason: expect.stringMatching(/no sample/) }]);
    for (const b of r.buckets) {
      const direct = await evalBucketLoss(model, () => data.get(`${b.resolution}/${b.numFrames}`)!, { numEvalTimesteps: 4, seed: 7 });
      expect(b.lossPerTimestep).toEqual(direct.lossPerTimestep);
      expect(b.loss).toBe(direct.loss);
    }
    // Batches handed to runEvalLoss are disposed; nothing else leaks.
    expect(tf.memory().numTensors).toBe(before);
    expect(progress.filter((x) => x === 3).length).toBeGreaterThan(0);
    const md = evalLossTables(r);
    expect(md).toContain('| 144p | 17 | 3 |');
    expect(md).toContain('| 240p | 33 | 0 | skipped');
    expect(md.split('\n').filter((l) => /^\| \d+\.\d\d \|/.test(l)).length).toBe(4);
    for (const v of data.values()) for (const b of v) [b.x0, b.text.y].forEach((t: Tensor) => t.dispose());
  });

  it('reads a bucket of a real shapes-world CSV through the bucket sampler', async () => {
    // 144x256 clips of 10 frames fit the 144p/9f bucket (the reference needs more frames than the bucket's).
    const { csvPath } = await writeShapesWorld(join(dir, 'set'), { numClips: 3, height: 144, width: 256, numFrames: 10, seed: 1 });
    const meta = await readMetadata(csvPath);
    const seen: number[][] = [];
    const enc = {
      // Toy encoders: 8x spatial average pooling, and the caption length as a feature.
      encodeVideo: (x: Tensor) => {
        seen.push(x.shape);
        return tf.tidy(() => tf.avgPool3d(x.transpose([0, 2, 3, 4, 1]) as tf.Tensor5D, [1, 8, 8], [1, 8, 8], 'valid').transpose([0, 4, 1, 2, 3]));
      },
      encodeText: async (p: string[]) => ({ states: tf.tensor(p.map((s) => s.length), [p.length, 1, 1, 1]).tile([1, 1, 3, 4]) }),
    };
    const batches = await loadEvalBatches(meta.rows, { resolution: '144p', numFrames: 9, batchSize: 2 }, enc);
    // The last partial batch is padded with a repeat (the data sampler with drop_last=False).
    expect(seen).toEqual([[2, 3, 9, 144, 256], [2, 3, 9, 144, 256]]);
    expect(batches.map((b) => b.x0.shape)).toEqual([[2, 3, 9, 18, 32], [2, 3, 9, 18, 32]]);
    expect(batches[0]!.meta).toEqual({ height: 144, width: 256, numFrames: 9, fps: 8 });
    // A rank's share: only the chosen batch is read, with its position, and it is the same batch.
    expect(evalBatchCount(meta.rows, { resolution: '144p', numFrames: 9, batchSize: 2 })).toBe(2);
    expect(batches.map((b) => b.index)).toEqual([0, 1]);
    const second = await loadEvalBatches(meta.rows, { resolution: '144p', numFrames: 9, batchSize: 2 }, enc, { batches: [1] });
    expect(second.map((b) => b.index)).toEqual([1]);
    expect(Array.from(second[0]!.x0.dataSync())).toEqual(Array.from(batches[1]!.x0.dataSync()));
    tf.dispose([second[0]!.x0, second[0]!.text.y]);
    await expect(loadEvalBatches(meta.rows, { resolution: '144p', numFrames: 9, batchSize: 2 }, enc, { batches: [2] })).rejects.toThrow(/batch 2 is not in 0\.\.1/);
    // Pixels arrive in [-1, 1].
    const mx = batches[0]!.x0.abs().max().dataSync()[0]!;
    expect(mx).toBeGreaterThan(0.1);
    expect(mx).toBeLessThanOrEqual(1);
    const config = parseEvalLossConfig({ bucket_config: { '144p': { '9': [1.0, 2] }, '720p': { '9': [1.0, 2] } }, num_eval_timesteps: 3 });
    const r = await runEvalLoss(model, (b) => loadEvalBatches(meta.rows, b, enc), config);
    expect(r.buckets).toHaveLength(1);
    expect(r.buckets[0]).toMatchObject({ resolution: '144p', numFrames: 9, samples: 4, batches: 2 });
    expect(r.skipped.map((s) => s.resolution)).toEqual(['720p']);
    // bf16 timesteps by default, as the reference's bf16 run: 750 rounds to 752.
    expect(r.timesteps).toEqual([250, 500, 752]);
    for (const b of batches) [b.x0, b.text.y].forEach((t) => t.dispose());
  });
});
