// The fused kernels for tfjs's pure-JS `cpu` backend (and every backend that copies cpu's
// kernels, like `native`, until it overrides them). Contract shared with other backends:
//   forward  'Opensora<Op>'     inputs {x, gamma?, beta?}      -> y
//   backward 'Opensora<Op>Grad' inputs {dy, x, gamma?}         -> [dx, dgamma?, dbeta?]
// attrs {eps, groups (GroupNorm), hasGamma, hasBeta}; dgamma / dbeta are returned only when
// hasGamma / hasBeta are set, in that order. Gamma and beta hold one value per channel.
// Attention: 'OpensoraAttention' inputs {q [B,H,Nq,D], k [B,H,Nk,D], v [B,H,Nk,Dv], mask}
// attrs {scale, causal} -> [B,H,Nq,Dv]; mask is float32 [1|B, Nk] or [1|B, Nq, Nk], nonzero =
// attend (always present: all ones when nothing is masked). 'OpensoraAttentionGrad' inputs
// {dy, q, k, v, mask}, same attrs -> [dq, dk, dv].
import { tf } from '../tf.js';
import {
  geluTanhBackward,
  geluTanhForward,
  groupNormBackward,
  groupNormForward,
  layerNormBackward,
  layerNormForward,
  rmsNormBackward,
  rmsNormForward,
  type NormGrads,
  type Values,
} from './cpu-math.js';
import { attentionBackward, attentionForward, type AttentionDims } from './attention-math.js';

/** What these kernels need from a backend: cpu's MathBackendCPU and its subclasses have it. */
interface HostBackend {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

type Inputs = Record<string, tf.TensorInfo | undefined>;
type Attrs = Record<string, unknown>;

function host(backend: unknown, kernel: string): HostBackend {
  const b = backend as Partial<HostBackend>;
  if (typeof b.readSync !== 'function' || typeof b.makeTensorInfo !== 'function') {
    throw new Error(`${kernel}: the active backend keeps no host memory (needs readSync and makeTensorInfo); use the composite path (setFusedKernelsEnabled(false)).`);
  }
  return b as HostBackend;
}

function values(b: HostBackend, t: tf.TensorInfo): Values {
  return b.readSync(t.dataId) as Values;
}

function required(inputs: Inputs, name: string, kernel: string): tf.TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`${kernel}: missing input '${name}'`);
  return t;
}

/** Optional per-channel input; its presence must agree with the has<Name> attr when that is given. */
function perChannel(inputs: Inputs, attrs: Attrs, name: 'gamma' | 'beta', c: number, kernel: string): tf.TensorInfo | null {
  const t = inputs[name] ?? null;
  const flag = attrs[name === 'gamma' ? 'hasGamma' : 'hasBeta'];
  if (flag !== undefined && Boolean(flag) !== (t !== null)) {
    throw new Error(`${kernel}: attr ${name === 'gamma' ? 'hasGamma' : 'hasBeta'}=${String(flag)} but input '${name}' is ${t ? 'present' : 'absent'}`);
  }
  if (t) {
    const size = t.shape.reduce((a, d) => a * d, 1);
    if (size !== c) throw new Error(`${kernel}: '${name}' has shape [${t.shape.join(',')}], expected ${c} values (one per channel of the last axis)`);
  }
  return t;
}

function epsOf(attrs: Attrs, kernel: string): number {
  const eps = attrs.eps;
  if (typeof eps !== 'number' || !(eps >= 0)) throw new Error(`${kernel}: attr eps=${String(eps)}, expected a number >= 0`);
  return eps;
}

function groupsOf(attrs: Attrs, c: number, kernel: string): number {
  const g = attrs.groups;
  if (typeof g !== 'number' || !Number.isInteger(g) || g < 1 || c % g !== 0) {
    throw new Error(`${kernel}: attr groups=${String(g)}, expected a positive divisor of the ${c} channels`);
  }
  return g;
}

/** [rows, channels] view of a tensor normalised over its last axis. */
function rowsOf(x: tf.TensorInfo, kernel: string): [number, number] {
  if (x.shape.length === 0) throw new Error(`${kernel}: x is a scalar; expected at least one axis (channels last)`);
  const c = x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((a, d) => a * d, 1);
  return [c === 0 ? 0 : size / c, c];
}

/** [samples, positions, channels] for channels-last GroupNorm input [N, ...spatial, C]. */
function samplesOf(x: tf.TensorInfo, kernel: string): [number, number, number] {
  if (x.shape.length < 2) throw new Error(`${kernel}: x has shape [${x.shape.join(',')}], expected [N, ..., C]`);
  const n = x.shape[0]!;
  const c = x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((a, d) => a * d, 1);
  return [n, n * c === 0 ? 0 : size / (n * c), c];
}

