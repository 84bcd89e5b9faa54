// The fused rotary embedding of @opensora-ts/kernels (packages/kernels/src/fused/rope.ts), same
// contract as its cpu kernels:
//   forward  'OpensoraRope'     inputs {x [..., N, D], angles [N, R]} -> x's shape
//   backward 'OpensoraRopeGrad' inputs {dy, angles}                   -> dx
// R even, R <= D (channels past R pass through). float32 only: applyRotary takes the composite
// for other dtypes (there is no cpu kernel; the composite is the reference).
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { alloc, f32, output, sizeOf, type NativeKernel } from './util.js';

function ropeKernel(kernelName: 'OpensoraRope' | 'OpensoraRopeGrad', xName: 'x' | 'dy', backward: number): NativeKernel {
  return {
    kernelName,
    make: (addon) =>
      ((args) => {
        const inputs = args.inputs as Record<string, TensorInfo | undefined>;
        const backend = args.backend as MathBackendCPU;
        const x = inputs[xName];
        const angles = inputs.angles;
        if (!x || !angles) throw new Error(`${kernelName}: missing input '${!x ? xName : 'angles'}'`);
        const n = x.shape[x.shape.length - 2];
        const d = x.shape[x.shape.length - 1];
        const [an, r] = angles.shape as [number, number];
        if (x.shape.length < 2 || angles.shape.length !== 2 || an !== n || r > d! || r % 2 !== 0) {
          throw new Error(`${kernelName}: ${xName} [${x.shape.join(',')}] and angles [${angles.shape.join(',')}]: expected ${xName} [..., N, D] and angles [N, R] with R even and R <= D`);
        }
        const xv = f32(backend, x);
        const av = f32(backend, angles);
        if (!xv || !av) throw new Error(`${kernelName}: ${xName} is ${x.dtype} and angles ${angles.dtype}; expected float32 (applyRotary uses the composite for other dtypes)`);
        const size = sizeOf(x.shape);
        const y = alloc(size);
        if (size > 0) addon.rope(xv, av, y, size / (n! * d!), n!, d!, r, backward);
        return output(backend, x.shape.slice(), y);
      }) as KernelFunc,
  };
}

export const ropeKernels: NativeKernel[] = [ropeKernel('OpensoraRope', 'x', 0), ropeKernel('OpensoraRopeGrad', 'dy', 1)];
