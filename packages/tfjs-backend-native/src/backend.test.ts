import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { registerNativeBackend } from './backend.js';
import { nativeAvailable } from './testing.js';

describe.skipIf(!nativeAvailable())('registerNativeBackend', () => {
  it('overrides only kernels tfjs-cpu has (plus the Opensora fused ones), and is idempotent', () => {
    const info = registerNativeBackend();
    const cpu = new Set(tf.getKernelsForBackend('cpu').map((k) => k.kernelName));
    expect(info.kernels.filter((k) => !cpu.has(k) && !k.startsWith('Opensora'))).toEqual([]);
    expect(registerNativeBackend().kernels).toEqual(info.kernels);
    for (const k of tf.getKernelsForBackend('cpu')) expect(tf.getKernel(k.kernelName, 'native'), k.kernelName).toBeDefined();
  });
  it('sets the thread count', () => {
    expect(registerNativeBackend({ threads: 1 }).threads).toBe(1);
    expect(() => registerNativeBackend({ threads: 0 })).toThrow(/threads=0/);
  });
});
