// Edges of each cleaning step (numbered as in shared/reference/clean-caption.md) that the shared
// fixtures do not reach. Every expected value was produced by the reference's own clean_caption /
// text_preprocessing (Open-Sora v1.3, ftfy 6.3.1, beautifulsoup4 4.15.0, Python 3.11.7), not by this code.
import { describe, expect, it } from 'vitest';
import { CLEANING_STEPS, cleanCaption, textPreprocessing } from './clean-caption.js';

/** One pass over each input, compared as [input, output] pairs so a failure names its input. */
function pass(cases: Record<string, string>): void {
  for (const [input, want] of Object.entries(cases)) expect([input, cleanCaption(input)]).toEqual([input, want]);
}

describe('cleanCaption, one pass', () => {
  it('1-3: decodes URL escapes, strips, lowercases as Python does, keeps <person> as a word', () => {
    pass({
      'c%2B%2B+rocks 50%25': 'c++ rocks 50%',
      'caf%C3%A9 %e2%9c %zz': 'café \ufffd %zz',
      ' ÉCOLE ΣΟΦΟΣ İstanbul ': 'école σοφος i̇stanbul',
      '<person> and <PERSON>': 'person and person',
    });
  });

  it('4: removes only the scheme of an http(s) link, and hosts ending in a listed domain', () => {
    pass({
      'see https://foo.de/x now': 'see foo. de x now',
      'https:x and http:////a': 'and a',
      'xhttps://a.de': 'xhttps: a. de', // no word boundary before "https"
      'shop.com@x and a.b.it/x-y_z?q': 'shop. com and ?q', // a host followed by '@' stays
      'mail me@x.com': 'mail me',
      'foo.comx/bar baz': 'baz', // word characters may follow the domain
    });
  });

  it('5: the second pattern reads "www:" (not "www."); "www.host.com" goes as a host', () => {
    pass({
      'www:foo bar': 'oo bar',
      'www://x y': 'x y',
      'www.example.com/page and https://example.com/a/b?id=3': 'and ?id=3',
    });
  });

  it('6-7: keeps the text of markup (not of <script>), removes @handles of any script', () => {
    pass({
      '<p>A <i>small</i> dog</p>': 'a small dog',
      '<script>var x = 1</script>hi': 'hi',
      'by @jo_99, @ann.': 'by , .',
      '@ⅻ roman': 'roman', // Ⅻ is a Python word character
    });
  });

  it('8-11: CJK ranges only, dash runs, the listed quotes only, &quot/&amp leftovers', () => {
    pass({
      '猫 cat ネコ 고양이 𠀋 ㇰ ㈱': 'cat ネコ 고양이 𠀋', // kana, hangul and CJK extension B stay
      'a -- b \u2212 c x\u2012y': 'a - b \u2212 c x-y', // the minus sign is not a dash
      '„a“ ‹b› ´c´ ¨d¨ ‘e’': 'a" ‹b› "c" "d" \'e',
      'a &amp;quot;b&amp;quot; c &amp;amp;x': 'a b c ;x',
    });
  });

  it('12-15: IPv4-like runs without boundaries, a trailing time, a written "\\n", numbers', () => {
    pass({
      'ip 1234.5.6.7890 end': 'ip 1 0 end',
      'meet at 12:30 @bob': 'meet at 1', // the handle's removal leaves "2:30 " at the end
      '12:30 @bob and': '12:30 and',
      'a\\nb': 'a b',
      '#12 #1234 #12345 123456 1234567x': '1234 1234567x',
      'tag #١٢ and ١٢٣٤٥٦ and 12345': 'tag and and 12345', // Unicode digits count
    });
  });

  it('16-21: file names without a boundary after the extension, runs, lone dots, slugs over the whole text', () => {
    pass({
      'x.jpgs photo_of_a_red_car.jpg a.b.png': 's',
      'say ""hi\'\' now': 'say "hi" now',
      'wait... what': 'wait what',
      'a ~ b (c) [d] {e} | f \\ g * h ½ ¿': 'a b c d e f g h',
      'a . b': 'a b',
      'a-b c-d e_f': 'a-b c-d e_f', // three separators: kept
      'a-b c-d e_f g-h': 'a b c d e f g h', // four, counted over the whole text
    });
  });

  it('22: ftfy and html.unescape twice run after the symbol step (which already took the "©" of "Ã©")', () => {
    pass({
      'cafÃ© naÃ¯ve': 'cafã naã¯ve',
      'Ａｂｃ ﬁne &amp;amp;lt;': 'abc fine ;lt;',
      'a\u00a0b\u3000c\u2028d\u0085e\u001cf': 'a b c d…ef', // \x85 is read as windows-1252
    });
  });

  it('23-26: codes with ASCII letters and any digits, shop noise without a leading boundary, sizes', () => {
    pass({
      'jc6640 jc6640vc 6640vc231 ab١٢٣ éjc6640': 'éjc6640', // no boundary between é and j
      'freeshipping redownload click for more': 'free re',
      'png image jpgs images': 's images',
      'page 12 and page12': 'and page12',
      'j2d1a2a ok': 'ok',
      '1920x1080 3.5х2 10×20': '',
    });
  });

  it('27-28: colon spacing and a space after ",", "." or "/" before a word character', () => {
    pass({
      'camera motion :  pan': 'camera motion: pan',
      'a,b 3.5 end. a/b': 'a, b 3.5 end. a b',
    });
  });

  it('29-34: wrapping quotes (either kind, greedy), one leading and one trailing mark, a dot token', () => {
    pass({
      '"a dog"': 'a dog',
      '\'a" b\'': 'a" b',
      '" a "': 'a', // the spaces inside survive step 29 and go at step 34
      "'' a": '" a',
      '""': '"',
      ';a dog': 'a dog',
      '_;a dog': ';a dog', // one character only
      'a dog:,': 'a dog:',
      '--a': 'a',
      'a dog+': 'a dog',
      'a dog;': 'a dog;', // ';' is only dropped at the start
      '.hidden': '',
    });
  });

  it('runs the 34 steps in order', () => {
    expect(CLEANING_STEPS).toHaveLength(34);
    expect(CLEANING_STEPS.slice(0, 3)).toEqual(['url-decoding', 'strip-lowercase', 'person-tag']);
    expect(CLEANING_STEPS.indexOf('html')).toBe(5);
    expect(CLEANING_STEPS.indexOf('basic-clean')).toBe(21);
    expect(CLEANING_STEPS.at(-1)).toBe('strip');
  });
});

