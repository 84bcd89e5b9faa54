// The byte-level codecs ftfy (6.3.1, Robyn Speer, Apache-2.0) uses to undo mojibake, ported:
// its single-byte code pages (text -> bytes), Python's strict UTF-8 decoder and ftfy's
// "utf-8-variants" (also CESU-8 surrogate pairs and Java's C0 80 for U+0000). Bytes are held as
// "byte strings" (one char per byte, 0x00-0xff) so that ftfy's byte regexes run as JS regexes.
import { CHARMAP_UPPER_HALVES } from './fix-text-data.js';

/** A single-byte code page ftfy tries, with its reverse map. */
export interface CharmapEncoding {
  readonly name: string;
  readonly sloppy: boolean;
  readonly toByte: ReadonlyMap<string, number>;
}

function charmap(name: string, upperHalf: string): CharmapEncoding {
  const sloppy = name.startsWith('sloppy-');
  const toByte = new Map<string, number>();
  for (let b = 0; b < 0x80; b++) toByte.set(String.fromCharCode(b), b);
  // The sloppy codecs read byte 0x1a as U+FFFD (ftfy's stand-in for a byte lost to a decoder).
  if (sloppy) {
    toByte.delete('\x1a');
    toByte.set('\ufffd', 0x1a);
  }
  [...upperHalf].forEach((ch, i) => toByte.set(ch, 0x80 + i));
  return { name, sloppy, toByte };
}

/** ftfy's CHARMAP_ENCODINGS, in the order it tries them. */
export const CHARMAP_ENCODINGS: readonly CharmapEncoding[] = CHARMAP_UPPER_HALVES.map(([n, u]) => charmap(n, u));

/** `text.encode(encoding)` as a byte string, or undefined where Python would raise. */
export function encodeCharmap(text: string, enc: CharmapEncoding): string | undefined {
  let out = '';
  for (const ch of text) {
    const b = enc.toByte.get(ch);
    if (b === undefined) return undefined;
    out += String.fromCharCode(b);
  }
  return out;
}

function toBytes(bytes: string): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
  return out;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Python's `bytes.decode('utf-8')` (strict; a BOM is kept), or undefined where it raises. */
export function decodeUtf8(bytes: string): string | undefined {
  try {
    return STRICT_UTF8.decode(toBytes(bytes));
  } catch {
    return undefined;
  }
}

/**
 * Where ftfy's utf-8-variants decoder stops to look closer: C0 80, a CESU-8 surrogate pair or a
 * lone encoded surrogate. Python's `$` also matches before a final "\n", so those cases are here too.
 */
const SPECIAL = /\xc0(?:\x80|(?=\n?$))|\xed(?:[\xa0-\xbf]|(?=\n?$))/;
const CESU8 = /^\xed(?:[\xa0-\xaf]|(?=\n?$))(?:[\x80-\xbf]|(?=\n?$))(?:\xed|(?=\n?$))(?:[\xb0-\xbf]|(?=\n?$))(?:[\x80-\xbf]|(?=\n?$))/;

/** ftfy's `bytes.decode('utf-8-variants')`, or undefined where it raises. */
export function decodeUtf8Variants(bytes: string): string | undefined {
  let out = '';
  let rest = bytes;
  while (rest.length > 0) {
    const m = SPECIAL.exec(rest);
    if (!m) {
      const tail = decodeUtf8(rest);
      return tail === undefined ? undefined : out + tail;
    }
    if (m.index > 0) {
      const head = decodeUtf8(rest.slice(0, m.index));
      if (head === undefined) return undefined;
      out += head;
      rest = rest.slice(m.index);
      continue;
    }
    if (rest[0] === '\xc0') {
      // C0 80 (or C0 before a final newline, which Python's `$` lets through) is U+0000.
      if (rest.length < 2) return undefined;
      out += '\0';
      rest = rest.slice(2);
      continue;
    }
    // A surrogate pair written as two 3-byte sequences; a lone surrogate does not decode.
    if (rest.length < 6 || !CESU8.test(rest)) return undefined;
    const b = (i: number) => rest.charCodeAt(i);
    const cp = ((b(1) & 0x0f) << 16) + ((b(2) & 0x3f) << 10) + ((b(4) & 0x0f) << 6) + (b(5) & 0x3f) + 0x10000;
    // Python's chr() fails past U+10FFFF, which it reports as a decoding error here.
    if (cp > 0x10ffff) return undefined;
    out += String.fromCodePoint(cp);
    rest = rest.slice(6);
  }
  return out;
}
