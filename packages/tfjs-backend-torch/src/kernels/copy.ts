// Shape and data-movement kernels. Shape-only kernels (Reshape, Identity, ExpandDims,
// Squeeze) share the input's storage through incRef; the others are one ATen call each
// (csrc/ops/copy.cc) with their attributes resolved by tfjs's own helpers.
import * as tf from '@tensorflow/tfjs-core';
import { attrs, inputList, kernel, size, type TorchKernel } from './util.js';

const axisOf = (axis: number | number[], shape: number[]): number => tf.util.parseAxisParam(axis, shape)[0]!;

export const copyKernels: TorchKernel[] = [
  kernel('Reshape', (b, a) => {
    const x = a.inputs.x!;
    const shape = tf.util.inferFromImplicitShape(attrs<{ shape: number[] }>(a).shape, size(x.shape));
    if (size(shape) !== size(x.shape)) throw new Error(`Reshape: cannot view [${x.shape}] (${size(x.shape)} values) as [${shape}]`);
    return b.share(x, shape);
  }),
  kernel('Identity', (b, a) => b.share(a.inputs.x!, a.inputs.x!.shape)),
  kernel('ExpandDims', (b, a) => {
    const x = a.inputs.input!;
    const { dim } = attrs<{ dim: number }>(a);
    const at = dim < 0 ? x.shape.length + 1 + dim : dim;
    const shape = x.shape.slice();
    shape.splice(at, 0, 1);
    return b.share(x, shape);
  }),
  kernel('Squeeze', (b, a) => {
    const x = a.inputs.x!;
    return b.share(x, tf.util.squeezeShape(x.shape, attrs<{ axis?: number[] }>(a).axis).newShape);
  }),
  kernel('Transpose', (b, a) => b.run1('Transpose', [a.inputs.x], { perm: attrs<{ perm: number[] }>(a).perm })),
  kernel('Slice', (b, a) => {
    const x = a.inputs.x!;
    const { begin: b0, size: s0 } = attrs<{ begin: number | number[]; size: number | number[] }>(a);
    const [begin, sz] = tf.slice_util.parseSliceParams(x, b0, s0);
    tf.slice_util.assertParamsValid(x, begin!, sz!);
    return b.run1('Slice', [x], { begin: begin!, size: sz! });
  }),
  kernel('StridedSlice', (b, a) => {
    const x = a.inputs.x!;
    const p = attrs<{ begin: number[]; end: number[]; strides: number[]; beginMask: number; endMask: number; ellipsisMask: number; newAxisMask: number; shrinkAxisMask: number }>(a);
    const info = tf.slice_util.sliceInfo(x.shape, p.begin, p.end, p.strides, p.beginMask, p.endMask, p.ellipsisMask, p.newAxisMask, p.shrinkAxisMask);
    if (info.isIdentity) return b.share(x, info.finalShape);
    if (info.strides.some((s) => s <= 0)) return undefined; // negative strides: the cpu kernel
    return b.run1('StridedSlice', [x], { begin: info.begin, end: info.end, strides: info.strides, outShape: info.finalShape });
  }),
  kernel('Concat', (b, a) => {
    const all = inputList(a);
    const axis = axisOf(attrs<{ axis: number }>(a).axis, all[0]!.shape);
    const parts = all.filter((t) => size(t.shape) > 0);
    if (parts.length === 0) {
      const shape = all[0]!.shape.slice();
      shape[axis] = all.reduce((s, t) => s + t.shape[axis]!, 0);
      return b.makeTensorInfo(shape, all[0]!.dtype);
    }
    return b.run1('Concat', parts, { axis });
  }),
  kernel('Pack', (b, a) => {
    const all = inputList(a);
    const { axis } = attrs<{ axis: number }>(a);
    return b.run1('Pack', all, { axis: axis < 0 ? axis + all[0]!.shape.length + 1 : axis });
  }),
  kernel('Unpack', (b, a) => {
    const x = a.inputs.value!;
    return b.runOp('Unpack', [x], { axis: axisOf(attrs<{ axis: number }>(a).axis, x.shape) });
  }),
  kernel('SplitV', (b, a) => {
    const x = a.inputs.x!;
    const { numOrSizeSplits, axis } = attrs<{ numOrSizeSplits: number | number[]; axis: number }>(a);
    const ax = axisOf(axis, x.shape);
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
    return b.runOp('SplitV', [x], { sizes, axis: ax });
  }),
  kernel('PadV2', (b, a) => {
    const { paddings, constantValue } = attrs<{ paddings: [number, number][]; constantValue: number }>(a);
    return b.run1('PadV2', [a.inputs.x], { paddings: paddings.flat(), constantValue });
  }),
  kernel('MirrorPad', (b, a) => {
    const { paddings, mode } = attrs<{ paddings: [number, number][]; mode: 'reflect' | 'symmetric' }>(a);
    return b.run1('MirrorPad', [a.inputs.x], { paddings: paddings.flat(), mode });
  }),
  kernel('Tile', (b, a) => b.run1('Tile', [a.inputs.x], { reps: attrs<{ reps: number[] }>(a).reps })),
  kernel('GatherV2', (b, a) => {
    const { x, indices } = a.inputs;
    const { axis, batchDims } = attrs<{ axis: number; batchDims: number }>(a);
    if (batchDims) return undefined; // batched gather: the cpu kernel
    return b.run1('GatherV2', [x, indices], { axis: axisOf(axis, x!.shape) });
  }),
  kernel('Reverse', (b, a) => {
    const x = a.inputs.x!;
    return b.run1('Reverse', [x], { dims: tf.util.parseAxisParam(attrs<{ dims: number | number[] }>(a).dims, x.shape) });
  }),
  kernel('BroadcastTo', (b, a) => b.run1('BroadcastTo', [a.inputs.x], { shape: attrs<{ shape: number[] }>(a).shape })),
];
