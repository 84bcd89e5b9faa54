// Python 3 `re` and `str` semantics that the reference's text handling relies on, expressed
// for JavaScript: Python's \w, \d, \s and \b are Unicode-aware while JavaScript's \w and \b stay
// ASCII even with the `u` flag, and Python's whitespace set differs from JavaScript's.

/** Python's `\w` inside a character class: letters, digits/numerics, underscore. */
export const PY_WORD = '\\p{L}\\p{N}_';
/** Python's `\s` inside a character class (str.isspace): includes \x1c-\x1f and \x85, not \ufeff. */
export const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Python's `\d`: Unicode decimal digits. */
export const PY_DIGIT = '\\p{Nd}';
/** Python's `\b`: a Unicode word boundary. */
export const PY_BOUNDARY = `(?:(?<=[${PY_WORD}])(?![${PY_WORD}])|(?<![${PY_WORD}])(?=[${PY_WORD}]))`;

/**
 * Builds a `u`-flag RegExp from a pattern written with Python's class escapes: `\w \W \d \D \s \S \b`
 * are rewritten to their Unicode meanings (also inside brackets for `\w \d \s`).
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
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  // `s`: '.' matches every character, which is how the patterns here use [\w\W].
  return new RegExp(out, flags.includes('u') ? flags : `${flags}us`);
}

const SPACE_CLASS = `[${PY_SPACE}]`;
const LEADING = new RegExp(`^${SPACE_CLASS}+`, 'u');
const TRAILING = new RegExp(`${SPACE_CLASS}+$`, 'u');

/** Python's `str.strip()` with no argument. */
export function pyStrip(s: string): string {
  return s.replace(LEADING, '').replace(TRAILING, '');
}

/** Python's `str.lower()` (JavaScript's full-Unicode lowercasing agrees, final sigma included). */
export function pyLower(s: string): string {
  return s.toLowerCase();
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

/**
 * Python's `float(str)`: optional surrounding whitespace, sign, digits with single underscores
 * between them, exponent, `inf`/`infinity`/`nan` in any case. Returns undefined when Python raises.
 */
export function pyFloat(s: string): number | undefined {
  const t = pyStrip(s);
  const digits = '\\d(?:_?\\d)*';
  const num = new RegExp(`^[+-]?(?:(?:${digits})(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  if (num.test(t)) return Number(t.replace(/_/g, ''));
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  return undefined;
}
