// The restricted unpickler: pickles that would run code are refused by the global they name, and
// nothing they ask for happens (the payloads below would create a file if executed).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RawPickle, torchArchiveWithPickle, writeTorchSave } from '../testing/torch-save.js';
import { CheckpointError } from './errors.js';
import { openCheckpoint } from './reader.js';
import { PyDict, PyTuple, unpickle } from './unpickle.js';

const dir = mkdtempSync(join(tmpdir(), 'unpickle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const marker = join(dir, 'pwned');

function binunicode(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return Buffer.concat([Buffer.from([0x58]), len, b]);
}
/** GLOBAL module.name, called with one string argument: `module.name(arg)`. */
function callGlobal(module: string, name: string, arg: string): Buffer {
  return Buffer.concat([Buffer.from(`c${module}\n${name}\n`, 'latin1'), binunicode(arg), Buffer.from([0x85, 0x52])]);
}
/** The same call through protocol 4's STACK_GLOBAL. */
function callStackGlobal(module: string, name: string, arg: string): Buffer {
  return Buffer.concat([binunicode(module), binunicode(name), Buffer.from([0x93]), binunicode(arg), Buffer.from([0x85, 0x52])]);
}
const weight = { shape: [2], data: Float32Array.from([1, 2]) };

function refusal(file: string): string {
  try {
    openCheckpoint(file);
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return (err as Error).message;
  }
  throw new Error(`${file} opened`);
}

describe('restricted unpickler', () => {
  it("refuses a .bin whose pickle calls os.system, naming the file and the global; nothing runs", () => {
    const file = join(dir, 'evil.bin');
    writeTorchSave(file, { 'layer.weight': weight, 'layer.bias': new RawPickle(callGlobal('os', 'system', `touch ${marker}`)) });
    expect(refusal(file)).toBe(
      `${file}: refused global 'os.system' in archive/data.pkl: a weights file holds only tensors; this one wants to run code. Nothing was executed. ` +
        'Convert it to .safetensors from a trusted source (in Python, if you trust where it came from: ' +
        "safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')) and load that file.",
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses builtins.eval through STACK_GLOBAL, the Python 2 name __builtin__.eval, posix.system and INST', () => {
    const cases: [string, Buffer, string][] = [
      ['eval.pt', callStackGlobal('builtins', 'eval', `open('${marker}', 'w')`), 'builtins.eval'],
      ['py2.pt', callGlobal('__builtin__', 'eval', `open('${marker}', 'w')`), 'builtins.eval'],
      ['posix.pt', callGlobal('posix', 'system', `touch ${marker}`), 'posix.system'],
      ['inst.pt', Buffer.concat([Buffer.from([0x28]), binunicode(`touch ${marker}`), Buffer.from('isubprocess\ncall\n', 'latin1')]), 'subprocess.call'],
    ];
    for (const [name, payload, global] of cases) {
      const file = join(dir, name);
      writeTorchSave(file, { w: weight, x: new RawPickle(payload) });
      expect(refusal(file), name).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}: refused global '${global.replace('.', '\\.')}' in archive/data\\.pkl: a weights file holds only tensors`));
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a forbidden global even where a tensor expects its backward hooks', () => {
    // _rebuild_tensor_v2(storage, 0, (2,), (1,), False, <here>): torch's own slot for an OrderedDict.
    const file = join(dir, 'hooks.pt');
    writeTorchSave(file, { w: weight });
    const bytes = readFileSync(file).toString('latin1');
    expect(bytes).toContain('ccollections\nOrderedDict\n');
    // Same length, so the zip's sizes still hold: the hooks' OrderedDict() becomes webbrowser.open_new_tab().
    const swapped = Buffer.from(bytes.replace('ccollections\nOrderedDict\n', 'cwebbrowser\nopen_new_tab\n'), 'latin1');
    writeFileSync(file, swapped);
    expect(refusal(file)).toMatch(/refused global 'webbrowser\.open_new_tab' in archive\/data\.pkl/);
  });

  it('refuses object-building opcodes and calls of allowed names that are not functions', () => {
    const newobj = Buffer.concat([Buffer.from('ccollections\nOrderedDict\n', 'latin1'), Buffer.from([0x29, 0x81])]);
    const file = join(dir, 'newobj.pt');
    writeTorchSave(file, { w: weight, x: new RawPickle(newobj) });
    expect(refusal(file)).toMatch(/refused pickle opcode NEWOBJ in archive\/data\.pkl: it builds arbitrary Python objects/);
    const storageCall = Buffer.concat([Buffer.from('ctorch\nFloatStorage\n', 'latin1'), Buffer.from([0x29, 0x52])]);
    const f2 = join(dir, 'storage-call.pt');
    writeTorchSave(f2, { w: weight, x: new RawPickle(storageCall) });
    expect(refusal(f2)).toMatch(/refused global 'torch\.FloatStorage' in archive\/data\.pkl: a weights file holds only tensors; this one calls it/);
  });

  it('names an unsupported storage dtype as such, not as code', () => {
    const file = join(dir, 'complex.pt');
    const pkl = Buffer.concat([Buffer.from([0x80, 2, 0x7d, 0x28]), binunicode('w'), Buffer.from('ctorch\nComplexFloatStorage\n', 'latin1'), Buffer.from([0x75, 0x2e])]);
    writeFileSync(file, torchArchiveWithPickle(pkl));
    expect(refusal(file)).toMatch(/complex\.pt: archive\/data\.pkl holds a torch\.ComplexFloatStorage, a dtype this reader does not decode/);
  });

  it('reports a pickle cut short, and an opcode it does not know', () => {
    const start = Buffer.from([0x80, 2, 0x7d, 0x28]);
    const f1 = join(dir, 'cut.pt');
    writeFileSync(f1, torchArchiveWithPickle(Buffer.concat([start, binunicode('w').subarray(0, 4)])));
    expect(refusal(f1)).toMatch(/cut\.pt: archive\/data\.pkl: the pickle ends inside an opcode at byte 5 \(needs 4 more bytes\); the file is truncated or corrupt/);
    writeFileSync(f1, torchArchiveWithPickle(Buffer.concat([start, binunicode('w')])));
    expect(refusal(f1)).toMatch(/cut\.pt: archive\/data\.pkl: the pickle ends at byte 10 before its STOP opcode; the file is truncated or corrupt/);
    const f2 = join(dir, 'unknown.pt');
    writeFileSync(f2, torchArchiveWithPickle(Buffer.from([0x80, 2, 0xff, 0x2e])));
    expect(refusal(f2)).toMatch(/unknown pickle opcode 0xff at byte 2/);
  });

  it('builds plain values, OrderedDict state and tensor views as data', () => {
    // {'a': (1, -2, 3.5, None, True, 'x', [b'\x01']), 'b': OrderedDict() with BUILD state}
    const pkl = Buffer.concat([
      Buffer.from([0x80, 2, 0x7d, 0x71, 0, 0x28]),
      binunicode('a'),
      Buffer.from([0x28, 0x4b, 1, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x47, 0x40, 0x0c, 0, 0, 0, 0, 0, 0, 0x4e, 0x88]),
      binunicode('x'),
      Buffer.from([0x5d, 0x43, 1, 1, 0x61, 0x74]),
      binunicode('b'),
      Buffer.from('ccollections\nOrderedDict\n', 'latin1'),
      Buffer.from([0x29, 0x52, 0x7d, 0x62]),
      Buffer.from([0x75, 0x2e]),
    ]);
    const v = unpickle(pkl, { file: 'f', entry: 'data.pkl' }) as PyDict;
    const a = v.items.get('a') as PyTuple;
    expect(a.items.slice(0, 6)).toEqual([1, -2, 3.5, null, true, 'x']);
    expect(Array.from((a.items[6] as Uint8Array[])[0]!)).toEqual([1]);
    const b = v.items.get('b') as PyDict;
    expect(b.ordered).toBe(true);
    expect(b.state).toBeInstanceOf(PyDict);
  });
});
