// Reuse of the native kernels' output buffers. A large output (alloc() in kernels/util.ts) is a
// fresh ArrayBuffer; without reuse it lives until V8 collects it, long after its tensor was
// disposed, and each new one costs page faults on first write. Here a buffer alloc() handed out
// goes back to a size-keyed pool when the last tensor data that holds it is deleted, and alloc()
// takes from that pool first.
//
// Safety rests on two facts tracked per ArrayBuffer:
// - refs: how many live entries of a backend's data map hold a view of it. Every path that
//   stores values there (write, makeTensorInfo, move) goes through the map's set(), every path
//   that drops them through its delete(), so views that tfjs-cpu kernels make of an input under a
//   new dataId (a contiguous Slice's subarray, Cast, Concat of one, ...) count as holders.
// - escaped: the array was read from the map outside a kernel of this backend (dataSync(),
//   data(), arraySync(), bufferSync(), a move to another backend, a customGrad function, any
//   code reading backend.data.get(id).values). User code may keep such an array, so its buffer
//   is never reused. Kernels run synchronously and keep nothing of their inputs once they
//   return (what they return is a map entry again), so reads inside them are not escapes.
//
// A buffer of at least FREE_MIN_BYTES is allocated by the addon (csrc/bigbuf.cc), not by V8. When
// such a buffer is released (no holder, never escaped: the condition for pooling) and the pool
// does not keep it (larger than the cap, evicted, cleared, or reuse off), the addon detaches it and
// frees its memory at once instead of leaving it to the garbage collector: at a VAE's frame sizes
// one activation is hundreds of MB, and several dead ones stayed resident between collections
// (issue 34). An escaped buffer is never detached; V8 frees it when it is collected, as before.
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { KernelFunc } from '@tensorflow/tfjs-core';
import { loadAddon } from './addon.js';

/** Outputs of at least this many floats come from the pool (smaller ones are zero-filled V8 arrays). */
export const POOL_MIN_FLOATS = 16384;

/** Outputs of at least this many bytes are the addon's, freed at once when released and not pooled. */
export const FREE_MIN_BYTES = 2 ** 20;

/**
 * Default cap on the bytes the pool keeps (OPENSORA_NATIVE_POOL_MB overrides; 0 turns reuse off).
 * A mid STDiT3 train step releases more than 128 MiB of outputs at its end that the next step asks
 * for again: at 128 the pool evicted them, every step allocated afresh, and the new ArrayBuffers'
 * external-memory pressure drove 10-25 garbage collections a step. At 384: 2 scavenges, no full
 * collection; 1 thread, CPU time, train mid.step 874/858 -> 792/775 ms, stdit mid.fwd_bwd 424 -> 370 ms,
 * for +150 MiB peak RSS in the train step (still within PyTorch's), none in the VAE mid cases, +309 MiB
 * in the released VAE's encode at 17x128x128 (1899 -> 2208; PyTorch 3267): set 128 where memory is tight.
 */
export const DEFAULT_POOL_MB = 384;

interface Owner {
  /** Live data-map entries holding a view of the buffer. */
  refs: number;
  /** Read outside a kernel: never reused. */
  escaped: boolean;
}

/** Buffers alloc() handed out: the only ones ever pooled. */
const owners = new WeakMap<ArrayBuffer, Owner>();

/** Buffers from the addon's allocBuffer not yet freed: freeNow() may free them. */
const freeable = new WeakSet<ArrayBuffer>();
let freedNow = 0;

/** Frees a released buffer's memory now when the addon allocated it (else V8 collects it later). */
function freeNow(ab: ArrayBuffer): void {
  if (!freeable.has(ab)) return;
  freeable.delete(ab);
  if (loadAddon().freeBuffer(ab)) freedNow++;
}

/** Depth of native-backend kernel calls on the stack (kernels are synchronous). */
let kernelDepth = 0;

