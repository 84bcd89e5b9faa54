// BatchMatMul and _FusedMatMul over sgemm (oneDNN's or OpenBLAS's: csrc/matmul.cc picks per
// shape): transposes are GEMM flags (no copies), batch dimensions broadcast as in tfjs, and a
// batch of A against one B is a single GEMM.
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.js';
import { UNARY_OPS } from './unary.js';
import { alloc, f32, fallback, output, sizeOf, type Attrs, type NativeKernel } from './util.js';

interface Product {
  shape: number[];
  values: Float32Array;
}

/** Maps each output batch entry to the A and B entries it reads (right-aligned broadcasting). */
function batchIndex(outBatch: number[], inBatch: number[]): Int32Array {
  const total = sizeOf(outBatch);
  const idx = new Int32Array(total);
  const offset = outBatch.length - inBatch.length;
  for (let o = 0; o < total; o++) {
    let rem = o;
    let flat = 0;
    let stride = 1;
    for (let d = outBatch.length - 1; d >= 0; d--) {
      const coord = rem % outBatch[d]!;
      rem = Math.floor(rem / outBatch[d]!);
      const inDim = d - offset;
      if (inDim >= 0) {
        const size = inBatch[inDim]!;
        flat += (size === 1 ? 0 : coord) * stride;
        stride *= size;
      }
    }
    idx[o] = flat;
  }
  return idx;
}

/**
 * op(a) x op(b) with broadcast batches, or null when an input is not float32. With `init`, the
 * output is first filled by it (rows of batch*M, N columns) and the product is added on top
 * inside the GEMM (beta = 1): a bias costs no extra pass or buffer.
 */
function matmul(
  addon: NativeAddon,
  backend: MathBackendCPU,
  a: TensorInfo,
  b: TensorInfo,
  ta: boolean,
  tb: boolean,
  init?: (values: Float32Array, n: number) => void,
): Product | null {
  const av = f32(backend, a);
  const bv = f32(backend, b);
  if (!av || !bv || a.shape.length < 2 || b.shape.length < 2) return null;
  const ar = a.shape.length;
  const br = b.shape.length;
  const m = ta ? a.shape[ar - 1]! : a.shape[ar - 2]!;
  const k = ta ? a.shape[ar - 2]! : a.shape[ar - 1]!;
  const kb = tb ? b.shape[br - 1]! : b.shape[br - 2]!;
  const n = tb ? b.shape[br - 2]! : b.shape[br - 1]!;
  if (k !== kb) {
    throw new Error(`BatchMatMul: inner dimensions ${k} (of [${a.shape}]) and ${kb} (of [${b.shape}]) must match (transposeA=${ta}, transposeB=${tb})`);
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = backend_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const batch = sizeOf(outBatch);
  const shape = [...outBatch, m, n];
  const values = alloc(batch * m * n);
  if (values.length === 0) return { shape, values };
  if (init) init(values, n);
  if (k === 0) {
    if (!init) values.fill(0);
    return { shape, values };
  }
  const accumulate = init !== undefined;
  if (sizeOf(bBatch) === 1 && sizeOf(aBatch) === batch && !ta) {
    // [batch, M, K] x [K, N] is one [batch*M, K] x [K, N] GEMM: better blocking, one call.
    addon.batchMatMul(av, bv, values, new Int32Array([0]), new Int32Array([0]), batch * m, n, k, false, tb, accumulate);
  } else {
    addon.batchMatMul(av, bv, values, batchIndex(outBatch, aBatch), batchIndex(outBatch, bBatch), m, n, k, ta, tb, accumulate);
  }
  return { shape, values };
}

export const batchMatMul: NativeKernel = {
  kernelName: 'BatchMatMul',
  make: (addon, cpu) => {
    const slow = fallback('BatchMatMul', cpu);
    return ((args) => {
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      const { transposeA, transposeB } = args.attrs as Attrs;
      const backend = args.backend as MathBackendCPU;
      const r = matmul(addon, backend, a, b, Boolean(transposeA), Boolean(transposeB));
      return r ? output(backend, r.shape, r.values) : slow(args);
    }) as KernelFunc;
  },
};

const ACTIVATIONS: Record<string, number | null> = {
  linear: null,
  relu: UNARY_OPS.Relu,
  relu6: UNARY_OPS.Relu6,
  sigmoid: UNARY_OPS.Sigmoid,
  elu: UNARY_OPS.Elu,
};

/** matMul + bias + activation (what tf.fused.matMul and tfjs-layers' Dense run). */
export const fusedMatMul: NativeKernel = {
  kernelName: '_FusedMatMul',
  make: (addon, cpu) => {
    const slow = fallback('_FusedMatMul', cpu);
    return ((args) => {
      const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
      const { transposeA, transposeB, activation } = args.attrs as Attrs;
      const backend = args.backend as MathBackendCPU;
      const act = (activation as string | undefined) ?? 'linear';
      // prelu / leakyrelu and unusual bias shapes stay on the cpu kernel.
      if (preluActivationWeights || !(act in ACTIVATIONS)) return slow(args);
      const biasValues = bias ? f32(backend, bias) : null;
      if (bias && !biasValues) return slow(args);
      const n = Boolean(transposeB) ? b!.shape[b!.shape.length - 2]! : b!.shape[b!.shape.length - 1]!;
      const bs = bias?.shape ?? [];
      const outRank = Math.max(a!.shape.length, b!.shape.length);
      const perColumn = biasValues !== null && biasValues.length === n && bs.length <= outRank && (bs.length === 0 || bs[bs.length - 1] === n);
      if (biasValues && !perColumn && biasValues.length !== 1) return slow(args);
      // The bias is written into the output (every row, or everywhere for a scalar) and the GEMM
      // adds the product onto it.
      const init = biasValues
        ? (values: Float32Array, cols: number) => {
            if (!perColumn) values.fill(biasValues[0]!);
            else for (let off = 0; off < values.length; off += cols) values.set(biasValues, off);
          }
        : undefined;
      const r = matmul(addon, backend, a!, b!, Boolean(transposeA), Boolean(transposeB), init);
      if (!r) return slow(args);
      let values = r.values;
      const op = ACTIVATIONS[act];
      if (op != null) {
        const out = alloc(values.length);
        addon.unary(op, values, out, values.length);
        values = out;
      }
      return output(backend, r.shape, values);
    }) as KernelFunc;
  },
};
