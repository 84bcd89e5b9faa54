// Backend choice at start-up: tfjs-node-gpu, then tfjs-node (preferred where they load),
// then our libtorch backend `torch` when it starts on a CUDA device, then our N-API `native`
// backend, then `torch` on the CPU, then tfjs's pure-JS `cpu`. OPENSORA_BACKEND or
// `initRuntime({ backend })` override the order; OPENSORA_DEVICE (cpu | cuda | cuda:N) picks
// torch's device.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tf } from './tf.js';

export type BackendName = 'tensorflow' | 'torch' | 'native' | 'cpu' | (string & {});

export interface RuntimeDescription {
  backend: string;
  threads: number;
  /** Where the backend came from: a package name, or 'builtin'. */
  source: string;
  /** Backends tried before the chosen one, each with why it was skipped. */
  skipped: { backend: string; reason: string }[];
  /** The device tensors live on (torch: 'cpu', 'cuda:0'); absent for host backends. */
  device?: string;
  /** The tensor library's version where it has one (torch: libtorch's). */
  version?: string;
  /**
   * Kernels the backend ran through a host round trip (no kernel of its own), with counts so
   * far; filled by describeRuntime(). OPENSORA_DEBUG_FALLBACK=1 also prints each one once.
   */
  fallbacks?: Record<string, number>;
}

export interface InitRuntimeOptions {
  /** Force a backend ('tensorflow', 'native', 'cpu'); defaults to OPENSORA_BACKEND, then auto. */
  backend?: BackendName;
  /** Print the one-line notice of the choice (default true unless OPENSORA_QUIET is set). */
  announce?: boolean;
  /** Where the notice goes; defaults to stderr. */
  log?: (line: string) => void;
}

const requireHere = createRequire(import.meta.url);

let described: RuntimeDescription | undefined;

interface Loaded {
  threads: number;
  device?: string;
  version?: string;
  fallbacks?: () => Record<string, number>;
}

interface Candidate {
  backend: string;
  source: string;
  load: () => Promise<number | Loaded>; // resolves to the thread count (or more); rejects when unavailable
}

let fallbacksOf: (() => Record<string, number>) | undefined;

function threadsFromEnv(): number {
  const raw = process.env.OPENSORA_THREADS;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`OPENSORA_THREADS='${raw}': expected a positive integer thread count; unset it to use every core.`);
  }
  return n;
}

interface TorchModule {
  registerTorchBackend: (opts?: { device?: string; threads?: number }) => { threads: number; device: string; version: string; cuda: boolean };
  torchBackendInfo: () => { fallbacks: Record<string, number> } | undefined;
}

/**
 * The torch backend on a device. `needCuda`: only accept a CUDA device (the automatic choice
 * prefers torch over native only there).
 */
function torchCandidate(device: string, needCuda: boolean): Candidate {
  return {
    backend: 'torch',
    source: '@opensora-ts/tfjs-backend-torch',
    load: async () => {
      if (needCuda && !device.startsWith('cuda')) throw new Error(`OPENSORA_DEVICE=${device}: torch is chosen automatically on CUDA only`);
      // Without an NVIDIA driver there is no CUDA device: say so without loading libtorch.
      if (needCuda && !process.env.OPENSORA_DEVICE && !existsSync('/dev/nvidiactl') && !existsSync('/proc/driver/nvidia/version')) {
        throw new Error('no NVIDIA driver here (no /dev/nvidiactl): torch is chosen automatically on CUDA only');
      }
      // import(), not require(): under the `source` condition (tests, tsx) it resolves to TypeScript.
      const spec = '@opensora-ts/tfjs-backend-torch';
      const mod = (await import(spec)) as TorchModule;
      const info = mod.registerTorchBackend({ device, threads: threadsFromEnv() || undefined });
      return { threads: info.threads, device: info.device, version: info.version, fallbacks: () => mod.torchBackendInfo()?.fallbacks ?? {} };
    },
  };
}

