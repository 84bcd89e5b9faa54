// The built-in text encoder of the bundled demo model: no download. Its tokenizer is built from
// a small "shapes world" vocabulary (plus the score and camera phrases), and its weights are a
// tiny T5 v1.1 encoder (same architecture as T5-XXL) drawn from a fixed seed at load, so the
// embeddings are deterministic across machines and nothing large lives in the repository.
// They are frozen random features, not a trained language model: prompts differ in their
// embeddings only through which known words they contain and where.
//
// Why `wordOrder`: a random T5's attention is nearly uniform, so each word's features are mostly the
// word itself plus an average over the prompt, and "a blue square moves left and a red circle moves
// right" comes out nearly as its colour swap does. A DiT reads the caption through cross-attention,
// and one such layer trained to name the direction a colour takes in two-shape prompts gets 65% from
// these features (4 ways; the two directions are opposite, so 50% is chance in effect). With
// `wordOrder`, a second frozen T5 whose heads each attend one way, with a bias falling with distance,
// adds channels in which words carry their neighbours: the same layer gets 95%.
import { tf, type HostTensor } from '@opensora-ts/kernels';
import { relativePositionBucket, T5Encoder } from './t5-encoder.js';
import { keepNullEmbedding, nullEncoding } from './null-caption.js';
import type { TextEncoder, TextEncoding } from './text-encoder.js';
import type { T5Config } from './t5-config.js';
import { T5Tokenizer, type PromptTokens } from './t5-tokenizer.js';
import { buildUnigramTokenizerJson } from './unigram-tokenizer.js';
import { MemoryWeights } from './t5-weights.js';

/** Words the demo encoder knows (after cleaning, prompts are lower case). */
export const DEMO_VOCABULARY: readonly string[] = [
  // colours
  'red', 'green', 'blue', 'yellow', 'orange', 'purple', 'pink', 'white', 'black', 'gray', 'grey', 'brown', 'cyan', 'magenta',
  // shapes and things
  'circle', 'circles', 'square', 'squares', 'triangle', 'triangles', 'ball', 'balls', 'box', 'boxes', 'star', 'stars', 'dot', 'dots', 'shape', 'shapes', 'line', 'lines', 'background',
  // sizes and looks
  'small', 'big', 'large', 'tiny', 'bright', 'dark', 'light', 'striped', 'solid',
  // motion
  'moves', 'move', 'moving', 'slides', 'bounces', 'bouncing', 'rotates', 'rotating', 'spins', 'grows', 'shrinks', 'falls', 'rises', 'stays', 'still',
  'left', 'right', 'up', 'down', 'across', 'around', 'slowly', 'quickly', 'fast', 'slow',
  // camera
  'camera', 'motion', 'pans', 'pan', 'zooms', 'zoom', 'tilts', 'tilt', 'in', 'out', 'static',
  // score phrases
  'the', 'aesthetic', 'score', 'is', 'terrible', 'very', 'poor', 'fair', 'good', 'excellent', 'strength', 'low', 'high', 'extremely',
  // glue
  'a', 'an', 'and', 'on', 'of', 'with', 'to', 'from', 'at', 'over', 'under', 'next', 'one', 'two', 'three', 'then',
];

export interface DemoEncoderOptions {
  /** Caption length (the demo DiT's model_max_length); default 300 like the reference. */
  maxLength?: number;
  /** Seed of the frozen weights; default 1234. A DiT trained on these embeddings needs the same seed when sampling. */
  seed?: number;
  /**
   * Append the channels of a word-order encoder (local attention, weights from seed + 1), so
   * `dim` doubles: the first half is the plain encoder's output, unchanged. Default false.
   */
  wordOrder?: boolean;
}

export const DEMO_T5_CONFIG: Omit<T5Config, 'vocab_size'> = {
  d_model: 64,
  d_kv: 16,
  d_ff: 128,
  num_layers: 2,
  num_heads: 4,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'gated-gelu',
};

// The demo weights are a model definition, not a random draw: the demo DiT's y_embedding and its
// cached training embeddings come from exactly these values. So they keep their own frozen stream
// (mulberry32, as when the demo model was made) instead of kernels' SeededRandom, whose stream may
// evolve; switch only together with a re-export of the demo model.
function frozenUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** Seeded T5 encoder weights under Hugging Face key names: N(0,1)/sqrt(fan_in) matrices, unit norms. */
export function seededT5Weights(config: T5Config, seed: number): Map<string, HostTensor> {
  const normal = gaussian(frozenUniform(seed));
  const out = new Map<string, HostTensor>();
  const matrix = (name: string, rows: number, cols: number, scale: number) => {
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = normal() * scale;
    out.set(name, { dtype: 'float32', shape: [rows, cols], data, stored: 'F32' });
  };
  const ones = (name: string, n: number) => out.set(name, { dtype: 'float32', shape: [n], data: new Float32Array(n).fill(1), stored: 'F32' });
  const { d_model: D, d_kv: dk, num_heads: H, d_ff: F } = config;
  matrix('shared.weight', config.vocab_size, D, 1);
  matrix('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', config.relative_attention_num_buckets, H, 0.5);
  for (let i = 0; i < config.num_layers; i++) {
    const p = `encoder.block.${i}.layer`;
    ones(`${p}.0.layer_norm.weight`, D);
    for (const m of ['q', 'k', 'v']) matrix(`${p}.0.SelfAttention.${m}.weight`, H * dk, D, 1 / Math.sqrt(D));
    matrix(`${p}.0.SelfAttention.o.weight`, D, H * dk, 1 / Math.sqrt(H * dk));
    ones(`${p}.1.layer_norm.weight`, D);
    matrix(`${p}.1.DenseReluDense.wi_0.weight`, F, D, 1 / Math.sqrt(D));
    matrix(`${p}.1.DenseReluDense.wi_1.weight`, F, D, 1 / Math.sqrt(D));
    matrix(`${p}.1.DenseReluDense.wo.weight`, D, F, 1 / Math.sqrt(F));
  }
  ones('encoder.final_layer_norm.weight', D);
  return out;
}

