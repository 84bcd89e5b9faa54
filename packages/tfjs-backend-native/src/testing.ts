// Test helpers (not exported from the package): run the same computation on 'cpu' and
// 'native' and compare, and skip whole suites with a printed reason when the addon is absent.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
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

/** Deterministic normal-ish values (sum of uniforms), so failures reproduce. */
export function randn(n: number, seed = 1, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() + next() + next() + next() - 2) * 1.7320508 * scale;
  return out;
}

export type Outputs = tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;

function flatten(o: Outputs): tf.Tensor[] {
  if (o instanceof tf.Tensor) return [o];
  if (Array.isArray(o)) return o;
  return Object.keys(o)
    .sort()
    .map((k) => o[k]!);
}

/** Runs fn on a backend and returns its outputs' shapes and values (tensors disposed). */
export function runOn(backend: string, fn: () => Outputs): { shape: number[]; values: Float32Array | Int32Array }[] {
  const prev = tf.getBackend();
  tf.setBackend(backend);
  try {
    const outs = tf.tidy(() => flatten(fn()));
    const res = outs.map((t) => ({ shape: t.shape.slice(), values: t.dataSync() as Float32Array | Int32Array }));
    tf.dispose(outs);
    return res;
  } finally {
    tf.setBackend(prev);
  }
}

/** |a - b| <= atol + rtol * |b| elementwise; reports the worst element on failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4, atol = 1e-5, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    if (a === b || (Number.isNaN(b) && Number.isNaN(a))) continue;
    const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(excess <= worstExcess)) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what} element ${worst}: native ${actual[worst]} vs cpu ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** The same computation on cpu and native, compared output by output. */
export function expectSameOnBothBackends(fn: () => Outputs, rtol = 1e-4, atol = 1e-5, what = ''): void {
  const cpu = runOn('cpu', fn);
  const native = runOn('native', fn);
  expect(native.length).toBe(cpu.length);
  native.forEach((n, i) => {
    expect(n.shape, `${what} output ${i} shape`).toEqual(cpu[i]!.shape);
    expectClose(n.values, cpu[i]!.values, rtol, atol, `${what} output ${i}`);
  });
}

/**
 * Atol scaled to the size of a sum: a dot product of length k in float32 carries ~sqrt(k)
 * ulps of its terms' magnitude, which a fixed 1e-5 cannot bound.
 */
export function sumAtol(k: number, magnitude = 1): number {
  return 2e-6 * Math.sqrt(k) * magnitude + 1e-5;
}
