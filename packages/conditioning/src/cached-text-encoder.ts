// A text encoder that only reads embeddings cached on disk (the files EmbeddingCache writes: one
// safetensors per prompt with `states` [1, L, D], `mask` [L] and the prompt in the metadata). It
// lets a pipeline run without the (large) encoder that made them, and fails naming the prompt and
// the folder when one is missing.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, tf } from '@opensora-ts/kernels';
import type { TextEncoder, TextEncoding } from './text-encoder.js';
import { keepNullEmbedding, nullEncoding } from './null-caption.js';

interface Entry {
  file: string;
  encoder: string;
}

export class CachedTextEncoder implements TextEncoder {
  readonly maxLength: number;
  readonly dim: number;
  readonly id: string;
  private nullEmbedding: tf.Tensor | null = null;

  private constructor(
    readonly dir: string,
    private readonly entries: Map<string, Entry>,
    shape: [number, number],
    encoderId: string,
  ) {
    [this.maxLength, this.dim] = shape;
    this.id = encoderId;
  }

  /** Indexes every embedding file in `dir`; they must come from one encoder (one L and D). */
  static fromFolder(dir: string): CachedTextEncoder {
    let names: string[];
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a folder');
      names = readdirSync(dir).filter((f) => f.endsWith('.safetensors') && !f.startsWith('.'));
    } catch (err) {
      throw new Error(`${dir}: cannot read the text-embedding cache (${(err as Error).message}); pass a folder written by EmbeddingCache.`);
    }
    const entries = new Map<string, Entry>();
    let shape: [number, number] | null = null;
    let encoderId: string | null = null;
    for (const name of names.sort()) {
      const file = join(dir, name);
      const f = new SafetensorsFile(file);
      try {
        const prompt = f.metadata.prompt;
        const encoder = f.metadata.encoder;
        if (prompt === undefined || encoder === undefined || !f.keys().includes('states') || !f.keys().includes('mask')) continue;
        const s = f.info('states').shape;
        if (s.length !== 3 || s[0] !== 1) throw new Error(`${file}: 'states' has shape [${s}], expected [1, L, D].`);
        const here: [number, number] = [s[1]!, s[2]!];
        if (shape && (shape[0] !== here[0] || shape[1] !== here[1])) {
          throw new Error(`${file}: embeddings of shape [${here}] mixed with [${shape}] in ${dir}; keep one encoder's cache per folder.`);
        }
        if (encoderId !== null && encoderId !== encoder) {
          throw new Error(`${file}: made by encoder '${encoder}', other files by '${encoderId}'; keep one encoder's cache per folder.`);
        }
        shape = here;
        encoderId = encoder;
        entries.set(prompt, { file, encoder });
      } finally {
        f.close();
      }
    }
    if (!shape || encoderId === null) throw new Error(`${dir}: no cached text embeddings (safetensors files with 'states', 'mask' and a 'prompt' in the metadata).`);
    return new CachedTextEncoder(dir, entries, shape, encoderId);
  }

  /** The prompts this cache holds. */
  prompts(): string[] {
    return [...this.entries.keys()];
  }

  has(prompt: string): boolean {
    return this.entries.has(prompt);
  }

  async encode(prompts: readonly string[]): Promise<TextEncoding> {
    const missing = prompts.filter((p) => !this.entries.has(p));
    if (missing.length) {
      throw new Error(`${this.dir}: no cached embedding for prompt ${JSON.stringify(missing[0])}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}; the cache holds ${this.entries.size} prompt(s). Encode it with the original text encoder (EmbeddingCache) first, or pass that encoder.`);
    }
    const L = this.maxLength;
    const D = this.dim;
    const states = new Float32Array(prompts.length * L * D);
    const mask = new Int32Array(prompts.length * L);
    prompts.forEach((p, i) => {
      const f = new SafetensorsFile(this.entries.get(p)!.file);
      try {
        states.set(f.read('states').data as Float32Array, i * L * D);
        mask.set(Int32Array.from(f.read('mask').data as ArrayLike<number>), i * L);
      } finally {
        f.close();
      }
    });
    return { states: tf.tensor4d(states, [prompts.length, 1, L, D]), mask: tf.tensor2d(mask, [prompts.length, L], 'int32') };
  }

  setNullEmbedding(embedding: tf.Tensor): void {
    this.nullEmbedding = keepNullEmbedding(embedding, this.nullEmbedding, this.maxLength, this.dim);
  }

  null(n: number): TextEncoding {
    return nullEncoding(this.nullEmbedding, n, this.maxLength);
  }

  dispose(): void {
    this.nullEmbedding?.dispose();
    this.nullEmbedding = null;
  }
}
