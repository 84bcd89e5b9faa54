// The text of an HTML fragment as the reference obtains it: BeautifulSoup with Python's
// `html.parser`, then `.text`. Emulates the stdlib tokenizer's tolerant rules (what counts as a
// tag, what stays literal text, how an unterminated construct at the end is handled; the
// parser is fed once and then closed) and BeautifulSoup's choices: character references are
// resolved with numbers < 256 read as windows-1252 and unknown names kept as "&name" (the ';'
// is dropped); comments, declarations, processing instructions and the contents of
// script/style/template/rt/rp are not text; CDATA sections are.
import { entityByName } from './html-entities.js';
import { windows1252Char } from './windows-1252.js';

const STARTTAG_OPEN = /<[a-zA-Z]/y;
const ENTITYREF = /&([a-zA-Z][-.a-zA-Z0-9]*)[^a-zA-Z0-9]/y;
const CHARREF = /&#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F]/y;
const INCOMPLETE = /&[a-zA-Z#]/y;
const TAG_END_LOCATOR =
  /<[a-zA-Z][^\t\n\r\f />\x00]*(?:[\s/]*(?:(?<=['"\s/])[^\s/>][^\s/=>]*(?:\s*=+\s*(?:'[^']*'|"[^"]*"|(?!['"])[^>\s]*)\s*)?(?:\s|\/(?!>))*)*)?\s*/y;
const TAGNAME = /<([a-zA-Z][^\t\n\r\f />\x00]*)/y;
const ENDTAG_FULL = /<\/\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>/y;
const ENDTAG_NAME = /([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|\/(?!>))*/y;
const COMMENT_CLOSE = /--\s*>/g;
const CDATA_ELEMENTS = new Set(['script', 'style']);
/** BeautifulSoup keeps strings inside these in non-text containers (Script, Stylesheet, ...). */
const NON_TEXT_CONTAINERS = new Set(['script', 'style', 'template', 'rt', 'rp']);
/** HTML void elements: BeautifulSoup closes them at once. */
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'keygen', 'link', 'menuitem', 'meta', 'param', 'source', 'track', 'wbr', 'basefont', 'bgsound', 'command', 'frame', 'image', 'isindex', 'nextid', 'spacer']);