/** Heads of the word-order encoder: which way each looks (-1 earlier words, +1 later ones) and how fast its bias falls per word. */
const WORD_ORDER_HEADS: readonly (readonly [number, number])[] = [[-1, 0.5], [-1, 1], [1, 0.5], [1, 1]];

/** Relative-position bias [buckets, heads] of the word-order encoder: -slope * distance, and -30 (no attention) the other way. */
function wordOrderBias(config: T5Config): HostTensor {
  const nb = config.relative_attention_num_buckets;
  const H = WORD_ORDER_HEADS.length;
  if (config.num_heads !== H) throw new Error(`word-order encoder: num_heads ${config.num_heads}, expected ${H}.`);
  // Each bucket's nearest relative position (key - query) stands for the bucket.
  const nearest = new Map<number, number>();
  const reach = config.relative_attention_max_distance;
  for (let r = 0; r <= reach; r++) {
    for (const rel of r === 0 ? [0] : [-r, r]) {
      const b = relativePositionBucket(rel, nb, reach);
      if (!nearest.has(b)) nearest.set(b, rel);
    }
  }
  const data = new Float32Array(nb * H);
  for (let b = 0; b < nb; b++) {
    const rel = nearest.get(b) ?? reach;
    WORD_ORDER_HEADS.forEach(([way, slope], h) => {
      data[b * H + h] = rel * way < 0 ? -30 : -slope * Math.abs(rel);
    });
  }
  return { dtype: 'float32', shape: [nb, H], data, stored: 'F32' };
}

const RELATIVE_BIAS_KEY = 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight';

export class DemoTextEncoder implements TextEncoder {
  readonly maxLength: number;
  readonly dim: number;
  readonly id: string;
  readonly tokenizer: T5Tokenizer;
  private readonly plain: T5Encoder;
  private readonly wordOrder: T5Encoder | null;
  private readonly known: Set<string>;
  private nullEmbedding: tf.Tensor | null = null;

  constructor(opts: DemoEncoderOptions = {}) {
    const seed = opts.seed ?? 1234;
    const tokenizerJson = buildUnigramTokenizerJson(DEMO_VOCABULARY);
    const vocabSize = ((tokenizerJson.model as { vocab: unknown[] }).vocab).length;
    const config: T5Config = { ...DEMO_T5_CONFIG, vocab_size: vocabSize };
    this.tokenizer = new T5Tokenizer(tokenizerJson, { pad_token: '<pad>', eos_token: '</s>' }, opts.maxLength ?? 300, 'demo vocabulary');
    this.maxLength = this.tokenizer.maxLength;
    this.plain = new T5Encoder(config, this.tokenizer, new MemoryWeights(seededT5Weights(config, seed), 'demo encoder weights'));
    if (opts.wordOrder) {
      const weights = seededT5Weights(config, seed + 1);
      weights.set(RELATIVE_BIAS_KEY, wordOrderBias(config));
      this.wordOrder = new T5Encoder(config, this.tokenizer, new MemoryWeights(weights, 'demo word-order encoder weights'));
    } else {
      this.wordOrder = null;
    }
    this.dim = config.d_model * (this.wordOrder ? 2 : 1);
    this.id = `demo-t5:seed${seed}:len${this.maxLength}${this.wordOrder ? ':word-order' : ''}`;
    this.known = new Set(DEMO_VOCABULARY);
  }

  async encode(prompts: readonly string[]): Promise<TextEncoding> {
    const plain = await this.plain.encode(prompts);
    if (!this.wordOrder) return plain;
    const order = await this.wordOrder.encode(prompts);
    const states = tf.concat([plain.states, order.states], -1);
    tf.dispose([plain.states, order.states, order.mask]);
    return { states, mask: plain.mask };
  }

  setNullEmbedding(embedding: tf.Tensor): void {
    this.nullEmbedding = keepNullEmbedding(embedding, this.nullEmbedding, this.maxLength, this.dim);
  }

  null(n: number): TextEncoding {
    return nullEncoding(this.nullEmbedding, n, this.maxLength);
  }

  /** Tokens before and after truncation; `unknown` lists the words the demo vocabulary lacks (spelled letter by letter). */
  promptTokens(prompt: string): PromptTokens {
    return { ...this.tokenizer.promptTokens(prompt, this.maxLength), unknown: this.unknownWords(prompt) };
  }

  /** The words this encoder has tokens for. */
  knownWords(): ReadonlySet<string> {
    return this.known;
  }

  /** Words of a (cleaned) prompt that the demo vocabulary lacks; they are spelled letter by letter. */
  unknownWords(prompt: string): string[] {
    const words = prompt.toLowerCase().match(/[a-z0-9']+/g) ?? [];
    return [...new Set(words.filter((w) => !this.known.has(w)))];
  }

  dispose(): void {
    this.plain.dispose();
    this.wordOrder?.dispose();
    this.nullEmbedding?.dispose();
    this.nullEmbedding = null;
  }
}
