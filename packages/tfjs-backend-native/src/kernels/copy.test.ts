import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectSameOnBothBackends, nativeAvailable, randn, runOn, type Outputs } from '../testing.js';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { loadAddon } from '../addon.js';
import { select, simplifyCopy, tile } from './copy.js';

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const f = (shape: number[], seed: number) => tf.tensor(randn(size(shape), seed), shape);
const i32 = (shape: number[], seed: number) => tf.tensor(Int32Array.from(randn(size(shape), seed, 1000), Math.round), shape, 'int32');

/** Outputs of both backends equal bit for bit (signed zeros and NaN payloads included). */
function expectBitIdentical(fn: () => Outputs, what: string): void {
  let cpu: ReturnType<typeof runOn>;
  try {
    cpu = runOn('cpu', fn);
  } catch (err) {
    // Where cpu throws (its own limits), native must throw the same.
    expect(() => runOn('native', fn), what).toThrow((err as Error).message);
    return;
  }
  const native = runOn('native', fn);
  expect(native.length, what).toBe(cpu.length);
  native.forEach((n, k) => {
    const c = cpu[k]!;
    expect(n.shape, `${what} output ${k} shape`).toEqual(c.shape);
    expect(n.values.constructor, `${what} output ${k} dtype`).toBe(c.values.constructor);
    const bits = (v: ArrayLike<number>) => new Uint32Array((v instanceof Float32Array ? Float32Array.from(v) : Int32Array.from(v)).buffer);
    const nb = bits(n.values);
    const cb = bits(c.values);
    const bad = cb.findIndex((v, j) => v !== nb[j]);
    expect(bad, `${what} output ${k}: first differing element (native ${n.values[bad]} vs cpu ${c.values[bad]})`).toBe(-1);
    expect(nb.length).toBe(cb.length);
  });
}

/** A small deterministic generator for shapes and parameters. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor(((s >>> 8) / 16777216) * n);
  };
}

/** Random shapes of rank 1..6 with sizes 0..4 (0 and 1 common), both dtypes. */
function randomCases(seed: number, count: number, maxRank = 6): { shape: number[]; x: () => tf.Tensor; r: (n: number) => number }[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, c) => {
    const rank = 1 + r(maxRank);
    const shape = Array.from({ length: rank }, () => [0, 1, 1, 2, 3, 4, 5][r(c % 5 === 0 ? 7 : 6) + (c % 5 === 0 ? 0 : 1)]!);
    return { shape, x: () => (c % 2 ? i32(shape, c) : f(shape, c)), r };
  });
}

describe('simplifyCopy', () => {
  it('merges axes contiguous on both sides and drops size-1 axes', () => {
    // Last-axis slice [2, 3, 4] of [2, 3, 8]: rows of 4.
    expect(simplifyCopy([2, 3, 4], [24, 8, 1], [12, 4, 1])).toEqual({ shape: [6, 4], ss: [8, 1], ds: [4, 1] });
    expect(simplifyCopy([1, 5, 1], [5, 1, 1], [5, 1, 1])).toEqual({ shape: [5], ss: [1], ds: [1] });
    expect(simplifyCopy([3, 2], [4, 2], [2, 1])).toEqual({ shape: [6], ss: [2], ds: [1] });
    expect(simplifyCopy([3, 2], [6, 2], [2, 1])).toEqual({ shape: [3, 2], ss: [6, 2], ds: [2, 1] });
  });
});

