// safetensors: u64-LE header length N, N bytes of JSON, then raw little-endian data.
// Tensors are read one at a time with positioned reads, so files over 2 GiB work and
// memory holds one tensor at a time. Writes go to a temporary name and are renamed.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { decodeFloats, makeHalfTable } from './float-decode.js';
import { withAtomicFileSync, type AtomicWriteOptions } from './files.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'BOOL' | 'F64' | 'U8' | 'I8' | 'I16';

export interface TensorEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

/** A tensor read from disk, decoded for compute: floats become Float32Array, ints Int32Array, bools Uint8Array. */
export interface HostTensor {
  dtype: 'float32' | 'int32' | 'bool';
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
  /** The dtype on disk. */
  stored: SafetensorsDtype;
  /** Set by the decoder when it saw every value: whether none is NaN or +-Inf (saves a second pass over the data). */
  finite?: boolean;
}

/** Bytes per element of each stored dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

let f16Table: Float32Array | undefined;
function halfTable(): Float32Array {
  return (f16Table ??= makeHalfTable());
}

function floatToHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Decodes little-endian tensor bytes of a stored dtype for compute (any checkpoint format). */
export function decodeTensor(stored: SafetensorsDtype, shape: number[], bytes: Buffer, file: string, key: string): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  // A buffer that owns its whole ArrayBuffer (every read here allocates one) is used as is; a slice is copied.
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const ab = (whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) as ArrayBuffer;
  switch (stored) {
    case 'F32':
    case 'BF16':
    case 'F16':
      return { dtype: 'float32', shape, stored, ...decodeFloats(stored, ab, n, stored === 'F16' ? halfTable() : null) };
    case 'F64': {
      const data = Float32Array.from(new Float64Array(ab));
      return { dtype: 'float32', shape, data, stored, finite: decodeFloats('F32', data.buffer, n, null).finite };
    }
    case 'I32':
      return { dtype: 'int32', shape, data: new Int32Array(ab), stored };
    case 'I64': {
      const big = new BigInt64Array(ab);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = big[i]!;
        if (v > 2147483647n || v < -2147483648n) {
          throw new SafetensorsError(`${file}: tensor '${key}' (I64) holds ${v}, outside int32; such values cannot be used as tensors here.`);
        }
        out[i] = Number(v);
      }
      return { dtype: 'int32', shape, data: out, stored };
    }
    case 'I16':
      return { dtype: 'int32', shape, data: Int32Array.from(new Int16Array(ab)), stored };
    case 'I8':
      return { dtype: 'int32', shape, data: Int32Array.from(new Int8Array(ab)), stored };
    case 'U8':
      return { dtype: 'int32', shape, data: Int32Array.from(new Uint8Array(ab)), stored };
    case 'BOOL':
      return { dtype: 'bool', shape, data: new Uint8Array(ab), stored };
  }
}

/** An open safetensors file; read tensors by name. Call `close()` when done. */
export class SafetensorsFile {
  readonly path: string;
  readonly entries: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Record<string, string>;
  private fd: number;
  private dataStart: number;

