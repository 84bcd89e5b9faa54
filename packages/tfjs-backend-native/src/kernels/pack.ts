// Pack (tf.stack, and the gradient of tf.unstack) for float32 and int32: each input is copied
// once, as contiguous runs, into its slot of the output. tfjs-cpu expands every input and then
// concatenates them element by element in JavaScript (10x slower on attention's q, k, v). Values
// move bit for bit, so results equal cpu's; other dtypes and empty tensors go to the cpu kernel.
import { util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { simplifyCopy } from './copy.js';
import { alloc, fallback, sizeOf, type Attrs, type NativeKernel } from './util.js';

export const pack: NativeKernel = {
  kernelName: 'Pack',
  make: (addon, cpu) => {
    const slow = fallback('Pack', cpu);
    return ((args) => {
      const inputs = args.inputs as unknown as TensorInfo[];
      const backend = args.backend as MathBackendCPU;
      const first = inputs[0];
      if (!first || inputs.length < 2) return slow(args);
      const dtype = first.dtype;
      if (dtype !== 'float32' && dtype !== 'int32') return slow(args);
      const shape = first.shape;
      const size = sizeOf(shape);
      if (size === 0) return slow(args);
      const values: (Float32Array | Int32Array)[] = [];
      for (const t of inputs) {
        const v = backend.data.get(t.dataId).values;
        const ok = dtype === 'float32' ? v instanceof Float32Array : v instanceof Int32Array;
        // cpu reports mismatched shapes and dtypes in its own words.
        if (!ok || t.dtype !== dtype || !util.arraysEqual(t.shape, shape)) return slow(args);
        values.push(v as Float32Array | Int32Array);
      }
      const n = inputs.length;
      let axis = (args.attrs as Attrs).axis as number;
      if (axis < 0) axis += shape.length + 1;
      if (!(axis >= 0 && axis <= shape.length)) return slow(args);
      const outShape = [...shape.slice(0, axis), n, ...shape.slice(axis)];
      const inner = sizeOf(shape.slice(axis));
      const outer = size / inner;
      const f = alloc(n * size);
      const out = dtype === 'int32' ? new Int32Array(f.buffer, f.byteOffset, f.length) : f;
      const s = simplifyCopy([outer, inner], [inner, 1], [n * inner, 1]);
      values.forEach((v, i) => addon.copyStrided(v, 0, out, i * inner, s.shape, s.ss, s.ds));
      return backend.makeTensorInfo(outShape, dtype, out);
    }) as KernelFunc;
  },
};
