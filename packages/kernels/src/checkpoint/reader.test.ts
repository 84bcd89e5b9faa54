// openCheckpoint over weights as published: torch.save files written by torch itself (fixtures made
// by test/fixtures/torch/make_fixtures.py, expected values beside them), HF-style shards of both
// formats, folder resolution, and the index errors that must stop a load before anything is read.
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../safetensors.js';
import { writeTorchSave } from '../testing/torch-save.js';
import { CheckpointError } from './errors.js';
import { openCheckpoint, readCheckpoint } from './reader.js';
import { checkpointShards } from './resolve.js';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'torch');
const fixture = (name: string) => join(fixtures, name);

interface Expected {
  tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
  unwrapped: string | null;
  stripped: string | null;
}
const expected = JSON.parse(readFileSync(fixture('expected.json'), 'utf8')) as Record<string, Expected>;
const dir = mkdtempSync(join(tmpdir(), 'checkpoint-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectFile(name: string): void {
  const want = expected[name]!;
  const ck = openCheckpoint(fixture(name));
  try {
    expect(ck.keys()).toEqual(Object.keys(want.tensors));
    for (const [k, w] of Object.entries(want.tensors)) {
      expect(ck.info(k), k).toEqual({ dtype: w.dtype, shape: w.shape, file: fixture(name) });
      const t = ck.read(k);
      expect(t.shape, k).toEqual(w.shape);
      expect(t.stored, k).toBe(w.dtype);
      expect(t.dtype, k).toBe(w.dtype === 'BOOL' ? 'bool' : /^F|^BF/.test(w.dtype) ? 'float32' : 'int32');
      expect(Array.from(t.data), k).toEqual(w.values.map((v) => (typeof v === 'boolean' ? Number(v) : v)));
    }
    const notes = ck.notes.join('\n');
    if (want.unwrapped) expect(notes).toContain(`took the state dict under '${want.unwrapped}'`);
    if (want.stripped) expect(notes).toContain(`stripped the '${want.stripped}' prefix`);
    if (!want.unwrapped && !want.stripped) expect(ck.notes).toEqual([]);
  } finally {
    ck.close();
  }
}

describe('openCheckpoint: torch.save files written by torch', () => {
  it('reads every storage dtype, a scalar and an empty tensor; floats upcast to float32 exactly', () => {
    expectFile('dtypes.pt');
  });

  it('honours views: transposes, offsets, steps, expands, shared storages, F16/BF16 views and a Parameter', () => {
    expectFile('views.pt');
  });

  it('reads the same values as the safetensors file of the same tensors', () => {
    const a = readCheckpoint(fixture('views.pt'));
    const b = readCheckpoint(fixture('views.safetensors'));
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [k, t] of b) {
      expect(a.get(k)!.shape, k).toEqual(t.shape);
      expect(Array.from(a.get(k)!.data), k).toEqual(Array.from(t.data));
    }
  });

  it("unwraps {'ema': sd} (preferred over 'model'), {'state_dict': sd} and a 'module.' prefix on every key", () => {
    expectFile('wrapped-ema.pt');
    expectFile('wrapped-state-dict.pth');
    expectFile('ddp.pt');
  });

  it('takes a named wrapper entry when asked, and names the keys when it is absent', () => {
    const m = readCheckpoint(fixture('wrapped-ema.pt'), undefined, { entry: 'model' });
    expect(Array.from(m.get('blocks.0.bias')!.data)).toEqual([0, 0]);
    expect(() => openCheckpoint(fixture('wrapped-ema.pt'), { entry: 'teacher' })).toThrow(/wrapped-ema\.pt: has no state dict under 'teacher' \(no such key\); its top-level keys are 'model', 'ema', 'step', 'lr'/);
  });

  it('reads a pickle of protocol 4 (frames, short strings, STACK_GLOBAL, MEMOIZE)', () => {
    expectFile('protocol4.pt');
  });

  it('refuses the legacy (torch < 1.6) format by name', () => {
    expect(() => openCheckpoint(fixture('legacy.pt'))).toThrow(/legacy\.pt: a legacy torch\.save file \(the pickle format of torch < 1\.6\)[\s\S]*Re-save it with torch >= 1\.6/);
  });
});

