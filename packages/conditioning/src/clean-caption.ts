// Prompt cleaning before T5 (spec §4.2 "Prompt cleaning at inference"). Written clean-room from
// the spec's list of behaviours and the input/output pairs of the shared `captions` fixture: a
// pipeline of small named steps, each removing one kind of noise that scraped captions carry.
// Where neither source pins a detail, the simplest rule was chosen (see the README's "Cleaning").
import { fixText } from './fix-text.js';
import { htmlToText } from './html-text.js';
import { PY_SPACE, PY_WORD, pyLower, pyStrip, unquotePlus } from './python-text.js';

/** One cleaning step: a name (for tests and debugging) and a pure string transform. */
interface CleaningStep {
  readonly name: string;
  readonly apply: (text: string) => string;
}

const W = `[${PY_WORD}]`;
/** Not preceded by a word character (a Unicode-aware start-of-token). */
const START = `(?<!${W})`;
/** Not followed by a word character (a Unicode-aware end-of-token). */
const END = `(?!${W})`;

/** Characters a URL's host and path are made of; '?' and '#' end it (the query is left, as the fixture shows). */
const URL_CHARS = `[${PY_WORD}\\-.~/%:+@]`;
const URL_RE = new RegExp(`${START}(?:(?:https?|ftp)://|www\\.)${URL_CHARS}*`, 'giu');
/** "@name" at the start of a token; an '@' inside a word (an e-mail address) is not a handle. */
const HANDLE_RE = new RegExp(`(?<![${PY_WORD}@])@${W}+`, 'gu');
/** Han ideographs, their radicals and compatibility forms; kana and hangul are kept (the fixture keeps katakana). */
const HAN_RE = /\p{Script=Han}/gu;
/** Every Unicode dash punctuation character (hyphen, en/em dash, horizontal bar, ...). */
const DASH_RE = /\p{Pd}/gu;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f\u00ab\u00bb]/g;
const SINGLE_QUOTE_RE = /[\u2018-\u201b\u2039\u203a]/g;
const MEDIA_EXTENSIONS = 'jpe?g|png|gif|webp|bmp|tiff?|svg|heic|mp4|m4v|mov|avi|mkv|webm|flv|wmv|mpe?g';
const FILENAME_RE = new RegExp(`(?<![${PY_WORD}.\\-])[${PY_WORD}.\\-]*${W}\\.(?:${MEDIA_EXTENSIONS})${END}`, 'giu');
const DIMENSIONS_RE = new RegExp(`${START}\\p{Nd}+[x\u00d7]\\p{Nd}+${END}`, 'gu');
const IPV4_RE = new RegExp(`(?<![${PY_WORD}.])\\p{Nd}{1,3}(?:\\.\\p{Nd}{1,3}){3}(?!${W}|\\.\\p{Nd})`, 'gu');
/** Five or more digits in a row: longer than a year, so an id, counter or phone number. */
const LONG_NUMBER_RE = new RegExp(`(?<![${PY_WORD}.,])\\p{Nd}{5,}(?!${W}|[.,]\\p{Nd})`, 'gu');
const PAGE_NUMBER_RE = new RegExp(`${START}page[${PY_SPACE}]+\\p{Nd}+${END}`, 'gu');
/** A token of letters/digits joined by '-' or '_'. */
const JOINED_TOKEN_RE = new RegExp(`[${PY_WORD}\\-]+`, 'gu');
/** A slug has at least this many '-'/'_' joints; fewer ("close-up", "state-of-the-art", "2024-01-01") is a real word. */
const SLUG_MIN_JOINTS = 4;
const DASH_RUN_RE = /-{2,}/g;
/** The spec's `#…()[]{}|\/*` set, plus '&' (the fixture drops a bare ampersand). */
const SYMBOL_RUN_RE = /[#\u2026()[\]{}|\\/*&]+/g;
const SPACE_RUN_RE = new RegExp(`[${PY_SPACE}]+`, 'gu');

function removeWrappingQuotes(text: string): string {
  for (const q of ['"', "'"]) {
    if (text.length >= 2 && text.startsWith(q) && text.endsWith(q) && !text.slice(1, -1).includes(q)) {
      return text.slice(1, -1);
    }
  }
  return text;
}

function splitSlugs(text: string): string {
  return text.replace(JOINED_TOKEN_RE, (token) => {
    const joints = token.match(/[-_]/g)?.length ?? 0;
    return joints >= SLUG_MIN_JOINTS ? token.replace(/[-_]/g, ' ') : token;
  });
}

function removeUrls(text: string): string {
  // A sentence's closing '.' or ':' after a URL is punctuation, not part of it.
  return text.replace(URL_RE, (url) => url.match(/[.:]+$/)?.[0] ?? '');
}

/** The steps of one cleaning pass, in order. */
const STEPS: readonly CleaningStep[] = [
  // Encoding damage (mojibake, ligatures, full-width forms, curly quotes) first, so later patterns see plain text.
  { name: 'fix-text', apply: fixText },
  // Markup: keep only the text of HTML tags and resolve character references.
  { name: 'html', apply: htmlToText },
  // Case carries no meaning for the encoder's prompts and makes every later pattern case-free.
  { name: 'lowercase', apply: pyLower },
  // Links say nothing about the picture; the query after '?' is left (the fixture keeps "?id=3").
  { name: 'urls', apply: removeUrls },
  // Percent-escapes and '+' of URL-encoded text become the characters they stand for.
  { name: 'url-decoding', apply: unquotePlus },
  // Social-media handles ("@name") are names of accounts, not content.
  { name: 'handles', apply: (t) => t.replace(HANDLE_RE, '') },
  // Han ideographs: the encoder's prompts are English; other scripts are left alone.
  { name: 'han', apply: (t) => t.replace(HAN_RE, '') },
  // All dash characters become '-', typographic quotes become straight ones.
  { name: 'dashes-quotes', apply: (t) => t.replace(DASH_RE, '-').replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'") },
  // Media file names ("img_1234.jpg") are metadata.
  { name: 'filenames', apply: (t) => t.replace(FILENAME_RE, '') },
  // Pixel sizes ("1920x1080") are metadata.
  { name: 'dimensions', apply: (t) => t.replace(DIMENSIONS_RE, '') },
  // IPv4 addresses are metadata.
  { name: 'ip-addresses', apply: (t) => t.replace(IPV4_RE, '') },
  // Ids and counters: numbers of five or more digits.
  { name: 'long-numbers', apply: (t) => t.replace(LONG_NUMBER_RE, '') },
  // Page references ("page 3") of scraped documents.
  { name: 'page-numbers', apply: (t) => t.replace(PAGE_NUMBER_RE, '') },
  // Runs of dashes ("--", "—-") become one '-'.
  { name: 'dash-runs', apply: (t) => t.replace(DASH_RUN_RE, '-') },
  // Slugs ("my-cute-cat_is_very-cute") become words.
  { name: 'slugs', apply: splitSlugs },
  // Hashtag marks, brackets, bars, slashes, stars, ellipses and '&' become a space.
  { name: 'symbol-runs', apply: (t) => t.replace(SYMBOL_RUN_RE, ' ') },
  // One space between words, none at the ends.
  { name: 'whitespace', apply: (t) => pyStrip(t.replace(SPACE_RUN_RE, ' ')) },
  // A caption wholly wrapped in one pair of quotes loses them.
  { name: 'wrapping-quotes', apply: (t) => pyStrip(removeWrappingQuotes(t)) },
];

/** The names of the cleaning steps in the order one pass applies them. */
export const CLEANING_STEPS: readonly string[] = STEPS.map((s) => s.name);

/** One cleaning pass over a caption (see `CLEANING_STEPS`). */
export function cleanCaption(caption: string): string {
  return STEPS.reduce((text, step) => step.apply(text), String(caption));
}

/**
 * The text the reference feeds T5: with `useCleaning` (the default), `cleanCaption` applied twice
 * (the second pass catches what the first one uncovers); without it, only lowercased and stripped.
 */
export function textPreprocessing(text: string, useCleaning = true): string {
  if (useCleaning) return cleanCaption(cleanCaption(text));
  return pyStrip(pyLower(text));
}
