import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectSameOnBothBackends, rand, torchAvailable } from '../testing.js';
import { BINARY, UNARY } from './elementwise.js';

/** Inputs inside each op's domain (the cpu reference gives NaN elsewhere, as ATen does). */
function domainInput(op: string): tf.Tensor {
  const x = rand([3, 7], 11);
  if (['Log', 'Sqrt', 'Rsqrt', 'Reciprocal'].includes(op)) return tf.add(tf.abs(x), 0.1);
  if (['Acos', 'Asin', 'Atanh'].includes(op)) return tf.mul(tf.tanh(x), 0.9);
  if (op === 'Acosh') return tf.add(tf.abs(x), 1.1);
  if (op === 'Log1p') return tf.add(tf.abs(x), -0.5);
  if (op === 'LogicalNot') return tf.greater(x, 0);
  if (op === 'IsNan' || op === 'IsInf' || op === 'IsFinite') return tf.tensor1d([0, NaN, Infinity, -Infinity, 1]);
  if (op === 'Round') return tf.tensor1d([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1.2, -3.7]);
  return x;
}

describe.skipIf(!torchAvailable())('unary kernels on torch', () => {
  for (const op of UNARY) {
    it(op, () => {
      expectSameOnBothBackends(() => tf.engine().runKernel(op, { x: domainInput(op) }) as tf.Tensor, 2e-6, 1e-6, op);
    });
  }
  it('int32 inputs keep their dtype where tfjs does (Abs, Neg, Square, Relu, Sign)', () => {
    for (const op of ['Abs', 'Neg', 'Square', 'Relu', 'Sign']) {
      expectSameOnBothBackends(() => tf.engine().runKernel(op, { x: tf.tensor1d([-3, 0, 2], 'int32') }) as tf.Tensor, 0, 0, op);
    }
  });
  it('LeakyRelu, Step, ClipByValue, Elu, Relu6', () => {
    const x = () => rand([4, 5], 3, 4);
    expectSameOnBothBackends(() => tf.leakyRelu(x(), 0.1));
    expectSameOnBothBackends(() => tf.step(tf.concat([x(), tf.tensor2d([[NaN, 0, 1, -1, 2]])]), 0.3));
    expectSameOnBothBackends(() => tf.clipByValue(x(), -1, 2));
    expectSameOnBothBackends(() => [tf.elu(x()), tf.relu6(x())]);
  });
});

describe.skipIf(!torchAvailable())('binary kernels on torch', () => {
  const shapes: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]],
    [[2, 3, 4], [4]],
    [[2, 1, 4], [3, 1]],
    [[1], [2, 3]],
    [[], [2, 2]],
  ];
  for (const op of BINARY) {
    it(`${op} with broadcasting`, () => {
      for (const [sa, sb] of shapes) {
        expectSameOnBothBackends(() => {
          let a = rand(sa, 5);
          let b = rand(sb, 6);
          if (op === 'Pow') a = tf.add(tf.abs(a), 0.5);
          if (op === 'RealDiv' || op === 'FloorDiv' || op === 'Mod') b = tf.add(tf.sign(b), b);
          if (op === 'LogicalAnd' || op === 'LogicalOr') [a, b] = [tf.greater(a, 0), tf.greater(b, 0)];
          // Rounded values, so equal pairs occur.
          if (['Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual'].includes(op)) [a, b] = [tf.round(a), tf.round(b)];
          return tf.engine().runKernel(op, { a, b }) as tf.Tensor;
        }, 2e-6, 1e-6, `${op} [${sa}] [${sb}]`);
      }
    });
  }
  it('int32 arithmetic stays int32 (Add, Sub, Mul, FloorDiv, Mod, Maximum)', () => {
    expectSameOnBothBackends(() => {
      const a = tf.tensor1d([7, -7, 5, 0], 'int32');
      const b = tf.tensor1d([2, 2, -3, 4], 'int32');
      return [tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.floorDiv(a, b), tf.mod(a, b), tf.maximum(a, b)];
    }, 0, 0);
  });
  it('Select, AddN', () => {
    expectSameOnBothBackends(() => tf.where(tf.greater(rand([3, 4], 1), 0), rand([3, 4], 2), rand([3, 4], 3)));
    expectSameOnBothBackends(() => tf.addN([rand([2, 3], 1), rand([2, 3], 2), rand([2, 3], 3)]), 1e-6, 1e-6);
  });
});

describe.skipIf(!torchAvailable())('cast and tensor makers on torch', () => {
  it('Cast between float32, int32 and bool (truncation toward zero)', () => {
    expectSameOnBothBackends(() => {
      const x = tf.tensor1d([-2.7, -0.5, 0, 0.5, 2.7, 3]);
      const i = tf.cast(x, 'int32');
      return [i, tf.cast(x, 'bool'), tf.cast(i, 'float32'), tf.cast(tf.cast(x, 'bool'), 'int32')];
    }, 0, 0);
  });
  it('Fill, ZerosLike, OnesLike, Range, OneHot', () => {
    expectSameOnBothBackends(() => [tf.fill([2, 3], 1.5), tf.fill([2], 7, 'int32'), tf.zerosLike(rand([2, 2])), tf.onesLike(tf.tensor1d([1, 2], 'int32'))], 0, 0);
    expectSameOnBothBackends(() => [tf.range(0, 10, 3), tf.range(5, 1, -1.5), tf.range(3, 0), tf.range(0, 5, 1, 'int32'), tf.range(2, 2)], 0, 0);
    expectSameOnBothBackends(() => tf.oneHot(tf.tensor1d([0, 3, 1, -1, 4], 'int32'), 4, 2, -1), 0, 0);
  });
});
