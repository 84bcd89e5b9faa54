// A torch.save file (.bin/.pt/.pth, the zip format of torch >= 1.6): `<folder>/data.pkl` describes
// the objects, `<folder>/data/<key>` holds each storage's raw bytes, `<folder>/byteorder` says
// little or big endian. Opening reads the zip directory and unpickles data.pkl with the restricted
// unpickler (no code runs), finds the state dict, and checks every tensor against its storage, so a
// bad file fails before any data is read. `read(key)` then reads just the bytes that tensor views
// and copies strided views (transposes, slices, shared storages, offsets) into contiguous arrays.
import { constants } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { DTYPE_BYTES, decodeTensor, type HostTensor, type SafetensorsDtype } from '../safetensors.js';
import { CONVERT_ADVICE, CheckpointError } from './errors.js';
import { findStateDict } from './state-dict.js';
import { unpickle, type TensorRef } from './unpickle.js';
import { ZipArchive } from './zip.js';

export interface TorchFileOptions {
  /** Take the state dict under this top-level key instead of finding it (e.g. 'model' where 'ema' is also present). */
  entry?: string;
}

/** The first bytes of a file, to tell formats apart. */
export function fileMagic(path: string, n = 8): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** A zip archive's first local header ('PK\x03\x04'), or an empty archive's end record. */
export function isZip(magic: Buffer): boolean {
  return magic.length >= 4 && magic[0] === 0x50 && magic[1] === 0x4b && ((magic[2] === 3 && magic[3] === 4) || (magic[2] === 5 && magic[3] === 6));
}

/** The legacy (torch < 1.6) torch.save format starts with a pickle's PROTO opcode. */
export function isLegacyTorch(magic: Buffer): boolean {
  return magic.length >= 2 && magic[0] === 0x80 && magic[1]! >= 2 && magic[1]! <= 5;
}