  constructor(path: string) {
    this.path = path;
    if (!existsSync(path)) throw new SafetensorsError(`${path}: file not found; pass the path of a .safetensors file.`);
    this.fd = openSync(path, 'r');
    try {
      const size = fstatSync(this.fd).size;
      if (size < 8) throw new SafetensorsError(`${path}: ${size} bytes is too short for a safetensors file (needs an 8-byte header length).`);
      const lenBuf = Buffer.alloc(8);
      readSync(this.fd, lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen <= 0 || 8 + headerLen > size || headerLen > 100 * 1024 * 1024) {
        throw new SafetensorsError(`${path}: header length ${headerLen} does not fit a ${size}-byte file; the file is not safetensors or is truncated.`);
      }
      const header = Buffer.alloc(headerLen);
      readSync(this.fd, header, 0, headerLen, 8);
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(header.toString('utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new SafetensorsError(`${path}: header is not valid JSON (${(err as Error).message}); the file is corrupt.`);
      }
      this.dataStart = 8 + headerLen;
      const entries = new Map<string, TensorEntry>();
      let meta: Record<string, string> = {};
      for (const [key, value] of Object.entries(json)) {
        if (key === '__metadata__') {
          meta = (value ?? {}) as Record<string, string>;
          continue;
        }
        const e = value as TensorEntry;
        if (!e || !Object.hasOwn(DTYPE_BYTES, e.dtype) || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
          throw new SafetensorsError(`${path}: tensor '${key}' has a malformed header entry ${JSON.stringify(value)}; expected {dtype, shape, data_offsets}.`);
        }
        const n = e.shape.reduce((a, b) => a * b, 1);
        const [s, t] = e.data_offsets;
        if (t - s !== n * DTYPE_BYTES[e.dtype]) {
          throw new SafetensorsError(`${path}: tensor '${key}' (${e.dtype} [${e.shape}]) spans ${t - s} bytes, expected ${n * DTYPE_BYTES[e.dtype]}; the file is corrupt.`);
        }
        if (this.dataStart + t > size) {
          throw new SafetensorsError(`${path}: tensor '${key}' ends at byte ${this.dataStart + t} but the file has ${size}; the file is truncated (re-copy or re-save it).`);
        }
        entries.set(key, e);
      }
      this.entries = entries;
      this.metadata = meta;
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  info(key: string): TensorEntry {
    const e = this.entries.get(key);
    if (!e) throw new SafetensorsError(`${this.path}: no tensor named '${key}' (the file has ${this.entries.size} tensors).`);
    return e;
  }

  /** Where one tensor's bytes lie in the file. */
  location(key: string): { offset: number; length: number } {
    const [s, t] = this.info(key).data_offsets;
    return { offset: this.dataStart + s, length: t - s };
  }

  /** Raw bytes of one tensor as stored. */
  readBytes(key: string): Buffer {
    const e = this.info(key);
    const [s, t] = e.data_offsets;
    const buf = Buffer.alloc(t - s);
    let done = 0;
    while (done < buf.length) {
      const got = readSync(this.fd, buf, done, Math.min(buf.length - done, 1 << 30), this.dataStart + s + done);
      if (got === 0) throw new SafetensorsError(`${this.path}: unexpected end of file reading '${key}'.`);
      done += got;
    }
    return buf;
  }

  read(key: string): HostTensor {
    const e = this.info(key);
    return decodeTensor(e.dtype, e.shape, this.readBytes(key), this.path, key);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Reads every tensor of one file (or of a sharded checkpoint via its `.index.json`). */
export function readSafetensors(path: string, filter?: (key: string) => boolean): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const file of checkpointFiles(path)) {
    const f = new SafetensorsFile(file);
    try {
      for (const key of f.keys()) if (!filter || filter(key)) out.set(key, f.read(key));
    } finally {
      f.close();
    }
  }
  return out;
}

/** Resolves a checkpoint path: a file, an `*.safetensors.index.json`, or a folder holding either. */
export function checkpointFiles(path: string): string[] {
  if (path.endsWith('.index.json')) {
    if (!existsSync(path)) throw new SafetensorsError(`${path}: index file not found.`);
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new SafetensorsError(`${path}: not valid JSON (${(err as Error).message}).`);
    }
    if (!index.weight_map) throw new SafetensorsError(`${path}: missing 'weight_map' (expected {key: shard file}).`);
    const files = [...new Set(Object.values(index.weight_map))].map((f) => join(dirname(path), f));
    for (const f of files) if (!existsSync(f)) throw new SafetensorsError(`${path}: shard '${basename(f)}' listed in weight_map is missing.`);
    return files;
  }
  if (existsSync(path) && fstatSafe(path)) {
    for (const name of ['model.safetensors.index.json', 'model.safetensors']) {
      const p = join(path, name);
      if (existsSync(p)) return checkpointFiles(p);
    }
    throw new SafetensorsError(`${path}: folder has neither model.safetensors nor model.safetensors.index.json.`);
  }
  if (!existsSync(path)) throw new SafetensorsError(`${path}: file not found; pass a .safetensors file, an index.json or a folder.`);
  return [path];
}

function fstatSafe(p: string): boolean {
  try {
    const fd = openSync(p, 'r');
    const isDir = fstatSync(fd).isDirectory();
    closeSync(fd);
    return isDir;
  } catch {
    return false;
  }
}

export interface WritableTensor {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array | BigInt64Array;
  /** On-disk dtype; defaults from the array type (Float32Array -> F32, Int32Array -> I32, Uint8Array -> BOOL, BigInt64Array -> I64). */
  dtype?: SafetensorsDtype;
}

/** Encodes a tensor as little-endian bytes of its on-disk dtype (any checkpoint format). */
export function encodeTensor(t: WritableTensor, key: string): { dtype: SafetensorsDtype; bytes: Buffer } {
  const dtype: SafetensorsDtype =
    t.dtype ?? (t.data instanceof Float32Array ? 'F32' : t.data instanceof Int32Array ? 'I32' : t.data instanceof BigInt64Array ? 'I64' : 'BOOL');
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new SafetensorsError(`tensor '${key}': ${t.data.length} values do not fill shape [${t.shape}] (${n}).`);
  const view = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  switch (dtype) {
    case 'F32':
      return { dtype, bytes: view(t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Int32Array)) };
    case 'BF16': {
      const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Int32Array);
      const u32 = new Uint32Array(f.buffer, f.byteOffset, f.length);
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        const x = u32[i]!;
        out[i] = (x & 0x7f800000) === 0x7f800000 && x & 0x7fffff ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
      }
      return { dtype, bytes: view(out) };
    }
    case 'F16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = floatToHalf(Number(t.data[i]));
      return { dtype, bytes: view(out) };
    }
    case 'I32':
      return { dtype, bytes: view(t.data instanceof Int32Array ? t.data : Int32Array.from(t.data as Float32Array)) };
    case 'I64':
      return {
        dtype,
        bytes: view(t.data instanceof BigInt64Array ? t.data : BigInt64Array.from(Array.from(t.data as Int32Array, (v) => BigInt(Math.trunc(v))))),
      };
    case 'BOOL':
      return { dtype, bytes: view(Uint8Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0))) };
    default:
      throw new SafetensorsError(`tensor '${key}': writing dtype ${dtype} is not supported (use F32, F16, BF16, I32, I64 or BOOL).`);
  }
}

/**
 * Writes tensors (in insertion order) to `path` atomically: a temporary file, then rename; a failure
 * (a full disk) removes the temporary file and names `path`. `overwrite: false` keeps an existing file.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, WritableTensor> | Record<string, WritableTensor>,
  metadata?: Record<string, string>,
  options: AtomicWriteOptions = {},
): void {
  const items = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [key, t] of items) {
    const { dtype, bytes } = encodeTensor(t, key);
    header[key] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  const raw = Buffer.from(JSON.stringify(header), 'utf8');
  const headerBytes = Buffer.concat([raw, Buffer.alloc((8 - (raw.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  withAtomicFileSync(
    path,
    (tmp) => {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, len);
        writeSync(fd, headerBytes);
        for (const b of blobs) writeSync(fd, b);
      } finally {
        closeSync(fd);
      }
    },
    options,
  );
}
