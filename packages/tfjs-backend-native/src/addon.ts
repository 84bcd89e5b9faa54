// Loads the compiled addon (build/Release/opensora_native.node) and types its functions.
// The .node file is built by `node-gyp rebuild` at install; when that failed, loading throws
// an Error that says so and how to fix it, and callers fall back to tfjs's cpu backend.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

type F32 = Float32Array;
type Opt = Float32Array | null;
/** Any 4-byte-element array (float32 or int32 tensor values); the addon moves bits only. */
type U4 = Float32Array | Int32Array;

/** The addon's functions (csrc/addon.cc). Buffers are written in place; sizes are checked there. */
export interface NativeAddon {
  setThreads(n: number): number;
  info(): { threads: number; dnnl: boolean };
  /** c = op(a) x op(b) per batch entry; with accumulate, c += it (c holds e.g. a bias). */
  batchMatMul(a: F32, b: F32, c: F32, ai: Int32Array, bi: Int32Array, m: number, n: number, k: number, ta: boolean, tb: boolean, accumulate?: boolean): void;
  /** bias: one value per output channel, added to every output (null: none). */
  convForward(geom: number[], x: F32, filter: F32, y: F32, bias?: Opt): void;
  convBackwardInput(geom: number[], dy: F32, filter: F32, dx: F32): void;
  convBackwardFilter(geom: number[], x: F32, dy: F32, df: F32): void;
  unary(op: number, x: F32, y: F32, n: number): void;
  binary(op: number, a: F32, b: F32, out: F32, shape: number[], aStrides: number[], bStrides: number[]): void;
  reduce(op: number, x: F32, out: F32, outer: number, mid: number, inner: number): void;
  softmax(x: F32, y: F32, rows: number, len: number): void;
  transpose(x: F32 | Int32Array, y: F32 | Int32Array, shape: number[], perm: number[]): void;
  /** dst[dstOffset + idx . dstStrides] = src[srcOffset + idx . srcStrides] over shape. */
  copyStrided(src: U4, srcOffset: number, dst: U4, dstOffset: number, shape: number[], srcStrides: number[], dstStrides: number[]): void;
  /** valueBits: the constant's 4 bytes read as a uint32. */
  padConstant(x: U4, y: U4, xShape: number[], before: number[], after: number[], valueBits: number): void;
  /** 4-byte elements, or bools (Uint8Array, one byte each) when x and y are both Uint8Arrays. */
  tile(x: U4 | Uint8Array, y: U4 | Uint8Array, xShape: number[], reps: number[]): void;
  /** y[i] = cond[i] == 1 ? t[i] : e[i], all of cond's length. */
  select(cond: Uint8Array, t: U4, e: U4, y: U4): void;
  gatherRows(x: U4, y: U4, indices: Int32Array, outer: number, dim: number, inner: number): void;
  layerNorm(x: F32, gamma: Opt, beta: Opt, y: F32, rows: number, c: number, eps: number): void;
  layerNormGrad(dy: F32, x: F32, gamma: Opt, dx: F32, dgamma: Opt, dbeta: Opt, rows: number, c: number, eps: number): void;
  rmsNorm(x: F32, gamma: Opt, y: F32, rows: number, c: number, eps: number): void;
  rmsNormGrad(dy: F32, x: F32, gamma: Opt, dx: F32, dgamma: Opt, rows: number, c: number, eps: number): void;
  groupNorm(x: F32, gamma: Opt, beta: Opt, y: F32, n: number, s: number, c: number, groups: number, eps: number): void;
  /** silu(groupNorm(x)) in one pass, with groupNorm's arguments. */
  groupNormSilu(x: F32, gamma: Opt, beta: Opt, y: F32, n: number, s: number, c: number, groups: number, eps: number): void;
  groupNormGrad(dy: F32, x: F32, gamma: Opt, dx: F32, dgamma: Opt, dbeta: Opt, n: number, s: number, c: number, groups: number, eps: number): void;
  geluTanh(x: F32, y: F32, n: number): void;
  geluTanhGrad(dy: F32, x: F32, dx: F32, n: number): void;
  /** dims: [b, h, nq, nk, d, dv, maskBatch, maskRank, causal (0/1), scale]; out [b, h, nq, dv]. */
  attention(q: F32, k: F32, v: F32, mask: F32, out: F32, dims: number[]): void;
  attentionGrad(dy: F32, q: F32, k: F32, v: F32, mask: F32, dq: F32, dk: F32, dv: F32, dims: number[]): void;
  /** x (dy when backward) [rows, n, d], angles [n, r] -> y, written in full. */
  rope(x: F32, angles: F32, y: F32, rows: number, n: number, d: number, r: number, backward: number): void;
  /**
   * AdamW over every parameter at once (an output array may be its input: in place). h: beta1, 1-beta1,
   * beta2, 1-beta2, 1-lr*wd, hasDecay, sqrt(1-beta2^t), eps, lr/(1-beta1^t), gradScale, hasScale.
   */
  adamwMulti(p: F32[], g: F32[], m: F32[], v: F32[], pOut: F32[], mOut: F32[], vOut: F32[], h: number[]): void;
  /** emaOut = ema*decay + param*oneMinusDecay, every tensor at once. */
  emaMulti(ema: F32[], param: F32[], emaOut: F32[], decay: number, oneMinusDecay: number): void;
  /** sqrt(sum over tensors, in order, of sum(x^2)), float32 as the composite computes it. */
  globalNorm(xs: F32[]): number;
  /** An ArrayBuffer of `bytes` uninitialised bytes whose memory freeBuffer() can free before V8 collects it. */
  allocBuffer(bytes: number): ArrayBuffer;
  /** Detaches an allocBuffer() buffer and frees its memory now (true); false, doing nothing, for any other. */
  freeBuffer(ab: ArrayBuffer): boolean;
}

