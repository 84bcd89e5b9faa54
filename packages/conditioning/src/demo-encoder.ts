// The built-in text encoder of the bundled demo model: no download. Its tokenizer is built from
// a small "shapes world" vocabulary (plus the score and camera phrases), and its weights are a
// tiny T5 v1.1 encoder (same architecture as T5-XXL) drawn from a fixed seed at load, so the
// embeddings are deterministic across machines and nothing large lives in the repository.
// They are frozen random features, not a trained language model: prompts differ in their
// embeddings only through which known words they contain and where.
import type { HostTensor } from '@opensora-ts/kernels';
import { T5Encoder } from './t5-encoder.js';
import type { T5Config } from './t5-config.js';
import { T5Tokenizer } from './t5-tokenizer.js';
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

export class DemoTextEncoder extends T5Encoder {
  private readonly known: Set<string>;

  constructor(opts: DemoEncoderOptions = {}) {
    const seed = opts.seed ?? 1234;
    const tokenizerJson = buildUnigramTokenizerJson(DEMO_VOCABULARY);
    const vocabSize = ((tokenizerJson.model as { vocab: unknown[] }).vocab).length;
    const config: T5Config = { ...DEMO_T5_CONFIG, vocab_size: vocabSize };
    const tokenizer = new T5Tokenizer(tokenizerJson, { pad_token: '<pad>', eos_token: '</s>' }, opts.maxLength ?? 300, 'demo vocabulary');
    super(config, tokenizer, new MemoryWeights(seededT5Weights(config, seed), 'demo encoder weights'), {
      id: `demo-t5:seed${seed}:len${tokenizer.maxLength}`,
    });
    this.known = new Set(DEMO_VOCABULARY);
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
}