describe('textPreprocessing', () => {
  it('applies the pass twice: the second one sees what the first one produced', () => {
    expect(cleanCaption('100%2525 done')).toBe('100%25 done');
    expect(textPreprocessing('100%2525 done')).toBe('100% done');
    expect(cleanCaption('a .b')).toBe('a . b');
    expect(textPreprocessing('a .b')).toBe('a b');
    expect(textPreprocessing('c%2B%2B+rocks')).toBe('c rocks');
  });

  it('reproduces the worked examples of clean-caption.md', () => {
    const examples: [string, string][] = [
      ['Check https://foo.de/x now', 'check foo. de x now'],
      ['"quoted``backticks``..."', 'quoted"backticks"'],
      ['free shipping jc6640 click on here', ''],
      ['photo_of_a_red_car.jpg', ''],
      ['A cat -- a dog', 'a cat - a dog'],
      ['a,b and 3.5 and end.', 'a, b and 3.5 and end.'],
      ['www.example.com/page and https://example.com/a/b?id=3', 'and ?id=3'],
    ];
    for (const [input, want] of examples) expect([input, textPreprocessing(input)]).toEqual([input, want]);
  });

  it('is stable on text that is already clean', () => {
    const clean = 'a red fox runs. the aesthetic score is good. camera motion: pan left.';
    expect(textPreprocessing(clean)).toBe(clean);
  });

  it('only lowercases and strips without cleaning', () => {
    expect(textPreprocessing('  A <b>Bold</b> @Me ', false)).toBe('a <b>bold</b> @me');
  });
});
