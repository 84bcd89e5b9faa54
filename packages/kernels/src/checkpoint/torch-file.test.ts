// torch.save archives as files: the zip variants torch and others write (any folder name, zip64,
// big-endian data, deflated entries, no byteorder entry), strided views, and the broken files that
// must fail at open with one clear message (truncated, not a zip, TorchScript, corrupt views).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OrderedDictValue, writeTorchSave, zipStored, type SaveValue } from '../testing/torch-save.js';
import { CheckpointError } from './errors.js';
import { readCheckpoint } from './reader.js';
import { TorchCheckpointFile } from './torch-file.js';

const dir = mkdtempSync(join(tmpdir(), 'torch-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = (name: string) => join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'torch', name);

const grid = Float32Array.from({ length: 24 }, (_, i) => i - 7.5);
/** A state dict whose tensors view one 4x6 storage in several ways, plus F16/BF16/int/bool tensors. */
const stateDict = (): SaveValue =>
  new OrderedDictValue(
    new Map<string, SaveValue>([
      ['grid', { shape: [4, 6], data: grid, storage: 'g', storageData: grid }],
      ['t', { shape: [6, 4], data: grid, storage: 'g', storageData: grid, stride: [1, 6] }],
      ['block', { shape: [2, 3], data: grid, storage: 'g', storageData: grid, offset: 8, stride: [6, 1] }],
      ['every_other', { shape: [2, 2, 3], data: grid, storage: 'g', storageData: grid, offset: 1, stride: [12, 6, 2] }],
      ['broadcast', { shape: [3, 2], data: grid, storage: 'g', storageData: grid, offset: 5, stride: [0, 6] }],
      ['half', { shape: [3], data: Float32Array.from([0.5, -1.25, 65504]), dtype: 'F16' }],
      ['bf16', { shape: [2], data: Float32Array.from([3.140625, -0.01171875]), dtype: 'BF16' }],
      ['long', { shape: [2], data: BigInt64Array.from([-4n, 9n]) }],
      ['mask', { shape: [2], data: Uint8Array.from([1, 0]), dtype: 'BOOL' }],
    ]),
  );
const want: Record<string, number[]> = {
  grid: Array.from(grid),
  t: Array.from({ length: 24 }, (_, i) => grid[(i % 4) * 6 + Math.floor(i / 4)]!),
  block: [8, 9, 10, 14, 15, 16].map((i) => grid[i]!),
  every_other: [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23].map((i) => grid[i]!),
  broadcast: [5, 11, 5, 11, 5, 11].map((i) => grid[i]!),
  half: [0.5, -1.25, 65504],
  bf16: [3.140625, -0.01171875],
  long: [-4, 9],
  mask: [1, 0],
};

function expectValues(file: string): void {
  const got = readCheckpoint(file);
  expect([...got.keys()]).toEqual(Object.keys(want));
  for (const [k, v] of Object.entries(want)) expect(Array.from(got.get(k)!.data), k).toEqual(v);
  expect(got.get('every_other')!.shape).toEqual([2, 2, 3]);
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('TorchCheckpointFile', () => {
  it('reads views of a shared storage (offsets, strides, zero strides) into contiguous arrays', () => {
    const file = join(dir, 'views.pt');
    writeTorchSave(file, stateDict());
    expectValues(file);
    const f = new TorchCheckpointFile(file);
    expect(f.info('block')).toEqual({ dtype: 'F32', shape: [2, 3] });
    expect(f.entries.get('block')!.storage).toBe(f.entries.get('grid')!.storage);
    f.close();
  });

  it('reads zip64 archives, big-endian data, deflated entries, any folder name and a missing byteorder entry', () => {
    const variants: [string, Parameters<typeof writeTorchSave>[2]][] = [
      ['zip64.pt', { zip64: true }],
      ['big.pt', { byteorder: 'big' }],
      ['deflated.pt', { deflate: true }],
      ['named.bin', { folder: 'pytorch_model-00001-of-00002' }],
      ['old.pt', { noByteorder: true }],
    ];
    for (const [name, opts] of variants) {
      const file = join(dir, name);
      writeTorchSave(file, stateDict(), opts);
      expectValues(file);
    }
  });

  it('a truncated .bin fails at open, naming the file and what to do, wherever it was cut', () => {
    const whole = readFileSync(fixture('views.pt'));
    const file = join(dir, 'truncated.bin');
    for (const keep of [whole.length - 1, whole.length - 22, Math.floor(whole.length / 2), 100]) {
      writeFileSync(file, whole.subarray(0, keep));
      expect(message(() => new TorchCheckpointFile(file)), `kept ${keep}`).toBe(
        `${file}: no end-of-central-directory record at the end of the file; the file is truncated or is not a zip archive (torch.save writes one). Re-download or re-copy it.`,
      );
    }
    writeFileSync(file, whole.subarray(0, 10));
    expect(message(() => new TorchCheckpointFile(file))).toBe(`${file}: 10 bytes is too short for a zip archive; the file is truncated or is not a zip archive (torch.save writes one). Re-download or re-copy it.`);
    writeFileSync(file, whole.subarray(0, 3));
    expect(message(() => readCheckpoint(file))).toMatch(/truncated\.bin: not a torch\.save archive \(a zip starting 'PK'; this file starts with bytes 50 4b 03\)/);
    writeFileSync(file, '');
    expect(message(() => readCheckpoint(file))).toMatch(/it is empty/);
  });

  it('a directory that promises more than the file holds fails at open', () => {
    const whole = readFileSync(fixture('views.pt'));
    // Keep the end records but cut bytes from the middle: the entries no longer sit where the directory says.
    const file = join(dir, 'hole.pt');
    writeFileSync(file, Buffer.concat([whole.subarray(0, 600), whole.subarray(1200)]));
    expect(message(() => new TorchCheckpointFile(file))).toMatch(/hole\.pt: .*the file is truncated or is not a zip archive/);
  });

  it('refuses TorchScript archives, non-zip files and zips without data.pkl', () => {
    const ts = join(dir, 'scripted.pt');
    writeFileSync(ts, zipStored([
      { name: 'scripted/data.pkl', data: Buffer.from([0x80, 2, 0x7d, 0x2e]) },
      { name: 'scripted/constants.pkl', data: Buffer.from([0x80, 2, 0x29, 0x2e]) },
      { name: 'scripted/code/__torch__/model.py', data: Buffer.from('def forward(self): ...') },
    ]));
    expect(message(() => new TorchCheckpointFile(ts))).toMatch(/scripted\.pt: a TorchScript archive \(torch\.jit\.save\), not a torch\.save state dict/);
    const text = join(dir, 'weights.bin');
    writeFileSync(text, 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n');
    expect(message(() => readCheckpoint(text))).toMatch(/weights\.bin: not a torch\.save archive \(a zip starting 'PK'; this file starts with bytes 76 65 72 73/);
    const zip = join(dir, 'other.zip.pt');
    writeFileSync(zip, zipStored([{ name: 'readme.txt', data: Buffer.from('hi') }]));
    expect(message(() => new TorchCheckpointFile(zip))).toMatch(/other\.zip\.pt: no data\.pkl in the zip archive \(found readme\.txt\); this is not a torch\.save archive/);
  });

  it('a view past its storage, or a storage missing from the archive, fails at open', () => {
    const short = Float32Array.from([1, 2, 3, 4]);
    const past = join(dir, 'past.pt');
    writeTorchSave(past, { w: { shape: [3], data: short, storage: 's', storageData: short, offset: 2 } });
    expect(message(() => new TorchCheckpointFile(past))).toBe(
      `${past}: tensor 'w' (offset 2, shape [3], stride [1]) reaches element 4 of a 4-element storage; the file is corrupt.`,
    );
    const lost = join(dir, 'lost.pt');
    writeTorchSave(lost, { w: { shape: [2], data: Float32Array.from([1, 2]) } });
    writeFileSync(lost, Buffer.from(readFileSync(lost).toString('latin1').replaceAll('archive/data/0', 'archive/data/7'), 'latin1'));
    expect(message(() => new TorchCheckpointFile(lost))).toBe(`${lost}: tensor 'w' needs storage 'archive/data/0', which the archive lacks; the file is corrupt or truncated.`);
  });

  it('a view too large to hold (a broadcast over 2^31 elements) fails with the limit, not a bare RangeError', () => {
    const one = Float32Array.of(1);
    const file = join(dir, 'huge-view.pt');
    writeTorchSave(file, { w: { shape: [2 ** 31], data: one, storageData: one, stride: [0] } });
    const f = new TorchCheckpointFile(file);
    expect(message(() => f.read('w'))).toBe(
      `${file}: tensor 'w' ([2147483648], 4 bytes on disk) is larger than the 4 GiB one tensor may take here (Node's Buffer limit); split it into smaller tensors to load it.`,
    );
    f.close();
  });

  it('a file of no tensors names its keys', () => {
    const file = join(dir, 'optimizer.pt');
    writeTorchSave(file, { state: {}, param_groups: [{ lr: 0.001 }] });
    expect(message(() => new TorchCheckpointFile(file))).toMatch(
      /optimizer\.pt: holds no tensors: its top-level keys are 'state', 'param_groups', and none of 'ema', 'state_dict', 'model', 'module' is a dict of tensors\. Save the model's weights with torch\.save\(model\.state_dict\(\), path\)/,
    );
  });
});
