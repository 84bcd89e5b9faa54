import { describe, expect, it } from 'vitest';
import { CLEANING_STEPS, cleanCaption, textPreprocessing } from './clean-caption.js';

describe('cleanCaption steps', () => {
  it('removes URLs (scheme or www) up to the query, keeping a closing full stop', () => {
    expect(cleanCaption('see https://example.com/a/b_c-d.html and www.x.org now')).toBe('see and now');
    expect(cleanCaption('FTP://files.net/x%20y done')).toBe('done');
    expect(cleanCaption('open https://a.com/p?q=1 now')).toBe('open ?q=1 now');
    expect(cleanCaption('visit www.test.org.')).toBe('visit .');
    expect(cleanCaption('a wwwx.org site')).toBe('a wwwx.org site');
  });

  it('extracts the text of HTML and resolves character references', () => {
    expect(cleanCaption('<p>A <i>small</i> dog</p>')).toBe('a small dog');
    expect(cleanCaption('<script>var x = 1</script>hi &quot;there&quot;')).toBe('hi "there"');
    expect(cleanCaption('caf&eacute; &lt;3')).toBe('café <3');
  });

  it('removes @handles but not e-mail addresses', () => {
    expect(cleanCaption('by @jo_99, @ann.')).toBe('by , .');
    expect(cleanCaption('mail me@x.com')).toBe('mail me@x.com');
  });

  it('removes Han ideographs and keeps kana and hangul', () => {
    expect(cleanCaption('猫 cat ネコ 고양이 𠀋')).toBe('cat ネコ 고양이');
  });

  it('normalizes dashes and quotes', () => {
    expect(cleanCaption('x\u2012y \u2015 z\u2010w')).toBe('x-y - z-w');
    expect(cleanCaption('\u00aba\u00bb \u201eb\u201c \u2018c\u2019 \u2039d\u203a')).toBe('"a" "b" \'c\' \'d\'');
  });

  it('collapses runs of dashes', () => {
    expect(cleanCaption('a -- b --- c \u2014- d')).toBe('a - b - c - d');
  });

  it('lowercases with full Unicode case mapping', () => {
    expect(cleanCaption('ÉCOLE ΣΟΦΟΣ Straße')).toBe('école σοφος straße');
  });

  it('turns runs of #…()[]{}|\\/*& into one space', () => {
    expect(cleanCaption('#tag (a) [b] {c} | d/e\\f ***g*** h\u2026i a & b')).toBe('tag a b c d e f g h i a b');
    expect(cleanCaption('keep ?!=%:;,. and \'quotes\'')).toBe('keep ?!=%:;,. and \'quotes\'');
  });

  it('removes media file names', () => {
    expect(cleanCaption('see clip_01.MP4, a.b.png and x-y.jpeg now')).toBe('see , and now');
    expect(cleanCaption('notes.txt stay')).toBe('notes.txt stay');
  });

  it('removes number patterns: sizes, IPv4 addresses, long numbers, page references', () => {
    expect(cleanCaption('a 640\u00d7480 or 1920X1080 frame')).toBe('a or frame');
    expect(cleanCaption('host 10.0.0.255, done')).toBe('host , done');
    expect(cleanCaption('id 12345 and 123456789 but 2024 and 3.14159')).toBe('id and but 2024 and 3.14159');
    expect(cleanCaption('see Page 12 here, 4k 1080p 10:30 2024-01-01 12.5')).toBe('see here, 4k 1080p 10:30 2024-01-01 12.5');
  });

  it('splits slugs of four or more joints and keeps shorter hyphenated words', () => {
    expect(cleanCaption('a close-up of state-of-the-art cat_photo')).toBe('a close-up of state-of-the-art cat_photo');
    expect(cleanCaption('a-b-c-d-e and x_y-z_w-v')).toBe('a b c d e and x y z w v');
  });

  it('decodes percent-escapes and + of URL-encoded text', () => {
    expect(cleanCaption('c%2B%2B+rocks 50%25')).toBe('c++ rocks 50%');
    expect(cleanCaption('caf%C3%A9')).toBe('café');
  });

  it('collapses every kind of whitespace and strips the ends', () => {
    expect(cleanCaption(' a\u2003\tb\n\u00a0c\r\n ')).toBe('a b c');
    expect(cleanCaption('   ')).toBe('');
  });

  it('drops one pair of quotes wrapping the whole caption', () => {
    expect(cleanCaption("'a dog'")).toBe('a dog');
    expect(cleanCaption('"a" and "b"')).toBe('"a" and "b"');
  });

  it('runs its steps in a fixed, named order', () => {
    expect(CLEANING_STEPS[0]).toBe('fix-text');
    expect(CLEANING_STEPS.indexOf('html')).toBeLessThan(CLEANING_STEPS.indexOf('lowercase'));
    expect(CLEANING_STEPS.indexOf('urls')).toBeLessThan(CLEANING_STEPS.indexOf('url-decoding'));
    expect(CLEANING_STEPS.indexOf('filenames')).toBeLessThan(CLEANING_STEPS.indexOf('slugs'));
    expect(CLEANING_STEPS.at(-2)).toBe('whitespace');
  });
});

describe('textPreprocessing', () => {
  it('applies the cleaning twice', () => {
    expect(cleanCaption('100%2525 done')).toBe('100%25 done');
    expect(textPreprocessing('100%2525 done')).toBe('100% done');
  });

  it('is stable on text that is already clean', () => {
    const clean = 'a red fox runs. the aesthetic score is good. camera motion: pan left.';
    expect(textPreprocessing(clean)).toBe(clean);
  });

  it('only lowercases and strips without cleaning', () => {
    expect(textPreprocessing('  A <b>Bold</b> @Me ', false)).toBe('a <b>bold</b> @me');
  });
});
