// How a cleaning step is written: a name and a pure string transform, usually one regex
// substitution over the whole text (Python's `re.sub`: every non-overlapping match, left to right).
// The building blocks spell out Python 3's Unicode-aware classes, which JavaScript's \w, \d, \s
// and \b are not (see python-text.ts).
import { PY_BOUNDARY, PY_DIGIT, PY_SPACE, PY_WORD } from './python-text.js';

/** One cleaning step: a name (for tests and debugging) and a pure string transform. */
export interface CleaningStep {
  readonly name: string;
  readonly apply: (text: string) => string;
}

/** A word character (letters, digits and numerics of any script, '_'). */
export const W = `[${PY_WORD}]`;
/** A decimal digit of any script ('٣' too). */
export const D = `[${PY_DIGIT}]`;
/** Anything but a decimal digit. */
export const ND = `[^${PY_DIGIT}]`;
/** A whitespace character (\x1c-\x1f and \x85 too). */
export const S = `[${PY_SPACE}]`;
/** Anything but whitespace. */
export const NS = `[^${PY_SPACE}]`;
/** A word boundary: between a word character and a non-word one, or at the text's ends next to a word character. */
export const B = PY_BOUNDARY;

/** A step that replaces every match of `source` (a `u`-flag pattern) with `replacement` ($1 refers to a group). */
export function substitute(name: string, source: string, replacement: string): CleaningStep {
  const re = new RegExp(source, 'gu');
  return { name, apply: (text) => text.replace(re, replacement) };
}

/** A step that runs the given substitutions one after the other. */
export function substituteAll(name: string, parts: ReadonlyArray<readonly [source: string, replacement: string]>): CleaningStep {
  const steps = parts.map(([source, replacement]) => substitute(name, source, replacement));
  return { name, apply: (text) => steps.reduce((t, s) => s.apply(t), text) };
}
