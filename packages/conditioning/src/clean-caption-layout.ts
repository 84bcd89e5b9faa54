// Cleaning steps 27-34 (clean-caption.md): spacing and the text's two ends: colons, a space
// after ',', '.' or '/', whitespace runs, wrapping quotes, a stray mark at either end.
import { B, ND, NS, S, substitute, type CleaningStep } from './clean-caption-step.js';
import { pyStrip } from './python-text.js';

/** 27. Whitespace before a ':' (after a word character) goes; one space follows it. */
export const colonSpacing = substitute('colon-spacing', `${B}${S}+:${S}+`, ': ');

/** 28. A non-digit then ',', '.' or '/' directly before a word character gets a space ("a,b" -> "a, b"; "3.5" stays). */
export const spaceAfterPunctuation = substitute('space-after-punctuation', `(${ND}[,./])${B}`, '$1 ');

/** 29. Whitespace runs become one space (the ends are not stripped here: step 30 sees them). */
export const whitespace = substitute('whitespace', `${S}+`, ' ');

/** 30. A text that starts and ends with a quote ('"' or "'", at least one character between) loses both. */
export const wrappingQuotes = substitute('wrapping-quotes', `^["']([^]+)["']$`, '$1');

/** 31. One leading "'", '_', ',', '-', ':' or ';' goes. */
export const leadingMark = substitute('leading-mark', "^['_,\\-:;]", '');

/** 32. One trailing "'", '_', ',', '-', ':' or '+' goes. */
export const trailingMark = substitute('trailing-mark', "['_,\\-:+]$", '');

/** 33. A text that is only '.' and a run of non-space characters (".jpg") becomes empty. */
export const dotToken = substitute('dot-token', `^\\.${NS}+$`, '');

/** 34. The pass's result has no whitespace at its ends. */
export const strip: CleaningStep = { name: 'strip', apply: pyStrip };
