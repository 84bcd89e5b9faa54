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

export class TorchBackend extends tf.KernelBackend {
  private readonly store: tf.DataStorage<TensorData>;
  private readonly codeToDtype = new Map<number, tf.DataType>();
  private host: MathBackendCPU | undefined;
  private readonly fallbackCounts = new Map<string, number>();
  private readonly announced = new Set<string>();
  /** Every entry of `store` (a WeakMap inside), so dispose() can release what is left. */
  private readonly live = new Set<TensorData>();

  constructor(readonly addon: TorchAddon) {
    super();
    this.store = new tf.DataStorage(this, tf.engine());
    for (const [dtype, code] of Object.entries(addon.dtypes)) this.codeToDtype.set(code, dtype as tf.DataType);
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

  override disposeData(dataId: tf.DataId, force = false): boolean {
    if (!this.store.has(dataId)) return true;
    const d = this.store.get(dataId);
    d.refCount--;
    if (!force && d.refCount > 0) return false;
    if (d.id !== 0) this.addon.release(d.id);
    this.store.delete(dataId);
    this.live.delete(d);
    return true;
  }

  override incRef(dataId: tf.DataId): void {
    if (this.store.has(dataId)) this.store.get(dataId).refCount++;
  }

  override refCount(dataId: tf.DataId): number {
    return this.store.has(dataId) ? this.store.get(dataId).refCount : 0;
  }

  override numDataIds(): number {
    return this.store.numDataIds();
  }

  override memory(): TorchMemoryInfo {
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
    for (const d of this.live) if (d.id !== 0) this.addon.release(d.id);
    this.live.clear();
    this.host?.dispose();
    this.host = undefined;
  }

  // ---- what kernels use ---------------------------------------------------------------

  /** Whether the addon can hold tensors of this dtype (others stay on the host and fall back). */
  static onDevice(dtype: tf.DataType): boolean {
    return ON_DEVICE.has(dtype);
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
    const flat: number[] = [];
    for (const t of inputs) {
      if (!t) flat.push(0, 0);
      else flat.push(this.idOf(t), t.shape.length, ...t.shape);
    }
    const res = this.addon.run(op, flat, attrs);
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < res.length; ) {
      const id = res[i]!;
      const dtype = this.codeToDtype.get(res[i + 1]!)!;
      const rank = res[i + 2]!;
      outs.push(this.makeOutput(id, res.slice(i + 3, i + 3 + rank), dtype));
      i += 3 + rank;
    }
    return outs;
  }

  /** runOp for a single-output op. */
  run1(op: string, inputs: (tf.TensorInfo | null | undefined)[], attrs?: OpAttrs): tf.TensorInfo {
    return this.runOp(op, inputs, attrs)[0]!;
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
