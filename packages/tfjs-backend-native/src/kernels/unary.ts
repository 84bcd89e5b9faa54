// Elementwise math on float32 tensors (other dtypes keep the cpu kernel). Exp, Sigmoid, Tanh
// and Elu use a vectorised exp accurate to ~1 ulp (csrc/simd.h).
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { alloc, f32, fallback, output, type NativeKernel } from './util.js';

/** tfjs kernel name -> osn::Unary in csrc/kernels.h (same order). */
export const UNARY_OPS = {
  Exp: 0,
  Log: 1,
  Sigmoid: 2,
  Tanh: 3,
  Rsqrt: 4,
  Sqrt: 5,
  Square: 6,
  Neg: 7,
  Abs: 8,
  Relu: 9,
  Reciprocal: 10,
  Sin: 11,
  Cos: 12,
  Relu6: 13,
  Elu: 14,
} as const;

function unaryKernel(kernelName: keyof typeof UNARY_OPS): NativeKernel {
  return {
    kernelName,
    make: (addon, cpu) => {
      const slow = fallback(kernelName, cpu);
      const op = UNARY_OPS[kernelName];
      return ((args) => {
        const x = (args.inputs as { x: TensorInfo }).x;
        const backend = args.backend as MathBackendCPU;
        const xv = f32(backend, x);
        if (!xv) return slow(args);
        const y = alloc(xv.length);
        addon.unary(op, xv, y, xv.length);
        return output(backend, x.shape.slice(), y);
      }) as KernelFunc;
    },
  };
}

export const unaryKernels: NativeKernel[] = (Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]).map(unaryKernel);
