// The output-buffer pool (buffer-pool.ts): a disposed output's buffer is reused, and never one that
// user code may still hold (read with dataSync/data/arraySync, moved to another backend, read in a
// customGrad function) or that another live tensor still views (a contiguous slice, a cast).
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeBackend } from './backend.js';
import { readFileSync } from 'node:fs';
import { FREE_MIN_BYTES, POOL_MIN_FLOATS, bufferBehind, bufferPoolStats, clearBufferPool, poolCapFromEnv, setPoolCap } from './buffer-pool.js';
import { nativeAvailable, randn } from './testing.js';

/** Each test on native with an empty pool of `capBytes`; the backend and the cap are restored after. */
function onNativeWithPoolCap(capBytes: number) {
  let prev = '';
  beforeEach(() => {
    prev = tf.getBackend();
    tf.setBackend('native');
    setPoolCap(capBytes);
    clearBufferPool();
  });
  afterEach(() => {
    tf.setBackend(prev);
    setPoolCap(poolCapFromEnv());
  });
  const backend = () => tf.backend() as MathBackendCPU;
  return { backend, bufferOf: (t: tf.Tensor) => bufferBehind(backend().data, t.dataId)! };
}

describe.skipIf(!nativeAvailable())('output buffer pool on native', () => {
  const { backend, bufferOf } = onNativeWithPoolCap(64 * 2 ** 20);
  // Distinct sizes per test, all pooled, so no test takes another's leftovers.
  const input = (rows: number, seed: number) => tf.tensor2d(randn(rows * 256, seed), [rows, 256]);

  it('gives a disposed output buffer to the next output of the same size', () => {
    expect(64 * 256).toBeGreaterThanOrEqual(POOL_MIN_FLOATS);
    const x = input(64, 1);
    const y = tf.exp(x);
    const ab = bufferOf(y);
    const before = bufferPoolStats();
    y.dispose();
    expect(bufferPoolStats().returned).toBe(before.returned + 1);
    const z = tf.exp(x);
    expect(bufferOf(z)).toBe(ab);
    expect(bufferPoolStats().hits).toBe(before.hits + 1);
    // The reused buffer holds z's values, not y's leftovers mixed in.
    const want = tf.tidy(() => tf.exp(x).dataSync().slice());
    expect(Array.from(z.dataSync())).toEqual(Array.from(want));
    tf.dispose([x, z]);
  });

  it('never reuses a buffer that dataSync, data or arraySync handed out', async () => {
    const x = input(65, 2);
    for (const read of ['dataSync', 'data', 'arraySync'] as const) {
      const y = tf.exp(x);
      const ab = bufferOf(y);
      const held = read === 'dataSync' ? (y.dataSync() as Float32Array) : read === 'data' ? ((await y.data()) as Float32Array) : null;
      const rows = read === 'arraySync' ? (y.arraySync() as number[][]) : null;
      if (held) expect(held.buffer, `${read} premise: the backend's own array`).toBe(ab);
      const copy = held ? held.slice() : null;
      y.dispose();
      const others = [tf.exp(x), tf.neg(x), tf.sigmoid(x)];
      for (const t of others) expect(bufferOf(t), read).not.toBe(ab);
      if (held) expect(Array.from(held), `${read} array changed after dispose`).toEqual(Array.from(copy!));
      if (rows) expect(rows.length).toBe(65);
      tf.dispose(others);
    }
    x.dispose();
  });

  it('keeps a sliced parent alive while the slice (a view of its buffer) lives', () => {
    const x = input(66, 3);
    const y = tf.exp(x);
    const ab = bufferOf(y);
    const s = tf.slice(y, [10, 0], [40, 256]);
    expect(bufferOf(s), 'premise: a contiguous slice is a view').toBe(ab);
    const want = tf.tidy(() => tf.slice(tf.exp(x), [10, 0], [40, 256]).dataSync().slice());
    y.dispose();
    const z = tf.exp(x);
    const w = tf.neg(x);
    expect(bufferOf(z)).not.toBe(ab);
    expect(bufferOf(w)).not.toBe(ab);
    s.dispose(); // the last view: now the buffer goes back
    const v = tf.sigmoid(x);
    expect(bufferOf(v)).toBe(ab);
    // The slice's values were intact until it was disposed: check a second slice the same way.
    const y2 = tf.exp(x);
    const s2 = tf.slice(y2, [10, 0], [40, 256]);
    y2.dispose();
    const noise = [tf.neg(x), tf.sigmoid(x), tf.tanh(x)];
    expect(Array.from(s2.dataSync())).toEqual(Array.from(want));
    tf.dispose([x, z, w, v, s2, ...noise]);
  });

  it('keeps a buffer while any piece that tfjs-cpu\'s Unpack cut from it (views) lives', () => {
    const x = input(72, 8);
    const y = tf.exp(x);
    const ab = bufferOf(y);
    const rows = tf.unstack(tf.reshape(y, [4, 18 * 256]));
    for (const r of rows) expect(bufferOf(r), 'premise: each row is a view').toBe(ab);
    const want = tf.tidy(() => tf.unstack(tf.reshape(tf.exp(x), [4, 18 * 256]))[3]!.dataSync().slice());
    y.dispose();
    tf.dispose(rows.slice(0, 3));
    const others = [tf.exp(x), tf.neg(x)];
    for (const t of others) expect(bufferOf(t)).not.toBe(ab);
    expect(Array.from(rows[3]!.dataSync())).toEqual(Array.from(want));
    x.dispose();
    tf.dispose([rows[3]!, ...others]);
  });

  it('keeps an int32 output alive while a float32 cast of it (the same data) lives', () => {
    const idx = tf.tensor1d(Int32Array.from({ length: 67 * 256 }, (_, i) => i % 1000), 'int32');
    const t = tf.transpose(tf.reshape(idx, [67, 256])); // native Transpose: int32 view of a pooled buffer
    const ab = bufferOf(t);
    const f = tf.cast(t, 'float32'); // tfjs-cpu keeps the int32 array under the float32 dtype
    expect(bufferOf(f), 'premise: cast keeps the array').toBe(ab);
    t.dispose();
    const other = tf.transpose(tf.reshape(idx, [67, 256]));
    expect(bufferOf(other)).not.toBe(ab);
    const want = tf.tidy(() => tf.transpose(tf.reshape(idx, [67, 256])).dataSync().slice());
    expect(Array.from(f.dataSync())).toEqual(Array.from(want));
    tf.dispose([idx, f, other]);
  });

  it('never reuses a buffer read inside a customGrad function (user code, though within a kernel call)', () => {
    const x = input(68, 4);
    let kept: Float32Array | null = null;
    const f = tf.customGrad((a) => {
      const e = tf.exp(a as tf.Tensor);
      kept = e.dataSync() as Float32Array;
      return { value: tf.add(e, 0), gradFunc: (dy: tf.Tensor) => dy };
    });
    const out = f(x) as tf.Tensor;
    const copy = kept!.slice();
    out.dispose();
    const others = [tf.exp(x), tf.neg(x), tf.sigmoid(x), tf.add(x, 1)];
    for (const t of others) expect(bufferOf(t)).not.toBe(kept!.buffer);
    expect(Array.from(kept!)).toEqual(Array.from(copy));
    tf.dispose([x, ...others]);
  });

  it('never reuses a buffer that moved to another backend', () => {
    const x = input(69, 5);
    const y = tf.exp(x);
    const ab = bufferOf(y);
    tf.setBackend('cpu');
    const z = tf.add(y, 0); // moves y's data to cpu, which keeps the same array
    tf.setBackend('native');
    const before = bufferPoolStats().returned;
    y.dispose();
    expect(bufferPoolStats().returned).toBe(before);
    const w = tf.exp(x);
    expect(bufferOf(w)).not.toBe(ab);
    tf.dispose([x, z, w]);
  });

  it('reuses nothing with cap 0 (OPENSORA_NATIVE_POOL_MB=0) and keeps pooled bytes under the cap', () => {
    const x = input(70, 6);
    setPoolCap(0);
    const y = tf.exp(x);
    const ab = bufferOf(y);
    y.dispose();
    const z = tf.exp(x);
    expect(bufferOf(z)).not.toBe(ab);
    z.dispose();
    const bytes = 70 * 256 * 4;
    setPoolCap(2 * bytes);
    const ys = Array.from({ length: 5 }, () => tf.exp(x));
    tf.dispose(ys);
    const s = bufferPoolStats();
    expect(s.pooledBytes).toBeLessThanOrEqual(2 * bytes);
    expect(s.pooledBuffers).toBe(2);
    expect(s.evicted).toBeGreaterThanOrEqual(3);
    x.dispose();
  });

  it('reads OPENSORA_NATIVE_POOL_MB and refuses a bad value', () => {
    const saved = process.env.OPENSORA_NATIVE_POOL_MB;
    try {
      delete process.env.OPENSORA_NATIVE_POOL_MB;
      // Unset: 384 MiB, enough for a mid train step's released outputs to come back next step.
      expect(poolCapFromEnv()).toBe(384 * 2 ** 20);
      process.env.OPENSORA_NATIVE_POOL_MB = '3';
      expect(poolCapFromEnv()).toBe(3 * 2 ** 20);
      process.env.OPENSORA_NATIVE_POOL_MB = 'lots';
      expect(() => poolCapFromEnv()).toThrow(/OPENSORA_NATIVE_POOL_MB='lots'/);
    } finally {
      if (saved === undefined) delete process.env.OPENSORA_NATIVE_POOL_MB;
      else process.env.OPENSORA_NATIVE_POOL_MB = saved;
    }
  });

  it('empties the pool when a native backend is disposed', () => {
    const x = input(71, 7);
    tf.exp(x).dispose();
    expect(bufferPoolStats().pooledBytes).toBeGreaterThan(0);
    new NativeBackend().dispose();
    expect(bufferPoolStats().pooledBytes).toBe(0);
    x.dispose();
  });
});