describe('openCheckpoint: shards and folders', () => {
  it('reads pytorch_model.bin shards behind their index (F16, a tied embedding on one storage) as the safetensors shards of the same model', () => {
    const bin = openCheckpoint(fixture('t5-bin'));
    const st = openCheckpoint(fixture('t5-safetensors'));
    try {
      expect(bin.files.map((f) => f.split('/').pop())).toEqual(['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']);
      expect(bin.source).toBe(`${fixture('t5-bin')} (2 shards)`);
      expect(bin.info('shared.weight')).toMatchObject({ dtype: 'F16', shape: [24, 8] });
      expect(st.info('shared.weight')).toMatchObject({ dtype: 'F32', shape: [24, 8] });
      for (const k of st.keys()) expect(Array.from(bin.read(k).data), k).toEqual(Array.from(st.read(k).data));
      expect(Array.from(bin.read('encoder.embed_tokens.weight').data)).toEqual(Array.from(st.read('shared.weight').data));
    } finally {
      bin.close();
      st.close();
    }
  });

  it('resolves a folder to model.safetensors first, then pytorch_model.bin, and says what a folder lacks', () => {
    const both = join(dir, 'both');
    mkdirSync(both);
    writeSafetensors(join(both, 'model.safetensors'), { a: { shape: [1], data: Float32Array.from([1]) } });
    writeTorchSave(join(both, 'pytorch_model.bin'), { a: { shape: [1], data: Float32Array.from([2]) } });
    expect(checkpointShards(both).files).toEqual([join(both, 'model.safetensors')]);
    expect(readCheckpoint(both).get('a')!.data[0]).toBe(1);
    rmSync(join(both, 'model.safetensors'));
    expect(readCheckpoint(both).get('a')!.data[0]).toBe(2);
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'ema.pt'), '');
    expect(() => openCheckpoint(other)).toThrow(/other: folder holds none of model\.safetensors\.index\.json, model\.safetensors, pytorch_model\.bin\.index\.json, pytorch_model\.bin; it has ema\.pt: pass one of those files\./);
    expect(() => openCheckpoint(join(dir, 'nope.bin'))).toThrow(/nope\.bin: file not found/);
  });

  it('an index naming a missing shard fails naming the index and the shard, before any file is opened', () => {
    const d = join(dir, 'missing-shard');
    cpSync(fixture('t5-bin'), d, { recursive: true });
    rmSync(join(d, 'pytorch_model-00002-of-00002.bin'));
    // The present shard is made unreadable too: the check must come before any shard is opened.
    writeFileSync(join(d, 'pytorch_model-00001-of-00002.bin'), 'not a zip');
    let err: unknown;
    try {
      openCheckpoint(d);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toBe(
      `${join(d, 'pytorch_model.bin.index.json')}: shard 'pytorch_model-00002-of-00002.bin' named in weight_map is missing (looked in ${d}); ` +
        'download or copy every shard the index lists next to it. Nothing was read.',
    );
  });

  it('an index that disagrees with its shards, or shards sharing a key, fail at open', () => {
    const d = join(dir, 'mismatch');
    cpSync(fixture('t5-bin'), d, { recursive: true });
    const indexPath = join(d, 'pytorch_model.bin.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
    index.weight_map['shared.weight'] = 'pytorch_model-00002-of-00002.bin';
    writeFileSync(indexPath, JSON.stringify(index));
    expect(() => openCheckpoint(d)).toThrow(/pytorch_model\.bin\.index\.json: weight_map puts 'shared\.weight' in .*pytorch_model-00002-of-00002\.bin, but it is in .*pytorch_model-00001-of-00002\.bin/);
    const dup = join(dir, 'dup');
    mkdirSync(dup);
    writeTorchSave(join(dup, 'a.bin'), { x: { shape: [1], data: Float32Array.from([1]) } });
    copyFileSync(join(dup, 'a.bin'), join(dup, 'b.bin'));
    writeFileSync(join(dup, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { x: 'a.bin', y: 'b.bin' } }));
    expect(() => openCheckpoint(dup)).toThrow(/tensor 'x' is in both .*a\.bin and .*b\.bin/);
  });

  it('reads a safetensors index whose shards are torch files, keeping the filter of readCheckpoint', () => {
    const d = join(dir, 'mixed');
    mkdirSync(d);
    writeSafetensors(join(d, 'a.safetensors'), { 'a.weight': { shape: [2], data: Float32Array.from([1, 2]), dtype: 'BF16' } });
    writeTorchSave(join(d, 'b.bin'), { 'b.weight': { shape: [2], data: Float32Array.from([3, 4]), dtype: 'F16' } });
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'a.weight': 'a.safetensors', 'b.weight': 'b.bin' } }));
    const all = readCheckpoint(d);
    expect([...all.keys()]).toEqual(['a.weight', 'b.weight']);
    expect(Array.from(all.get('b.weight')!.data)).toEqual([3, 4]);
    expect([...readCheckpoint(d, (k) => k.startsWith('b.')).keys()]).toEqual(['b.weight']);
  });
});
