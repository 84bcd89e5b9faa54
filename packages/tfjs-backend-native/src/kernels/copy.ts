// Data-movement kernels (Slice, StridedSlice, SplitV, Concat, PadV2, Tile, Select, GatherV2) for
// float32 and int32 (Tile for bools too). tfjs-cpu walks these element by element through index<->coordinate conversions;
// here each becomes contiguous runs copied by the addon's threads. Elements move bit for bit,
// so results equal cpu's exactly. Anything unusual (other dtypes, out-of-range parameters that
// cpu reports, cpu's zero-copy contiguous slices) goes to the cpu kernel.
import { backend_util, slice_util, util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.js';
import { alloc, fallback, sizeOf, type Attrs, type NativeKernel } from './util.js';

type Vals = Float32Array | Int32Array;

/** The values of a float32 or int32 tensor, or null (use the fallback). */
function vals4(backend: MathBackendCPU, t: TensorInfo | undefined): Vals | null {
  if (!t || (t.dtype !== 'float32' && t.dtype !== 'int32')) return null;
  const v = backend.data.get(t.dataId).values;
  if (t.dtype === 'float32' ? v instanceof Float32Array : v instanceof Int32Array) return v as Vals;
  return null;
}

function alloc4(n: number, dtype: 'float32' | 'int32'): Vals {
  const f = alloc(n);
  return dtype === 'int32' ? new Int32Array(f.buffer, f.byteOffset, f.length) : f;
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/**
 * Drops size-1 axes and merges neighbours that are contiguous in both source and destination,
 * so that e.g. a last-axis slice of [B, N, H, D] arrives as [B*N*H, d] rows.
 */
export function simplifyCopy(shape: readonly number[], ss: readonly number[], ds: readonly number[]): { shape: number[]; ss: number[]; ds: number[] } {
  const out = { shape: [] as number[], ss: [] as number[], ds: [] as number[] };
  for (let i = 0; i < shape.length; i++) {
    const n = shape[i]!;
    if (n === 1) continue;
    const k = out.shape.length - 1;
    if (k >= 0 && out.ss[k] === ss[i]! * n && out.ds[k] === ds[i]! * n) {
      out.shape[k]! *= n;
      out.ss[k] = ss[i]!;
      out.ds[k] = ds[i]!;
    } else {
      out.shape.push(n);
      out.ss.push(ss[i]!);
      out.ds.push(ds[i]!);
    }
  }
  return out;
}

function copy(addon: NativeAddon, src: Vals, srcOffset: number, dst: Vals, dstOffset: number, shape: readonly number[], ss: readonly number[], ds: readonly number[]): void {
  if (sizeOf(shape) === 0) return;
  const s = simplifyCopy(shape, ss, ds);
  addon.copyStrided(src, srcOffset, dst, dstOffset, s.shape, s.ss, s.ds);
}

/**
 * x[begin : begin + size] with both already parsed; null when the parameters are ones cpu
 * rejects or reads out of range (the caller falls back so cpu's behaviour stays).
 */
function sliceValues(addon: NativeAddon, backend: MathBackendCPU, x: TensorInfo, begin: number[], size: number[], outShape: number[]): TensorInfo | null {
  const xv = vals4(backend, x);
  if (!xv || begin.length !== x.shape.length || size.length !== x.shape.length) return null;
  for (let i = 0; i < size.length; i++) {
    if (!(begin[i]! >= 0 && size[i]! >= 0 && begin[i]! + size[i]! <= x.shape[i]!)) return null;
  }
  const xs = stridesOf(x.shape);
  const offset = begin.reduce((acc, b, i) => acc + b * xs[i]!, 0);
  const n = sizeOf(size);
  // cpu returns a view of the input for a contiguous slice: no copy at all.
  if (slice_util.isSliceContinous(x.shape, begin, size)) return backend.makeTensorInfo(outShape, x.dtype, xv.subarray(offset, offset + n));
  const out = alloc4(n, x.dtype as 'float32' | 'int32');
  copy(addon, xv, offset, out, 0, size, xs, stridesOf(size));
  return backend.makeTensorInfo(outShape, x.dtype, out);
}

export const slice: NativeKernel = {
  kernelName: 'Slice',
  make: (addon, cpu) => {
    const slow = fallback('Slice', cpu);
    return ((args) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      const attrs = args.attrs as Attrs;
      const backend = args.backend as MathBackendCPU;
      if (!vals4(backend, x)) return slow(args);
      // Same parsing and checks as cpu (errors included).
      const [begin = [], size = []] = slice_util.parseSliceParams(x, attrs.begin as number | number[], attrs.size as number | number[] | undefined);
      slice_util.assertParamsValid(x, begin, size);
      return sliceValues(addon, backend, x, begin, size, size) ?? slow(args);
    }) as KernelFunc;
  },
};

export const stridedSlice: NativeKernel = {
  kernelName: 'StridedSlice',
  make: (addon, cpu) => {
    const slow = fallback('StridedSlice', cpu);
    return ((args) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      const a = args.attrs as Attrs;
      const backend = args.backend as MathBackendCPU;
      const xv = vals4(backend, x);
      if (!xv) return slow(args);
      const info = slice_util.sliceInfo(
        x.shape,
        a.begin as number[],
        a.end as number[],
        a.strides as number[],
        a.beginMask as number,
        a.endMask as number,
        a.ellipsisMask as number,
        a.newAxisMask as number,
        a.shrinkAxisMask as number,
      );
      // Identity is a reshape in cpu (free).
      if (info.isIdentity) return slow(args);
      if (info.sliceDim0 || info.isSimpleSlice) {
        // cpu slices [begin, begin + ceil((end - begin) / stride)) here, ignoring strides.
        const size = slice_util.computeOutShape(info.begin, info.end, info.strides);
        if (sizeOf(info.finalShape) !== sizeOf(size)) return slow(args);
        return sliceValues(addon, backend, x, info.begin, size, info.finalShape) ?? slow(args);
      }
      // The strided case: cpu reads x[loc * stride + begin] over finalShapeSparse, which has
      // x's rank unless axes were shrunk (then cpu's own indexing applies: keep it).
      const shape = info.finalShapeSparse;
      if (shape.length !== x.shape.length || sizeOf(shape) !== sizeOf(info.finalShape)) return slow(args);
      const xs = stridesOf(x.shape);
      let offset = 0;
      for (let i = 0; i < shape.length; i++) {
        const b = info.begin[i]!;
        const last = b + (shape[i]! - 1) * info.strides[i]!;
        if (shape[i]! > 0 && (b < 0 || b >= x.shape[i]! || last < 0 || last >= x.shape[i]!)) return slow(args);
        offset += b * xs[i]!;
      }
      const out = alloc4(sizeOf(shape), x.dtype as 'float32' | 'int32');
      copy(addon, xv, offset, out, 0, shape, shape.map((_, i) => xs[i]! * info.strides[i]!), stridesOf(shape));
      return backend.makeTensorInfo(info.finalShape, x.dtype, out);
    }) as KernelFunc;
  },
};

