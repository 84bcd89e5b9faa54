// Softmax over the last axis in one pass per row (max, exp and sum, scale); tfjs-cpu builds it
// from five kernels. The gradient stays tfjs's (mul, sum, sub), which run natively too.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { alloc, f32, fallback, output, type Attrs, type NativeKernel } from './util.js';

export const softmax: NativeKernel = {
  kernelName: 'Softmax',
  make: (addon, cpu) => {
    const slow = fallback('Softmax', cpu);
    return ((args) => {
      const logits = (args.inputs as { logits: TensorInfo }).logits;
      const dim = (args.attrs as Attrs).dim as number;
      const backend = args.backend as MathBackendCPU;
      const rank = logits.shape.length;
      const xv = f32(backend, logits);
      if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1) || xv.length === 0) return slow(args);
      const len = logits.shape[rank - 1]!;
      const y = alloc(xv.length);
      addon.softmax(xv, y, xv.length / len, len);
      return output(backend, logits.shape.slice(), y);
    }) as KernelFunc;
  },
};
