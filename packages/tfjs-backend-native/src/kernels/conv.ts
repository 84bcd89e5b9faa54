// Conv3D / Conv2D forward and both backprops, channels-last. tfjs's own conv-info helpers
// resolve strides, dilations and 'same'/'valid'/explicit padding; the addon then runs oneDNN
// (when built with it) or im2col + sgemm. Conv2D is the depth-1 case of the same code.
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.js';
import { alloc, f32, fallback, output, sizeOf, type Attrs, type NativeKernel } from './util.js';

type Conv3DInfo = backend_util.Conv3DInfo;
type Conv2DInfo = backend_util.Conv2DInfo;

/** The 21 numbers of osn::ConvGeom (csrc/kernels.h), in field order. */
function geometry3d(i: Conv3DInfo): number[] {
  return [
    i.batchSize, i.inDepth, i.inHeight, i.inWidth, i.inChannels,
    i.outDepth, i.outHeight, i.outWidth, i.outChannels,
    i.filterDepth, i.filterHeight, i.filterWidth,
    i.strideDepth, i.strideHeight, i.strideWidth,
    i.dilationDepth, i.dilationHeight, i.dilationWidth,
    i.padInfo.front, i.padInfo.top, i.padInfo.left,
  ];
}

function geometry2d(i: Conv2DInfo): number[] {
  return [
    i.batchSize, 1, i.inHeight, i.inWidth, i.inChannels,
    1, i.outHeight, i.outWidth, i.outChannels,
    1, i.filterHeight, i.filterWidth,
    1, i.strideHeight, i.strideWidth,
    1, i.dilationHeight, i.dilationWidth,
    0, i.padInfo.top, i.padInfo.left,
  ];
}

type Direction = 'forward' | 'input' | 'filter';

function run(addon: NativeAddon, dir: Direction, geom: number[], a: Float32Array, b: Float32Array, outSize: number): Float32Array {
  const out = alloc(outSize);
  if (outSize === 0) return out;
  if (a.length === 0 || b.length === 0) return out.fill(0);
  if (dir === 'forward') addon.convForward(geom, a, b, out);
  else if (dir === 'input') addon.convBackwardInput(geom, a, b, out);
  else addon.convBackwardFilter(geom, a, b, out);
  return out;
}

/**
 * One conv kernel: `info` turns (inputs, attrs) into tfjs's conv info, or null for what the
 * native path does not take (channels-first layouts); the output shape follows from the direction.
 */
function convKernel(
  kernelName: string,
  dir: Direction,
  names: [string, string],
  info: (a: TensorInfo, b: TensorInfo, attrs: Attrs) => { geom: number[]; shape: number[] } | null,
): NativeKernel {
  return {
    kernelName,
    make: (addon, cpu) => {
      const slow = fallback(kernelName, cpu);
      return ((args) => {
        const inputs = args.inputs as Record<string, TensorInfo>;
        const a = inputs[names[0]]!;
        const b = inputs[names[1]]!;
        const backend = args.backend as MathBackendCPU;
        const av = f32(backend, a);
        const bv = f32(backend, b);
        if (!av || !bv) return slow(args);
        const plan = info(a, b, args.attrs as Attrs);
        if (!plan) return slow(args);
        return output(backend, plan.shape, run(addon, dir, plan.geom, av, bv, sizeOf(plan.shape)));
      }) as KernelFunc;
    },
  };
}

const conv3dInfo = (xShape: number[], fShape: number[], attrs: Attrs, dilations: unknown = 1) =>
  backend_util.computeConv3DInfo(
    xShape as [number, number, number, number, number],
    fShape as [number, number, number, number, number],
    attrs.strides as number,
    dilations as number,
    attrs.pad as 'valid' | 'same',
  );

const channelsLast3d = (attrs: Attrs) => attrs.dataFormat === undefined || attrs.dataFormat === 'NDHWC';

export const conv3d = convKernel('Conv3D', 'forward', ['x', 'filter'], (x, f, attrs) => {
  if (!channelsLast3d(attrs)) return null;
  const i = conv3dInfo(x.shape, f.shape, attrs, attrs.dilations ?? 1);
  return { geom: geometry3d(i), shape: i.outShape.slice() };
});

export const conv3dBackpropInput = convKernel('Conv3DBackpropInputV2', 'input', ['dy', 'filter'], (_dy, f, attrs) => {
  const inputShape = attrs.inputShape as number[];
  const i = conv3dInfo(inputShape, f.shape, attrs);
  return { geom: geometry3d(i), shape: inputShape.slice() };
});

export const conv3dBackpropFilter = convKernel('Conv3DBackpropFilterV2', 'filter', ['x', 'dy'], (x, _dy, attrs) => {
  const filterShape = attrs.filterShape as number[];
  const i = conv3dInfo(x.shape, filterShape, attrs);
  return { geom: geometry3d(i), shape: filterShape.slice() };
});

function conv2dInfo(xShape: number[], fShape: number[], attrs: Attrs, dilations: unknown = 1): Conv2DInfo | null {
  const format = (attrs.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC';
  if (format !== 'NHWC') return null;
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    fShape as [number, number, number, number],
    attrs.strides as number,
    dilations as number,
    attrs.pad as 'valid',
    attrs.dimRoundingMode as 'floor' | undefined,
    false,
    backend_util.convertConv2DDataFormat(format),
  );
}

export const conv2d = convKernel('Conv2D', 'forward', ['x', 'filter'], (x, f, attrs) => {
  const i = conv2dInfo(x.shape, f.shape, attrs, attrs.dilations ?? 1);
  return i && { geom: geometry2d(i), shape: i.outShape.slice() };
});

export const conv2dBackpropInput = convKernel('Conv2DBackpropInput', 'input', ['dy', 'filter'], (_dy, f, attrs) => {
  const inputShape = attrs.inputShape as number[];
  const i = conv2dInfo(inputShape, f.shape, attrs);
  return i && { geom: geometry2d(i), shape: inputShape.slice() };
});

export const conv2dBackpropFilter = convKernel('Conv2DBackpropFilter', 'filter', ['x', 'dy'], (x, _dy, attrs) => {
  const filterShape = attrs.filterShape as number[];
  const i = conv2dInfo(x.shape, filterShape, attrs);
  return i && { geom: geometry2d(i), shape: filterShape.slice() };
});

export const convKernels: NativeKernel[] = [conv3d, conv3dBackpropInput, conv3dBackpropFilter, conv2d, conv2dBackpropInput, conv2dBackpropFilter];
