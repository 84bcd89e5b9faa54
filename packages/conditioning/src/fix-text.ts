// The text repair the reference runs through `ftfy.fix_text` (ftfy 6.3.1 defaults), rebuilt for
// the inputs a prompt cleaner sees: HTML entities (only when the line has no '<'), mojibake of
// UTF-8 read as windows-1252/latin-1, C1 controls read as windows-1252, Latin ligatures, full-
// and half-width forms, curly quotes, line breaks, lone surrogates, terminal escapes, control
// characters, NFC; repeated until nothing changes, line by line.
// Limit: ftfy decides mojibake with a statistical "badness" score; here a whole line is
// re-decoded only when it holds a typical UTF-8-as-windows-1252 pair and decodes cleanly.
import { ftfyUnescapeHtml } from './html-entities.js';
import { windows1252Byte, windows1252Char } from './windows-1252.js';

const LIGATURES: Record<string, string> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;
const ANSI_RE = /\x1b\[((?:\p{Nd}|;)*)([a-zA-Z])/gu;
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** A lead byte of a 2-4 byte UTF-8 sequence followed by a continuation byte, both read as windows-1252. */
const MOJIBAKE_CLUE = /[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]/;

function widthFix(ch: string): string {
  if (ch === '\u3000') return ' ';
  const alt = ch.normalize('NFKC');
  return alt;
}

/** Re-reads a line that is UTF-8 decoded as windows-1252 (or latin-1), when it clearly is. */
function fixMojibake(text: string): string {
  if (!MOJIBAKE_CLUE.test(text)) return text;
  const bytes: number[] = [];
  for (const ch of text) {
    const b = windows1252Byte(ch);
    if (b === undefined) return text;
    bytes.push(b);
  }
  try {
    const decoded = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
    return decoded;
  } catch {
    return text;
  }
}

function fixOnce(segment: string, unescapeHtml: boolean): string {
  let text = segment;
  if (unescapeHtml) text = ftfyUnescapeHtml(text);
  text = fixMojibake(text);
  text = text.replace(/[\x80-\x9f]/g, (c) => windows1252Char(c.charCodeAt(0)));
  text = text.replace(LIGATURE_RE, (c) => LIGATURES[c]!);
  text = text.replace(WIDTH_RE, widthFix);
  text = text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
  text = text.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029\u0085]/g, '\n');
  text = text.replace(LONE_SURROGATE_RE, '\ufffd');
  text = text.replace(ANSI_RE, '');
  text = text.replace(CONTROL_RE, '');
  return text.normalize('NFC');
}

/** `ftfy.fix_text(text)` with its default settings (see the limit above). */
export function fixText(text: string): string {
  const out: string[] = [];
  let unescapeHtml = true;
  let pos = 0;
  const maxLen = 1_000_000;
  while (pos < text.length) {
    let brk = text.indexOf('\n', pos) + 1;
    if (brk === 0) brk = text.length;
    if (brk - pos > maxLen) brk = pos + maxLen;
    const segment = text.slice(pos, brk);
    // ftfy stops unescaping HTML for the rest of the text once a line holds '<'.
    if (segment.includes('<')) unescapeHtml = false;
    let fixed = segment;
    for (;;) {
      const next = fixOnce(fixed, unescapeHtml);
      if (next === fixed) break;
      fixed = next;
    }
    out.push(fixed);
    pos = brk;
  }
  return out.join('');
}
