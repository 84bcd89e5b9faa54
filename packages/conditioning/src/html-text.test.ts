import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { htmlToText } from './html-text.js';
import { htmlUnescape } from './html-entities.js';

const doc = JSON.parse(readFileSync(new URL('../test/fixtures/html-text/bs4-cases.json', import.meta.url), 'utf8')) as { cases: [string, string][] };

describe('htmlToText', () => {
  it('matches BeautifulSoup html.parser .text on recorded cases', () => {
    const misses = doc.cases.filter(([input, expected]) => htmlToText(input) !== expected);
    expect(misses).toEqual([]);
    expect(doc.cases.length).toBeGreaterThan(300);
  });
});

describe('htmlUnescape (Python html.unescape)', () => {
  it('resolves named, legacy and numeric references', () => {
    expect(htmlUnescape('&amp;&ampx &notit; &copy2 &#150; &#x41; &#0; &#xD800; &bogus;')).toBe('&&x ¬it; ©2 \u2013 A \ufffd \ufffd &bogus;');
  });
});
