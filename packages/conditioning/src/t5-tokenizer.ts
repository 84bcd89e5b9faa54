// Tokenization as the reference asks of the Hugging Face T5 tokenizer: padding to max_length,
// truncation, the tokenizer's own special tokens (EOS for T5), an attention mask. The
// tokenizer itself is @huggingface/tokenizers reading a local tokenizer.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export interface TokenizedBatch {
  /** [B * L] row-major ids. */
  ids: Int32Array;
  /** [B * L] 1 for tokens, 0 for padding. */
  mask: Int32Array;
  batch: number;
  length: number;
}

export class T5Tokenizer {
  readonly tokenizer: Tokenizer;
  readonly padId: number;
  readonly maxLength: number;
  private readonly prefix: number[];
  private readonly suffix: number[];

  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown> = {}, maxLength?: number, source = 'tokenizer.json') {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (err) {
      throw new Error(`${source}: cannot build a tokenizer (${(err as Error).message}); expected a Hugging Face tokenizer.json.`);
    }
    const padToken = typeof tokenizerConfig.pad_token === 'string' ? tokenizerConfig.pad_token : '<pad>';
    this.padId = this.tokenizer.token_to_id(padToken) ?? 0;
    const configured = typeof tokenizerConfig.model_max_length === 'number' && tokenizerConfig.model_max_length < 1e6 ? tokenizerConfig.model_max_length : undefined;
    this.maxLength = maxLength ?? configured ?? 300;
    // The special tokens the post-processor adds around a single sequence (T5: none before, </s> after).
    const probe = 'a';
    const plain = this.tokenizer.encode(probe, { add_special_tokens: false }).ids;
    const full = this.tokenizer.encode(probe, { add_special_tokens: true }).ids;
    const at = indexOfRun(full, plain);
    this.prefix = at >= 0 ? full.slice(0, at) : [];
    this.suffix = at >= 0 ? full.slice(at + plain.length) : [];
  }

  /** Loads tokenizer.json (+ tokenizer_config.json when present) from a folder. */
  static fromFolder(folder: string, maxLength?: number): T5Tokenizer {
    const file = join(folder, 'tokenizer.json');
    if (!existsSync(file)) throw new Error(`${folder}: no tokenizer.json; the folder must hold a Hugging Face tokenizer.json (convert spiece.model with transformers' T5TokenizerFast.save_pretrained).`);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const cfgFile = join(folder, 'tokenizer_config.json');
    const cfg = existsSync(cfgFile) ? (JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>) : {};
    return new T5Tokenizer(json, cfg, maxLength, file);
  }

  /** Ids of one text with special tokens, truncated so that the special tokens still fit. */
  idsOf(text: string, maxLength = this.maxLength): number[] {
    const body = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const room = Math.max(0, maxLength - this.prefix.length - this.suffix.length);
    return [...this.prefix, ...body.slice(0, room), ...this.suffix].slice(0, maxLength);
  }

  /** Pads every text to `maxLength` ("max_length" padding, right side). */
  batch(texts: readonly string[], maxLength = this.maxLength): TokenizedBatch {
    const ids = new Int32Array(texts.length * maxLength).fill(this.padId);
    const mask = new Int32Array(texts.length * maxLength);
    texts.forEach((t, b) => {
      const row = this.idsOf(t, maxLength);
      ids.set(row, b * maxLength);
      mask.fill(1, b * maxLength, b * maxLength + row.length);
    });
    return { ids, mask, batch: texts.length, length: maxLength };
  }
}

function indexOfRun(hay: readonly number[], needle: readonly number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
