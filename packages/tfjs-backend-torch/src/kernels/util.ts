// What every kernel file shares: the kernel-function shape, the backend cast, and the guard
// that sends inputs the addon cannot hold (string, complex) to the host round trip.
import type * as tf from '@tensorflow/tfjs-core';
import { TorchBackend, TORCH_BACKEND_NAME } from '../backend.js';

export type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
export type Impl = (b: TorchBackend, args: Args) => tf.TensorInfo | tf.TensorInfo[];

export interface TorchKernel {
  kernelName: string;
  kernelFunc: tf.KernelFunc;
}

/**
 * A kernel config: runs `impl` when every input can live in libtorch, else (or when `impl`
 * returns undefined for an attribute case it does not handle) the counted host round trip.
 */
export function kernel(kernelName: string, impl: (b: TorchBackend, args: Args) => tf.TensorInfo | tf.TensorInfo[] | undefined): TorchKernel {
  const kernelFunc = ((args: Args) => {
    const b = args.backend as TorchBackend;
    const inputs = args.inputs;
    for (const name in inputs) {
      const t = inputs[name];
      if (t && !TorchBackend.onDevice(t.dtype)) return b.fallback(kernelName, args);
    }
    return impl(b, args) ?? b.fallback(kernelName, args);
  }) as unknown as tf.KernelFunc;
  return { kernelName, kernelFunc };
}

export function attrs<T>(args: Args): T {
  return (args.attrs ?? {}) as unknown as T;
}

/** The inputs of a kernel that takes a list (Concat, Pack, AddN, Einsum) in order. */
export function inputList(args: Args): tf.TensorInfo[] {
  return Object.keys(args.inputs)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => args.inputs[k]!);
}

export const size = (shape: number[]): number => shape.reduce((a, d) => a * d, 1);

export { TORCH_BACKEND_NAME };
