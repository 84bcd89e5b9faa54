// The 'torch' backend: tensors live in libtorch (at::Tensor in the addon's id table, on cpu or
// cuda). The storage contract is tfjs-node's: a DataStorage of {id, shape, dtype, refCount,
// values?}; write() only records host values and the tensor is uploaded the first time a
// kernel needs it; disposeData() releases the libtorch tensor when the last reference goes.
// Kernels with no ATen implementation run the cpu backend's kernel on host copies (a counted,
// named round trip: see fallbacks()).
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { HostValues, OpAttrs, TorchAddon } from './addon.js';

export const TORCH_BACKEND_NAME = 'torch';

interface TensorData {
  /** The addon's tensor id; 0 until uploaded. */
  id: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
  /** Host values not yet uploaded (and, for string tensors, the only copy: they never upload). */
  values?: tf.backend_util.BackendValues;
  /** Entries of saveForGradient keyed on this tensor, dropped with it. */
  savedForGrad?: SavedForGrad[];
}

/** What tf.memory() gains on this backend (merged into the engine's own counts). */
export interface TorchMemoryInfo {
  unreliable: boolean;
  /** Bytes of the distinct libtorch storages this backend holds. */
  numBytesInTorch: number;
  numTensorsInTorch: number;
  device: string;
  /** CUDA only: the caching allocator's bytes in use, at peak (since resetPeakMemory) and reserved. */
  cudaAllocatedBytes?: number;
  cudaPeakBytes?: number;
  cudaReservedBytes?: number;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const ON_DEVICE: ReadonlySet<tf.DataType> = new Set(['float32', 'int32', 'bool']);

/**
 * The fast path to the addon (exec), shared by every backend on one addon: the Float64Arrays the
 * addon reads op inputs from and writes outputs to (`io`), and the ids whose release waits for the
 * next call (`rel`, `pending` of them), so a kernel is one N-API call with no array built on
 * either side and a disposed tensor none. Op indices are looked up once per name.
 */
interface Channel {
  io: Float64Array;
  rel: Float64Array;
  pending: number;
  opIds: Map<string, number>;
}

const CHANNEL = Symbol.for('@opensora-ts/tfjs-backend-torch:channel');

function channelOf(addon: TorchAddon): Channel | undefined {
  if (typeof addon.exec !== 'function' || typeof addon.setIo !== 'function') return undefined; // an addon built before exec
  const holder = addon as unknown as { [CHANNEL]?: Channel };
  if (!holder[CHANNEL]) {
    const c: Channel = { io: new Float64Array(1024), rel: new Float64Array(512), pending: 0, opIds: new Map() };
    addon.setIo(c.io, c.rel);
    holder[CHANNEL] = c;
  }
  return holder[CHANNEL];
}

/** What an op's forward kept for its gradient, valid while its key inputs' storage lives (see saveForGradient). */
interface SavedForGrad {
  op: string;
  key: tf.TensorInfo[];
  attrs: string;
  saved: tf.TensorInfo[];
}

export class TorchBackend extends tf.KernelBackend {
  private readonly store: tf.DataStorage<TensorData>;
  /** tfjs dtype by the addon's dtype code. */
  private readonly codeToDtype: tf.DataType[] = [];
  private readonly channel: Channel | undefined;
  private host: MathBackendCPU | undefined;
  private readonly fallbackCounts = new Map<string, number>();
  private readonly announced = new Set<string>();
  /** Every entry of `store` (a WeakMap inside), so dispose() can release what is left. */
  private readonly live = new Set<TensorData>();

  constructor(readonly addon: TorchAddon) {
    super();
    this.store = new tf.DataStorage(this, tf.engine());
    for (const [dtype, code] of Object.entries(addon.dtypes)) this.codeToDtype[code] = dtype as tf.DataType;
    this.channel = channelOf(addon);
  }

  // ---- storage ------------------------------------------------------------------------

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    const dataId = {};
    this.move(dataId, values, shape, dtype, 1);
    return dataId;
  }

  override move(dataId: tf.DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    if (dtype === 'complex64') throw new Error("torch backend: complex64 tensors are not supported; run complex math on the 'cpu' backend.");
    const d: TensorData = { id: 0, shape: shape.slice(), dtype, refCount, values };
    this.store.set(dataId, d);
    this.live.add(d);
  }