export const splitV: NativeKernel = {
  kernelName: 'SplitV',
  make: (addon, cpu) => {
    const slow = fallback('SplitV', cpu);
    return ((args) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      const a = args.attrs as Attrs;
      const backend = args.backend as MathBackendCPU;
      if (!vals4(backend, x)) return slow(args);
      const axis = util.parseAxisParam(a.axis as number, x.shape)[0]!;
      const sizes = backend_util.prepareSplitSize(x as never, a.numOrSizeSplits as number | number[], axis);
      if (sizes.some((s) => s < 0) || sizes.reduce((p, q) => p + q, 0) !== x.shape[axis]) return slow(args);
      const begin = new Array<number>(x.shape.length).fill(0);
      const outs: TensorInfo[] = [];
      for (const s of sizes) {
        const size = x.shape.slice();
        size[axis] = s;
        outs.push(sliceValues(addon, backend, x, begin.slice(), size, size)!);
        begin[axis]! += s;
      }
      return outs;
    }) as KernelFunc;
  },
};

export const concat: NativeKernel = {
  kernelName: 'Concat',
  make: (addon, cpu) => {
    const slow = fallback('Concat', cpu);
    return ((args) => {
      const inputs = args.inputs as unknown as TensorInfo[];
      const backend = args.backend as MathBackendCPU;
      if (inputs.length === 0) return slow(args);
      const dtype = inputs[0]!.dtype;
      if (!inputs.every((t) => t.dtype === dtype && vals4(backend, t))) return slow(args);
      const axis = util.parseAxisParam((args.attrs as Attrs).axis as number, inputs[0]!.shape)[0]!;
      backend_util.assertParamsConsistent(
        inputs.map((t) => t.shape),
        axis,
      );
      const outShape = backend_util.computeOutShape(
        inputs.map((t) => t.shape),
        axis,
      );
      const live = inputs.filter((t) => sizeOf(t.shape) > 0);
      // Empty output and the single-input identity are cpu's (no copy worth doing).
      if (sizeOf(outShape) === 0 || live.length < 2) return slow(args);
      const outer = sizeOf(outShape.slice(0, axis));
      const row = sizeOf(outShape.slice(axis));
      const out = alloc4(sizeOf(outShape), dtype as 'float32' | 'int32');
      let col = 0;
      for (const t of live) {
        const inner = sizeOf(t.shape.slice(axis));
        copy(addon, vals4(backend, t)!, 0, out, col, [outer, inner], [inner, 1], [row, 1]);
        col += inner;
      }
      return backend.makeTensorInfo(outShape, dtype, out);
    }) as KernelFunc;
  },
};

