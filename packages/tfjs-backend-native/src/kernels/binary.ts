// Broadcasting binary ops. The output shape is walked as [rows..., inner] with per-operand
// strides (0 where an operand broadcasts) after merging axes that stay contiguous, so a
// same-shape op is one flat loop and a bias / keepDims-statistic broadcast is a loop per row.
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { alloc, f32, fallback, output, sizeOf, type NativeKernel } from './util.js';

/** tfjs kernel name -> osn::Binary in csrc/kernels.h (tf.mul's kernel is 'Multiply'). */
export const BINARY_OPS = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
  SquaredDifference: 6,
} as const;

export interface BroadcastPlan {
  shape: number[];
  aStrides: number[];
  bStrides: number[];
}

function stridesFor(inShape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let i = inShape.length - 1; i >= 0; i--) {
    const o = i + outShape.length - inShape.length;
    strides[o] = inShape[i] === 1 ? 0 : s;
    s *= inShape[i]!;
  }
  return strides;
}

/** Drops size-1 axes and merges neighbours that are contiguous in both operands. */
export function planBroadcast(aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]): BroadcastPlan {
  const as = stridesFor(aShape, outShape);
  const bs = stridesFor(bShape, outShape);
  const plan: BroadcastPlan = { shape: [], aStrides: [], bStrides: [] };
  for (let i = 0; i < outShape.length; i++) {
    const d = outShape[i]!;
    if (d === 1) continue;
    const last = plan.shape.length - 1;
    if (last >= 0 && plan.aStrides[last] === as[i]! * d && plan.bStrides[last] === bs[i]! * d) {
      plan.shape[last]! *= d;
      plan.aStrides[last] = as[i]!;
      plan.bStrides[last] = bs[i]!;
    } else {
      plan.shape.push(d);
      plan.aStrides.push(as[i]!);
      plan.bStrides.push(bs[i]!);
    }
  }
  return plan;
}

function binaryKernel(kernelName: keyof typeof BINARY_OPS): NativeKernel {
  return {
    kernelName,
    make: (addon, cpu) => {
      const slow = fallback(kernelName, cpu);
      const op = BINARY_OPS[kernelName];
      return ((args) => {
        const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
        const backend = args.backend as MathBackendCPU;
        const av = f32(backend, a);
        const bv = f32(backend, b);
        if (!av || !bv) return slow(args);
        const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
        const plan = planBroadcast(a.shape, b.shape, outShape);
        if (plan.shape.length > 8) return slow(args);
        const out = alloc(sizeOf(outShape));
        addon.binary(op, av, bv, out, plan.shape, plan.aStrides, plan.bStrides);
        return output(backend, outShape, out);
      }) as KernelFunc;
    },
  };
}

export const binaryKernels: NativeKernel[] = (Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]).map(binaryKernel);
