// HTML character references as Python's `html.unescape` resolves them (the HTML5 rules: named
// references with or without ';' where the standard allows, longest legacy prefix, numeric
// references with the windows-1252 remapping and invalid code points handled).
import { HTML5_ENTITIES, INVALID_CHARREFS, INVALID_CODEPOINT_RANGES } from './html-entities-data.js';

const has = (name: string) => Object.prototype.hasOwnProperty.call(HTML5_ENTITIES, name);

function invalidCodepoint(n: number): boolean {
  for (const [a, b] of INVALID_CODEPOINT_RANGES) if (n >= a && n <= b) return true;
  return false;
}

/** The character a numeric reference stands for (Python's html.unescape rules). */
export function numericCharref(num: number): string {
  if (Object.prototype.hasOwnProperty.call(INVALID_CHARREFS, num)) return INVALID_CHARREFS[num]!;
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (invalidCodepoint(num)) return '';
  return String.fromCodePoint(num);
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Python's `html.unescape`. */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (_m, ref: string) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const body = ref.slice(hex ? 2 : 1).replace(/;$/, '');
      // Python ints are unbounded; anything past 0x10FFFF resolves to U+FFFD either way.
      const num = body.length > 12 ? Number.MAX_SAFE_INTEGER : parseInt(body, hex ? 16 : 10);
      return numericCharref(num);
    }
    if (has(ref)) return HTML5_ENTITIES[ref]!;
    for (let x = ref.length - 1; x > 1; x--) {
      const prefix = ref.slice(0, x);
      if (has(prefix)) return HTML5_ENTITIES[prefix]! + ref.slice(x);
    }
    return `&${ref}`;
  });
}

/** A named entity looked up the way BeautifulSoup does: by its name without ';'. */
export function entityByName(name: string): string | undefined {
  if (has(`${name};`)) return HTML5_ENTITIES[`${name};`];
  if (has(name)) return HTML5_ENTITIES[name];
  return undefined;
}

let uppercased: Map<string, string> | undefined;

/**
 * The extra names ftfy decodes: each lower-case HTML5 name with ';' written in upper case
 * (`&EACUTE;` -> 'É'), where that spelling is not itself a reference `html.unescape` resolves.
 */
function uppercasedEntities(): Map<string, string> {
  if (uppercased) return uppercased;
  uppercased = new Map();
  for (const [name, ch] of Object.entries(HTML5_ENTITIES)) {
    if (!name.endsWith(';') || name !== name.toLowerCase()) continue;
    const upper = name.toUpperCase();
    if (htmlUnescape(`&${upper}`) === `&${upper}`) uppercased.set(upper, ch.toUpperCase());
  }
  return uppercased;
}

/** ftfy's `unescape_html`: only references ending in ';', plus the upper-cased names above. */
export function ftfyUnescapeHtml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&#?[0-9A-Za-z]{1,24};/g, (ref) => {
    const name = ref.slice(1);
    if (has(name)) return HTML5_ENTITIES[name]!;
    const upper = uppercasedEntities().get(name);
    if (upper !== undefined) return upper;
    if (ref.startsWith('&#')) {
      // A numeric reference that resolves to ';' (or does not resolve) stays as written.
      const un = htmlUnescape(ref);
      return un.includes(';') ? ref : un;
    }
    return ref;
  });
}
