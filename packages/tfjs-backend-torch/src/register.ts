// registerTorchBackend(): explicit and idempotent, no import side effect. Registers the
// 'torch' backend, its ATen kernels, and a host round trip for every other kernel the cpu
// backend has (counted and named, see TorchBackend.fallbacks()).
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { loadAddon, type TorchAddon } from './addon.js';
import { TorchBackend, TORCH_BACKEND_NAME } from './backend.js';
import { torchKernels } from './register-all-kernels.js';

export interface RegisterTorchOptions {
  /** 'cpu' (default), 'cuda' or 'cuda:N'; defaults to OPENSORA_DEVICE. */
  device?: string;
  /** libtorch's intra-op threads; default OPENSORA_THREADS, then every available core. */
  threads?: number;
  /**
   * Compute precision of matmul, conv and attention: 'fp32' (default; parity), 'tf32' (CUDA only)
   * or 'bf16' (tensors stay float32 for tfjs; those ops cast in and out). Defaults to
   * OPENSORA_PRECISION, then 'fp32'.
   */
  precision?: TorchPrecision;
}

export type TorchPrecision = 'fp32' | 'tf32' | 'bf16';

export interface TorchBackendInfo {
  /** libtorch's version (from its headers at build time), e.g. '2.13.0' or '1.13.0'. */
  version: string;
  device: string;
  /** Whether this libtorch can use CUDA here. */
  cuda: boolean;
  threads: number;
  /** Compute precision of matmul, conv and attention ('fp32', 'tf32' or 'bf16'). */
  precision: TorchPrecision;
  /** Kernels that run as ATen calls. */
  kernels: string[];
  /** Kernels that ran through the host round trip so far, with counts. */
  fallbacks: Record<string, number>;
}

/** Kernels with no addon op of their own name: shape-only (storage shared) or mapped to a family op. */
const NOT_AN_OP: Record<string, string | null> = {
  Reshape: null,
  Identity: null,
  ExpandDims: null,
  Squeeze: null,
  Conv2D: 'Conv',
  Conv3D: 'Conv',
  DepthwiseConv2dNative: 'Conv',
  Conv2DBackpropInput: 'ConvBackpropInput',
  Conv3DBackpropInputV2: 'ConvBackpropInput',
  DepthwiseConv2dNativeBackpropInput: 'ConvBackpropInput',
  Conv2DBackpropFilter: 'ConvBackpropFilter',
  Conv3DBackpropFilterV2: 'ConvBackpropFilter',
  DepthwiseConv2dNativeBackpropFilter: 'ConvBackpropFilter',
  MaxPool: 'Pool',
  AvgPool: 'Pool',
  MaxPool3D: 'Pool',
  AvgPool3D: 'Pool',
};

/**
 * Kernels with a composite in @opensora-ts/kernels that an addon built before they existed lacks:
 * such an addon runs the composites (same numbers, slower; `kernels` in the info leaves them out)
 * instead of refusing to start.
 */
const OPTIONAL_OPS: ReadonlySet<string> = new Set([
  'OpensoraAdamW',
  'OpensoraEmaUpdate',
  'OpensoraGlobalNorm',
  'OpensoraConv3d',
  'OpensoraGroupNormSilu',
  'OpensoraLayerNormModulate',
  'OpensoraLayerNormModulateGrad',
  'OpensoraGatedAdd',
  'OpensoraGatedAddGrad',
]);

let state: { addon: TorchAddon; kernels: string[] } | undefined;

