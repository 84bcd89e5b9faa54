// Test helpers (not exported from the package): run the same computation on 'cpu' and
// 'native' and compare, and skip whole suites with a printed reason when the addon is absent.
import * as tf from '@tensorflow/tfjs';
import { expectCloseTo, expectSameAsCpu, randn, type Outputs } from '../../kernels/src/testing/backend-compare.js';
import { nativeAddonStatus } from './addon.js';
import { registerNativeBackend } from './backend.js';

const status = nativeAddonStatus();

/** True when the addon is built; otherwise prints why once and returns false (suites skip). */
export function nativeAvailable(): boolean {
  if (!status.available) {
    if (!(globalThis as { __nativeSkipNoted?: boolean }).__nativeSkipNoted) {
      console.warn(`native backend tests skipped: ${status.reason}`);
      (globalThis as { __nativeSkipNoted?: boolean }).__nativeSkipNoted = true;
    }
    return false;
  }
  registerNativeBackend();
  return true;
}

export { randn, runOn, sumAtol } from '../../kernels/src/testing/backend-compare.js';
export type { Outputs, Result } from '../../kernels/src/testing/backend-compare.js';

/** |a - b| <= atol + rtol * |b| elementwise; reports the worst element on failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4, atol = 1e-5, what = ''): void {
  expectCloseTo('native', actual, expected, rtol, atol, what);
}

/** The same computation on cpu and native, compared output by output (shape, dtype, values). */
export function expectSameOnBothBackends(fn: () => Outputs, rtol = 1e-4, atol = 1e-5, what = ''): void {
  expectSameAsCpu('native', fn, rtol, atol, what);
}
