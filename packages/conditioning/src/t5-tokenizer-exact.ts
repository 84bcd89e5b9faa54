// Where @huggingface/tokenizers (JS, 0.2.0) departs from the Rust `tokenizers` that transformers
// runs, for the components a T5 (SentencePiece Unigram) tokenizer uses, this file swaps in the
// Rust behaviour on an already built `Tokenizer`:
//  - Precompiled normalizer: JS ignores the charsmap and applies NFKC plus fixed whitespace and
//    control-character rules; here the charsmap itself is applied (sentencepiece-charsmap.ts).
//  - WhitespaceSplit: JS splits on /\s/ (includes U+FEFF, lacks U+0085); Rust on char::is_whitespace
//    (the Unicode White_Space property).
//  - Metaspace with split: JS never splits on "▁"; Rust splits each word before every "▁".
//  - Unigram: JS scores a literal occurrence of the unknown piece (e.g. "<unk>") as an unknown
//    character and fuses runs of unknown tokens across pre-tokens; Rust keeps the piece's own
//    score and fuses within one pre-token only.
//  - added tokens: JS also takes a whole normalized section that equals an added token's text as
//    that token (full-width "＜／ｓ＞" normalizes to "</s>"); Rust matches tokens with
//    normalized=false on the raw text only. So the encoding pipeline itself is Rust's here.
// The Unigram lattice, the other normalizers and pre-tokenizers, and the config parsing stay the library's.
import { Normalizer, PreTokenizer, SequenceNormalizer, Unigram, type Tokenizer } from '@huggingface/tokenizers';
import { PrecompiledCharsmap } from './sentencepiece-charsmap.js';

type Json = Record<string, unknown>;