export interface BufferPoolStats {
  /** Cap on pooled bytes. */
  capBytes: number;
  /** Bytes waiting in the pool now. */
  pooledBytes: number;
  /** Buffers waiting in the pool now. */
  pooledBuffers: number;
  /** alloc() calls served from the pool. */
  hits: number;
  /** alloc() calls of pooled size that got a new buffer. */
  misses: number;
  /** Buffers returned to the pool when their last tensor data went away. */
  returned: number;
  /** Buffers dropped (left to the garbage collector) to keep the pool under its cap. */
  evicted: number;
  /** Buffers whose last tensor data went away but which had escaped, so were not pooled. */
  escapedReleases: number;
  /** Released buffers not pooled (or evicted, cleared) whose memory was freed at once (FREE_MIN_BYTES). */
  freedNow: number;
}

function capFromEnv(): number {
  const raw = process.env.OPENSORA_NATIVE_POOL_MB;
  if (raw === undefined || raw === '') return DEFAULT_POOL_MB * 2 ** 20;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb < 0) throw new Error(`OPENSORA_NATIVE_POOL_MB='${raw}': expected a size in MiB >= 0 (0 turns buffer reuse off); unset it for ${DEFAULT_POOL_MB}.`);
  return Math.floor(mb * 2 ** 20);
}

class BufferPool {
  capBytes = capFromEnv();
  private readonly bySize = new Map<number, ArrayBuffer[]>();
  /** Pooled buffers, oldest first (a Set keeps insertion order): eviction drops the oldest. */
  private readonly age = new Set<ArrayBuffer>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private returned = 0;
  private evicted = 0;
  escapedReleases = 0;

  take(byteLength: number): ArrayBuffer | undefined {
    const list = this.bySize.get(byteLength);
    const ab = list?.pop();
    if (ab === undefined) {
      this.misses++;
      return undefined;
    }
    if (list!.length === 0) this.bySize.delete(byteLength);
    this.age.delete(ab);
    this.bytes -= byteLength;
    this.hits++;
    return ab;
  }

  /** Pools a released buffer; false when it is larger than the cap (not pooled). */
  give(ab: ArrayBuffer): boolean {
    const n = ab.byteLength;
    if (n > this.capBytes) return false;
    while (this.bytes + n > this.capBytes) this.evictOldest();
    let list = this.bySize.get(n);
    if (!list) this.bySize.set(n, (list = []));
    list.push(ab);
    this.age.add(ab);
    this.bytes += n;
    this.returned++;
    return true;
  }

  private evictOldest(): void {
    const ab = this.age.values().next().value as ArrayBuffer;
    this.age.delete(ab);
    const list = this.bySize.get(ab.byteLength)!;
    list.splice(list.indexOf(ab), 1);
    if (list.length === 0) this.bySize.delete(ab.byteLength);
    this.bytes -= ab.byteLength;
    this.evicted++;
    freeNow(ab);
  }

  clear(): void {
    for (const ab of this.age) freeNow(ab);
    this.bySize.clear();
    this.age.clear();
    this.bytes = 0;
  }

  stats(): BufferPoolStats {
    return {
      capBytes: this.capBytes,
      pooledBytes: this.bytes,
      pooledBuffers: this.age.size,
      hits: this.hits,
      misses: this.misses,
      returned: this.returned,
      evicted: this.evicted,
      escapedReleases: this.escapedReleases,
      freedNow,
    };
  }
}

const pool = new BufferPool();

/**
 * A float32 output buffer of n values, not zero-filled when large (every native kernel writes
 * all of its output): a pooled one of the same size when there is one, else a new one.
 */
export function allocPooled(n: number): Float32Array {
  if (n < POOL_MIN_FLOATS) return new Float32Array(n);
  const bytes = n * 4;
  let ab = pool.capBytes > 0 ? pool.take(bytes) : undefined;
  if (ab === undefined && bytes >= FREE_MIN_BYTES) {
    ab = loadAddon().allocBuffer(bytes);
    freeable.add(ab);
  } else if (ab === undefined) {
    // Buffer.allocUnsafeSlow gives an unpooled, exactly sized ArrayBuffer at offset 0; anything
    // else (not expected) is handed out as before and never pooled.
    const buf = Buffer.allocUnsafeSlow(bytes);
    if (buf.byteOffset !== 0 || buf.buffer.byteLength !== bytes) return new Float32Array(buf.buffer, buf.byteOffset, n);
    ab = buf.buffer as ArrayBuffer;
  }
  owners.set(ab, { refs: 0, escaped: false });
  return new Float32Array(ab, 0, n);
}

