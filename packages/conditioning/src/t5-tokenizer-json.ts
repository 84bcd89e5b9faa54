// The tokenizer.json that transformers (5.x) builds for `AutoTokenizer.from_pretrained(dir)` when a
// T5 folder has spiece.model and no tokenizer.json: SentencePieceExtractor + T5Converter.convert_from_spm
// + T5Tokenizer.__init__ + TokenizersBackend's special-token registration. In short:
//  - model: Unigram over the pieces in file order (scores as stored), then `extra_ids` (default 100)
//    pieces "<extra_id_{n-1}>" ... "<extra_id_0>" with score 0; unk_id is 2 whatever the model says
//    (T5Tokenizer hard-codes it), byte_fallback off;
//  - normalizer: Precompiled with the model's charsmap (none for an `identity` model: transformers
//    itself fails on those, an empty charsmap cannot be parsed);
//  - pre-tokenizer: WhitespaceSplit then Metaspace("▁", prepend always, split); the spec's
//    add_dummy_prefix / remove_extra_whitespaces are not consulted (transformers does not either);
//  - post-processor: "$A </s>" with the id of eos_token;
//  - added tokens: control and user-defined pieces, the named special tokens (eos, unk, pad, ...)
//    and the extra ids, each with the id of its piece, or a new id after the vocabulary.
import { PieceType, type SentencePieceModel } from './sentencepiece-model.js';

type Json = Record<string, unknown>;

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** An added token before its id is known; `normalized` unset means "not special". */
type TokenSpec = Omit<AddedTokenJson, 'id' | 'normalized'> & { normalized?: boolean };

const NAMED = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

export interface T5TokenizerSetup {
  /** tokenizer.json content for @huggingface/tokenizers. */
  tokenizerJson: Json;
  /** What T5Tokenizer reads from tokenizer_config.json: pad_token, eos_token, model_max_length. */
  tokenizerConfig: Json;
}

/**
 * Builds the tokenizer transformers would build from `model` (a decoded spiece.model) with
 * `tokenizerConfig` (tokenizer_config.json, or {} when absent) and `specialTokensMap`
 * (special_tokens_map.json, read by transformers only when the config has no added_tokens_decoder).
 */
export function buildT5TokenizerJson(model: SentencePieceModel, tokenizerConfig: Json = {}, specialTokensMap?: Json, source = 'spiece.model'): T5TokenizerSetup {
  const cfg: Json = { ...tokenizerConfig };
  // _from_pretrained: additional_special_tokens is the old name of extra_special_tokens.
  if ('additional_special_tokens' in cfg) {
    if (!('extra_special_tokens' in cfg)) cfg.extra_special_tokens = cfg.additional_special_tokens;
    delete cfg.additional_special_tokens;
  }
  const modelSpecific: [string, TokenSpec][] = [];
  for (const [key, value] of Object.entries(cfg)) {
    if ((NAMED as readonly string[]).includes(key) || !key.endsWith('_token')) continue;
    const tok = tokenSpec(value, true);
    if (tok) modelSpecific.push([key, tok]);
  }
  if (isObject(cfg.extra_special_tokens)) {
    for (const [key, value] of Object.entries(cfg.extra_special_tokens)) {
      const tok = tokenSpec(value, true);
      if (tok) modelSpecific.push([key, tok]);
    }
    delete cfg.extra_special_tokens;
  }
  const decoderEntries: TokenSpec[] = [];
  if (isObject(cfg.added_tokens_decoder)) {
    const entries = Object.entries(cfg.added_tokens_decoder).sort((a, b) => Number(a[0]) - Number(b[0]));
    for (const [, value] of entries) {
      const tok = tokenSpec(value, false);
      if (tok) decoderEntries.push(tok);
    }
  } else if (specialTokensMap) {
    for (const [key, value] of Object.entries(specialTokensMap)) {
      if (key === 'extra_special_tokens' && Array.isArray(value)) {
        const existing = Array.isArray(cfg.extra_special_tokens) ? [...(cfg.extra_special_tokens as unknown[])] : [];
        for (const v of value) if (!existing.some((e) => tokenText(e) === tokenText(v))) existing.push(v);
        cfg.extra_special_tokens = existing;
      } else if (key !== 'additional_special_tokens') {
        // (additional_special_tokens from this file is overwritten by the SentencePiece extraction.)
        cfg[key] = isObject(value) ? { ...value, special: true } : value;
      }
    }
  }

  // SentencePieceExtractor + T5Converter.convert_from_spm.
  const extraIds = typeof cfg.extra_ids === 'number' ? cfg.extra_ids : 100;
  const extras = Array.from({ length: extraIds }, (_, i) => `<extra_id_${i}>`);
  const vocab: [string, number][] = model.pieces.map((p) => [p.piece, p.score]);
  for (let i = extraIds - 1; i >= 0; i--) vocab.push([`<extra_id_${i}>`, 0]);
  if (vocab.length <= 2) throw new Error(`${source}: ${model.pieces.length} pieces and ${extraIds} extra ids leave no id 2 for T5's unknown token.`);
  const spmAdded: TokenSpec[] = model.pieces
    .filter((p) => p.type === PieceType.CONTROL || p.type === PieceType.USER_DEFINED)
    .map((p) => spec(p.piece, { special: p.type === PieceType.CONTROL, normalized: false }));

  // T5Tokenizer.__init__: the sentinels join the SentencePiece special pieces unless some are there.
  let additional: TokenSpec[] = spmAdded;
  const sentinels = additional.filter((t) => t.content.includes('<extra_id_'));
  if (sentinels.length < 1) additional = [...additional, ...extras.map((e) => spec(e, { special: true }))];
  else if (extraIds > 0 && extraIds !== sentinels.length) throw new Error(`${source}: the model has ${sentinels.length} <extra_id_N> pieces but tokenizer_config.json says extra_ids ${extraIds}; transformers refuses this combination too. Set extra_ids to ${sentinels.length} (or 0).`);

  const named: [string, TokenSpec][] = [];
  const defaults: Record<string, string> = { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' };
  for (const key of NAMED) {
    const tok = tokenSpec(cfg[key] ?? defaults[key], true);
    if (tok) named.push([key, tok]);
  }
  named.push(...modelSpecific);
  const extraSpecial: TokenSpec[] = Array.isArray(cfg.extra_special_tokens)
    ? (cfg.extra_special_tokens as unknown[]).map((v) => tokenSpec(v, true)).filter((t): t is TokenSpec => t !== undefined)
    : additional;

  // TokenizersBackend.__init__: config's added_tokens_decoder, then named tokens, then extras.
  const toAdd: TokenSpec[] = [...decoderEntries];
  const initial = new Set(toAdd.map((t) => t.content));
  for (const t of [...named.map(([, t]) => t), ...extraSpecial]) {
    if (!initial.has(t.content) && !toAdd.some((a) => sameToken(a, t))) toAdd.push(t);
  }
  const namedContents = new Set(named.map(([, t]) => t.content));
  const added = addTokens(vocab, toAdd.map((t) => (!t.special && namedContents.has(t.content) ? { ...t, special: true } : t)));

  const idOf = (content: string) => added.find((t) => t.content === content)?.id ?? lastIndex(vocab, content);
  const eos = named.find(([k]) => k === 'eos_token')?.[1].content ?? '</s>';
  const eosId = idOf(eos);
  if (eosId === undefined) throw new Error(`${source}: eos_token ${JSON.stringify(eos)} has no id.`);
  const metaspace = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true };
  const charsmap = model.normalizerSpec.precompiledCharsmap;
  const tokenizerJson: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: charsmap.length > 0 ? { type: 'Precompiled', precompiled_charsmap: Buffer.from(charsmap).toString('base64') } : null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [eosId], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
  const pad = named.find(([k]) => k === 'pad_token')?.[1].content;
  const outConfig: Json = { eos_token: eos };
  if (pad !== undefined) outConfig.pad_token = pad;
  if (typeof cfg.model_max_length === 'number') outConfig.model_max_length = cfg.model_max_length;
  return { tokenizerJson, tokenizerConfig: outConfig };
}

