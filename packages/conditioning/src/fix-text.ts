// `ftfy.fix_text` with its default settings (ftfy 6.3.1, Robyn Speer, Apache-2.0), ported: line
// by line, repeat until nothing changes: HTML entities (only until a line holds '<'), mojibake
// (fix-text-encoding.ts), C1 controls, Latin ligatures, full/half-width forms, curly quotes, line
// breaks, surrogates, terminal escapes, control characters, then NFC.
import { ftfyUnescapeHtml } from './html-entities.js';
import { fixC1Controls, fixEncoding } from './fix-text-encoding.js';
import { PY_DIGIT, pyNfc } from './python-text.js';

const LIGATURES: Readonly<Record<string, string>> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');
/** Full- and half-width forms become their NFKC form; the ideographic space a plain one. */
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;
const ANSI_RE = new RegExp(`\\x1b\\[(?:[${PY_DIGIT}]|;)*[a-zA-Z]`, 'gu');
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function fixOnce(segment: string, unescapeHtml: boolean): string {
  let text = segment;
  if (unescapeHtml) text = ftfyUnescapeHtml(text);
  text = fixEncoding(text);
  text = fixC1Controls(text);
  text = text.replace(LIGATURE_RE, (c) => LIGATURES[c]!);
  text = text.replace(WIDTH_RE, (c) => (c === '\u3000' ? ' ' : c.normalize('NFKC')));
  text = text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
  text = text.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029\u0085]/g, '\n');
  // A JS string joins a high and low surrogate by itself; a lone one becomes U+FFFD.
  text = text.replace(LONE_SURROGATE_RE, '\ufffd');
  text = text.replace(ANSI_RE, '');
  text = text.replace(CONTROL_RE, '');
  return pyNfc(text);
}

/** `ftfy.fix_text(text)` with its default settings. */
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
