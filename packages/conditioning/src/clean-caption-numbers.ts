// Cleaning steps 12-15 (clean-caption.md): numbers that are metadata, not description: IP
// addresses, a trailing clock time, hash-numbers and long ids (plus a literal "\n").
import { B, D, S, substitute, substituteAll } from './clean-caption-step.js';

/** 12. Four dot-separated groups of 1-3 digits (no boundaries: "1234.5.6.7" loses "234.5.6.7"). */
export const ipAddresses = substitute('ip-addresses', `${D}{1,3}\\.${D}{1,3}\\.${D}{1,3}\\.${D}{1,3}`, ' ');

/** 13. A time like "1:23" followed by whitespace that runs to the end of the text. */
export const trailingTime = substitute('trailing-time', `${D}:${D}${D}${S}+$`, '');

/** 14. A "\n" written out (backslash, n), not a line break. */
export const literalNewlines = substitute('literal-newlines', '\\\\n', ' ');

/** 15. "#12" (1-3 digits), "#12345..." (5 or more) and standalone numbers of 6 or more digits. */
export const longNumbers = substituteAll('long-numbers', [
  [`#${D}{1,3}${B}`, ''],
  [`#${D}{5,}${B}`, ''],
  [`${B}${D}{6,}${B}`, ''],
]);