// Large outputs (FREE_MIN_BYTES and up) are the addon's memory: once released and not pooled they
// are detached and freed on the spot, without waiting for the garbage collector.
describe.skipIf(!nativeAvailable())('large output buffers freed at once on native', () => {
  const { backend, bufferOf } = onNativeWithPoolCap(8 * 2 ** 20);
  const rssBytes = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  const MB = 2 ** 20;

  it('detaches a released output larger than the cap and returns its memory without a collection', () => {
    const x = tf.zeros([64, MB / 4]); // 64 MiB, a V8 array (not a native output)
    const y = tf.exp(x); // 64 MiB written in full: resident
    const ab = bufferOf(y);
    expect(ab.byteLength).toBe(64 * MB);
    const before = bufferPoolStats();
    const rss = rssBytes();
    y.dispose();
    const dropped = rss - rssBytes();
    expect(ab.byteLength, 'detached').toBe(0);
    expect(bufferPoolStats().freedNow).toBe(before.freedNow + 1);
    expect(bufferPoolStats().returned, 'not pooled').toBe(before.returned);
    expect(dropped, `RSS dropped by ${(dropped / MB).toFixed(1)} MiB`).toBeGreaterThan(48 * MB);
    x.dispose();
  });

  it('never detaches an escaped output, which keeps its values', async () => {
    const x = tf.tensor2d(randn(1024 * 513, 11), [1024, 513]); // 2 MiB outputs: over FREE_MIN_BYTES
    expect(1024 * 513 * 4).toBeGreaterThanOrEqual(FREE_MIN_BYTES);
    for (const read of ['dataSync', 'data'] as const) {
      setPoolCap(read === 'dataSync' ? 0 : 8 * MB); // neither freeing nor pooling may take it
      const y = tf.exp(x);
      const ab = bufferOf(y);
      const held = (read === 'dataSync' ? y.dataSync() : await y.data()) as Float32Array;
      const copy = held.slice();
      const before = bufferPoolStats();
      y.dispose();
      expect(bufferPoolStats().freedNow, read).toBe(before.freedNow);
      expect(bufferPoolStats().escapedReleases, read).toBe(before.escapedReleases + 1);
      tf.dispose([tf.exp(x), tf.neg(x)]);
      clearBufferPool();
      expect(ab.byteLength, read).toBe(1024 * 513 * 4);
      expect(held.length).toBe(copy.length);
      expect(held.every((v, i) => v === copy[i] || (Number.isNaN(v) && Number.isNaN(copy[i]!))), read).toBe(true);
    }
    x.dispose();
  });

  it('keeps a large buffer while a slice of it (a view) lives, and frees it with the last holder', () => {
    const x = tf.tensor2d(randn(2048 * 257, 12), [2048, 257]);
    const y = tf.exp(x);
    const ab = bufferOf(y);
    const s = tf.slice(y, [100, 0], [1500, 257]);
    expect(bufferOf(s), 'premise: a contiguous slice is a view').toBe(ab);
    const want = tf.tidy(() => tf.slice(tf.exp(x), [100, 0], [1500, 257]).dataSync().slice());
    setPoolCap(0);
    y.dispose();
    tf.dispose([tf.exp(x), tf.sigmoid(x)]);
    expect(ab.byteLength, 'the slice still holds it').toBe(2048 * 257 * 4);
    const got = tf.tidy(() => tf.add(s, 0).dataSync().slice());
    expect(Array.from(got)).toEqual(Array.from(want));
    const before = bufferPoolStats().freedNow;
    s.dispose();
    expect(ab.byteLength).toBe(0);
    expect(bufferPoolStats().freedNow).toBe(before + 1);
    x.dispose();
  });

  it('pools a large buffer under the cap (not freed), and frees it when evicted or cleared', () => {
    const x = tf.tensor2d(randn(1024 * 515, 13), [1024, 515]); // 2.01 MiB: four fit under 8 MiB
    const ys = Array.from({ length: 5 }, () => tf.exp(x));
    const abs = ys.map(bufferOf);
    const before = bufferPoolStats();
    tf.dispose(ys);
    const after = bufferPoolStats();
    expect(after.returned - before.returned).toBe(5);
    expect(after.evicted - before.evicted).toBe(2); // 3 x 2.01 MiB fit, the two oldest went
    expect(after.freedNow - before.freedNow).toBe(2);
    expect(abs.map((ab) => ab.byteLength === 0)).toEqual([true, true, false, false, false]);
    const z = tf.exp(x);
    expect(abs.slice(2)).toContain(bufferOf(z));
    z.dispose();
    clearBufferPool();
    expect(abs.every((ab) => ab.byteLength === 0)).toBe(true);
    expect(bufferPoolStats().freedNow - before.freedNow).toBe(5);
    x.dispose();
  });
});
