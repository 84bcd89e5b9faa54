import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '@opensora-ts/kernels';
import { sampleClips } from './clips.js';
import type { AsyncModelFn } from './model.js';
import { RFlowSampler } from './sampler.js';

// Velocity = per-frame index + 1 on every row, so clips differ per frame and guidance is the identity.
const model: AsyncModelFn = (x) =>
  tf.tidy(() => {
    const T = x.shape[2]!;
    const v = tf.tensor(Array.from({ length: T }, (_, k) => k + 1), [1, 1, T, 1, 1]).mul(tf.onesLike(x));
    return tf.concat([v, v], 1);
  });

describe('sampleClips', () => {
  it('t2v loop 2: the second clip starts from the first clip last 5 latents; tensors released', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 3, useFlawFix: false });
    const shape = [1, 1, 8, 1, 1];
    const text = { y: tf.ones([1, 1, 2, 2]), yNull: tf.zeros([1, 1, 2, 2]) };
    const before = tf.memory().numTensors;
    const clips: number[][] = [];
    const out = await sampleClips(sampler, model, {
      loops: 2,
      shape,
      textForClip: () => text,
      meta: { height: 64, width: 64, numFrames: 29 },
      onClip: (_i, c: Tensor) => clips.push(Array.from(c.dataSync())),
    });
    expect(out.shape[2]).toBe(10); // 8 + (8 - 5) = 11 -> 10
    const merged = Array.from(out.dataSync());
    // Clip 1's first 5 frames are held at clip 0's frames 3..7 (edit ratio 0).
    expect(clips[1]!.slice(0, 5)).toEqual(clips[0]!.slice(3, 8));
    expect(merged).toEqual([...clips[0]!, ...clips[1]!.slice(5, 7)]);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    text.y.dispose();
    text.yNull.dispose();
  });

  it('i2v_head loop 2: both clips run the conditioned path', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 2 });
    const shape = [1, 1, 6, 1, 1];
    const text = { y: tf.ones([1, 1, 2, 2]), yNull: tf.zeros([1, 1, 2, 2]) };
    const ref = tf.ones([1, 1, 1, 1]);
    const seen: number[][] = [];
    const spy: AsyncModelFn = (x, t, c) => {
      seen.push(c.maskIndex ?? []);
      return model(x, t, c);
    };
    const out = await sampleClips(sampler, spy, { loops: 2, shape, textForClip: () => text, meta: { height: 64, width: 64, numFrames: 21 }, condType: 'i2v_head', refs: [[ref]], useSdedit: true });
    expect(seen[0]).toEqual([0]);
    expect(seen[seen.length - 1]).toEqual([0, 1, 2, 3, 4]);
    expect(out.shape[2]).toBe(5); // 6 + 1 = 7 -> 5
    [out, ref, text.y, text.yNull].forEach((t) => t.dispose());
  });

  it('a non-finite latent in a later clip names the clip and the step; tensors released', async () => {
    const sampler = new RFlowSampler({ numSamplingSteps: 3, useFlawFix: false });
    const shape = [1, 1, 8, 1, 1];
    const text = { y: tf.ones([1, 1, 2, 2]), yNull: tf.zeros([1, 1, 2, 2]) };
    let calls = 0;
    const nanInClip2: AsyncModelFn = (x, t, c) => (++calls === 5 ? tf.tidy(() => tf.fill([x.shape[0]!, 2, 8, 1, 1], Number.NaN)) : model(x, t, c));
    const before = tf.memory().numTensors;
    const run = sampleClips(sampler, nanInClip2, { loops: 2, shape, textForClip: () => text, meta: { height: 64, width: 64, numFrames: 29 } });
    await expect(run).rejects.toThrow(/^clip 2 of 2, sampling step 2 of 3 .*the latent holds \d+ NaN/);
    expect(tf.memory().numTensors).toBe(before);
    text.y.dispose();
    text.yNull.dispose();
  });
});
