// STDiT3's adaLN modulation and gated residual of @opensora-ts/kernels
// (packages/kernels/src/fused/modulate.ts), one pass each (csrc/modulate.cc). Contract:
//   'OpensoraLayerNormModulate'     inputs {x [G, R, C] (any shape of that size), shift [G, C], scale [G, C]}
//                                   attrs {eps, groups: G} -> LN(x) * (1 + scale) + shift, x's shape
//   'OpensoraLayerNormModulateGrad' inputs {dy, x, scale}, same attrs -> [dx, dshift, dscale] (shift's and scale's shapes)
//   'OpensoraGatedAdd'              inputs {x, gate [G, C], y} attrs {groups} -> x + gate * y
//   'OpensoraGatedAddGrad'          inputs {dy, gate, y}, same attrs -> [dy * gate, dgate]
// float32 only; there is no cpu kernel (the composite is the reference, and the op takes it where
// this backend is not active).
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.js';
import { alloc, f32, output, sizeOf, type Attrs, type NativeKernel } from './util.js';

type F32 = Float32Array;

/** The addon functions of csrc/modulate.cc. */
interface ModulateAddon {
  layerNormModulate(x: F32, shift: F32, scale: F32, y: F32, groups: number, rows: number, c: number, eps: number): void;
  layerNormModulateGrad(dy: F32, x: F32, scale: F32, dx: F32, dshift: F32, dscale: F32, groups: number, rows: number, c: number, eps: number): void;
  gatedAdd(x: F32, gate: F32, y: F32, out: F32, groups: number, rows: number, c: number): void;
  gatedAddGrad(dy: F32, gate: F32, y: F32, dyy: F32, dgate: F32, groups: number, rows: number, c: number): void;
}

interface Call {
  backend: MathBackendCPU;
  values: Record<string, F32>;
  shapes: Record<string, number[]>;
  groups: number;
  rows: number;
  c: number;
  eps: number;
}

/** Reads and checks the named inputs: `big` ones hold rows x C values, `small` ones groups x C. */
function unpack(kernel: string, args: Parameters<KernelFunc>[0], big: string[], small: string[]): Call {
  const inputs = args.inputs as Record<string, TensorInfo | undefined>;
  const attrs = (args.attrs ?? {}) as Attrs;
  const backend = args.backend as MathBackendCPU;
  const values: Record<string, F32> = {};
  const shapes: Record<string, number[]> = {};
  for (const name of [...big, ...small]) {
    const t = inputs[name];
    if (!t) throw new Error(`${kernel}: missing input '${name}'`);
    const v = f32(backend, t);
    if (!v) throw new Error(`${kernel}: input '${name}' is ${t.dtype}; expected float32 (the op takes the composite for other dtypes)`);
    values[name] = v;
    shapes[name] = t.shape.slice();
  }
  const first = shapes[big[0]!]!;
  const c = first[first.length - 1] ?? 1;
  const groups = attrs.groups;
  const size = sizeOf(first);
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1 || c < 1 || size % (groups * c) !== 0) {
    throw new Error(`${kernel}: attr groups=${String(groups)} does not split ${big[0]} [${first.join(',')}] into groups of whole rows`);
  }
  for (const name of big) {
    if (sizeOf(shapes[name]!) !== size) throw new Error(`${kernel}: '${name}' [${shapes[name]!.join(',')}] and '${big[0]}' [${first.join(',')}] differ in size`);
  }
  for (const name of small) {
    if (sizeOf(shapes[name]!) !== groups * c) throw new Error(`${kernel}: '${name}' [${shapes[name]!.join(',')}] holds ${sizeOf(shapes[name]!)} values, expected groups x channels = ${groups * c}`);
  }
  const eps = typeof attrs.eps === 'number' ? attrs.eps : 0;
  return { backend, values, shapes, groups, rows: size / c, c, eps };
}

function kernel(kernelName: string, big: string[], small: string[], run: (addon: ModulateAddon, k: Call) => TensorInfo | TensorInfo[]): NativeKernel {
  return {
    kernelName,
    make: (addon: NativeAddon) => ((args) => run(addon as unknown as ModulateAddon, unpack(kernelName, args, big, small))) as KernelFunc,
  };
}

export const modulateKernels: NativeKernel[] = [
  kernel('OpensoraLayerNormModulate', ['x'], ['shift', 'scale'], (addon, k) => {
    const { x, shift, scale } = k.values as Record<'x' | 'shift' | 'scale', F32>;
    const y = alloc(x.length);
    addon.layerNormModulate(x, shift, scale, y, k.groups, k.rows, k.c, k.eps);
    return output(k.backend, k.shapes.x!, y);
  }),
  kernel('OpensoraLayerNormModulateGrad', ['dy', 'x'], ['scale'], (addon, k) => {
    const { dy, x, scale } = k.values as Record<'dy' | 'x' | 'scale', F32>;
    const dx = alloc(x.length);
    const dshift = new Float32Array(scale.length);
    const dscale = new Float32Array(scale.length);
    addon.layerNormModulateGrad(dy, x, scale, dx, dshift, dscale, k.groups, k.rows, k.c, k.eps);
    return [output(k.backend, k.shapes.x!, dx), output(k.backend, k.shapes.scale!, dshift), output(k.backend, k.shapes.scale!, dscale)];
  }),
  kernel('OpensoraGatedAdd', ['x', 'y'], ['gate'], (addon, k) => {
    const { x, gate, y } = k.values as Record<'x' | 'gate' | 'y', F32>;
    const out = alloc(x.length);
    addon.gatedAdd(x, gate, y, out, k.groups, k.rows, k.c);
    return output(k.backend, k.shapes.x!, out);
  }),
  kernel('OpensoraGatedAddGrad', ['dy', 'y'], ['gate'], (addon, k) => {
    const { dy, gate, y } = k.values as Record<'dy' | 'gate' | 'y', F32>;
    const dyy = alloc(y.length);
    const dgate = new Float32Array(gate.length);
    addon.gatedAddGrad(dy, gate, y, dyy, dgate, k.groups, k.rows, k.c);
    return [output(k.backend, k.shapes.y!, dyy), output(k.backend, k.shapes.gate!, dgate)];
  }),
];
