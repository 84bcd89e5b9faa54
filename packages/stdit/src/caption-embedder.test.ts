// Caption dropout: each dropped row is the null caption and each kept row the caption, exactly, and
// the swap runs no Select or Tile (kernels the native backend leaves to tfjs-cpu's per-element loops).
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, SeededRandom, tf } from '@opensora-ts/kernels';
import { CaptionEmbedder } from './caption-embedder.js';

beforeAll(async () => {
  await initRuntime({ announce: false });
});

describe('CaptionEmbedder caption dropout', () => {
  const emb = new CaptionEmbedder(8, 16, 0.1, 5);
  const caption = tf.randomNormal([3, 1, 5, 8], 0, 1, 'float32', 7);
  const rng = new SeededRandom(0);

  it('replaces exactly the dropped rows by y_embedding (same values as tf.where over the rows)', () => {
    for (const drop of [[1, 0, 1], [0, 1, 0], [1, 1, 1]]) {
      const got = emb.forward(caption, { train: true, forceDropIds: drop, rng });
      const want = tf.tidy(() => {
        const cond = tf.broadcastTo(tf.tensor4d(Uint8Array.from(drop), [3, 1, 1, 1], 'bool'), [3, 1, 5, 8]);
        const y = tf.where(cond, tf.broadcastTo(tf.reshape(emb.nullCaption, [1, 1, 5, 8]), [3, 1, 5, 8]), caption);
        return emb.yProj.forward(y);
      });
      expect(got.shape).toEqual([3, 1, 5, 16]);
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
      tf.dispose([got, want]);
    }
  });

  it('runs no Select or Tile kernel', async () => {
    const info = await tf.profile(() => emb.forward(caption, { train: true, forceDropIds: [1, 0, 1], rng }));
    const names = info.kernels.map((k) => k.name);
    expect(names).not.toContain('Select');
    expect(names).not.toContain('Tile');
    expect(names).toContain('Concat');
  });

  it('a batch of one dropped is the null caption', () => {
    const one = caption.slice([1, 0, 0, 0], [1, 1, 5, 8]);
    const got = emb.forward(one, { train: true, forceDropIds: [1], rng });
    const want = emb.yProj.forward(tf.reshape(emb.nullCaption, [1, 1, 5, 8]));
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([one, got, want]);
  });
});