/** The most bytes one tensor may take on disk or in memory: Node 20's Buffer limit (4 GiB), on every Node version. */
const MAX_TENSOR_BYTES = Math.min(constants.MAX_LENGTH, 2 ** 32);

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Copies a strided view of `src` (element 0 of `src` is the view's origin) into a contiguous array. */
function gather<T extends Float32Array | Int32Array | Uint8Array>(src: T, shape: number[], stride: number[], out: T): T {
  const nd = shape.length;
  const inner = shape[nd - 1]!;
  const innerStride = stride[nd - 1]!;
  const idx = new Array<number>(nd).fill(0);
  let base = 0;
  let o = 0;
  const rows = out.length / inner;
  for (let r = 0; r < rows; r++) {
    for (let j = 0, s = base; j < inner; j++, s += innerStride) out[o++] = src[s]!;
    // Advance the odometer over the outer dimensions.
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]!++;
      base += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      base -= stride[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

export class TorchCheckpointFile {
  readonly format = 'torch' as const;
  readonly path: string;
  /** The state dict's tensors as stored: storage, dtype, offset, shape, stride. */
  readonly entries: ReadonlyMap<string, TensorRef>;
  /** The top-level key the state dict was found under ('ema', 'state_dict', 'model', 'module'), if any. */
  readonly unwrapped: string | undefined;
  /** 'module.' when every key carried it (a DistributedDataParallel save) and it was stripped. */
  readonly strippedPrefix: string | undefined;
  private readonly zip: ZipArchive;
  private readonly folder: string;
  private readonly bigEndian: boolean;

  constructor(path: string, options: TorchFileOptions = {}) {
    this.path = path;
    const magic = fileMagic(path);
    if (isLegacyTorch(magic)) {
      throw new CheckpointError(
        `${path}: a legacy torch.save file (the pickle format of torch < 1.6), which cannot be read without running its pickle. ` +
          `Re-save it with torch >= 1.6 (torch.save(torch.load(path, weights_only=True), new_path)), or ${CONVERT_ADVICE.charAt(0).toLowerCase()}${CONVERT_ADVICE.slice(1)}`,
      );
    }
    if (!isZip(magic)) {
      throw new CheckpointError(
        `${path}: not a torch.save archive (a zip starting 'PK'; this file starts with bytes ${[...magic].map((b) => b.toString(16).padStart(2, '0')).join(' ') || '(none: it is empty)'}). ` +
          `The file is corrupt, truncated, or in another format; re-download it.`,
      );
    }
    this.zip = new ZipArchive(path);
    try {
      const names = [...this.zip.entries.keys()];
      if (names.some((n) => /^[^/]+\/constants\.pkl$/.test(n) || /^[^/]+\/code\//.test(n))) {
        throw new CheckpointError(`${path}: a TorchScript archive (torch.jit.save), not a torch.save state dict; it holds code, not just weights. ${CONVERT_ADVICE}`);
      }
      const pkls = names.filter((n) => n === 'data.pkl' || /^[^/]+\/data\.pkl$/.test(n));
      if (pkls.length !== 1) {
        throw new CheckpointError(`${path}: ${pkls.length ? 'several' : 'no'} data.pkl in the zip archive (found ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}); this is not a torch.save archive.`);
      }
      const pkl = pkls[0]!;
      this.folder = pkl.slice(0, pkl.length - 'data.pkl'.length);
      const order = this.zip.entry(`${this.folder}byteorder`) ? this.zip.read(`${this.folder}byteorder`).toString('latin1').trim() : 'little';
      if (order !== 'little' && order !== 'big') throw new CheckpointError(`${path}: byteorder '${order}' is neither 'little' nor 'big'; the file is corrupt.`);
      this.bigEndian = order === 'big';
      const top = unpickle(this.zip.read(pkl), { file: path, entry: pkl });
      const found = findStateDict(top, path, options.entry);
      this.unwrapped = found.unwrapped;
      this.strippedPrefix = found.strippedPrefix;
      for (const [key, t] of found.tensors) this.check(key, t);
      this.entries = found.tensors;
    } catch (err) {
      this.zip.close();
      throw err;
    }
  }

  private storageEntry(t: TensorRef): string {
    return `${this.folder}data/${t.storage.key}`;
  }

  /** Every tensor's view lies inside its storage, and the storage inside the archive. */
  private check(key: string, t: TensorRef): void {
    const size = DTYPE_BYTES[t.storage.dtype];
    const name = this.storageEntry(t);
    const e = this.zip.entry(name);
    if (!e) throw new CheckpointError(`${this.path}: tensor '${key}' needs storage '${name}', which the archive lacks; the file is corrupt or truncated.`);
    if (e.size < t.storage.numel * size) {
      throw new CheckpointError(`${this.path}: storage '${name}' has ${e.size} bytes, but ${t.storage.typeName} of ${t.storage.numel} elements needs ${t.storage.numel * size}; the file is corrupt.`);
    }
    if (product(t.shape) === 0) return;
    const last = t.offset + t.shape.reduce((acc, n, i) => acc + (n - 1) * t.stride[i]!, 0);
    if (last >= t.storage.numel) {
      throw new CheckpointError(
        `${this.path}: tensor '${key}' (offset ${t.offset}, shape [${t.shape}], stride [${t.stride}]) reaches element ${last} of a ${t.storage.numel}-element storage; the file is corrupt.`,
      );
    }
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  info(key: string): { dtype: SafetensorsDtype; shape: number[] } {
    const t = this.entries.get(key);
    if (!t) throw new CheckpointError(`${this.path}: no tensor named '${key}' (the file has ${this.entries.size} tensors).`);
    return { dtype: t.storage.dtype, shape: [...t.shape] };
  }

  /**
   * Where one tensor's bytes lie in the file, when they are one little-endian run in a stored
   * (uncompressed) entry, as torch.save writes parameters; null otherwise (read() handles every case).
   */
  location(key: string): { offset: number; length: number } | null {
    const t = this.entries.get(key);
    if (!t || this.bigEndian) return null;
    const e = this.zip.entry(this.storageEntry(t));
    const n = product(t.shape);
    if (!e || e.method !== 0 || n === 0 || !isContiguous(t.shape, t.stride)) return null;
    const size = DTYPE_BYTES[t.storage.dtype];
    return { offset: e.dataOffset + t.offset * size, length: n * size };
  }

  /** One tensor, decoded for compute (floats as float32), contiguous. */
  read(key: string): HostTensor {
    const t = this.entries.get(key);
    if (!t) throw new CheckpointError(`${this.path}: no tensor named '${key}' (the file has ${this.entries.size} tensors).`);
    const dtype = t.storage.dtype;
    const size = DTYPE_BYTES[dtype];
    const shape = [...t.shape];
    const n = product(shape);
    if (n === 0) return decodeTensor(dtype, shape, Buffer.alloc(0), this.path, key);
    const span = t.shape.reduce((acc, d, i) => acc + (d - 1) * t.stride[i]!, 0) + 1;
    if (span * size > MAX_TENSOR_BYTES || n * 4 > MAX_TENSOR_BYTES) {
      throw new CheckpointError(
        `${this.path}: tensor '${key}' ([${shape}], ${span * size} bytes on disk) is larger than the 4 GiB one tensor may take here ` +
          "(Node's Buffer limit); split it into smaller tensors to load it.",
      );
    }
    const bytes = this.zip.readRange(this.storageEntry(t), t.offset * size, span * size);
    if (this.bigEndian) {
      if (size === 2) bytes.swap16();
      else if (size === 4) bytes.swap32();
      else if (size === 8) bytes.swap64();
    }
    const flat = decodeTensor(dtype, [span], bytes, this.path, key);
    if (span === n && isContiguous(shape, t.stride)) return { ...flat, shape };
    const out = new (flat.data.constructor as new (n: number) => typeof flat.data)(n);
    return { ...flat, shape, data: gather(flat.data, shape, t.stride, out) };
  }

  close(): void {
    this.zip.close();
  }
}
