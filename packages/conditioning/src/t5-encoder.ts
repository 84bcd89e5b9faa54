// T5 v1.1 encoder (the reference's DeepFloyd/t5-v1_1-xxl): token embedding, self-attention with
// bucketed relative positions (biases from block 0, shared by all blocks, no 1/sqrt(d) scale),
// RMS layer norms without mean or bias, a gated-GELU (tanh form) feed-forward, no biases
// anywhere, fp32. `layerByLayer` reads one block's weights at a time so T5-XXL (4.7B
// parameters, 19 GB in fp32) runs with about one block (~0.8 GB) resident.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, type HostTensor } from '@opensora-ts/kernels';
import { parseT5Config, type T5Config } from './t5-config.js';
import { T5Tokenizer, type PromptTokens } from './t5-tokenizer.js';
import { CheckpointWeights, type WeightSource } from './t5-weights.js';
import { keepNullEmbedding, nullEncoding } from './null-caption.js';
import type { TextEncoder, TextEncoding } from './text-encoder.js';

export interface T5EncoderOptions {
  /**
   * Read each block's weights when it runs and free them after (for models that do not fit);
   * 'auto': when the fp32 weights exceed RESIDENT_LIMIT_BYTES (T5-XXL does). Default false.
   */
  layerByLayer?: boolean | 'auto';
  /** Pad/truncate length; default the tokenizer's model_max_length or 300. */
  maxLength?: number;
  /** Identity for caches; default derived from the source. */
  id?: string;
}

/** Bidirectional relative-position bucket of (key position - query position), as T5 computes it. */
export function relativePositionBucket(relative: number, numBuckets: number, maxDistance: number): number {
  const half = Math.floor(numBuckets / 2);
  let bucket = relative > 0 ? half : 0;
  const n = Math.abs(relative);
  const maxExact = Math.floor(half / 2);
  if (n < maxExact) return bucket + n;
  const large = maxExact + Math.trunc((Math.log(n / maxExact) / Math.log(maxDistance / maxExact)) * (half - maxExact));
  bucket += Math.min(large, half - 1);
  return bucket;
}

/** With layerByLayer 'auto', a T5 whose fp32 weights pass this is read layer by layer (T5-XXL: 19 GB; v1.1 XL's encoder: 4.9 GB). */
export const RESIDENT_LIMIT_BYTES = 8 * 2 ** 30;

const key = {
  embedding: ['shared.weight', 'encoder.embed_tokens.weight'],
  relBias: 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
  finalNorm: 'encoder.final_layer_norm.weight',
  block: (i: number) => ({
    ln0: `encoder.block.${i}.layer.0.layer_norm.weight`,
    q: `encoder.block.${i}.layer.0.SelfAttention.q.weight`,
    k: `encoder.block.${i}.layer.0.SelfAttention.k.weight`,
    v: `encoder.block.${i}.layer.0.SelfAttention.v.weight`,
    o: `encoder.block.${i}.layer.0.SelfAttention.o.weight`,
    ln1: `encoder.block.${i}.layer.1.layer_norm.weight`,
    wi0: `encoder.block.${i}.layer.1.DenseReluDense.wi_0.weight`,
    wi1: `encoder.block.${i}.layer.1.DenseReluDense.wi_1.weight`,
    wi: `encoder.block.${i}.layer.1.DenseReluDense.wi.weight`,
    wo: `encoder.block.${i}.layer.1.DenseReluDense.wo.weight`,
  }),
};

type BlockWeights = Record<string, tf.Tensor>;

function gated(cfg: T5Config): boolean {
  return cfg.feed_forward_proj.startsWith('gated-');
}

function act(cfg: T5Config, x: tf.Tensor): tf.Tensor {
  if (cfg.feed_forward_proj.endsWith('relu')) return tf.relu(x);
  if (cfg.feed_forward_proj.endsWith('silu')) return tf.mul(x, tf.sigmoid(x));
  // Transformers maps plain 'gelu' to the exact (erf) GELU and only 'gated-gelu' to gelu_new.
  if (cfg.feed_forward_proj === 'gelu') return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  // gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

function rms(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), w);
}

export class T5Encoder implements TextEncoder {
  readonly config: T5Config;
  readonly tokenizer: T5Tokenizer;
  readonly maxLength: number;
  readonly dim: number;
  readonly id: string;
  private readonly weights: WeightSource;
  private readonly layerByLayer: boolean;
  private resident: Map<string, tf.Tensor> | null = null;
  private nullEmbedding: tf.Tensor | null = null;

