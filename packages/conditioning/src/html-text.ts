// The text of an HTML fragment as the reference obtains it: BeautifulSoup 4.15 with Python
// 3.11's `html.parser`, then `.text`. Emulates the stdlib tokenizer's tolerant rules (what counts
// as a tag, what stays literal text, how an unterminated construct at the end is handled; the
// parser is fed once and then closed; its `\s` is Python's whitespace) and BeautifulSoup's
// choices: character references are resolved as the HTML standard says (0x80-0x9f read as
// windows-1252) and unknown names kept as "&name" (the ';' is dropped); comments, declarations,
// processing instructions and the contents of script/style/template/rt/rp are not text; CDATA
// sections are.
import { entityByName } from './html-entities.js';
import { PY_SPACE, pyLower, pyStrip } from './python-text.js';
import { windows1252Char } from './windows-1252.js';

/** Python's `\s` in the stdlib's patterns, and its complement inside a class. */
const S = `[${PY_SPACE}]`;
const STARTTAG_OPEN = /<[a-zA-Z]/y;
const ENTITYREF = /&([a-zA-Z][-.a-zA-Z0-9]*)[^a-zA-Z0-9]/y;
const CHARREF = /&#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F]/y;
const INCOMPLETE = /&[a-zA-Z#]/y;
const ATTR_VALUE = `(?:'[^']*'|"[^"]*"|(?!['"])[^>${PY_SPACE}]*)`;
const TAG_END_LOCATOR = new RegExp(
  `<[a-zA-Z][^\t\n\r\f />\x00]*(?:[${PY_SPACE}/]*(?:(?<=['"${PY_SPACE}/])[^${PY_SPACE}/>][^${PY_SPACE}/=>]*` +
    `(?:${S}*=+${S}*${ATTR_VALUE}${S}*)?(?:${S}|\/(?!>))*)*)?${S}*`,
  'uy',
);
const TAGNAME = /<([a-zA-Z][^\t\n\r\f />\x00]*)/y;
/** The stdlib's tagfind_tolerant and attrfind_tolerant: a tag's name, then one attribute at a time. */
const TAGFIND = new RegExp(`([a-zA-Z][^\\t\\n\\r\\f />\\x00]*)(?:${S}|\\/(?!>))*`, 'uy');
const ATTRFIND = new RegExp(
  `(?<=['"${PY_SPACE}/])[^${PY_SPACE}/>][^${PY_SPACE}/=>]*(?:${S}*=+${S}*${ATTR_VALUE})?(?:${S}|\\/(?!>))*`,
  'uy',
);
const ENDTAG_FULL = new RegExp(`<\\/${S}*([a-zA-Z][-.a-zA-Z0-9:_]*)${S}*>`, 'uy');
const ENDTAG_NAME = TAGFIND;
const COMMENT_CLOSE = new RegExp(`--${S}*>`, 'gu');
/** `<![name`: the marked-section keyword the stdlib reads, and the two ways such a section ends. */
const DECLNAME = new RegExp(`[a-zA-Z][-_.a-zA-Z0-9]*${S}*`, 'uy');
const MARKED_SECTION_CLOSE = new RegExp(`\\]${S}*\\]${S}*>`, 'gu');
const MS_MARKED_SECTION_CLOSE = new RegExp(`\\]${S}*>`, 'gu');
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
      const re = new RegExp(`</${S}*${this.cdataElem}${S}*>`, 'igu');
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
    // BeautifulSoup 4.15 follows the HTML standard: NUL, surrogates and numbers past U+10FFFF become
    // U+FFFD, and 0x80-0x9f are read as windows-1252 (e.g. &#150; is an en dash).
    if (num === 0 || num > 0x10ffff || (num >= 0xd800 && num <= 0xdfff)) this.out.data('\ufffd');
    else if (num >= 0x80 && num <= 0x9f) this.out.data(windows1252Char(num));
    else this.out.data(String.fromCodePoint(num));
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
    // What follows the attributes must be '>' or '/>'; otherwise the whole "tag" is text.
    let k = i + 1 + sticky(TAGFIND, raw, i + 1)![0].length;
    while (k < endpos) {
      const attr = sticky(ATTRFIND, raw, k);
      if (!attr) break;
      k += attr[0].length;
    }
    const end = pyStrip(raw.slice(k, endpos));
    if (end !== '>' && end !== '/>') {
      this.out.data(raw.slice(i, endpos));
      return endpos;
    }
    const name = pyLower(sticky(TAGNAME, raw, i)![1]!);
    const selfClosing = end === '/>';
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
      this.out.end(pyLower(nm[1]!));
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
    if (raw.startsWith('<![', i)) return this.parseMarkedSection(i);
    if (raw.slice(i + 2, i + 9).toLowerCase() === 'doctype') {
      const gt = raw.indexOf('>', i + 9);
      if (gt < 0) return -1;
      this.out.nonText();
      return gt + 1;
    }
    return this.parseUntilGt(i);
  }

  /** `<![CDATA[...]]>` is text; `<![if ...]>`, `<![include[...]]>` and the like are declarations. */
  private parseMarkedSection(i: number): number {
    const raw = this.raw;
    const m = sticky(DECLNAME, raw, i + 3);
    // Python raises on an unknown keyword (BeautifulSoup rejects the markup; the reference
    // fails); here the construct is left to be read as text, like an unterminated one.
    if (!m || i + 3 + m[0].length === raw.length) return -1;
    const keyword = pyStrip(m[0]).toLowerCase();
    let close: RegExp;
    if (['temp', 'cdata', 'ignore', 'include', 'rcdata'].includes(keyword)) close = MARKED_SECTION_CLOSE;
    else if (['if', 'else', 'endif'].includes(keyword)) close = MS_MARKED_SECTION_CLOSE;
    else return -1;
    close.lastIndex = i + 3;
    const c = close.exec(raw);
    if (!c) return -1;
    const content = raw.slice(i + 3, c.index);
    if (content.toUpperCase().startsWith('CDATA[')) this.out.cdata(content.slice(6));
    else this.out.nonText();
    return c.index + c[0].length;
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
