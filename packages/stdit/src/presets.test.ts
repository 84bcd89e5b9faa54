import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tf, withShapesOnly } from '@opensora-ts/kernels';
import { STDiT3 } from './stdit3.js';
import { stdit3Preset, STDIT3_PRESETS } from './presets.js';
import { parseSTDiT3Config } from './config.js';

interface Manifest {
  config: Record<string, unknown>;
  num_keys: number;
  total_elements: number;
  parameter_elements: number;
  keys: { key: string; shape: number[]; kind: 'parameter' | 'buffer' }[];
}

const manifest = JSON.parse(
  readFileSync(fileURLToPath(new URL('../test/fixtures/stdit3-xl2-keys.json', import.meta.url)), 'utf8'),
) as Manifest;

describe('presets', () => {
  it('STDiT3-XL/2 has exactly the reference state-dict keys and shapes (nothing allocated)', () => {
    const before = tf.memory().numBytes;
    const model = withShapesOnly(() => new STDiT3(stdit3Preset('STDiT3-XL/2'), { referenceInit: false }));
    expect(tf.memory().numBytes).toBe(before);
    const shapes = model.stateDictShapes();
    const expected = new Map(manifest.keys.map((k) => [k.key, k.shape]));
    expect(shapes.size).toBe(manifest.num_keys);
    expect([...shapes.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, s] of expected) expect(shapes.get(k), k).toEqual(s);
    expect(model.parameterCount({ includeBuffers: true })).toBe(1_209_188_492);
    expect(model.parameterCount({ includeBuffers: true })).toBe(manifest.total_elements);
    expect(model.parameterCount()).toBe(manifest.parameter_elements);
    // Buffers are exactly the manifest's buffers; rope.freqs is a constant parameter.
    const buffers = manifest.keys.filter((k) => k.kind === 'buffer').map((k) => k.key);
    expect([...model.namedBuffers()].filter(([, b]) => b.persistent).map(([k]) => k)).toEqual(buffers);
    expect(model.parameterCount({ trainableOnly: true })).toBe(manifest.parameter_elements - 12);
  });

  it('the XL preset is the manifest config (reference key names)', () => {
    const fromManifest = parseSTDiT3Config(manifest.config);
    const fromPreset = parseSTDiT3Config(stdit3Preset('STDiT3-XL/2'));
    expect(fromPreset).toEqual(fromManifest);
  });

  it('every preset builds; tiny and mid are small', () => {
    for (const name of Object.keys(STDIT3_PRESETS)) {
      const m = withShapesOnly(() => new STDiT3(stdit3Preset(name), { referenceInit: false }));
      expect(m.parameterCount()).toBeGreaterThan(0);
    }
    const tiny = withShapesOnly(() => new STDiT3(stdit3Preset('STDiT3-tiny')));
    const mid = withShapesOnly(() => new STDiT3(stdit3Preset('STDiT3-mid')));
    expect(tiny.parameterCount()).toBeLessThan(1_000_000);
    expect(mid.config.depth).toBe(4);
    expect(mid.config.hidden_size).toBe(384);
    expect(mid.parameterCount()).toBeLessThan(40_000_000);
  });

  it('rejects configs the model cannot honour, naming the key', () => {
    expect(() => parseSTDiT3Config({ hidden_size: 100, num_heads: 3 })).toThrow(/hidden_size 100 is not divisible by num_heads 3/);
    expect(() => parseSTDiT3Config({ use_spatial_rope: true })).toThrow(/use_spatial_rope requires kernel_size/);
    expect(() => parseSTDiT3Config({ kernel_size: [8, 8, 4] })).toThrow(/kernel_size T entry 4/);
    expect(() => parseSTDiT3Config({ depth: 'two' })).toThrow(/depth/);
    expect(() => stdit3Preset('STDiT3-XXL')).toThrow(/unknown STDiT3 preset 'STDiT3-XXL'/);
  });
});
