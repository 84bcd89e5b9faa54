// Expected values come from ftfy 6.3.1's fix_text (the reference's version), not from this code.
import { describe, expect, it } from 'vitest';
import { fixText } from './fix-text.js';

describe('fixText (ftfy.fix_text defaults)', () => {
  it('undoes UTF-8 read as a single-byte code page, when its heuristic calls the text bad', () => {
    const cases: [string, string][] = [
      ['cafÃ©', 'café'],
      ['cafã©', 'cafã©'], // lowercased mojibake is not recognised
      ['â€œquotedâ€\x9d', '"quoted"'],
      ['the Ã¢â‚¬Å“bestÃ¢â‚¬Â\x9d', 'the "best"'],
      ['Ð¿Ñ€Ð¸Ð²ÐµÑ‚', 'привет'],
      ["l'Ã©tÃ©", "l'été"],
      ['Ã\xa0 cÃ´tÃ©', 'à côté'],
      ['Ã  la carte', 'à la carte'], // a 0xa0 byte that became a space
      ['âœ“ done', '✓ done'],
      ['× ²', '× ²'],
    ];
    for (const [input, want] of cases) expect([input, fixText(input)]).toEqual([input, want]);
  });
  it('maps C1 controls, ligatures, widths, entities (until a line holds "<"), line breaks and escapes', () => {
    expect(fixText('\x93hi\x94 \x85')).toBe('"hi" …');
    expect(fixText('ﬁne Ａｂｃ &EACUTE; &eacute; &amp; &lt;b&gt;')).toBe('fine Abc É é & <b>');
    expect(fixText('<b>&eacute;</b>\n&eacute;')).toBe('<b>&eacute;</b>\n&eacute;');
    expect(fixText('a\r\nb\u2028c')).toBe('a\nb\nc');
    expect(fixText('\x1b[31mred\x1b[0m')).toBe('red');
    expect(fixText('e\u0301')).toBe('é');
  });
});
