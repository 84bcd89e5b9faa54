// Text embeddings computed once and kept on disk: one safetensors file per (encoder, prompt),
// named by a hash of both, holding `states` [1, L, D] and `mask` [L]; the exact cleaned prompt
// is stored in the metadata and checked on read (a hash collision or a stale file is re-encoded).
// Files are written to a temporary name and renamed, so a crash never leaves a half file.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, tf, writeSafetensors } from '@opensora-ts/kernels';
import type { TextEncoder, TextEncoding } from './text-encoder.js';

export class EmbeddingCache {
  hits = 0;
  misses = 0;
  constructor(
    readonly dir: string,
    readonly encoder: TextEncoder,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** The file that holds a prompt's embedding. */
  pathOf(prompt: string): string {
    const h = createHash('sha256').update(this.encoder.id).update('\u0000').update(prompt).digest('hex').slice(0, 32);
    return join(this.dir, `${h}.safetensors`);
  }

  private read(prompt: string): { states: Float32Array; mask: Int32Array } | undefined {
    const path = this.pathOf(prompt);
    if (!existsSync(path)) return undefined;
    let f: SafetensorsFile | undefined;
    try {
      f = new SafetensorsFile(path);
      if (f.metadata.prompt !== prompt || f.metadata.encoder !== this.encoder.id) return undefined;
      const s = f.read('states');
      const m = f.read('mask');
      if (s.shape.join() !== `1,${this.encoder.maxLength},${this.encoder.dim}` || m.shape.join() !== `${this.encoder.maxLength}`) return undefined;
      return { states: s.data as Float32Array, mask: m.data as Int32Array };
    } catch {
      return undefined; // unreadable: encode again and overwrite
    } finally {
      f?.close();
    }
  }

  /** Encodes prompts, reading cached ones and encoding (then storing) the rest in one batch. */
  async encode(prompts: readonly string[]): Promise<TextEncoding> {
    const L = this.encoder.maxLength;
    const D = this.encoder.dim;
    const states = new Float32Array(prompts.length * L * D);
    const mask = new Int32Array(prompts.length * L);
    const todo: number[] = [];
    prompts.forEach((p, i) => {
      const hit = this.read(p);
      if (hit) {
        states.set(hit.states, i * L * D);
        mask.set(hit.mask, i * L);
        this.hits++;
      } else todo.push(i);
    });
    if (todo.length) {
      const unique = [...new Set(todo.map((i) => prompts[i]!))];
      const enc = await this.encoder.encode(unique);
      const s = (await enc.states.data()) as Float32Array;
      const m = (await enc.mask.data()) as Int32Array;
      enc.states.dispose();
      enc.mask.dispose();
      unique.forEach((p, u) => {
        const ss = s.slice(u * L * D, (u + 1) * L * D);
        const mm = m.slice(u * L, (u + 1) * L);
        writeSafetensors(this.pathOf(p), { states: { shape: [1, L, D], data: ss }, mask: { shape: [L], data: mm } }, { prompt: p, encoder: this.encoder.id });
        for (const i of todo) {
          if (prompts[i] !== p) continue;
          states.set(ss, i * L * D);
          mask.set(mm, i * L);
        }
      });
      this.misses += unique.length;
    }
    return { states: tf.tensor4d(states, [prompts.length, 1, L, D]), mask: tf.tensor2d(mask, [prompts.length, L], 'int32') };
  }
}