describe.skipIf(!nativeAvailable())('copy kernels on native are bit-identical to cpu', () => {
  it('slice: random ranks 1-6, empty and size-1 axes, -1 sizes', () => {
    for (const { shape, x, r } of randomCases(11, 120)) {
      const begin = shape.map((d) => r(d + 1));
      const sz = shape.map((d, i) => (r(4) === 0 ? -1 : r(d - begin[i]! + 1)));
      expectBitIdentical(() => tf.slice(x(), begin, sz), `slice [${shape}] begin [${begin}] size [${sz}]`);
    }
    // Partial begin/size and a number begin, as the op allows.
    expectBitIdentical(() => tf.slice(f([4, 5, 6], 1), [1, 2]), 'partial begin');
    expectBitIdentical(() => tf.slice(f([4, 5, 6], 1), 1, 2), 'number begin');
    // Threaded path: a last-axis slice with many rows.
    expectBitIdentical(() => [tf.slice(f([64, 48, 40], 2), [0, 0, 8], [-1, -1, 24]), tf.slice(i32([64, 48, 40], 2), [1, 3, 0], [60, 40, 39])], 'large');
  });

  it('slice errors and other dtypes stay cpu', () => {
    for (const b of ['cpu', 'native']) expect(() => runOn(b, () => tf.slice(f([3, 4], 1), [2, 0], [2, 4]))).toThrow(/overflow/);
    expectBitIdentical(() => tf.cast(tf.slice(tf.tensor2d([[true, false, true], [false, true, true]], [2, 3], 'bool'), [0, 1], [2, 2]), 'int32'), 'bool');
  });

  it('stridedSlice: unit and general strides, masks, negative strides', () => {
    const x = () => f([5, 6, 7, 3], 3);
    const cases: [number[], number[], number[], number, number, number, number, number][] = [
      [[1, 2, 0, 0], [4, 5, 7, 3], [1, 1, 1, 1], 0, 0, 0, 0, 0],
      [[0, 0, 1, 0], [5, 6, 6, 2], [1, 1, 2, 1], 0, 0, 0, 0, 0],
      [[4, 0, 6, 0], [0, 6, 0, 3], [-1, 2, -3, 1], 0, 0, 0, 0, 0],
      [[0, 1, 0, 0], [0, 5, 0, 0], [1, 1, 1, 1], 0b1101, 0b1101, 0, 0, 0],
      [[0, 2], [0, 5], [1, 2], 0, 0, 1, 0, 0],
      [[1, 0, 2, 0], [2, 6, 7, 3], [1, 3, 1, 1], 0, 0, 0, 0, 0b1],
      [[0, 0, 0], [5, 6, 7], [2, 1, 1], 0, 0, 0, 0b10, 0],
      [[0, 0, 0, 1], [5, 6, 7, 2], [1, 1, 1, 1], 0, 0, 0, 0, 0b1000],
      [[3, 0, 0, 0], [1, 6, 7, 3], [1, 1, 1, 1], 0, 0, 0, 0, 0],
    ];
    for (const [b, e, s, bm, em, el, na, sh] of cases) {
      for (const dt of [0, 1]) {
        expectBitIdentical(
          () => tf.stridedSlice(dt ? tf.cast(tf.mul(x(), 100), 'int32') : x(), b, e, s, bm, em, el, na, sh),
          `stridedSlice ${JSON.stringify([b, e, s, bm, em, el, na, sh])} ${dt ? 'int32' : 'float32'}`,
        );
      }
    }
    expectBitIdentical(() => tf.stridedSlice(f([40, 50, 33], 4), [0, 1, 0], [40, 50, 33], [1, 2, 3]), 'large strided');
  });

  it('split: sizes, counts and -1 along any axis, ranks up to 6', () => {
    for (const { shape, x, r } of randomCases(12, 80)) {
      const axis = r(shape.length);
      const d = shape[axis]!;
      const a = r(d + 1);
      const sizes = r(3) === 0 && d > a ? [a, -1] : [a, d - a];
      expectBitIdentical(() => tf.split(x(), sizes, axis), `split [${shape}] [${sizes}] axis ${axis}`);
    }
    expectBitIdentical(() => tf.split(f([4, 6, 8, 2], 5), 2, -1), 'rope pairs');
    expectBitIdentical(() => tf.split(f([2, 3, 6], 5), 3, 2), 'count');
  });

  it('concat: any axis, empty inputs, many inputs, both dtypes', () => {
    for (const { shape, r } of randomCases(13, 80)) {
      const axis = r(shape.length);
      const parts = 1 + r(4);
      const shapes = Array.from({ length: parts }, () => shape.map((d, i) => (i === axis ? r(4) : d)));
      const dt = r(2);
      expectBitIdentical(() => tf.concat(shapes.map((s, k) => (dt ? i32(s, k) : f(s, k))), axis), `concat [${JSON.stringify(shapes)}] axis ${axis}`);
    }
    expectBitIdentical(() => tf.concat([f([32, 40, 20], 1), f([32, 40, 30], 2)], -1), 'large last axis');
  });

  it('pad: constants (0, -0, NaN, fractional into int32), any rank, empty inputs', () => {
    for (const { shape, x, r } of randomCases(14, 80)) {
      const pads = shape.map(() => [r(3), r(3)] as [number, number]);
      const value = [0, -0, 1.5, -7, NaN][r(5)]!;
      expectBitIdentical(() => tf.pad(x(), pads, value), `pad [${shape}] ${JSON.stringify(pads)} ${value}`);
    }
    // Causal video padding of [B, T, H, W, C].
    expectBitIdentical(() => tf.pad(f([1, 3, 16, 16, 24], 7), [[0, 0], [2, 0], [1, 1], [1, 1], [0, 0]]), 'causal pad');
  });

  it('tile: any rank, size-1 and empty axes, zero reps', () => {
    for (const { shape, x, r } of randomCases(15, 80, 5)) {
      const reps = shape.map(() => [1, 1, 2, 3, 0][r(shape.length > 3 ? 4 : 5)]!);
      expectBitIdentical(() => tf.tile(x(), reps), `tile [${shape}] reps [${reps}]`);
    }
    // Nearest upsampling as the kernels package does it.
    expectBitIdentical(() => tf.tile(f([96, 1, 64], 8), [1, 2, 1]), 'upsample');
    expectBitIdentical(() => tf.tile(i32([5, 1], 8), [1, 7]), 'broadcast column');
  });

  it('bool tile and where (Select): same as cpu, and both run in the addon (cpu tiles bools element by element)', () => {
    const mask = (shape: number[], seed: number) => tf.tensor(randn(size(shape), seed).map((v) => (v > 0 ? 1 : 0)), shape, 'bool');
    for (const { shape, r } of randomCases(17, 40, 5)) {
      const reps = shape.map(() => [1, 1, 2, 3, 0][r(shape.length > 3 ? 4 : 5)]!);
      const seed = r(1000);
      expectBitIdentical(() => tf.tile(mask(shape, seed), reps), `bool tile [${shape}] reps [${reps}]`);
    }
    // A frame mask [B, T] selecting whole frames of [B, T, S, C], as STDiT3's final layer does.
    expectBitIdentical(() => tf.where(tf.broadcastTo(tf.reshape(mask([2, 5], 3), [2, 5, 1, 1]), [2, 5, 6, 7]), f([2, 5, 6, 7], 1), f([2, 5, 6, 7], 2)), 'frame where');
    // int32 values, NaN and -0 moved as they are, a scalar.
    expectBitIdentical(() => tf.where(mask([3, 4], 5), i32([3, 4], 1), i32([3, 4], 2)), 'int32 where');
    expectBitIdentical(() => tf.where(tf.tensor([1, 0, 1, 0], [4], 'bool'), tf.tensor([NaN, 1, -0, 2]), tf.tensor([3, NaN, 4, -0])), 'NaN and -0');
    expectBitIdentical(() => tf.where(tf.scalar(0, 'bool'), tf.scalar(1), tf.scalar(2)), 'scalar');
    const noFallback = (() => {
      throw new Error('fell back to cpu');
    }) as KernelFunc;
    runOn('native', () => {
      const backend = tf.backend() as MathBackendCPU;
      const read = (out: TensorInfo) => {
        const v = Array.from(backend.data.get(out.dataId).values as ArrayLike<number>);
        backend.disposeData(out.dataId);
        return v;
      };
      const x = tf.tensor([1, 0, 1, 1, 0, 0], [2, 1, 3], 'bool');
      const tiled = tile.make(loadAddon(), noFallback)({ inputs: { x }, attrs: { reps: [1, 2, 2] }, backend }) as TensorInfo;
      expect(tiled.shape).toEqual([2, 2, 6]);
      expect(read(tiled)).toEqual([1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0]);
      const picked = select.make(loadAddon(), noFallback)({ inputs: { condition: tf.reshape(x, [2, 3]), t: tf.tensor([[1, 2, 3], [4, 5, 6]]), e: tf.tensor([[7, 8, 9], [10, 11, 12]]) }, backend }) as TensorInfo;
      expect(read(picked)).toEqual([1, 8, 3, 4, 11, 12]);
      return [];
    });
  });

  it('gather: axes, nd indices, out-of-range keeps cpu error', () => {
    for (const { shape, x, r } of randomCases(16, 60)) {
      const axis = r(shape.length);
      const d = shape[axis]!;
      const idx = d === 0 ? [] : Array.from({ length: r(5) }, () => r(d));
      expectBitIdentical(() => tf.gather(x(), tf.tensor1d(idx, 'int32'), axis), `gather [${shape}] [${idx}] axis ${axis}`);
    }
    expectBitIdentical(() => tf.gather(f([10, 4, 3], 1), tf.tensor2d([[1, 9], [0, 0]], [2, 2], 'int32'), 0), '2-d indices');
    for (const b of ['cpu', 'native']) expect(() => runOn(b, () => tf.gather(f([3, 4], 1), tf.tensor1d([3], 'int32')))).toThrow(/not in \[0, 2\]/);
  });

  // StridedSlice has no gradient in tfjs.
  it('gradients through the copy kernels match cpu', () => {
    const w = (shape: number[]) => f(shape, 99);
    const cases: [string, number[], (x: tf.Tensor) => tf.Tensor][] = [
      ['slice', [3, 4, 6], (x) => tf.slice(x, [1, 0, 2], [2, -1, 3])],
      ['split', [3, 4, 6], (x) => tf.concat(tf.split(x, [2, 4], -1).reverse(), -1)],
      ['concat', [3, 4, 6], (x) => tf.concat([x, tf.mul(x, 2)], 1)],
      ['pad', [2, 3, 4, 5], (x) => tf.pad(x, [[0, 0], [2, 0], [1, 1], [0, 3]], 0.5)],
      ['tile', [2, 1, 3], (x) => tf.tile(x, [2, 3, 2])],
      ['gather', [6, 5], (x) => tf.gather(x, tf.tensor1d([5, 0, 5, 2], 'int32'))],
    ];
    for (const [name, shape, fn] of cases) {
      expectSameOnBothBackends(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(fn(x), w(fn(tf.zeros(shape)).shape))))(f(shape, 3)), 1e-6, 1e-6, `${name} grad`);
    }
  });
});
