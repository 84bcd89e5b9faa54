// The multi-tensor optimizer kernels of @opensora-ts/kernels (packages/kernels/src/optim), one
// call for every parameter of a model:
//   'OpensoraAdamW'      inputs [p0..pn-1, g0.., m0.., v0..]  attrs {n, beta1, oneMinusBeta1, beta2,
//                        oneMinusBeta2, decay, hasDecay, sqrtBc2, eps, stepSize, gradScale, hasGradScale,
//                        inPlace} -> [p'0.., m'0.., v'0..]
//   'OpensoraEmaUpdate'  inputs [e0..en-1, p0..]  attrs {n, decay, oneMinusDecay, inPlace} -> [e'0..]
//   'OpensoraGlobalNorm' inputs [x0..xn-1] -> scalar sqrt(sum_i sum(x_i^2))
// With inPlace set, an output is written over its input's buffer (and returned as the same data,
// so a step allocates nothing) when that buffer is one these kernels allocated and no other tensor
// shares it: refCount 1 (only the variable being updated holds the data) and, per the buffer pool,
// one data entry holding the ArrayBuffer (a contiguous Slice of a parameter is another dataId
// viewing the same buffer, which refCount does not see). Any other buffer gets a fresh one: a shared
// one (e.g. an EMA copy made by clone(), a live slice), a small one the pool does not count, and one
// the caller gave tf.tensor(), which the cpu backend keeps without copying, so the caller's array is
// never written to.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { soleHolder } from '../buffer-pool.js';
import { alloc, f32, output, sizeOf, type Attrs, type NativeKernel } from './util.js';

interface Args {
  inputs: TensorInfo[];
  attrs: Attrs;
  backend: MathBackendCPU;
}

function unpackArgs(kernel: string, raw: Parameters<KernelFunc>[0], groups: number): Args & { n: number; values: Float32Array[] } {
  const inputs = Object.values(raw.inputs as Record<string, TensorInfo>);
  const attrs = (raw.attrs ?? {}) as Attrs;
  const backend = raw.backend as MathBackendCPU;
  const n = groups === 1 ? inputs.length : Number(attrs.n);
  if (!Number.isInteger(n) || n < 0 || inputs.length !== n * groups) {
    throw new Error(`${kernel}: got ${inputs.length} inputs for n=${String(attrs.n)}, expected ${groups} per tensor (${groups} x n)`);
  }
  const values = inputs.map((t, i) => {
    const v = f32(backend, t);
    if (!v) throw new Error(`${kernel}: input ${i} is ${t.dtype}, expected float32 (optimizer state and parameters are float32)`);
    const want = sizeOf(inputs[i % n]!.shape);
    if (v.length !== want) throw new Error(`${kernel}: input ${i} has ${v.length} values, expected ${want} (the size of tensor ${i % n})`);
    return v;
  });
  return { inputs, attrs, backend, n, values };
}

/** Buffers allocated by these kernels for in-place-able outputs: the only ones ever written over. */
const owned = new WeakSet<Float32Array>();

/** The output buffer for input t: its own when updating in place is allowed and safe, else a new one. */
function target(backend: MathBackendCPU, t: TensorInfo, values: Float32Array, inPlace: boolean): { values: Float32Array; info: TensorInfo | null } {
  if (inPlace && owned.has(values) && backend.refCount(t.dataId) === 1 && soleHolder(values)) return { values, info: { dataId: t.dataId, shape: t.shape.slice(), dtype: 'float32' } };
  const fresh = alloc(values.length);
  if (inPlace) owned.add(fresh);
  return { values: fresh, info: null };
}

function result(backend: MathBackendCPU, t: TensorInfo, out: { values: Float32Array; info: TensorInfo | null }): TensorInfo {
  if (out.info) {
    backend.incRef(out.info.dataId); // the output is a second tensor over the same data
    return out.info;
  }
  return output(backend, t.shape.slice(), out.values);
}

const adamw: NativeKernel = {
  kernelName: 'OpensoraAdamW',
  make: (addon) =>
    ((raw) => {
      const { inputs, attrs, backend, n, values } = unpackArgs('OpensoraAdamW', raw, 4);
      const inPlace = Boolean(attrs.inPlace);
      const num = (k: string) => {
        const v = attrs[k];
        if (typeof v !== 'number') throw new Error(`OpensoraAdamW: attr ${k} is ${String(v)}, expected a number`);
        return v;
      };
      const h = [
        num('beta1'), num('oneMinusBeta1'), num('beta2'), num('oneMinusBeta2'), num('decay'), attrs.hasDecay ? 1 : 0,
        num('sqrtBc2'), num('eps'), num('stepSize'), num('gradScale'), attrs.hasGradScale ? 1 : 0,
      ];
      const group = (j: number) => values.slice(j * n, (j + 1) * n);
      // p, m and v are updated (outputs 0..2); g (group 1) is only read.
      const outs = [0, 2, 3].map((j) => inputs.slice(j * n, (j + 1) * n).map((t, k) => target(backend, t, values[j * n + k]!, inPlace)));
      if (n > 0) addon.adamwMulti(group(0), group(1), group(2), group(3), outs[0]!.map((o) => o.values), outs[1]!.map((o) => o.values), outs[2]!.map((o) => o.values), h);
      return outs.flatMap((os, j) => os.map((o, k) => result(backend, inputs[[0, 2, 3][j]! * n + k]!, o)));
    }) as KernelFunc,
};

const ema: NativeKernel = {
  kernelName: 'OpensoraEmaUpdate',
  make: (addon) =>
    ((raw) => {
      const { inputs, attrs, backend, n, values } = unpackArgs('OpensoraEmaUpdate', raw, 2);
      const { decay, oneMinusDecay } = attrs as { decay: number; oneMinusDecay: number };
      if (typeof decay !== 'number' || typeof oneMinusDecay !== 'number') throw new Error('OpensoraEmaUpdate: attrs decay and oneMinusDecay must be numbers');
      const outs = inputs.slice(0, n).map((t, k) => target(backend, t, values[k]!, Boolean(attrs.inPlace)));
      if (n > 0) addon.emaMulti(values.slice(0, n), values.slice(n), outs.map((o) => o.values), decay, oneMinusDecay);
      return outs.map((o, k) => result(backend, inputs[k]!, o));
    }) as KernelFunc,
};

const globalNorm: NativeKernel = {
  kernelName: 'OpensoraGlobalNorm',
  make: (addon) =>
    ((raw) => {
      const { backend, values } = unpackArgs('OpensoraGlobalNorm', raw, 1);
      return output(backend, [], Float32Array.of(values.length ? addon.globalNorm(values) : 0));
    }) as KernelFunc,
};

export const optimKernels: NativeKernel[] = [adamw, ema, globalNorm];
