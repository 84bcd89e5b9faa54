import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../safetensors.js';
import { writeTorchSave } from '../testing/torch-save.js';
import { openCheckpoint } from './reader.js';

const dir = mkdtempSync(join(tmpdir(), 'background-reader-'));

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 3);
}

describe('readInBackground', () => {
  it('gives what read() gives, from a worker thread, for F32/BF16/F16 safetensors, int tensors and torch files', async () => {
    const st = join(dir, 'w.safetensors');
    writeSafetensors(st, {
      a: { shape: [3, 5], data: values(15, 1) },
      b: { shape: [64], data: values(64, 2), dtype: 'BF16' },
      c: { shape: [2, 2], data: values(4, 3), dtype: 'F16' },
      d: { shape: [3], data: Int32Array.of(1, 2, 3) },
    });
    const pt = join(dir, 'w.pt');
    writeTorchSave(pt, new Map([['x', { shape: [4, 4], data: values(16, 4) }], ['y', { shape: [8], data: values(8, 5), dtype: 'BF16' }]]));
    for (const [path, keys] of [[st, ['a', 'b', 'c', 'd']], [pt, ['x', 'y']]] as const) {
      const r = openCheckpoint(path);
      try {
        const got = await r.readInBackground(keys);
        keys.forEach((k, i) => {
          const want = r.read(k);
          expect({ k, shape: got[i]!.shape, dtype: got[i]!.dtype, data: Array.from(got[i]!.data) }).toEqual({ k, shape: want.shape, dtype: want.dtype, data: Array.from(want.data) });
        });
        expect((r as unknown as { background?: { inWorker: boolean } }).background?.inWorker).toBe(true);
      } finally {
        r.close();
      }
    }
  });

  it('refuses a non-finite weight as read() does, naming the key', async () => {
    const p = join(dir, 'nan.safetensors');
    const bad = values(32, 6);
    bad[7] = NaN;
    writeSafetensors(p, { ok: { shape: [4], data: values(4, 7), dtype: 'BF16' }, bad: { shape: [32], data: bad, dtype: 'BF16' } });
    const r = openCheckpoint(p);
    await expect(r.readInBackground(['ok', 'bad'])).rejects.toThrow(/tensor 'bad' \[32\] holds 1 NaN of 32 values/);
    r.close();
  });
});
