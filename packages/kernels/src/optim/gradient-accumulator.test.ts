import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';
import { GradientAccumulator } from './gradient-accumulator.js';

describe('GradientAccumulator', () => {
  it('sum of micro-batches (loss / steps) equals one big batch of a mean loss', () => {
    const w = tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25], [-0.75, 1.5]]), true, 'acc-w');
    const b = tf.variable(tf.tensor1d([0.1, -0.2]), true, 'acc-b');
    const x = tf.tensor2d([[1, 2, 3], [-1, 0.5, 2], [0, 1, -1], [2, -2, 1]]);
    const y = tf.tensor2d([[1, 0], [0, 1], [1, 1], [-1, 2]]);
    const lossOf = (xs: Tensor, ys: Tensor) => tf.square(tf.sub(tf.add(tf.matMul(xs, w), b), ys));
    const gradsOf = (f: () => tf.Scalar) => {
      const { value, grads } = tf.variableGrads(f, [w, b]);
      const loss = value.dataSync()[0]!;
      value.dispose();
      return { loss, grads: new Map<string, Tensor>([['w', grads[w.name]!], ['b', grads[b.name]!]]) };
    };
    const big = gradsOf(() => tf.mean(lossOf(x, y)) as tf.Scalar);

    const acc = new GradientAccumulator(2);
    const losses: number[] = [];
    for (let i = 0; i < 2; i++) {
      const xs = tf.slice(x, [2 * i, 0], [2, -1]);
      const ys = tf.slice(y, [2 * i, 0], [2, -1]);
      const m = gradsOf(() => acc.scaleLoss(lossOf(xs, ys)));
      losses.push(acc.unscaleLoss(m.loss));
      expect(acc.ready).toBe(false);
      acc.add(m.grads);
      tf.dispose([xs, ys]);
    }
    expect(acc.count).toBe(2);
    expect(acc.ready).toBe(true);
    const sum = acc.take();
    expect(acc.count).toBe(0);
    expect((losses[0]! + losses[1]!) / 2).toBeCloseTo(big.loss, 5);
    for (const k of ['w', 'b']) {
      const got = sum.get(k)!.dataSync();
      Array.from(big.grads.get(k)!.dataSync()).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    }
    tf.dispose([...sum.values(), ...big.grads.values(), w, b, x, y]);
  });

  it('sums per name (a name one micro-batch lacks is kept) and frees what it consumed', () => {
    const acc = new GradientAccumulator(2);
    const before = tf.memory().numTensors;
    acc.add(new Map([['w', tf.tensor([1, 2])]]));
    acc.add(new Map([['w', tf.tensor([10, 20])], ['v', tf.tensor([5])]]));
    // Held: the summed 'w' and the copied 'v'; every input was disposed.
    expect(tf.memory().numTensors).toBe(before + 2);
    const sum = acc.take();
    expect(Array.from(sum.get('w')!.dataSync())).toEqual([11, 22]);
    expect(Array.from(sum.get('v')!.dataSync())).toEqual([5]);
    tf.dispose([...sum.values()]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('memory is flat across optimizer steps; dispose() frees a partial sum', () => {
    const acc = new GradientAccumulator(3);
    const grads = () => new Map<string, Tensor>([['a', tf.ones([4, 4])], ['b', tf.zeros([7])]]);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 4; step++) {
      while (!acc.ready) acc.add(grads());
      tf.dispose([...acc.take().values()]);
      expect(tf.memory().numTensors).toBe(before);
    }
    acc.add(grads());
    acc.add(grads());
    acc.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(acc.count).toBe(0);
    acc.dispose();
  });

  it('lossScale is 1/steps; refuses a bad step count and a take() with nothing added, saying what to do', () => {
    expect(() => new GradientAccumulator(0)).toThrow(/steps=0: expected an integer >= 1/);
    expect(() => new GradientAccumulator(1.5)).toThrow(RangeError);
    expect(new GradientAccumulator(4).lossScale).toBe(0.25);
    expect(() => new GradientAccumulator().take()).toThrow(/no gradients were added .*call add\(\)/);
  });
});
