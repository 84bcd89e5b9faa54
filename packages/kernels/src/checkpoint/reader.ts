// One reader for weights as they are published: safetensors (F32/F16/BF16/..., one file or shards)
// and torch.save files (.bin/.pt/.pth, one file or pytorch_model.bin shards), through the same
// keys / info / read / close. Opening checks everything that can be checked without reading data
// (every shard exists, every header or pickle parses, every tensor lies inside its file, the index
// agrees with the shards), so a bad checkpoint fails before any tensor is read or loaded.
import { SafetensorsFile, type HostTensor, type SafetensorsDtype } from '../safetensors.js';
import { countNonFinite, describeNonFinite } from '../finite.js';
import { CheckpointError } from './errors.js';
import { BackgroundReader, BACKGROUND_DTYPES } from './background-reader.js';
import { checkpointShards } from './resolve.js';
import { TorchCheckpointFile, fileMagic, isLegacyTorch, isZip, type TorchFileOptions } from './torch-file.js';

type CheckpointFormat = 'safetensors' | 'torch';

export interface CheckpointTensorInfo {
  /** The dtype on disk (safetensors names: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL). */
  dtype: SafetensorsDtype;
  shape: number[];
  /** The file holding the tensor. */
  file: string;
}

/** Where a tensor's stored bytes lie: one little-endian run of `length` bytes at `offset` in `file`. */
export interface TensorLocation {
  file: string;
  offset: number;
  length: number;
  dtype: SafetensorsDtype;
  shape: number[];
}

export interface CheckpointReader {
  /** The path that was opened. */
  readonly path: string;
  /** The files behind it (several for a sharded checkpoint). */
  readonly files: readonly string[];
  /** For messages: the one file, or `path (N shards)`. */
  readonly source: string;
  /** What was done to find the state dict, e.g. `ema.pt: took the state dict under 'ema'`. */
  readonly notes: readonly string[];
  keys(): string[];
  has(key: string): boolean;
  info(key: string): CheckpointTensorInfo;
  /**
   * One tensor, decoded for compute: float dtypes as float32, ints as int32, bools as uint8; contiguous.
   * A float tensor holding NaN or +-Inf throws a CheckpointError naming the key (unless `allowNonFinite`).
   */
  read(key: string): HostTensor;
  /**
   * Several tensors, as read() gives them, read and decoded in a worker thread so that the caller
   * can compute meanwhile (T5-XXL reads its next block while this one runs). Falls back to read()
   * for tensors not stored as one plain run, and everywhere a worker cannot start.
   */
  readInBackground(keys: readonly string[]): Promise<HostTensor[]>;
  close(): void;
}

export interface OpenCheckpointOptions extends TorchFileOptions {
  /**
   * Read float tensors holding NaN or +-Inf as they are (default false: such a tensor is refused
   * naming its key, since a model with one gives NaN everywhere downstream).
   */
  allowNonFinite?: boolean;
}

/** One open file of either format. */
interface TensorFile {
  readonly path: string;
  readonly format: CheckpointFormat;
  keys(): string[];
  has(key: string): boolean;
  info(key: string): { dtype: SafetensorsDtype; shape: number[] };
  read(key: string): HostTensor;
  location(key: string): { offset: number; length: number } | null;
  close(): void;
}

const TORCH_EXTENSIONS = /\.(bin|pt|pth|ckpt)$/;

/** A safetensors file starts with a u64 header length and then '{'. */
function looksLikeSafetensors(magic: Buffer): boolean {
  return magic.length >= 9 && magic[8] === 0x7b;
}

function openFile(file: string, options: OpenCheckpointOptions, notes: string[]): TensorFile {
  const magic = fileMagic(file, 9);
  if (isZip(magic) || isLegacyTorch(magic) || (TORCH_EXTENSIONS.test(file) && !looksLikeSafetensors(magic))) {
    const f = new TorchCheckpointFile(file, options);
    if (f.unwrapped) notes.push(`${file}: took the state dict under '${f.unwrapped}'`);
    if (f.strippedPrefix) notes.push(`${file}: stripped the '${f.strippedPrefix}' prefix from every key`);
    return f;
  }
  const f = new SafetensorsFile(file);
  return {
    path: file,
    format: 'safetensors',
    keys: () => f.keys(),
    has: (k) => f.has(k),
    info: (k) => {
      const e = f.info(k);
      return { dtype: e.dtype, shape: [...e.shape] };
    },
    read: (k) => f.read(k),
    location: (k) => f.location(k),
    close: () => f.close(),
  };
}

class Checkpoint implements CheckpointReader {
  readonly files: readonly string[];
  readonly source: string;
  readonly notes: string[] = [];
  private readonly opened: TensorFile[] = [];
  private readonly byKey = new Map<string, TensorFile>();

