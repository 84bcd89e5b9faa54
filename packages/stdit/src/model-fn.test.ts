// The flow-shaped model function is the forward pass under flow's names; different fps or
// dropped captions change the output, so a dropped mapping would show.
import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { STDiT3 } from './stdit3.js';
import { stdit3FlowModelFn } from './model-fn.js';

const cfg = { in_channels: 4, depth: 1, hidden_size: 48, num_heads: 2, caption_channels: 8, model_max_length: 4, kernel_size: [2, 2, -1] as [number, number, number], use_spatial_rope: true };
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;

describe('stdit3FlowModelFn', () => {
  it("maps flow's conditioning onto the reference's keyword names", () => {
    const model = new STDiT3(cfg, { seed: 3, referenceInit: false }).eval();
    tf.tidy(() => {
      const b = 2;
      const x = tf.randomNormal([b, 4, 3, 4, 4], 0, 1, 'float32', 1);
      const t = tf.tensor1d([700, 250]);
      const y = tf.randomNormal([b, 1, 4, 8], 0, 1, 'float32', 2);
      const yNull = tf.randomNormal([b, 1, 4, 8], 0, 1, 'float32', 3);
      const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]], [2, 4], 'int32');
      const xMask = tf.tensor2d([[1, 0, 1], [1, 1, 1]], [2, 3], 'bool');
      const cond = tf.randomNormal([b, 4, 3, 4, 4], 0, 1, 'float32', 4);
      const condMask = tf.concat([tf.ones([b, 4, 1, 4, 4]), tf.zeros([b, 4, 2, 4, 4])], 2);
      const meta = { height: 32, width: 32, numFrames: 9 };
      const fn = stdit3FlowModelFn(model);
      const got = fn(x, t, { y, mask, xMask, cond, condMask, maskIndex: [0], yNull, meta });
      const want = model.forward({ x, timestep: t, y, mask, x_mask: xMask, cond, cond_mask: condMask, mask_index: [0], y_null: yNull, fps: 24, height: 32, width: 32 });
      expect(got.shape).toEqual([2, 8, 3, 4, 4]);
      expect(maxDiff(got, want)).toBe(0);
      // meta.fps and the fps option reach the model.
      const at12 = model.forward({ x, timestep: t, y, mask, fps: 12, height: 32, width: 32 });
      expect(maxDiff(fn(x, t, { y, mask, meta: { ...meta, fps: 12 } }), at12)).toBe(0);
      expect(maxDiff(stdit3FlowModelFn(model, { fps: 12 })(x, t, { y, mask, meta }), at12)).toBe(0);
      expect(maxDiff(fn(x, t, { y, mask, meta }), at12)).toBeGreaterThan(0);
      // velocityOnly keeps the first in_channels channels.
      expect(stdit3FlowModelFn(model, { velocityOnly: true })(x, t, { y, meta }).shape).toEqual([2, 4, 3, 4, 4]);
      // textUncondProb reaches caption dropout in training mode.
      model.train();
      const nullY = tf.tile(tf.reshape(model.yEmbedder.nullCaption, [1, 1, 4, 8]), [2, 1, 1, 1]);
      const dropped = fn(x, t, { y, meta, textUncondProb: 1 });
      model.eval();
      expect(maxDiff(dropped, model.forward({ x, timestep: t, y: nullY, fps: 24, height: 32, width: 32 }))).toBeLessThan(1e-6);
    });
    model.dispose();
  });
});