/** Sets the cap in bytes (0: no reuse); empties the pool when it holds more than that. */
export function setPoolCap(bytes: number): void {
  pool.capBytes = bytes;
  if (pool.stats().pooledBytes > bytes) pool.clear();
}

/** The cap in bytes that OPENSORA_NATIVE_POOL_MB asks for (default DEFAULT_POOL_MB); throws on a bad value. */
export function poolCapFromEnv(): number {
  return capFromEnv();
}

export function bufferPoolStats(): BufferPoolStats {
  return pool.stats();
}

/** Drops every pooled buffer (freed now when the addon allocated it, else by the garbage collector). */
export function clearBufferPool(): void {
  pool.clear();
}

/** A kernel function whose reads of tensor values are not escapes (see the header). */
export function asPoolKernel(fn: KernelFunc): KernelFunc {
  return (args) => {
    kernelDepth++;
    try {
      return fn(args);
    } finally {
      kernelDepth--;
    }
  };
}

type Entry = { values?: unknown };
type DataMap = MathBackendCPU['data'];

function ownerOf(values: unknown): Owner | undefined {
  return ArrayBuffer.isView(values) ? owners.get(values.buffer as ArrayBuffer) : undefined;
}

/**
 * Puts the pool's bookkeeping on a backend's data map: set() and delete() count holders, get()
 * outside a kernel marks an escape unless the backend itself is asking (`trusted()` > 0, for
 * refCount / incRef / decRef / disposeData, which read no values for anyone).
 */
export function trackDataMap(data: DataMap, trusted: () => number): void {
  const held = new WeakMap<object, ArrayBuffer>();
  const rawGet = data.get.bind(data);
  const rawSet = data.set.bind(data);
  const rawDelete = data.delete.bind(data);
  const release = (dataId: object): void => {
    const ab = held.get(dataId);
    if (ab === undefined) return;
    held.delete(dataId);
    const o = owners.get(ab);
    if (!o) return;
    if (--o.refs > 0) return;
    if (o.escaped) {
      pool.escapedReleases++;
      owners.delete(ab);
    } else {
      owners.delete(ab);
      if (pool.capBytes === 0 || !pool.give(ab)) freeNow(ab);
    }
  };
  data.set = (dataId: object, entry: Entry) => {
    release(dataId);
    const o = ownerOf(entry.values);
    if (o) {
      o.refs++;
      held.set(dataId, (entry.values as ArrayBufferView).buffer as ArrayBuffer);
      if (kernelDepth === 0 && trusted() === 0) o.escaped = true; // a caller's array in tf.tensor()
    }
    rawSet(dataId, entry as never);
  };
  data.delete = (dataId: object) => {
    release(dataId);
    return rawDelete(dataId);
  };
  data.get = (dataId: object) => {
    const entry = rawGet(dataId);
    if (kernelDepth === 0 && trusted() === 0 && entry !== undefined) {
      const o = ownerOf((entry as Entry).values);
      if (o) o.escaped = true;
    }
    return entry;
  };
}

/**
 * Whether `values` is its buffer's only holder, so a kernel updating its tensor in place may write
 * over it: alloc() handed out the ArrayBuffer, `values` views the whole of it, and exactly one data
 * entry holds it (a contiguous Slice of the tensor is a second dataId viewing the same buffer, which
 * counts). False for any buffer not counted here (small outputs, callers' arrays): no one can tell
 * who else views it.
 */
export function soleHolder(values: Float32Array): boolean {
  const ab = values.buffer as ArrayBuffer;
  const o = owners.get(ab);
  return o !== undefined && o.refs === 1 && values.byteOffset === 0 && values.byteLength === ab.byteLength;
}

/** Test hook: the ArrayBuffer behind a tensor's data, read without counting as an escape. */
export function bufferBehind(data: DataMap, dataId: object): ArrayBuffer | undefined {
  kernelDepth++;
  try {
    const v = (data.get(dataId) as Entry | undefined)?.values;
    return ArrayBuffer.isView(v) ? (v.buffer as ArrayBuffer) : undefined;
  } finally {
    kernelDepth--;
  }
}
