import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../random.js';
import { writeSafetensors, type HostTensor, type WritableTensor } from '../safetensors.js';
import { RawPickle, writeTorchSave, type SaveTensor } from '../testing/torch-save.js';
import { tf } from '../tf.js';
import { Conv3d } from './conv.js';
import { Linear } from './linear.js';
import { loadModuleWeights } from './load-weights.js';
import { Module, StateDictError } from './module.js';

class Half extends Module {
  readonly proj = this.registerModule('proj', new Linear(3, 2));
  readonly conv = this.registerModule('conv', new Conv3d(2, 4, 3));
}
class Net extends Module {
  readonly encoder = this.registerModule('encoder', new Half());
  readonly decoder = this.registerModule('decoder', new Half());
}

const dir = mkdtempSync(join(tmpdir(), 'load-weights-'));

/** Seeded tensors for every key of `Net` (PyTorch layout), optionally only some. */
function tensors(seed: number, keep: (k: string) => boolean = () => true): Map<string, WritableTensor> {
  const rng = new SeededRandom(seed);
  const out = new Map<string, WritableTensor>();
  for (const [k, shape] of withNet((n) => n.stateDictShapes())) {
    if (keep(k)) out.set(k, { shape, data: rng.normalArray(shape.reduce((a, b) => a * b, 1)) });
  }
  return out;
}

function withNet<T>(f: (n: Net) => T): T {
  const n = new Net();
  try {
    return f(n);
  } finally {
    n.dispose();
  }
}

async function valuesOf(net: Module): Promise<Map<string, number[]>> {
  const sd = net.stateDict();
  const out = new Map<string, number[]>();
  for (const [k, t] of sd) out.set(k, Array.from(await t.data()));
  tf.dispose([...sd.values()]);
  return out;
}

const rounded = (d: ArrayLike<number>) => Array.from(d, (v) => Math.fround(v));