function candidates(wanted?: string): Candidate[] {
  const device = process.env.OPENSORA_DEVICE || undefined;
  const tfjsNode = (pkg: string): Candidate => ({
    backend: 'tensorflow',
    source: pkg,
    load: async () => {
      assertTfjsNodeBinding(pkg);
      requireHere(pkg); // registers the 'tensorflow' backend into the shared engine
      if (tf.findBackendFactory('tensorflow') == null) throw new Error(`${pkg} loaded but registered no backend`);
      return 0;
    },
  });
  if (wanted === 'torch') return [torchCandidate(device ?? 'cpu', false)];
  return [
    tfjsNode('@tensorflow/tfjs-node-gpu'),
    tfjsNode('@tensorflow/tfjs-node'),
    torchCandidate(device ?? 'cuda', true),
    {
      backend: 'native',
      source: '@opensora-ts/tfjs-backend-native',
      load: async () => {
        // import(), not require(): under the `source` condition (tests, tsx) it resolves to TypeScript.
        const spec = '@opensora-ts/tfjs-backend-native';
        const mod = (await import(spec)) as {
          registerNativeBackend: (opts?: { threads?: number }) => { threads: number };
        };
        return mod.registerNativeBackend({ threads: threadsFromEnv() || undefined }).threads;
      },
    },
    ...(device?.startsWith('cuda') ? [] : [torchCandidate('cpu', false)]),
    { backend: 'cpu', source: 'builtin', load: async () => 1 },
  ];
}

/**
 * tfjs-node's JS loads even when its install step (a libtensorflow download) never ran, and
 * then registers its kernels before failing; check for the binding first to stay quiet.
 */
function assertTfjsNodeBinding(pkg: string): void {
  let root: string;
  try {
    root = dirname(requireHere.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error('not installed (an optional peer dependency)');
  }
  const lib = join(root, 'lib');
  const found = existsSync(lib) && readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
  if (!found) throw new Error('installed without its libtensorflow binding (its install step downloads it)');
}

/** The first line of the error, whole: a reason cut short loses its fix. */
function shortReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!;
}

/**
 * Chooses and activates the tensor backend. Safe to call more than once: later calls with
 * no explicit backend return the first choice.
 */
export async function initRuntime(options: InitRuntimeOptions = {}): Promise<RuntimeDescription> {
  const wanted = options.backend ?? (process.env.OPENSORA_BACKEND || undefined);
  if (described && (wanted === undefined || wanted === described.backend)) return described;
  const all = candidates(wanted);
  const known = [...new Set(candidates().map((c) => c.backend).concat('torch'))];
  if (wanted !== undefined && !known.includes(wanted)) {
    throw new Error(`OPENSORA_BACKEND='${wanted}': unknown backend; expected one of ${known.join(', ')}.`);
  }
  const skipped: RuntimeDescription['skipped'] = [];
  for (const c of all) {
    if (wanted !== undefined && c.backend !== wanted) continue;
    let loaded: Loaded;
    try {
      const r = await c.load();
      loaded = typeof r === 'number' ? { threads: r } : r;
    } catch (err) {
      skipped.push({ backend: `${c.backend} (${c.source})`, reason: shortReason(err) });
      continue;
    }
    const ok = await tf.setBackend(c.backend);
    if (!ok) {
      skipped.push({ backend: `${c.backend} (${c.source})`, reason: 'tf.setBackend failed' });
      continue;
    }
    await tf.ready();
    // tfjs-cpu prints a multi-line "install tfjs-node" banner on first use; our notice says it in one line.
    const be = tf.backend() as { firstUse?: boolean };
    if ('firstUse' in be) be.firstUse = false;
    described = { backend: c.backend, threads: loaded.threads, source: c.source, skipped };
    if (loaded.device !== undefined) described.device = loaded.device;
    if (loaded.version !== undefined) described.version = loaded.version;
    fallbacksOf = loaded.fallbacks;
    const announce = options.announce ?? !process.env.OPENSORA_QUIET;
    if (announce) (options.log ?? ((l: string) => process.stderr.write(l + '\n')))(runtimeNotice(described));
    return described;
  }
  const why = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  throw new Error(`backend '${wanted}' could not start (${why}). Unset OPENSORA_BACKEND to fall back automatically.`);
}

/**
 * The one line printed at start-up, e.g. `opensora-ts: backend native (2 threads, ...); skipped
 * tensorflow: ...` or `opensora-ts: backend torch (cuda:0, libtorch 2.11.0, 16 threads, ...)`.
 */
export function runtimeNotice(d: RuntimeDescription): string {
  const where = [d.device, d.version !== undefined ? `libtorch ${d.version}` : undefined].filter(Boolean).map((s) => `${s}, `).join('');
  const base = `opensora-ts: backend ${d.backend} (${where}${d.threads} thread${d.threads === 1 ? '' : 's'}, ${d.source})`;
  if (d.skipped.length === 0) return base;
  return `${base}; skipped ${d.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`;
}

/** What the runtime is using now (initialises it with the default choice when needed). */
export async function describeRuntime(): Promise<RuntimeDescription> {
  const d = described ?? (await initRuntime({ announce: false }));
  return fallbacksOf && d === described ? { ...d, fallbacks: fallbacksOf() } : d;
}
