// The 'native' backend: tfjs's cpu backend (same tensor storage, every kernel and gradient)
// with its hot kernels replaced by the addon's. Sharing MathBackendCPU's data map means cpu
// kernels and native kernels pass tensors to each other with no copies.
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadAddon } from './addon.js';
import { asPoolKernel, bufferPoolStats, clearBufferPool, poolCapFromEnv, setPoolCap, trackDataMap, type BufferPoolStats } from './buffer-pool.js';
import { nativeKernels } from './kernels/index.js';

export const NATIVE_BACKEND_NAME = 'native';

type DataId = Parameters<MathBackendCPU['refCount']>[0];

export class NativeBackend extends MathBackendCPU {
  /** > 0 while the backend's own bookkeeping reads its data map (no values leave it). */
  private trusted = 0;

  constructor() {
    super();
    // MathBackendCPU prints a "install tfjs-node to speed things up" banner on first write;
    // that advice is not for this backend.
    (this as unknown as { firstUse: boolean }).firstUse = false;
    // Kernel outputs go back to a pool when their last tensor is disposed (buffer-pool.ts).
    setPoolCap(poolCapFromEnv());
    trackDataMap(this.data, () => this.trusted);
  }

  override refCount(dataId: DataId): number {
    this.trusted++;
    try {
      return super.refCount(dataId);
    } finally {
      this.trusted--;
    }
  }

  override incRef(dataId: DataId): void {
    this.trusted++;
    try {
      super.incRef(dataId);
    } finally {
      this.trusted--;
    }
  }

  override decRef(dataId: DataId): void {
    this.trusted++;
    try {
      super.decRef(dataId);
    } finally {
      this.trusted--;
    }
  }

  override disposeData(dataId: DataId, force = false): boolean {
    this.trusted++;
    try {
      return super.disposeData(dataId, force);
    } finally {
      this.trusted--;
    }
  }

  /** The output-buffer pool's counters (shared by every native backend in the process). */
  bufferPoolStats(): BufferPoolStats {
    return bufferPoolStats();
  }

  override dispose(): void {
    clearBufferPool();
    super.dispose();
  }
}

export interface RegisterNativeOptions {
  /** Threads for OpenBLAS, oneDNN and the addon's loops; default OPENSORA_THREADS, then every core. */
  threads?: number;
}

export interface NativeBackendInfo {
  threads: number;
  /** Whether convolutions run through oneDNN (else im2col + OpenBLAS sgemm). */
  dnnl: boolean;
  /** Names of the kernels the addon runs (all others are the cpu backend's). */
  kernels: string[];
}

let registered: NativeBackendInfo | undefined;

function threadsWanted(opts: RegisterNativeOptions): number {
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) {
      throw new Error(`registerNativeBackend: threads=${opts.threads}; expected a positive integer`);
    }
    return opts.threads;
  }
  const raw = process.env.OPENSORA_THREADS;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`OPENSORA_THREADS='${raw}': expected a positive integer thread count; unset it to use every core.`);
    return n;
  }
  // Respects CPU affinity (containers, taskset), unlike os.cpus().length.
  return Math.max(1, availableParallelism());
}

/**
 * Registers the 'native' backend (idempotent: a second call only changes the thread count
 * when one is given). Throws an Error that says why when the addon is not built; callers
 * then keep the cpu backend. Does not switch backends: call `tf.setBackend('native')`.
 */
export function registerNativeBackend(opts: RegisterNativeOptions = {}): NativeBackendInfo {
  const addon = loadAddon();
  if (registered) {
    if (opts.threads !== undefined || process.env.OPENSORA_THREADS) registered.threads = addon.setThreads(threadsWanted(opts));
    return { ...registered };
  }
  const threads = addon.setThreads(threadsWanted(opts));
  // Same priority as cpu, registered after it: tfjs's default choice does not change; the
  // runtime of @opensora-ts/kernels (or the user) selects it with tf.setBackend('native').
  tf.registerBackend(NATIVE_BACKEND_NAME, () => new NativeBackend(), 1);
  for (const k of tf.getKernelsForBackend('cpu')) {
    // Wrapped so that their reads of tensor values are known not to escape (buffer-pool.ts).
    if (tf.getKernel(k.kernelName, NATIVE_BACKEND_NAME) === undefined) tf.registerKernel({ ...k, backendName: NATIVE_BACKEND_NAME, kernelFunc: asPoolKernel(k.kernelFunc) });
  }
  for (const k of nativeKernels) {
    const cpu = tf.getKernel(k.kernelName, 'cpu')?.kernelFunc;
    if (tf.getKernel(k.kernelName, NATIVE_BACKEND_NAME) !== undefined) tf.unregisterKernel(k.kernelName, NATIVE_BACKEND_NAME);
    tf.registerKernel({ kernelName: k.kernelName, backendName: NATIVE_BACKEND_NAME, kernelFunc: asPoolKernel(k.make(addon, cpu)) });
  }
  registered = { threads, dnnl: addon.info().dnnl, kernels: nativeKernels.map((k) => k.kernelName) };
  return { ...registered };
}
