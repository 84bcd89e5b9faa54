// Test helpers shared by the backend packages (tfjs-backend-native, tfjs-backend-torch): the same
// computation on 'cpu' and on the backend under test, compared output by output. Not exported from
// kernels; backend tests import it by relative path, as they do the other testing helpers.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

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

export interface Result {
  shape: number[];
  dtype: tf.DataType;
  values: tf.TypedArray;
}

/** Runs fn on a backend and returns its outputs' shapes, dtypes and values (tensors disposed). */
export function runOn(backend: string, fn: () => Outputs): Result[] {
  const prev = tf.getBackend();
  tf.setBackend(backend);
  try {
    const outs = tf.tidy(() => flatten(fn()));
    const res = outs.map((t) => ({ shape: t.shape.slice(), dtype: t.dtype, values: t.dataSync() as tf.TypedArray }));
    tf.dispose(outs);
    return res;
  } finally {
    tf.setBackend(prev);
  }
}

/** |a - b| <= atol + rtol * |b| elementwise (NaN matches NaN); reports the worst element as `label` vs cpu. */
export function expectCloseTo(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what = ''): void {
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
  if (worst >= 0) expect.fail(`${what} element ${worst}: ${label} ${actual[worst]} vs cpu ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
}

/** The same computation on cpu and `backend`, compared output by output (shape, dtype, values). */
export function expectSameAsCpu(backend: string, fn: () => Outputs, rtol: number, atol: number, what = ''): void {
  const cpu = runOn('cpu', fn);
  const got = runOn(backend, fn);
  expect(got.length, `${what} output count`).toBe(cpu.length);
  got.forEach((t, i) => {
    expect(t.shape, `${what} output ${i} shape`).toEqual(cpu[i]!.shape);
    expect(t.dtype, `${what} output ${i} dtype`).toBe(cpu[i]!.dtype);
    expectCloseTo(backend, t.values, cpu[i]!.values, rtol, atol, `${what} output ${i}`);
  });
}

/** Atol scaled to the length of a sum: a dot product of k float32 terms carries ~sqrt(k) ulps of their size. */
export function sumAtol(k: number, magnitude = 1): number {
  return 2e-6 * Math.sqrt(k) * magnitude + 1e-5;
}
