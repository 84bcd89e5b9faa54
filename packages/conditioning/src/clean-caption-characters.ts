// Cleaning steps 8-11 (clean-caption.md): characters mapped to one form or dropped: Han
// ideographs and CJK symbols, the many dashes, typographic quotes, HTML entity leftovers.
import { substitute, substituteAll } from './clean-caption-step.js';

/** CJK strokes, katakana phonetic extensions, enclosed CJK, CJK compatibility, CJK ideographs (ext. A, unified), Yijing hexagrams. */
const CJK = '[\\u31c0-\\u31ef\\u31f0-\\u31ff\\u3200-\\u32ff\\u3300-\\u33ff\\u3400-\\u4dbf\\u4dc0-\\u4dff\\u4e00-\\u9fff]';
/** Hyphen-minus and the dashes of other scripts and typography (not U+2212 minus). */
const DASH =
  '[\\u002d\\u058a\\u05be\\u1400\\u1806\\u2010-\\u2015\\u2e17\\u2e1a\\u2e3a\\u2e3b\\u2e40\\u301c\\u3030\\u30a0\\ufe31\\ufe32\\ufe58\\ufe63\\uff0d]';

/** 8. CJK ideographs and symbols are removed (kana and hangul stay). */
export const cjk = substitute('cjk', `${CJK}+`, '');

/** 9. Each run of dashes becomes one '-'. */
export const dashes = substitute('dashes', `${DASH}+`, '-');

/** 10. Backtick, acute accent, guillemets, curly double quotes and diaeresis become '"'; curly single quotes "'". */
export const quotes = substituteAll('quotes', [
  ['[`\\u00b4\\u00ab\\u00bb\\u201c\\u201d\\u00a8]', '"'],
  ['[\\u2018\\u2019]', "'"],
]);

/** 11. `&quot`/`&quot;` and then `&amp` that the HTML step left (a following ';' stays). */
export const entityLeftovers = substituteAll('entity-leftovers', [
  ['&quot;?', ''],
  ['&amp', ''],
]);
