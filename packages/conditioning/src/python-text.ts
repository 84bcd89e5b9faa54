// Python 3 `re` and `str` semantics that the reference's text handling relies on, expressed
// for JavaScript: Python's \w, \d, \s and \b are Unicode-aware while JavaScript's \w, \d and \b
// stay ASCII even with the `u` flag, and Python's whitespace set differs from JavaScript's. The
// classes are Python 3.11's own (Unicode 14, see python-text-data.ts), not Node's newer ICU ones.
import { DIGIT_RANGES, SPACE_RANGES, UNASSIGNED_RANGES, WORD_RANGES } from './python-text-data.js';

/** Python's `\w` inside a character class: str.isalnum() or '_' (Unicode categories L*, N*, and '_'). */
export const PY_WORD = WORD_RANGES;
/** Python's `\s` inside a character class (also what str.strip() removes): includes \x1c-\x1f and \x85, not \ufeff. */
export const PY_SPACE = SPACE_RANGES;
/** Python's `\d` inside a character class: Unicode decimal digits (category Nd), not only 0-9. */
export const PY_DIGIT = DIGIT_RANGES;
/** Python's `\b`: a change between a word character and a non-word one (or the text's ends). */
export const PY_BOUNDARY = `(?:(?<=[${PY_WORD}])(?![${PY_WORD}])|(?<![${PY_WORD}])(?=[${PY_WORD}]))`;

/**
 * Builds a `u`-flag RegExp from a pattern written with Python's syntax: `\w \W \d \D \s \S \b` get
 * their Unicode meanings (`\w \d \s` also inside brackets), `.` does not match '\n' only, and `$`
 * matches at the end or before a final '\n' (Python without MULTILINE/DOTALL).
 */
export function pyRegExp(pattern: string, flags = 'g'): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      const n = pattern[i + 1]!;
      i++;
      if (n === 'w') out += inClass ? PY_WORD : `[${PY_WORD}]`;
      else if (n === 'd') out += inClass ? PY_DIGIT : `[${PY_DIGIT}]`;
      else if (n === 's') out += inClass ? PY_SPACE : `[${PY_SPACE}]`;
      else if (n === 'W' || n === 'D' || n === 'S') {
        const cls = n === 'W' ? PY_WORD : n === 'D' ? PY_DIGIT : PY_SPACE;
        if (inClass) throw new Error(`pyRegExp: \\${n} inside [...] is not supported (${pattern})`);
        out += `[^${cls}]`;
      } else if (n === 'b' && !inClass) out += PY_BOUNDARY;
      else if (/[A-Za-z0-9]/.test(n) || '^$\\.*+?()[]{}|/'.includes(n) || (inClass && n === '-')) out += `\\${n}`;
      // Python lets any punctuation be escaped; the `u` flag does not, so write it literally.
      else out += n;
      continue;
    }
    if (!inClass && c === '.') out += '[^\\n]';
    else if (!inClass && c === '$') out += '(?=\\n?$)';
    else {
      if (c === '[' && !inClass) inClass = true;
      else if (c === ']' && inClass) inClass = false;
      out += c;
    }
  }
  return new RegExp(out, flags.includes('u') ? flags : `${flags}u`);
}

const LEADING = new RegExp(`^[${PY_SPACE}]+`, 'u');
const TRAILING = new RegExp(`[${PY_SPACE}]+$`, 'u');

/** Python's `str.strip()` with no argument. */
export function pyStrip(s: string): string {
  return s.replace(LEADING, '').replace(TRAILING, '');
}

/** Runs of code points Python 3.11 has no character for (Node's ICU may know some of them: e.g. U+A7CB, U+1AE2). */
const UNASSIGNED = new RegExp(`([${UNASSIGNED_RANGES}]+)`, 'u');

/** Applies `f` to the text between runs of code points unknown to Python 3.11, which stay as they are. */
function outsideUnassigned(s: string, f: (part: string) => string): string {
  if (!UNASSIGNED.test(s)) return f(s);
  return s
    .split(UNASSIGNED)
    .map((part, i) => (i % 2 === 1 ? part : f(part)))
    .join('');
}

/**
 * Python's `str.lower()`: full Unicode lowercasing ('İ' -> 'i̇', final sigma), which JavaScript's
 * toLowerCase matches on every code point Python 3.11 knows; newer characters stay as they are.
 */
export function pyLower(s: string): string {
  return outsideUnassigned(s, (part) => part.toLowerCase());
}

/**
 * Python's `unicodedata.normalize('NFC', s)`. To Python 3.11 a code point assigned after Unicode 14
 * has no combining class and composes with nothing, so nothing is reordered or composed across it.
 */
export function pyNfc(s: string): string {
  return outsideUnassigned(s, (part) => part.normalize('NFC'));
}

/**
 * Python's `urllib.parse.unquote_plus`: '+' becomes a space, then each run of %XX escapes is
 * decoded as UTF-8 with invalid bytes replaced by U+FFFD; malformed escapes stay as written.
 */
export function unquotePlus(s: string): string {
  const spaced = s.replace(/\+/g, ' ');
  if (!spaced.includes('%')) return spaced;
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  return spaced.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
    return decoder.decode(bytes);
  });
}

const DIGIT = new RegExp(`[${PY_DIGIT}]`, 'gu');

/**
 * Python's `float(str)`: optional surrounding whitespace, sign, digits (any Unicode decimal digit)
 * with single underscores between them, exponent, `inf`/`infinity`/`nan` in any case. Returns
 * undefined when Python raises.
 */
export function pyFloat(s: string): number | undefined {
  // Python reads every Unicode decimal digit as its value ('١٢٣' is 123).
  const t = pyStrip(s).replace(DIGIT, (d) => String(digitValue(d)));
  const digits = '[0-9](?:_?[0-9])*';
  const num = new RegExp(`^[+-]?(?:(?:${digits})(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  if (num.test(t)) return Number(t.replace(/_/g, ''));
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  return undefined;
}

const ONE_DIGIT = new RegExp(`^[${PY_DIGIT}]$`, 'u');

/** The value of a decimal digit: Unicode encodes each set of ten in order, so it is the offset in its run modulo 10. */
function digitValue(d: string): number {
  const cp = d.codePointAt(0)!;
  let start = cp;
  while (ONE_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}
