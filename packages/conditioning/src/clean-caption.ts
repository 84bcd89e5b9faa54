// Prompt cleaning as the reference applies it before T5 (PixArt-style caption cleaning, run
// twice). Written from the reference's observable behaviour (its input/output pairs and a
// description of each effect), not from its source, which carries an AGPL notice.
// Regular expressions use Python's Unicode meanings of \w \d \s \b (see python-text.ts).
import { fixText } from './fix-text.js';
import { htmlUnescape } from './html-entities.js';
import { htmlToText } from './html-text.js';
import { pyLower, pyRegExp, pyStrip, unquotePlus } from './python-text.js';

type Step = (s: string) => string;
const sub = (pattern: string, replacement: string): Step => {
  const re = pyRegExp(pattern);
  return (s) => s.replace(re, replacement);
};

const TLD = '(?:com|co|ru|net|org|edu|gov|it)';
/** Host names ending in a common TLD, with a path; not when followed by '@'. */
const HOST = `[a-zA-Z0-9.\\-]+[.]${TLD}[\\w/-]*\\b\\/?(?!@)`;
const FILE_EXT = '(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)';
/** Unicode dash punctuation (category Pd of the Basic Multilingual Plane, Unicode 10). */
const DASHES = '[\\u002D\\u058A\\u05BE\\u1400\\u1806\\u2010-\\u2015\\u2E17\\u2E1A\\u2E3A\\u2E3B\\u2E40\\u301C\\u3030\\u30A0\\uFE31\\uFE32\\uFE58\\uFE63\\uFF0D]+';
/** Symbols and brackets that become a space wherever they run together. */
const NOISE_SYMBOLS = '[#®•©™&@·º½¾¿¡§~)(\\][}{|\\\\/*]+';

/** Effects up to the text repair: decoding, case, links, markup, handles, CJK, punctuation. */
const FIRST: Step[] = [
  unquotePlus, // percent-escapes and '+' as in a URL query
  (s) => pyLower(pyStrip(s)),
  (s) => s.replaceAll('<person>', 'person'),
  sub(`\\b((?:https?:(?:\\/{1,3}|[a-zA-Z0-9%])|${HOST}))`, ''), // http(s) links and bare host names
  sub(`\\b((?:www:(?:\\/{1,3}|[a-zA-Z0-9%])|${HOST}))`, ''), // a second sweep (www: form)
  htmlToText,
  sub('@[\\w\\d]+\\b', ''), // @handles
  sub('[\\u31c0-\\u9fff]+', ''), // CJK strokes, enclosed/compatibility forms, ideographs (katakana stays)
  sub(DASHES, '-'),
  sub('[`´«»“”¨]', '"'),
  sub('[‘’]', "'"),
  sub('&quot;?', ''),
  sub('&amp', ''),
  sub('\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}', ' '), // IPv4 addresses
  sub('\\d:\\d\\d\\s+$', ''), // a trailing "1:23 " article id
  sub('\\\\n', ' '), // a literal backslash-n
  sub('#\\d{1,3}\\b', ''),
  sub('#\\d{5,}\\b', ''),
  sub('\\b\\d{6,}\\b', ''), // long numbers
  sub(`\\S+\\.${FILE_EXT}`, ''), // file names
  sub('["\']{2,}', '"'),
  sub('[\\.]{2,}', ' '),
  sub(NOISE_SYMBOLS, ' '),
  sub('\\s+\\.\\s+', ' '), // a lone " . "
  (s) => {
    // slug-like captions (this-is-my-cat, this_is_my_cat): more than three - or _ become spaces
    const n = s.match(/[-_]/g)?.length ?? 0;
    return n > 3 ? s.replace(/[-_]/g, ' ') : s;
  },
  (s) => pyStrip(htmlUnescape(htmlUnescape(fixText(s)))),
];

/** Effects after the repair: code-like tokens, shop phrases, sizes, spacing, edge punctuation. */
const SECOND: Step[] = [
  sub('\\b[a-zA-Z]{1,3}\\d{3,15}\\b', ''), // jc6640
  sub('\\b[a-zA-Z]+\\d+[a-zA-Z]+\\b', ''), // jc6640vc
  sub('\\b\\d+[a-zA-Z]+\\d+\\b', ''), // 6640vc231
  sub('(worldwide\\s+)?(free\\s+)?shipping', ''),
  sub('(free\\s)?download(\\sfree)?', ''),
  sub('\\bclick\\b\\s(?:for|on)\\s\\w+', ''),
  sub(`\\b${FILE_EXT}(\\simage[s]?)?`, ''),
  sub('\\bpage\\s+\\d+\\b', ''),
  sub('\\b\\d*[a-zA-Z]+\\d+[a-zA-Z]+\\d+[a-zA-Z\\d]*\\b', ' '), // j2d1a2a
  sub('\\b\\d+\\.?\\d*[xх×]\\d+\\.?\\d*\\b', ''), // 1920x1080
  sub('\\b\\s+\\:\\s+', ': '),
  sub('(\\D[,\\./])\\b', '$1 '), // a space after , . / that touches a word
  sub('\\s+', ' '),
  sub('^["\'](.+)["\']$', '$1'), // surrounding quotes
  sub("^['_,\\-\\:;]", ''),
  sub("['_,\\-\\:\\-\\+]$", ''),
  sub('^\\.\\S+$', ''), // a lone ".token"
  pyStrip,
];

/** One pass of the caption cleaning. */
export function cleanCaption(caption: string): string {
  let s = caption;
  for (const step of FIRST) s = step(s);
  for (const step of SECOND) s = step(s);
  return s;
}

/** The reference's `text_preprocessing`: the cleaning applied twice (as in training). */
export function textPreprocessing(text: string, useCleaning = true): string {
  if (!useCleaning) return pyLower(pyStrip(text));
  return cleanCaption(cleanCaption(text));
}
