import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { torchBackendInfo } from '../register.js';
import { expectSameOnBothBackends, rand, torchAvailable } from '../testing.js';

describe.skipIf(!torchAvailable())('data movement on torch', () => {
  it('transpose up to rank 8, float32 and int32', () => {
    expectSameOnBothBackends(() => [
      tf.transpose(rand([2, 3, 4], 1), [2, 0, 1]),
      tf.transpose(rand([2, 1, 3, 2, 1, 2, 2, 3], 2), [7, 3, 0, 5, 1, 6, 2, 4]),
      tf.transpose(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32')),
    ], 0, 0);
  });
  it('reshape, expandDims, squeeze share storage and read back right', () => {
    expectSameOnBothBackends(() => {
      const x = rand([2, 1, 6], 3);
      return [x.reshape([3, 4]), tf.expandDims(x, -1), tf.squeeze(x), tf.squeeze(tf.expandDims(x, 0), [0, 2])];
    }, 0, 0);
  });
  it('slice and stridedSlice (masks, new and shrunk axes; negative strides go to the cpu kernel)', () => {
    expectSameOnBothBackends(() => {
      const x = rand([4, 5, 6], 4);
      return [
        tf.slice(x, [1, 0, 2], [2, -1, 3]),
        tf.slice(x, 2),
        tf.stridedSlice(x, [0, 1, 0], [4, 5, 6], [2, 2, 3]),
        tf.stridedSlice(x, [1, 0, 0], [2, 5, 6], [1, 1, 1], 0, 0, 0, 0, 1),
        tf.stridedSlice(x, [0, 0], [0, 3], [1, 1], 1, 0, 0, 2),
        tf.stridedSlice(x, [0, 0, 0], [4, 5, 6], [1, 1, 1]),
      ];
    }, 0, 0);
    const before = torchBackendInfo()!.fallbacks.StridedSlice ?? 0;
    expectSameOnBothBackends(() => tf.stridedSlice(rand([5, 3], 5), [4, 0], [0, 3], [-2, 1]), 0, 0);
    expect(torchBackendInfo()!.fallbacks.StridedSlice).toBe(before + 1);
  });
  it('concat (with empty parts), stack, unstack, split', () => {
    expectSameOnBothBackends(() => [
      tf.concat([rand([2, 3], 1), rand([2, 0], 2), rand([2, 4], 3)], 1),
      tf.concat([rand([1, 3], 1), rand([2, 3], 2)], -2),
      tf.concat([tf.tensor1d([1], 'int32'), tf.tensor1d([2, 3], 'int32')]),
      tf.stack([rand([2, 3], 4), rand([2, 3], 5)], -1),
      ...tf.unstack(rand([3, 2], 6), 1),
      ...tf.split(rand([6, 4], 7), [1, 2, 3]),
      ...tf.split(rand([2, 8], 8), 4, -1),
    ], 0, 0);
  });
  it('concat and stack of one-element-thick pieces along the last axis (one strided copy per piece), all dtypes', () => {
    // Above and below the 4096 values the copy path starts at; non-contiguous inputs (a transposed
    // view's pieces); a piece of another dtype, a piece thicker than one (both take at::cat).
    expectSameOnBothBackends(() => {
      const x = rand([8, 320, 24, 2], 1);
      const [x1, x2] = tf.split(x, 2, -1);
      const t = tf.transpose(rand([24, 1, 8, 40], 2), [2, 3, 0, 1]);
      return [
        tf.concat([tf.neg(x2!), x1!], -1),
        tf.concat([x1!, x2!, x1!], 3),
        tf.concat([t, t], -1),
        tf.concat([rand([4, 3, 1], 3), rand([4, 3, 1], 4)], 2),
        tf.concat([rand([64, 64, 1], 5), rand([64, 64, 2], 6)], -1),
        tf.concat([tf.cast(tf.greater(rand([4096, 1], 7), 0), 'int32'), tf.ones([4096, 1], 'int32')], 1),
        tf.concat([tf.greater(rand([4096, 1], 8), 0), tf.less(rand([4096, 1], 9), 0)], 1),
        tf.stack([tf.squeeze(x1!, [3]), tf.neg(tf.squeeze(x2!, [3]))], -1),
        tf.stack([rand([64, 64], 10), rand([64, 64], 11), rand([64, 64], 12)], 2),
        tf.stack([rand([4, 3], 13), rand([4, 3], 14)], 2),
      ];
    }, 0, 0);
  });
  it('pad (constant, reflect, symmetric), tile, reverse, broadcastTo', () => {
    expectSameOnBothBackends(() => [
      tf.pad(rand([2, 3, 1, 2, 2], 1), [[0, 0], [1, 2], [0, 0], [2, 1], [0, 0]], 0.5),
      tf.mirrorPad(rand([3, 4], 2), [[1, 2], [2, 3]], 'reflect'),
      tf.mirrorPad(rand([3, 4], 2), [[2, 1], [3, 0]], 'symmetric'),
      tf.tile(rand([2, 3], 3), [2, 1]),
      tf.tile(tf.tensor1d([1, 2], 'int32'), [3]),
      tf.reverse(rand([2, 3, 4], 4), [0, 2]),
      tf.broadcastTo(rand([3, 1], 5), [2, 3, 4]),
    ], 0, 0);
  });
  it('gather on any axis with multi-dimensional indices, and its gradient', () => {
    expectSameOnBothBackends(() => {
      const x = rand([5, 4, 3], 6);
      const idx = tf.tensor2d([4, 0, 2, 2], [2, 2], 'int32');
      const [g] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, idx, 1), 2)))([rand([3, 5, 2], 7)]);
      return [tf.gather(x, idx), tf.gather(x, tf.tensor1d([3, 1], 'int32'), 1), tf.gather(x, tf.tensor1d([2], 'int32'), -1), g!];
    }, 0, 0);
  });
  it('gather names an index out of range', () => {
    const prev = tf.getBackend();
    tf.setBackend('torch');
    try {
      expect(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], 'int32'))).toThrow(/GatherV2: index 3 is out of range \[0, 3\)/);
    } finally {
      tf.setBackend(prev);
    }
  });
});

