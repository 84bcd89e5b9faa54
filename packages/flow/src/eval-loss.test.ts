import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { evalBucketLoss, type EvalBatch } from './eval-loss.js';
import type { ModelFn } from './model.js';

const meta = { height: 16, width: 16, numFrames: 5 };
// A toy denoiser whose output depends on x_t, so the noise draw shows in the loss.
const model: ModelFn = (x, t) => tf.tidy(() => x.mul(tf.scalar(1).sub(t.div(1000).reshape([-1, 1, 1, 1, 1]))));

const batch = (seed: number, B: number, index?: number): EvalBatch => ({
  x0: tf.randomNormal([B, 2, 2, 2, 2], 0, 1, 'float32', seed),
  text: { y: tf.zeros([B, 1, 1, 4]) },
  meta,
  ...(index === undefined ? {} : { index }),
});

describe('evalBucketLoss noise per (timestep, batch)', () => {
  it('scoring batches one by one with their indices gives the bucket numbers exactly', async () => {
    const all = [batch(1, 2), batch(2, 3), batch(3, 1)];
    const whole = await evalBucketLoss(model, () => all, { numEvalTimesteps: 3, seed: 5 });
    expect(whole.perSample.map((p) => p.length)).toEqual([6, 6, 6]);
    // Each batch alone (as a rank owning it would), in reverse order: the same per-sample losses.
    const parts = [];
    for (const k of [2, 1, 0]) {
      const b = { ...all[k]!, index: k };
      parts[k] = await evalBucketLoss(model, () => [b], { numEvalTimesteps: 3, seed: 5 });
    }
    for (let t = 0; t < 3; t++) expect(parts.flatMap((p) => p!.perSample[t]!)).toEqual(whole.perSample[t]);
    // A different batch index draws different noise.
    const moved = await evalBucketLoss(model, () => [{ ...all[0]!, index: 7 }], { numEvalTimesteps: 3, seed: 5 });
    expect(moved.perSample[0]).not.toEqual(parts[0]!.perSample[0]);
    for (const b of all) tf.dispose([b.x0, b.text.y]);
  });
});
