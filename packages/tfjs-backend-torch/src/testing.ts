// Test helpers (not exported from the package): run the same computation on 'cpu' and
// 'torch' and compare, and skip whole suites with a printed reason when the addon is absent.
import * as tf from '@tensorflow/tfjs';
import { expectCloseTo, expectSameAsCpu, randn, type Outputs } from '../../kernels/src/testing/backend-compare.js';
import { torchAddonStatus } from './addon.js';
import { registerTorchBackend } from './register.js';

const status = torchAddonStatus();

/** True when the addon is built; otherwise prints why once and returns false (suites skip by name). */
export function torchAvailable(): boolean {
  if (!status.available) {
    const g = globalThis as { __torchSkipNoted?: boolean };
    if (!g.__torchSkipNoted) {
      console.warn(`torch backend tests skipped: ${status.reason}`);
      g.__torchSkipNoted = true;
    }
    return false;
  }
  registerTorchBackend({ device: process.env.OPENSORA_DEVICE || 'cpu' });
  return true;
}

export { randn, runOn, sumAtol } from '../../kernels/src/testing/backend-compare.js';
export type { Outputs, Result } from '../../kernels/src/testing/backend-compare.js';

export function rand(shape: number[], seed = 1, scale = 1): tf.Tensor {
  return tf.tensor(randn(shape.reduce((a, d) => a * d, 1), seed, scale), shape);
}

/** |a - b| <= atol + rtol * |b| elementwise; reports the worst element on failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, what = ''): void {
  expectCloseTo('torch', actual, expected, rtol, atol, what);
}

/** The same computation on cpu and torch, compared output by output (shape, dtype, values). */
export function expectSameOnBothBackends(fn: () => Outputs, rtol = 1e-5, atol = 1e-6, what = ''): void {
  expectSameAsCpu('torch', fn, rtol, atol, what);
}
