// Prompt cleaning before T5, exactly as the reference's `text_preprocessing` does it: one pass of
// 34 steps, applied twice. Each step follows `shared/reference/clean-caption.md` (numbered as
// there); the step files hold them by concept. Steps run in this order because later ones rely on
// earlier ones (e.g. lowercase first, so no pattern needs upper case).
import { cjk, dashes, entityLeftovers, quotes } from './clean-caption-characters.js';
import { colonSpacing, dotToken, leadingMark, spaceAfterPunctuation, strip, trailingMark, whitespace, wrappingQuotes } from './clean-caption-layout.js';
import { codes, mixedCodes, shopNoise, sizes } from './clean-caption-noise.js';
import { ipAddresses, literalNewlines, longNumbers, trailingTime } from './clean-caption-numbers.js';
import type { CleaningStep } from './clean-caption-step.js';
import { dotRuns, fileNames, loneDots, quoteRuns, slugs, symbolRuns } from './clean-caption-symbols.js';
import { handles, html, httpUrls, personTag, wwwUrls } from './clean-caption-web.js';
import { fixText } from './fix-text.js';
import { htmlUnescape } from './html-entities.js';
import { pyLower, pyStrip, unquotePlus } from './python-text.js';

/** The steps of one cleaning pass, in order (clean-caption.md's numbers in the comments). */
const STEPS: readonly CleaningStep[] = [
  // 1. URL-encoded captions ("a+red%20car") become plain text first, so every later step sees it.
  { name: 'url-decoding', apply: unquotePlus },
  // 2. Ends stripped, then lowercased: the later patterns are all lower case.
  { name: 'strip-lowercase', apply: (t) => pyLower(pyStrip(t)) },
  personTag, // 3
  httpUrls, // 4
  wwwUrls, // 5
  html, // 6
  handles, // 7
  cjk, // 8
  dashes, // 9
  quotes, // 10
  entityLeftovers, // 11
  ipAddresses, // 12
  trailingTime, // 13
  literalNewlines, // 14
  longNumbers, // 15
  fileNames, // 16
  quoteRuns, // 17
  dotRuns, // 18
  symbolRuns, // 19
  loneDots, // 20
  slugs, // 21
  // 22. Text repair (ftfy's fix_text: mojibake, width, ligatures, ...), entities twice, ends stripped.
  { name: 'basic-clean', apply: (t) => pyStrip(htmlUnescape(htmlUnescape(fixText(t)))) },
  codes, // 23
  shopNoise, // 24
  mixedCodes, // 25
  sizes, // 26
  colonSpacing, // 27
  spaceAfterPunctuation, // 28
  whitespace, // 29
  wrappingQuotes, // 30
  leadingMark, // 31
  trailingMark, // 32
  dotToken, // 33
  strip, // 34
];

/** The names of the cleaning steps in the order one pass applies them. */
export const CLEANING_STEPS: readonly string[] = STEPS.map((s) => s.name);

/** One cleaning pass over a caption (the reference's `clean_caption`). */
export function cleanCaption(caption: string): string {
  return STEPS.reduce((text, step) => step.apply(text), String(caption));
}

/**
 * The text the reference feeds T5 (`text_preprocessing`): with `useCleaning` (the default),
 * `cleanCaption` applied twice; without it, only lowercased and stripped (`text.lower().strip()`).
 */
export function textPreprocessing(text: string, useCleaning = true): string {
  if (useCleaning) return cleanCaption(cleanCaption(text));
  return pyStrip(pyLower(text));
}
