import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectSameOnBothBackends, nativeAvailable, randn } from '../testing.js';

const t = (shape: number[], seed: number, scale = 1) => tf.tensor(randn(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

describe.skipIf(!nativeAvailable())('unary ops on native', () => {
  const anyX = () => tf.concat([t([40000], 1, 4), tf.tensor1d([0, -0, 1e-3, -1e-3, 1e-6, 20, -20, 90, -90, 200, -200])]);
  const positive = () => tf.add(tf.abs(t([40000], 2, 4)), 1e-3);
  const ops: [string, (x: tf.Tensor) => tf.Tensor, () => tf.Tensor][] = [
    ['exp', tf.exp, anyX],
    ['log', tf.log, positive],
    ['sigmoid', tf.sigmoid, anyX],
    ['tanh', tf.tanh, anyX],
    ['rsqrt', tf.rsqrt, positive],
    ['sqrt', tf.sqrt, positive],
    ['square', tf.square, anyX],
    ['neg', tf.neg, anyX],
    ['abs', tf.abs, anyX],
    ['relu', tf.relu, anyX],
    ['relu6', tf.relu6, anyX],
    ['elu', tf.elu, anyX],
    ['reciprocal', tf.reciprocal, positive],
    ['sin', tf.sin, anyX],
    ['cos', tf.cos, anyX],
  ];
  for (const [name, op, input] of ops) {
    it(name, () => expectSameOnBothBackends(() => op(input()), 2e-6 * 20, 1e-7, name));
  }
  it('int32 inputs keep the cpu kernel', () => {
    expectSameOnBothBackends(() => [tf.neg(tf.tensor1d([1, -2, 3], 'int32')), tf.abs(tf.tensor1d([1, -2, 3], 'int32'))]);
  });
  it('gradients through exp, tanh, sigmoid', () => {
    expectSameOnBothBackends(() => tf.grad((x: tf.Tensor) => tf.add(tf.tanh(x), tf.mul(tf.sigmoid(x), tf.exp(tf.mul(x, 0.1)))).sum())(t([1000], 3)), 1e-5);
  });
});

describe.skipIf(!nativeAvailable())('binary ops on native', () => {
  const shapes: [number[], number[]][] = [
    [[40000], [40000]],
    [[7, 5, 6], [7, 5, 6]],
    [[7, 5, 6], []],
    [[], [7, 5, 6]],
    [[7, 5, 6], [6]],
    [[6], [7, 5, 6]],
    [[7, 5, 6], [7, 5, 1]],
    [[7, 1, 6], [7, 5, 6]],
    [[7, 1, 6], [1, 5, 1]],
    [[2, 3, 1, 4, 1], [1, 3, 5, 1, 6]],
    [[300, 200], [300, 1]],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', tf.div],
    ['maximum', tf.maximum],
    ['minimum', tf.minimum],
    ['squaredDifference', tf.squaredDifference],
  ];
  for (const [name, op] of ops) {
    it(name, () => {
      shapes.forEach(([as, bs], i) => expectSameOnBothBackends(() => op(t(as, 1 + i), t(bs, 50 + i)), 1e-6, 1e-7, `${name} [${as}] [${bs}]`));
    });
  }
  it('NaN propagates through maximum/minimum; int32 keeps the cpu kernel', () => {
    expectSameOnBothBackends(() => [tf.maximum(tf.tensor1d([NaN, 1, 2]), tf.tensor1d([0, NaN, 3])), tf.minimum(tf.tensor1d([NaN, 1, 2]), 1)]);
    expectSameOnBothBackends(() => tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')));
  });
  it('gradients of broadcast ops', () => {
    expectSameOnBothBackends(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.div(tf.mul(tf.sub(a, b), a), tf.add(tf.abs(b), 1)).sum())([t([4, 5, 6], 1), t([5, 1], 2)]), 1e-5);
  });
});
