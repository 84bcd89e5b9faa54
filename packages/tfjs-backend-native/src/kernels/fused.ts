// The fused ops of @opensora-ts/kernels (packages/kernels/src/fused), same contract as its cpu
// kernels:
//   forward  'Opensora<Op>'     inputs {x, gamma?, beta?}  attrs {eps, groups?, hasGamma, hasBeta} -> y
//   backward 'Opensora<Op>Grad' inputs {dy, x, gamma?}     same attrs -> [dx, dgamma?, dbeta?]
// with dgamma / dbeta returned only when hasGamma / hasBeta are set. The gradients that call
// the backward kernels are registered by @opensora-ts/kernels (tfjs gradients are global).
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.js';
import { alloc, f32, fallback, output, type Attrs, type NativeKernel } from './util.js';

interface Call {
  backend: MathBackendCPU;
  x: TensorInfo;
  xv: Float32Array;
  gamma: Float32Array | null;
  beta: Float32Array | null;
  dy: Float32Array | null;
  c: number;
  eps: number;
  attrs: Attrs;
}

/** Unpacks and checks a fused call; null when some input is not float32 (use the fallback). */
function unpack(kernel: string, args: Parameters<KernelFunc>[0], backward: boolean): Call | null {
  const inputs = args.inputs as Record<string, TensorInfo | undefined>;
  const attrs = (args.attrs ?? {}) as Attrs; // the GELU gradient passes none
  const backend = args.backend as MathBackendCPU;
  const x = inputs.x;
  if (!x) throw new Error(`${kernel}: missing input 'x'`);
  const xv = f32(backend, x);
  const c = x.shape[x.shape.length - 1] ?? 1;
  const eps = (attrs.eps as number | undefined) ?? 0;
  const hasGamma = attrs.hasGamma === undefined ? inputs.gamma !== undefined : Boolean(attrs.hasGamma);
  const hasBeta = !backward && (attrs.hasBeta === undefined ? inputs.beta !== undefined : Boolean(attrs.hasBeta));
  for (const [name, has] of [['gamma', hasGamma], ['beta', hasBeta]] as const) {
    const t = inputs[name];
    if (has && !t) throw new Error(`${kernel}: attr ${name === 'gamma' ? 'hasGamma' : 'hasBeta'} is set but input '${name}' is absent`);
    if (has && t!.shape.reduce((p, d) => p * d, 1) !== c) {
      throw new Error(`${kernel}: '${name}' has shape [${t!.shape.join(',')}], expected ${c} values (one per channel of the last axis)`);
    }
  }
  const gamma = hasGamma ? f32(backend, inputs.gamma) : null;
  const beta = hasBeta ? f32(backend, inputs.beta) : null;
  const dy = backward ? f32(backend, inputs.dy) : null;
  if (!xv || (hasGamma && !gamma) || (hasBeta && !beta) || (backward && !dy)) return null;
  return { backend, x, xv, gamma, beta, dy, c, eps, attrs };
}

function groupsOf(call: Call, kernel: string): number {
  const g = call.attrs.groups;
  if (typeof g !== 'number' || !Number.isInteger(g) || g < 1 || call.c % g !== 0) {
    throw new Error(`${kernel}: attr groups=${String(g)}, expected a positive divisor of the ${call.c} channels`);
  }
  return g;
}

type Forward = (addon: NativeAddon, call: Call, y: Float32Array) => void;
type Backward = (addon: NativeAddon, call: Call, dx: Float32Array, dgamma: Float32Array | null, dbeta: Float32Array | null) => void;

function forwardKernel(kernelName: string, run: Forward): NativeKernel {
  return {
    kernelName,
    make: (addon, cpu) => {
      const slow = fallback(kernelName, cpu);
      return ((args) => {
        const call = unpack(kernelName, args, false);
        if (!call) return slow(args);
        const y = alloc(call.xv.length);
        if (y.length > 0) run(addon, call, y);
        return output(call.backend, call.x.shape.slice(), y);
      }) as KernelFunc;
    },
  };
}

function backwardKernel(kernelName: string, run: Backward): NativeKernel {
  return {
    kernelName,
    make: (addon, cpu) => {
      const slow = fallback(kernelName, cpu);
      return ((args) => {
        const call = unpack(kernelName, args, true);
        if (!call) return slow(args);
        const hasBeta = Boolean(call.attrs.hasBeta);
        const dx = alloc(call.xv.length);
        const dgamma = call.gamma ? new Float32Array(call.c) : null;
        const dbeta = hasBeta ? new Float32Array(call.c) : null;
        if (dx.length > 0) run(addon, call, dx, dgamma, dbeta);
        const outs = [output(call.backend, call.x.shape.slice(), dx)];
        if (dgamma) outs.push(output(call.backend, [call.c], dgamma));
        if (dbeta) outs.push(output(call.backend, [call.c], dbeta));
        return outs;
      }) as KernelFunc;
    },
  };
}

const rows = (call: Call) => call.xv.length / Math.max(call.c, 1);
/** GroupNorm's [N, spatial, C] view of a channels-last tensor. */
const nsc = (call: Call): [number, number] => {
  const n = call.x.shape[0] ?? 1;
  return [n, call.xv.length / Math.max(n * call.c, 1)];
};

export const fusedKernels: NativeKernel[] = [
  forwardKernel('OpensoraLayerNorm', (addon, k, y) => addon.layerNorm(k.xv, k.gamma, k.beta, y, rows(k), k.c, k.eps)),
  backwardKernel('OpensoraLayerNormGrad', (addon, k, dx, dg, db) =>
    addon.layerNormGrad(k.dy!, k.xv, k.gamma, dx, dg, db, rows(k), k.c, k.eps),
  ),
  forwardKernel('OpensoraRMSNorm', (addon, k, y) => addon.rmsNorm(k.xv, k.gamma, y, rows(k), k.c, k.eps)),
  backwardKernel('OpensoraRMSNormGrad', (addon, k, dx, dg) => addon.rmsNormGrad(k.dy!, k.xv, k.gamma, dx, dg, rows(k), k.c, k.eps)),
  forwardKernel('OpensoraGroupNorm', (addon, k, y) => {
    const [n, s] = nsc(k);
    addon.groupNorm(k.xv, k.gamma, k.beta, y, n, s, k.c, groupsOf(k, 'OpensoraGroupNorm'), k.eps);
  }),
  backwardKernel('OpensoraGroupNormGrad', (addon, k, dx, dg, db) => {
    const [n, s] = nsc(k);
    addon.groupNormGrad(k.dy!, k.xv, k.gamma, dx, dg, db, n, s, k.c, groupsOf(k, 'OpensoraGroupNormGrad'), k.eps);
  }),
  forwardKernel('OpensoraGeluTanh', (addon, k, y) => addon.geluTanh(k.xv, y, y.length)),
  backwardKernel('OpensoraGeluTanhGrad', (addon, k, dx) => addon.geluTanhGrad(k.dy!, k.xv, dx, dx.length)),
];
