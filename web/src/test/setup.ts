import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// Pages are lazy chunks that Vite transforms on first import; on a busy machine that takes longer
// than the default 1 s `findBy*` wait. The wait ends as soon as the element appears.
configure({ asyncUtilTimeout: 5_000 });

afterEach(() => {
  cleanup();
});

/**
 * jsdom has no `matchMedia`. This one answers width queries against `window.innerWidth` (1024 px in
 * jsdom, a desktop) and nothing else, which is all the shell asks (MUI's `useMediaQuery`).
 */
function matches(query: string): boolean {
  const minWidth = /\(min-width:\s*([\d.]+)px\)/.exec(query);
  if (minWidth?.[1] !== undefined) {
    return window.innerWidth >= Number(minWidth[1]);
  }
  const maxWidth = /\(max-width:\s*([\d.]+)px\)/.exec(query);
  if (maxWidth?.[1] !== undefined) {
    return window.innerWidth <= Number(maxWidth[1]);
  }
  return false;
}

window.matchMedia = (query: string): MediaQueryList => {
  const list: MediaQueryList = {
    media: query,
    matches: matches(query),
    onchange: null,
    // The deprecated pair is still part of the interface this object must implement.
    addListener: () => undefined,
    removeListener: () => undefined,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    dispatchEvent: () => false,
  };
  return list;
};

// jsdom does no layout, so it has no `scrollIntoView` either (the API reference scrolls to a deep
// link). Nothing to scroll: a no-op.
Element.prototype.scrollIntoView = () => undefined;
