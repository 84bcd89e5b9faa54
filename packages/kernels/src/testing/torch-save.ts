// Tests only: writes torch.save-format archives from TypeScript, so tests of the checkpoint readers
// (here and in the packages that load weights) need no Python. The pickle uses the opcodes torch's
// own (protocol 2) pickles use; the zip holds stored entries, optionally with zip64 records forced
// on. `raw` values splice hand-written pickle bytes in, for the files a reader must refuse.
import { writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { encodeTensor, type SafetensorsDtype, type WritableTensor } from '../safetensors.js';

/** A tensor to save: its data, optionally as a view (offset, stride) of a named shared storage. */
export interface SaveTensor extends WritableTensor {
  /** Storage name shared by several tensors (their `storageData` must be the same array). */
  storage?: string;
  /** The whole storage's values when this tensor is a view of it. */
  storageData?: WritableTensor['data'];
  offset?: number;
  stride?: number[];
}

/** Pickle bytes spliced in as they are. */
export class RawPickle {
  constructor(readonly bytes: Buffer) {}
}

export class OrderedDictValue {
  constructor(readonly items: Map<string, SaveValue>) {}
}

export type SaveValue = null | boolean | number | string | SaveTensor | RawPickle | OrderedDictValue | SaveValue[] | Map<string, SaveValue> | { [key: string]: SaveValue };

export interface TorchSaveOptions {
  /** The archive's folder name (torch uses the file's stem; default 'archive'). */
  folder?: string;
  /** Write zip64 records even for a small file. */
  zip64?: boolean;
  byteorder?: 'little' | 'big';
  /** Omit the byteorder entry (archives from torch < 1.10). */
  noByteorder?: boolean;
  /** Deflate the entries (torch.save stores them; a re-zipped archive may not, and torch.load still reads it). */
  deflate?: boolean;
}

const STORAGE: Record<string, string> = {
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  F64: 'DoubleStorage',
  I64: 'LongStorage',
  I32: 'IntStorage',
  I16: 'ShortStorage',
  I8: 'CharStorage',
  U8: 'ByteStorage',
  BOOL: 'BoolStorage',
};

function isTensor(v: unknown): v is SaveTensor {
  return typeof v === 'object' && v !== null && 'shape' in v && 'data' in v && ArrayBuffer.isView((v as SaveTensor).data);
}

function contiguousStride(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

class PickleWriter {
  private readonly parts: Buffer[] = [Buffer.from([0x80, 2])];
  readonly storages = new Map<string, { dtype: SafetensorsDtype; bytes: Buffer }>();
  private readonly storageKeys = new Map<unknown, string>();

  constructor(private readonly byteorder: 'little' | 'big') {}

  private op(...bytes: number[]): void {
    this.parts.push(Buffer.from(bytes));
  }
  private text(s: string): void {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    this.parts.push(Buffer.from([0x58]), len, b);
  }
  private int(n: number): void {
    if (Number.isInteger(n) && n >= 0 && n < 256) this.op(0x4b, n);
    else if (Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a;
      b.writeInt32LE(n, 1);
      this.parts.push(b);
    } else if (Number.isInteger(n)) {
      const b = Buffer.alloc(10);
      b[0] = 0x8a;
      b[1] = 8;
      b.writeBigInt64LE(BigInt(n), 2);
      this.parts.push(b);
    } else {
      const b = Buffer.alloc(9);
      b[0] = 0x47;
      b.writeDoubleBE(n, 1);
      this.parts.push(b);
    }
  }
  global(module: string, name: string): void {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
  }
  private tuple(items: (() => void)[]): void {
    this.op(0x28);
    for (const f of items) f();
    this.op(0x74);
  }

  private tensor(t: SaveTensor, key: string): void {
    const { dtype, bytes: encoded } = encodeTensor({ shape: t.storageData ? [t.storageData.length] : t.shape, data: t.storageData ?? t.data, dtype: t.dtype }, key);
    // A copy: encodeTensor may return a view of the caller's array, and big-endian swaps in place.
    const bytes = Buffer.from(encoded);
    const id = t.storage ?? t.storageData ?? t;
    let name = this.storageKeys.get(id);
    if (name === undefined) {
      name = String(this.storageKeys.size);
      this.storageKeys.set(id, name);
      if (this.byteorder === 'big') {
        const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2 }[dtype as string] ?? 1;
        if (size === 2) bytes.swap16();
        if (size === 4) bytes.swap32();
        if (size === 8) bytes.swap64();
      }
      this.storages.set(name, { dtype, bytes });
    }
    const numel = (t.storageData ?? t.data).length;
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.tuple([
      () => {
        this.tuple([() => this.text('storage'), () => this.global('torch', STORAGE[dtype]!), () => this.text(name), () => this.text('cpu'), () => this.int(numel)]);
        this.op(0x51); // BINPERSID
      },
      () => this.int(t.offset ?? 0),
      () => this.tuple(t.shape.map((d) => () => this.int(d))),
      () => this.tuple((t.stride ?? contiguousStride(t.shape)).map((d) => () => this.int(d))),
      () => this.op(0x89), // requires_grad False
      () => {
        this.global('collections', 'OrderedDict');
        this.op(0x29, 0x52); // () REDUCE
      },
    ]);
    this.op(0x52);
  }

  value(v: SaveValue, key = ''): void {
    if (v === null) this.op(0x4e);
    else if (v === true) this.op(0x88);
    else if (v === false) this.op(0x89);
    else if (typeof v === 'number') this.int(v);
    else if (typeof v === 'string') this.text(v);
    else if (v instanceof RawPickle) this.parts.push(v.bytes);
    else if (isTensor(v)) this.tensor(v, key);
    else if (Array.isArray(v)) {
      this.op(0x5d, 0x28);
      v.forEach((x, i) => this.value(x, `${key}[${i}]`));
      this.op(0x65);
    } else {
      const ordered = v instanceof OrderedDictValue;
      const items = ordered ? v.items : v instanceof Map ? v : new Map(Object.entries(v));
      if (ordered) {
        this.global('collections', 'OrderedDict');
        this.op(0x29, 0x52);
      } else this.op(0x7d);
      if (items.size) {
        this.op(0x28);
        for (const [k, x] of items) {
          this.text(k);
          this.value(x, k);
        }
        this.op(0x75);
      }
    }
  }

  finish(): Buffer {
    this.op(0x2e);
    return Buffer.concat(this.parts);
  }
}

interface ZipItem {
  name: string;
  data: Buffer;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip of stored entries (what torch.save writes), or deflated ones; zip64 records when asked. */
export function zipStored(items: ZipItem[], zip64 = false, deflate = false): Buffer {
  const out: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, data: content } of items) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(content);
    const data = deflate ? deflateRawSync(content) : content;
    const method = deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(zip64 ? 45 : 20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(content.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    out.push(local, nameBytes, data);
    const extra = zip64 ? Buffer.alloc(4 + 24) : Buffer.alloc(0);
    if (zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(content.length), 4);
      extra.writeBigUInt64LE(BigInt(data.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(zip64 ? 45 : 20, 4);
    c.writeUInt16LE(zip64 ? 45 : 20, 6);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(zip64 ? 0xffffffff : data.length, 20);
    c.writeUInt32LE(zip64 ? 0xffffffff : content.length, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    central.push(c, nameBytes, extra);
    offset += 30 + nameBytes.length + data.length;
  }
  const cd = Buffer.concat(central);
  const cdOffset = offset;
  out.push(cd);
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(items.length), 24);
    rec.writeBigUInt64LE(BigInt(items.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    out.push(rec, loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : items.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : items.length, 10);
  end.writeUInt32LE(zip64 ? 0xffffffff : cd.length, 12);
  end.writeUInt32LE(zip64 ? 0xffffffff : cdOffset, 16);
  out.push(end);
  return Buffer.concat(out);
}

/** The bytes of a torch.save archive holding `value` (a state dict, or anything the writer takes). */
export function torchSaveBytes(value: SaveValue, options: TorchSaveOptions = {}): Buffer {
  const folder = options.folder ?? 'archive';
  const w = new PickleWriter(options.byteorder ?? 'little');
  w.value(value);
  const pkl = w.finish();
  const items: ZipItem[] = [{ name: `${folder}/data.pkl`, data: pkl }];
  if (!options.noByteorder) items.push({ name: `${folder}/byteorder`, data: Buffer.from(options.byteorder ?? 'little') });
  for (const [name, s] of w.storages) items.push({ name: `${folder}/data/${name}`, data: s.bytes });
  items.push({ name: `${folder}/version`, data: Buffer.from('3\n') });
  return zipStored(items, options.zip64, options.deflate);
}

/** The bytes of a torch.save archive whose data.pkl is `pickle` as given (for refusal tests). */
export function torchArchiveWithPickle(pickle: Buffer, folder = 'archive'): Buffer {
  return zipStored([
    { name: `${folder}/data.pkl`, data: pickle },
    { name: `${folder}/byteorder`, data: Buffer.from('little') },
    { name: `${folder}/version`, data: Buffer.from('3\n') },
  ]);
}

/** Writes a state dict (or a wrapper such as { ema: stateDict }) as a torch.save file. */
export function writeTorchSave(path: string, value: SaveValue, options: TorchSaveOptions = {}): void {
  writeFileSync(path, torchSaveBytes(value, options));
}
