import { describe, expect, it } from 'vitest';
import { initRuntime, tf } from '@opensora-ts/kernels';
import { CausalConv3dPlainAR } from './causal-conv3d.js';
import { tiledConv3d, tiledConv3dPadded } from './tiled-conv3d.js';

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('tiledConv3d (TiledConv3d semantics)', () => {
  it('equals the untiled conv for every tiled dim, tile size and tile count', async () => {
    await initRuntime({ announce: false });
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([1, 9, 11, 7, 4], 0, 1, 'float32', 1) as tf.Tensor5D;
    const w = tf.randomNormal([3, 3, 3, 4, 5], 0, 1, 'float32', 2) as tf.Tensor5D;
    const b = tf.randomNormal([5], 0, 1, 'float32', 3);
    const plain = tiledConv3d(x, w, b, [1, 1, 1], null);
    expect(plain.shape).toEqual([1, 7, 9, 5, 5]);
    const variants = [
      { tileSize: 4 }, // largest dim (H = 11) -> 2 tiles
      { tileSize: 2 }, // 5 tiles of uneven size
      { tileSize: 16, tiledDim: 2 as const, numTiles: 3 },
      { tileSize: 16, tiledDim: 4 as const, numTiles: 2 },
      { tileSize: 100 }, // 0 tiles: falls back to one conv
    ];
    for (const tiling of variants) {
      const tiled = tiledConv3d(x, w, b, [1, 1, 1], tiling);
      expect(tiled.shape).toEqual(plain.shape);
      expect(maxDiff(tiled, plain)).toBeLessThanOrEqual(1e-6);
      tiled.dispose();
    }
    tf.dispose([x, w, b, plain]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('tiles the causal conv of a module and leaves strided convs untiled', async () => {
    await initRuntime({ announce: false });
    let conv: CausalConv3dPlainAR | undefined;
    let strided: CausalConv3dPlainAR | undefined;
    tf.tidy(() => {
      conv = new CausalConv3dPlainAR(4, 4, 3);
      strided = new CausalConv3dPlainAR(4, 4, 3, [2, 2, 2]);
    });
    const x = tf.randomNormal([1, 6, 10, 8, 4], 0, 1, 'float32', 4) as tf.Tensor5D;
    const plain = conv!.forward(x);
    conv!.enableTiling({ tileSize: 3 });
    strided!.enableTiling({ tileSize: 3 });
    expect(strided!.tiling).toBeNull();
    const tiled = conv!.forward(x);
    expect(tiled.shape).toEqual([1, 6, 10, 8, 4]); // causal: T kept
    expect(maxDiff(tiled, plain)).toBeLessThanOrEqual(1e-6);
    expect(strided!.forward(x).shape).toEqual([1, 3, 5, 4, 4]);
    tf.dispose([x, plain, tiled]);
    conv!.dispose();
    strided!.dispose();
  });

  it('tiledConv3dPadded (padding inside each tile) equals tiling the padded input', async () => {
    await initRuntime({ announce: false });
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([1, 7, 10, 6, 3], 0, 1, 'float32', 5) as tf.Tensor5D;
    const w = tf.randomNormal([3, 3, 3, 3, 4], 0, 1, 'float32', 6) as tf.Tensor5D;
    const b = tf.randomNormal([4], 0, 1, 'float32', 7);
    const cases: { pads: [[number, number], [number, number], [number, number]]; stride: [number, number, number]; tiling: { tileSize: number; tiledDim?: 2 | 3 | 4; numTiles?: number } | null }[] = [
      { pads: [[2, 0], [1, 1], [1, 1]], stride: [1, 1, 1], tiling: null },
      { pads: [[2, 0], [1, 1], [1, 1]], stride: [1, 1, 1], tiling: { tileSize: 4 } }, // H (12 padded) -> 3 tiles
      { pads: [[2, 0], [1, 1], [1, 1]], stride: [1, 1, 1], tiling: { tileSize: 1 } }, // one output row per tile
      { pads: [[2, 0], [1, 1], [1, 1]], stride: [1, 1, 1], tiling: { tileSize: 16, tiledDim: 2, numTiles: 4 } }, // causal T
      { pads: [[0, 2], [0, 0], [3, 1]], stride: [1, 1, 1], tiling: { tileSize: 16, tiledDim: 4, numTiles: 3 } },
      { pads: [[2, 0], [1, 1], [1, 1]], stride: [2, 2, 2], tiling: { tileSize: 2 } },
    ];
    for (const c of cases) {
      const padded = tf.pad(x, [[0, 0], ...c.pads, [0, 0]]) as tf.Tensor5D;
      const want = tiledConv3d(padded, w, b, c.stride, c.tiling);
      const got = tiledConv3dPadded(x, w, b, c.stride, c.pads, c.tiling);
      expect(got.shape).toEqual(want.shape);
      expect(maxDiff(got, want)).toBeLessThanOrEqual(1e-5);
      tf.dispose([padded, want, got]);
    }
    tf.dispose([x, w, b]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('frees each tile\'s input slice before the next tile (peak memory, issue 34)', async () => {
    await initRuntime({ announce: false });
    // H tiled in 17 tiles of 1-2 output rows: each slice (3-4 rows of x) is a copy, and all of
    // them together would be 2x the input.
    const x = tf.randomNormal([1, 4, 32, 8, 8], 0, 1, 'float32', 8) as tf.Tensor5D;
    const w = tf.randomNormal([3, 3, 3, 8, 8], 0, 1, 'float32', 9) as tf.Tensor5D;
    const pads: [[number, number], [number, number], [number, number]] = [[2, 0], [1, 1], [1, 1]];
    const xBytes = x.size * 4; // the output's size too
    const start = tf.memory().numBytes;
    const viaPads = await tf.profile(() => tf.dispose(tiledConv3dPadded(x, w, null, [1, 1, 1], pads, { tileSize: 2 })));
    // The output's tiles and their concatenation, plus one tile's slice (4 rows) and conv in flight.
    expect(viaPads.peakBytes - start).toBeLessThanOrEqual(2 * xBytes + 2 * (xBytes / 8));
    const padded = tf.pad(x, [[0, 0], ...pads, [0, 0]]) as tf.Tensor5D;
    const paddedBytes = padded.size * 4;
    const plain = await tf.profile(() => tf.dispose(tiledConv3d(padded, w, null, [1, 1, 1], { tileSize: 2 })));
    expect(plain.peakBytes - start - paddedBytes).toBeLessThanOrEqual(2 * xBytes + 2 * (paddedBytes * 4) / 34);
    tf.dispose([x, w, padded]);
  });
});