describe.skipIf(!torchAvailable())('empty and scalar tensors on torch', () => {
  it('zero-size inputs and outputs keep their shapes', () => {
    expectSameOnBothBackends(() => [
      tf.add(tf.zeros([0, 3]), 1),
      tf.sum(tf.zeros([2, 0]), 1),
      tf.slice(rand([3, 4], 1), [1, 0], [0, 4]),
      tf.matMul(tf.zeros([2, 0]), tf.zeros([0, 3])),
      tf.transpose(tf.zeros([0, 2, 3]), [2, 0, 1]),
    ], 0, 0);
  });
  it('scalars through elementwise ops, reductions and reshape', () => {
    expectSameOnBothBackends(() => {
      const s = tf.scalar(2.5);
      return [tf.mul(s, rand([2, 2], 1)), tf.exp(s), tf.sum(rand([3], 2)), tf.reshape(s, [1, 1]), tf.cast(s, 'int32')];
    }, 1e-6, 1e-6);
  });
});

describe.skipIf(!torchAvailable())('unstack and split pieces on torch', () => {
  it('contiguous pieces stay views of their input\'s storage, freed with the last piece', () => {
    const prev = tf.getBackend();
    tf.setBackend('torch');
    try {
      const bytes = () => (tf.memory() as unknown as { numBytesInTorch: number }).numBytesInTorch;
      const x = tf.exp(rand([3, 4, 5], 1)); // one storage of 240 bytes
      const b0 = bytes();
      const want = x.arraySync() as number[][][];
      const parts = tf.unstack(x); // along axis 0: contiguous pieces
      const halves = tf.split(x, [1, 2], 0);
      expect(bytes()).toBe(b0); // no copies
      x.dispose();
      expect(bytes()).toBe(b0); // the pieces keep the storage
      parts.forEach((p, i) => expect(p.arraySync()).toEqual(want[i]));
      expect(halves[1]!.arraySync()).toEqual(want.slice(1));
      tf.dispose([...parts, halves[0]!]);
      expect(bytes()).toBe(b0);
      halves[1]!.dispose();
      expect(bytes()).toBe(b0 - 240);
      // Pieces that are not contiguous (split along the last axis) are copies of their own.
      const y = tf.exp(rand([3, 4], 2));
      const cols = tf.split(y, 2, 1);
      expect(bytes()).toBe(b0 - 240 + 2 * 48 + 2 * 24); // y's input and y, and the two pieces
      tf.dispose([y, ...cols]);
    } finally {
      tf.setBackend(prev);
    }
  });
});
