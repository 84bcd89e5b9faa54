// The fused attention of @opensora-ts/kernels (packages/kernels/src/fused/attention.ts), same
// contract as its cpu kernels:
//   forward  'OpensoraAttention'     inputs {q, k, v, mask}     attrs {scale, causal} -> [B,H,Nq,Dv]
//   backward 'OpensoraAttentionGrad' inputs {dy, q, k, v, mask} same attrs -> [dq, dk, dv]
// with q [B,H,Nq,D], k [B,H,Nk,D], v [B,H,Nk,Dv] and mask float32 [1|B, Nk] or [1|B, Nq, Nk]
// (0 = masked). Inputs that are not float32 go to the cpu kernel.
import { getKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { alloc, f32, fallback, output, type Attrs, type NativeKernel } from './util.js';

interface Call {
  backend: MathBackendCPU;
  q: TensorInfo;
  k: TensorInfo;
  v: TensorInfo;
  /** [b, h, nq, nk, d, dv, maskBatch, maskRank, causal, scale], the addon's dims argument. */
  dims: number[];
  values: Record<'q' | 'k' | 'v' | 'mask', Float32Array>;
}

/**
 * The cpu kernel for inputs the addon does not take. These names are @opensora-ts/kernels'
 * own, registered on cpu when that package is imported, which may come after this backend
 * registered: look it up at call time when it was missing then.
 */
function slowPath(name: string, cpu: KernelFunc | undefined): KernelFunc {
  return ((args) => fallback(name, cpu ?? getKernel(name, 'cpu')?.kernelFunc)(args)) as KernelFunc;
}

function required(inputs: Record<string, TensorInfo | undefined>, name: string, kernel: string): TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`${kernel}: missing input '${name}'`);
  return t;
}

/** Checks shapes as the cpu kernel does; null when some input is not float32 (use the fallback). */
function unpack(kernel: string, args: Parameters<KernelFunc>[0]): Call | null {
  const inputs = args.inputs as Record<string, TensorInfo | undefined>;
  const attrs = (args.attrs ?? {}) as Attrs;
  const backend = args.backend as MathBackendCPU;
  const q = required(inputs, 'q', kernel);
  const k = required(inputs, 'k', kernel);
  const v = required(inputs, 'v', kernel);
  const mask = required(inputs, 'mask', kernel);
  const shapes = () => `q [${q.shape.join(',')}], k [${k.shape.join(',')}], v [${v.shape.join(',')}], mask [${mask.shape.join(',')}]`;
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) throw new Error(`${kernel}: expected q, k, v of rank 4 [B,H,N,D]; got ${shapes()}`);
  const [b, h, nq, d] = q.shape as [number, number, number, number];
  const nk = k.shape[2]!;
  const dv = v.shape[3]!;
  const same = (t: TensorInfo, n: number, last: number) => t.shape[0] === b && t.shape[1] === h && t.shape[2] === n && t.shape[3] === last;
  if (!same(k, nk, d) || !same(v, nk, dv)) throw new Error(`${kernel}: q, k, v disagree: ${shapes()}`);
  const maskRank = mask.shape.length;
  const mb = mask.shape[0]!;
  const maskOk = (mb === 1 || mb === b) && ((maskRank === 2 && mask.shape[1] === nk) || (maskRank === 3 && mask.shape[1] === nq && mask.shape[2] === nk));
  if (!maskOk) throw new Error(`${kernel}: mask must be [1|B, Nk] or [1|B, Nq, Nk]; got ${shapes()}`);
  const scale = attrs.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new Error(`${kernel}: attr scale=${String(scale)}, expected a finite number`);
  const qv = f32(backend, q);
  const kv = f32(backend, k);
  const vv = f32(backend, v);
  const mv = f32(backend, mask);
  if (!qv || !kv || !vv || !mv) return null;
  const dims = [b, h, nq, nk, d, dv, mb, maskRank, attrs.causal ? 1 : 0, scale];
  return { backend, q, k, v, dims, values: { q: qv, k: kv, v: vv, mask: mv } };
}

const attention: NativeKernel = {
  kernelName: 'OpensoraAttention',
  make: (addon, cpu) => {
    const slow = slowPath('OpensoraAttention', cpu);
    return ((args) => {
      const call = unpack('OpensoraAttention', args);
      if (!call) return slow(args);
      const [b, h, nq, , , dv] = call.dims as [number, number, number, number, number, number];
      const out = alloc(b * h * nq * dv);
      const { q, k, v, mask } = call.values;
      if (out.length > 0) addon.attention(q, k, v, mask, out, call.dims);
      return output(call.backend, [b, h, nq, dv], out);
    }) as KernelFunc;
  },
};

const attentionGrad: NativeKernel = {
  kernelName: 'OpensoraAttentionGrad',
  make: (addon, cpu) => {
    const slow = slowPath('OpensoraAttentionGrad', cpu);
    return ((args) => {
      const call = unpack('OpensoraAttentionGrad', args);
      if (!call) return slow(args);
      const dyInfo = required(args.inputs as Record<string, TensorInfo | undefined>, 'dy', 'OpensoraAttentionGrad');
      const [b, h, nq, , , dvSize] = call.dims as [number, number, number, number, number, number];
      if (dyInfo.shape.length !== 4 || dyInfo.shape[0] !== b || dyInfo.shape[1] !== h || dyInfo.shape[2] !== nq || dyInfo.shape[3] !== dvSize) {
        throw new Error(`OpensoraAttentionGrad: dy has shape [${dyInfo.shape.join(',')}], expected the output's [${[b, h, nq, dvSize].join(',')}]`);
      }
      const dy = f32(call.backend, dyInfo);
      if (!dy) return slow(args);
      const { q, k, v, mask } = call.values;
      const dq = alloc(q.length);
      const dk = alloc(k.length);
      const dv = alloc(v.length);
      // The addon writes every element of dq, dk and dv (alloc leaves large buffers unfilled).
      if (dq.length + dk.length + dv.length > 0) addon.attentionGrad(dy, q, k, v, mask, dq, dk, dv, call.dims);
      return [output(call.backend, call.q.shape.slice(), dq), output(call.backend, call.k.shape.slice(), dk), output(call.backend, call.v.shape.slice(), dv)];
    }) as KernelFunc;
  },
};

export const attentionKernels: NativeKernel[] = [attention, attentionGrad];
