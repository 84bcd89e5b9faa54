// Convolutions and their backprops, and pooling (forward; the pooling gradients fall back):
// tfjs's computeConv*Info / computePool*Info resolve strides, dilations and 'same' / 'valid' /
// explicit padding; the addon runs at::convolution / at::convolution_backward / *_pool*d
// channels-first (csrc/ops/conv.cc).
import * as tf from '@tensorflow/tfjs-core';
import type { OpAttrs } from '../addon.js';
import { attrs, kernel, type TorchKernel } from './util.js';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
interface Conv2DAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: Rounding;
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
}
interface Conv3DAttrs {
  strides: number | [number, number, number];
  pad: 'valid' | 'same';
  dilations?: number | [number, number, number];
  inputShape?: [number, number, number, number, number];
  filterShape?: [number, number, number, number, number];
}

function geometry2d(info: tf.backend_util.Conv2DInfo, depthwise: boolean): OpAttrs {
  const p = info.padInfo;
  return {
    nd: 2,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    padBefore: [p.top, p.left],
    padAfter: [p.bottom, p.right],
    channelsLast: info.dataFormat === 'channelsLast',
    depthwise,
  };
}

function geometry3d(info: tf.backend_util.Conv3DInfo): OpAttrs {
  const p = info.padInfo;
  return {
    nd: 3,
    strides: [info.strideDepth, info.strideHeight, info.strideWidth],
    dilations: [info.dilationDepth, info.dilationHeight, info.dilationWidth],
    padBefore: [p.front, p.top, p.left],
    padAfter: [p.back, p.bottom, p.right],
    channelsLast: true,
    depthwise: false,
  };
}

const format = (f: 'NHWC' | 'NCHW' | undefined) => tf.backend_util.convertConv2DDataFormat(f ?? 'NHWC');

