// A restricted unpickler for the data.pkl of a torch.save archive. It interprets pickle opcodes
// (protocols 0-5) as data only: nothing is imported or called. It knows the handful of names a
// state dict's pickle uses (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and its
// parameter variants, the typed storage classes) and builds plain values for them; any other
// global, any object construction (INST, OBJ, NEWOBJ, extension codes, out-of-band buffers) and
// any call of something it does not know is refused with an error that names the file and the
// global. Tensors come out as descriptions (storage key, dtype, offset, shape, stride); their data
// is read later, one tensor at a time, from the archive.
import type { SafetensorsDtype } from '../safetensors.js';
import { CONVERT_ADVICE, CheckpointError } from './errors.js';

/** A Python tuple (arrays stand for lists). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

export type PyKey = string | number | boolean | bigint | null;

/** A dict or collections.OrderedDict; keys in insertion order. */
export class PyDict {
  readonly items = new Map<PyKey, PyValue>();
  /** State set by BUILD (an OrderedDict's `_metadata`); kept, never interpreted. */
  state: PyValue | undefined;
  constructor(readonly ordered: boolean) {}
}

export class PySet {
  constructor(
    readonly items: PyValue[],
    readonly frozen: boolean,
  ) {}
}

/** A global this unpickler allows, as a value (called later by REDUCE, or named in a storage id). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A storage named by a persistent id: ('storage', torch.<T>Storage, key, location, numel). */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: SafetensorsDtype,
    readonly typeName: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}

/** A tensor as torch.save describes it: a view of a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyGlobal | TensorRef | StorageRef;

/** The storage classes of torch's typed storages and the dtype each holds. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, SafetensorsDtype>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const ORDERED_DICT = 'collections.OrderedDict';
const REBUILD_TENSOR_V2 = 'torch._utils._rebuild_tensor_v2';
const REBUILD_TENSOR = 'torch._utils._rebuild_tensor';
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter';
const REBUILD_PARAMETER_WITH_STATE = 'torch._utils._rebuild_parameter_with_state';
const CALLABLE = new Set([ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_TENSOR, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE]);

/** Python 2 module names that protocol-2 pickles may carry (pickle's fix_imports). */
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

export interface UnpickleOptions {
  /** The file, for messages. */
  file: string;
  /** The archive entry being read (e.g. 'archive/data.pkl'), for messages. */
  entry: string;
}

