// What the text encoder will make of a prepared prompt, said before any sampling: words the demo
// model does not know, words a T5 tokenizer has no tokens for, a prompt cut to the encoder's
// length, a prompt the reference's cleaning empties. Nothing may differ from what was asked silently.
import type { Models } from './models.js';

export interface PromptTokenReport {
  /** Tokens of the longest loop text before truncation, how many are kept, the encoder's length. */
  count: number;
  kept: number;
  maxLength: number;
}

export interface PromptReport {
  /** null where the encoder cannot tell (cached embeddings). */
  tokens: PromptTokenReport | null;
  unknownWords: string[] | null;
  /** Warning lines, in the order they are shown. */
  warnings: string[];
}

function demoVocabularyWarning(models: Models, index: number, text: string): string | null {
  const unknown = models.unknownWords?.(text) ?? [];
  if (unknown.length === 0) return null;
  return `prompt ${index}: the demo model does not know ${unknown.map((w) => `"${w}"`).join(', ')}; those words are spelled letter by letter and carry no meaning. It was trained on shapes world and knows: ${models.knownWords!().join(' ')}. Example: "a red circle moves to the left", "the camera pans right over blue squares".`;
}

/** The warnings and token counts of one prompt (`index` names it in messages). */
export function reportPrompt(models: Models, index: number, given: string, text: { emptyAfterCleaning: boolean; perLoop: string[] }): PromptReport {
  const warnings: string[] = [];
  const vocabulary = demoVocabularyWarning(models, index, [...new Set(text.perLoop)].join(' '));
  if (vocabulary) warnings.push(vocabulary);
  const encoder = models.text;
  const reports = encoder.promptTokens ? [...new Set(text.perLoop)].map((t) => encoder.promptTokens!(t)) : null;
  const longest = reports?.reduce((a, b) => (b.tokens > a.tokens ? b : a)) ?? null;
  const unknown = reports ? [...new Set(reports.flatMap((r) => r.unknown))] : null;
  if (text.emptyAfterCleaning) {
    warnings.push(
      `prompt ${index}: ${JSON.stringify(given)} is empty after the reference's text cleaning (it removes CJK characters, URLs, @handles, file names and most symbols), so the sample follows no description. Write the prompt in English.`,
    );
  }
  if (longest && longest.tokens > longest.kept) {
    warnings.push(`prompt ${index}: ${longest.tokens} tokens, but the text encoder keeps ${longest.kept} (its max length ${longest.maxLength}); the last ${longest.tokens - longest.kept} tokens are dropped. Shorten the prompt.`);
  }
  // The demo model has its own, longer message (with the words it knows).
  if (unknown && unknown.length && !models.unknownWords) {
    warnings.push(`prompt ${index}: the text encoder has no tokens for ${unknown.map((w) => `"${w}"`).join(', ')}; they become its unknown token and carry no meaning.`);
  }
  return { tokens: longest ? { count: longest.tokens, kept: longest.kept, maxLength: longest.maxLength } : null, unknownWords: unknown, warnings };
}