function base64ToBytes(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

class CharsmapNormalizer extends Normalizer {
  constructor(private readonly charsmap: PrecompiledCharsmap) {
    super({ type: 'Precompiled' } as never);
  }
  normalize(text: string): string {
    return this.charsmap.normalize(text);
  }
}

const WHITE_SPACE = /\p{White_Space}+/u;

/** WhitespaceSplit and Metaspace (prepend "always"/"never", split or not) as Rust runs them. */
class ExactPreTokenizer extends PreTokenizer {
  constructor(private readonly steps: readonly ((words: string[]) => string[])[]) {
    super();
  }
  pre_tokenize_text(text: string): string[] {
    return this.steps.reduce((words, step) => step(words), [text]).filter((w) => w.length > 0);
  }
}

function whitespaceSplit(words: string[]): string[] {
  return words.flatMap((w) => w.split(WHITE_SPACE).filter((p) => p.length > 0));
}

function metaspace(replacement: string, prepend: boolean, split: boolean): (words: string[]) => string[] {
  return (words) =>
    words.flatMap((w) => {
      let s = w.replaceAll(' ', replacement);
      if (prepend && !s.startsWith(replacement)) s = replacement + s;
      if (!split) return [s];
      // Split before every replacement character: each "▁" starts a piece, "▁▁a" -> ["▁", "▁a"].
      const parts: string[] = [];
      let start = 0;
      for (let i = s.indexOf(replacement, 1); i > 0; i = s.indexOf(replacement, i + replacement.length)) {
        parts.push(s.slice(start, i));
        start = i;
      }
      parts.push(s.slice(start));
      return parts.filter((p) => p.length > 0);
    });
}

function preTokenizerSteps(config: Json | null | undefined): ((words: string[]) => string[])[] | undefined {
  if (!config) return undefined;
  switch (config.type) {
    case 'WhitespaceSplit':
      return [whitespaceSplit];
    case 'Metaspace': {
      const replacement = typeof config.replacement === 'string' ? config.replacement : '\u2581';
      const scheme = typeof config.prepend_scheme === 'string' ? config.prepend_scheme : config.add_prefix_space === false ? 'never' : 'always';
      if (scheme !== 'always' && scheme !== 'never') return undefined; // 'first' depends on offsets; keep the library's
      return [metaspace(replacement, scheme === 'always', config.split !== false)];
    }
    case 'Sequence': {
      const steps: ((words: string[]) => string[])[] = [];
      for (const sub of (config.pretokenizers as Json[] | undefined) ?? []) {
        const s = preTokenizerSteps(sub);
        if (!s) return undefined;
        steps.push(...s);
      }
      return steps;
    }
    default:
      return undefined;
  }
}

function exactNormalizer(config: Json | null | undefined, built: Normalizer | null): Normalizer | null {
  if (!config || !built) return built;
  if (config.type === 'Precompiled') {
    const b64 = config.precompiled_charsmap;
    if (typeof b64 !== 'string' || b64.length === 0) return built;
    return new CharsmapNormalizer(new PrecompiledCharsmap(base64ToBytes(b64)));
  }
  if (config.type === 'Sequence' && built instanceof SequenceNormalizer) {
    const subs = (config.normalizers as Json[] | undefined) ?? [];
    const seq = built as unknown as { normalizers: (Normalizer | null)[] };
    seq.normalizers = seq.normalizers.map((n, i) => exactNormalizer(subs[i], n));
  }
  return built;
}

interface AddedTokenJson {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

/** Leftmost-longest matching of added tokens, as tokenizers' AddedVocabulary splits text. */
class AddedTokenSplitter {
  private readonly root = new Map<string, TrieNode>();
  constructor(tokens: readonly { key: string; token: AddedTokenJson }[]) {
    for (const { key, token } of tokens) {
      if (key === '') continue;
      let level = this.root;
      let node: TrieNode | undefined;
      for (const ch of key) {
        node = level.get(ch);
        if (!node) level.set(ch, (node = { next: new Map() }));
        level = node.next;
      }
      node!.token = token;
    }
  }
  /** Sections of `text`: strings to tokenize and the added tokens found between them. */
  split(text: string): (string | AddedTokenJson)[] {
    const out: (string | AddedTokenJson)[] = [];
    if (this.root.size === 0) return [text];
    let from = 0; // end of the previous match
    let i = 0;
    while (i < text.length) {
      let level = this.root;
      let match: { token: AddedTokenJson; end: number } | undefined;
      let j = i;
      while (j < text.length) {
        const cp = text.codePointAt(j)!;
        const ch = String.fromCodePoint(cp);
        const node = level.get(ch);
        if (!node) break;
        j += ch.length;
        if (node.token) match = { token: node.token, end: j };
        level = node.next;
      }
      if (!match) {
        i += text.codePointAt(i)! > 0xffff ? 2 : 1;
        continue;
      }
      let start = i;
      let end = match.end;
      const tok = match.token;
      if (tok.single_word && ((start > 0 && WORD_END.test(text.slice(0, start))) || (end < text.length && WORD_START.test(text.slice(end))))) {
        i = end;
        continue;
      }
      if (tok.lstrip) start = Math.max(from, text.slice(0, start).replace(TRAILING_SPACE, '').length);
      if (tok.rstrip) end += (LEADING_SPACE.exec(text.slice(end))?.[0].length ?? 0);
      if (start > from) out.push(text.slice(from, start));
      out.push(tok);
      from = end;
      i = end;
    }
    if (from < text.length) out.push(text.slice(from));
    return out;
  }
}
interface TrieNode {
  next: Map<string, TrieNode>;
  token?: AddedTokenJson;
}
// Rust regex's Unicode \w and \s.
const WORD_CHAR = '[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]';
const WORD_END = new RegExp(`${WORD_CHAR}$`, 'u');
const WORD_START = new RegExp(`^${WORD_CHAR}`, 'u');
const TRAILING_SPACE = /\p{White_Space}+$/u;
const LEADING_SPACE = /^\p{White_Space}+/u;

/**
 * Replaces the components of `tokenizer` (built from `json`) that the JS library approximates
 * with their Rust behaviour, and returns the encoding pipeline of Rust tokenizers (added tokens
 * split from the raw text, then normalize, pre-tokenize, model) giving the ids of a text without
 * special tokens. Throws when the json's precompiled charsmap cannot be parsed.
 */
export function exactEncoder(tokenizer: Tokenizer, json: Json): (text: string) => number[] {
  tokenizer.normalizer = exactNormalizer(json.normalizer as Json | null, tokenizer.normalizer);
  const steps = preTokenizerSteps(json.pre_tokenizer as Json | null);
  if (steps) tokenizer.pre_tokenizer = new ExactPreTokenizer(steps);
  const normalizer = tokenizer.normalizer;
  const preTokenizer = tokenizer.pre_tokenizer;
  const model = tokenizer.model;

  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as AddedTokenJson[]) : [];
  const raw = new AddedTokenSplitter(added.filter((t) => t.normalized === false || (t.normalized === undefined && t.special)).map((token) => ({ key: token.content, token })));
  const normalizedTokens = added.filter((t) => t.normalized === true || (t.normalized === undefined && !t.special));
  const norm = new AddedTokenSplitter(normalizedTokens.map((token) => ({ key: normalizer ? normalizer.normalize(token.content) : token.content, token })));

  let wordsToIds: (words: string[]) => number[];
  if (model instanceof Unigram && typeof model.unk_token_id === 'number') {
    const unk = model.unk_token_id;
    const vocab = (json.model as { vocab: [string, number][] }).vocab;
    const own = vocab[unk]?.[1];
    if (typeof own === 'number') model.scores[unk] = own; // the library gives the piece the unknown-character score
    const pieceIds = new Map<string, number>();
    vocab.forEach(([piece], id) => pieceIds.set(piece, id));
    const idOf = (t: string) => pieceIds.get(t) ?? unk;
    wordsToIds = (words) =>
      words.flatMap((word) => {
        // Rust Unigram: consecutive unknown tokens of one pre-token become one unknown token.
        const ids: number[] = [];
        let prevUnknown = false;
        for (const t of model.tokenize(word)) {
          const id = idOf(t);
          if (!(id === unk && prevUnknown)) ids.push(id);
          prevUnknown = id === unk;
        }
        return ids;
      });
  } else if (model) {
    const unk = model.unk_token_id;
    wordsToIds = (words) => model(words).map((t) => model.tokens_to_ids.get(t) ?? unk ?? 0);
  } else {
    throw new Error('tokenizer.json has no model');
  }

  return (text) => {
    const ids: number[] = [];
    for (const [sectionIndex, section] of raw.split(text).entries()) {
      if (typeof section !== 'string') {
        ids.push(section.id);
        continue;
      }
      const normalized = normalizer ? normalizer.normalize(section) : section;
      for (const sub of norm.split(normalized)) {
        if (typeof sub !== 'string') {
          ids.push(sub.id);
          continue;
        }
        const words = preTokenizer ? preTokenizer.pre_tokenize(sub, { section_index: sectionIndex }) : [sub];
        ids.push(...wordsToIds(words.filter((w) => w.length > 0)));
      }
    }
    return ids;
  };
}