  private readonly allowNonFinite: boolean;
  private background: BackgroundReader | undefined;

  constructor(
    readonly path: string,
    options: OpenCheckpointOptions,
  ) {
    this.allowNonFinite = options.allowNonFinite ?? false;
    const shards = checkpointShards(path);
    this.files = shards.files;
    this.source = shards.files.length === 1 ? shards.files[0]! : `${path} (${shards.files.length} shards)`;
    try {
      for (const file of shards.files) {
        const f = openFile(file, options, this.notes);
        this.opened.push(f);
        for (const k of f.keys()) {
          const other = this.byKey.get(k);
          if (other) throw new CheckpointError(`${shards.index ?? path}: tensor '${k}' is in both ${other.path} and ${f.path}; the shards do not belong together.`);
          this.byKey.set(k, f);
        }
      }
      if (shards.weightMap) this.checkIndex(shards.index!, shards.weightMap);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private checkIndex(index: string, weightMap: Map<string, string>): void {
    for (const [key, file] of weightMap) {
      const f = this.byKey.get(key) ?? this.byKey.get(key.replace(/^module\./, ''));
      if (!f || f.path !== file) {
        throw new CheckpointError(
          `${index}: weight_map puts '${key}' in ${file}, but ${f ? `it is in ${f.path}` : 'no shard holds it'}; the index and the shards do not match (download them again together).`,
        );
      }
    }
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  private fileOf(key: string): TensorFile {
    const f = this.byKey.get(key);
    if (!f) throw new CheckpointError(`${this.source}: no tensor named '${key}' (it has ${this.byKey.size} tensors).`);
    return f;
  }

  info(key: string): CheckpointTensorInfo {
    const f = this.fileOf(key);
    return { ...f.info(key), file: f.path };
  }

  read(key: string): HostTensor {
    const f = this.fileOf(key);
    return this.checked(f, key, f.read(key));
  }

  async readInBackground(keys: readonly string[]): Promise<HostTensor[]> {
    const located = keys.map((key) => {
      const f = this.fileOf(key);
      const at = f.location(key);
      const { dtype, shape } = f.info(key);
      return at && BACKGROUND_DTYPES.has(dtype) ? { file: f.path, ...at, dtype, shape } : null;
    });
    const work = located.filter((l): l is TensorLocation => l !== null);
    const decoded = work.length ? await (this.background ??= new BackgroundReader()).read(work) : [];
    let next = 0;
    return keys.map((key, i) => {
      const f = this.fileOf(key);
      if (!located[i]) return this.read(key);
      const d = decoded[next++]!;
      return this.checked(f, key, { dtype: 'float32', shape: [...located[i]!.shape], data: d.data, stored: located[i]!.dtype, finite: d.finite });
    });
  }

  /** A float tensor with NaN or +-Inf is refused naming the key, unless allowNonFinite. */
  private checked(f: TensorFile, key: string, t: HostTensor): HostTensor {
    if (t.dtype === 'float32' && !this.allowNonFinite && t.finite !== true) {
      const bad = countNonFinite(t.data);
      if (bad.first >= 0) {
        throw new CheckpointError(
          `${f.path}: tensor '${key}' [${t.shape.join(', ')}] holds ${describeNonFinite(bad)}; a model with a NaN or Inf weight gives NaN everywhere (an all-black video). ` +
            'The file is damaged or was saved from a diverged run: download it again, or use an earlier checkpoint.',
        );
      }
    }
    return t;
  }

  close(): void {
    for (const f of this.opened) f.close();
    this.opened.length = 0;
    this.background?.close();
    this.background = undefined;
  }
}

/**
 * Opens a checkpoint as published: a .safetensors file, a .bin/.pt/.pth torch.save file, a
 * `*.safetensors.index.json` or `pytorch_model.bin.index.json`, or a folder holding
 * model.safetensors[.index.json] or pytorch_model.bin[.index.json]. Nothing is read until
 * `read(key)`; call `close()` when done.
 */
export function openCheckpoint(path: string, options: OpenCheckpointOptions = {}): CheckpointReader {
  return new Checkpoint(path, options);
}

/** Reads every tensor of a checkpoint (any format `openCheckpoint` takes), or those `filter` keeps. */
export function readCheckpoint(path: string, filter?: (key: string) => boolean, options: OpenCheckpointOptions = {}): Map<string, HostTensor> {
  const ck = openCheckpoint(path, options);
  try {
    const out = new Map<string, HostTensor>();
    for (const k of ck.keys()) if (!filter || filter(k)) out.set(k, ck.read(k));
    return out;
  } finally {
    ck.close();
  }
}
