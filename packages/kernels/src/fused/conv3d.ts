// conv3d with explicit (asymmetric) zero padding and an optional bias as one fused op: what a
// causal 3D conv computes as pad -> conv3d('valid') -> add(bias). A backend that registers
// 'OpensoraConv3d' (native: oneDNN with the padding and the bias inside the kernel) skips the
// padded copy of the input and the second pass over the output; every other backend runs the
// composite, which is those three ops. The gradient is the composite's: the standard conv3d
// backprop kernels on the padded input, the padding sliced off, the bias summed.
import { tf } from '../tf.js';
import { fusedKernelAvailable, type FusedKernelName } from './registry.js';

export const CONV3D_PADDED = 'OpensoraConv3d';

type Triple = [number, number, number];
/** [[front, back] of T, [top, bottom] of H, [left, right] of W]. */
export type Conv3dPads = [[number, number], [number, number], [number, number]];

const hasPadding = (pads: Conv3dPads) => pads.some(([a, b]) => a !== 0 || b !== 0);
const fullPads = (pads: Conv3dPads): [number, number][] => [[0, 0], ...pads, [0, 0]];

/** The reference: pad, conv3d with no padding, add the bias. */
export function conv3dPaddedComposite(x: tf.Tensor5D, filter: tf.Tensor5D, bias: tf.Tensor | null, strides: Triple, pads: Conv3dPads): tf.Tensor5D {
  return tf.tidy(() => {
    const input = hasPadding(pads) ? (tf.pad(x, fullPads(pads)) as tf.Tensor5D) : x;
    const y = tf.conv3d(input, filter, strides, 'valid');
    return bias ? (tf.add(y, bias) as tf.Tensor5D) : y;
  });
}

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: CONV3D_PADDED,
    inputsToSave: ['x', 'filter'],
    gradFunc: ((dy: tf.Tensor5D, saved: tf.Tensor[], attrs: Record<string, unknown>) => {
      const [x, filter] = saved as [tf.Tensor5D, tf.Tensor5D];
      const strides = attrs.strides as Triple;
      const p = attrs.pads as number[];
      const pads: Conv3dPads = [[p[0]!, p[1]!], [p[2]!, p[3]!], [p[4]!, p[5]!]];
      const padded = hasPadding(pads) ? (tf.pad(x, fullPads(pads)) as tf.Tensor5D) : x;
      const grads: Record<string, () => tf.Tensor> = {
        x: () => {
          const dxp = tf.engine().runKernel('Conv3DBackpropInputV2', { dy, filter }, { strides, pad: 'valid', inputShape: padded.shape } as unknown as tf.NamedAttrMap) as tf.Tensor5D;
          return hasPadding(pads) ? tf.slice(dxp, [0, pads[0][0], pads[1][0], pads[2][0], 0], x.shape) : dxp;
        },
        filter: () =>
          tf.engine().runKernel('Conv3DBackpropFilterV2', { x: padded, dy }, { strides, pad: 'valid', filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      };
      if (attrs.hasBias) grads.bias = () => tf.sum(dy, [0, 1, 2, 3]);
      return grads;
    }) as unknown as tf.GradConfig['gradFunc'],
  });
}

/**
 * conv3d of channels-last x [B, T, H, W, Cin] with filter [kT, kH, kW, Cin, Cout] after zero
 * padding by `pads` (any amounts per side), plus `bias` [Cout] when given; dilation 1.
 */
export function conv3dPadded(x: tf.Tensor5D, filter: tf.Tensor5D, bias: tf.Tensor | null, strides: Triple, pads: Conv3dPads): tf.Tensor5D {
  if (!fusedKernelAvailable(CONV3D_PADDED as FusedKernelName)) return conv3dPaddedComposite(x, filter, bias, strides, pads);
  registerGradient();
  const inputs: tf.NamedTensorMap = { x, filter };
  if (bias) inputs.bias = bias;
  const attrs = { strides, pads: pads.flat(), hasBias: bias ? 1 : 0 };
  return tf.engine().runKernel(CONV3D_PADDED, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor5D;
}