  constructor(config: T5Config, tokenizer: T5Tokenizer, weights: WeightSource, opts: T5EncoderOptions = {}) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.weights = weights;
    this.maxLength = opts.maxLength ?? tokenizer.maxLength;
    this.dim = config.d_model;
    this.id = opts.id ?? `t5:${weights.description}:${this.maxLength}`;
    this.checkKeys();
    const fp32Bytes = () => this.allKeys().reduce((bytes, k) => bytes + 4 * this.weights.shape(k).reduce((a, b) => a * b, 1), 0);
    this.layerByLayer = opts.layerByLayer === 'auto' ? fp32Bytes() > RESIDENT_LIMIT_BYTES : (opts.layerByLayer ?? false);
    if (!this.layerByLayer) {
      this.resident = new Map();
      for (const k of this.allKeys()) this.resident.set(k, this.toTensor(k));
    }
  }

  /**
   * Loads a T5 folder as published: config.json, spiece.model or tokenizer.json (+ tokenizer_config.json),
   * and the weights in any form kernels' openCheckpoint reads (safetensors F32/F16/BF16 or PyTorch .bin,
   * one file or shards behind an index), upcast to fp32.
   */
  static fromFolder(folder: string, opts: T5EncoderOptions = {}): T5Encoder {
    const cfgFile = join(folder, 'config.json');
    if (!existsSync(cfgFile)) {
      throw new Error(`${folder}: no config.json; pass a T5 folder as published (config.json, spiece.model or tokenizer.json, model.safetensors or pytorch_model.bin, with shards and index if split).`);
    }
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(cfgFile, 'utf8'));
    } catch (err) {
      throw new Error(`${cfgFile}: not valid JSON (${(err as Error).message}); restore the config.json that came with the model.`);
    }
    const config = parseT5Config(json, cfgFile);
    const tokenizer = T5Tokenizer.fromFolder(folder, opts.maxLength);
    return new T5Encoder(config, tokenizer, new CheckpointWeights(folder), { id: `t5:${folder}:${opts.maxLength ?? tokenizer.maxLength}`, ...opts });
  }

  private embeddingKey(): string {
    const k = key.embedding.find((name) => this.weights.has(name));
    if (!k) throw new Error(`${this.weights.description}: missing 'shared.weight' (or 'encoder.embed_tokens.weight'), the token embedding [${this.config.vocab_size}, ${this.config.d_model}].`);
    return k;
  }

  private blockKeys(i: number): string[] {
    const b = key.block(i);
    const ff = gated(this.config) ? [b.wi0, b.wi1, b.wo] : [b.wi, b.wo];
    return [b.ln0, b.q, b.k, b.v, b.o, b.ln1, ...ff];
  }

  private allKeys(): string[] {
    const keys = [this.embeddingKey(), key.relBias, key.finalNorm];
    for (let i = 0; i < this.config.num_layers; i++) keys.push(...this.blockKeys(i));
    return keys;
  }

  private checkKeys(): void {
    const missing = this.allKeys().filter((k) => !this.weights.has(k));
    if (missing.length) {
      throw new Error(`${this.weights.description}: ${missing.length} encoder tensor(s) missing, e.g. '${missing[0]}'; the checkpoint does not match config (num_layers ${this.config.num_layers}, feed_forward_proj ${this.config.feed_forward_proj}).`);
    }
  }

  private toTensor(k: string): tf.Tensor {
    const h: HostTensor = this.weights.read(k);
    return tf.tensor(h.data as Float32Array, h.shape, 'float32');
  }

  private weight(k: string): tf.Tensor {
    return this.resident ? this.resident.get(k)! : this.toTensor(k);
  }

  private release(t: tf.Tensor): void {
    if (!this.resident) t.dispose();
  }

  /** Relative-position bias [1, H, L, L] from block 0's table. */
  private positionBias(L: number): tf.Tensor {
    const { relative_attention_num_buckets: nb, relative_attention_max_distance: md } = this.config;
    const buckets = new Int32Array(L * L);
    for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) buckets[i * L + j] = relativePositionBucket(j - i, nb, md);
    const table = this.weight(key.relBias); // [nb, H]
    const out = tf.tidy(() => tf.transpose(tf.reshape(tf.gather(table, tf.tensor1d(buckets, 'int32')), [L, L, -1]), [2, 0, 1]).expandDims(0));
    this.release(table);
    return out;
  }

  /**
   * Runs the encoder on token ids [B, L] with mask [B, L]; returns last_hidden_state [B, L, D].
   * With `hiddenStates`, a copy of every block's input is pushed to it (as transformers'
   * `output_hidden_states`: index 0 is the embedding output), then the final output.
   */
  forward(ids: tf.Tensor, mask: tf.Tensor, hiddenStates?: tf.Tensor[]): tf.Tensor {
    let { x, bias } = this.begin(ids, mask);
    for (let i = 0; i < this.config.num_layers; i++) {
      hiddenStates?.push(x.clone());
      const w: BlockWeights = {};
      for (const k of this.blockKeys(i)) w[k] = this.weight(k);
      x = this.runBlock(i, x, w, bias);
      for (const t of Object.values(w)) this.release(t);
    }
    return this.finish(x, bias, hiddenStates);
  }

  /**
   * forward() for a layer-by-layer encoder whose weights can be read in the background: block
   * i + 1 is read and upcast in a worker thread while block i runs, so reading T5-XXL's 9-19 GB
   * mostly hides behind its compute. The same numbers as forward().
   */
  async forwardAsync(ids: tf.Tensor, mask: tf.Tensor): Promise<tf.Tensor> {
    const background = this.weights.readInBackground?.bind(this.weights);
    if (this.resident || !background) return this.forward(ids, mask);
    const fetch = (i: number) => {
      const keys = this.blockKeys(i);
      return background(keys).then((hosts) => new Map(keys.map((k, j) => [k, hosts[j]!])));
    };
    let next = fetch(0);
    let { x, bias } = this.begin(ids, mask);
    try {
      for (let i = 0; i < this.config.num_layers; i++) {
        const hosts = await next;
        if (i + 1 < this.config.num_layers) next = fetch(i + 1);
        const w: BlockWeights = {};
        for (const [k, h] of hosts) w[k] = tf.tensor(h.data as Float32Array, h.shape, 'float32');
        x = this.runBlock(i, x, w, bias);
        tf.dispose(Object.values(w));
      }
    } catch (err) {
      tf.dispose([x, bias]);
      // A read still in flight must not reject unobserved.
      await next.catch(() => {});
      throw err;
    }
    return this.finish(x, bias);
  }

  /** The embedding output and the attention bias (relative positions + padding mask) of a batch. */
  private begin(ids: tf.Tensor, mask: tf.Tensor): { x: tf.Tensor; bias: tf.Tensor } {
    const [B, L] = ids.shape as [number, number];
    const emb = this.weight(this.embeddingKey());
    const x = tf.tidy(() => tf.gather(emb, ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32')));
    this.release(emb);
    const posBias = this.positionBias(L);
    // Padding keys get the most negative float32, as the reference's extended attention mask.
    const bias = tf.tidy(() => tf.add(posBias, tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -3.4028234663852886e38).reshape([B, 1, 1, L])));
    posBias.dispose();
    return { x, bias };
  }

  /** One encoder block on x [B, L, D] (disposed); returns its output. */
  private runBlock(i: number, x: tf.Tensor, w: BlockWeights, bias: tf.Tensor): tf.Tensor {
    const [B, L] = x.shape as [number, number, number];
    const { num_heads: H, d_kv: dk, d_model: D, layer_norm_epsilon: eps } = this.config;
    const names = key.block(i);
    const next = tf.tidy(() => {
      const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, L, H, dk]), [0, 2, 1, 3]);
      const h = tf.reshape(rms(x, w[names.ln0]!, eps), [B * L, D]);
      const q = heads(tf.matMul(h, w[names.q]!, false, true));
      const k = heads(tf.matMul(h, w[names.k]!, false, true));
      const v = heads(tf.matMul(h, w[names.v]!, false, true));
      const scores = tf.add(tf.matMul(q, k, false, true), bias);
      const ctx = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores, -1), v), [0, 2, 1, 3]), [B * L, H * dk]);
      const x1 = tf.add(x, tf.reshape(tf.matMul(ctx, w[names.o]!, false, true), [B, L, D]));
      const h2 = tf.reshape(rms(x1, w[names.ln1]!, eps), [B * L, D]);
      const inner = gated(this.config)
        ? tf.mul(act(this.config, tf.matMul(h2, w[names.wi0]!, false, true)), tf.matMul(h2, w[names.wi1]!, false, true))
        : act(this.config, tf.matMul(h2, w[names.wi]!, false, true));
      return tf.add(x1, tf.reshape(tf.matMul(inner, w[names.wo]!, false, true), [B, L, D]));
    });
    x.dispose();
    return next;
  }

  /** The final RMS norm; frees x and the bias. */
  private finish(x: tf.Tensor, bias: tf.Tensor, hiddenStates?: tf.Tensor[]): tf.Tensor {
    bias.dispose();
    const fin = this.weight(key.finalNorm);
    const out = tf.tidy(() => rms(x, fin, this.config.layer_norm_epsilon));
    this.release(fin);
    x.dispose();
    hiddenStates?.push(out.clone());
    return out;
  }

  async encode(prompts: readonly string[]): Promise<TextEncoding> {
    const tok = this.tokenizer.batch(prompts, this.maxLength);
    const ids = tf.tensor2d(tok.ids, [tok.batch, tok.length], 'int32');
    const mask = tf.tensor2d(tok.mask, [tok.batch, tok.length], 'int32');
    let hidden: tf.Tensor;
    try {
      hidden = await this.forwardAsync(ids, mask);
    } catch (err) {
      tf.dispose([ids, mask]);
      throw err;
    }
    ids.dispose();
    const states = tf.tidy(() => hidden.expandDims(1));
    hidden.dispose();
    return { states, mask };
  }

  promptTokens(prompt: string): PromptTokens {
    return this.tokenizer.promptTokens(prompt, this.maxLength);
  }

  setNullEmbedding(embedding: tf.Tensor): void {
    this.nullEmbedding = keepNullEmbedding(embedding, this.nullEmbedding, this.maxLength, this.dim);
  }

  null(n: number): TextEncoding {
    return nullEncoding(this.nullEmbedding, n, this.maxLength);
  }

  dispose(): void {
    for (const t of this.resident?.values() ?? []) t.dispose();
    this.resident = null;
    this.nullEmbedding?.dispose();
    this.nullEmbedding = null;
    this.weights.close();
  }
}
