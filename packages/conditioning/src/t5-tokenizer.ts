// Tokenization as the reference asks of the Hugging Face T5 tokenizer: padding to max_length,
// truncation, the tokenizer's own special tokens (EOS for T5), an attention mask. The
// tokenizer itself is @huggingface/tokenizers reading a tokenizer.json, either the folder's own or
// the one transformers builds from the folder's spiece.model (t5-tokenizer-json.ts), with the
// components that library only approximates replaced by exact ports (t5-tokenizer-exact.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { decodeSentencePieceModel } from './sentencepiece-model.js';
import { exactEncoder } from './t5-tokenizer-exact.js';
import { buildT5TokenizerJson } from './t5-tokenizer-json.js';

export interface TokenizedBatch {
  /** [B * L] row-major ids. */
  ids: Int32Array;
  /** [B * L] 1 for tokens, 0 for padding. */
  mask: Int32Array;
  batch: number;
  length: number;
}

/** What the encoder will make of one prompt: its length before and after truncation, and words it has no tokens for. */
export interface PromptTokens {
  /** Tokens of the whole prompt, special tokens included, before truncation. */
  tokens: number;
  /** Tokens the encoder sees (at most its max length). */
  kept: number;
  /** The encoder's max length. */
  maxLength: number;
  /** Words (whitespace-separated, in order, once each) that tokenize to the unknown token and so carry no meaning. */
  unknown: string[];
}

