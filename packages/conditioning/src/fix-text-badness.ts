// ftfy's (6.3.1, Robyn Speer, Apache-2.0) two mojibake detectors: `is_bad`, its "badness"
// heuristic (sequences of the ~400 characters UTF-8 mojibake is made of that are unlikely in
// intended text), and the regex that finds stretches of text that look like UTF-8 read in a
// single-byte code page. Both patterns are generated from ftfy itself (fix-text-data.ts).
import { BADNESS_PATTERN, UTF8_DETECTOR_PATTERN } from './fix-text-data.js';
import { pyRegExp } from './python-text.js';

const BADNESS = pyRegExp(BADNESS_PATTERN, '');

/** ftfy's `is_bad`: whether the text holds a sequence that is far more likely mojibake than intended. */
export function isBad(text: string): boolean {
  return BADNESS.test(text);
}

/** ftfy's UTF8_DETECTOR_RE: runs of characters that would be UTF-8 lead and continuation bytes. */
export const UTF8_DETECTOR = pyRegExp(UTF8_DETECTOR_PATTERN, 'g');
