// Cleaning steps 23-26 (clean-caption.md): product codes, shop phrases and sizes that scraped
// captions carry ("jc6640", "free shipping", "click on here", "1920x1080").
import { B, D, S, W, substitute, substituteAll } from './clean-caption-step.js';
import { FILE_EXTENSIONS } from './clean-caption-symbols.js';
import { PY_DIGIT } from './python-text.js';

/** 23. Codes: letters+digits ("jc6640"), letters+digits+letters ("jc6640vc"), digits+letters+digits ("6640vc231"). */
export const codes = substituteAll('codes', [
  [`${B}[a-zA-Z]{1,3}${D}{3,15}${B}`, ''],
  [`${B}[a-zA-Z]+${D}+[a-zA-Z]+${B}`, ''],
  [`${B}${D}+[a-zA-Z]+${D}+${B}`, ''],
]);

/** 24. Shop noise, each wherever it occurs ("freeshipping", "redownload" lose their tails too). */
export const shopNoise = substituteAll('shop-noise', [
  [`(?:worldwide${S}+)?(?:free${S}+)?shipping`, ''],
  [`(?:free${S})?download(?:${S}free)?`, ''],
  [`${B}click${B}${S}(?:for|on)${S}${W}+`, ''],
  [`${B}(?:${FILE_EXTENSIONS})(?:${S}images?)?`, ''],
  [`${B}page${S}+${D}+${B}`, ''],
]);

/** 25. Mixed codes of at least three letter/digit alternations ("j2d1a2a") become a space. */
export const mixedCodes = substitute('mixed-codes', `${B}${D}*[a-zA-Z]+${D}+[a-zA-Z]+${D}+[a-zA-Z${PY_DIGIT}]*${B}`, ' ');

/** 26. Sizes: number, 'x' (Latin or Cyrillic) or '×', number ("1920x1080", "3.5x2"). */
export const sizes = substitute('sizes', `${B}${D}+\\.?${D}*[x\\u0445\\u00d7]${D}+\\.?${D}*${B}`, '');
