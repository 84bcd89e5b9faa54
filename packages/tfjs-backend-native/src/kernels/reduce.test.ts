import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectClose, expectSameOnBothBackends, nativeAvailable, randn, runOn } from '../testing.js';

const t = (shape: number[], seed: number, scale = 1) => tf.tensor(randn(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

describe.skipIf(!nativeAvailable())('reductions on native', () => {
  const axes: (number | number[] | undefined)[] = [-1, 0, 1, [1, 2], [0, 1], undefined, [0, 2]];
  for (const [name, op] of [
    ['sum', tf.sum],
    ['mean', tf.mean],
    ['max', tf.max],
    ['min', tf.min],
  ] as const) {
    it(name, () => {
      for (const axis of axes) {
        for (const keepDims of [false, true]) {
          expectSameOnBothBackends(() => op(t([6, 300, 7], 3), axis, keepDims), 1e-5, 1e-5, `${name} axis ${JSON.stringify(axis)} keepDims ${keepDims}`);
        }
      }
    });
  }
  it('int32 sum keeps the cpu kernel; NaN in max', () => {
    expectSameOnBothBackends(() => [tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 1), tf.max(tf.tensor2d([[1, NaN], [3, 4]]), 1)]);
  });
});

describe.skipIf(!nativeAvailable())('softmax on native', () => {
  it('forward over the last axis, with large logits', () => {
    expectSameOnBothBackends(() => tf.softmax(t([16, 67], 1, 10)), 1e-5, 1e-7);
    expectSameOnBothBackends(() => tf.softmax(t([2, 3, 1024], 2, 30)), 1e-5, 1e-7);
  });
  it('gradient', () => {
    expectSameOnBothBackends(() => tf.grad((x: tf.Tensor) => tf.mul(tf.softmax(x), t([5, 33], 7)).sum())(t([5, 33], 3, 3)), 1e-4, 1e-6);
  });
  // The kernel splits a row into 32- and 16-wide blocks and a scalar tail: lengths that reach each
  // mix of them, with masked (-Infinity) logits, against softmax in double.
  it('every row length split, with -Infinity logits, within a few float ulps of float64 from the float x - max', () => {
    for (const n of [1, 5, 8, 13, 16, 24, 31, 32, 40, 47, 57, 1000]) {
      const rows = 3;
      const xv = randn(rows * n, n, 8);
      xv[0] = -Infinity; // row 0 starts masked: the max lanes start from x[0]
      if (n > 9) xv[n + 9] = -Infinity;
      const [y] = runOn('native', () => tf.softmax(tf.tensor2d(xv, [rows, n])));
      const expected = new Float64Array(rows * n);
      for (let r = 0; r < rows; ++r) {
        const row = Array.from(xv.subarray(r * n, (r + 1) * n));
        const m = Math.max(...row);
        // x - max rounds to float on any float32 softmax (PyTorch's too); the rest is the kernel's error.
        const e = row.map((v) => Math.exp(Math.fround(v - m)));
        const s = e.reduce((a, b) => a + b, 0);
        e.forEach((v, j) => (expected[r * n + j] = v / s));
      }
      if (n === 1) expected[0] = NaN; // a row that is all -Infinity has no softmax (0/0)
      expectClose(y!.values, expected, 1e-6, 1e-30, `softmax length ${n}`);
    }
  });
});

describe.skipIf(!nativeAvailable())('transpose on native', () => {
  const cases: [number[], number[]][] = [
    [[37, 45], [1, 0]],
    [[2, 3, 4, 5], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [3, 2, 1, 0]],
    [[2, 1, 4, 5], [2, 0, 3, 1]],
    [[6, 7, 8], [1, 2, 0]],
    [[6, 7, 8], [0, 1, 2]],
    [[2, 3, 4, 5, 6], [0, 4, 1, 2, 3]],
  ];
  it('float32 and int32', () => {
    for (const [shape, perm] of cases) {
      expectSameOnBothBackends(() => [tf.transpose(t(shape, 1), perm), tf.transpose(tf.cast(tf.mul(t(shape, 2), 100), 'int32'), perm)], 0, 0, `[${shape}] perm [${perm}]`);
    }
  });
});
