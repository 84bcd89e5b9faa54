// Two fused ops of @opensora-ts/kernels that the VAE spends its time in:
//   'OpensoraGroupNormSilu' inputs {x, gamma?, beta?} attrs {eps, groups, hasGamma, hasBeta}
//       -> silu(groupNorm(x)), in one pass over the output (the addon's groupNormSilu);
//   'OpensoraConv3d' inputs {x, filter, bias?} attrs {strides [3], pads [6], hasBias}
//       -> conv3d of x zero-padded by pads (front/back of T, H, W), plus bias: the padding is
//          the convolution's own (no padded copy) and oneDNN adds the bias inside the kernel.
// Their gradients are registered by @opensora-ts/kernels and call the standard kernels.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { alloc, f32, fallback, output, sizeOf, type Attrs, type NativeKernel } from './util.js';

export const groupNormSilu: NativeKernel = {
  kernelName: 'OpensoraGroupNormSilu',
  make: (addon, cpu) => {
    const slow = fallback('OpensoraGroupNormSilu', cpu);
    return ((args) => {
      const inputs = args.inputs as Record<string, TensorInfo | undefined>;
      const attrs = (args.attrs ?? {}) as Attrs;
      const backend = args.backend as MathBackendCPU;
      const x = inputs.x!;
      const c = x.shape[x.shape.length - 1] ?? 1;
      const groups = attrs.groups as number;
      if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
        throw new Error(`OpensoraGroupNormSilu: attr groups=${String(groups)}, expected a positive divisor of the ${c} channels`);
      }
      const xv = f32(backend, x);
      const gamma = attrs.hasGamma ? f32(backend, inputs.gamma) : null;
      const beta = attrs.hasBeta ? f32(backend, inputs.beta) : null;
      if (!xv || (attrs.hasGamma && !gamma) || (attrs.hasBeta && !beta)) return slow(args);
      for (const v of [gamma, beta]) {
        if (v && v.length !== c) throw new Error(`OpensoraGroupNormSilu: gamma/beta have ${v.length} values, expected ${c} (one per channel)`);
      }
      const y = alloc(xv.length);
      const n = x.shape[0] ?? 1;
      const s = xv.length / Math.max(n * c, 1);
      if (y.length > 0) addon.groupNormSilu(xv, gamma, beta, y, n, s, c, groups, (attrs.eps as number) ?? 0);
      return output(backend, x.shape.slice(), y);
    }) as KernelFunc;
  },
};

export const conv3dPadded: NativeKernel = {
  kernelName: 'OpensoraConv3d',
  make: (addon, cpu) => {
    const slow = fallback('OpensoraConv3d', cpu);
    return ((args) => {
      const inputs = args.inputs as Record<string, TensorInfo | undefined>;
      const attrs = (args.attrs ?? {}) as Attrs;
      const backend = args.backend as MathBackendCPU;
      const x = inputs.x!;
      const f = inputs.filter!;
      const [sd, sh, sw] = attrs.strides as number[];
      const p = attrs.pads as number[];
      const [n, d, h, w, c] = x.shape as number[];
      const [kd, kh, kw, fc, oc] = f.shape as number[];
      if (fc !== c) throw new Error(`OpensoraConv3d: filter [${f.shape.join(',')}] expects ${fc} input channels, x has ${c}`);
      const od = Math.floor((d! + p[0]! + p[1]! - kd!) / sd!) + 1;
      const oh = Math.floor((h! + p[2]! + p[3]! - kh!) / sh!) + 1;
      const ow = Math.floor((w! + p[4]! + p[5]! - kw!) / sw!) + 1;
      if (od < 1 || oh < 1 || ow < 1) throw new Error(`OpensoraConv3d: input [${x.shape.join(',')}] padded by [${p.join(',')}] is smaller than the filter [${f.shape.join(',')}]`);
      const xv = f32(backend, x);
      const fv = f32(backend, f);
      const bias = attrs.hasBias ? f32(backend, inputs.bias) : null;
      if (!xv || !fv || (attrs.hasBias && !bias)) return slow(args);
      if (bias && bias.length !== oc) throw new Error(`OpensoraConv3d: bias has ${bias.length} values, expected ${oc}`);
      const shape = [n!, od, oh, ow, oc!];
      const y = alloc(sizeOf(shape));
      if (y.length === 0) return output(backend, shape, y);
      if (xv.length === 0 || fv.length === 0) {
        // No taps: the output is the bias (or zero) everywhere.
        for (let i = 0; i < y.length; i++) y[i] = bias ? bias[i % oc!]! : 0;
        return output(backend, shape, y);
      }
      // osn::ConvGeom: input, output, filter, strides, dilations, front pads (the back pads follow from the output size).
      const geom = [n!, d!, h!, w!, c!, od, oh, ow, oc!, kd!, kh!, kw!, sd!, sh!, sw!, 1, 1, 1, p[0]!, p[2]!, p[4]!];
      addon.convForward(geom, xv, fv, y, bias);
      return output(backend, shape, y);
    }) as KernelFunc;
  },
};

export const convNormKernels: NativeKernel[] = [groupNormSilu, conv3dPadded];
