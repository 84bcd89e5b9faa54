// What every native kernel shares: reading a tensor's host values, allocating outputs, and
// the shape of a kernel definition with its cpu fallback.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.js';
import { allocPooled } from '../buffer-pool.js';

/**
 * A kernel of the native backend. `make` receives the cpu kernel of the same name (absent
 * for our own fused names): native kernels call it for what they do not handle (other dtypes,
 * layouts or broadcasts), so behaviour never changes, only speed.
 */
export interface NativeKernel {
  kernelName: string;
  make(addon: NativeAddon, cpu: KernelFunc | undefined): KernelFunc;
}

export type Attrs = Record<string, unknown>;

/**
 * The float32 values behind a tensor, or null when it is another dtype (use the fallback).
 * tfjs-cpu's `Cast` from int32 or bool to float32 keeps the integer array under the float32 dtype
 * (nothing is lost), which is how masks usually arrive: those values are copied to a Float32Array
 * here (a pass over the input) instead of sending the whole op to the pure-JS kernel.
 */
export function f32(backend: MathBackendCPU, t: TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  if (v instanceof Float32Array) return v;
  return v instanceof Int32Array || v instanceof Uint8Array ? Float32Array.from(v) : null;
}

/**
 * A float32 output buffer. Large ones skip the zero fill (every native kernel writes all of its
 * output) and are reused once the tensors holding them are disposed (../buffer-pool.ts).
 */
export function alloc(n: number): Float32Array {
  return allocPooled(n);
}

export function sizeOf(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

export function output(backend: MathBackendCPU, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

/** The cpu kernel, or an error naming the kernel when there is none to fall back to. */
export function fallback(name: string, cpu: KernelFunc | undefined): KernelFunc {
  return (
    cpu ??
    (() => {
      throw new Error(`native backend: ${name} got inputs it does not handle and there is no cpu kernel to fall back to`);
    })
  );
}
