// windows-1252's 0x80-0x9f row (Node's TextDecoder treats the label as ISO-8859-1 in some builds,
// so the table is spelled out). Bytes the code page leaves undefined map to the same code point,
// which is what both Python's fallbacks here and the WHATWG decoder produce.
const ROW_80 = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

/** The character a windows-1252 byte decodes to (undefined bytes 0x81, 0x8d, 0x8f, 0x90, 0x9d map to themselves). */
export function windows1252Char(byte: number): string {
  return String.fromCharCode(byte >= 0x80 && byte <= 0x9f ? ROW_80[byte - 0x80]! : byte);
}

/** The windows-1252 byte of a character, or undefined when the code page cannot encode it. */
export function windows1252Byte(ch: string): number | undefined {
  const c = ch.charCodeAt(0);
  if (ch.length !== 1) return undefined;
  if (c < 0x80 || (c >= 0xa0 && c <= 0xff)) return c;
  const at = ROW_80.indexOf(c);
  return at >= 0 ? 0x80 + at : undefined;
}