  /** A tensor from host values (uploaded when first used). */
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo {
    const size = tf.util.sizeFromShape(shape);
    const vals = values ?? tf.util.getTypedArrayFromDType(dtype as 'float32', size);
    return { dataId: this.write(vals, shape, dtype), shape, dtype };
  }

  /** A tensor the addon already holds (an op's output). */
  makeOutput(id: number, shape: number[], dtype: tf.DataType): tf.TensorInfo {
    const dataId = {};
    const d: TensorData = { id, shape, dtype, refCount: 1 };
    this.store.set(dataId, d);
    this.live.add(d);
    return { dataId, shape, dtype };
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const d = this.store.get(dataId);
    if (!d) throw new Error('torch backend: readSync of a tensor this backend does not hold (disposed?)');
    if (d.values !== undefined) return d.values;
    return this.addon.download(d.id);
  }

  override read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    return Promise.resolve(this.readSync(dataId));
  }

  /**
   * The entry of a tensor this backend holds, or undefined. (DataStorage.get of an id it does not
   * hold moves the data from the backend the engine says holds it: right for kernel inputs, see
   * idOf, but not for bookkeeping.)
   */
  private held(dataId: tf.DataId): TensorData | undefined {
    return this.store.has(dataId) ? this.store.get(dataId) : undefined;
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const d = this.held(dataId);
    if (!d) return true;
    d.refCount--;
    if (!force && d.refCount > 0) return false;
    this.store.delete(dataId);
    this.live.delete(d);
    if (d.id !== 0) this.release(d.id);
    if (d.savedForGrad) this.dropSaved(d);
    return true;
  }

  override incRef(dataId: tf.DataId): void {
    const d = this.held(dataId);
    if (d) d.refCount++;
  }

  override refCount(dataId: tf.DataId): number {
    return this.held(dataId)?.refCount ?? 0;
  }

  /** Frees a libtorch tensor: with the next addon call (or when the deferred list is full). */
  private release(id: number): void {
    const c = this.channel;
    if (!c) {
      this.addon.release(id);
      return;
    }
    c.rel[c.pending++] = id;
    if (c.pending === c.rel.length) this.flushReleases();
  }

  /** Releases the libtorch tensors whose release was deferred (before reading the addon's counts). */
  flushReleases(): void {
    const c = this.channel;
    if (!c || c.pending === 0) return;
    const n = c.pending;
    c.pending = 0;
    this.addon.releaseMany!(n);
  }

  override numDataIds(): number {
    return this.store.numDataIds();
  }

  override memory(): TorchMemoryInfo {
    this.flushReleases();
    const m = this.addon.memory();
    const info: TorchMemoryInfo = { unreliable: false, numBytesInTorch: m.bytes, numTensorsInTorch: m.tensors, device: this.addon.info().device };
    if (m.cuda) {
      info.cudaAllocatedBytes = m.cuda.allocated;
      info.cudaPeakBytes = m.cuda.peak;
      info.cudaReservedBytes = m.cuda.reserved;
    }
    return info;
  }

  /** Restarts the CUDA caching allocator's peak count (cudaPeakBytes in memory()); no-op on the CPU. */
  resetPeakMemory(): void {
    this.addon.resetPeakMemory();
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override timerAvailable(): boolean {
    return true;
  }

  override async time(f: () => void): Promise<tf.BackendTimingInfo> {
    const start = performance.now();
    f();
    return { kernelMs: performance.now() - start };
  }

  override dispose(): void {
    // tf.removeBackend / engine reset: nothing else can reach these tensors any more.
    this.flushReleases();
    for (const d of this.live) if (d.id !== 0) this.addon.release(d.id);
    this.live.clear();
    this.host?.dispose();
    this.host = undefined;
  }

  // ---- what kernels use ---------------------------------------------------------------

  /** Whether the addon can hold tensors of this dtype (others stay on the host and fall back). */
  static onDevice(dtype: tf.DataType): boolean {
    return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
  }

  /** The addon id of a tensor, uploading its host values first when needed. */
  idOf(t: tf.TensorInfo): number {
    const d = this.store.get(t.dataId);
    if (!d) throw new Error('torch backend: a kernel input is not held by this backend (disposed, or from another backend)');
    if (d.id !== 0) return d.id;
    if (!ON_DEVICE.has(d.dtype)) throw new Error(`torch backend: ${d.dtype} tensors stay on the host; this kernel needs float32, int32 or bool`);
    const code = this.addon.dtypes[d.dtype as 'float32'];
    d.id = this.addon.upload(hostArray(d.values!, d.dtype), d.shape, code);
    d.values = undefined;
    return d.id;
  }

  /**
   * Runs an addon op on tensors (null: an absent optional input) with the shapes their
   * TensorInfos give (a reshaped tensor shares storage with its source), returning its outputs.
   */
  runOp(op: string, inputs: (tf.TensorInfo | null | undefined)[], attrs?: OpAttrs): tf.TensorInfo[] {
    const c = this.channel;
    if (!c) return this.runSlow(op, inputs, attrs);
    let index = c.opIds.get(op);
    if (index === undefined) {
      index = this.addon.opIndex!(op);
      if (index < 0) throw new Error(`run: the addon has no op '${op}'`);
      c.opIds.set(op, index);
    }
    let words = 0;
    for (let i = 0; i < inputs.length; i++) words += 2 + (inputs[i]?.shape.length ?? 0);
    if (words > c.io.length) {
      c.io = new Float64Array(Math.max(words, 2 * c.io.length));
      this.addon.setIo!(c.io, c.rel);
    }
    const io = c.io;
    let k = 0;
    for (let i = 0; i < inputs.length; i++) {
      const t = inputs[i];
      if (!t) {
        io[k++] = 0;
        io[k++] = 0;
        continue;
      }
      io[k++] = this.idOf(t); // an upload does not touch io
      const shape = t.shape;
      io[k++] = shape.length;
      for (let j = 0; j < shape.length; j++) io[k++] = shape[j]!;
    }
    const pending = c.pending;
    c.pending = 0;
    const r = this.addon.exec!(index, k, pending, attrs);
    return typeof r === 'number' ? this.outputsOf(c.io, r) : this.outputsOf(r, r.length);
  }

  /** runOp through `run` (an addon built before exec). */
  private runSlow(op: string, inputs: (tf.TensorInfo | null | undefined)[], attrs?: OpAttrs): tf.TensorInfo[] {
    const flat: number[] = [];
    for (const t of inputs) {
      if (!t) flat.push(0, 0);
      else flat.push(this.idOf(t), t.shape.length, ...t.shape);
    }
    const res = this.addon.run(op, flat, attrs);
    return this.outputsOf(res, res.length);
  }

  /** TensorInfos of an output list [id, dtype, rank, ...shape] per output, `n` words long. */
  private outputsOf(res: ArrayLike<number>, n: number): tf.TensorInfo[] {
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < n; ) {
      const id = res[i]!;
      const dtype = this.codeToDtype[res[i + 1]!]!;
      const rank = res[i + 2]!;
      const shape = new Array<number>(rank);
      for (let j = 0; j < rank; j++) shape[j] = res[i + 3 + j]!;
      outs.push(this.makeOutput(id, shape, dtype));
      i += 3 + rank;
    }
    return outs;
  }

  /** runOp for a single-output op. */
  run1(op: string, inputs: (tf.TensorInfo | null | undefined)[], attrs?: OpAttrs): tf.TensorInfo {
    return this.runOp(op, inputs, attrs)[0]!;
  }

  // ---- what an op's forward keeps for its gradient --------------------------------------

  /** Whether a gradient tape is recording (tf.grad / variableGrads around the running kernel). */
  recordingGradients(): boolean {
    return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
  }

  /**
   * Keeps `saved` (outputs of op's forward that this backend holds, not the engine) for op's
   * gradient kernel, which finds them by the same key tensors and attrs (takeSaved). The entry
   * is dropped, and `saved` disposed, when any key tensor's storage is, so they live no longer
   * than the tensors the tape saved for that gradient.
   */
  saveForGradient(op: string, key: tf.TensorInfo[], attrs: string, saved: tf.TensorInfo[]): void {
    const entry: SavedForGrad = { op, key, attrs, saved };
    for (const t of key) {
      const d = this.held(t.dataId);
      if (!d) throw new Error(`torch backend: ${op}: a key tensor is not held by this backend`);
      (d.savedForGrad ??= []).push(entry);
    }
  }

  /** The tensors saveForGradient kept under this key (the caller disposes them), or undefined. */
  takeSaved(op: string, key: tf.TensorInfo[], attrs: string): tf.TensorInfo[] | undefined {
    const list = this.held(key[0]!.dataId)?.savedForGrad;
    const entry = list?.find((e) => e.op === op && e.attrs === attrs && e.key.length === key.length && e.key.every((t, i) => t.dataId === key[i]!.dataId && tf.util.arraysEqual(t.shape, key[i]!.shape)));
    if (!entry) return undefined;
    this.unlink(entry);
    return entry.saved;
  }

  private unlink(entry: SavedForGrad): void {
    for (const t of entry.key) {
      const d = this.held(t.dataId);
      if (!d?.savedForGrad) continue;
      const i = d.savedForGrad.indexOf(entry);
      if (i >= 0) d.savedForGrad.splice(i, 1);
      if (d.savedForGrad.length === 0) d.savedForGrad = undefined;
    }
  }

  private dropSaved(d: TensorData): void {
    const list = d.savedForGrad!;
    d.savedForGrad = undefined;
    for (const entry of list) {
      this.unlink(entry);
      for (const t of entry.saved) this.disposeData(t.dataId, true);
    }
  }

  /** A new TensorInfo sharing x's storage under another shape (reshape, identity, squeeze). */
  share(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    this.incRef(x.dataId);
    return { dataId: x.dataId, shape, dtype: x.dtype };
  }

  // ---- host round trip ----------------------------------------------------------------

  /**
   * Runs the cpu backend's kernel on host copies of the inputs and uploads its outputs: for
   * kernels (or attribute cases) with no ATen implementation here. Counted by kernel name;
   * OPENSORA_DEBUG_FALLBACK=1 prints each kernel's first fall-back.
   */
  fallback(kernelName: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
    const cpu = tf.getKernel(kernelName, 'cpu');
    if (!cpu) throw new Error(`torch backend: kernel '${kernelName}' has no ATen implementation and no cpu kernel to fall back to`);
    this.fallbackCounts.set(kernelName, (this.fallbackCounts.get(kernelName) ?? 0) + 1);
    if (!this.announced.has(kernelName) && isDebugFallback()) {
      this.announced.add(kernelName);
      process.stderr.write(`opensora-ts: torch backend: ${kernelName} ran on the host (cpu kernel round trip)\n`);
    }
    this.host ??= new MathBackendCPU();
    const host = this.host;
    (host as unknown as { firstUse: boolean }).firstUse = false;
    const made: tf.DataId[] = [];
    // List-taking kernels (Concat, Pack, AddN) get an array, the others a name map.
    const inputs: Record<string, tf.TensorInfo> | tf.TensorInfo[] = Array.isArray(args.inputs) ? [] : {};
    for (const [name, t] of Object.entries(args.inputs)) {
      if (!t) continue;
      const dataId = host.write(this.readSync(t.dataId) as tf.backend_util.BackendValues, t.shape, t.dtype);
      made.push(dataId);
      (inputs as Record<string, tf.TensorInfo>)[name] = { dataId, shape: t.shape, dtype: t.dtype };
    }
    try {
      const out = cpu.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend: host, attrs: args.attrs });
      const list = Array.isArray(out) ? out : [out];
      const back = list.map((o) => {
        const v = host.readSync(o.dataId);
        if (!made.includes(o.dataId)) made.push(o.dataId);
        return this.makeTensorInfo(o.shape, o.dtype, v);
      });
      return Array.isArray(out) ? back : back[0]!;
    } finally {
      for (const id of made) host.disposeData(id, true);
    }
  }

  /** How often each kernel ran through the host round trip in this process. */
  fallbacks(): Record<string, number> {
    return Object.fromEntries([...this.fallbackCounts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

function isDebugFallback(): boolean {
  const v = process.env.OPENSORA_DEBUG_FALLBACK;
  return v !== undefined && v !== '' && v !== '0';
}

/** Host values as the typed array the addon takes for a dtype. */
function hostArray(values: tf.backend_util.BackendValues, dtype: tf.DataType): HostValues {
  if (dtype === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  if (dtype === 'int32') return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
  if (values instanceof Uint8Array) return values;
  return Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0));
}
