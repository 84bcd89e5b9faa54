// Loads the compiled addon (build/Release/opensora_torch.node) and types its functions. The
// .node file is built at install against the libtorch scripts/detect-libtorch.cjs finds; when
// there was none, or the build failed, loading throws an Error that says so and how to fix it,
// and callers keep another backend.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Values an op attribute may take (csrc/convert.h Attrs reads these). */
export type AttrValue = number | boolean | string | number[];
export type OpAttrs = Record<string, AttrValue | undefined>;

export type HostValues = Float32Array | Int32Array | Uint8Array;

/** The addon's functions (csrc/addon.cc). Every error is a JS Error naming the op. */
export interface TorchAddon {
  /** tfjs dtype -> the addon's dtype code (exported by the addon, never hard-coded here). */
  readonly dtypes: { float32: number; int32: number; bool: number };
  /** Copies host values into a new tensor on the current device; returns its id. */
  upload(values: HostValues, shape: number[], dtype: number): number;
  /** Copies a tensor to a fresh host array (Uint8Array for bool). */
  download(id: number): HostValues;
  /** Frees a tensor; an unknown id throws. */
  release(id: number): void;
  /**
   * Runs op `op` of the addon's table. inputs: [id, rank, ...shape] per input (id 0 = an absent
   * optional input); returns [id, dtypeCode, rank, ...shape] per output.
   */
  run(op: string, inputs: number[], attrs?: OpAttrs): number[];
  // run's fast path (absent from an addon built before it; the backend then uses run).
  /** The index exec takes for op `op`, or -1 when the addon has no such op. */
  opIndex?(op: string): number;
  /**
   * The buffers exec and releaseMany use in this JS environment (kept referenced until replaced):
   * `io` for exec's input and output lists, `rel` for ids whose release was deferred.
   */
  setIo?(io: Float64Array, rel: Float64Array): void;
  /**
   * Releases rel[0, nRelease), then runs op `index` on the input list in io[0, nWords) (as run's);
   * writes the output list (as run returns it) to io and returns its length, or returns the list
   * when io cannot hold it.
   */
  exec?(index: number, nWords: number, nRelease: number, attrs?: OpAttrs): number | number[];
  /** Releases rel[0, n). */
  releaseMany?(n: number): void;
  /** 'cpu' | 'cuda' | 'cuda:N'; throws when CUDA is unusable or tensors are alive. Returns the device. */
  setDevice(device: string): string;
  setThreads(n: number): number;
  /**
   * 'fp32' | 'tf32' | 'bf16' for matmul, conv and attention (OPENSORA_PRECISION); throws for tf32
   * off CUDA and for bf16 where this libtorch cannot run it on the device. setDevice resets it to
   * fp32 when the device changes.
   */
  setPrecision(precision: string): string;
  info(): { version: string; cuda: boolean; cudaDevices: number; device: string; threads: number; precision: string; ops: string[] };
  /**
   * Live tensors and the bytes of their distinct storages; on a CUDA device also the caching
   * allocator's bytes (allocated now, at peak since the last reset, reserved from the driver).
   */
  memory(): { tensors: number; bytes: number; cuda?: { allocated: number; peak: number; reserved: number } };
  /** Restarts the CUDA allocator's peak (no-op on the CPU). */
  resetPeakMemory(): void;
  // c10d (csrc/process_group.cc); absent from an addon built before it. Group ids are handles.
  /** Which c10d process groups this build has (Gloo needs its headers at build time, NCCL a CUDA libtorch). */
  c10dFeatures?(): { gloo: boolean; nccl: boolean };
  /** Resolves with a group id once every rank has connected. */
  c10dConnect?(opts: C10dAddonConnect): Promise<number>;
  c10dClose?(group: number): Promise<void>;
  c10dAllReduce?(group: number, data: Float32Array, op: string): Promise<void>;
  c10dBroadcast?(group: number, data: HostValues, root: number): Promise<void>;
  c10dAllGather?(group: number, data: HostValues): Promise<HostValues[]>;
  c10dBarrier?(group: number): Promise<void>;
  /** Reduces a copy of tensor `id` on the group's device; resolves with the new tensor's id (on the tensor's device). */
  c10dAllReduceTensor?(group: number, id: number, op: string): Promise<number>;
  /** null, or the rank the heartbeats found lost and the error collectives now fail with. */
  c10dLost?(group: number): { rank: number; message: string } | null;
}

export interface C10dAddonConnect {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: 'gloo' | 'nccl';
  timeoutMs: number;
  lostAfterMs: number;
  /** torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE): rank 0 connects to it too. */
  agentStore: boolean;
  /** Prefix of this run's keys in the store (a restart must not read the last attempt's). */
  storePrefix: string;
  /** Which torch torchrun's agent looks like, for the error when its store does not answer us. */
  agentHint?: string;
  device?: string;
}

/**
 * Where the build puts the addon (src/ and dist/ are both one level below the package root);
 * OPENSORA_TORCH_ADDON names another build (e.g. one against a second libtorch, for the benches).
 */
export const addonPath = process.env.OPENSORA_TORCH_ADDON || fileURLToPath(new URL('../build/Release/opensora_torch.node', import.meta.url));

let loaded: TorchAddon | undefined;

export function loadAddon(): TorchAddon {
  if (loaded) return loaded;
  if (!existsSync(addonPath)) {
    throw new Error(
      `@opensora-ts/tfjs-backend-torch: the addon is not built (no ${addonPath}). ` +
        'Install a libtorch (Debian: apt-get install libtorch-dev; or set LIBTORCH to a libtorch folder, or OPENSORA_PYTHON to a python with torch), ' +
        'then run `pnpm --filter @opensora-ts/tfjs-backend-torch build:addon`.',
    );
  }
  try {
    loaded = createRequire(import.meta.url)(addonPath) as TorchAddon;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`@opensora-ts/tfjs-backend-torch: the addon failed to load (${why}); rebuild it with \`pnpm --filter @opensora-ts/tfjs-backend-torch build:addon\`.`);
  }
  return loaded;
}

/** Whether the addon is built and loads, without throwing (tests skip on false). */
export function torchAddonStatus(): { available: true; version: string } | { available: false; reason: string } {
  try {
    return { available: true, version: loadAddon().info().version };
  } catch (err) {
    return { available: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
