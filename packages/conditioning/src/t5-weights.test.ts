// T5 weights as Hugging Face publishes them: the same tiny T5 encoder saved by transformers as
// safetensors shards (F32) and as pytorch_model.bin shards (F16, the tied embedding under both
// names), from kernels' torch fixtures (test/fixtures/torch/make_fixtures.py). Both folders must
// give the same weights and the same encodings.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '@opensora-ts/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { T5Encoder } from './t5-encoder.js';
import { CheckpointWeights } from './t5-weights.js';
import { buildUnigramTokenizerJson } from './unigram-tokenizer.js';

const fixtures = join(import.meta.dirname, '..', '..', 'kernels', 'test', 'fixtures', 'torch');
const root = mkdtempSync(join(tmpdir(), 't5-weights-'));
const MAX_LEN = 8;

/** A T5 folder: the fixture's config and weights, and a tokenizer whose ids fit its 24-entry vocabulary. */
function folder(name: string): string {
  const dir = join(root, name);
  cpSync(join(fixtures, name), dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(buildUnigramTokenizerJson(['red', 'blue', 'circle', 'square', 'moves', 'left', 'right', 'a'], '')));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: MAX_LEN, pad_token: '<pad>', eos_token: '</s>' }));
  return dir;
}

let bin = '';
let safetensors = '';
beforeAll(() => {
  bin = folder('t5-bin');
  safetensors = folder('t5-safetensors');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('CheckpointWeights', () => {
  it('reads pytorch_model.bin shards (F16) as float32, equal to the safetensors shards of the same model', () => {
    const a = new CheckpointWeights(bin);
    const b = new CheckpointWeights(safetensors);
    try {
      const w = a.read('encoder.block.0.layer.0.SelfAttention.q.weight');
      expect(w).toMatchObject({ dtype: 'float32', stored: 'F16', shape: [8, 8] });
      for (const k of ['shared.weight', 'encoder.block.0.layer.1.DenseReluDense.wo.weight', 'encoder.final_layer_norm.weight']) {
        expect(Array.from(a.read(k).data), k).toEqual(Array.from(b.read(k).data));
      }
      expect(() => a.read('decoder.block.0.weight')).toThrow(/t5-bin: missing tensor 'decoder\.block\.0\.weight'; is this a T5 v1\.1 encoder checkpoint/);
    } finally {
      a.close();
      b.close();
    }
  });

  it('T5Encoder.fromFolder encodes the same from a pytorch_model.bin folder as from a safetensors folder', async () => {
    const prompts = ['a red circle moves left', 'blue square'];
    const out: Float32Array[] = [];
    for (const dir of [bin, safetensors]) {
      const enc = T5Encoder.fromFolder(dir);
      const { states, mask } = await enc.encode(prompts);
      expect(states.shape).toEqual([2, 1, MAX_LEN, 8]);
      out.push((await states.data()) as Float32Array);
      states.dispose();
      mask.dispose();
      enc.dispose();
    }
    expect(Array.from(out[0]!)).toEqual(Array.from(out[1]!));
  });

  it('a .bin folder whose index names a missing shard fails naming the index and the shard', () => {
    const dir = join(root, 'missing');
    cpSync(bin, dir, { recursive: true });
    rmSync(join(dir, 'pytorch_model-00002-of-00002.bin'));
    expect(() => T5Encoder.fromFolder(dir)).toThrow(/missing\/pytorch_model\.bin\.index\.json: shard 'pytorch_model-00002-of-00002\.bin' named in weight_map is missing/);
  });

  it('a weight holding NaN is refused at load naming the shard and the key', () => {
    const dir = join(root, 'nan');
    cpSync(safetensors, dir, { recursive: true });
    const shard = join(dir, 'model-00001-of-00002.safetensors');
    const tensors = readSafetensors(shard);
    const [key, t] = [...tensors].find(([, v]) => v.dtype === 'float32')!;
    (t.data as Float32Array)[3] = Number.NaN;
    writeSafetensors(shard, new Map([...tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data, dtype: v.stored }])));
    expect(() => T5Encoder.fromFolder(dir)).toThrow(`model-00001-of-00002.safetensors: tensor '${key}' [${t.shape.join(', ')}] holds 1 NaN of ${t.data.length} values (the first at index 3)`);
  });
});
