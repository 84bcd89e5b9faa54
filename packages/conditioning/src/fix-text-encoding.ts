// ftfy's `fix_encoding` (6.3.1, Robyn Speer, Apache-2.0), ported: while the text looks like
// mojibake (`isBad`), re-encode it in the first single-byte code page that can hold it and decode
// the bytes as UTF-8 (repairing a lost 0xa0 byte and lost bytes on the way); failing that, fix only
// the stretches that look like embedded UTF-8, or read latin-1 C1 controls as windows-1252.
import { isBad, UTF8_DETECTOR } from './fix-text-badness.js';
import { CHARMAP_ENCODINGS, decodeUtf8, decodeUtf8Variants, encodeCharmap } from './fix-text-codecs.js';
import { windows1252Char } from './windows-1252.js';

/** "à " that lost its 0xa0 (the tail of 'à' in UTF-8) to a space, unless a Portuguese/Spanish word follows. */
const A_GRAVE_WORD = /\xc3 (?! |quele|quela|quilo|s )/g;
/** UTF-8 sequences that would be valid if a 0xa0 byte had not become a space (ftfy's ALTERED_UTF8_RE). */
const ALTERED_UTF8 =
  /[\xc2\xc3\xc5\xce\xd0\xd9] |[\xe2\xe3] [\x80-\x84\x86-\x9f\xa1-\xbf]|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf] |\xf0 [\x80-\xbf][\x80-\xbf]|\xf0[\x80-\xbf] [\x80-\xbf]|\xf0[\x80-\xbf][\x80-\xbf] /g;
/** UTF-8 sequences that lost a byte to U+FFFD (0x1a in the sloppy code pages) or '?' (ftfy's LOSSY_UTF8_RE). */
const LOSSY_UTF8 =
  /[\xc2-\xdf]\x1a|[\xc2-\xc3]\?|\xed[\xa0-\xaf][\x1a?]\xed[\xb0-\xbf][\x1a?\x80-\xbf]|\xed[\xa0-\xaf][\x1a?\x80-\xbf]\xed[\xb0-\xbf][\x1a?]|[\xe0-\xef][\x1a?][\x1a\x80-\xbf]|[\xe0-\xef][\x1a\x80-\xbf][\x1a?]|[\xf0-\xf4][\x1a?][\x1a\x80-\xbf][\x1a\x80-\xbf]|[\xf0-\xf4][\x1a\x80-\xbf][\x1a?][\x1a\x80-\xbf]|[\xf0-\xf4][\x1a\x80-\xbf][\x1a\x80-\xbf][\x1a?]|\x1a/g;
const ASCII_ONLY = /^[\x00-\x7f]*$/;
const C1_CONTROL = /[\x80-\x9f]/g;

function restoreByteA0(bytes: string): string {
  return bytes.replace(A_GRAVE_WORD, '\xc3\xa0 ').replace(ALTERED_UTF8, (m) => m.replace(/ /g, '\xa0'));
}

/** C1 controls read as windows-1252 (bytes it leaves undefined stay). */
export function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROL, (c) => windows1252Char(c.charCodeAt(0)));
}

/** Re-encodes in the first code page that holds the text and decodes it as UTF-8, or undefined. */
function redecode(text: string): string | undefined {
  for (const enc of CHARMAP_ENCODINGS) {
    let bytes = encodeCharmap(text, enc);
    if (bytes === undefined) continue;
    ALTERED_UTF8.lastIndex = 0;
    if (enc.name !== 'macroman' && ALTERED_UTF8.test(bytes)) bytes = restoreByteA0(bytes);
    if (enc.sloppy) bytes = bytes.replace(LOSSY_UTF8, '\xef\xbf\xbd');
    const fixed = /[\xed\xc0]/.test(bytes) ? decodeUtf8Variants(bytes) : decodeUtf8(bytes);
    if (fixed !== undefined) return fixed;
  }
  return undefined;
}

function fixEncodingOneStep(text: string): string {
  if (text.length === 0 || ASCII_ONLY.test(text) || !isBad(text)) return text;
  const fixed = redecode(text);
  if (fixed !== undefined) return fixed;
  UTF8_DETECTOR.lastIndex = 0;
  if (UTF8_DETECTOR.test(text)) {
    const inner = decodeInconsistentUtf8(text);
    if (inner !== text) return inner;
  }
  // ftfy then tries latin-1 -> windows-1252, then C1 controls alone; both come to this.
  return fixC1Controls(text);
}

/** Fixes the stretches that look like UTF-8 mojibake inside otherwise good text. */
function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR, (sub) => (sub.length < text.length && isBad(sub) ? fixEncoding(sub) : sub));
}

/** ftfy's `fix_encoding`: one step at a time until the text stops changing. */
export function fixEncoding(text: string): string {
  for (;;) {
    const next = fixEncodingOneStep(text);
    if (next === text) return text;
    text = next;
  }
}
