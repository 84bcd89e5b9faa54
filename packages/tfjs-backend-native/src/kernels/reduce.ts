// Sum / Mean / Max / Min of float32 tensors over one contiguous block of axes: the last axis
// (row statistics), the leading axes (bias gradients) or any run in between. Other axis sets
// and dtypes keep the cpu kernel.
import { util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { alloc, f32, fallback, output, sizeOf, type Attrs, type NativeKernel } from './util.js';

/** osn::Reduce in csrc/kernels.h. */
const REDUCE_OPS = { Sum: 0, Mean: 1, Max: 2, Min: 3 } as const;

function reduceKernel(kernelName: keyof typeof REDUCE_OPS): NativeKernel {
  return {
    kernelName,
    make: (addon, cpu) => {
      const slow = fallback(kernelName, cpu);
      const op = REDUCE_OPS[kernelName];
      return ((args) => {
        const x = (args.inputs as { x: TensorInfo }).x;
        const attrs = args.attrs as Attrs;
        const backend = args.backend as MathBackendCPU;
        const xv = f32(backend, x);
        if (!xv || xv.length === 0) return slow(args);
        // Max names its axes 'reductionIndices'; the others 'axis'.
        const axisAttr = (kernelName === 'Max' ? attrs.reductionIndices : attrs.axis) as number | number[] | undefined;
        const axes = [...new Set(util.parseAxisParam(axisAttr ?? x.shape.map((_, i) => i), x.shape))].sort((p, q) => p - q);
        if (axes.length === 0 || axes.some((v, i) => v !== axes[0]! + i)) return slow(args);
        const first = axes[0]!;
        const last = axes[axes.length - 1]!;
        const outer = sizeOf(x.shape.slice(0, first));
        const mid = sizeOf(x.shape.slice(first, last + 1));
        const inner = sizeOf(x.shape.slice(last + 1));
        const out = alloc(outer * inner);
        addon.reduce(op, xv, out, outer, mid, inner);
        const shape = attrs.keepDims
          ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
          : x.shape.filter((_, i) => i < first || i > last);
        return output(backend, shape, out);
      }) as KernelFunc;
    },
  };
}

export const reduceKernels: NativeKernel[] = (Object.keys(REDUCE_OPS) as (keyof typeof REDUCE_OPS)[]).map(reduceKernel);