function sticky(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

/** BeautifulSoup's tree building reduced to what `.text` needs. */
class TextCollector {
  private readonly stack: string[] = [];
  private hidden = 0;
  private current: string[] | null = null;
  readonly parts: string[] = [];

  data(s: string): void {
    (this.current ??= []).push(s);
  }
  /** A structural event ends the pending string (BeautifulSoup's endData). */
  flush(kind: 'text' | 'cdata' | 'other' = 'text'): void {
    if (!this.current) return;
    let str = this.current.join('');
    this.current = null;
    // A string of only ASCII whitespace collapses to one newline or space outside <pre>/<textarea>.
    if (/^[ \n\t\f\r]*$/.test(str) && !this.stack.includes('pre') && !this.stack.includes('textarea')) {
      str = str.includes('\n') ? '\n' : ' ';
    }
    if (kind === 'other') return;
    if (kind === 'text' && this.hidden > 0) return;
    this.parts.push(str);
  }
  start(name: string, selfClosing: boolean): void {
    this.flush();
    if (selfClosing || VOID.has(name)) return;
    this.stack.push(name);
    if (NON_TEXT_CONTAINERS.has(name)) this.hidden++;
  }
  end(name: string): void {
    this.flush();
    const at = this.stack.lastIndexOf(name);
    if (at < 0) return;
    while (this.stack.length > at) {
      const popped = this.stack.pop()!;
      if (NON_TEXT_CONTAINERS.has(popped)) this.hidden--;
    }
  }
  /** Comments, declarations, processing instructions: strings that are not text. */
  nonText(): void {
    this.flush();
    this.data('');
    this.flush('other');
  }
  cdata(content: string): void {
    this.flush();
    this.data(content);
    this.flush('cdata');
  }
}

class Tokenizer {
  raw: string;
  private cdataElem: string | null = null;
  constructor(
    raw: string,
    private readonly out: TextCollector,
  ) {
    this.raw = raw;
  }

  private findInteresting(i: number): number {
    const raw = this.raw;
    if (this.cdataElem) {
      const re = new RegExp(`</\\s*${this.cdataElem}\\s*>`, 'ig');
      re.lastIndex = i;
      const m = re.exec(raw);
      return m ? m.index : -1;
    }
    for (let k = i; k < raw.length; k++) if (raw[k] === '<' || raw[k] === '&') return k;
    return -1;
  }

  /** One pass of the stdlib tokenizer; returns where it stopped. */
  goahead(end: boolean): void {
    const raw = this.raw;
    const n = raw.length;
    let i = 0;
    while (i < n) {
      let j = this.findInteresting(i);
      if (j < 0) {
        if (this.cdataElem) break;
        j = n;
      }
      if (i < j) this.out.data(raw.slice(i, j));
      i = j;
      if (i === n) break;
      if (raw[i] === '<') {
        let k: number;
        if (sticky(STARTTAG_OPEN, raw, i)) k = this.parseStartTag(i);
        else if (raw.startsWith('</', i)) k = this.parseEndTag(i);
        else if (raw.startsWith('<!--', i)) k = this.parseComment(i);
        else if (raw.startsWith('<?', i)) k = this.parseUntilGt(i);
        else if (raw.startsWith('<!', i)) k = this.parseDeclaration(i);
        else if (i + 1 < n) {
          this.out.data('<');
          k = i + 1;
        } else break;
        if (k < 0) {
          if (!end) break;
          k = raw.indexOf('>', i + 1);
          if (k < 0) {
            k = raw.indexOf('<', i + 1);
            if (k < 0) k = i + 1;
          } else k += 1;
          this.out.data(raw.slice(i, k));
        }
        i = k;
      } else if (raw.startsWith('&#', i)) {
        const m = sticky(CHARREF, raw, i);
        if (m) {
          this.charref(m[0].slice(2, -1));
          let k = i + m[0].length;
          if (raw[k - 1] !== ';') k -= 1;
          i = k;
          continue;
        }
        if (raw.slice(i).includes(';')) {
          this.out.data('&#');
          i += 2;
        }
        break;
      } else {
        const m = sticky(ENTITYREF, raw, i);
        if (m) {
          const name = m[1]!;
          this.out.data(entityByName(name) ?? `&${name}`);
          let k = i + m[0].length;
          if (raw[k - 1] !== ';') k -= 1;
          i = k;
          continue;
        }
        const inc = sticky(INCOMPLETE, raw, i);
        if (inc) {
          if (end && inc[0] === raw.slice(i)) i = i + 1;
          break;
        } else if (i + 1 < n) {
          this.out.data('&');
          i += 1;
        } else break;
      }
    }
    if (end && i < n && !this.cdataElem) {
      this.out.data(raw.slice(i, n));
      i = n;
    }
    this.raw = raw.slice(i);
  }

  private charref(name: string): void {
    const num = name[0] === 'x' || name[0] === 'X' ? parseInt(name.slice(1), 16) : parseInt(name, 10);
    if (num < 256) {
      // BeautifulSoup reads small numbers as windows-1252 (e.g. &#150; is an en dash).
      this.out.data(windows1252Char(num));
      return;
    }
    // Python's chr() accepts lone surrogates and fails only past U+10FFFF.
    this.out.data(num > 0x10ffff ? '\ufffd' : num >= 0xd800 && num <= 0xdfff ? String.fromCharCode(num) : String.fromCodePoint(num));
  }

  private parseStartTag(i: number): number {
    const raw = this.raw;
    const m = sticky(TAG_END_LOCATOR, raw, i)!;
    const j = i + m[0].length;
    const next = raw[j];
    let endpos: number;
    if (next === '>') endpos = j + 1;
    else if (next === '/') {
      if (raw.startsWith('/>', j)) endpos = j + 2;
      else return j + 1 < raw.length ? j + 1 : -1;
    } else if (next === undefined) return -1;
    else if (/[a-zA-Z=/]/.test(next)) return -1;
    else endpos = j > i ? j : i + 1;
    const name = sticky(TAGNAME, raw, i)![1]!.toLowerCase();
    const selfClosing = raw.slice(i, endpos).endsWith('/>');
    this.out.start(name, selfClosing);
    if (!selfClosing && CDATA_ELEMENTS.has(name)) this.cdataElem = name;
    return endpos;
  }

  private parseEndTag(i: number): number {
    const raw = this.raw;
    const gt = raw.indexOf('>', i + 1);
    if (gt < 0) return -1;
    const gtpos = gt + 1;
    const full = sticky(ENDTAG_FULL, raw, i);
    if (!full) {
      if (this.cdataElem) {
        this.out.data(raw.slice(i, gtpos));
        return gtpos;
      }
      const nm = sticky(ENDTAG_NAME, raw, i + 2);
      if (!nm) {
        if (raw.startsWith('</>', i)) return i + 3; // ignored entirely, no event
        return this.parseUntilGt(i); // a bogus comment
      }
      this.out.end(nm[1]!.toLowerCase());
      return raw.indexOf('>', i + 2 + nm[0].length) + 1;
    }
    const elem = full[1]!.toLowerCase();
    if (this.cdataElem && elem !== this.cdataElem) {
      this.out.data(raw.slice(i, gtpos));
      return gtpos;
    }
    this.out.end(elem);
    this.cdataElem = null;
    return gtpos;
  }

  private parseComment(i: number): number {
    COMMENT_CLOSE.lastIndex = i + 4;
    const m = COMMENT_CLOSE.exec(this.raw);
    if (!m) return -1;
    this.out.nonText();
    return m.index + m[0].length;
  }

  private parseUntilGt(i: number): number {
    const k = this.raw.indexOf('>', i + 2);
    if (k < 0) return -1;
    this.out.nonText();
    return k + 1;
  }

  private parseDeclaration(i: number): number {
    const raw = this.raw;
    if (raw.startsWith('<![', i)) {
      // Marked sections: CDATA content is text for BeautifulSoup.
      const close = raw.indexOf(']]>', i + 3);
      const close2 = raw.indexOf(']>', i + 3);
      if (raw.slice(i + 3, i + 9).toUpperCase() === 'CDATA[') {
        if (close < 0) return -1;
        this.out.cdata(raw.slice(i + 9, close));
        return close + 3;
      }
      if (close2 < 0) return -1;
      this.out.nonText();
      return close2 + 2;
    }
    if (raw.slice(i + 2, i + 9).toLowerCase() === 'doctype') {
      const gt = raw.indexOf('>', i + 9);
      if (gt < 0) return -1;
      this.out.nonText();
      return gt + 1;
    }
    return this.parseUntilGt(i);
  }
}

/** `BeautifulSoup(text, "html.parser").text` for a string. */
export function htmlToText(text: string): string {
  if (!text.includes('<') && !text.includes('&') && !/^[ \n\t\f\r]+$/.test(text)) return text;
  const out = new TextCollector();
  const tok = new Tokenizer(text, out);
  tok.goahead(false); // feed()
  tok.goahead(true); // close()
  out.flush();
  return out.parts.join('');
}