/** Every opcode this unpickler refuses because it constructs objects or runs code. */
const REFUSED_OPS: Record<number, string> = {
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x6f: 'OBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Interprets `bytes` (a pickle) as a state dict's data; see the file comment for what is refused. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PyValue {
  return new Unpickler(bytes, options).run();
}

class Unpickler {
  private pos = 0;
  private readonly stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly storages = new Map<string, StorageRef>();
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly bytes: Uint8Array,
    private readonly o: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(what: string): never {
    throw new CheckpointError(`${this.o.file}: ${this.o.entry}: ${what}`);
  }

  private refuse(global: string, why = 'wants to run code'): never {
    throw new CheckpointError(
      `${this.o.file}: refused global '${global}' in ${this.o.entry}: a weights file holds only tensors; this one ${why}. ` +
        `Nothing was executed. ${CONVERT_ADVICE}`,
    );
  }

  private refuseOp(op: string): never {
    throw new CheckpointError(
      `${this.o.file}: refused pickle opcode ${op} in ${this.o.entry}: it builds arbitrary Python objects, and a weights file holds only tensors. ` +
        `Nothing was executed. ${CONVERT_ADVICE}`,
    );
  }

  private need(n: number): number {
    if (this.pos + n > this.bytes.length) this.fail(`the pickle ends inside an opcode at byte ${this.pos} (needs ${n} more bytes); the file is truncated or corrupt.`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private u8(): number {
    return this.bytes[this.need(1)]!;
  }
  private u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  private u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  private u64(): number {
    const v = this.view.getBigUint64(this.need(8), true);
    if (v > BigInt(this.bytes.length)) this.fail(`a length of ${v} bytes at byte ${this.pos - 8} is longer than the pickle; the file is corrupt.`);
    return Number(v);
  }
  private take(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
  private str(n: number): string {
    try {
      return this.utf8.decode(this.take(n));
    } catch {
      this.fail(`a string at byte ${this.pos - n} is not valid UTF-8; the file is corrupt.`);
    }
  }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail(`the pickle ends inside a text opcode at byte ${this.pos}; the file is truncated or corrupt.`);
    const s = Buffer.from(this.bytes.subarray(this.pos, end)).toString('latin1');
    this.pos = end + 1;
    return s;
  }

  private push(v: PyValue): void {
    this.stack.push(v);
  }
  private pop(): PyValue {
    if (this.stack.length === 0 || (this.marks.length && this.stack.length <= this.marks[this.marks.length - 1]!)) this.fail(`stack underflow at byte ${this.pos}; the pickle is corrupt.`);
    return this.stack.pop()!;
  }
  private top(): PyValue {
    if (this.stack.length === 0 || (this.marks.length && this.stack.length <= this.marks[this.marks.length - 1]!)) this.fail(`empty stack at byte ${this.pos}; the pickle is corrupt.`);
    return this.stack[this.stack.length - 1]!;
  }
  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail(`no mark to pop at byte ${this.pos}; the pickle is corrupt.`);
    return this.stack.splice(m);
  }

  private global(module: string, name: string): PyGlobal {
    const mod = PY2_MODULES[module] ?? module;
    const qualified = `${mod}.${name}`;
    if (CALLABLE.has(qualified)) return new PyGlobal(mod, name);
    if (mod === 'torch' && name.endsWith('Storage')) {
      if (Object.hasOwn(TORCH_STORAGE_DTYPES, name)) return new PyGlobal(mod, name);
      throw new CheckpointError(
        `${this.o.file}: ${this.o.entry} holds a torch.${name}, a dtype this reader does not decode (it reads float, half, bfloat16, double, ` +
          `long, int, short, char, byte and bool storages). Convert the weights to float32, float16 or bfloat16 and save them as .safetensors.`,
      );
    }
    this.refuse(qualified);
  }

  private persistent(pid: PyValue): StorageRef {
    const t = pid instanceof PyTuple ? pid.items : null;
    if (!t || t[0] !== 'storage' || t.length !== 5) this.fail(`persistent id ${describe(pid)} is not a torch storage ('storage', type, key, location, numel); this is not a torch.save archive.`);
    const [, type, key, location, numel] = t as [string, PyValue, PyValue, PyValue, PyValue];
    if (!(type instanceof PyGlobal) || !Object.hasOwn(TORCH_STORAGE_DTYPES, type.name)) this.fail(`storage type ${describe(type)} is not a torch storage class.`);
    if (typeof key !== 'string' || typeof location !== 'string' || typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0) {
      this.fail(`malformed storage id ${describe(pid)}.`);
    }
    const dtype = TORCH_STORAGE_DTYPES[type.name]!;
    const seen = this.storages.get(key);
    if (seen) {
      if (seen.dtype !== dtype) this.fail(`storage '${key}' is named both as ${seen.typeName} and torch.${type.name}; the file is corrupt.`);
      return seen;
    }
    const ref = new StorageRef(key, dtype, `torch.${type.name}`, location, numel);
    this.storages.set(key, ref);
    return ref;
  }

  private ints(v: PyValue, what: string): number[] {
    const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
    if (!items || items.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0)) this.fail(`${what} ${describe(v)} is not a tuple of non-negative integers.`);
    return items as number[];
  }

  private tensor(fn: string, args: PyValue[]): TensorRef {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) this.fail(`${fn} is given ${describe(storage ?? null)} instead of a storage.`);
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) this.fail(`${fn} is given storage offset ${describe(offset ?? null)}.`);
    const shape = this.ints(size ?? null, `${fn}: size`);
    const strides = this.ints(stride ?? null, `${fn}: stride`);
    if (shape.length !== strides.length) this.fail(`${fn}: size [${shape}] and stride [${strides}] differ in length.`);
    return new TensorRef(storage, offset, shape, strides);
  }

  private call(fn: PyValue, args: PyValue): PyValue {
    if (!(fn instanceof PyGlobal)) this.fail(`REDUCE applied to ${describe(fn)}, which is not a callable; the pickle is corrupt.`);
    const a = args instanceof PyTuple ? args.items : null;
    if (!a) this.fail(`REDUCE of ${fn.qualified} with arguments ${describe(args)} (not a tuple).`);
    switch (fn.qualified) {
      case ORDERED_DICT: {
        const d = new PyDict(true);
        if (a.length === 0) return d;
        const pairs = a[0];
        if (a.length !== 1 || !Array.isArray(pairs)) this.fail(`OrderedDict(${describe(args)}): expected no argument or a list of pairs.`);
        for (const p of pairs) {
          const kv = p instanceof PyTuple ? p.items : Array.isArray(p) ? p : null;
          if (!kv || kv.length !== 2) this.fail(`OrderedDict item ${describe(p)} is not a (key, value) pair.`);
          d.items.set(this.key(kv[0]!), kv[1]!);
        }
        return d;
      }
      case REBUILD_TENSOR_V2:
        if (a.length < 6 || a.length > 7) this.fail(`${fn.qualified} takes 6 or 7 arguments, got ${a.length}.`);
        return this.tensor(fn.qualified, a);
      case REBUILD_TENSOR:
        if (a.length !== 4) this.fail(`${fn.qualified} takes 4 arguments, got ${a.length}.`);
        return this.tensor(fn.qualified, a);
      case REBUILD_PARAMETER:
      case REBUILD_PARAMETER_WITH_STATE: {
        if (a.length !== (fn.qualified === REBUILD_PARAMETER ? 3 : 4)) this.fail(`${fn.qualified}: wrong number of arguments (${a.length}).`);
        if (!(a[0] instanceof TensorRef)) this.fail(`${fn.qualified} is given ${describe(a[0]!)} instead of a tensor.`);
        return a[0];
      }
      default:
        // Storage classes are allowed as names inside storage ids, never as calls.
        this.refuse(fn.qualified, 'calls it');
    }
  }

  private key(k: PyValue): PyKey {
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean' || typeof k === 'bigint') return k;
    // Tuple keys (rare in weights files) are kept under their printed form.
    return describe(k);
  }

  private setItems(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyDict)) this.fail(`SETITEM(S) on ${describe(target)}, which is not a dict; the pickle is corrupt.`);
    if (items.length % 2) this.fail(`SETITEMS with an odd number of items; the pickle is corrupt.`);
    for (let i = 0; i < items.length; i += 2) target.items.set(this.key(items[i]!), items[i + 1]!);
  }

  private append(target: PyValue, items: PyValue[]): void {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof PySet && !target.frozen) target.items.push(...items);
    else this.fail(`APPEND(S)/ADDITEMS on ${describe(target)}, which is not a list or set; the pickle is corrupt.`);
  }

  private int(text: string): PyValue {
    const t = text.endsWith('L') ? text.slice(0, -1) : text;
    if (t === '00') return false;
    if (t === '01') return true;
    if (!/^[-+]?\d+$/.test(t)) this.fail(`'${text}' is not an integer.`);
    const b = BigInt(t);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }

  private long(n: number): PyValue {
    const raw = this.take(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]!);
    if (raw[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private memoGet(i: number): PyValue {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} is read before it is written; the pickle is corrupt.`);
    return this.memo.get(i)!;
  }

  run(): PyValue {
    for (;;) {
      const at = this.pos;
      if (at >= this.bytes.length) this.fail(`the pickle ends at byte ${at} before its STOP opcode; the file is truncated or corrupt.`);
      const op = this.u8();
      switch (op) {
        case 0x80: // PROTO
          if (this.u8() > 5) this.fail(`pickle protocol ${this.bytes[at + 1]} is newer than 5.`);
          break;
        case 0x95: // FRAME
          this.need(8);
          break;
        case 0x2e: // STOP
          if (this.marks.length) this.fail(`the pickle stops inside a mark; it is corrupt.`);
          return this.pop();
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          if (this.marks.length && this.stack.length === this.marks[this.marks.length - 1]) this.marks.pop();
          else this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;
        // ---- constants
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x49: // INT (text)
          this.push(this.int(this.line()));
          break;
        case 0x4c: // LONG (text)
          this.push(this.int(this.line()));
          break;
        case 0x4a: // BININT
          this.push(this.view.getInt32(this.need(4), true));
          break;
        case 0x4b: // BININT1
          this.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.push(this.u16());
          break;
        case 0x8a: // LONG1
          this.push(this.long(this.u8()));
          break;
        case 0x8b: {
          // LONG4
          const n = this.view.getInt32(this.need(4), true);
          if (n < 0 || n > this.bytes.length) this.fail(`LONG4 of ${n} bytes at byte ${at}; the pickle is corrupt.`);
          this.push(this.long(n));
          break;
        }
        case 0x46: {
          // FLOAT (text)
          const s = this.line();
          const v = Number(s);
          if (Number.isNaN(v) && !/nan/i.test(s)) this.fail(`'${s}' is not a float.`);
          this.push(v);
          break;
        }
        case 0x47: // BINFLOAT (big-endian double)
          this.push(this.view.getFloat64(this.need(8), false));
          break;
        // ---- strings and bytes
        case 0x58: // BINUNICODE
          this.push(this.str(this.u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(this.str(this.u8()));
          break;
        case 0x8d: // BINUNICODE8
          this.push(this.str(this.u64()));
          break;
        case 0x56: // UNICODE (raw-unicode-escape text)
          this.push(this.line());
          break;
        case 0x53: {
          // STRING (quoted repr)
          const s = this.line().trim();
          this.push(s.length >= 2 && (s[0] === "'" || s[0] === '"') ? s.slice(1, -1) : s);
          break;
        }
        case 0x54: // BINSTRING
          this.push(Buffer.from(this.take(this.u32())).toString('latin1'));
          break;
        case 0x55: // SHORT_BINSTRING
          this.push(Buffer.from(this.take(this.u8())).toString('latin1'));
          break;
        case 0x42: // BINBYTES
          this.push(this.take(this.u32()).slice());
          break;
        case 0x43: // SHORT_BINBYTES
          this.push(this.take(this.u8()).slice());
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.push(this.take(this.u64()).slice());
          break;
        // ---- containers
        case 0x7d: // EMPTY_DICT
          this.push(new PyDict(false));
          break;
        case 0x64: {
          // DICT
          const d = new PyDict(false);
          this.setItems(d, this.popMark());
          this.push(d);
          break;
        }
        case 0x5d: // EMPTY_LIST
          this.push([]);
          break;
        case 0x6c: // LIST
          this.push(this.popMark());
          break;
        case 0x29: // EMPTY_TUPLE
          this.push(new PyTuple([]));
          break;
        case 0x74: // TUPLE
          this.push(new PyTuple(this.popMark()));
          break;
        case 0x85: // TUPLE1
          this.push(new PyTuple([this.pop()]));
          break;
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          this.push(new PyTuple([this.pop(), b]));
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          this.push(new PyTuple([this.pop(), b, c]));
          break;
        }
        case 0x8f: // EMPTY_SET
          this.push(new PySet([], false));
          break;
        case 0x91: // FROZENSET
          this.push(new PySet(this.popMark(), true));
          break;
        case 0x61: {
          // APPEND
          const v = this.pop();
          this.append(this.top(), [v]);
          break;
        }
        case 0x65: // APPENDS
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        // ---- memo
        case 0x67: // GET
          this.push(this.memoGet(Number(this.int(this.line()))));
          break;
        case 0x68: // BINGET
          this.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          this.push(this.memoGet(this.u32()));
          break;
        case 0x70: // PUT
          this.memo.set(Number(this.int(this.line())), this.top());
          break;
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        // ---- names, calls, objects
        case 0x63: {
          // GLOBAL 'module\nname\n'
          const module = this.line();
          const name = this.line();
          this.push(this.global(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail(`STACK_GLOBAL of ${describe(module)}, ${describe(name)}; the pickle is corrupt.`);
          this.push(this.global(module, name));
          break;
        }
        case 0x69: {
          // INST 'module\nname\n': builds an instance of any class; name it in the refusal.
          const module = this.line();
          const name = this.line();
          this.refuse(`${PY2_MODULES[module] ?? module}.${name}`);
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.push(this.call(fn, args));
          break;
        }
        case 0x62: {
          // BUILD: only an OrderedDict's attribute state (`_metadata`) is accepted, and kept as data.
          const state = this.pop();
          const target = this.top();
          if (!(target instanceof PyDict)) this.fail(`BUILD on ${describe(target)}: only a dict's state is accepted in a weights file.`);
          target.state = state;
          break;
        }
        case 0x51: // BINPERSID
          this.push(this.persistent(this.pop()));
          break;
        case 0x50: // PERSID (text id): torch never writes one
          this.fail(`a text persistent id '${this.line()}' at byte ${at}; this is not a torch.save archive.`);
          break;
        default: {
          const refused = REFUSED_OPS[op];
          if (refused) this.refuseOp(refused);
          this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}; the file is corrupt or not a torch.save archive.`);
        }
      }
    }
  }
}

/** A short printed form of a value, for messages. */
export function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (Array.isArray(v)) return `[${v.slice(0, 5).map(describe).join(', ')}${v.length > 5 ? ', ...' : ''}]`;
  if (v instanceof PyTuple) return `(${v.items.slice(0, 5).map(describe).join(', ')}${v.items.length > 5 ? ', ...' : v.items.length === 1 ? ',' : ''})`;
  if (v instanceof PyDict) return `${v.ordered ? 'OrderedDict' : 'dict'} of ${v.items.size}`;
  if (v instanceof PySet) return `${v.frozen ? 'frozenset' : 'set'} of ${v.items.length}`;
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof TensorRef) return `tensor ${v.storage.dtype} [${v.shape}]`;
  return `storage '${v.key}'`;
}
