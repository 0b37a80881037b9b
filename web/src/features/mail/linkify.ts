/** A run of a mail's text: plain, or a link to follow. */
export type TextPart = { kind: 'text'; text: string } | { kind: 'link'; href: string };

const kUrl = /https?:\/\/[^\s<>"']+/g;

/**
 * Splits mail text into text and http(s) links. A link that points at a console page of another
 * origin (the server mails links under `identity.issuer`) is kept as written: the person decides.
 */
export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(kUrl)) {
    const start = match.index;
    if (start > last) parts.push({ kind: 'text', text: text.slice(last, start) });
    parts.push({ kind: 'link', href: match[0] });
    last = start + match[0].length;
  }
  if (last < text.length) parts.push({ kind: 'text', text: text.slice(last) });
  return parts;
}

/**
 * The same link on this console: mailed links carry the issuer's origin, which in development is
 * often another port than the one the console was opened on.
 */
export function localHref(href: string, origin: string = window.location.origin): string {
  try {
    const url = new URL(href);
    return `${origin}${url.pathname}${url.search}${url.hash}`;
  } catch {
    return href;
  }
}