/** Where the build puts the addon (src/ and dist/ are both one level below the package root). */
export const addonPath = fileURLToPath(new URL('../build/Release/opensora_native.node', import.meta.url));

let loaded: NativeAddon | undefined;

/** Written by scripts/build-addon.cjs when the build at install failed: the reason, one line. */
export const buildErrorPath = fileURLToPath(new URL('../build/install-error.txt', import.meta.url));

/**
 * How to get the addon, for npm and pnpm users of the published package (not a workspace
 * command): what the build needs, how to let pnpm run it, and the rebuild command.
 */
export const ADDON_FIX =
  'It is compiled at install and needs a C++17 compiler and OpenBLAS (Debian/Ubuntu: apt-get install g++ make python3 libopenblas-dev). ' +
  'pnpm 10 runs dependency build scripts only when allowed: run `pnpm approve-builds` and select @opensora-ts/tfjs-backend-native (it builds it then), ' +
  'or list it under onlyBuiltDependencies in pnpm-workspace.yaml and run `pnpm rebuild @opensora-ts/tfjs-backend-native`; ' +
  'npm: `npm rebuild @opensora-ts/tfjs-backend-native --foreground-scripts` (npm 11 first: `npm install-scripts approve @opensora-ts/tfjs-backend-native`).';

/** Why the addon file is absent: the build failed at install (with its reason), or never ran. */
function whyNotBuilt(): string {
  if (existsSync(buildErrorPath)) {
    const reason = readFileSync(buildErrorPath, 'utf8').trim().split('\n')[0];
    return `its build at install failed: ${reason}`;
  }
  return 'no build/Release/opensora_native.node: its install script did not run (pnpm 10 skips it until approved; --ignore-scripts skips it)';
}

export function loadAddon(): NativeAddon {
  if (loaded) return loaded;
  if (!existsSync(addonPath)) {
    throw new Error(`@opensora-ts/tfjs-backend-native: the native addon is not built (${whyNotBuilt()}). ${ADDON_FIX}`);
  }
  try {
    loaded = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`@opensora-ts/tfjs-backend-native: the native addon failed to load (${why}). Rebuild it: ${ADDON_FIX}`);
  }
  return loaded;
}

/** Whether the addon is built and loads, without throwing (tests skip on false). */
export function nativeAddonStatus(): { available: true } | { available: false; reason: string } {
  try {
    loadAddon();
    return { available: true };
  } catch (err) {
    return { available: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
