// Cleaning steps 3-7 (clean-caption.md): what scraped web captions carry besides their text:
// a `<person>` placeholder, links, markup and @handles.
import { B, W, substitute, type CleaningStep } from './clean-caption-step.js';
import { htmlToText } from './html-text.js';
import { PY_WORD } from './python-text.js';

/** Endings the reference treats as web hosts (tried in this order), and what may follow them. */
const HOST = `[a-zA-Z0-9.\\-]+\\.(?:com|co|ru|net|org|edu|gov|it)[${PY_WORD}/\\-]*${B}\\/?(?!@)`;

/** At a word boundary: `<scheme>:` with 1-3 slashes or one address character (only that much), or a host and path. */
function urlPattern(scheme: string): string {
  return `${B}(?:${scheme}:(?:\\/{1,3}|[a-zA-Z0-9%])|${HOST})`;
}

/** 3. A `<person>` placeholder becomes the word (before the HTML step would drop it as a tag). */
export const personTag: CleaningStep = { name: 'person-tag', apply: (t) => t.replaceAll('<person>', 'person') };

/** 4. Links: `http:`/`https:` and their slashes, and `host.com/path` (the query after '?' stays). */
export const httpUrls = substitute('http-urls', urlPattern('https?'), '');

/** 5. The same with `www:` as the scheme (the reference's spelling); `www.host.com` goes as a host. */
export const wwwUrls = substitute('www-urls', urlPattern('www'), '');

/** 6. Markup: the text BeautifulSoup's html.parser extracts (tags dropped, references resolved). */
export const html: CleaningStep = { name: 'html', apply: htmlToText };

/** 7. Social-media handles: '@' and the word after it. */
export const handles = substitute('handles', `@${W}+${B}`, '');
