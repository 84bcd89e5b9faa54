// A T5-style tokenizer.json built from a word list: SentencePiece-like Unigram model with "▁"
// word starts, single characters as the fallback for unknown words, <pad>=0, </s>=1, <unk>=2,
// and "</s>" appended to every sequence. Used by the demo encoder and by tests.

export const FALLBACK_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789.,:;!?\'"-()';

/** Builds tokenizer.json content whose vocabulary is: specials, "▁word" per word, "▁", then characters. */
export function buildUnigramTokenizerJson(words: readonly string[], chars = FALLBACK_CHARS): Record<string, unknown> {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const vocab: [string, number][] = [
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
  ];
  const seen = new Set<string>();
  for (const w of words) {
    const piece = `▁${w}`;
    if (!seen.has(piece)) vocab.push([piece, -5]);
    seen.add(piece);
  }
  vocab.push(['▁', -6]);
  for (const c of chars) vocab.push([c, -10]);
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
}
