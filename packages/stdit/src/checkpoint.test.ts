import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, readSafetensors, tf, writeSafetensors, type HostTensor } from '@opensora-ts/kernels';
import { adapt16ch, loadSTDiT3 } from './checkpoint.js';
import { stdit3Preset } from './presets.js';
import { STDiT3 } from './stdit3.js';
import { writeTorchSave } from '../../kernels/src/testing/torch-save.js';
import type { STDiT3ConfigInput } from './config.js';

const weights = fileURLToPath(new URL('../test/fixtures/stdit3-t2v/weights.safetensors', import.meta.url));
const tinyConfig: STDiT3ConfigInput = {
  depth: 2, hidden_size: 96, num_heads: 4, caption_channels: 32, model_max_length: 12, kernel_size: [4, 4, -1], use_spatial_rope: true, class_dropout_prob: 0,
};
let dir: string;

beforeAll(async () => {
  await initRuntime({ announce: false });
  dir = mkdtempSync(join(tmpdir(), 'stdit-ckpt-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function saveVariant(name: string, edit: (m: Map<string, HostTensor>) => void): string {
  const sd = readSafetensors(weights);
  edit(sd);
  const path = join(dir, name);
  writeSafetensors(path, new Map([...sd].map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array }])));
  return path;
}

describe('loading official checkpoints', () => {
  it('loads every key with no renaming and round-trips the state dict', () => {
    const before = tf.memory().numTensors;
    const model = loadSTDiT3(weights, { config: tinyConfig });
    const file = readSafetensors(weights);
    const sd = model.stateDict();
    expect([...sd.keys()].sort()).toEqual([...file.keys()].sort());
    for (const k of ['rope.freqs', 'x_embedder.proj.weight', 'y_embedder.y_embedding', 'temporal_blocks.1.attn.qkv.weight']) {
      expect(Array.from(sd.get(k)!.dataSync())).toEqual(Array.from(file.get(k)!.data));
    }
    tf.dispose([...sd.values()]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the file and the key when a key is missing', () => {
    const path = saveVariant('missing.safetensors', (m) => m.delete('final_layer.linear.weight'));
    expect(() => loadSTDiT3(path, { config: tinyConfig })).toThrow(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 1 missing[\\s\\S]*missing key 'final_layer.linear.weight' \\(expected \\[128,96\\]\\)`),
    );
  });

  it('names unexpected keys, and strict: false tolerates them', () => {
    const path = saveVariant('extra.safetensors', (m) => m.set('pos_embed', { dtype: 'float32', shape: [2], data: new Float32Array(2) } as HostTensor));
    expect(() => loadSTDiT3(path, { config: tinyConfig })).toThrow(/unexpected key 'pos_embed'/);
    const model = loadSTDiT3(path, { config: tinyConfig, strict: false });
    expect(model.stateDictShapes().has('pos_embed')).toBe(false);
    model.dispose();
  });

  it('reports shape clashes against the config, even when not strict', () => {
    const wrong = { ...tinyConfig, caption_channels: 64 };
    expect(() => loadSTDiT3(weights, { config: wrong })).toThrow(/key 'y_embedder.y_proj.fc1.weight' has shape \[96,32\], expected \[96,64\]/);
    expect(() => loadSTDiT3(weights, { config: wrong, strict: false })).toThrow(/weights\.safetensors: .*1 misshaped|misshaped/);
  });

  it("loads the same weights from a torch.save file as the reference's stages start from ({'ema': state dict} in ema.pt)", () => {
    const file = readSafetensors(weights);
    const pt = join(dir, 'ema.pt');
    writeTorchSave(pt, { ema: Object.fromEntries([...file].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), step: 36000 });
    const model = loadSTDiT3(pt, { config: tinyConfig });
    const sd = model.stateDict();
    for (const [k, t] of file) expect(Array.from(sd.get(k)!.dataSync()), k).toEqual(Array.from(t.data));
    tf.dispose([...sd.values()]);
    model.dispose();
  });

  it('a missing file is named', () => {
    expect(() => loadSTDiT3(join(dir, 'nope.safetensors'), { config: tinyConfig })).toThrow(/nope\.safetensors: file not found/);
  });
});

describe('adapt_16ch', () => {
  const cfg4: STDiT3ConfigInput = {
    depth: 1, hidden_size: 48, num_heads: 2, in_channels: 4, caption_channels: 8, model_max_length: 4, kernel_size: [2, 2, -1], use_spatial_rope: true, class_dropout_prob: 0,
  };
  it('tiles the patch weight /4 and the output channels x4, as the reference', () => {
    const m4 = new STDiT3(cfg4, { referenceInit: false, seed: 3 });
    const sd = m4.stateDict();
    const adapted = adapt16ch(sd as Map<string, tf.Tensor>);
    const w4 = sd.get('x_embedder.proj.weight')!.arraySync() as number[][][][][];
    const w16 = adapted.get('x_embedder.proj.weight')! as HostTensor;
    expect(w16.shape).toEqual([48, 16, 1, 2, 2]);
    // [o, j, 0, a, b] = w4[o, j % 4, 0, a, b] / 4
    expect(w16.data[((5 * 16 + 9) * 1 + 0) * 4 + 3]).toBeCloseTo(w4[5]![1]![0]![1]![1]! / 4, 7);
    const f4 = sd.get('final_layer.linear.weight')!.arraySync() as number[][];
    const f16 = adapted.get('final_layer.linear.weight')! as HostTensor;
    expect(f16.shape).toEqual([128, 48]);
    // row (patch p, half s, channel j) <- (p, s, j % 4)
    const row = (p: number, s: number, j: number) => Array.from(f16.data.slice((p * 32 + s * 16 + j) * 48, (p * 32 + s * 16 + j + 1) * 48));
    expect(row(2, 1, 13)).toEqual(f4[2 * 8 + 1 * 4 + 1]);
    expect(row(0, 0, 4)).toEqual(f4[0]);
    expect((adapted.get('final_layer.linear.bias') as HostTensor).shape).toEqual([128]);
    tf.dispose([...sd.values()]);
    m4.dispose();
  });

  it('an adapted model on a 4x-tiled latent reproduces the 4-channel model, channel for channel', () => {
    const m4 = new STDiT3(cfg4, { referenceInit: false, seed: 5 });
    const path = join(dir, 'four.safetensors');
    const sd = m4.stateDict();
    // A 1.2-era checkpoint has no i2v condition embedders.
    const kept = [...sd].filter(([k]) => !k.startsWith('x_embedder_cond'));
    writeSafetensors(path, new Map(kept.map(([k, v]) => [k, { shape: v.shape, data: v.dataSync() as Float32Array }])));
    tf.dispose([...sd.values()]);
    expect(() => loadSTDiT3(path, { config: { ...cfg4, in_channels: 16 } })).toThrow(/has shape \[48,4,1,2,2\], expected \[48,16,1,2,2\]/);
    const m16 = loadSTDiT3(path, { config: { ...cfg4, in_channels: 16 }, adapt_16ch: true, strict: false });
    tf.tidy(() => {
      const x4 = tf.randomNormal([1, 4, 2, 4, 4], 0, 1, 'float32', 7);
      const x16 = tf.tile(x4, [1, 4, 1, 1, 1]);
      const common = { timestep: [500], y: tf.randomNormal([1, 1, 4, 8], 0, 1, 'float32', 8), mask: [[1, 1, 1, 0]], fps: 24, height: 32, width: 32 };
      const o4 = m4.forward({ ...common, x: x4 });
      const o16 = m16.forward({ ...common, x: x16 });
      expect(o16.shape).toEqual([1, 32, 2, 4, 4]);
      const idx = Array.from({ length: 32 }, (_, j) => (j < 16 ? j % 4 : 4 + (j % 4)));
      const want = tf.gather(o4, idx, 1);
      expect(tf.max(tf.abs(tf.sub(o16, want))).dataSync()[0]).toBeLessThan(1e-4);
    });
    m4.dispose();
    m16.dispose();
  });
});

describe('weights of another config', () => {
  const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it("say in one line which config they are: the model.json beside them (the demo model's layout)", () => {
    const folder = join(dir, 'demo-like');
    mkdirSync(folder);
    const file = join(folder, 'stdit.safetensors');
    copyFileSync(weights, file);
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ status: 'trained', vae: {}, stdit: tinyConfig }));
    let msg = '';
    try {
      loadSTDiT3(file, { config: stdit3Preset('STDiT3-mid') });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toMatch(new RegExp(`^${escape(file)}: \\d+ missing, \\d+ unexpected, \\d+ misshaped keys \\(first: key '.*' has shape \\[.*\\], expected \\[.*\\]\\): these weights are config '${escape(join(folder, 'model.json'))}' \\("stdit"\\), not the one given`));
    loadSTDiT3(file, { config: tinyConfig }).dispose(); // the named config loads them
  });

  it('name the preset they fit, and say when none fits', () => {
    // The fixture's weights are the STDiT3-tiny preset's.
    expect(() => loadSTDiT3(weights, { config: { ...tinyConfig, caption_channels: 64 } })).toThrow(
      /^[^\n]*weights\.safetensors: .* 2 misshaped keys \(first: key 'y_embedder\.y_proj\.fc1\.weight' has shape \[96,32\], expected \[96,64\]\): these weights are config 'STDiT3-tiny' \(a preset\), not the one given; load them with loadSTDiT3\(path, \{ config: stdit3Preset\('STDiT3-tiny'\) \}\)\.$/,
    );
    const odd = new STDiT3({ ...tinyConfig, caption_channels: 16 }, { seed: 0 });
    const file = join(dir, 'odd.safetensors');
    writeSafetensors(file, new Map([...odd.stateDict()].map(([k, v]) => [k, { shape: [...v.shape], data: v.dataSync() as Float32Array }])));
    odd.dispose();
    expect(() => loadSTDiT3(file, { config: tinyConfig })).toThrow(/^[^\n]*odd\.safetensors: .*misshaped keys \(first: .*\): these weights fit neither the config given nor a preset \(STDiT3-XL\/2, STDiT3-3B\/2, STDiT3-mid, STDiT3-tiny\); pass the config they were trained with/);
  });
});