/** The 4 bytes of a constant as tfjs-cpu would store it in a typed array of `dtype`. */
function constantBits(value: number, dtype: 'float32' | 'int32'): number {
  // cpu fills only when value !== 0, so -0 pads with +0.
  const v = value === 0 ? 0 : value;
  const cell = dtype === 'int32' ? new Int32Array([v]) : new Float32Array([v]);
  return new Uint32Array(cell.buffer)[0]!;
}

export const padV2: NativeKernel = {
  kernelName: 'PadV2',
  make: (addon, cpu) => {
    const slow = fallback('PadV2', cpu);
    return ((args) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      const a = args.attrs as Attrs;
      const backend = args.backend as MathBackendCPU;
      const xv = vals4(backend, x);
      const paddings = a.paddings as [number, number][];
      if (!xv || paddings.length !== x.shape.length || paddings.some(([p, q]) => !(Number.isInteger(p) && Number.isInteger(q) && p >= 0 && q >= 0))) return slow(args);
      const before = paddings.map((p) => p[0]);
      const after = paddings.map((p) => p[1]);
      const outShape = x.shape.map((d, i) => before[i]! + d + after[i]!);
      const out = alloc4(sizeOf(outShape), x.dtype as 'float32' | 'int32');
      if (out.length > 0) addon.padConstant(xv, out, x.shape, before, after, constantBits(Number(a.constantValue ?? 0), x.dtype as 'float32' | 'int32'));
      return backend.makeTensorInfo(outShape, x.dtype, out);
    }) as KernelFunc;
  },
};

