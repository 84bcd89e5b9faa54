// Cleaning steps 16-21 (clean-caption.md): file names, runs of quotes, dots and symbols, lone
// dots between spaces, and slugs ("my-cute-cat") made into words.
import { NS, S, substitute, type CleaningStep } from './clean-caption-step.js';

/** Extensions of images, documents, apps and videos the reference strips. */
export const FILE_EXTENSIONS = 'png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4';

/** 16. A file name: non-space characters up to the last ".ext" of a known extension (no boundary after it: "x.jpgs" keeps "s"). */
export const fileNames = substitute('file-names', `${NS}+\\.(?:${FILE_EXTENSIONS})`, '');

/** 17. A run of two or more quotes of either kind becomes one '"'. */
export const quoteRuns = substitute('quote-runs', `["']{2,}`, '"');

/** 18. A run of two or more dots (an ellipsis) becomes a space. */
export const dotRuns = substitute('dot-runs', '\\.{2,}', ' ');

/** 19. A run of hash, ®, •, ©, ™, &, @, ·, º, ½, ¾, ¿, ¡, §, ~, brackets, '|', slashes and '*' becomes a space. */
export const symbolRuns = substitute('symbol-runs', '[#\\u00ae\\u2022\\u00a9\\u2122&@\\u00b7\\u00ba\\u00bd\\u00be\\u00bf\\u00a1\\u00a7~)(\\][}{|\\\\/*]+', ' ');

/** 20. A single '.' with whitespace on both sides becomes a space. */
export const loneDots = substitute('lone-dots', `${S}+\\.${S}+`, ' ');

/** More than this many '-'/'_' in the whole text make it a slug. */
const SLUG_MIN_SEPARATORS = 4;

/** 21. Slugs: when the text holds more than three '-'/'_' in all, every one becomes a space. */
export const slugs: CleaningStep = {
  name: 'slugs',
  apply: (t) => ((t.match(/[-_]/g)?.length ?? 0) >= SLUG_MIN_SEPARATORS ? t.replace(/[-_]/g, ' ') : t),
};
