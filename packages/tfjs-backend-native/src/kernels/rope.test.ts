// The native rotary embedding against its reference, the composite of @opensora-ts/kernels
// (applyRotary on cpu, which has no kernel of this name): forward and the x gradient, full and
// partial rotation width, and the errors for mismatched shapes and other dtypes.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { applyRotary } from '../../../kernels/src/ops/rope.js';
import { expectClose, nativeAvailable, randn, runOn } from '../testing.js';

function inputs(shape: number[], r: number, seed: number): [tf.Tensor, tf.Tensor2D, tf.Tensor] {
  const n = shape[shape.length - 2]!;
  const size = shape.reduce((a, b) => a * b, 1);
  return [tf.tensor(randn(size, seed), shape), tf.tensor2d(randn(n * r, seed + 1).map((a) => 3 * a), [n, r]), tf.tensor(randn(size, seed + 2), shape)];
}

describe.skipIf(!nativeAvailable())('OpensoraRope on native', () => {
  it('is registered on native only (the composite is the reference; cpu has no kernel of this name)', () => {
    for (const name of ['OpensoraRope', 'OpensoraRopeGrad']) {
      expect(tf.getKernel(name, 'native'), name).toBeDefined();
      expect(tf.getKernel(name, 'cpu'), name).toBeUndefined();
    }
  });

  for (const [shape, r] of [[[2, 8, 320, 48], 48], [[3, 5, 10], 6], [[7, 4], 4], [[1, 1, 3, 72], 0]] as [number[], number][]) {
    it(`x [${shape}] rotating ${r} channels: the composite's values and x gradient`, () => {
      const native = runOn('native', () => {
        const [x, angles, dy] = inputs(shape, r, 3);
        return [tf.engine().runKernel('OpensoraRope', { x, angles }, {}) as tf.Tensor, tf.engine().runKernel('OpensoraRopeGrad', { dy, angles }, {}) as tf.Tensor];
      });
      const cpu = runOn('cpu', () => {
        const [x, angles, dy] = inputs(shape, r, 3);
        const [gx] = tf.grads((xx: tf.Tensor) => tf.sum(tf.mul(applyRotary(xx, angles), dy)))([x]);
        return [applyRotary(x, angles), gx!];
      });
      // The composite's float32 steps; cos/sin from glibc here and V8 there (both double, rounded
      // to float32) may differ by an ulp, and tf sums the two paths of the x gradient its own way.
      native.forEach((o, i) => expectClose(o.values, cpu[i]!.values, 1e-6, 1e-6, `${i ? 'dx' : 'y'} [${shape}]`));
    });
  }

  it('reuses the cos/sin of an earlier call only for the very same angles (more tables than it keeps, one entry apart)', () => {
    // The kernel keeps the tables of its last few angle tensors, keyed by their contents. Cycle
    // through more tables of one shape than it keeps, two of them one entry apart, twice: every
    // call must give the composite's values and, bit for bit, what its table's first call gave.
    const [n, r, shape] = [6, 8, [2, 3, 6, 10]];
    const tables = Array.from({ length: 11 }, (_, i) => randn(n * r, 40 + i).map((a) => 3 * a));
    tables[10] = tables[9]!.slice();
    tables[10][n * r - 1] = tables[10][n * r - 1]! + 1;
    const xs = randn(2 * 3 * n * 10, 7);
    const calls = [...tables.keys(), ...tables.keys(), ...[...tables.keys()].reverse()];
    const native = runOn('native', () =>
      calls.flatMap((i) => {
        const [x, angles] = [tf.tensor(xs, shape), tf.tensor2d(tables[i]!, [n, r])];
        return [tf.engine().runKernel('OpensoraRope', { x, angles }, {}) as tf.Tensor, tf.engine().runKernel('OpensoraRopeGrad', { dy: x, angles }, {}) as tf.Tensor];
      }),
    );
    const cpu = runOn('cpu', () =>
      tables.map((t) => {
        const x = tf.tensor(xs, shape);
        const angles = tf.tensor2d(t, [n, r]);
        return applyRotary(x, angles);
      }),
    );
    calls.forEach((i, k) => {
      expectClose(native[2 * k]!.values, cpu[i]!.values, 1e-6, 1e-6, `y, call ${k} (table ${i})`);
      expect(Array.from(native[2 * k]!.values), `y, call ${k} (table ${i})`).toEqual(Array.from(native[2 * i]!.values));
      expect(Array.from(native[2 * k + 1]!.values), `dx, call ${k} (table ${i})`).toEqual(Array.from(native[2 * i + 1]!.values));
    });
  });

  it('names the shapes when the angles do not fit x, and refuses other dtypes', () => {
    const prev = tf.getBackend();
    tf.setBackend('native');
    try {
      const x = tf.zeros([2, 5, 8]);
      expect(() => tf.engine().runKernel('OpensoraRope', { x, angles: tf.zeros([4, 8]) }, {})).toThrow(/x \[2,5,8\] and angles \[4,8\]/);
      expect(() => tf.engine().runKernel('OpensoraRope', { x, angles: tf.zeros([5, 8], 'int32') }, {})).toThrow(/expected float32/);
    } finally {
      tf.setBackend(prev);
    }
  });
});
