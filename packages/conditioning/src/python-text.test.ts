// Expected values come from Python 3.11.7 (the reference's interpreter), not from this code.
import { describe, expect, it } from 'vitest';
import { PY_DIGIT, PY_SPACE, PY_WORD, pyLower, pyNfc, pyStrip, unquotePlus } from './python-text.js';

const is = (cls: string, ch: string) => new RegExp(`^[${cls}]$`, 'u').test(ch);

describe('Python 3.11 character classes', () => {
  it('\\w is letters, numerics and _ of Unicode 14, not combining marks or newer letters', () => {
    const word = { 'Ⅻ': true, '²': true, '\u0301': false, _: true, '\u1c89': false, '\u{10d40}': false, '١': true, '𝟏': true, é: true, '-': false, '·': false, '〇': true };
    for (const [ch, want] of Object.entries(word)) expect([ch, is(PY_WORD, ch)]).toEqual([ch, want]);
  });
  it('\\d is decimal digits of any script (not superscripts, not Unicode 15 digits)', () => {
    const digit = { '١': true, '𝟏': true, '²': false, 'Ⅻ': false, '\u{10d40}': false, '〇': false };
    for (const [ch, want] of Object.entries(digit)) expect([ch, is(PY_DIGIT, ch)]).toEqual([ch, want]);
  });
  it('\\s includes \\x1c-\\x1f, \\x85 and U+3000 but not U+200B, U+FEFF or U+180E', () => {
    const space = { '\x1c': true, '\x1f': true, '\x85': true, '\xa0': true, '\u3000': true, '\u200b': false, '\ufeff': false, '\u180e': false };
    for (const [ch, want] of Object.entries(space)) expect([ch, is(PY_SPACE, ch)]).toEqual([ch, want]);
    expect(pyStrip('\x1f a \x85\u3000')).toBe('a');
  });
});

describe('str.lower, NFC and unquote_plus', () => {
  it('lowercases as Python does, leaving letters Python 3.11 does not know', () => {
    expect(['İ', 'ΣΑΣ Σ', '\u1c89A', 'ẞ'].map(pyLower)).toEqual(['i̇', 'σας σ', '\u1c89a', 'ß']);
  });
  it('normalizes to NFC without reordering around marks newer than Unicode 14 (U+1AE2)', () => {
    expect(['\u1ae2\u0744', 'e\u0301', 'a\u0323\u0301\u1ae2e\u0301'].map(pyNfc)).toEqual(['\u1ae2\u0744', '\u00e9', '\u1ea1\u0301\u1ae2\u00e9']);
  });
  it('decodes + and %XX runs as UTF-8, with U+FFFD for invalid bytes', () => {
    expect(['a+b%20c', '%e2%9c%93%E2%9C', '%f0%9f%99', '%C3%A9%zz%', '%ed%a0%80', 'é%41'].map(unquotePlus)).toEqual([
      'a b c', '✓\ufffd', '\ufffd', 'é%zz%', '\ufffd\ufffd\ufffd', 'éA',
    ]);
  });
});