function gradOutputs(b: HostBackend, x: tf.TensorInfo, gamma: tf.TensorInfo | null, wantBeta: boolean, g: NormGrads): tf.TensorInfo[] {
  const c = x.shape[x.shape.length - 1]!;
  const out = [b.makeTensorInfo(x.shape.slice(), 'float32', g.dx)];
  if (gamma) out.push(b.makeTensorInfo(gamma.shape.slice(), 'float32', g.dgamma!));
  if (wantBeta) out.push(b.makeTensorInfo([c], 'float32', g.dbeta ?? new Float32Array(c)));
  return out;
}

function attentionDims(inputs: Inputs, attrs: Attrs, kernel: string): { q: tf.TensorInfo; k: tf.TensorInfo; v: tf.TensorInfo; mask: tf.TensorInfo; dm: AttentionDims } {
  const q = required(inputs, 'q', kernel);
  const k = required(inputs, 'k', kernel);
  const v = required(inputs, 'v', kernel);
  const mask = required(inputs, 'mask', kernel);
  const shapes = () => `q [${q.shape.join(',')}], k [${k.shape.join(',')}], v [${v.shape.join(',')}], mask [${mask.shape.join(',')}]`;
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) throw new Error(`${kernel}: expected q, k, v of rank 4 [B,H,N,D]; got ${shapes()}`);
  const [b, h, nq, d] = q.shape as [number, number, number, number];
  const [, , nk] = k.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const same = (t: tf.TensorInfo, n: number, last: number) => t.shape[0] === b && t.shape[1] === h && t.shape[2] === n && t.shape[3] === last;
  if (!same(k, nk, d) || !same(v, nk, dv)) throw new Error(`${kernel}: q, k, v disagree: ${shapes()}`);
  const maskRank = mask.shape.length;
  const mb = mask.shape[0]!;
  const maskOk =
    (mb === 1 || mb === b) &&
    ((maskRank === 2 && mask.shape[1] === nk) || (maskRank === 3 && mask.shape[1] === nq && mask.shape[2] === nk));
  if (!maskOk) throw new Error(`${kernel}: mask must be [1|B, Nk] or [1|B, Nq, Nk]; got ${shapes()}`);
  const scale = attrs.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new Error(`${kernel}: attr scale=${String(scale)}, expected a finite number`);
  return { q, k, v, mask, dm: { b, h, nq, nk, d, dv, mb, maskRank: maskRank as 2 | 3, causal: Boolean(attrs.causal), scale } };
}

type KernelFunc = (params: { inputs: Inputs; backend: unknown; attrs?: Attrs }) => tf.TensorInfo | tf.TensorInfo[];

