// Transpose of 4-byte tensors (float32, int32). Axes that stay neighbours are merged first,
// so e.g. the [B, T, H, D] -> [B, H, T, D] of attention is a batched 2-D tile transpose.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { fallback, alloc, type Attrs, type NativeKernel } from './util.js';

/** Removes size-1 axes and merges runs of consecutive source axes. */
export function simplifyPermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const rank = new Map(kept.map((axis, i) => [axis, i]));
  const p = perm.filter((axis) => shape[axis] !== 1).map((axis) => rank.get(axis)!);
  const s = kept.map((axis) => shape[axis]!);
  // Group output axes whose sources are consecutive.
  const groups: number[][] = [];
  for (const axis of p) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1]! + 1 === axis) g.push(axis);
    else groups.push([axis]);
  }
  const order = groups.map((g) => g[0]!).sort((u, v) => u - v);
  const newShape = order.map((start) => groups.find((g) => g[0] === start)!.reduce((acc, axis) => acc * s[axis]!, 1));
  const newPerm = groups.map((g) => order.indexOf(g[0]!));
  return { shape: newShape, perm: newPerm };
}

export const transpose: NativeKernel = {
  kernelName: 'Transpose',
  make: (addon, cpu) => {
    const slow = fallback('Transpose', cpu);
    return ((args) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      const perm = (args.attrs as Attrs).perm as number[];
      const backend = args.backend as MathBackendCPU;
      if (x.dtype !== 'float32' && x.dtype !== 'int32') return slow(args);
      const values = backend.data.get(x.dataId).values;
      if (!(values instanceof Float32Array || values instanceof Int32Array)) return slow(args);
      const outShape = perm.map((axis) => x.shape[axis]!);
      const simple = simplifyPermutation(x.shape, perm);
      const f = alloc(values.length);
      const out = x.dtype === 'int32' ? new Int32Array(f.buffer, f.byteOffset, f.length) : f;
      if (simple.perm.every((axis, i) => axis === i)) out.set(values);
      else addon.transpose(values, out, simple.shape, simple.perm);
      return backend.makeTensorInfo(outShape, x.dtype, out);
    }) as KernelFunc;
  },
};