export const convKernels: TorchKernel[] = [
  kernel('Conv2D', (b, a) => {
    const { x, filter } = a.inputs;
    const at = attrs<Conv2DAttrs>(a);
    const info = tf.backend_util.computeConv2DInfo(x!.shape as never, filter!.shape as never, at.strides, at.dilations ?? 1, at.pad, at.dimRoundingMode, false, format(at.dataFormat));
    return b.run1('Conv', [x, filter], geometry2d(info, false));
  }),
  kernel('Conv2DBackpropInput', (b, a) => {
    const { dy, filter } = a.inputs;
    const at = attrs<Conv2DAttrs>(a);
    const info = tf.backend_util.computeConv2DInfo(at.inputShape!, filter!.shape as never, at.strides, 1, at.pad, at.dimRoundingMode, false, format(at.dataFormat));
    return b.run1('ConvBackpropInput', [dy, filter], { ...geometry2d(info, false), inputShape: at.inputShape! });
  }),
  kernel('Conv2DBackpropFilter', (b, a) => {
    const { x, dy } = a.inputs;
    const at = attrs<Conv2DAttrs>(a);
    const info = tf.backend_util.computeConv2DInfo(x!.shape as never, at.filterShape!, at.strides, 1, at.pad, at.dimRoundingMode, false, format(at.dataFormat));
    return b.run1('ConvBackpropFilter', [x, dy], { ...geometry2d(info, false), filterShape: at.filterShape! });
  }),
  kernel('DepthwiseConv2dNative', (b, a) => {
    const { x, filter } = a.inputs;
    const at = attrs<Conv2DAttrs>(a);
    const info = tf.backend_util.computeConv2DInfo(x!.shape as never, filter!.shape as never, at.strides, at.dilations ?? 1, at.pad, at.dimRoundingMode, true);
    return b.run1('Conv', [x, filter], geometry2d(info, true));
  }),
  kernel('DepthwiseConv2dNativeBackpropInput', (b, a) => {
    const { dy, filter } = a.inputs;
    const at = attrs<Conv2DAttrs>(a);
    const info = tf.backend_util.computeConv2DInfo(at.inputShape!, filter!.shape as never, at.strides, at.dilations ?? 1, at.pad, at.dimRoundingMode, true);
    return b.run1('ConvBackpropInput', [dy, filter], { ...geometry2d(info, true), inputShape: at.inputShape! });
  }),
  kernel('DepthwiseConv2dNativeBackpropFilter', (b, a) => {
    const { x, dy } = a.inputs;
    const at = attrs<Conv2DAttrs>(a);
    const info = tf.backend_util.computeConv2DInfo(x!.shape as never, at.filterShape!, at.strides, at.dilations ?? 1, at.pad, at.dimRoundingMode, true);
    return b.run1('ConvBackpropFilter', [x, dy], { ...geometry2d(info, true), filterShape: at.filterShape! });
  }),
  kernel('Conv3D', (b, a) => {
    const { x, filter } = a.inputs;
    const at = attrs<Conv3DAttrs>(a);
    const info = tf.backend_util.computeConv3DInfo(x!.shape as never, filter!.shape as never, at.strides, at.dilations ?? 1, at.pad);
    return b.run1('Conv', [x, filter], geometry3d(info));
  }),
  kernel('Conv3DBackpropInputV2', (b, a) => {
    const { dy, filter } = a.inputs;
    const at = attrs<Conv3DAttrs>(a);
    const info = tf.backend_util.computeConv3DInfo(at.inputShape!, filter!.shape as never, at.strides, 1, at.pad);
    return b.run1('ConvBackpropInput', [dy, filter], { ...geometry3d(info), inputShape: at.inputShape! });
  }),
  kernel('Conv3DBackpropFilterV2', (b, a) => {
    const { x, dy } = a.inputs;
    const at = attrs<Conv3DAttrs>(a);
    const info = tf.backend_util.computeConv3DInfo(x!.shape as never, at.filterShape!, at.strides, 1, at.pad);
    return b.run1('ConvBackpropFilter', [x, dy], { ...geometry3d(info), filterShape: at.filterShape! });
  }),
  // @opensora-ts/kernels' fused/conv3d.ts: a causal conv's explicit (asymmetric) padding and bias
  // inside one convolution; its gradient is the composite's (the Conv3D backprops above).
  kernel('OpensoraConv3d', (b, a) => {
    const { x, filter, bias } = a.inputs;
    const { strides, pads } = attrs<{ strides: [number, number, number]; pads: number[] }>(a);
    return b.run1('OpensoraConv3d', [x, filter, bias ?? null], {
      nd: 3,
      strides,
      dilations: [1, 1, 1],
      padBefore: [pads[0]!, pads[2]!, pads[4]!],
      padAfter: [pads[1]!, pads[3]!, pads[5]!],
      channelsLast: true,
      depthwise: false,
    });
  }),
  ...(['MaxPool', 'AvgPool'] as const).map((name) =>
    kernel(name, (b, a) => {
      const x = a.inputs.x!;
      const at = attrs<{ filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding }>(a);
      const info = tf.backend_util.computePool2DInfo(x.shape as never, at.filterSize, at.strides, 1, at.pad, at.dimRoundingMode);
      if (info.filterHeight === 1 && info.filterWidth === 1 && tf.util.arraysEqual(info.inShape, info.outShape)) return b.share(x, x.shape);
      return b.run1('Pool', [x], { ...geometry2d(info, false), filter: [info.filterHeight, info.filterWidth], kind: name === 'MaxPool' ? 'max' : 'avg' });
    }),
  ),
  ...(['MaxPool3D', 'AvgPool3D'] as const).map((name) =>
    kernel(name, (b, a) => {
      const x = a.inputs.x!;
      const at = attrs<{ filterSize: number | [number, number, number]; strides: number | [number, number, number]; pad: Pad; dimRoundingMode?: Rounding; dataFormat?: 'NDHWC' }>(a);
      const info = tf.backend_util.computePool3DInfo(x.shape as never, at.filterSize, at.strides, 1, at.pad as never, at.dimRoundingMode, at.dataFormat);
      return b.run1('Pool', [x], { ...geometry3d(info), filter: [info.filterDepth, info.filterHeight, info.filterWidth], kind: name === 'MaxPool3D' ? 'max' : 'avg' });
    }),
  ),
];
