// f32 routes a tensor to the addon or the cpu fallback: a float32 tensor that tfjs-cpu's Cast made
// from int32 or bool keeps the integer array, and must still take the native path.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { nativeAvailable, runOn } from '../testing.js';
import { f32 } from './util.js';
// The cpu reference of the fused attention (see attention.test.ts).
import '../../../kernels/src/fused/register.js';

describe.skipIf(!nativeAvailable())('f32 on native', () => {
  const onNative = <T>(fn: (backend: MathBackendCPU) => T): T => {
    const prev = tf.getBackend();
    tf.setBackend('native');
    try {
      return fn(tf.backend() as MathBackendCPU);
    } finally {
      tf.setBackend(prev);
    }
  };

  it('gives float32 values of int32 and bool tensors cast to float32 (tfjs keeps their integer arrays)', () => {
    onNative((backend) => {
      for (const src of [tf.tensor1d([1, 0, 1, 1], 'int32'), tf.tensor1d([true, false, true, true], 'bool')]) {
        const x = tf.cast(src, 'float32');
        const stored = backend.data.get(x.dataId).values;
        expect(stored instanceof Float32Array, `premise: cast from ${src.dtype} keeps a ${stored?.constructor.name}`).toBe(false);
        const v = f32(backend, x);
        expect(v).toBeInstanceOf(Float32Array);
        expect(Array.from(v!)).toEqual([1, 0, 1, 1]);
        tf.dispose([src, x]);
      }
    });
  });

  it('is null for other dtypes and the stored array itself for float32', () => {
    onNative((backend) => {
      const i = tf.tensor1d([1, 2], 'int32');
      const f = tf.tensor1d([1.5, 2]);
      expect(f32(backend, i)).toBeNull();
      expect(f32(backend, f)).toBe(backend.data.get(f.dataId).values);
      tf.dispose([i, f]);
    });
  });

  it('a cast mask gives the same attention as on cpu', () => {
    const run = () => {
      const q = tf.randomNormal([1, 2, 5, 4], 0, 1, 'float32', 1);
      const mask = tf.cast(tf.tensor2d([[1, 1, 0, 1, 0, 0]], [1, 6], 'int32'), 'float32');
      const kv = tf.randomNormal([1, 2, 6, 4], 0, 1, 'float32', 2);
      return tf.engine().runKernel('OpensoraAttention', { q, k: kv, v: kv, mask }, { scale: 0.5, causal: 0 }) as tf.Tensor;
    };
    const [native] = runOn('native', run);
    const [cpu] = runOn('cpu', run);
    native!.values.forEach((x, j) => expect(x).toBeCloseTo(cpu!.values[j]!, 5));
  });
});
