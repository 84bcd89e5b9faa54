import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom, tf, writeSafetensors, type HostTensor } from '@opensora-ts/kernels';
import { RESIDENT_LIMIT_BYTES, T5Encoder, relativePositionBucket } from './t5-encoder.js';
import { T5Tokenizer } from './t5-tokenizer.js';
import { CheckpointWeights, MemoryWeights, type WeightSource } from './t5-weights.js';
import type { T5Config } from './t5-config.js';
import { seededT5Weights } from './demo-encoder.js';
import { buildUnigramTokenizerJson } from './unigram-tokenizer.js';

const WORDS = ['red', 'blue', 'circle', 'square', 'moves', 'left', 'right', 'the', 'a', 'camera', 'pans'];
const tokenizerJson = buildUnigramTokenizerJson(WORDS);
const vocab = (tokenizerJson.model as { vocab: unknown[] }).vocab.length;
const config: T5Config = {
  vocab_size: vocab,
  d_model: 16,
  d_kv: 4,
  num_heads: 3,
  d_ff: 24,
  num_layers: 2,
  relative_attention_num_buckets: 8,
  relative_attention_max_distance: 20,
  layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'gated-gelu',
};
const MAX_LEN = 12;

/** Random weights with non-trivial norm scales. */
function randomWeights(): Map<string, HostTensor> {
  const w = seededT5Weights(config, 99);
  const rng = new SeededRandom(5);
  for (const [k, t] of w) if (k.endsWith('layer_norm.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(0.8, 1.2);
  return w;
}

// ---- independent float64 reference: plain loops over the same maths ----
function refEncode(w: Map<string, HostTensor>, ids: number[], mask: number[]): Float64Array {
  const { d_model: D, d_kv: dk, num_heads: H, d_ff: F, layer_norm_epsilon: eps } = config;
  const L = ids.length;
  const get = (k: string) => Float64Array.from(w.get(k)!.data as Float32Array);
  const matvecT = (W: Float64Array, rows: number, cols: number, x: Float64Array) => {
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += W[r * cols + c]! * x[c]!;
      y[r] = s;
    }
    return y;
  };
  const norm = (x: Float64Array, g: Float64Array) => {
    let ms = 0;
    for (const v of x) ms += v * v;
    const inv = 1 / Math.sqrt(ms / x.length + eps);
    return x.map((v, i) => v * inv * g[i]!);
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const emb = get('shared.weight');
  let xs = ids.map((id) => emb.slice(id * D, (id + 1) * D));
  const rel = get('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
  // bucket maths written out again, not imported
  const bucket = (r: number) => {
    const half = config.relative_attention_num_buckets / 2;
    const maxExact = half / 2;
    const n = Math.abs(r);
    const base = r > 0 ? half : 0;
    if (n < maxExact) return base + n;
    return base + Math.min(half - 1, maxExact + Math.floor((Math.log(n / maxExact) / Math.log(config.relative_attention_max_distance / maxExact)) * (half - maxExact)));
  };
  for (let b = 0; b < config.num_layers; b++) {
    const p = `encoder.block.${b}.layer`;
    const g0 = get(`${p}.0.layer_norm.weight`);
    const [Wq, Wk, Wv, Wo] = ['q', 'k', 'v', 'o'].map((m) => get(`${p}.0.SelfAttention.${m}.weight`));
    const hs = xs.map((x) => norm(x, g0));
    const q = hs.map((h) => matvecT(Wq!, H * dk, D, h));
    const k = hs.map((h) => matvecT(Wk!, H * dk, D, h));
    const v = hs.map((h) => matvecT(Wv!, H * dk, D, h));
    xs = xs.map((x, i) => {
      const ctx = new Float64Array(H * dk);
      for (let hh = 0; hh < H; hh++) {
        const sc: number[] = [];
        for (let j = 0; j < L; j++) {
          let s = 0;
          for (let d = 0; d < dk; d++) s += q[i]![hh * dk + d]! * k[j]![hh * dk + d]!;
          s += rel[bucket(j - i) * H + hh]!;
          sc.push(mask[j] ? s : -Infinity);
        }
        const m = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - m));
        const z = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j < L; j++) for (let d = 0; d < dk; d++) ctx[hh * dk + d] = ctx[hh * dk + d]! + (e[j]! / z) * v[j]![hh * dk + d]!;
      }
      const o = matvecT(Wo!, D, H * dk, ctx);
      return x.map((val, d) => val + o[d]!);
    });
    const g1 = get(`${p}.1.layer_norm.weight`);
    const wi0 = get(`${p}.1.DenseReluDense.wi_0.weight`);
    const wi1 = get(`${p}.1.DenseReluDense.wi_1.weight`);
    const wo = get(`${p}.1.DenseReluDense.wo.weight`);
    xs = xs.map((x) => {
      const h = norm(x, g1);
      const a = matvecT(wi0, F, D, h).map(gelu);
      const c = matvecT(wi1, F, D, h);
      const y = matvecT(wo, D, F, a.map((val, i) => val * c[i]!));
      return x.map((val, d) => val + y[d]!);
    });
  }
  const gf = get('encoder.final_layer_norm.weight');
  const out = new Float64Array(L * D);
  xs.forEach((x, i) => out.set(norm(x, gf), i * D));
  return out;
}