function positiveInt(raw: string | number, what: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}='${raw}': expected a positive integer thread count; unset it to use every core.`);
  return n;
}

function threadsWanted(opts: RegisterTorchOptions): number {
  if (opts.threads !== undefined) return positiveInt(opts.threads, 'registerTorchBackend threads');
  const raw = process.env.OPENSORA_THREADS;
  if (raw !== undefined && raw !== '') return positiveInt(raw, 'OPENSORA_THREADS');
  return Math.max(1, availableParallelism());
}

/** The device to register on (exported for its test only; not part of the package API). */
export function deviceWanted(opts: RegisterTorchOptions, cudaDevices: number): string {
  const d = opts.device ?? (process.env.OPENSORA_DEVICE || 'cpu');
  if (!/^(cpu|cuda(:\d+)?)$/.test(d)) throw new Error(`OPENSORA_DEVICE='${d}': expected cpu, cuda or cuda:N.`);
  // Under torchrun, plain 'cuda' is this rank's GPU: LOCAL_RANK (modulo the GPUs there are), so
  // the ranks of one machine do not all land on cuda:0. 'cuda:N' is taken as written.
  const localRank = Number(process.env.LOCAL_RANK);
  if (d === 'cuda' && cudaDevices > 1 && Number.isInteger(localRank) && localRank > 0) return `cuda:${localRank % cudaDevices}`;
  return d;
}

function precisionWanted(opts: RegisterTorchOptions): TorchPrecision {
  const p = opts.precision ?? (process.env.OPENSORA_PRECISION || 'fp32');
  if (p !== 'fp32' && p !== 'tf32' && p !== 'bf16') throw new Error(`OPENSORA_PRECISION='${p}': expected fp32, tf32 or bf16.`);
  return p;
}

/** The torch backend if the engine has made it already (never makes it). */
function liveBackend(): TorchBackend | undefined {
  return (tf.engine() as unknown as { registry: Record<string, tf.KernelBackend | undefined> }).registry[TORCH_BACKEND_NAME] as TorchBackend | undefined;
}

function backend(): TorchBackend | undefined {
  try {
    return tf.findBackend(TORCH_BACKEND_NAME) as TorchBackend | undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers every cpu kernel the torch backend lacks as a host round trip. Runs at
 * registration; call again after registering more cpu kernels (idempotent).
 */
export function syncTorchFallbacks(): void {
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(k.kernelName, TORCH_BACKEND_NAME) !== undefined) continue;
    const name = k.kernelName;
    tf.registerKernel({
      kernelName: name,
      backendName: TORCH_BACKEND_NAME,
      kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) =>
        (args.backend as TorchBackend).fallback(name, args)) as unknown as tf.KernelFunc,
    });
  }
}

/**
 * Registers the 'torch' backend (idempotent: later calls may change the thread count, and the
 * device while no tensor is alive). Throws an Error that says why when the addon is not built
 * or the device is unusable (e.g. 'cuda' with a CPU-only libtorch); callers then keep another
 * backend. Does not switch backends: call `tf.setBackend('torch')`.
 */
export function registerTorchBackend(opts: RegisterTorchOptions = {}): TorchBackendInfo {
  const addon = loadAddon();
  const device = deviceWanted(opts, addon.info().cudaDevices);
  const precision = precisionWanted(opts);
  if (addon.info().device !== device && !(device === 'cuda' && addon.info().device === 'cuda:0')) {
    liveBackend()?.flushReleases(); // setDevice counts the tensors still alive
    addon.setDevice(device);
  }
  if (typeof addon.setPrecision !== 'function') {
    if (precision !== 'fp32') throw new Error(`@opensora-ts/tfjs-backend-torch: the built addon has no precision setting (OPENSORA_PRECISION=${precision}); it is older than the package: rebuild it with \`pnpm --filter @opensora-ts/tfjs-backend-torch build:addon\`.`);
  } else if (addon.info().precision !== precision) {
    addon.setPrecision(precision);
  }
  if (!state || opts.threads !== undefined || process.env.OPENSORA_THREADS) addon.setThreads(threadsWanted(opts));
  if (!state) {
    const ops = new Set(addon.info().ops);
    const opOf = (k: { kernelName: string }) => (k.kernelName in NOT_AN_OP ? (NOT_AN_OP[k.kernelName] as string | null) : k.kernelName);
    const missing = torchKernels.filter((k) => !OPTIONAL_OPS.has(k.kernelName)).map(opOf).filter((op): op is string => op !== null && !ops.has(op));
    if (missing.length > 0) {
      throw new Error(`@opensora-ts/tfjs-backend-torch: the built addon lacks op(s) ${[...new Set(missing)].join(', ')}; it is older than the package: rebuild it with \`pnpm --filter @opensora-ts/tfjs-backend-torch build:addon\`.`);
    }
    const kernels = torchKernels.filter((k) => !OPTIONAL_OPS.has(k.kernelName) || ops.has(k.kernelName));
    tf.registerBackend(TORCH_BACKEND_NAME, () => new TorchBackend(addon), 1);
    for (const k of kernels) {
      if (tf.getKernel(k.kernelName, TORCH_BACKEND_NAME) !== undefined) tf.unregisterKernel(k.kernelName, TORCH_BACKEND_NAME);
      tf.registerKernel({ kernelName: k.kernelName, backendName: TORCH_BACKEND_NAME, kernelFunc: k.kernelFunc });
    }
    state = { addon, kernels: kernels.map((k) => k.kernelName) };
  }
  syncTorchFallbacks();
  return torchBackendInfo()!;
}

/** What the torch backend runs on and which kernels fell back so far; undefined before registration. */
export function torchBackendInfo(): TorchBackendInfo | undefined {
  if (!state) return undefined;
  const i = state.addon.info();
  return { version: i.version, device: i.device, cuda: i.cuda, threads: i.threads, precision: (i.precision ?? 'fp32') as TorchPrecision, kernels: state.kernels.slice(), fallbacks: backend()?.fallbacks() ?? {} };
}