export class T5Tokenizer {
  /** The @huggingface/tokenizers tokenizer (its normalizer and pre-tokenizer made exact; idsOf does not use its encode). */
  readonly tokenizer: Tokenizer;
  readonly padId: number;
  readonly maxLength: number;
  private readonly prefix: number[];
  private readonly suffix: number[];
  private readonly encodeBody: (text: string) => number[];
  /** The unknown token's id (T5: 2), or -1 when the vocabulary has none. */
  readonly unkId: number;

  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown> = {}, maxLength?: number, source = 'tokenizer.json') {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
      this.encodeBody = exactEncoder(this.tokenizer, tokenizerJson);
    } catch (err) {
      throw new Error(`${source}: cannot build a tokenizer (${(err as Error).message}); expected a Hugging Face tokenizer.json.`);
    }
    const padToken = typeof tokenizerConfig.pad_token === 'string' ? tokenizerConfig.pad_token : '<pad>';
    this.padId = this.tokenizer.token_to_id(padToken) ?? 0;
    // The model's own unk_id (T5 folders: 2 whatever the config's unk_token says), else the '<unk>' token.
    const modelUnk = (tokenizerJson.model as { unk_id?: unknown } | undefined)?.unk_id;
    this.unkId = typeof modelUnk === 'number' ? modelUnk : (this.tokenizer.token_to_id('<unk>') ?? -1);
    const configured = typeof tokenizerConfig.model_max_length === 'number' && tokenizerConfig.model_max_length < 1e6 ? tokenizerConfig.model_max_length : undefined;
    this.maxLength = maxLength ?? configured ?? 300;
    // The special tokens the post-processor adds around a single sequence (T5: none before, </s> after).
    const template = templateSpecials(tokenizerJson.post_processor);
    if (template) {
      [this.prefix, this.suffix] = template;
    } else {
      const probe = 'a';
      const plain = this.encodeBody(probe);
      const full = this.tokenizer.encode(probe, { add_special_tokens: true }).ids;
      const at = indexOfRun(full, plain);
      this.prefix = at >= 0 ? full.slice(0, at) : [];
      this.suffix = at >= 0 ? full.slice(at + plain.length) : [];
    }
  }

  /**
   * Loads a tokenizer from a Hugging Face folder: tokenizer.json when there is one, otherwise
   * spiece.model (a T5 folder as published, e.g. DeepFloyd/t5-v1_1-xxl), built as transformers'
   * AutoTokenizer builds it; tokenizer_config.json (and special_tokens_map.json) when present.
   */
  static fromFolder(folder: string, maxLength?: number): T5Tokenizer {
    const file = join(folder, 'tokenizer.json');
    const spiece = join(folder, 'spiece.model');
    const cfg = readJsonIfPresent(join(folder, 'tokenizer_config.json')) ?? {};
    if (existsSync(file)) {
      const json = readJsonIfPresent(file) ?? {};
      return new T5Tokenizer(json, cfg, maxLength, file);
    }
    if (existsSync(spiece)) return T5Tokenizer.fromSentencePiece(readFileSync(spiece), cfg, maxLength, spiece, readJsonIfPresent(join(folder, 'special_tokens_map.json')));
    throw new Error(
      `${folder}: neither tokenizer.json nor spiece.model; a T5 folder needs one of them. Download spiece.model (and tokenizer_config.json) from the model's Hugging Face repository (e.g. DeepFloyd/t5-v1_1-xxl), or save a tokenizer.json there with transformers' tokenizer.save_pretrained.`,
    );
  }

  /**
   * The tokenizer transformers' AutoTokenizer builds from a SentencePiece model (spiece.model
   * bytes) and the folder's tokenizer_config.json / special_tokens_map.json contents.
   */
  static fromSentencePiece(bytes: Uint8Array, tokenizerConfig: Record<string, unknown> = {}, maxLength?: number, source = 'spiece.model', specialTokensMap?: Record<string, unknown>): T5Tokenizer {
    const model = decodeSentencePieceModel(bytes, source);
    const setup = buildT5TokenizerJson(model, tokenizerConfig, specialTokensMap, source);
    return new T5Tokenizer(setup.tokenizerJson, setup.tokenizerConfig, maxLength, source);
  }

  /** Ids of one text with special tokens, truncated so that the special tokens still fit. */
  idsOf(text: string, maxLength = this.maxLength): number[] {
    const body = this.encodeBody(text);
    const room = Math.max(0, maxLength - this.prefix.length - this.suffix.length);
    return [...this.prefix, ...body.slice(0, room), ...this.suffix].slice(0, maxLength);
  }

  /** How long `text` is in tokens before truncation, how much of it `maxLength` keeps, and which words are unknown. */
  promptTokens(text: string, maxLength = this.maxLength): PromptTokens {
    const tokens = this.prefix.length + this.encodeBody(text).length + this.suffix.length;
    const unknown: string[] = [];
    if (this.unkId >= 0) {
      for (const word of new Set(text.split(/\s+/).filter(Boolean))) if (this.encodeBody(word).includes(this.unkId)) unknown.push(word);
    }
    return { tokens, kept: Math.min(tokens, maxLength), maxLength, unknown };
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

function readJsonIfPresent(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); fix or remove the file.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${file}: expected a JSON object; fix or remove the file.`);
  return value as Record<string, unknown>;
}

/** [ids before, ids after] a single sequence, from a TemplateProcessing post-processor's config. */
function templateSpecials(pp: unknown): [number[], number[]] | undefined {
  if (typeof pp !== 'object' || pp === null) return undefined;
  const { type, single, special_tokens: specials } = pp as { type?: unknown; single?: unknown; special_tokens?: unknown };
  if (type !== 'TemplateProcessing' || !Array.isArray(single) || typeof specials !== 'object' || specials === null) return undefined;
  const out: [number[], number[]] = [[], []];
  let side = 0;
  for (const item of single as Record<string, { id?: unknown }>[]) {
    if (item.Sequence) {
      side = 1;
    } else if (item.SpecialToken) {
      const ids = (specials as Record<string, { ids?: unknown }>)[String(item.SpecialToken.id)]?.ids;
      if (!Array.isArray(ids) || !ids.every((i) => Number.isInteger(i))) return undefined;
      out[side]!.push(...(ids as number[]));
    } else {
      return undefined;
    }
  }
  return out;
}

function indexOfRun(hay: readonly number[], needle: readonly number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