/** tokenizers' AddedVocabulary.add_tokens: ids of pieces for known contents, new ids after the vocabulary otherwise. */
function addTokens(vocab: readonly [string, number][], tokens: readonly TokenSpec[]): AddedTokenJson[] {
  const byContent = new Map<string, AddedTokenJson>();
  let maxId = -1;
  for (const t of tokens) {
    if (t.content === '') continue;
    const existing = byContent.get(t.content);
    if (existing) {
      Object.assign(existing, t, { normalized: t.normalized ?? !t.special }); // same id, the later flags win
      continue;
    }
    let id = lastIndex(vocab, t.content);
    if (id === undefined) id = maxId >= vocab.length ? maxId + 1 : vocab.length;
    maxId = Math.max(maxId, id);
    byContent.set(t.content, { id, ...t, normalized: t.normalized ?? !t.special });
  }
  return [...byContent.values()].sort((a, b) => a.id - b.id);
}

function lastIndex(vocab: readonly [string, number][], content: string): number | undefined {
  for (let i = vocab.length - 1; i >= 0; i--) if (vocab[i]![0] === content) return i;
  return undefined;
}

function spec(content: string, flags: Partial<TokenSpec> = {}): TokenSpec {
  return { content, single_word: false, lstrip: false, rstrip: false, special: false, ...flags };
}

/** A token as tokenizer configs write it: a string (special), or an AddedToken dict. */
function tokenSpec(value: unknown, stringsAreSpecial: boolean): TokenSpec | undefined {
  if (typeof value === 'string') return spec(value, { special: stringsAreSpecial });
  if (isObject(value) && typeof value.content === 'string') {
    const flag = (k: string, d: boolean) => (typeof value[k] === 'boolean' ? (value[k] as boolean) : d);
    const t: TokenSpec = { content: value.content, single_word: flag('single_word', false), lstrip: flag('lstrip', false), rstrip: flag('rstrip', false), special: flag('special', false) };
    if (typeof value.normalized === 'boolean') t.normalized = value.normalized;
    return t;
  }
  return undefined;
}

function tokenText(value: unknown): string | undefined {
  return typeof value === 'string' ? value : isObject(value) && typeof value.content === 'string' ? value.content : undefined;
}

function sameToken(a: TokenSpec, b: TokenSpec): boolean {
  return a.content === b.content && a.special === b.special && a.normalized === b.normalized && a.lstrip === b.lstrip && a.rstrip === b.rstrip && a.single_word === b.single_word;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