let dir: string;
const weights = randomWeights();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 't5-test-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 't5', architectures: ['T5EncoderModel'] }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: MAX_LEN, pad_token: '<pad>', eos_token: '</s>' }));
  // two shards behind an index, as large Hugging Face checkpoints are stored
  const keys = [...weights.keys()];
  const shard = (k: string) => (k.startsWith('shared') || k.includes('block.0.') ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors');
  const weightMap: Record<string, string> = {};
  for (const file of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
    const part = new Map(keys.filter((k) => shard(k) === file).map((k) => [k, { shape: weights.get(k)!.shape, data: weights.get(k)!.data as Float32Array }]));
    writeSafetensors(join(dir, file), part);
    for (const k of part.keys()) weightMap[k] = file;
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function relErr(got: Float32Array, ref: Float64Array): { rel: number; maxRel: number } {
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = got[i]! - ref[i]!;
    num += d * d;
    den += ref[i]! * ref[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  return { rel: Math.sqrt(num / den), maxRel: maxAbs / maxRef };
}

describe('relativePositionBucket', () => {
  it('matches T5 buckets for the default 32 buckets / distance 128', () => {
    expect([0, 1, -1, -7, -8, -12, -16, 127, 200, -1000].map((r) => relativePositionBucket(r, 32, 128))).toEqual([0, 17, 1, 7, 8, 9, 10, 31, 31, 15]);
  });
});

describe('T5Encoder', () => {
  const prompts = ['the red circle moves left', 'a blue square pans right camera zzz qq more words than fit in twelve'];

  it('matches an independent float64 computation, whole and layer by layer, from a sharded folder', async () => {
    for (const layerByLayer of [false, true]) {
      const enc = T5Encoder.fromFolder(dir, { layerByLayer });
      expect(enc.maxLength).toBe(MAX_LEN);
      const { states, mask } = await enc.encode(prompts);
      expect(states.shape).toEqual([2, 1, MAX_LEN, config.d_model]);
      expect(mask.shape).toEqual([2, MAX_LEN]);
      expect(mask.dtype).toBe('int32');
      const s = (await states.data()) as Float32Array;
      const m = Array.from(await mask.data());
      const tok = enc.tokenizer.batch(prompts, MAX_LEN);
      // first prompt: 5 words + </s>, then padding; second: truncated with </s> last
      expect(m.slice(0, MAX_LEN)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
      expect(m.slice(MAX_LEN)).toEqual(new Array(MAX_LEN).fill(1));
      expect(tok.ids[MAX_LEN - 1 + MAX_LEN]).toBe(1);
      for (let b = 0; b < 2; b++) {
        const ref = refEncode(weights, Array.from(tok.ids.slice(b * MAX_LEN, (b + 1) * MAX_LEN)), m.slice(b * MAX_LEN, (b + 1) * MAX_LEN));
        const got = s.slice(b * MAX_LEN * config.d_model, (b + 1) * MAX_LEN * config.d_model);
        const e = relErr(got, ref);
        expect(e.rel).toBeLessThan(1e-5);
        expect(e.maxRel).toBeLessThan(1e-5);
      }
      states.dispose();
      mask.dispose();
      enc.dispose();
    }
  });

  it('keeps tensor count flat across calls and gives null captions from the set embedding', async () => {
    const enc = T5Encoder.fromFolder(dir);
    const run = async () => {
      const r = await enc.encode(['red']);
      r.states.dispose();
      r.mask.dispose();
    };
    await run();
    const before = tf.memory().numTensors;
    await run();
    await run();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => enc.null(2)).toThrow(/y_embedder\.y_embedding/);
    const y = tf.ones([MAX_LEN, config.d_model]);
    enc.setNullEmbedding(y);
    y.dispose();
    const n = enc.null(3);
    expect(n.states.shape).toEqual([3, 1, MAX_LEN, config.d_model]);
    n.states.dispose();
    n.mask.dispose();
    enc.dispose();
  });

  it('layer by layer, reads each block in a worker while the one before runs, with forward()\'s numbers', async () => {
    const enc = T5Encoder.fromFolder(dir, { layerByLayer: true });
    const weights = (enc as unknown as { weights: CheckpointWeights }).weights;
    const asked: string[][] = [];
    const original = weights.readInBackground.bind(weights);
    weights.readInBackground = (keys) => (asked.push([...keys]), original(keys));
    const tok = enc.tokenizer.batch(prompts, MAX_LEN);
    const ids = tf.tensor2d(tok.ids, [2, MAX_LEN], 'int32');
    const mask = tf.tensor2d(tok.mask, [2, MAX_LEN], 'int32');
    const before = tf.memory().numTensors;
    const streamed = await enc.forwardAsync(ids, mask);
    const plain = enc.forward(ids, mask);
    expect(Array.from(streamed.dataSync())).toEqual(Array.from(plain.dataSync()));
    expect(asked.map((keys) => keys[0])).toEqual(Array.from({ length: config.num_layers }, (_, i) => `encoder.block.${i}.layer.0.layer_norm.weight`));
    tf.dispose([streamed, plain]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask]);
    enc.dispose();
  });

  it("'auto' keeps a small T5 resident and reads one over RESIDENT_LIMIT_BYTES layer by layer", () => {
    const reads: string[] = [];
    const source = (scale: number): WeightSource => {
      const inner = new MemoryWeights(weights);
      return {
        description: 'counted',
        has: (k) => inner.has(k),
        read: (k) => (reads.push(k), inner.read(k)),
        // Reports the embedding `scale` times larger than it is, as a big checkpoint's header would.
        shape: (k) => (k === 'shared.weight' ? [config.vocab_size * scale, config.d_model] : inner.shape(k)),
        close: () => {},
      };
    };
    const tokenizer = T5Tokenizer.fromFolder(dir);
    new T5Encoder(config, tokenizer, source(1), { layerByLayer: 'auto' }).dispose();
    expect(reads.length).toBeGreaterThan(0);
    reads.length = 0;
    const huge = Math.ceil(RESIDENT_LIMIT_BYTES / (4 * config.vocab_size * config.d_model)) + 1;
    new T5Encoder(config, tokenizer, source(huge), { layerByLayer: 'auto' }).dispose();
    expect(reads).toEqual([]);
  });

  it('names what is missing', () => {
    expect(() => T5Encoder.fromFolder(join(dir, 'nope'))).toThrow(/no config\.json/);
  });
});
