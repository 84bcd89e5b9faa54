import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile, decodeTensor, readSafetensors, writeSafetensors, type SafetensorsDtype } from './safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'st-'));

describe('safetensors', () => {
  it('round-trips every dtype and the metadata', () => {
    const p = join(dir, 'all.safetensors');
    const f = Float32Array.from([1.5, -2.25, 3e-3, 65504, 0]);
    writeSafetensors(
      p,
      {
        f32: { shape: [5], data: f },
        f16: { shape: [5], data: f, dtype: 'F16' },
        bf16: { shape: [5], data: f, dtype: 'BF16' },
        i32: { shape: [2], data: Int32Array.from([7, -9]) },
        i64: { shape: [2], data: BigInt64Array.from([3n, -4n]) },
        bool: { shape: [3], data: Uint8Array.from([1, 0, 1]) },
      },
      { format: 'pt' },
    );
    const file = new SafetensorsFile(p);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(file.read('f32').data)).toEqual(Array.from(f));
    expect(Array.from(file.read('f16').data)).toEqual([1.5, -2.25, Math.fround(0.0030002593994140625), 65504, 0]);
    expect(Array.from(file.read('bf16').data)).toEqual([1.5, -2.25, Math.fround(0.0030059814453125), 65536, 0]);
    expect(Array.from(file.read('i32').data)).toEqual([7, -9]);
    expect(Array.from(file.read('i64').data)).toEqual([3, -4]);
    expect(file.read('bool').dtype).toBe('bool');
    expect(Array.from(file.read('bool').data)).toEqual([1, 0, 1]);
    file.close();
  });

  it('reads a sharded checkpoint through its index', () => {
    writeSafetensors(join(dir, 'a.safetensors'), { x: { shape: [1], data: Float32Array.of(1) } });
    writeSafetensors(join(dir, 'b.safetensors'), { y: { shape: [1], data: Float32Array.of(2) } });
    const idx = join(dir, 'model.safetensors.index.json');
    writeFileSync(idx, JSON.stringify({ weight_map: { x: 'a.safetensors', y: 'b.safetensors' } }));
    const sd = readSafetensors(idx);
    expect([...sd.keys()].sort()).toEqual(['x', 'y']);
    expect(sd.get('y')!.data[0]).toBe(2);
  });

  it('names the file and the problem for truncated and corrupt files', () => {
    const p = join(dir, 'trunc.safetensors');
    writeSafetensors(p, { w: { shape: [64], data: new Float32Array(64) } });
    const bytes = readFileSync(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 10));
    expect(() => new SafetensorsFile(p)).toThrow(/trunc\.safetensors: tensor 'w' ends at byte .* truncated/);
    const q = join(dir, 'junk.safetensors');
    writeFileSync(q, 'this is not a safetensors file at all');
    expect(() => new SafetensorsFile(q)).toThrow(/junk\.safetensors: header length/);
    expect(() => new SafetensorsFile(join(dir, 'nope.safetensors'))).toThrow(/nope\.safetensors: file not found/);
  });

  it('notes in the decoding pass whether every float is finite, for F32, F64, BF16 and F16 alike', () => {
    const bits: Record<string, (v: number) => number[]> = {
      F32: (v) => [...new Uint8Array(Float32Array.of(v).buffer)],
      F64: (v) => [...new Uint8Array(Float64Array.of(v).buffer)],
      BF16: (v) => [...new Uint8Array(Float32Array.of(v).buffer)].slice(2),
      F16: (v) => (Number.isNaN(v) ? [0x00, 0x7e] : v === Infinity ? [0x00, 0x7c] : v === -Infinity ? [0x00, 0xfc] : v === 65504 ? [0xff, 0x7b] : [0x00, 0x3c]),
    };
    for (const [dtype, enc] of Object.entries(bits)) {
      const decode = (values: number[]) => decodeTensor(dtype as SafetensorsDtype, [values.length], Buffer.from(values.flatMap(enc)), 'f', 'k');
      // Large finite values (the F16 maximum, a float32 near its top) are finite; each non-finite kind is caught anywhere.
      expect(decode([1, 65504, -1, 1]).finite).toBe(true);
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of [0, 3]) {
          const values = [1, 1, 1, 1];
          values[at] = bad;
          expect({ dtype, bad, at, finite: decode(values).finite }).toEqual({ dtype, bad, at, finite: false });
        }
      }
    }
  });
});