const kernels: Record<string, KernelFunc> = {
  OpensoraLayerNorm: ({ inputs, backend, attrs = {} }) => {
    const k = 'OpensoraLayerNorm';
    const b = host(backend, k);
    const x = required(inputs, 'x', k);
    const [rows, c] = rowsOf(x, k);
    const gamma = perChannel(inputs, attrs, 'gamma', c, k);
    const beta = perChannel(inputs, attrs, 'beta', c, k);
    const y = layerNormForward(values(b, x), rows, c, gamma && values(b, gamma), beta && values(b, beta), epsOf(attrs, k));
    return b.makeTensorInfo(x.shape.slice(), 'float32', y);
  },
  OpensoraLayerNormGrad: ({ inputs, backend, attrs = {} }) => {
    const k = 'OpensoraLayerNormGrad';
    const b = host(backend, k);
    const dy = required(inputs, 'dy', k);
    const x = required(inputs, 'x', k);
    const [rows, c] = rowsOf(x, k);
    const gamma = perChannel(inputs, attrs, 'gamma', c, k);
    const wantBeta = Boolean(attrs.hasBeta);
    const g = layerNormBackward(values(b, dy), values(b, x), rows, c, gamma && values(b, gamma), wantBeta, epsOf(attrs, k));
    return gradOutputs(b, x, gamma, wantBeta, g);
  },
  OpensoraGroupNorm: ({ inputs, backend, attrs = {} }) => {
    const k = 'OpensoraGroupNorm';
    const b = host(backend, k);
    const x = required(inputs, 'x', k);
    const [n, p, c] = samplesOf(x, k);
    const groups = groupsOf(attrs, c, k);
    const gamma = perChannel(inputs, attrs, 'gamma', c, k);
    const beta = perChannel(inputs, attrs, 'beta', c, k);
    const y = groupNormForward(values(b, x), n, p, c, groups, gamma && values(b, gamma), beta && values(b, beta), epsOf(attrs, k));
    return b.makeTensorInfo(x.shape.slice(), 'float32', y);
  },
  OpensoraGroupNormGrad: ({ inputs, backend, attrs = {} }) => {
    const k = 'OpensoraGroupNormGrad';
    const b = host(backend, k);
    const dy = required(inputs, 'dy', k);
    const x = required(inputs, 'x', k);
    const [n, p, c] = samplesOf(x, k);
    const groups = groupsOf(attrs, c, k);
    const gamma = perChannel(inputs, attrs, 'gamma', c, k);
    const wantBeta = Boolean(attrs.hasBeta);
    const g = groupNormBackward(values(b, dy), values(b, x), n, p, c, groups, gamma && values(b, gamma), wantBeta, epsOf(attrs, k));
    return gradOutputs(b, x, gamma, wantBeta, g);
  },
  OpensoraRMSNorm: ({ inputs, backend, attrs = {} }) => {
    const k = 'OpensoraRMSNorm';
    const b = host(backend, k);
    const x = required(inputs, 'x', k);
    const [rows, c] = rowsOf(x, k);
    const gamma = perChannel(inputs, attrs, 'gamma', c, k);
    if (inputs.beta) throw new Error(`${k}: RMSNorm takes no 'beta'`);
    const y = rmsNormForward(values(b, x), rows, c, gamma && values(b, gamma), epsOf(attrs, k));
    return b.makeTensorInfo(x.shape.slice(), 'float32', y);
  },
  OpensoraRMSNormGrad: ({ inputs, backend, attrs = {} }) => {
    const k = 'OpensoraRMSNormGrad';
    const b = host(backend, k);
    const dy = required(inputs, 'dy', k);
    const x = required(inputs, 'x', k);
    const [rows, c] = rowsOf(x, k);
    const gamma = perChannel(inputs, attrs, 'gamma', c, k);
    const g = rmsNormBackward(values(b, dy), values(b, x), rows, c, gamma && values(b, gamma), epsOf(attrs, k));
    return gradOutputs(b, x, gamma, false, g);
  },
  OpensoraGeluTanh: ({ inputs, backend }) => {
    const k = 'OpensoraGeluTanh';
    const b = host(backend, k);
    const x = required(inputs, 'x', k);
    const size = x.shape.reduce((a, d) => a * d, 1);
    return b.makeTensorInfo(x.shape.slice(), 'float32', geluTanhForward(values(b, x), size));
  },
  OpensoraGeluTanhGrad: ({ inputs, backend }) => {
    const k = 'OpensoraGeluTanhGrad';
    const b = host(backend, k);
    const dy = required(inputs, 'dy', k);
    const x = required(inputs, 'x', k);
    const size = x.shape.reduce((a, d) => a * d, 1);
    return [b.makeTensorInfo(x.shape.slice(), 'float32', geluTanhBackward(values(b, dy), values(b, x), size))];
  },
};

kernels.OpensoraAttention = ({ inputs, backend, attrs = {} }) => {
  const name = 'OpensoraAttention';
  const b = host(backend, name);
  const { q, k, v, mask, dm } = attentionDims(inputs, attrs, name);
  const out = attentionForward(values(b, q), values(b, k), values(b, v), values(b, mask), dm);
  return b.makeTensorInfo([dm.b, dm.h, dm.nq, dm.dv], 'float32', out);
};

kernels.OpensoraAttentionGrad = ({ inputs, backend, attrs = {} }) => {
  const name = 'OpensoraAttentionGrad';
  const b = host(backend, name);
  const { q, k, v, mask, dm } = attentionDims(inputs, attrs, name);
  const dy = required(inputs, 'dy', name);
  const g = attentionBackward(values(b, dy), values(b, q), values(b, k), values(b, v), values(b, mask), dm);
  return [
    b.makeTensorInfo(q.shape.slice(), 'float32', g.dq),
    b.makeTensorInfo(k.shape.slice(), 'float32', g.dk),
    b.makeTensorInfo(v.shape.slice(), 'float32', g.dv),
  ];
};

/**
 * Registers the fused forward and backward kernels for a backend whose tensors live in host
 * memory (cpu and its subclasses). Kernels the backend already has are left alone, so a
 * backend's own (faster) versions win and calling this twice is harmless.
 */
export function registerFusedCpuKernels(backendName = 'cpu'): void {
  for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
    if (tf.getKernel(kernelName, backendName) !== undefined) continue;
    tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}