describe('loadModuleWeights', () => {
  it('loads a file, a folder and a sharded index into the module, with a report', async () => {
    const sd = tensors(1);
    const file = join(dir, 'net.safetensors');
    writeSafetensors(file, sd);
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    writeSafetensors(join(folder, 'model.safetensors'), sd);
    const sharded = join(dir, 'sharded');
    mkdirSync(sharded);
    const keys = [...sd.keys()];
    const shards = [keys.slice(0, 3), keys.slice(3)];
    const weightMap: Record<string, string> = {};
    shards.forEach((ks, i) => {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(sharded, name), new Map(ks.map((k) => [k, sd.get(k)!])));
      for (const k of ks) weightMap[k] = name;
    });
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));

    for (const path of [file, folder, join(sharded, 'model.safetensors.index.json')]) {
      const net = new Net();
      const before = tf.memory().numTensors;
      const report = loadModuleWeights(net, path);
      expect(tf.memory().numTensors).toBe(before);
      expect(report).toMatchObject({ missing: [], unexpected: [], mismatched: [], loaded: keys.length });
      const got = await valuesOf(net);
      for (const [k, t] of sd) expect(got.get(k)).toEqual(rounded(t.data as Float32Array));
      net.dispose();
    }
  });

  it('checks every key and shape from the headers before reading, and names them', async () => {
    const file = join(dir, 'wrong.safetensors');
    const sd = tensors(2, (k) => k !== 'decoder.proj.bias');
    sd.set('decoder.extra', { shape: [1], data: Float32Array.of(1) });
    sd.set('encoder.proj.weight', { shape: [2, 4], data: new Float32Array(8) });
    writeSafetensors(file, sd);
    const net = new Net();
    const before = await valuesOf(net);
    let err: unknown;
    try {
      loadModuleWeights(net, file, { strict: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    expect((err as Error).message).toMatch(/wrong\.safetensors: 1 missing, 1 unexpected, 1 misshaped/);
    expect((err as Error).message).toMatch(/key 'encoder\.proj\.weight' has shape \[2,4\], expected \[2,3\]/);
    expect(await valuesOf(net)).toEqual(before); // nothing was loaded
    net.dispose();
  });

  it('strict by default; non-strict keeps the values of missing keys', async () => {
    const file = join(dir, 'partial.safetensors');
    const sd = tensors(3, (k) => k !== 'decoder.conv.bias');
    sd.set('decoder.extra', { shape: [1], data: Float32Array.of(1) });
    writeSafetensors(file, sd);
    const net = new Net();
    expect(() => loadModuleWeights(net, file)).toThrow(/missing key 'decoder\.conv\.bias' \(expected \[4\]\)[\s\S]*unexpected key 'decoder\.extra'/);
    // The advice is for whoever sees it, a command-line user included: no API option such as { strict: false }.
    expect(() => loadModuleWeights(net, file)).toThrow(/unexpected key 'decoder\.extra'\n {2}Check that the checkpoint is the one the model config describes \(its type and sizes/);
    expect(() => loadModuleWeights(net, file)).not.toThrow(/strict/);
    const before = (await valuesOf(net)).get('decoder.conv.bias');
    const report = loadModuleWeights(net, file, { strict: false });
    expect(report.missing).toEqual(['decoder.conv.bias']);
    expect(report.unexpected).toEqual(['decoder.extra']);
    expect(report.loaded).toBe(7);
    const got = await valuesOf(net);
    expect(got.get('decoder.conv.bias')).toEqual(before);
    expect(got.get('decoder.conv.weight')).toEqual(rounded(sd.get('decoder.conv.weight')!.data as Float32Array));
    net.dispose();
  });

  it('loads one prefix of the module from a file that holds only it', async () => {
    const file = join(dir, 'encoder.safetensors');
    const sd = tensors(4, (k) => k.startsWith('encoder.'));
    writeSafetensors(file, sd);
    const net = new Net();
    const decoderBefore = (await valuesOf(net)).get('decoder.proj.weight');
    expect(loadModuleWeights(net, file, { prefix: 'encoder.' }).loaded).toBe(4);
    const got = await valuesOf(net);
    expect(got.get('encoder.proj.weight')).toEqual(rounded(sd.get('encoder.proj.weight')!.data as Float32Array));
    expect(got.get('decoder.proj.weight')).toEqual(decoderBefore);
    expect(() => loadModuleWeights(net, file, { prefix: 'decoder.' })).toThrow(/4 missing, 4 unexpected/);
    net.dispose();
  });

  it('applies a transform to shapes before the check and to tensors before the load', async () => {
    // Stored: encoder.proj.weight with 1 input column; the transform tiles it to 3.
    const file = join(dir, 'narrow.safetensors');
    const sd = tensors(5, (k) => k.startsWith('encoder.'));
    sd.set('encoder.proj.weight', { shape: [2, 1], data: Float32Array.of(1, 2) });
    writeSafetensors(file, sd);
    const seen: string[] = [];
    const transform = {
      shape: (k: string, s: number[]) => (k === 'encoder.proj.weight' ? [s[0]!, 3] : s),
      tensor: (k: string, t: HostTensor): HostTensor => {
        seen.push(k);
        if (k !== 'encoder.proj.weight') return t;
        const d = t.data as Float32Array;
        return { ...t, shape: [2, 3], data: Float32Array.of(d[0]!, d[0]!, d[0]!, d[1]!, d[1]!, d[1]!) };
      },
    };
    const net = new Net();
    expect(() => loadModuleWeights(net, file, { prefix: 'encoder.' })).toThrow(/has shape \[2,1\], expected \[2,3\]/);
    loadModuleWeights(net, file, { prefix: 'encoder.', transform });
    expect(seen).toHaveLength(4);
    expect((await valuesOf(net)).get('encoder.proj.weight')).toEqual([1, 1, 1, 2, 2, 2]);
    net.dispose();
  });

  it('names a non-float tensor and a missing file', () => {
    const file = join(dir, 'ints.safetensors');
    const sd = tensors(6);
    sd.set('encoder.proj.bias', { shape: [2], data: Int32Array.of(1, 2) });
    writeSafetensors(file, sd);
    const net = new Net();
    expect(() => loadModuleWeights(net, file)).toThrow(/ints\.safetensors: tensor 'encoder\.proj\.bias' is I32; module weights must be floating point/);
    expect(() => loadModuleWeights(net, join(dir, 'nope.safetensors'))).toThrow(/nope\.safetensors: file not found/);
    net.dispose();
  });

  it('loads torch.save files as published: a wrapped .pt with F16/BF16 storages and views, and .bin shards behind an index', async () => {
    const sd = tensors(7);
    // Multiples of 1/64 below 4 are exact in F16 and BF16, so every format must give the same values.
    for (const t of sd.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = Math.max(-3.9, Math.min(3.9, Math.round(Number(t.data[i]) * 64) / 64));
    const keys = [...sd.keys()];
    // Stored as torch would: half precisions for some, and proj.weight as the transpose view of a [3,2] storage.
    const asTorch = (k: string): SaveTensor => {
      const t = sd.get(k)!;
      if (k === 'encoder.proj.weight') {
        const d = t.data as Float32Array; // [2,3]
        const storage = Float32Array.from({ length: 6 }, (_, i) => d[(i % 2) * 3 + Math.floor(i / 2)]!); // [3,2] row-major
        return { shape: [2, 3], data: storage, storageData: storage, stride: [1, 2] };
      }
      return { ...t, dtype: k.startsWith('decoder.') ? 'BF16' : k.endsWith('bias') ? 'F16' : 'F32' };
    };
    const pt = join(dir, 'ema.pt');
    writeTorchSave(pt, { ema: Object.fromEntries(keys.map((k) => [k, asTorch(k)])), step: 100 });
    const shards = join(dir, 'bin-shards');
    mkdirSync(shards);
    const weightMap: Record<string, string> = {};
    [keys.slice(0, 5), keys.slice(5)].forEach((ks, i) => {
      const name = `pytorch_model-0000${i + 1}-of-00002.bin`;
      writeTorchSave(join(shards, name), Object.fromEntries(ks.map((k) => [k, asTorch(k)])));
      for (const k of ks) weightMap[k] = name;
    });
    writeFileSync(join(shards, 'pytorch_model.bin.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    for (const path of [pt, shards]) {
      const net = new Net();
      const report = loadModuleWeights(net, path);
      expect(report.loaded).toBe(keys.length);
      const got = await valuesOf(net);
      for (const k of keys) expect(got.get(k), `${path} ${k}`).toEqual(Array.from(sd.get(k)!.data as Float32Array));
      net.dispose();
    }
  });

  it('a forbidden global, a truncated .bin or a missing shard stops the load before anything is assigned', async () => {
    const good = join(dir, 'good.bin');
    writeTorchSave(good, Object.fromEntries(tensors(8)));
    const evil = join(dir, 'evil.bin');
    const payload = Buffer.concat([Buffer.from('cbuiltins\neval\n', 'latin1'), Buffer.from([0x58, 1, 0, 0, 0, 0x31, 0x85, 0x52])]);
    writeTorchSave(evil, { ...Object.fromEntries(tensors(8)), 'decoder.extra': new RawPickle(payload) });
    const truncated = join(dir, 'truncated.bin');
    writeFileSync(truncated, readFileSync(good).subarray(0, 900));
    const shardDir = join(dir, 'missing-shard');
    mkdirSync(shardDir);
    writeTorchSave(join(shardDir, 'pytorch_model-00001-of-00002.bin'), Object.fromEntries(tensors(8)));
    writeFileSync(join(shardDir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { 'encoder.proj.weight': 'pytorch_model-00001-of-00002.bin', 'decoder.proj.weight': 'pytorch_model-00002-of-00002.bin' } }));
    const cases: [string, RegExp][] = [
      [evil, /evil\.bin: refused global 'builtins\.eval' in archive\/data\.pkl: a weights file holds only tensors; this one wants to run code\. Nothing was executed\./],
      [truncated, /truncated\.bin: no end-of-central-directory record at the end of the file; the file is truncated/],
      [shardDir, /pytorch_model\.bin\.index\.json: shard 'pytorch_model-00002-of-00002\.bin' named in weight_map is missing/],
    ];
    for (const [path, message] of cases) {
      const net = new Net();
      const before = await valuesOf(net);
      expect(() => loadModuleWeights(net, path)).toThrow(message);
      expect(await valuesOf(net)).toEqual(before);
      net.dispose();
    }
    rmSync(shardDir, { recursive: true });
  });

  it('a weight holding NaN or Inf is refused naming the file and the key (safetensors, F16 and .bin), unless allowNonFinite', () => {
    const sft = join(dir, 'nan.safetensors');
    const w = tensors(9);
    const bad = w.get('decoder.conv.weight')!;
    (bad.data as Float32Array)[5] = Number.NaN;
    (bad.data as Float32Array)[7] = Number.NaN;
    writeSafetensors(sft, w);
    const shape = bad.shape.join(', ');
    const net = new Net();
    expect(() => loadModuleWeights(net, sft)).toThrow(`nan.safetensors: tensor 'decoder.conv.weight' [${shape}] holds 2 NaN of ${bad.data.length} values (the first at index 5)`);
    expect(() => loadModuleWeights(net, sft)).toThrow(/download it again, or use an earlier checkpoint/);
    expect(loadModuleWeights(net, sft, { allowNonFinite: true }).loaded).toBe(w.size);

    const half = join(dir, 'inf.safetensors');
    const h = tensors(10);
    const bias = h.get('encoder.proj.bias')!;
    h.set('encoder.proj.bias', { shape: bias.shape, data: Float32Array.from([Infinity, -Infinity]), dtype: 'F16' });
    writeSafetensors(half, h);
    expect(() => loadModuleWeights(net, half)).toThrow(/inf\.safetensors: tensor 'encoder\.proj\.bias' \[2\] holds 1 \+Inf and 1 -Inf of 2 values \(the first at index 0\)/);

    const bin = join(dir, 'nan.bin');
    const b = tensors(11);
    (b.get('encoder.proj.weight')!.data as Float32Array)[0] = Number.POSITIVE_INFINITY;
    writeTorchSave(bin, Object.fromEntries(b));
    expect(() => loadModuleWeights(net, bin)).toThrow(/nan\.bin: tensor 'encoder\.proj\.weight' \[2, 3\] holds 1 \+Inf of 6 values/);
    net.dispose();
  });
});