export const tile: NativeKernel = {
  kernelName: 'Tile',
  make: (addon, cpu) => {
    const slow = fallback('Tile', cpu);
    return ((args) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      const reps = (args.attrs as Attrs).reps as number[];
      const backend = args.backend as MathBackendCPU;
      // Bools too (one byte each): tf.where broadcasts its condition by a Tile, which tfjs-cpu runs
      // element by element through a TensorBuffer.
      const bools = x.dtype === 'bool' ? backend.data.get(x.dataId).values : null;
      const xv = bools instanceof Uint8Array ? bools : vals4(backend, x);
      if (!xv || reps.length !== x.shape.length || reps.some((r) => !(Number.isInteger(r) && r >= 0))) return slow(args);
      const outShape = x.shape.map((d, i) => d * reps[i]!);
      // Untiled neighbours merge into one axis (fewer, longer runs).
      const shape: number[] = [];
      const rs: number[] = [];
      x.shape.forEach((d, i) => {
        const r = reps[i]!;
        if (d === 1 && r === 1) return;
        const k = shape.length - 1;
        if (k >= 0 && r === 1 && rs[k] === 1) shape[k]! *= d;
        else {
          shape.push(d);
          rs.push(r);
        }
      });
      const out = xv instanceof Uint8Array ? new Uint8Array(sizeOf(outShape)) : alloc4(sizeOf(outShape), x.dtype as 'float32' | 'int32');
      if (out.length > 0) addon.tile(xv, out, shape, rs);
      return backend.makeTensorInfo(outShape, x.dtype, out);
    }) as KernelFunc;
  },
};

/** Element-wise Select (tf.where after its broadcasts): cond bool, t and e of one 4-byte dtype and cond's shape. */
export const select: NativeKernel = {
  kernelName: 'Select',
  make: (addon, cpu) => {
    const slow = fallback('Select', cpu);
    return ((args) => {
      const { condition, t, e } = args.inputs as { condition: TensorInfo; t: TensorInfo; e: TensorInfo };
      const backend = args.backend as MathBackendCPU;
      const cv = condition.dtype === 'bool' ? backend.data.get(condition.dataId).values : null;
      const tv = vals4(backend, t);
      const ev = vals4(backend, e);
      // cpu's other cases (mixed dtypes, a condition of another shape) stay cpu's.
      const same = (s: readonly number[]) => s.length === condition.shape.length && s.every((d, i) => d === condition.shape[i]);
      if (!(cv instanceof Uint8Array) || !tv || !ev || t.dtype !== e.dtype || !same(t.shape) || !same(e.shape)) return slow(args);
      const out = alloc4(cv.length, t.dtype as 'float32' | 'int32');
      if (out.length > 0) addon.select(cv, tv, ev, out);
      return backend.makeTensorInfo(t.shape, t.dtype, out);
    }) as KernelFunc;
  },
};

export const gatherV2: NativeKernel = {
  kernelName: 'GatherV2',
  make: (addon, cpu) => {
    const slow = fallback('GatherV2', cpu);
    return ((args) => {
      const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
      const a = args.attrs as Attrs;
      const backend = args.backend as MathBackendCPU;
      const xv = vals4(backend, x);
      const iv = indices.dtype === 'int32' ? backend.data.get(indices.dataId).values : null;
      if (!xv || !(iv instanceof Int32Array) || ((a.batchDims as number | undefined) ?? 0) !== 0) return slow(args);
      const axis = util.parseAxisParam(a.axis as number, x.shape)[0]!;
      const dim = x.shape[axis]!;
      // Out-of-range indices: cpu's kernel reports them.
      for (let i = 0; i < iv.length; i++) if (!(iv[i]! >= 0 && iv[i]! < dim)) return slow(args);
      const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
      const out = alloc4(sizeOf(outShape), x.dtype as 'float32' | 'int32');
      if (out.length > 0) addon.gatherRows(xv, out, iv, sizeOf(x.shape.slice(0, axis)), dim, sizeOf(x.shape.slice(axis + 1)));
      return backend.makeTensorInfo(outShape, x.dtype, out);
    }) as KernelFunc;
  },
};

export const copyKernels: NativeKernel[] = [slice, stridedSlice, splitV, concat, padV2, tile, select, gatherV2];
